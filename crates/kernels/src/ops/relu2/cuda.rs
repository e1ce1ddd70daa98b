//! CUDA launchers for `relu2.cu`, through the shared elementwise launchers.

use crate::cuda::Kernel;
use crate::cuda::elementwise::{binary, unary};
use crate::{CudaStorage, Result};

const KERNEL: Kernel = Kernel {
    module: "relu2",
    src: include_str!("relu2.cu"),
};

pub fn relu2_forward(x: &CudaStorage) -> Result<CudaStorage> {
    unary(&KERNEL, "relu2_fwd_f32", x)
}

pub fn relu2_backward(x: &CudaStorage, dy: &CudaStorage) -> Result<CudaStorage> {
    binary(&KERNEL, "relu2_bwd_f32", x, dy)
}
