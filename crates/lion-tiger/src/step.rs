//! Executes one micro-step: routes each parameter to the CPU (f32 or f64) or CUDA kernels and
//! keeps the counters. Every input was checked by the caller; this only runs kernels.

use crate::config::{DecayMode, Guard, LionConfig, ParamKind, TigerConfig};
use crate::cpu::adamw::{AdamJob, AdamScalars, adamw_step};
use crate::cpu::lion::{LionJob, LionScalars, lion_step, lion_step_bf16};
use crate::cpu::tiger::{
    RowJob, RowScalars, TigerJob, TigerScalars, TigerWork, shrink, tiger_fused,
};
use crate::cpu::{
    BadValues, CachedSumSq, ThetaStamp, accumulate, as_f32, as_f32_mut, bad_flags, cached_or,
    tensor_sum_sq,
};
use crate::optimizer::{Algorithm, Moment, Slot};
use crate::{Error, Result};
use kernels::{Float, Storage, Tensor};

pub(crate) type Work<'a> = Vec<Option<(&'a mut Tensor, &'a Tensor)>>;

/// The decay multiplier d on θ_{t-1} for Lion's modes (λ already masked/scaled per tensor).
pub(crate) fn lion_decay_mul(cfg: &LionConfig, eta: f64, lambda: f64) -> f64 {
    match cfg.decay_mode {
        DecayMode::Decoupled => 1.0 - eta * lambda,
        DecayMode::FullyDecoupled { lr_max } => 1.0 - eta / lr_max * lambda,
        DecayMode::Fixed => 1.0 - lambda,
    }
}

/// Where a micro-step is within its group of k: (first, update).
pub(crate) fn phase(t: u64, k: u32) -> (bool, bool) {
    let k = k as u64;
    (t.is_multiple_of(k), (t + 1).is_multiple_of(k))
}

pub(crate) fn guard_values(g: Guard) -> Option<BadValues> {
    match g {
        Guard::NonFinite => Some(BadValues::NonFinite),
        Guard::NanOnly => Some(BadValues::Nan),
        Guard::Off => None,
    }
}

pub(crate) fn micro_step(
    algo: &Algorithm,
    slots: &mut [Slot],
    work: Work<'_>,
    verdicts: Option<&[bool]>,
) -> Result<()> {
    let mut f32s = Vec::new();
    let mut f64s = Vec::new();
    let mut gpu = Vec::new();
    for (i, (s, w)) in slots.iter_mut().zip(work).enumerate() {
        let Some((th, g)) = w else { continue };
        let v = verdicts.map(|v| v[i]);
        match (th.storage_mut(), g.storage()) {
            (Storage::F32(t), Storage::F32(g)) => f32s.push((s, t.as_mut_slice(), g.as_slice(), v)),
            (Storage::F64(t), Storage::F64(g)) => f64s.push((s, t.as_mut_slice(), g.as_slice(), v)),
            (Storage::Cuda(t), Storage::Cuda(g)) => gpu.push((s, t, g, v)),
            _ => {
                return Err(Error::Kernel(kernels::Error::Unsupported {
                    op: "Optimizer::step",
                    reason: "parameter and gradient storage differ".into(),
                }));
            }
        }
    }
    run_cpu(algo, f32s)?;
    run_cpu(algo, f64s)?;
    if !gpu.is_empty() {
        #[cfg(feature = "cuda")]
        crate::cuda::run(algo, gpu)?;
        // kernels may have CUDA (another crate turned its `cuda` feature on) while this crate
        // was built without its own CUDA kernels.
        #[cfg(not(feature = "cuda"))]
        return Err(Error::Kernel(kernels::Error::Unsupported {
            op: "Optimizer::step",
            reason: "CUDA parameters need lion-tiger's `cuda` feature".into(),
        }));
    }
    Ok(())
}

fn full<F: Float>(m: &mut Moment) -> Result<&mut [F]> {
    match m {
        Moment::Full(t) => Ok(t.as_slice_mut::<F>()?),
        Moment::Bf16(_) => Err(Error::Kernel(kernels::Error::Unsupported {
            op: "Optimizer::step",
            reason: "bf16 momentum is for Lion only".into(),
        })),
    }
}

/// The gradient an update uses: g itself, or the accumulated sum (scaled by 1/k in-kernel).
fn accumulated<'a, F: Float>(
    acc: &'a mut Option<Tensor>,
    shape: &[usize],
    g: &'a [F],
    k: u32,
    first: bool,
) -> Result<&'a [F]> {
    if k == 1 {
        return Ok(g);
    }
    if acc.is_none() {
        *acc = Some(Tensor::zeros(shape, F::DTYPE, &kernels::Device::Cpu)?);
    }
    let a = acc.as_mut().expect("just set").as_slice_mut::<F>()?;
    accumulate(a, g, first);
    Ok(a)
}

/// One host tensor of a micro-step: (slot, θ, g, the caller's guard verdict if any).
type CpuItem<'a, F> = (&'a mut Slot, &'a mut [F], &'a [F], Option<bool>);

/// A Lion/AdamW tensor whose update is due this micro-step (counters already moved).
struct Due<'a, F> {
    m: &'a mut Moment,
    v: Option<&'a mut Tensor>,
    /// The gradient (or accumulated sum) the update reads; scale it by `grad_scale`.
    g: &'a [F],
    lr_mult: f64,
    decay: f64,
    /// Updates done, this one included.
    updates: u64,
}

/// Moves a Lion/AdamW tensor's counters and accumulates g under k-step accumulation; `None`
/// on a micro-step that does not update.
fn due<'a, F: Float>(s: &'a mut Slot, g: &'a [F], k: u32) -> Result<Option<Due<'a, F>>> {
    let (first, update) = phase(s.t, k);
    s.t += 1;
    let Slot {
        m,
        v,
        acc,
        shape,
        updates,
        lr_mult,
        decay,
        ..
    } = s;
    let g = accumulated(acc, shape, g, k, first)?;
    if !update {
        return Ok(None);
    }
    *updates += 1;
    Ok(Some(Due {
        m,
        v: v.as_mut(),
        g,
        lr_mult: *lr_mult,
        decay: *decay,
        updates: *updates,
    }))
}

fn run_cpu<F: Float>(algo: &Algorithm, items: Vec<CpuItem<'_, F>>) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    match algo {
        Algorithm::Lion(c) => {
            let gs = 1.0 / c.grad_accum_steps as f64;
            let mut jobs = Vec::new();
            for (s, th, g, _) in items {
                let Some(d) = due(s, g, c.grad_accum_steps)? else {
                    continue;
                };
                let eta = c.lr * d.lr_mult;
                let dm = lion_decay_mul(c, eta, c.weight_decay * d.decay);
                let sc = LionScalars::new(eta, dm, c.beta1, c.beta2, gs);
                match d.m {
                    Moment::Bf16(mb) => {
                        let (th, g) = (as_f32_mut(th), as_f32(d.g));
                        let (th, g) = th.zip(g).expect("bf16 momentum has f32 parameters");
                        lion_step_bf16(th, mb, g, LionScalars::new(eta, dm, c.beta1, c.beta2, gs));
                    }
                    m @ Moment::Full(_) => jobs.push(LionJob {
                        theta: th,
                        m: full::<F>(m)?,
                        g: d.g,
                        s: sc,
                    }),
                }
            }
            lion_step(jobs);
        }
        Algorithm::AdamW(c) => {
            let gs = 1.0 / c.grad_accum_steps as f64;
            let mut jobs = Vec::new();
            for (s, th, g, _) in items {
                let Some(d) = due(s, g, c.grad_accum_steps)? else {
                    continue;
                };
                let (lr, wd) = (c.lr * d.lr_mult, c.weight_decay * d.decay);
                let sc = AdamScalars::new(lr, c.beta1, c.beta2, c.eps, wd, d.updates, gs);
                let v = d.v.expect("AdamW slots have v").as_slice_mut::<F>()?;
                jobs.push(AdamJob {
                    theta: th,
                    m: full::<F>(d.m)?,
                    v,
                    g: d.g,
                    s: sc,
                });
            }
            adamw_step(jobs);
        }
        Algorithm::Tiger(c) => run_tiger(c, items)?,
    }
    Ok(())
}

/// Tiger's counters at the start of a micro-step; returns (first, update, micro-step t).
pub(crate) fn tiger_begin(s: &mut Slot, k: u32) -> (bool, bool, u64) {
    let (first, update) = phase(s.t, k);
    let t = s.t;
    s.t += 1;
    if first {
        s.decayed = false;
        s.touched.iter_mut().for_each(|x| *x = false);
    }
    (first, update, t)
}

/// A guard event on a tensor: counted, and its cached Σθ² dropped (θ is about to shrink).
pub(crate) fn tiger_guard_event(s: &mut Slot) {
    s.guard_events += 1;
    s.sum_sq = None;
    s.row_stamp = None;
}

/// The knobs of a clean (not guarded) Tiger micro-step of one tensor.
pub(crate) struct TigerKnobs {
    /// β when this group's decay is due, else 1.
    pub b1: f64,
    /// (1 − β)/k.
    pub inc: f64,
    /// α·schedule(t)·lr_mult (η before any RMS factor).
    pub alpha: f64,
    /// λ for this tensor.
    pub lambda: f64,
}

/// [`TigerKnobs`] of a clean micro-step; moves the tensor's decay flag and update counter.
pub(crate) fn tiger_knobs(
    c: &TigerConfig,
    s: &mut Slot,
    first: bool,
    update: bool,
    t: u64,
) -> TigerKnobs {
    let b1 = if c.reference_mode {
        if first { c.beta } else { 1.0 }
    } else if s.decayed {
        1.0
    } else {
        c.beta
    };
    s.decayed = true;
    if update {
        s.updates += 1;
    }
    TigerKnobs {
        b1,
        inc: (1.0 - c.beta) / c.grad_accum_steps as f64,
        alpha: c.alpha * c.schedule.at(t) * s.lr_mult,
        lambda: c.weight_decay * s.decay,
    }
}

/// η of a dense tensor of `n` elements: α·max(RMS(θ_{t-1}), floor) for a Matrix on an update
/// micro-step (Σθ² from `sum_sq`), α otherwise.
pub(crate) fn tiger_eta(
    c: &TigerConfig,
    matrix_update: bool,
    alpha: f64,
    n: usize,
    sum_sq: impl FnOnce() -> f64,
) -> f64 {
    if matrix_update {
        alpha * (sum_sq() / n.max(1) as f64).sqrt().max(c.rms_floor)
    } else {
        alpha
    }
}

/// Gradient bytes per guard window of the self-checking path: the window's gradients are
/// tested for bad values in one parallel read, then the window's clean tensors are updated
/// while those gradient lines are still in the last-level cache, so the test costs no second
/// DRAM read of g — except for a tensor larger than the window, which forms a window of its
/// own and whose g is read twice (24 B/param). Verdicts from the caller skip all of this.
const GUARD_WINDOW_BYTES: usize = 8 << 20;

/// A Tiger tensor after its counters moved: (slot, θ, g, verdict, first, update, t).
type Prepared<'a, F> = (
    &'a mut Slot,
    &'a mut [F],
    &'a [F],
    Option<bool>,
    bool,
    bool,
    u64,
);

fn run_tiger<F: Float>(c: &TigerConfig, items: Vec<CpuItem<'_, F>>) -> Result<()> {
    let mut prepared = Vec::with_capacity(items.len());
    for (s, th, g, v) in items {
        let (first, update, t) = tiger_begin(s, c.grad_accum_steps);
        prepared.push((s, th, g, v, first, update, t));
    }
    let guard = guard_values(c.guard);
    let self_check = guard.is_some() && prepared.iter().any(|p| p.3.is_none());
    let window = if self_check {
        GUARD_WINDOW_BYTES
    } else {
        usize::MAX
    };
    let mut rest = prepared.into_iter().peekable();
    while rest.peek().is_some() {
        let mut win = Vec::new();
        let mut bytes = 0usize;
        while let Some(p) = rest.peek() {
            let b = std::mem::size_of_val(p.2);
            if !win.is_empty() && bytes.saturating_add(b) > window {
                break;
            }
            bytes = bytes.saturating_add(b);
            win.extend(rest.next());
        }
        tiger_window(c, guard, win)?;
    }
    Ok(())
}

/// The guard's verdicts for a window: the caller's where given, else one parallel test read of
/// the remaining gradients (none with the guard off).
fn window_verdicts<F: Float>(guard: Option<BadValues>, win: &[Prepared<'_, F>]) -> Vec<bool> {
    let untested: Vec<&[F]> = win.iter().filter(|p| p.3.is_none()).map(|p| p.2).collect();
    let mut tested = match guard {
        Some(b) if !untested.is_empty() => bad_flags(&untested, b),
        _ => vec![false; untested.len()],
    }
    .into_iter();
    win.iter()
        .map(|p| p.3.unwrap_or_else(|| tested.next().unwrap_or(false)))
        .collect()
}

/// Which Σθ² cache a tensor refreshes after the fused launch.
enum Keep {
    Nothing,
    /// A Matrix: its whole-tensor Σθ², the launch's result of this job index.
    Dense(usize),
    /// An embedding: its per-row Σθ² (written by the launch).
    Rows,
}

/// Guard verdicts, then one fused update launch, for a window of tensors; afterwards each
/// Matrix keeps Σθ² of its new θ with the θ's stamp.
fn tiger_window<F: Float>(
    c: &TigerConfig,
    guard: Option<BadValues>,
    mut win: Vec<Prepared<'_, F>>,
) -> Result<()> {
    let bad = window_verdicts(guard, &win);
    let mut jobs = Vec::new();
    let mut keeps = Vec::new();
    for ((s, th, g, _, first, update, t), &bad) in win.iter_mut().zip(&bad) {
        let (first, update, t) = (*first, *update, *t);
        if bad {
            tiger_guard_event(s);
            shrink(th, s.centre, c.shrink_ratio);
            keeps.push(Keep::Nothing);
            continue;
        }
        let k = tiger_knobs(c, s, first, update, t);
        if s.kind == ParamKind::Embedding {
            let lazy = c.lazy_embedding_rows;
            if lazy && s.touched.len() != s.shape[0] {
                s.touched = vec![false; s.shape[0]];
            }
            let rs = RowScalars {
                beta: c.beta,
                inc: k.inc,
                group_start: first,
                dense_b1: k.b1,
                update,
                alpha: k.alpha,
                lambda: k.lambda,
                rms_floor: c.rms_floor,
            };
            let (rows, d) = (s.shape[0], s.shape[1]);
            let valid = s.row_stamp == Some(ThetaStamp::of(th)) && s.row_sum_sq.len() == rows;
            if s.row_sum_sq.len() != rows {
                s.row_sum_sq = vec![0.0; rows];
            }
            let Slot {
                m,
                touched,
                row_sum_sq,
                ..
            } = &mut **s;
            jobs.push(TigerWork::Rows(RowJob {
                theta: th,
                m: full::<F>(m)?,
                g,
                d,
                s: rs,
                touched: if lazy { Some(&mut touched[..]) } else { None },
                row_ss: &mut row_sum_sq[..],
                row_ss_valid: valid,
            }));
            keeps.push(if update { Keep::Rows } else { Keep::Nothing });
            continue;
        }
        let matrix_update = s.kind == ParamKind::Matrix && update;
        let cache = s.sum_sq;
        let eta = tiger_eta(c, matrix_update, k.alpha, th.len(), || {
            cached_or(cache, ThetaStamp::of(th), || tensor_sum_sq(th))
        });
        jobs.push(TigerWork::Dense(TigerJob {
            theta: th,
            m: full::<F>(&mut s.m)?,
            g,
            s: TigerScalars {
                b1: F::from_f64(k.b1),
                inc: F::from_f64(k.inc),
                eta: F::from_f64(eta),
                decay_mul: F::from_f64(1.0 - eta * k.lambda),
                update,
            },
            want_sum_sq: matrix_update,
        }));
        keeps.push(if matrix_update {
            Keep::Dense(jobs.len() - 1)
        } else {
            Keep::Nothing
        });
    }
    let sums = tiger_fused(jobs);
    for ((s, th, ..), keep) in win.iter_mut().zip(keeps) {
        match keep {
            Keep::Dense(j) => {
                s.sum_sq = Some(CachedSumSq {
                    value: sums[j],
                    stamp: ThetaStamp::of(th),
                })
            }
            // Every row's Σθ² is current after an update micro-step.
            Keep::Rows => s.row_stamp = Some(ThetaStamp::of(th)),
            Keep::Nothing => {}
        }
    }
    Ok(())
}
