//! `LayerNorm` (Ba, Kiros & Hinton, *Layer Normalization*, 2016) over the last axis.
//!
//! Per row of width `n`: `μ = Σx/n`, `σ² = Σ(x−μ)²/n`, `x̂ = (x−μ)/√(σ² + ε)`,
//! `y = x̂ ⊙ gain + bias` (gain and bias optional, `[n]`).
//! Backward (see [`kernels::ops::layernorm`]): with `d̂ = dy ⊙ gain` and `rstd = 1/√(σ² + ε)`,
//! `dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂ ⊙ x̂))`, `dgain = Σ_rows dy ⊙ x̂`, `dbias = Σ_rows dy`.

use crate::{Error, GradSink, Module, Param, ParamRole, Prefix, Result};
use kernels::ops::layernorm::{LayerNormStats, layernorm_backward, layernorm_forward};
use kernels::{DType, Tensor};

/// Layer normalisation with an optional gain (`gain`, init 1) and bias (`bias`, init 0).
pub struct LayerNorm {
    /// Multiplies `x̂`, `[n]` ([`ParamRole::Gain`]).
    pub gain: Option<Param>,
    /// Added last, `[n]` ([`ParamRole::Bias`]).
    pub bias: Option<Param>,
    /// Added to the variance (PyTorch's default is 1e-5).
    pub eps: f64,
    width: usize,
}

/// What [`LayerNorm::forward`] keeps for the backward: the input and per-row mean and `rstd`.
pub struct LayerNormCache {
    x: Tensor,
    stats: LayerNormStats,
}

pub(crate) fn check_width(op: &'static str, x: &Tensor, width: usize) -> Result<()> {
    match x.shape().last() {
        Some(&n) if n == width => Ok(()),
        _ => {
            let mut want = x.shape().to_vec();
            match want.last_mut() {
                Some(n) => *n = width,
                None => want.push(width),
            }
            Err(kernels::Error::shape(op, &want, x.shape()).into())
        }
    }
}

pub(crate) fn check_norm_config(what: &'static str, width: usize, eps: f64) -> Result<()> {
    if width == 0 || !eps.is_finite() || eps < 0.0 {
        return Err(Error::InvalidConfig {
            what,
            reason: format!("width must be positive and eps finite and ≥ 0, got {width}, {eps}"),
        });
    }
    Ok(())
}

impl LayerNorm {
    /// Width `width`, with gain (ones) and bias (zeros) in `dtype` on the CPU.
    pub fn new(width: usize, eps: f64, dtype: DType) -> Result<LayerNorm> {
        LayerNorm::with_affine(width, eps, true, true, dtype)
    }

    /// Width `width`, with or without each of gain (ones) and bias (zeros).
    pub fn with_affine(
        width: usize,
        eps: f64,
        gain: bool,
        bias: bool,
        dtype: DType,
    ) -> Result<LayerNorm> {
        check_norm_config("LayerNorm", width, eps)?;
        let make = |v: f64, role| -> Result<Param> {
            Ok(Param::new(
                crate::Init::Constant(v).tensor(&[width], dtype, 0)?,
                role,
            ))
        };
        Ok(LayerNorm {
            gain: gain.then(|| make(1.0, ParamRole::Gain)).transpose()?,
            bias: bias.then(|| make(0.0, ParamRole::Bias)).transpose()?,
            eps,
            width,
        })
    }

    /// The normalised width `n`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `y` for `x [.., n]`, and the cache. Errors: last dim not `n`, dtype or device mismatch.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, LayerNormCache)> {
        check_width("LayerNorm::forward", x, self.width)?;
        let (g, b) = (
            self.gain.as_ref().map(|p| &p.value),
            self.bias.as_ref().map(|p| &p.value),
        );
        let (y, stats) = layernorm_forward(x, g, b, self.eps)?;
        Ok((
            y,
            LayerNormCache {
                x: x.try_clone()?,
                stats,
            },
        ))
    }

    /// Returns `dx` for the cotangent `dy`, then hands `dgain` (`"gain"`) and `dbias`
    /// (`"bias"`) to `sink`.
    pub fn backward(
        &mut self,
        cache: LayerNormCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let (g, b) = (
            self.gain.as_ref().map(|p| &p.value),
            self.bias.as_ref().map(|p| &p.value),
        );
        let grads = layernorm_backward(&cache.x, g, b, &cache.stats, dy)?;
        if let (Some(p), Some(d)) = (self.gain.as_mut(), grads.dgain) {
            sink.accept("gain", p, d)?;
        }
        if let (Some(p), Some(d)) = (self.bias.as_mut(), grads.dbias) {
            sink.accept("bias", p, d)?;
        }
        Ok(grads.dx)
    }
}

impl Module for LayerNorm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        if let Some(g) = &self.gain {
            f(&p.join("gain"), g);
        }
        if let Some(b) = &self.bias {
            f(&p.join("bias"), b);
        }
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        if let Some(g) = &mut self.gain {
            f(&p.join("gain"), g);
        }
        if let Some(b) = &mut self.bias {
            f(&p.join("bias"), b);
        }
    }
}

crate::checkable_layer!(LayerNorm);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, gradcheck, randn_f64};
    use crate::norm_tests::*;

    #[test]
    fn gradcheck_input_gain_and_bias() {
        for (gain, bias) in [(true, true), (true, false), (false, true), (false, false)] {
            let mut l = LayerNorm::with_affine(6, 1e-5, gain, bias, DType::F64).unwrap();
            // Random gain and bias, so that a wrong dgain/dbias cannot hide behind 1 and 0.
            if let Some(g) = &mut l.gain {
                g.value = randn_f64(&[6], 1).unwrap();
            }
            if let Some(b) = &mut l.bias {
                b.value = randn_f64(&[6], 2).unwrap();
            }
            let x = randn_f64(&[2, 3, 6], 3).unwrap();
            let rep = gradcheck(&mut l, &x, &GradCheckOptions::default()).unwrap();
            assert_eq!(rep.entries.len(), 1 + gain as usize + bias as usize);
            assert!(rep.worst() < 1e-6, "{rep}");
        }
    }

    #[test]
    fn f32_forward_matches_f64() {
        let l64 = LayerNorm::new(31, 1e-5, DType::F64).unwrap();
        let l32 = LayerNorm::new(31, 1e-5, DType::F32).unwrap();
        let x64 = randn_f64(&[4, 31], 5).unwrap();
        assert_f32_forward_matches_f64(&l32, &l64, &x64);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let l = LayerNorm::new(4, 1e-5, DType::F32).unwrap();
        assert_bad_inputs_rejected(&l, true, &["gain", "bias"]);
        assert!(LayerNorm::new(0, 1e-5, DType::F32).is_err());
        assert!(LayerNorm::new(3, -1.0, DType::F32).is_err());
    }
}
