//! CUDA launchers for `scalenorm.cu`.

use crate::cuda::Kernel;
use crate::ops::bias_add::cuda::{Scalar, launch_err, launch_rows, row_warps_config, u32_arg};
use crate::{CudaStorage, Result};
use cudarc::driver::{LaunchConfig, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "scalenorm",
    src: include_str!("scalenorm.cu"),
};

/// `(y, norm)`; `gain` holds the scalar `g`.
pub fn scalenorm_forward(
    x: &CudaStorage,
    n: usize,
    gain: &CudaStorage,
    eps: f64,
) -> Result<(CudaStorage, CudaStorage)> {
    let op = "scalenorm_forward";
    let dev = &x.device;
    let rows = x.len / n;
    let (mut y, mut norm) = (dev.zeros(x.len)?, dev.zeros(rows)?);
    if rows == 0 {
        return Ok((y, norm));
    }
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let (f, tail) = ((&KERNEL, "scalenorm_fwd_f32"), [Scalar::F32(eps as f32)]);
    // SAFETY: x, y hold rows·n values, norm rows, gain 1.
    unsafe {
        let outs = &mut [&mut y, &mut norm];
        launch_rows(op, f, row_warps_config(rows), outs, &[x, gain], dims, &tail)?;
    }
    Ok((y, norm))
}

/// `(dx, dg)` with `dg` a one-element buffer.
pub fn scalenorm_backward(
    x: &CudaStorage,
    n: usize,
    gain: &CudaStorage,
    norm: &CudaStorage,
    dy: &CudaStorage,
    eps: f64,
) -> Result<(CudaStorage, CudaStorage)> {
    let op = "scalenorm_backward";
    let dev = &x.device;
    let rows = x.len / n;
    let (mut dx, mut dg) = (dev.zeros(x.len)?, dev.zeros(1)?);
    if rows == 0 {
        return Ok((dx, dg));
    }
    let mut row_dg = dev.zeros(rows)?;
    let dims = (u32_arg(op, rows)?, u32_arg(op, n)?);
    let (f, tail) = ((&KERNEL, "scalenorm_bwd_f32"), [Scalar::F32(eps as f32)]);
    // SAFETY: x, dx, dy hold rows·n values, norm and row_dg rows, gain 1.
    unsafe {
        let (outs, cfg) = (&mut [&mut dx, &mut row_dg], row_warps_config(rows));
        launch_rows(op, f, cfg, outs, &[x, gain, norm, dy], dims, &tail)?;
    }
    let rows32 = dims.0;
    let f = KERNEL.function(dev, "scalenorm_bwd_dg_f32")?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut dg.slice).arg(&row_dg.slice).arg(&rows32);
    let one_block = LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: row_dg holds rows values, dg 1; the block is exactly 256 threads (shared array).
    unsafe { l.launch(one_block) }.map_err(launch_err(op))?;
    Ok((dx, dg))
}
