//! `count_nonfinite`: `y[o, i] = #{a : x[o, a, i] is NaN or ±∞}`.
//!
//! No backward: a count is piecewise constant, its gradient is zero almost everywhere and means
//! nothing. The counts come back in the tensor's dtype; in f32 they are exact up to 2²⁴
//! (16 777 216) per output, and a count is never rounded to zero.

use super::{Kind, reduce_forward};
use crate::{Result, Tensor};

/// The number of NaN or infinite elements along `axis`; the output drops `axis`.
pub fn count_nonfinite(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce_forward("count_nonfinite", x, axis, Kind::CountNonfinite)
}
