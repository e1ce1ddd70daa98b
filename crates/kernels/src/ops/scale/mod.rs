//! Scaling by a constant: `y = α·x`, and the in-place form `x ← α·x` ([`scale_assign`]).
//!
//! Backward: `dx = α·dy` ([`scale_backward`]). `α` is given in f64 and rounded to the tensor's
//! dtype; it must be finite.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::scale_forward_ref;

use crate::{Error, Result, Storage, Tensor};

fn check_alpha(op: &'static str, alpha: f64) -> Result<()> {
    if alpha.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("alpha must be finite, got {alpha}"),
        ))
    }
}

/// `y = α·x`, elementwise, any shape.
pub fn scale_forward(x: &Tensor, alpha: f64) -> Result<Tensor> {
    check_alpha("scale_forward", alpha)?;
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::scale(v, alpha), x.shape()),
        |c| cuda::scale(c, alpha as f32).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `dx = α·dy` (the derivative of `α·x` is `α`).
pub fn scale_backward(dy: &Tensor, alpha: f64) -> Result<Tensor> {
    check_alpha("scale_backward", alpha)?;
    scale_forward(dy, alpha)
}

/// `x ← α·x` in place.
pub fn scale_assign(x: &mut Tensor, alpha: f64) -> Result<()> {
    check_alpha("scale_assign", alpha)?;
    match x.storage_mut() {
        Storage::F32(v) => cpu::scale_assign(v, alpha),
        Storage::F64(v) => cpu::scale_assign(v, alpha),
        Storage::Cuda(c) => crate::on_cuda!(c, cuda::scale_assign(c, alpha as f32)?),
    }
    Ok(())
}
