//! CUDA launchers for `softmax.cu`: one block per row.

use super::RowMask;
use crate::cuda::Kernel;
use crate::{CudaStorage, Error, Result};
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

const KERNEL: Kernel = Kernel {
    module: "softmax",
    src: include_str!("softmax.cu"),
};

/// Mirrors `struct SoftmaxParams` in `softmax.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SoftmaxParams {
    rows: u64,
    n: u64,
    n_q: u64,
    rows_per_batch: u64,
    scale: f32,
    causal: i32,
    has_lengths: i32,
    pad: i32,
}

// SAFETY: plain-old-data with the same C layout as the kernel's struct.
unsafe impl DeviceRepr for SoftmaxParams {}

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "softmax",
        message: format!("{e:?}"),
    }
}

fn params(scale: f64, mask: &RowMask) -> SoftmaxParams {
    SoftmaxParams {
        rows: mask.rows as u64,
        n: mask.n as u64,
        n_q: mask.n_q as u64,
        rows_per_batch: mask.rows_per_batch as u64,
        scale: scale as f32,
        causal: mask.causal as i32,
        has_lengths: mask.lengths.is_some() as i32,
        pad: 0,
    }
}

/// One block per row: 32 to 512 threads (a multiple of 32), at most 32 blocks per SM.
fn row_config(dev: &crate::CudaDevice, rows: usize, n: usize) -> LaunchConfig {
    let threads = n.div_ceil(32).clamp(1, 16) as u32 * 32;
    let blocks = rows.clamp(1, (dev.sm_count() * 32) as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

pub fn softmax_forward(x: &CudaStorage, scale: f64, mask: &RowMask) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut y = dev.zeros(x.len)?;
    if mask.rows == 0 {
        return Ok(y);
    }
    let f = KERNEL.function(dev, "softmax_fwd_f32")?;
    let lens: Vec<u64> = match mask.lengths {
        Some(l) => l.iter().map(|&v| v as u64).collect(),
        None => vec![0],
    };
    let lens = dev.stream().clone_htod(&lens).map_err(launch_err)?;
    let p = params(scale, mask);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice).arg(&x.slice).arg(&lens).arg(&p);
    // SAFETY: x and y hold rows·n f32 values; lens holds shape[0] entries when has_lengths,
    // and the kernel indexes it only with row / rows_per_batch < shape[0].
    unsafe { b.launch(row_config(dev, mask.rows, mask.n)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn softmax_backward(
    y: &CudaStorage,
    dy: &CudaStorage,
    scale: f64,
    mask: &RowMask,
) -> Result<CudaStorage> {
    let dev = &y.device;
    let mut dx = dev.zeros(y.len)?;
    if mask.rows == 0 {
        return Ok(dx);
    }
    let f = KERNEL.function(dev, "softmax_bwd_f32")?;
    let p = params(scale, mask);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dx.slice).arg(&y.slice).arg(&dy.slice).arg(&p);
    // SAFETY: all three buffers hold rows·n f32 values.
    unsafe { b.launch(row_config(dev, mask.rows, mask.n)) }.map_err(launch_err)?;
    Ok(dx)
}
