//! Executes one micro-step: routes each parameter to the CPU (f32 or f64) or CUDA kernels and
//! keeps the counters. Every input was checked by the caller; this only runs kernels.

use crate::config::{DecayMode, Guard, LionConfig, ParamKind, TigerConfig};
use crate::cpu::adamw::{AdamJob, AdamScalars, adamw_step};
use crate::cpu::lion::{LionJob, LionScalars, lion_step, lion_step_bf16};
use crate::cpu::tiger::{
    RowJob, RowScalars, TigerJob, TigerScalars, TigerWork, shrink, tiger_fused,
};
use crate::cpu::{BadValues, accumulate, bad_flags, tensor_sum_sq};
use crate::optimizer::{Algorithm, Moment, Slot};
use crate::{Error, Result};
use kernels::{DType, Float, Storage, Tensor};

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

pub(crate) fn micro_step(algo: &Algorithm, slots: &mut [Slot], work: Work<'_>) -> Result<()> {
    let mut f32s = Vec::new();
    let mut f64s = Vec::new();
    let mut gpu = Vec::new();
    for (s, w) in slots.iter_mut().zip(work) {
        let Some((th, g)) = w else { continue };
        match (th.storage_mut(), g.storage()) {
            (Storage::F32(t), Storage::F32(g)) => f32s.push((s, t.as_mut_slice(), g.as_slice())),
            (Storage::F64(t), Storage::F64(g)) => f64s.push((s, t.as_mut_slice(), g.as_slice())),
            (Storage::Cuda(t), Storage::Cuda(g)) => gpu.push((s, t, g)),
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
        #[cfg(not(feature = "cuda"))]
        match *gpu[0].1 {}
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

fn as_f32<F: Float>(x: &mut [F]) -> &mut [f32] {
    assert_eq!(
        F::DTYPE,
        DType::F32,
        "bf16 momentum with non-f32 parameters"
    );
    // SAFETY: F is f32 (checked above), so the slice is a slice of f32.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) }
}

fn as_f32_ref<F: Float>(x: &[F]) -> &[f32] {
    assert_eq!(
        F::DTYPE,
        DType::F32,
        "bf16 momentum with non-f32 parameters"
    );
    // SAFETY: F is f32 (checked above).
    unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) }
}

fn run_cpu<F: Float>(algo: &Algorithm, items: Vec<(&mut Slot, &mut [F], &[F])>) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    match algo {
        Algorithm::Lion(c) => {
            let mut jobs = Vec::new();
            for (s, th, g) in items {
                let (first, update) = phase(s.t, c.grad_accum_steps);
                s.t += 1;
                let Slot {
                    m,
                    acc,
                    shape,
                    updates,
                    lr_mult,
                    decay,
                    ..
                } = s;
                let g = accumulated(acc, shape, g, c.grad_accum_steps, first)?;
                if !update {
                    continue;
                }
                *updates += 1;
                let eta = c.lr * *lr_mult;
                let d = lion_decay_mul(c, eta, c.weight_decay * *decay);
                let gs = 1.0 / c.grad_accum_steps as f64;
                match m {
                    Moment::Bf16(mb) => {
                        let sc = LionScalars::<f32>::new(eta, d, c.beta1, c.beta2, gs);
                        lion_step_bf16(as_f32(th), mb, as_f32_ref(g), sc);
                    }
                    Moment::Full(_) => jobs.push(LionJob {
                        theta: th,
                        m: full::<F>(m)?,
                        g,
                        s: LionScalars::new(eta, d, c.beta1, c.beta2, gs),
                    }),
                }
            }
            lion_step(jobs);
        }
        Algorithm::AdamW(c) => {
            let mut jobs = Vec::new();
            for (s, th, g) in items {
                let (first, update) = phase(s.t, c.grad_accum_steps);
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
                let g = accumulated(acc, shape, g, c.grad_accum_steps, first)?;
                if !update {
                    continue;
                }
                *updates += 1;
                let lr = c.lr * *lr_mult;
                let wd = c.weight_decay * *decay;
                let gs = 1.0 / c.grad_accum_steps as f64;
                let sc = AdamScalars::new(lr, c.beta1, c.beta2, c.eps, wd, *updates, gs);
                let v = v
                    .as_mut()
                    .expect("AdamW slots have v")
                    .as_slice_mut::<F>()?;
                jobs.push(AdamJob {
                    theta: th,
                    m: full::<F>(m)?,
                    v,
                    g,
                    s: sc,
                });
            }
            adamw_step(jobs);
        }
        Algorithm::Tiger(c) => run_tiger(c, items)?,
    }
    Ok(())
}

/// Gradient bytes per guard window: the window's gradients are tested for bad values in one
/// parallel read, then the window's clean tensors are updated while those gradient lines are
/// still in the last-level cache, so the guard costs no second DRAM read of g (except for a
/// single tensor larger than the window, which forms a window of its own).
const GUARD_WINDOW_BYTES: usize = 8 << 20;

/// A Tiger tensor after its counters moved: (slot, θ, g, first, update, micro-step t).
type Prepared<'a, F> = (&'a mut Slot, &'a mut [F], &'a [F], bool, bool, u64);

fn run_tiger<F: Float>(c: &TigerConfig, items: Vec<(&mut Slot, &mut [F], &[F])>) -> Result<()> {
    let mut prepared = Vec::with_capacity(items.len());
    for (s, th, g) in items {
        let (first, update) = phase(s.t, c.grad_accum_steps);
        let t = s.t;
        s.t += 1;
        if first {
            s.decayed = false;
            s.touched.iter_mut().for_each(|x| *x = false);
        }
        prepared.push((s, th, g, first, update, t));
    }
    let guard = guard_values(c.guard);
    let window = if guard.is_some() {
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

/// Guard test, then one fused update launch, for a window of tensors.
fn tiger_window<F: Float>(
    c: &TigerConfig,
    guard: Option<BadValues>,
    win: Vec<Prepared<'_, F>>,
) -> Result<()> {
    let bad = match guard {
        Some(b) => bad_flags(&win.iter().map(|p| p.2).collect::<Vec<_>>(), b),
        None => vec![false; win.len()],
    };
    let mut jobs = Vec::new();
    let mut caches = Vec::new();
    for ((s, th, g, first, update, t), bad) in win.into_iter().zip(bad) {
        if bad {
            s.guard_events += 1;
            shrink(th, s.centre, c.shrink_ratio);
            s.sum_sq = None;
            continue;
        }
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
        let inc = (1.0 - c.beta) / c.grad_accum_steps as f64;
        let alpha = c.alpha * c.schedule.at(t) * s.lr_mult;
        let lambda = c.weight_decay * s.decay;
        if s.kind == ParamKind::Embedding {
            let d = s.shape[1];
            let lazy = c.lazy_embedding_rows;
            if lazy && s.touched.len() != s.shape[0] {
                s.touched = vec![false; s.shape[0]];
            }
            let rs = RowScalars {
                beta: c.beta,
                inc,
                group_start: first,
                dense_b1: b1,
                update,
                alpha,
                lambda,
                rms_floor: c.rms_floor,
            };
            let Slot { m, touched, .. } = s;
            let touched = if lazy { Some(&mut touched[..]) } else { None };
            jobs.push(TigerWork::Rows(RowJob {
                theta: th,
                m: full::<F>(m)?,
                g,
                d,
                s: rs,
                touched,
            }));
            caches.push((false, None));
            continue;
        }
        let matrix = s.kind == ParamKind::Matrix;
        let eta = if matrix && update {
            let ss = match s.sum_sq {
                Some(v) => v,
                None => tensor_sum_sq(th),
            };
            alpha * (ss / th.len().max(1) as f64).sqrt().max(c.rms_floor)
        } else {
            alpha
        };
        let Slot { m, sum_sq, .. } = s;
        jobs.push(TigerWork::Dense(TigerJob {
            theta: th,
            m: full::<F>(m)?,
            g,
            s: TigerScalars {
                b1: F::from_f64(b1),
                inc: F::from_f64(inc),
                eta: F::from_f64(eta),
                decay_mul: F::from_f64(1.0 - eta * lambda),
                update,
            },
            want_sum_sq: matrix,
        }));
        caches.push((matrix && update, Some(sum_sq)));
    }
    let sums = tiger_fused(jobs);
    for ((set, cache), v) in caches.into_iter().zip(sums) {
        if let (true, Some(cache)) = (set, cache) {
            *cache = Some(v);
        }
    }
    Ok(())
}
