//! Plain f64 loops written straight from the papers' formulas: the definition the fused CPU
//! and CUDA kernels are tested against. They use the sources' own form of each update
//! (θ − η·(sign(c) + λθ)), not the kernels' rearrangement, so a test against them also checks
//! the algebra.

use crate::config::{Guard, ParamKind, TigerConfig};

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        // sign(0) = 0; sign(NaN) = NaN (torch/jax semantics).
        x * 0.0
    }
}

/// One Lion step (paper Algorithm 2) with decoupled decay coefficient `decay` = η·λ (or the
/// decay mode's product): c = β1·m + (1−β1)·g; θ = θ − η·sign(c) − decay·θ; m = β2·m + (1−β2)·g.
#[allow(clippy::too_many_arguments)]
pub fn lion_step_ref(
    theta: &mut [f64],
    m: &mut [f64],
    g: &[f64],
    lr: f64,
    beta1: f64,
    beta2: f64,
    decay: f64,
) {
    for i in 0..theta.len() {
        let c = beta1 * m[i] + (1.0 - beta1) * g[i];
        theta[i] = theta[i] - lr * sign(c) - decay * theta[i];
        m[i] = beta2 * m[i] + (1.0 - beta2) * g[i];
    }
}

/// One AdamW step at 1-based step `t` (torch.optim.AdamW's order: decay first).
#[allow(clippy::too_many_arguments)]
pub fn adamw_step_ref(
    theta: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    g: &[f64],
    t: u64,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
) {
    let bc1 = 1.0 - beta1.powi(t as i32);
    let bc2 = 1.0 - beta2.powi(t as i32);
    for i in 0..theta.len() {
        theta[i] *= 1.0 - lr * weight_decay;
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i];
        theta[i] -= lr / bc1 * m[i] / ((v[i] / bc2).sqrt() + eps);
    }
}

/// The state the Tiger reference keeps for one tensor besides m.
#[derive(Clone, Debug, Default)]
pub struct TigerRefState {
    /// Micro-step counter t (0-based count of micro-steps done).
    pub t: u64,
    /// Guard events so far.
    pub guard_events: u64,
    /// Whether the β decay of the current group has been applied (non-reference mode, and per
    /// row for lazy embeddings).
    pub decayed: bool,
    /// Lazy embedding rows touched in the current group.
    pub touched: Vec<bool>,
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// One Tiger micro-step for one tensor with every rule of the reference (spec §3): kind-aware
/// η and λ, the guard, k-step accumulation inside m, the schedule at micro-step t, lazy rows.
/// `row_len` is the row length d of an Embedding [V, d] (ignored otherwise). Returns whether
/// the guard tripped.
pub fn tiger_micro_step_ref(
    cfg: &TigerConfig,
    kind: ParamKind,
    row_len: usize,
    st: &mut TigerRefState,
    theta: &mut [f64],
    m: &mut [f64],
    g: &[f64],
) -> bool {
    let k = cfg.grad_accum_steps as u64;
    let t = st.t;
    st.t += 1;
    let (lr_mult, decay_mult, centre) = kind.factors();
    let first = t.is_multiple_of(k);
    let update = (t + 1).is_multiple_of(k);
    if first {
        st.decayed = false;
        st.touched.iter_mut().for_each(|x| *x = false);
    }
    let bad = match cfg.guard {
        Guard::NonFinite => g.iter().any(|x| !x.is_finite()),
        Guard::NanOnly => g.iter().any(|x| x.is_nan()),
        Guard::Off => false,
    };
    if bad {
        st.guard_events += 1;
        for th in theta.iter_mut() {
            *th = (*th - centre) * cfg.shrink_ratio + centre;
        }
        return true;
    }
    let beta = cfg.beta;
    let inc = (1.0 - beta) / k as f64;
    let lazy = cfg.lazy_embedding_rows && kind == ParamKind::Embedding;
    let d = if kind == ParamKind::Embedding {
        row_len.max(1)
    } else {
        theta.len().max(1)
    };
    let rows = theta.len() / d;
    if lazy && st.touched.len() != rows {
        st.touched = vec![false; rows];
    }
    // Momentum.
    if lazy {
        for r in 0..rows {
            let gr = &g[r * d..(r + 1) * d];
            if gr.iter().all(|&x| x == 0.0) {
                continue;
            }
            let b1 = if st.touched[r] { 1.0 } else { beta };
            st.touched[r] = true;
            for i in r * d..(r + 1) * d {
                m[i] = b1 * m[i] + inc * g[i];
            }
        }
    } else {
        let b1 = if cfg.reference_mode {
            if first { beta } else { 1.0 }
        } else if st.decayed {
            1.0
        } else {
            beta
        };
        st.decayed = true;
        for i in 0..m.len() {
            m[i] = b1 * m[i] + inc * g[i];
        }
    }
    if !update {
        return false;
    }
    let alpha = cfg.alpha * cfg.schedule.at(t) * lr_mult;
    let lam = cfg.weight_decay * decay_mult;
    let whole = rms(theta).max(cfg.rms_floor);
    for r in 0..theta.len() / d {
        let row = r * d..(r + 1) * d;
        if lazy && !st.touched[r] {
            continue;
        }
        let eta = match kind {
            ParamKind::Matrix => alpha * whole,
            ParamKind::Embedding => alpha * rms(&theta[row.clone()]).max(cfg.rms_floor),
            _ => alpha,
        };
        for i in row {
            theta[i] -= eta * (sign(m[i]) + lam * theta[i]);
        }
    }
    false
}
