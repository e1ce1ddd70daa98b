//! The piecewise-linear learning-rate multiplier of Su's Tiger reference (`piecewise_linear`).

use crate::{Error, Result};

/// Knots `(t_i, v_i)` sorted by `t` (micro-steps). If the first knot is not at 0, `(0, 0)` is
/// prepended (linear warm-up from 0). Between knots the value is interpolated linearly,
/// `v_i + (v_{i+1} − v_i)/(t_{i+1} − t_i)·(t − t_i)`; after the last knot it stays `v_last`.
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseLinear {
    knots: Vec<(u64, f64)>,
}

impl PiecewiseLinear {
    /// {0: 1}: a constant multiplier of 1 (the reference default).
    pub fn constant() -> Self {
        PiecewiseLinear {
            knots: vec![(0, 1.0)],
        }
    }

    /// From knots in any order; duplicates times or non-finite values are an error.
    pub fn new(knots: &[(u64, f64)]) -> Result<Self> {
        let mut k = knots.to_vec();
        k.sort_by_key(|&(t, _)| t);
        if k.is_empty() {
            return Err(Error::InvalidHyperparameter {
                name: "schedule",
                value: 0.0,
                reason: "needs at least one knot",
            });
        }
        if k[0].0 != 0 {
            k.insert(0, (0, 0.0));
        }
        let s = PiecewiseLinear { knots: k };
        s.validate()?;
        Ok(s)
    }

    /// The knots, including a prepended (0, 0).
    pub fn knots(&self) -> &[(u64, f64)] {
        &self.knots
    }

    pub(crate) fn validate(&self) -> Result<()> {
        for w in self.knots.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::InvalidHyperparameter {
                    name: "schedule",
                    value: w[0].0 as f64,
                    reason: "two knots at the same micro-step",
                });
            }
        }
        for &(_, v) in &self.knots {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::InvalidHyperparameter {
                    name: "schedule",
                    value: v,
                    reason: "knot values must be finite and non-negative",
                });
            }
        }
        if self.knots.first().map(|k| k.0) != Some(0) {
            return Err(Error::InvalidHyperparameter {
                name: "schedule",
                value: f64::NAN,
                reason: "the first knot must be at 0",
            });
        }
        Ok(())
    }

    /// The multiplier at micro-step `t`.
    pub fn at(&self, t: u64) -> f64 {
        let k = &self.knots;
        let i = k.partition_point(|&(ti, _)| ti <= t).saturating_sub(1);
        if i + 1 >= k.len() {
            return k[k.len() - 1].1;
        }
        let (t0, v0) = k[i];
        let (t1, v1) = k[i + 1];
        v0 + (v1 - v0) / (t1 - t0) as f64 * (t - t0) as f64
    }
}
