//! CUDA launchers for `sigmoid.cu`, through the shared elementwise launchers.

use crate::cuda::Kernel;
use crate::cuda::elementwise::{binary, unary};
use crate::{CudaStorage, Result};

const KERNEL: Kernel = Kernel {
    module: "sigmoid",
    src: include_str!("sigmoid.cu"),
};

pub fn sigmoid_forward(x: &CudaStorage) -> Result<CudaStorage> {
    unary(&KERNEL, "sigmoid_fwd_f32", x)
}

pub fn sigmoid_backward(x: &CudaStorage, dy: &CudaStorage) -> Result<CudaStorage> {
    binary(&KERNEL, "sigmoid_bwd_f32", x, dy)
}
