//! The fused Lion step: for each element
//! `c = β1·m + (1−β1)·(s·g); θ = d·θ − η·sign(c); m = β2·m + (1−β2)·(s·g)`
//! (s scales an accumulated gradient sum to its mean; 1 otherwise). 20 B/param in f32.

use super::{CHUNK, sign, with_simd};
use half::bf16;
use kernels::Float;
use rayon::prelude::*;

/// Per-tensor scalars of a Lion step (rounded to F once, as PyTorch does with Python floats).
#[derive(Clone, Copy, Debug)]
pub struct LionScalars<F> {
    /// η.
    pub eta: F,
    /// d, the decay multiplier on θ_{t-1}.
    pub decay_mul: F,
    pub beta1: F,
    pub one_minus_beta1: F,
    pub beta2: F,
    pub one_minus_beta2: F,
    /// s, multiplies g (1/k for an accumulated sum).
    pub grad_scale: F,
}

impl<F: Float> LionScalars<F> {
    /// From f64 hyperparameters; `decay_mul` = d (e.g. 1 − ηλ computed in f64).
    pub fn new(eta: f64, decay_mul: f64, beta1: f64, beta2: f64, grad_scale: f64) -> Self {
        LionScalars {
            eta: F::from_f64(eta),
            decay_mul: F::from_f64(decay_mul),
            beta1: F::from_f64(beta1),
            one_minus_beta1: F::from_f64(1.0 - beta1),
            beta2: F::from_f64(beta2),
            one_minus_beta2: F::from_f64(1.0 - beta2),
            grad_scale: F::from_f64(grad_scale),
        }
    }
}

/// One tensor's share of a Lion step.
pub struct LionJob<'a, F> {
    pub theta: &'a mut [F],
    pub m: &'a mut [F],
    pub g: &'a [F],
    pub s: LionScalars<F>,
}

#[inline(always)]
fn chunk<F: Float>(th: &mut [F], m: &mut [F], g: &[F], s: LionScalars<F>) {
    let one = F::one();
    let unit = s.grad_scale == one;
    for ((t, m), &g) in th.iter_mut().zip(m.iter_mut()).zip(g) {
        let g = if unit { g } else { g * s.grad_scale };
        let c = *m * s.beta1 + g * s.one_minus_beta1;
        *t = *t * s.decay_mul - s.eta * sign(c);
        *m = *m * s.beta2 + g * s.one_minus_beta2;
    }
}

/// Runs every job, all tensors' chunks in one parallel pass.
pub fn lion_step<F: Float>(jobs: Vec<LionJob<'_, F>>) {
    let mut pieces = Vec::new();
    for j in jobs {
        for ((t, m), g) in j
            .theta
            .chunks_mut(CHUNK)
            .zip(j.m.chunks_mut(CHUNK))
            .zip(j.g.chunks(CHUNK))
        {
            pieces.push((t, m, g, j.s));
        }
    }
    pieces
        .into_par_iter()
        .for_each(|(t, m, g, s)| with_simd(|| chunk(t, m, g, s)));
}

/// Lion with the momentum kept in bf16 (2 B/param): c and the new m are computed in f32 from
/// the widened m, and m is rounded to nearest-even bf16 on store. 18 B/param.
pub fn lion_step_bf16(theta: &mut [f32], m: &mut [bf16], g: &[f32], s: LionScalars<f32>) {
    theta
        .par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|((th, m), g)| {
            with_simd(|| {
                for ((t, m), &g) in th.iter_mut().zip(m.iter_mut()).zip(g) {
                    let g = g * s.grad_scale;
                    let mf = m.to_f32();
                    let c = mf * s.beta1 + g * s.one_minus_beta1;
                    *t = *t * s.decay_mul - s.eta * sign(c);
                    *m = bf16::from_f32(mf * s.beta2 + g * s.one_minus_beta2);
                }
            })
        });
}
