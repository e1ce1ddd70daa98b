//! CUDA launchers for `layernorm.cu`.

use crate::cuda::Kernel;
use crate::ops::bias_add::cuda::{
    Scalar, column_partials_config, finish_columns, launch_rows, row_warps_config, u32_arg,
};
use crate::{CudaStorage, Result};

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
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let (has_g, has_b) = (gain.is_some() as i32, bias.is_some() as i32);
    let (g, b) = (gain.unwrap_or(x), bias.unwrap_or(x));
    let tail = [
        Scalar::F32(eps as f32),
        Scalar::I32(has_g),
        Scalar::I32(has_b),
    ];
    let f = (&KERNEL, "layernorm_fwd_f32");
    // SAFETY: x, y hold rows·n values, mean/rstd rows, gain/bias n (read only when present).
    unsafe {
        let outs = &mut [&mut y, &mut mean, &mut rstd];
        launch_rows(op, f, row_warps_config(rows), outs, &[x, g, b], dims, &tail)?;
    }
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
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    if rows > 0 {
        let tail = [Scalar::I32(gain.is_some() as i32)];
        let ins = [x, gain.unwrap_or(x), mean, rstd, dy];
        let f = (&KERNEL, "layernorm_bwd_f32");
        // SAFETY: x, dx, dy hold rows·n values, mean/rstd rows, gain n (read only if present).
        unsafe {
            let cfg = row_warps_config(rows);
            launch_rows(op, f, cfg, &mut [&mut dx], &ins, dims, &tail)?;
        }
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
    let f = (&KERNEL, "layernorm_bwd_params_f32");
    // SAFETY: partials hold P·n values; the kernel guards j < n and r < rows.
    unsafe {
        let outs = &mut [&mut pg, &mut pb];
        launch_rows(op, f, cfg, outs, &[x, mean, rstd, dy], dims, &[])?;
    }
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
