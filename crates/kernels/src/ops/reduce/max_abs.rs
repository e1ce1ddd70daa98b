//! `max_abs`: `y[o, i] = max_a |x[o, a, i]|` (0 for an empty axis; NaN if any element is NaN).
//!
//! No backward: the maximum's gradient is a subgradient that picks one arg-max, and this op
//! serves diagnostics (gradient-clipping thresholds, overflow checks), not training.

use super::{Kind, reduce_forward};
use crate::{Result, Tensor};

/// `y = max over axis of |x|`; the output drops `axis`. NaN propagates; ±∞ gives +∞.
pub fn max_abs(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce_forward("max_abs", x, axis, Kind::MaxAbs)
}
