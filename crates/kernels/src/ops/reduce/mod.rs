//! Reductions along one axis: `sum`, `mean`, `sum_sq` (with backward), [`max_abs`] and
//! [`count_nonfinite`] (no gradient).
//!
//! A tensor of shape `[d0, …, dk]` reduced along `axis` is viewed as `[outer, len, inner]` with
//! `outer = d0·…·d(axis−1)`, `len = d(axis)`, `inner = d(axis+1)·…·dk`; the output has the input's
//! shape with `axis` removed (`[outer, inner]` in memory).
//!
//! One folder for five ops, one file each for their public functions: they share this
//! geometry, one CPU driver (a reducer plugged into row and column loops) and one templated
//! CUDA source, which one folder per op would copy five times.
//!
//! Precision: the f64 references use Neumaier (compensated) summation. The CPU kernels
//! accumulate sums in f64 for both dtypes (8 independent lanes, then the lanes in order), so an
//! f32 result is within one f32 rounding of the exact value plus `len·2⁻⁵²·Σ|terms|`. The CUDA
//! kernels also accumulate in f64 (a tree over threads and warps).

mod count_nonfinite;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod max_abs;
mod mean;
mod reference;
mod sum;
mod sum_sq;
#[cfg(test)]
mod tests;

pub use count_nonfinite::count_nonfinite;
pub use max_abs::max_abs;
pub use mean::{mean_backward, mean_forward};
pub use reference::{
    count_nonfinite_ref, max_abs_ref, mean_forward_ref, sum_forward_ref, sum_sq_forward_ref,
};
pub use sum::{sum_backward, sum_forward};
pub use sum_sq::{sum_sq_backward, sum_sq_forward};

use crate::{Error, Result, Storage, Tensor};

/// A tensor seen as `[outer, len, inner]` around the reduced axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisView {
    pub outer: usize,
    pub len: usize,
    pub inner: usize,
}

impl AxisView {
    /// The view of `shape` around `axis`; `InvalidArgument` if `axis` is past the rank.
    pub fn new(op: &'static str, shape: &[usize], axis: usize) -> Result<AxisView> {
        if axis >= shape.len() {
            return Err(Error::invalid(
                op,
                format!("axis {axis} out of range for a tensor of shape {shape:?}"),
            ));
        }
        Ok(AxisView {
            outer: shape[..axis].iter().product(),
            len: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        })
    }
}

/// The shape with `axis` removed.
fn reduced_shape(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.remove(axis);
    s
}

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Sum,
    Mean,
    SumSq,
    MaxAbs,
    CountNonfinite,
}

impl Kind {
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Kind::Sum => "sum",
            Kind::Mean => "mean",
            Kind::SumSq => "sum_sq",
            Kind::MaxAbs => "max_abs",
            Kind::CountNonfinite => "count_nonfinite",
        }
    }
}

/// Shared forward: checks, then the CPU or CUDA reduction.
fn reduce_forward(op: &'static str, x: &Tensor, axis: usize, kind: Kind) -> Result<Tensor> {
    let v = AxisView::new(op, x.shape(), axis)?;
    if kind == Kind::Mean && v.len == 0 {
        return Err(Error::invalid_shape(
            op,
            x.shape(),
            format!("the mean over axis {axis} of length 0 is undefined"),
        ));
    }
    let out_shape = reduced_shape(x.shape(), axis);
    dispatch!(
        x,
        |d| Tensor::from_vec(cpu::reduce(d, v, kind), &out_shape),
        |c| cuda::reduce(c, v, kind).and_then(|s| Tensor::from_cuda(s, &out_shape))
    )
}

/// Shared backward of `sum` (`scale = 1`), `mean` (`scale = 1/len`) and `sum_sq` (`x` given):
/// `dx[o, a, i] = scale · dy[o, i]` or `2·x[o, a, i]·dy[o, i]`.
fn broadcast_backward(
    op: &'static str,
    dy: &Tensor,
    x_shape: &[usize],
    axis: usize,
    scale: f64,
    x: Option<&Tensor>,
) -> Result<Tensor> {
    let v = AxisView::new(op, x_shape, axis)?;
    dy.expect_shape(op, &reduced_shape(x_shape, axis))?;
    if let Some(x) = x {
        x.expect_same_kind(op, dy)?;
    }
    match (dy.storage(), x.map(|t| t.storage())) {
        (Storage::F32(d), None) => Tensor::from_vec(cpu::broadcast(d, None, v, scale), x_shape),
        (Storage::F64(d), None) => Tensor::from_vec(cpu::broadcast(d, None, v, scale), x_shape),
        (Storage::F32(d), Some(Storage::F32(xs))) => {
            Tensor::from_vec(cpu::broadcast(d, Some(xs), v, scale), x_shape)
        }
        (Storage::F64(d), Some(Storage::F64(xs))) => {
            Tensor::from_vec(cpu::broadcast(d, Some(xs), v, scale), x_shape)
        }
        (Storage::Cuda(c), xs) => {
            let _ = &xs;
            crate::on_cuda!(c, {
                let xs = match xs {
                    Some(Storage::Cuda(xc)) => Some(xc),
                    _ => None,
                };
                cuda::broadcast(c, xs, v, scale as f32).and_then(|s| Tensor::from_cuda(s, x_shape))
            })
        }
        _ => Err(Error::Unsupported {
            op,
            reason: "inputs differ in dtype or device".into(),
        }),
    }
}
