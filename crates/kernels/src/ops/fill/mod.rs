//! `fill`: sets every element to a constant, in place. No gradient (its output does not depend
//! on its input).

#[cfg(feature = "cuda")]
mod cuda;
#[cfg(test)]
mod tests;

use crate::{Float, Result, Storage, Tensor};
use rayon::prelude::*;

/// Sets every element of `t` to `value` (rounded to the tensor's dtype).
pub fn fill(t: &mut Tensor, value: f64) -> Result<()> {
    match t.storage_mut() {
        Storage::F32(v) => fill_cpu(v, value as f32),
        Storage::F64(v) => fill_cpu(v, value),
        Storage::Cuda(c) => crate::on_cuda!(c, cuda::fill(c, value as f32)?),
    }
    Ok(())
}

fn fill_cpu<F: Float>(v: &mut [F], value: F) {
    v.par_chunks_mut(crate::cpu_util::CHUNK)
        .for_each(|c| c.fill(value));
}
