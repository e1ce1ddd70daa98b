//! CUDA launchers for `cross_entropy.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::{LaunchConfig, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "cross_entropy",
    src: include_str!("cross_entropy.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "cross_entropy",
        message: format!("{e:?}"),
    }
}

/// `(Σ loss_i in f64, lse)`; `targets` are validated, ignored rows as −1.
pub fn cross_entropy_forward(
    x: &CudaStorage,
    targets: &[i64],
    vocab: usize,
) -> Result<(f64, CudaStorage)> {
    let dev = &x.device;
    let rows = targets.len();
    let mut lse = dev.zeros(rows)?;
    if rows == 0 {
        return Ok((0.0, lse));
    }
    let mut loss = dev.zeros(rows)?;
    let f = KERNEL.function(dev, "cross_entropy_fwd_f32")?;
    let tgt = dev.stream().clone_htod(targets).map_err(launch_err)?;
    let (r64, v64) = (rows as u64, vocab as u64);
    let cfg = LaunchConfig {
        grid_dim: (rows.clamp(1, (dev.sm_count() * 32) as usize) as u32, 1, 1),
        block_dim: (vocab.div_ceil(32).clamp(1, 16) as u32 * 32, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut loss.slice)
        .arg(&mut lse.slice)
        .arg(&x.slice)
        .arg(&tgt)
        .arg(&r64)
        .arg(&v64);
    // SAFETY: x holds rows·V values, loss/lse/tgt hold rows entries, targets are < V or −1.
    unsafe { b.launch(cfg) }.map_err(launch_err)?;
    let per_row = loss.to_host()?;
    Ok((per_row.iter().map(|&l| l as f64).sum(), lse))
}

pub fn cross_entropy_backward(
    x: &CudaStorage,
    lse: &CudaStorage,
    targets: &[i64],
    vocab: usize,
    g: f64,
) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut dx = dev.zeros(x.len)?;
    if x.len == 0 {
        return Ok(dx);
    }
    let f = KERNEL.function(dev, "cross_entropy_bwd_f32")?;
    let tgt = dev.stream().clone_htod(targets).map_err(launch_err)?;
    let (g32, r64, v64) = (g as f32, targets.len() as u64, vocab as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dx.slice)
        .arg(&x.slice)
        .arg(&lse.slice)
        .arg(&tgt)
        .arg(&g32)
        .arg(&r64)
        .arg(&v64);
    // SAFETY: x and dx hold rows·V values; lse and tgt hold rows entries.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(dx)
}
