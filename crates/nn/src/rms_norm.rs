//! `RmsNorm` (Zhang & Sennrich, *Root Mean Square Layer Normalization*, NeurIPS 2019) over the
//! last axis, with or without a gain (GAU-α's post-norm has none, with `ε = 1e-12`).
//!
//! Per row of width `n`: `rstd = 1/√(Σx²/n + ε)`, `x̂ = x·rstd`, `y = x̂ ⊙ gain` (or `y = x̂`).
//! Backward (see [`kernels::ops::rmsnorm`]): with `d̂ = dy ⊙ gain` (or `dy`),
//! `dx = rstd·(d̂ − x̂·mean(d̂ ⊙ x̂))`, `dgain = Σ_rows dy ⊙ x̂`.

use crate::layer_norm::{check_norm_config, check_width};
use crate::{GradSink, Module, Param, ParamRole, Prefix, Result};
use kernels::ops::rmsnorm::{RmsNormStats, rmsnorm_backward, rmsnorm_forward};
use kernels::{DType, Tensor};

/// RMS normalisation with an optional gain (`gain`, init 1).
pub struct RmsNorm {
    /// Multiplies `x̂`, `[n]` ([`ParamRole::Gain`]), if the layer has one.
    pub gain: Option<Param>,
    /// Added to the mean square.
    pub eps: f64,
    width: usize,
}

/// What [`RmsNorm::forward`] keeps for the backward: the input and per-row `rstd`.
pub struct RmsNormCache {
    x: Tensor,
    stats: RmsNormStats,
}

impl RmsNorm {
    /// Width `width` with a gain of ones in `dtype` on the CPU.
    pub fn new(width: usize, eps: f64, dtype: DType) -> Result<RmsNorm> {
        check_norm_config("RmsNorm", width, eps)?;
        let g = crate::Init::Ones.tensor(&[width], dtype, 0)?;
        Ok(RmsNorm {
            gain: Some(Param::new(g, ParamRole::Gain)),
            eps,
            width,
        })
    }

    /// Width `width` without a gain: `y = x / √(mean(x²) + ε)`; works in any dtype.
    pub fn without_gain(width: usize, eps: f64) -> Result<RmsNorm> {
        check_norm_config("RmsNorm", width, eps)?;
        Ok(RmsNorm {
            gain: None,
            eps,
            width,
        })
    }

    /// The normalised width `n`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `y` for `x [.., n]`, and the cache. Errors: last dim not `n`, dtype or device mismatch.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, RmsNormCache)> {
        check_width("RmsNorm::forward", x, self.width)?;
        let (y, stats) = rmsnorm_forward(x, self.gain.as_ref().map(|p| &p.value), self.eps)?;
        Ok((
            y,
            RmsNormCache {
                x: x.try_clone()?,
                stats,
            },
        ))
    }

    /// Returns `dx` for the cotangent `dy`, then hands `dgain` (`"gain"`) to `sink`.
    pub fn backward(
        &mut self,
        cache: RmsNormCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let g = self.gain.as_ref().map(|p| &p.value);
        let grads = rmsnorm_backward(&cache.x, g, &cache.stats, dy)?;
        if let (Some(p), Some(d)) = (self.gain.as_mut(), grads.dgain) {
            sink.accept("gain", p, d)?;
        }
        Ok(grads.dx)
    }
}

impl Module for RmsNorm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        if let Some(g) = &self.gain {
            f(&p.join("gain"), g);
        }
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        if let Some(g) = &mut self.gain {
            f(&p.join("gain"), g);
        }
    }
}

crate::checkable_layer!(RmsNorm);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, gradcheck, randn_f64};
    use crate::norm_tests::*;

    #[test]
    fn gradcheck_with_and_without_gain() {
        let mut with = RmsNorm::new(7, 1e-6, DType::F64).unwrap();
        with.gain.as_mut().unwrap().value = randn_f64(&[7], 1).unwrap();
        let x = randn_f64(&[3, 7], 2).unwrap();
        let rep = gradcheck(&mut with, &x, &GradCheckOptions::default()).unwrap();
        assert_eq!(rep.entries.len(), 2);
        assert!(rep.worst() < 1e-6, "{rep}");
        // GAU-α's form: no gain, ε = 1e-12.
        let mut plain = RmsNorm::without_gain(7, 1e-12).unwrap();
        let rep = gradcheck(&mut plain, &x, &GradCheckOptions::default()).unwrap();
        assert_eq!(rep.entries.len(), 1);
        assert!(rep.worst() < 1e-6, "{rep}");
    }

    #[test]
    fn f32_forward_matches_f64() {
        let x64 = randn_f64(&[4, 33], 5).unwrap();
        for (l64, l32) in [
            (
                RmsNorm::new(33, 1e-6, DType::F64).unwrap(),
                RmsNorm::new(33, 1e-6, DType::F32).unwrap(),
            ),
            (
                RmsNorm::without_gain(33, 1e-12).unwrap(),
                RmsNorm::without_gain(33, 1e-12).unwrap(),
            ),
        ] {
            assert_f32_forward_matches_f64(&l32, &l64, &x64);
        }
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let l = RmsNorm::new(4, 1e-6, DType::F32).unwrap();
        assert_bad_inputs_rejected(&l, true, &["gain"]);
        assert!(RmsNorm::without_gain(0, 1e-6).is_err());
        assert!(RmsNorm::new(3, f64::NAN, DType::F32).is_err());
    }
}
