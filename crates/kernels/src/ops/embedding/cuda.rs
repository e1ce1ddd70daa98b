//! CUDA launchers for `embedding.cu`.

use super::IdGroups;
use crate::cuda::{Kernel, elementwise_config};
use crate::{CudaStorage, Error, Result};
use cudarc::driver::PushKernelArg;

const KERNEL: Kernel = Kernel {
    module: "embedding",
    src: include_str!("embedding.cu"),
};

fn launch_err(e: cudarc::driver::DriverError) -> Error {
    Error::Driver {
        op: "embedding",
        message: format!("{e:?}"),
    }
}

pub fn embedding_forward(table: &CudaStorage, ids: &[u32], d: usize) -> Result<CudaStorage> {
    let dev = &table.device;
    let total = ids.len() * d;
    let mut y = dev.zeros(total)?;
    if total == 0 {
        return Ok(y);
    }
    let f = KERNEL.function(dev, "embedding_fwd_f32")?;
    let ids_dev = dev.stream().clone_htod(ids).map_err(launch_err)?;
    let (n_ids, d64) = (ids.len() as u64, d as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut y.slice)
        .arg(&table.slice)
        .arg(&ids_dev)
        .arg(&n_ids)
        .arg(&d64);
    // SAFETY: y holds n_ids·d values; every id was checked < V on the host, so the table
    // reads stay inside its V·d values.
    unsafe { b.launch(elementwise_config(dev, total)) }.map_err(launch_err)?;
    Ok(y)
}

pub fn embedding_backward(dy: &CudaStorage, groups: &IdGroups, d: usize) -> Result<CudaStorage> {
    let dev = &dy.device;
    let vocab = groups.offsets.len() - 1;
    let total = vocab * d;
    let mut dt = dev.zeros(total)?;
    if total == 0 || groups.positions.is_empty() {
        return Ok(dt);
    }
    let f = KERNEL.function(dev, "embedding_bwd_f32")?;
    let off: Vec<u64> = groups.offsets.iter().map(|&v| v as u64).collect();
    let pos: Vec<u64> = groups.positions.iter().map(|&v| v as u64).collect();
    let off = dev.stream().clone_htod(&off).map_err(launch_err)?;
    let pos = dev.stream().clone_htod(&pos).map_err(launch_err)?;
    let (v64, d64) = (vocab as u64, d as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&mut dt.slice)
        .arg(&dy.slice)
        .arg(&off)
        .arg(&pos)
        .arg(&v64)
        .arg(&d64);
    // SAFETY: off has V+1 non-decreasing entries ending at pos.len(); every position is < N,
    // so the dy reads stay inside its N·d values; dt holds V·d values.
    unsafe { b.launch(elementwise_config(dev, total)) }.map_err(launch_err)?;
    Ok(dt)
}
