//! CUDA launchers for `gelu.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "gelu",
    src: include_str!("gelu.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "gelu",
        message: format!("{e:?}"),
    }
}

pub fn gelu_forward(x: &CudaStorage, kind: i32) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = KERNEL.function(dev, "gelu_fwd_f32")?;
    let mut y = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice).arg(&x.slice).arg(&n).arg(&kind);
    // SAFETY: y and x hold at least n f32 values; the kernel reads/writes indices < n.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn gelu_backward(x: &CudaStorage, dy: &CudaStorage, kind: i32) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = KERNEL.function(dev, "gelu_bwd_f32")?;
    let mut dx = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dx.slice)
        .arg(&x.slice)
        .arg(&dy.slice)
        .arg(&n)
        .arg(&kind);
    // SAFETY: all three buffers hold at least n f32 values.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(dx)
}
