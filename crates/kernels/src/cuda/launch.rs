//! Launch helpers shared by the ops' `cuda.rs` files.

use super::CudaDevice;
use crate::Result;
use cudarc::driver::{CudaFunction, LaunchConfig};

/// A kernel entry point of an embedded `.cu` module.
pub struct Kernel {
    /// Name of the module (the `.cu` file's stem).
    pub module: &'static str,
    /// The module's source, embedded with `include_str!`.
    pub src: &'static str,
}

impl Kernel {
    /// The function `name` of this module on `dev`, compiling the module at first use.
    pub fn function(&self, dev: &CudaDevice, name: &str) -> Result<CudaFunction> {
        let module = dev.module(self.module, self.src)?;
        module
            .load_function(name)
            .map_err(|e| super::device::driver_error("load_function", e))
    }
}

/// A grid-stride launch over `n` elements: 256 threads a block, at most 8 blocks per SM.
pub fn elementwise_config(dev: &CudaDevice, n: usize) -> LaunchConfig {
    let threads = 256u32;
    let blocks = n
        .div_ceil(threads as usize)
        .clamp(1, (dev.sm_count() * 8) as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}
