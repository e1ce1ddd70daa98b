//! CUDA launchers for `scale_offset.cu` and `columns.cu` (feature `cuda`).

use crate::{Error, Result};
use cudarc::driver::{LaunchConfig, PushKernelArg};
use kernels::CudaStorage;
use kernels::cuda::{Kernel, elementwise_config};

const SCALE: Kernel = Kernel {
    module: "gau_scale_offset",
    src: include_str!("scale_offset.cu"),
};
const COLUMNS: Kernel = Kernel {
    module: "gau_columns",
    src: include_str!("columns.cu"),
};

fn drv(op: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    move |e| {
        Error::Kernel(kernels::Error::Driver {
            op,
            message: format!("{e:?}"),
        })
    }
}

/// `y[r, j] = x[r, j]·γ[j]` for `x [rows, s]` (flat), `γ [s]`; `s > 0`.
pub(super) fn scale_cols(x: &CudaStorage, gamma: &CudaStorage, s: usize) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut y = dev.zeros(x.len)?;
    if x.len == 0 {
        return Ok(y);
    }
    let f = SCALE.function(dev, "scale_cols_f32")?;
    let (n, s) = (x.len as u64, s as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice)
        .arg(&x.slice)
        .arg(&gamma.slice)
        .arg(&n)
        .arg(&s);
    // SAFETY: x and y hold n values, γ holds s values (checked by the caller) and the kernel
    // reads γ[i mod s] only.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(drv("scale_cols_f32"))?;
    Ok(y)
}

/// `dst[r, dst_off + c] = src[r, src_off + c]` for `r < rows`, `c < width`.
#[allow(clippy::too_many_arguments)]
fn copy_columns(
    dst: &mut CudaStorage,
    dst_w: usize,
    dst_off: usize,
    src: &CudaStorage,
    src_w: usize,
    src_off: usize,
    width: usize,
    rows: usize,
) -> Result<()> {
    let n = rows * width;
    if n == 0 {
        return Ok(());
    }
    let dev = src.device.clone();
    let f = COLUMNS.function(&dev, "copy_columns_f32")?;
    let a = [dst_w, dst_off, src_w, src_off, width, rows].map(|x| x as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dst.slice)
        .arg(&a[0])
        .arg(&a[1])
        .arg(&src.slice)
        .arg(&a[2])
        .arg(&a[3])
        .arg(&a[4])
        .arg(&a[5]);
    let cfg: LaunchConfig = elementwise_config(&dev, n);
    // SAFETY: dst holds rows·dst_w values and src rows·src_w, with dst_off + width ≤ dst_w and
    // src_off + width ≤ src_w (the callers' width checks).
    unsafe { b.launch(cfg) }.map_err(drv("copy_columns_f32"))?;
    Ok(())
}

/// Splits `x [rows, Σ widths]` into `[rows, widths[i]]` parts.
pub(super) fn split(x: &CudaStorage, widths: &[usize]) -> Result<Vec<CudaStorage>> {
    let w: usize = widths.iter().sum();
    let rows = x.len / w.max(1);
    let mut off = 0;
    widths
        .iter()
        .map(|&wi| {
            let mut part = x.device.zeros(rows * wi)?;
            copy_columns(&mut part, wi, 0, x, w, off, wi, rows)?;
            off += wi;
            Ok(part)
        })
        .collect()
}

/// Concatenates `[rows, widths[i]]` parts into `[rows, Σ widths]`.
pub(super) fn concat(parts: &[&CudaStorage], widths: &[usize], rows: usize) -> Result<CudaStorage> {
    let w: usize = widths.iter().sum();
    let mut out = parts[0].device.zeros(rows * w)?;
    let mut off = 0;
    for (p, &wi) in parts.iter().zip(widths) {
        copy_columns(&mut out, w, off, p, wi, 0, wi, rows)?;
        off += wi;
    }
    Ok(out)
}
