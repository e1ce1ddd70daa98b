//! In-process simulation of data-parallel Lion/Tiger (spec §6) with exact bit accounting. No
//! networking: N workers are N buffers, and every byte a real collective would move is counted.
//!
//! - [`allreduce_mean`]: ring all-reduce of f64 buffers; each worker sends 2(N−1)/N·d values.
//! - [`TigerDataParallel`]: Tiger (uniform lr, k micro-steps) where each worker folds its own
//!   micro-gradients into its own m and the N momenta are all-reduced (mean) once, at the
//!   update micro-step. Equals one worker on the N·k-sample mean gradient.
//! - [`DistributedLion`]: Liu et al. 2024. Each worker keeps its own m_i and sends
//!   δ_i = sign(β1·m_i + (1−β1)·g_i) (1 bit per parameter); the server returns
//!   Δ = sign(Σδ_i) (majority vote, 1 bit) or Δ = (1/N)Σδ_i (average, ⌈log2(N+1)⌉ bits); every
//!   worker applies θ ← θ − η(Δ + λθ). Ties (even N) give Δ = 0. An exact zero δ (c = 0) is
//!   counted in `zero_signs`: a real 1-bit encoding has to send it as ±1.

use crate::TigerConfig;
use crate::reference::lion_step_ref;

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Bits moved, summed over all workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    /// Worker → server (or sent by each worker in a ring).
    pub up: u64,
    /// Server → worker (or received by each worker in a ring; equal to `up` there).
    pub down: u64,
    /// Exact-zero signs met by Distributed Lion (see the module docs).
    pub zero_signs: u64,
}

/// Replaces every buffer by the element-wise mean of all of them (fixed summation order), and
/// counts a ring all-reduce's traffic in f64: 2(N−1)/N·d values sent and received per worker.
pub fn allreduce_mean(bufs: &mut [Vec<f64>], bits: &mut Bits) {
    let n = bufs.len();
    if n == 0 {
        return;
    }
    let d = bufs[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|i| bufs.iter().map(|b| b[i]).sum::<f64>() / n as f64)
        .collect();
    for b in bufs.iter_mut() {
        b.copy_from_slice(&mean);
    }
    let per_worker = (2 * (n as u64 - 1) * d as u64 * 64).div_ceil(n as u64);
    bits.up += per_worker * n as u64;
    bits.down += per_worker * n as u64;
}

/// Tiger with k micro-steps over N workers, one momentum all-reduce per update.
pub struct TigerDataParallel {
    pub cfg: TigerConfig,
    /// θ, replicated (identical on every worker).
    pub theta: Vec<f64>,
    /// Each worker's momentum.
    pub m: Vec<Vec<f64>>,
    /// Micro-steps done.
    pub t: u64,
    pub bits: Bits,
}

impl TigerDataParallel {
    pub fn new(cfg: TigerConfig, theta: Vec<f64>, workers: usize) -> Self {
        let m = vec![vec![0.0; theta.len()]; workers];
        TigerDataParallel {
            cfg,
            theta,
            m,
            t: 0,
            bits: Bits::default(),
        }
    }

    /// One micro-step; `grads[w]` is worker w's micro-batch mean gradient. Uniform lr α·s(t),
    /// decay λ (the plain Tiger rule).
    pub fn micro_step(&mut self, grads: &[Vec<f64>]) {
        let k = self.cfg.grad_accum_steps as u64;
        let (first, update) = (self.t.is_multiple_of(k), (self.t + 1).is_multiple_of(k));
        let b1 = if first { self.cfg.beta } else { 1.0 };
        let inc = (1.0 - self.cfg.beta) / k as f64;
        for (m, g) in self.m.iter_mut().zip(grads) {
            for (m, g) in m.iter_mut().zip(g) {
                *m = b1 * *m + inc * g;
            }
        }
        if update {
            allreduce_mean(&mut self.m, &mut self.bits);
            let eta = self.cfg.alpha * self.cfg.schedule.at(self.t);
            let d = 1.0 - eta * self.cfg.weight_decay;
            for (th, m) in self.theta.iter_mut().zip(&self.m[0]) {
                *th = *th * d - eta * sign(*m);
            }
        }
        self.t += 1;
    }
}

/// How the server combines the workers' signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    /// Δ = sign(Σδ_i): 1 bit down.
    Majority,
    /// Δ = (1/N)Σδ_i: ⌈log2(N+1)⌉ bits down.
    Average,
}

/// Distributed Lion over N simulated workers.
pub struct DistributedLion {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub vote: Vote,
    /// θ, replicated.
    pub theta: Vec<f64>,
    /// Each worker's own momentum (never synchronised).
    pub m: Vec<Vec<f64>>,
    pub bits: Bits,
}

impl DistributedLion {
    pub fn new(cfg: &crate::LionConfig, vote: Vote, theta: Vec<f64>, workers: usize) -> Self {
        let m = vec![vec![0.0; theta.len()]; workers];
        DistributedLion {
            lr: cfg.lr,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            weight_decay: cfg.weight_decay,
            vote,
            theta,
            m,
            bits: Bits::default(),
        }
    }

    /// One step with `grads[w]` = worker w's gradient.
    pub fn step(&mut self, grads: &[Vec<f64>]) {
        let n = self.m.len();
        let d = self.theta.len();
        let mut sum = vec![0.0f64; d];
        for (m, g) in self.m.iter_mut().zip(grads) {
            for i in 0..d {
                let delta = sign(self.beta1 * m[i] + (1.0 - self.beta1) * g[i]);
                self.bits.zero_signs += (delta == 0.0) as u64;
                sum[i] += delta;
                m[i] = self.beta2 * m[i] + (1.0 - self.beta2) * g[i];
            }
        }
        self.bits.up += (n * d) as u64;
        let down_bits = match self.vote {
            Vote::Majority => 1,
            Vote::Average => (usize::BITS - n.leading_zeros()) as u64, // ⌈log2(N+1)⌉
        };
        self.bits.down += n as u64 * d as u64 * down_bits;
        for (th, s) in self.theta.iter_mut().zip(&sum) {
            let delta = match self.vote {
                Vote::Majority => sign(*s),
                Vote::Average => s / n as f64,
            };
            *th -= self.lr * (delta + self.weight_decay * *th);
        }
    }
}

/// Single-worker Lion on the same slices (the equivalence target of property 12).
pub fn lion_single(cfg: &crate::LionConfig, theta: &mut [f64], m: &mut [f64], g: &[f64]) {
    lion_step_ref(
        theta,
        m,
        g,
        cfg.lr,
        cfg.beta1,
        cfg.beta2,
        cfg.lr * cfg.weight_decay,
    );
}
