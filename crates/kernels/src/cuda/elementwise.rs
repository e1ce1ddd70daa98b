//! Launchers shared by the elementwise ops: one output the length of the inputs, a grid-stride
//! kernel with the signature
//! - unary: `extern "C" __global__ void name(float* y, const float* x, unsigned long long n)`,
//! - binary: `extern "C" __global__ void name(float* y, const float* a, const float* b,
//!   unsigned long long n)`,
//! - binary in place: `extern "C" __global__ void name(float* a, const float* b,
//!   unsigned long long n)` (`a ← f(a, b)`).
//!
//! Callers have checked that the inputs have the same length and live on the same device.
//! Driver errors carry the kernel's module name as the op.

use super::device::driver_error;
use super::{CudaStorage, Kernel, elementwise_config};
use crate::Result;
use cudarc::driver::PushKernelArg;

/// `y = f(x)` with the unary kernel `name` of `kernel`.
pub fn unary(kernel: &Kernel, name: &str, x: &CudaStorage) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = kernel.function(dev, name)?;
    let mut y = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice).arg(&x.slice).arg(&n);
    // SAFETY: y and x hold at least n f32 values; the kernel reads/writes indices < n.
    unsafe { l.launch(elementwise_config(dev, x.len)) }
        .map_err(|e| driver_error(kernel.module, e))?;
    Ok(y)
}

/// `y = f(a, b)` with the binary kernel `name` of `kernel`; `b` has `a`'s length.
pub fn binary(
    kernel: &Kernel,
    name: &str,
    a: &CudaStorage,
    b: &CudaStorage,
) -> Result<CudaStorage> {
    let dev = &a.device;
    let f = kernel.function(dev, name)?;
    let mut y = dev.zeros(a.len)?;
    let n = a.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice).arg(&a.slice).arg(&b.slice).arg(&n);
    // SAFETY: y, a and b hold at least n f32 values; the kernel reads/writes indices < n.
    unsafe { l.launch(elementwise_config(dev, a.len)) }
        .map_err(|e| driver_error(kernel.module, e))?;
    Ok(y)
}

/// `a ← f(a, b)` with the in-place binary kernel `name` of `kernel`; `b` has `a`'s length.
pub fn binary_assign(
    kernel: &Kernel,
    name: &str,
    a: &mut CudaStorage,
    b: &CudaStorage,
) -> Result<()> {
    let dev = a.device.clone();
    let f = kernel.function(&dev, name)?;
    let n = a.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut a.slice).arg(&b.slice).arg(&n);
    // SAFETY: a and b hold at least n f32 values; the kernel reads/writes indices < n.
    unsafe { l.launch(elementwise_config(&dev, a.len)) }
        .map_err(|e| driver_error(kernel.module, e))?;
    Ok(())
}
