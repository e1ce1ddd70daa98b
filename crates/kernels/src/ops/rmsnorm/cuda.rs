//! CUDA launchers for `rmsnorm.cu`.

use crate::cuda::Kernel;
use crate::ops::bias_add::cuda::{
    Scalar, column_partials_config, finish_columns, launch_rows, row_warps_config, u32_arg,
};
use crate::{CudaStorage, Result};

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
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let has_g = gain.is_some() as i32;
    let tail = [Scalar::F32(eps as f32), Scalar::I32(has_g)];
    let (f, ins) = ((&KERNEL, "rmsnorm_fwd_f32"), [x, gain.unwrap_or(x)]);
    // SAFETY: x, y hold rows·n values, rstd rows, gain n (read only when present).
    unsafe {
        let outs = &mut [&mut y, &mut rstd];
        launch_rows(op, f, row_warps_config(rows), outs, &ins, dims, &tail)?;
    }
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
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let tail = [Scalar::I32(gain.is_some() as i32)];
    let ins = [x, gain.unwrap_or(x), rstd, dy];
    let f = (&KERNEL, "rmsnorm_bwd_f32");
    // SAFETY: x, dx, dy hold rows·n values, rstd rows, gain n (read only when present).
    unsafe {
        let cfg = row_warps_config(rows);
        launch_rows(op, f, cfg, &mut [&mut dx], &ins, dims, &tail)?;
    }
    if gain.is_none() {
        return Ok((dx, None));
    }
    let (cfg, p) = column_partials_config(dev, rows, n);
    let mut pg = dev.zeros(p as usize * n)?;
    let f = (&KERNEL, "rmsnorm_bwd_dgain_f32");
    // SAFETY: pg holds P·n values; the kernel guards j < n and r < rows.
    unsafe { launch_rows(op, f, cfg, &mut [&mut pg], &[x, rstd, dy], dims, &[])? };
    Ok((dx, Some(finish_columns(op, &pg, p, n)?)))
}
