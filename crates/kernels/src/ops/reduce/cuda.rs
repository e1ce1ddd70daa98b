//! CUDA launchers for `reduce.cu`.

use super::{AxisView, Kind};
use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::{LaunchConfig, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "reduce",
    src: include_str!("reduce.cu"),
};

/// Threads per block of the row kernel (a multiple of 32).
const ROW_THREADS: u32 = 256;

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "reduce",
        message: format!("{e:?}"),
    }
}

pub(super) fn reduce(x: &CudaStorage, v: AxisView, kind: Kind) -> Result<CudaStorage> {
    let dev = &x.device;
    let n_out = v.outer * v.inner;
    let mut y = dev.zeros(n_out)?;
    if n_out == 0 {
        return Ok(y);
    }
    let (outer, len, inner) = (v.outer as u64, v.len as u64, v.inner as u64);
    if v.inner == 1 {
        let f = KERNEL.function(dev, &format!("{}_fwd_rows_f32", kind.name()))?;
        let cfg = LaunchConfig {
            grid_dim: (v.outer.min((dev.sm_count() * 8) as usize) as u32, 1, 1),
            block_dim: (ROW_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut b = dev.stream().launch_builder(&f);
        b.arg(&mut y.slice).arg(&x.slice).arg(&outer).arg(&len);
        // SAFETY: x holds outer·len values and y outer; the kernel reads/writes within them.
        unsafe { b.launch(cfg) }.map_err(launch_err)?;
    } else {
        let f = KERNEL.function(dev, &format!("{}_fwd_cols_f32", kind.name()))?;
        let mut b = dev.stream().launch_builder(&f);
        b.arg(&mut y.slice)
            .arg(&x.slice)
            .arg(&outer)
            .arg(&len)
            .arg(&inner);
        // SAFETY: x holds outer·len·inner values and y outer·inner.
        unsafe { b.launch(elementwise_config(dev, n_out)) }.map_err(launch_err)?;
    }
    Ok(y)
}

pub(super) fn broadcast(
    dy: &CudaStorage,
    x: Option<&CudaStorage>,
    v: AxisView,
    scale: f32,
) -> Result<CudaStorage> {
    let dev = &dy.device;
    let n = v.outer * v.len * v.inner;
    let mut dx = dev.zeros(n)?;
    if n == 0 {
        return Ok(dx);
    }
    let (outer, len, inner) = (v.outer as u64, v.len as u64, v.inner as u64);
    let f = KERNEL.function(
        dev,
        if x.is_some() {
            "sum_sq_bwd_f32"
        } else {
            "sum_bwd_f32"
        },
    )?;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dx.slice);
    if let Some(x) = x {
        b.arg(&x.slice);
    }
    b.arg(&dy.slice)
        .arg(&outer)
        .arg(&len)
        .arg(&inner)
        .arg(&scale);
    // SAFETY: dx (and x) hold outer·len·inner values, dy holds outer·inner.
    unsafe { b.launch(elementwise_config(dev, n)) }.map_err(launch_err)?;
    Ok(dx)
}
