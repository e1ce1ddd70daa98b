//! CUDA launchers for `mul.cu`; the forward goes through the shared elementwise launcher.

use crate::cuda::elementwise::binary;
use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "mul",
    src: include_str!("mul.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "mul",
        message: format!("{e:?}"),
    }
}

pub fn mul_forward(a: &CudaStorage, b: &CudaStorage) -> Result<CudaStorage> {
    binary(&KERNEL, "mul_fwd_f32", a, b)
}

pub fn mul_backward(
    a: &CudaStorage,
    b: &CudaStorage,
    dy: &CudaStorage,
) -> Result<(CudaStorage, CudaStorage)> {
    let dev = &a.device;
    let f = KERNEL.function(dev, "mul_bwd_f32")?;
    let mut da = dev.zeros(a.len)?;
    let mut db = dev.zeros(a.len)?;
    let n = a.len as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(&mut da.slice)
        .arg(&mut db.slice)
        .arg(&a.slice)
        .arg(&b.slice)
        .arg(&dy.slice)
        .arg(&n);
    // SAFETY: all five buffers hold at least n f32 values.
    unsafe { l.launch(elementwise_config(dev, a.len)) }.map_err(launch_err)?;
    Ok((da, db))
}
