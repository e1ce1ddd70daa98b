//! The fused AdamW step (torch.optim.AdamW's order), 28 B/param in f32:
//! `θ = d·θ; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; θ = θ − step·m/(sqrt(v)/sqrt(bc2) + ε)`
//! with `d = 1 − ηλ`, `step = η/bc1`, `bc_i = 1 − β_i^t`.

use super::{CHUNK, with_simd};
use kernels::Float;
use rayon::prelude::*;

/// Per-tensor scalars of an AdamW step.
#[derive(Clone, Copy, Debug)]
pub struct AdamScalars<F> {
    pub decay_mul: F,
    pub beta1: F,
    pub one_minus_beta1: F,
    pub beta2: F,
    pub one_minus_beta2: F,
    pub step_size: F,
    pub bc2_sqrt: F,
    pub eps: F,
    /// Multiplies g (1/k for an accumulated sum).
    pub grad_scale: F,
}

impl<F: Float> AdamScalars<F> {
    /// From f64 hyperparameters at 1-based step `t`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(lr: f64, b1: f64, b2: f64, eps: f64, wd: f64, t: u64, grad_scale: f64) -> Self {
        let bc1 = 1.0 - b1.powi(t as i32);
        let bc2 = 1.0 - b2.powi(t as i32);
        AdamScalars {
            decay_mul: F::from_f64(1.0 - lr * wd),
            beta1: F::from_f64(b1),
            one_minus_beta1: F::from_f64(1.0 - b1),
            beta2: F::from_f64(b2),
            one_minus_beta2: F::from_f64(1.0 - b2),
            step_size: F::from_f64(lr / bc1),
            bc2_sqrt: F::from_f64(bc2.sqrt()),
            eps: F::from_f64(eps),
            grad_scale: F::from_f64(grad_scale),
        }
    }
}

/// One tensor's share of an AdamW step.
pub struct AdamJob<'a, F> {
    pub theta: &'a mut [F],
    pub m: &'a mut [F],
    pub v: &'a mut [F],
    pub g: &'a [F],
    pub s: AdamScalars<F>,
}

#[inline(always)]
fn chunk<F: Float>(th: &mut [F], m: &mut [F], v: &mut [F], g: &[F], s: AdamScalars<F>) {
    for (((t, m), v), &g) in th.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let g = g * s.grad_scale;
        let mn = *m * s.beta1 + g * s.one_minus_beta1;
        let vn = *v * s.beta2 + g * g * s.one_minus_beta2;
        *m = mn;
        *v = vn;
        *t = *t * s.decay_mul - s.step_size * (mn / (vn.sqrt() / s.bc2_sqrt + s.eps));
    }
}

/// Runs every job, all tensors' chunks in one parallel pass.
pub fn adamw_step<F: Float>(jobs: Vec<AdamJob<'_, F>>) {
    let mut pieces = Vec::new();
    for j in jobs {
        for (((t, m), v), g) in j
            .theta
            .chunks_mut(CHUNK)
            .zip(j.m.chunks_mut(CHUNK))
            .zip(j.v.chunks_mut(CHUNK))
            .zip(j.g.chunks(CHUNK))
        {
            pieces.push((t, m, v, g, j.s));
        }
    }
    pieces
        .into_par_iter()
        .for_each(|(t, m, v, g, s)| with_simd(|| chunk(t, m, v, g, s)));
}
