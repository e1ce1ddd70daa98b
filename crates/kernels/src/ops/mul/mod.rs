//! Elementwise product: `y = a ⊙ b` (same shapes; no broadcasting).
//!
//! Backward: `da = dy ⊙ b`, `db = dy ⊙ a`, both produced by one pass over `a`, `b`, `dy`.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{mul_backward_ref, mul_forward_ref};

use crate::{Error, Result, Storage, Tensor};

/// `y = a ⊙ b`; `a` and `b` must match in shape, dtype and device.
pub fn mul_forward(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.expect_like("mul_forward", b)?;
    dispatch2!(
        "mul_forward",
        a,
        b,
        |x, y| Tensor::from_vec(cpu::mul_forward(x, y), a.shape()),
        |x, y| cuda::mul_forward(x, y).and_then(|s| Tensor::from_cuda(s, a.shape()))
    )
}

/// `(da, db) = (dy ⊙ b, dy ⊙ a)`; `a`, `b` and `dy` must match in shape, dtype and device.
pub fn mul_backward(a: &Tensor, b: &Tensor, dy: &Tensor) -> Result<(Tensor, Tensor)> {
    const OP: &str = "mul_backward";
    a.expect_like(OP, b)?;
    a.expect_like(OP, dy)?;
    let shape = a.shape();
    match (a.storage(), b.storage(), dy.storage()) {
        (Storage::F32(a), Storage::F32(b), Storage::F32(dy)) => {
            let (da, db) = cpu::mul_backward(a, b, dy);
            Ok((Tensor::from_vec(da, shape)?, Tensor::from_vec(db, shape)?))
        }
        (Storage::F64(a), Storage::F64(b), Storage::F64(dy)) => {
            let (da, db) = cpu::mul_backward(a, b, dy);
            Ok((Tensor::from_vec(da, shape)?, Tensor::from_vec(db, shape)?))
        }
        (Storage::Cuda(ca), Storage::Cuda(cb), Storage::Cuda(cdy)) => {
            let _ = (&cb, &cdy);
            crate::on_cuda!(ca, {
                let (da, db) = cuda::mul_backward(ca, cb, cdy)?;
                Ok((Tensor::from_cuda(da, shape)?, Tensor::from_cuda(db, shape)?))
            })
        }
        _ => Err(Error::Unsupported {
            op: OP,
            reason: "inputs differ in dtype or device".into(),
        }),
    }
}
