//! CUDA launchers for `add.cu`, through the shared elementwise launchers.

use crate::cuda::Kernel;
use crate::cuda::elementwise::{binary, binary_assign};
use crate::{CudaStorage, Result};

const KERNEL: Kernel = Kernel {
    module: "add",
    src: include_str!("add.cu"),
};

pub fn add(a: &CudaStorage, b: &CudaStorage) -> Result<CudaStorage> {
    binary(&KERNEL, "add_fwd_f32", a, b)
}

pub fn add_assign(a: &mut CudaStorage, b: &CudaStorage) -> Result<()> {
    binary_assign(&KERNEL, "add_assign_f32", a, b)
}
