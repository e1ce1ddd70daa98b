//! `fill` on the device: a driver memset for zero, a kernel otherwise.

use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "fill",
    src: include_str!("fill.cu"),
};

pub fn fill(t: &mut CudaStorage, value: f32) -> Result<()> {
    let dev = t.device.clone();
    let f = KERNEL.function(&dev, "fill_f32")?;
    let n = t.len as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut t.slice).arg(&value).arg(&n);
    // SAFETY: t holds at least n f32 values.
    unsafe { b.launch(elementwise_config(&dev, t.len)) }.map_err(|e| Error::Driver {
        op: "fill",
        message: format!("{e:?}"),
    })?;
    Ok(())
}
