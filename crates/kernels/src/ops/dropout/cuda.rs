//! CUDA launchers for `dropout.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "dropout",
    src: include_str!("dropout.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "dropout",
        message: format!("{e:?}"),
    }
}

pub fn dropout(x: &CudaStorage, threshold: u64, scale: f64, seed: u64) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut y = dev.zeros(x.len)?;
    if x.len == 0 {
        return Ok(y);
    }
    let f = KERNEL.function(dev, "dropout_f32")?;
    let (scale, n) = (scale as f32, x.len as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice)
        .arg(&x.slice)
        .arg(&seed)
        .arg(&threshold)
        .arg(&scale)
        .arg(&n);
    // SAFETY: x and y hold n f32 values.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(y)
}

/// Runs `dropout_hash_selftest`: the GPU's hashes of the `.cu` file's `HASH_CHECKS` inputs and,
/// per row, whether they equal the table's expected values.
#[cfg(test)]
pub fn hash_selftest(dev: &crate::CudaDevice) -> Result<(Vec<u64>, Vec<i32>)> {
    let f = KERNEL.function(dev, "dropout_hash_selftest")?;
    let mut out = dev.stream().alloc_zeros::<u64>(6).map_err(launch_err)?;
    let mut ok = dev.stream().alloc_zeros::<i32>(6).map_err(launch_err)?;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut out).arg(&mut ok);
    let cfg = cudarc::driver::LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (32, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: both buffers hold 6 entries and the kernel writes indices < 6.
    unsafe { b.launch(cfg) }.map_err(launch_err)?;
    let out = dev.stream().clone_dtoh(&out).map_err(launch_err)?;
    let ok = dev.stream().clone_dtoh(&ok).map_err(launch_err)?;
    Ok((out, ok))
}
