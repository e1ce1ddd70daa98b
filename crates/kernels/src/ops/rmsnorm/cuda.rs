//! CUDA launchers for `rmsnorm.cu`.

use crate::cuda::Kernel;
use crate::ops::bias_add::cuda::{
    column_partials_config, finish_columns, launch_err, row_warps_config, u32_arg,
};
use crate::{CudaStorage, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "rmsnorm",
    src: include_str!("rmsnorm.cu"),
};

/// `(y, rstd)`.
pub fn rmsnorm_forward(
    x: &CudaStorage,
    n: usize,
    gain: Option<&CudaStorage>,
    eps: f64,
) -> Result<(CudaStorage, CudaStorage)> {
    let op = "rmsnorm_forward";
    let dev = &x.device;
    let rows = x.len / n;
    let (mut y, mut rstd) = (dev.zeros(x.len)?, dev.zeros(rows)?);
    if rows == 0 {
        return Ok((y, rstd));
    }
    let f = KERNEL.function(dev, "rmsnorm_fwd_f32")?;
    let (rows32, n32, eps32) = (u32_arg(op, rows)?, u32_arg(op, n)?, eps as f32);
    let has_g = gain.is_some() as i32;
    let g = gain.unwrap_or(x);
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice)
        .arg(&mut rstd.slice)
        .arg(&x.slice)
        .arg(&g.slice);
    l.arg(&rows32).arg(&n32).arg(&eps32).arg(&has_g);
    // SAFETY: x, y hold rows·n values, rstd rows, gain n (read only when present).
    unsafe { l.launch(row_warps_config(rows)) }.map_err(launch_err(op))?;
    Ok((y, rstd))
}

/// `(dx, dgain)`; `dgain` only when `gain` is given.
pub fn rmsnorm_backward(
    x: &CudaStorage,
    n: usize,
    gain: Option<&CudaStorage>,
    rstd: &CudaStorage,
    dy: &CudaStorage,
) -> Result<(CudaStorage, Option<CudaStorage>)> {
    let op = "rmsnorm_backward";
    let dev = &x.device;
    let rows = x.len / n;
    let mut dx = dev.zeros(x.len)?;
    if rows == 0 {
        return Ok((dx, gain.map(|_| dev.zeros(n)).transpose()?));
    }
    let (rows32, n32) = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let f = KERNEL.function(dev, "rmsnorm_bwd_f32")?;
    let has_g = gain.is_some() as i32;
    let g = gain.unwrap_or(x);
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut dx.slice)
        .arg(&x.slice)
        .arg(&g.slice)
        .arg(&rstd.slice)
        .arg(&dy.slice);
    l.arg(&rows32).arg(&n32).arg(&has_g);
    // SAFETY: x, dx, dy hold rows·n values, rstd rows, gain n (read only when present).
    unsafe { l.launch(row_warps_config(rows)) }.map_err(launch_err(op))?;
    if gain.is_none() {
        return Ok((dx, None));
    }
    let (cfg, p) = column_partials_config(dev, rows, n);
    let mut pg = dev.zeros(p as usize * n)?;
    let f = KERNEL.function(dev, "rmsnorm_bwd_dgain_f32")?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut pg.slice)
        .arg(&x.slice)
        .arg(&rstd.slice)
        .arg(&dy.slice)
        .arg(&rows32)
        .arg(&n32);
    // SAFETY: pg holds P·n values; the kernel guards j < n and r < rows.
    unsafe { l.launch(cfg) }.map_err(launch_err(op))?;
    Ok((dx, Some(finish_columns(op, &pg, p, n)?)))
}
