//! CUDA launcher for `rope.cu` (one kernel, forward and backward by the sign of the angle).

use super::{RopeGeom, RopeLayout, RopeOpts};
use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::{DeviceRepr, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "rope",
    src: include_str!("rope.cu"),
};

/// Mirrors `struct RopeParams` in `rope.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RopeParams {
    pairs: u64,
    n: u64,
    s: u64,
    offset: u64,
    base: f64,
    sign: f64,
    interleaved: i32,
    pad: i32,
}

// SAFETY: plain-old-data with the same C layout as the kernel's struct.
unsafe impl DeviceRepr for RopeParams {}

pub fn rope(x: &CudaStorage, g: &RopeGeom, opts: &RopeOpts, sign: f64) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut y = dev.zeros(x.len)?;
    let pairs = g.rows * g.s / 2;
    if pairs == 0 {
        return Ok(y);
    }
    let f = KERNEL.function(dev, "rope_f32")?;
    let p = RopeParams {
        pairs: pairs as u64,
        n: g.n as u64,
        s: g.s as u64,
        offset: opts.offset as u64,
        base: opts.base,
        sign,
        interleaved: (opts.layout == RopeLayout::Interleaved) as i32,
        pad: 0,
    };
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice).arg(&x.slice).arg(&p);
    // SAFETY: x and y hold rows·s f32 values; every pair index is < rows·s.
    unsafe { b.launch(elementwise_config(dev, pairs)) }.map_err(|e| Error::Driver {
        op: "rope",
        message: format!("{e:?}"),
    })?;
    Ok(y)
}
