//! CUDA launchers for `bias_add.cu`, and the two-pass column-sum launch shape the norms reuse.

use crate::cuda::{CudaDevice, Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::{LaunchConfig, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "bias_add",
    src: include_str!("bias_add.cu"),
};

pub(crate) fn launch_err(op: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    move |e| Error::Driver {
        op,
        message: format!("{e:?}"),
    }
}

/// A u32 kernel argument, or `Unsupported` when the size does not fit.
pub(crate) fn u32_arg(op: &'static str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Unsupported {
        op,
        reason: format!("size {v} exceeds the kernel's 32-bit indices"),
    })
}

/// The launch of a column-partial kernel: blocks of (32, 8) threads, one column of blocks per
/// 32 columns and `P` row slices, `P` chosen so that about four blocks run per SM.
pub(crate) fn column_partials_config(
    dev: &CudaDevice,
    rows: usize,
    n: usize,
) -> (LaunchConfig, u32) {
    let gx = n.div_ceil(32).max(1);
    let p = (4 * dev.sm_count() as usize)
        .div_ceil(gx)
        .clamp(1, rows.div_ceil(8).clamp(1, 1024));
    let cfg = LaunchConfig {
        grid_dim: (gx as u32, p as u32, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    (cfg, p as u32)
}

pub fn bias_add_forward(x: &CudaStorage, b: &CudaStorage, n: usize) -> Result<CudaStorage> {
    let op = "bias_add_forward";
    let dev = &x.device;
    let mut y = dev.zeros(x.len)?;
    if x.len == 0 {
        return Ok(y);
    }
    let f = KERNEL.function(dev, "bias_add_fwd_f32")?;
    let (total, n32) = (x.len as u64, u32_arg(op, n)?);
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice)
        .arg(&x.slice)
        .arg(&b.slice)
        .arg(&total)
        .arg(&n32);
    // SAFETY: y and x hold `total` f32 values, b holds n; indices stay below those.
    unsafe { l.launch(elementwise_config(dev, x.len)) }.map_err(launch_err(op))?;
    Ok(y)
}

pub fn bias_add_backward(dy: &CudaStorage, rows: usize, n: usize) -> Result<CudaStorage> {
    let op = "bias_add_backward";
    let dev = &dy.device;
    if n == 0 || rows == 0 {
        return dev.zeros(n);
    }
    let (cfg, p) = column_partials_config(dev, rows, n);
    let mut partial = dev.zeros(p as usize * n)?;
    let (rows32, n32) = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let f = KERNEL.function(dev, "bias_add_bwd_f32")?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut partial.slice)
        .arg(&dy.slice)
        .arg(&rows32)
        .arg(&n32);
    // SAFETY: dy holds rows·n values, partial P·n; the kernel guards j < n and r < rows.
    unsafe { l.launch(cfg) }.map_err(launch_err(op))?;
    finish_columns(op, &partial, p, n)
}

/// `out[j] = Σ_p partial[p, j]` for `P` partial rows of width `n`, summed in order
/// (`bias_add_bwd_finish_f32`); the second pass of every column reduction.
pub(crate) fn finish_columns(
    op: &'static str,
    partial: &CudaStorage,
    p: u32,
    n: usize,
) -> Result<CudaStorage> {
    let dev = &partial.device;
    let mut out = dev.zeros(n)?;
    let n32 = u32_arg(op, n)?;
    let f = KERNEL.function(dev, "bias_add_bwd_finish_f32")?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut out.slice).arg(&partial.slice).arg(&p).arg(&n32);
    // SAFETY: out holds n values, partial P·n.
    unsafe { l.launch(elementwise_config(dev, n)) }.map_err(launch_err(op))?;
    Ok(out)
}

/// One warp per row, 8 rows per 256-thread block.
pub(crate) fn row_warps_config(rows: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (rows.div_ceil(8).max(1) as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// A scalar kernel argument that follows the `(rows, n)` pair of a row kernel.
#[derive(Clone, Copy)]
pub(crate) enum Scalar {
    F32(f32),
    I32(i32),
}

/// Launches the row kernel `name` of `kernel` (the norms' kernels) under `cfg` with the
/// arguments `(outs…, ins…, rows, n, tail…)` in that order; `outs` are written, `ins` read.
/// Driver errors carry `op`.
///
/// # Safety
/// The kernel's parameters must be exactly these arguments, and every buffer must hold as many
/// f32 values as the kernel reads or writes for `dims = (rows, n)` under `cfg`.
pub(crate) unsafe fn launch_rows(
    op: &'static str,
    (kernel, name): (&Kernel, &str),
    cfg: LaunchConfig,
    outs: &mut [&mut CudaStorage],
    ins: &[&CudaStorage],
    dims: (u32, u32),
    tail: &[Scalar],
) -> Result<()> {
    let dev = outs[0].device.clone();
    let f = kernel.function(&dev, name)?;
    let mut l = dev.stream().launch_builder(&f);
    for o in outs.iter_mut() {
        l.arg(&mut o.slice);
    }
    for i in ins {
        l.arg(&i.slice);
    }
    l.arg(&dims.0).arg(&dims.1);
    for s in tail {
        match s {
            Scalar::F32(v) => l.arg(v),
            Scalar::I32(v) => l.arg(v),
        };
    }
    // SAFETY: the caller vouches for the parameter list and the buffer sizes.
    unsafe { l.launch(cfg) }.map_err(launch_err(op))?;
    Ok(())
}
