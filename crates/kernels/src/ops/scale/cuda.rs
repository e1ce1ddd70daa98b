//! CUDA launchers for `scale.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "scale",
    src: include_str!("scale.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "scale",
        message: format!("{e:?}"),
    }
}

pub fn scale(x: &CudaStorage, alpha: f32) -> Result<CudaStorage> {
    let dev = &x.device;
    let f = KERNEL.function(dev, "scale_fwd_f32")?;
    let mut y = dev.zeros(x.len)?;
    let n = x.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice).arg(&x.slice).arg(&alpha).arg(&n);
    // SAFETY: y and x hold at least n f32 values.
    unsafe { l.launch(elementwise_config(dev, x.len)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn scale_assign(x: &mut CudaStorage, alpha: f32) -> Result<()> {
    let dev = x.device.clone();
    let f = KERNEL.function(&dev, "scale_assign_f32")?;
    let n = x.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut x.slice).arg(&alpha).arg(&n);
    // SAFETY: x holds at least n f32 values.
    unsafe { l.launch(elementwise_config(&dev, x.len)) }.map_err(launch_err)?;
    Ok(())
}
