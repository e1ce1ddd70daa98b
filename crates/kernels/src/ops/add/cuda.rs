//! CUDA launchers for `add.cu`.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "add",
    src: include_str!("add.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "add",
        message: format!("{e:?}"),
    }
}

pub fn add(a: &CudaStorage, b: &CudaStorage) -> Result<CudaStorage> {
    let dev = &a.device;
    let f = KERNEL.function(dev, "add_fwd_f32")?;
    let mut y = dev.zeros(a.len)?;
    let n = a.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut y.slice).arg(&a.slice).arg(&b.slice).arg(&n);
    // SAFETY: all buffers hold at least n f32 values.
    unsafe { l.launch(elementwise_config(dev, a.len)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn add_assign(a: &mut CudaStorage, b: &CudaStorage) -> Result<()> {
    let dev = a.device.clone();
    let f = KERNEL.function(&dev, "add_assign_f32")?;
    let n = a.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut a.slice).arg(&b.slice).arg(&n);
    // SAFETY: both buffers hold at least n f32 values.
    unsafe { l.launch(elementwise_config(&dev, a.len)) }.map_err(launch_err)?;
    Ok(())
}
