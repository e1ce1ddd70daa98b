//! `MultiStepSweep`: learning rate × batch size on [`LinearRegression`] with the "steps to reach a
//! target loss" protocol (spec §8.5, R9). Per (B, lr) the first step at which the seed-averaged
//! excess loss is below `fraction × initial`; per B the best lr and its S; E = B·S.
//!
//! Seeds run in lock-step blocks (rayon over seeds), each with its own generator seeded by
//! (seed, B) — the same data stream for every lr (common random numbers) — so results are
//! bit-reproducible whatever the thread count. The previous batch size's best lr is tried first, then the
//! rest from the largest down, each run capped at the best S found so far: the same argmin (ties →
//! smaller lr) as the exhaustive sweep at a fraction of the cost.

use super::linreg::LinearRegression;
use crate::error::{LawError, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

/// Optimizers of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Sgd,
    Sign,
    SoftSign(f64),
    AdamDiv(f64),
    /// Adam with bias correction.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
}

/// Measurement protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// First step whose seed-averaged excess loss is below `fraction × initial` (default; R9).
    StepsToTarget { fraction: f64, max_steps: usize },
    /// Seed-averaged excess loss after `steps` — **not** comparable with the one-step law (R9).
    FixedHorizon { steps: usize },
}

/// Result for one batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    pub batch: usize,
    /// Best learning rate (`None`: no lr reached the target).
    pub best_lr: Option<f64>,
    /// Index of the best lr in the grid.
    pub best_index: Option<usize>,
    /// Steps to target S (StepsToTarget) of the best lr.
    pub steps: Option<usize>,
    /// Final seed-averaged loss of the best lr (FixedHorizon) or the target level.
    pub loss: f64,
}

/// The sweep definition.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiStepSweep {
    pub optimizer: Optimizer,
    pub lrs: Vec<f64>,
    pub batches: Vec<usize>,
    pub seeds: usize,
    pub protocol: Protocol,
}

struct SeedState {
    w: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
    rng: StdRng,
    g: Vec<f64>,
    tmp: Vec<f64>,
    diverged: bool,
}

const BLOCK: usize = 16;

impl MultiStepSweep {
    fn validate(&self) -> Result<()> {
        if self.lrs.is_empty() || self.batches.is_empty() || self.seeds == 0 {
            return Err(LawError::InvalidArgument(
                "empty lr grid, batch list or seed count".into(),
            ));
        }
        if let Some(&lr) = self.lrs.iter().find(|&&l| !(l > 0.0 && l.is_finite())) {
            return Err(LawError::InvalidArgument(format!(
                "learning rates must be > 0, got {lr}"
            )));
        }
        if self.batches.contains(&0) {
            return Err(LawError::NonPositiveBatch(0.0));
        }
        Ok(())
    }

    fn step(&self, model: &LinearRegression, s: &mut SeedState, b: usize, lr: f64) {
        model.batch_grad(&s.w, b, &mut s.rng, &mut s.g, &mut s.tmp);
        s.t += 1;
        for k in 0..s.w.len() {
            let g = s.g[k];
            let upd = match self.optimizer {
                Optimizer::Sgd => g,
                Optimizer::Sign => crate::rules::sign0(g),
                Optimizer::SoftSign(e) => crate::rules::softsign(g, e),
                Optimizer::AdamDiv(e) => crate::rules::adam_div(g, e),
                Optimizer::Adam { beta1, beta2, eps } => {
                    s.m[k] = beta1 * s.m[k] + (1.0 - beta1) * g;
                    s.v[k] = beta2 * s.v[k] + (1.0 - beta2) * g * g;
                    let mh = s.m[k] / (1.0 - beta1.powi(s.t));
                    let vh = s.v[k] / (1.0 - beta2.powi(s.t));
                    mh / (vh.sqrt() + eps)
                }
            };
            s.w[k] -= lr * upd;
        }
    }

    /// Runs `max_steps` (at most) steps of every seed at `(b, lr)`; returns the first step count
    /// at which the seed-averaged loss is < `target` (StepsToTarget) and the averaged loss then.
    fn run_one(
        &self,
        model: &LinearRegression,
        w0: &[f64],
        b: usize,
        lr: f64,
        max_steps: usize,
        target: Option<f64>,
    ) -> (Option<usize>, f64) {
        let d = model.dim();
        let init = model.excess_loss(w0);
        let mut states: Vec<SeedState> = (0..self.seeds)
            .map(|s| SeedState {
                w: w0.to_vec(),
                m: vec![0.0; d],
                v: vec![0.0; d],
                t: 0,
                rng: StdRng::seed_from_u64((s as u64) << 32 ^ b as u64 ^ 0xA5A5_0000),
                g: vec![0.0; d],
                tmp: vec![0.0; d],
                diverged: false,
            })
            .collect();
        let mut done = 0;
        let mut last = init;
        while done < max_steps {
            let n = BLOCK.min(max_steps - done);
            let traces: Vec<Vec<f64>> = states
                .par_iter_mut()
                .map(|s| {
                    (0..n)
                        .map(|_| {
                            if !s.diverged {
                                self.step(model, s, b, lr);
                                let l = model.excess_loss(&s.w);
                                if !(l.is_finite() && l < 1e12 * init) {
                                    s.diverged = true;
                                }
                            }
                            if s.diverged {
                                f64::INFINITY
                            } else {
                                model.excess_loss(&s.w)
                            }
                        })
                        .collect()
                })
                .collect();
            for i in 0..n {
                let avg = traces.iter().map(|t| t[i]).sum::<f64>() / self.seeds as f64;
                last = avg;
                if let Some(tg) = target
                    && avg < tg
                {
                    return (Some(done + i + 1), avg);
                }
            }
            done += n;
            if states.iter().any(|s| s.diverged) {
                return (None, f64::INFINITY);
            }
        }
        (None, last)
    }

    /// Runs the sweep from `w0`; `tick` is called once per (B, lr) evaluated (progress bars).
    pub fn run(
        &self,
        model: &LinearRegression,
        w0: &[f64],
        tick: &(dyn Fn() + Sync),
    ) -> Result<Vec<SweepPoint>> {
        self.validate()?;
        if w0.len() != model.dim() {
            return Err(LawError::LengthMismatch {
                what: "w0",
                expected: model.dim(),
                got: w0.len(),
            });
        }
        let init = model.excess_loss(w0);
        let mut out = Vec::with_capacity(self.batches.len());
        let mut start = self.lrs.len() / 2;
        for &b in &self.batches {
            // Try the previous batch size's best lr first (a small cap early), then the rest from
            // the largest down; every later run is capped at the best S so far.
            let mut order: Vec<usize> = (0..self.lrs.len()).filter(|&i| i != start).collect();
            order.sort_by(|&i, &j| self.lrs[j].total_cmp(&self.lrs[i]));
            order.insert(0, start);
            let mut best: Option<(usize, usize, f64)> = None;
            let better = |i: usize, s: usize, best: Option<(usize, usize, f64)>| {
                best.is_none_or(|(bi, bs, _)| s < bs || (s == bs && self.lrs[i] < self.lrs[bi]))
            };
            for &i in &order {
                let lr = self.lrs[i];
                match self.protocol {
                    Protocol::StepsToTarget {
                        fraction,
                        max_steps,
                    } => {
                        let cap = best.map_or(max_steps, |(_, s, _)| s);
                        if let (Some(s), l) =
                            self.run_one(model, w0, b, lr, cap, Some(fraction * init))
                            && better(i, s, best)
                        {
                            best = Some((i, s, l));
                        }
                    }
                    Protocol::FixedHorizon { steps } => {
                        let (_, l) = self.run_one(model, w0, b, lr, steps, None);
                        if l.is_finite()
                            && best
                                .is_none_or(|(bi, _, bl)| l < bl || (l == bl && lr < self.lrs[bi]))
                        {
                            best = Some((i, steps, l));
                        }
                    }
                }
                tick();
            }
            if let Some((i, _, _)) = best {
                start = i;
            }
            out.push(SweepPoint {
                batch: b,
                best_lr: best.map(|(i, _, _)| self.lrs[i]),
                best_index: best.map(|(i, _, _)| i),
                steps: best.map(|(_, s, _)| s),
                loss: best.map_or(f64::NAN, |(_, _, l)| l),
            });
        }
        Ok(out)
    }
}

/// The steps/examples pairs `(S, E = B·S)` of a StepsToTarget sweep (for [`crate::fit_steps_examples`]).
pub fn steps_examples(points: &[SweepPoint]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| p.steps.map(|s| (s as f64, (s * p.batch) as f64)))
        .collect()
}
