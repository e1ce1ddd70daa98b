//! Tiger's non-finite guard with verdicts from outside: the fused 20 B/param step.
//!
//! The guard (spec §3.5) must know, before a tensor is touched, whether its gradient holds a
//! NaN (or ±Inf). Plain [`Optimizer::step`] and the [`nn::GradSink`] find out themselves with
//! one more read of g (the *self-checking* path, the default): for tensors up to a few MiB
//! that read comes back from the last-level cache, but a larger tensor's gradient is read from
//! memory twice, 24 B/param instead of 20.
//!
//! Where the gradient is already read elsewhere, the verdicts cost nothing extra: the
//! gradient-release sink that produced g, a loss-scaler's overflow check, or the global-norm
//! pass of gradient clipping ([`Optimizer::grad_report`] is one: Σg² per tensor and the bad
//! flags in the same read). Hand them to [`Optimizer::step_with_flags`] /
//! [`Optimizer::accept_with_flag`] and the step is the single fused pass (read θ, g, m; write
//! θ, m). The result is bit-identical to the self-checking path when the verdicts are right
//! (`tests::properties::flags_path_equals_selfcheck`).

use crate::config::Guard;
use crate::cpu::grad_stats;
use crate::optimizer::{Algorithm, Optimizer};
use crate::{Error, Result};
use kernels::{Storage, Tensor};
use nn::{Module, Param, Prefix};

/// What one read of every gradient tells, per parameter in [`Optimizer::param_names`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct GradReport {
    /// Σg² (f64, fixed chunk order: deterministic whatever the thread count).
    pub sum_sq: Vec<f64>,
    /// Whether the gradient holds a NaN.
    pub has_nan: Vec<bool>,
    /// Whether the gradient holds a NaN or ±Inf.
    pub has_non_finite: Vec<bool>,
}

impl GradReport {
    /// The global gradient norm sqrt(Σ over all tensors of Σg²), e.g. for clipping.
    pub fn global_norm(&self) -> f64 {
        self.sum_sq.iter().sum::<f64>().sqrt()
    }

    /// Tiger's guard verdicts under `guard`: NaN or ±Inf for [`Guard::NonFinite`], NaN for
    /// [`Guard::NanOnly`], none for [`Guard::Off`].
    pub fn verdicts(&self, guard: Guard) -> Vec<bool> {
        match guard {
            Guard::NonFinite => self.has_non_finite.clone(),
            Guard::NanOnly => self.has_nan.clone(),
            Guard::Off => vec![false; self.sum_sq.len()],
        }
    }
}

fn verdicts_unsupported(op: &'static str, algo: &Algorithm) -> Result<()> {
    match algo {
        Algorithm::Tiger(_) => Ok(()),
        other => Err(Error::Kernel(kernels::Error::Unsupported {
            op,
            reason: format!(
                "guard verdicts are for Tiger; {} has no guard",
                other.name()
            ),
        })),
    }
}

impl Optimizer {
    /// One Tiger micro-step like [`Optimizer::step`], with the guard's verdicts supplied by the
    /// caller: `bad[i]` says whether the gradient of the i-th parameter of
    /// [`Optimizer::param_names`] trips the guard (m kept, θ shrunk toward its centre). No
    /// gradient is read to test it, so the step is one fused pass, 20 B/param in f32.
    ///
    /// The verdicts are applied as given, whatever [`TigerConfig::guard`](crate::TigerConfig)
    /// says; a wrong `false` lets NaN into m. Errors (nothing updated): `bad.len()` differs
    /// from the number of parameters, the algorithm is not Tiger, or any [`Optimizer::step`]
    /// error.
    pub fn step_with_flags(&mut self, model: &mut dyn Module, bad: &[bool]) -> Result<()> {
        const OP: &str = "Optimizer::step_with_flags";
        verdicts_unsupported(OP, &self.algo)?;
        if bad.len() != self.slots.len() {
            return Err(Error::ModelMismatch {
                op: OP,
                reason: format!(
                    "{} guard verdicts for {} parameters",
                    bad.len(),
                    self.slots.len()
                ),
            });
        }
        self.step_inner(model, Some(bad))
    }

    /// The [`nn::GradSink::accept`] of gradient release with the guard's verdict for this
    /// gradient supplied by the producer (which can count non-finite values as it writes g):
    /// one fused pass, no test read. Tiger only.
    pub fn accept_with_flag(
        &mut self,
        name: &str,
        param: &mut Param,
        grad: Tensor,
        bad: bool,
    ) -> Result<()> {
        const OP: &str = "Optimizer::accept_with_flag";
        verdicts_unsupported(OP, &self.algo)?;
        let i = *self.index.get(name).ok_or_else(|| Error::UnknownParam {
            op: OP,
            name: name.to_string(),
        })?;
        let mut work: Vec<Option<(&mut Tensor, &Tensor)>> =
            (0..self.slots.len()).map(|_| None).collect();
        work[i] = Some((&mut param.value, &grad));
        let mut verdicts = vec![false; self.slots.len()];
        verdicts[i] = bad;
        self.checked_micro_step(work, Some(&verdicts))
    }

    /// Σg² and the NaN / non-finite flags of every parameter's `grad`, in one parallel read
    /// (host tensors, f32 or f64): the global-norm pass of gradient clipping that also yields
    /// Tiger's guard verdicts ([`GradReport::verdicts`]). Errors: a parameter without a
    /// gradient, a name the optimizer does not know, a gradient on a CUDA device.
    pub fn grad_report(&self, model: &dyn Module) -> Result<GradReport> {
        const OP: &str = "Optimizer::grad_report";
        let mut grads: Vec<Option<&Tensor>> = vec![None; self.slots.len()];
        let mut err = None;
        model.visit(&Prefix::root(), &mut |name, p| {
            if err.is_some() {
                return;
            }
            match (self.index.get(name), p.grad.as_ref()) {
                (Some(&i), Some(g)) => grads[i] = Some(g),
                (None, _) => {
                    err = Some(Error::UnknownParam {
                        op: OP,
                        name: name.into(),
                    })
                }
                (_, None) => {
                    err = Some(Error::MissingGradient {
                        op: OP,
                        name: name.into(),
                    })
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let (mut f32s, mut f64s) = (Vec::new(), Vec::new());
        for (i, g) in grads.iter().enumerate() {
            let g = g.ok_or_else(|| Error::MissingGradient {
                op: OP,
                name: self.slots[i].name.clone(),
            })?;
            match g.storage() {
                Storage::F32(v) => f32s.push((i, v.as_slice())),
                Storage::F64(v) => f64s.push((i, v.as_slice())),
                Storage::Cuda(_) => {
                    return Err(Error::Kernel(kernels::Error::Unsupported {
                        op: OP,
                        reason: "gradients on a CUDA device (host tensors only)".into(),
                    }));
                }
            }
        }
        let n = self.slots.len();
        let mut r = GradReport {
            sum_sq: vec![0.0; n],
            has_nan: vec![false; n],
            has_non_finite: vec![false; n],
        };
        let ids32: Vec<usize> = f32s.iter().map(|x| x.0).collect();
        let ids64: Vec<usize> = f64s.iter().map(|x| x.0).collect();
        let s32 = grad_stats(&f32s.into_iter().map(|x| x.1).collect::<Vec<_>>());
        let s64 = grad_stats(&f64s.into_iter().map(|x| x.1).collect::<Vec<_>>());
        for (i, (ss, nan, bad)) in ids32.into_iter().zip(s32).chain(ids64.into_iter().zip(s64)) {
            r.sum_sq[i] = ss;
            r.has_nan[i] = nan;
            r.has_non_finite[i] = bad;
        }
        Ok(r)
    }
}
