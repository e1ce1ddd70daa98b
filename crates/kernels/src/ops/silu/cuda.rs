//! CUDA launchers for `silu.cu`, through the shared elementwise launchers.

use crate::cuda::Kernel;
use crate::cuda::elementwise::{binary, unary};
use crate::{CudaStorage, Result};

const KERNEL: Kernel = Kernel {
    module: "silu",
    src: include_str!("silu.cu"),
};

pub fn silu_forward(x: &CudaStorage) -> Result<CudaStorage> {
    unary(&KERNEL, "silu_fwd_f32", x)
}

pub fn silu_backward(x: &CudaStorage, dy: &CudaStorage) -> Result<CudaStorage> {
    binary(&KERNEL, "silu_bwd_f32", x, dy)
}
