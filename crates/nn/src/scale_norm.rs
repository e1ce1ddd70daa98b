//! `ScaleNorm` (Nguyen & Salazar, *Transformers without Tears*, 2019): every row is scaled to
//! one learned length `g`.
//!
//! Per row: `y = g·x / max(‖x‖₂, ε)`, with a scalar gain `g` (a `[1]` tensor, init `√n` as in
//! the paper). Backward (see [`kernels::ops::scalenorm`]): for `‖x‖ > ε`,
//! `dx = (g/‖x‖)·(dy − x·(x·dy)/‖x‖²)`; for a clamped row `dx = g·dy/ε`;
//! `dg = Σ_rows (x·dy)/max(‖x‖, ε)`. The clamp is a kink at `‖x‖ = ε`: gradient checks use rows
//! whose norms are far above ε.

use crate::layer_norm::check_width;
use crate::{Error, GradSink, Module, Param, ParamRole, Prefix, Result};
use kernels::ops::scalenorm::{ScaleNormStats, scalenorm_backward, scalenorm_forward};
use kernels::{DType, Tensor};

/// ScaleNorm with its scalar gain named `gain`.
pub struct ScaleNorm {
    /// The row length `g`, shape `[1]` ([`ParamRole::Gain`]).
    pub gain: Param,
    /// The clamp on the row norm (the authors' code uses 1e-5); must be > 0.
    pub eps: f64,
    width: usize,
}

/// What [`ScaleNorm::forward`] keeps for the backward: the input and per-row norms.
pub struct ScaleNormCache {
    x: Tensor,
    stats: ScaleNormStats,
}

impl ScaleNorm {
    /// Width `width`, gain `√width`, in `dtype` on the CPU.
    pub fn new(width: usize, eps: f64, dtype: DType) -> Result<ScaleNorm> {
        if width == 0 || !eps.is_finite() || eps <= 0.0 {
            return Err(Error::InvalidConfig {
                what: "ScaleNorm",
                reason: format!(
                    "width must be positive and eps finite and > 0, got {width}, {eps}"
                ),
            });
        }
        let g = crate::Init::Constant((width as f64).sqrt()).tensor(&[1], dtype, 0)?;
        Ok(ScaleNorm {
            gain: Param::new(g, ParamRole::Gain),
            eps,
            width,
        })
    }

    /// The normalised width `n`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `y` for `x [.., n]`, and the cache. Errors: last dim not `n`, dtype or device mismatch.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, ScaleNormCache)> {
        check_width("ScaleNorm::forward", x, self.width)?;
        let (y, stats) = scalenorm_forward(x, &self.gain.value, self.eps)?;
        Ok((
            y,
            ScaleNormCache {
                x: x.try_clone()?,
                stats,
            },
        ))
    }

    /// Returns `dx` for the cotangent `dy`, then hands `dg` (`"gain"`, shape `[1]`) to `sink`.
    pub fn backward(
        &mut self,
        cache: ScaleNormCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let grads = scalenorm_backward(&cache.x, &self.gain.value, &cache.stats, dy)?;
        sink.accept("gain", &mut self.gain, grads.dgain)?;
        Ok(grads.dx)
    }
}

impl Module for ScaleNorm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("gain"), &self.gain);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("gain"), &mut self.gain);
    }
}

crate::checkable_layer!(ScaleNorm);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, gradcheck, randn_f64};
    use crate::norm_tests::*;

    #[test]
    fn gradcheck_input_and_gain() {
        let mut l = ScaleNorm::new(5, 1e-5, DType::F64).unwrap();
        l.gain.value = Tensor::from_vec(vec![1.7f64], &[1]).unwrap();
        // Standard-normal rows of width 5 have norms ~√5, far from the clamp at ε = 1e-5.
        let x = randn_f64(&[4, 5], 2).unwrap();
        let rows = x.to_vec::<f64>().unwrap();
        assert!(
            rows.chunks(5)
                .all(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt() > 1e-2)
        );
        let rep = gradcheck(&mut l, &x, &GradCheckOptions::default()).unwrap();
        assert_eq!(rep.entries.len(), 2);
        assert!(rep.worst() < 1e-6, "{rep}");
    }

    #[test]
    fn f32_forward_matches_f64() {
        let x64 = randn_f64(&[3, 29], 5).unwrap();
        let l64 = ScaleNorm::new(29, 1e-5, DType::F64).unwrap();
        let l32 = ScaleNorm::new(29, 1e-5, DType::F32).unwrap();
        assert_f32_forward_matches_f64(&l32, &l64, &x64);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let l = ScaleNorm::new(4, 1e-5, DType::F32).unwrap();
        assert_bad_inputs_rejected(&l, false, &["gain"]);
        assert!(ScaleNorm::new(4, 0.0, DType::F32).is_err());
        assert!(ScaleNorm::new(0, 1e-5, DType::F32).is_err());
    }
}
