//! CUDA launchers for `layernorm.cu`.

use crate::cuda::Kernel;
use crate::ops::bias_add::cuda::{
    column_partials_config, finish_columns, launch_err, row_warps_config, u32_arg,
};
use crate::{CudaStorage, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "layernorm",
    src: include_str!("layernorm.cu"),
};

/// `(y, mean, rstd)`.
pub fn layernorm_forward(
    x: &CudaStorage,
    n: usize,
    gain: Option<&CudaStorage>,
    bias: Option<&CudaStorage>,
    eps: f64,
) -> Result<(CudaStorage, CudaStorage, CudaStorage)> {
    let op = "layernorm_forward";
    let dev = &x.device;
    let rows = x.len / n;
    let (mut y, mut mean, mut rstd) = (dev.zeros(x.len)?, dev.zeros(rows)?, dev.zeros(rows)?);
    if rows == 0 {
        return Ok((y, mean, rstd));
    }
    let f = KERNEL.function(dev, "layernorm_fwd_f32")?;
    let (rows32, n32, eps32) = (u32_arg(op, rows)?, u32_arg(op, n)?, eps as f32);
    let (has_g, has_b) = (gain.is_some() as i32, bias.is_some() as i32);
    let (g, b) = (gain.unwrap_or(x), bias.unwrap_or(x));
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice)
        .arg(&mut mean.slice)
        .arg(&mut rstd.slice);
    l.arg(&x.slice).arg(&g.slice).arg(&b.slice);
    l.arg(&rows32).arg(&n32).arg(&eps32).arg(&has_g).arg(&has_b);
    // SAFETY: x, y hold rows·n values, mean/rstd rows, gain/bias n (read only when present).
    unsafe { l.launch(row_warps_config(rows)) }.map_err(launch_err(op))?;
    Ok((y, mean, rstd))
}

/// `(dx, dgain, dbias)`; the parameter gradients only when asked for.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    x: &CudaStorage,
    n: usize,
    gain: Option<&CudaStorage>,
    mean: &CudaStorage,
    rstd: &CudaStorage,
    dy: &CudaStorage,
    want_gain: bool,
    want_bias: bool,
) -> Result<(CudaStorage, Option<CudaStorage>, Option<CudaStorage>)> {
    let op = "layernorm_backward";
    let dev = &x.device;
    let rows = x.len / n;
    let mut dx = dev.zeros(x.len)?;
    let (rows32, n32) = (u32_arg(op, rows)?, u32_arg(op, n)?);
    if rows > 0 {
        let f = KERNEL.function(dev, "layernorm_bwd_f32")?;
        let has_g = gain.is_some() as i32;
        let g = gain.unwrap_or(x);
        let mut l = dev.stream().launch_builder(&f);
        l.arg(&mut dx.slice)
            .arg(&x.slice)
            .arg(&g.slice)
            .arg(&mean.slice)
            .arg(&rstd.slice);
        l.arg(&dy.slice).arg(&rows32).arg(&n32).arg(&has_g);
        // SAFETY: x, dx, dy hold rows·n values, mean/rstd rows, gain n (read only if present).
        unsafe { l.launch(row_warps_config(rows)) }.map_err(launch_err(op))?;
    }
    if !want_gain && !want_bias {
        return Ok((dx, None, None));
    }
    if rows == 0 {
        let z = |w: bool| if w { dev.zeros(n).map(Some) } else { Ok(None) };
        return Ok((dx, z(want_gain)?, z(want_bias)?));
    }
    let (cfg, p) = column_partials_config(dev, rows, n);
    let (mut pg, mut pb) = (dev.zeros(p as usize * n)?, dev.zeros(p as usize * n)?);
    let f = KERNEL.function(dev, "layernorm_bwd_params_f32")?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut pg.slice)
        .arg(&mut pb.slice)
        .arg(&x.slice)
        .arg(&mean.slice)
        .arg(&rstd.slice);
    l.arg(&dy.slice).arg(&rows32).arg(&n32);
    // SAFETY: partials hold P·n values; the kernel guards j < n and r < rows.
    unsafe { l.launch(cfg) }.map_err(launch_err(op))?;
    let dg = if want_gain {
        Some(finish_columns(op, &pg, p, n)?)
    } else {
        None
    };
    let db = if want_bias {
        Some(finish_columns(op, &pb, p, n)?)
    } else {
        None
    };
    Ok((dx, dg, db))
}
