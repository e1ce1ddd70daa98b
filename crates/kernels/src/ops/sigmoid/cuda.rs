//! CUDA launchers for `sigmoid.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "sigmoid",
    src: include_str!("sigmoid.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "sigmoid",
        message: format!("{e:?}"),
    }
}

pub fn sigmoid_forward(x: &CudaStorage) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = KERNEL.function(dev, "sigmoid_fwd_f32")?;
    let mut y = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice).arg(&x.slice).arg(&n);
    // SAFETY: y and x hold at least n f32 values; the kernel reads/writes indices < n.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn sigmoid_backward(x: &CudaStorage, dy: &CudaStorage) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = KERNEL.function(dev, "sigmoid_bwd_f32")?;
    let mut dx = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dx.slice).arg(&x.slice).arg(&dy.slice).arg(&n);
    // SAFETY: all three buffers hold at least n f32 values.
    unsafe { b.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(dx)
}
