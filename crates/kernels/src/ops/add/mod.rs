//! Elementwise addition: `y = a + b` (same shapes; no broadcasting).
//!
//! Backward: `da = dy`, `db = dy` — the caller reuses `dy` for both, so there is no backward
//! kernel. [`add_assign`] is the in-place form `a += b` that gradient accumulation uses.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::add_forward_ref;

use crate::{Error, Result, Storage, Tensor};

/// `y = a + b`; `a` and `b` must match in shape, dtype and device.
pub fn add_forward(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.expect_like("add_forward", b)?;
    dispatch2!(
        "add_forward",
        a,
        b,
        |x, y| Tensor::from_vec(cpu::add(x, y), a.shape()),
        |x, y| cuda::add(x, y).and_then(|s| Tensor::from_cuda(s, a.shape()))
    )
}

/// `a += b` in place; `a` and `b` must match in shape, dtype and device.
pub fn add_assign(a: &mut Tensor, b: &Tensor) -> Result<()> {
    a.expect_like("add_assign", b)?;
    match (a.storage_mut(), b.storage()) {
        (Storage::F32(x), Storage::F32(y)) => cpu::add_assign(x, y),
        (Storage::F64(x), Storage::F64(y)) => cpu::add_assign(x, y),
        (Storage::Cuda(x), Storage::Cuda(y)) => {
            let _ = &y;
            crate::on_cuda!(x, cuda::add_assign(x, y)?)
        }
        _ => {
            return Err(Error::Unsupported {
                op: "add_assign",
                reason: "inputs differ in dtype or device".into(),
            });
        }
    }
    Ok(())
}
