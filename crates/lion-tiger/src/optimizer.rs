//! The optimizer: per-tensor state keyed by parameter name, the `step` over a model, and the
//! [`GradSink`] that folds each gradient into the state as soon as backward produces it.

use crate::config::{AdamWConfig, LionConfig, ParamKind, TigerConfig};
use crate::groups::{GroupRule, resolve};
use crate::{Error, Result};
use half::bf16;
use kernels::{DType, Tensor};
use nn::{GradSink, Module, Param, Prefix};
use std::collections::HashMap;

/// Which update rule an [`Optimizer`] runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Algorithm {
    Lion(LionConfig),
    Tiger(TigerConfig),
    AdamW(AdamWConfig),
}

impl Algorithm {
    /// "lion", "tiger" or "adamw" (stored in checkpoints).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Lion(_) => "lion",
            Algorithm::Tiger(_) => "tiger",
            Algorithm::AdamW(_) => "adamw",
        }
    }

    /// Micro-steps per update.
    pub fn grad_accum_steps(&self) -> u32 {
        match self {
            Algorithm::Lion(c) => c.grad_accum_steps,
            Algorithm::Tiger(c) => c.grad_accum_steps,
            Algorithm::AdamW(c) => c.grad_accum_steps,
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            Algorithm::Lion(c) => c.validate(),
            Algorithm::Tiger(c) => c.validate(),
            Algorithm::AdamW(c) => c.validate(),
        }
    }
}

/// The momentum of one tensor: same dtype and device as θ, or bf16 (Lion, CPU).
pub(crate) enum Moment {
    Full(Tensor),
    Bf16(Vec<bf16>),
}

/// Everything the optimizer keeps for one parameter tensor.
pub(crate) struct Slot {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub kind: ParamKind,
    pub lr_mult: f64,
    pub decay: f64,
    pub centre: f64,
    pub m: Moment,
    /// AdamW's second moment.
    pub v: Option<Tensor>,
    /// Lion/AdamW gradient sum under k-step accumulation (allocated at the first micro-step).
    pub acc: Option<Tensor>,
    /// Micro-steps done.
    pub t: u64,
    /// Parameter updates done.
    pub updates: u64,
    /// Tiger guard events.
    pub guard_events: u64,
    /// Tiger: Σθ² of the current θ, left by the last fused update, with the stamp of that θ
    /// (None, or a stamp θ no longer carries: recompute).
    pub sum_sq: Option<crate::cpu::CachedSumSq>,
    /// Tiger embeddings: Σθ² per row of the current θ (8 B/row), valid while θ carries
    /// `row_stamp`.
    pub row_sum_sq: Vec<f64>,
    pub row_stamp: Option<crate::cpu::ThetaStamp>,
    /// Tiger non-reference mode: whether this group's β decay was applied.
    pub decayed: bool,
    /// Tiger lazy embedding rows touched in the current group.
    pub touched: Vec<bool>,
}

/// Lion, Tiger or AdamW over the named parameters of one model.
///
/// Two ways to feed it gradients, both counting one call per parameter as one micro-step:
/// - [`Optimizer::step`] reads each parameter's `grad` (filled by the [`nn::Accumulate`] sink);
/// - as a [`GradSink`] handed to backward, it folds each gradient into the state at once and
///   drops it (gradient release: no gradient buffer persists).
pub struct Optimizer {
    pub(crate) algo: Algorithm,
    pub(crate) slots: Vec<Slot>,
    pub(crate) index: HashMap<String, usize>,
}

impl Optimizer {
    /// Lion over every parameter of `model`, default groups (no decay on biases and gains).
    pub fn lion(cfg: LionConfig, model: &dyn Module) -> Result<Self> {
        Self::new(Algorithm::Lion(cfg), model, &[])
    }

    /// Tiger over every parameter of `model`, kinds from the parameters' roles.
    pub fn tiger(cfg: TigerConfig, model: &dyn Module) -> Result<Self> {
        Self::new(Algorithm::Tiger(cfg), model, &[])
    }

    /// AdamW over every parameter of `model`, default groups (no decay on biases and gains).
    pub fn adamw(cfg: AdamWConfig, model: &dyn Module) -> Result<Self> {
        Self::new(Algorithm::AdamW(cfg), model, &[])
    }

    /// Any algorithm with group rules applied in order (later rules win).
    pub fn new(algo: Algorithm, model: &dyn Module, rules: &[GroupRule]) -> Result<Self> {
        algo.validate()?;
        let tiger = matches!(algo, Algorithm::Tiger(_));
        let bf16_m = matches!(&algo, Algorithm::Lion(c) if c.bf16_momentum);
        let mut slots = Vec::new();
        let mut index = HashMap::new();
        let mut err = None;
        model.visit(&Prefix::root(), &mut |name, p: &Param| {
            if err.is_some() {
                return;
            }
            let r = resolve(rules, name, p.role, p.value.shape(), tiger);
            match new_slot(name, p, r, bf16_m, matches!(algo, Algorithm::AdamW(_))) {
                Ok(s) => {
                    if index.insert(name.to_string(), slots.len()).is_some() {
                        err = Some(Error::ModelMismatch {
                            op: "Optimizer::new",
                            reason: format!("parameter name {name:?} appears twice"),
                        });
                    }
                    slots.push(s);
                }
                Err(e) => err = Some(e),
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        Ok(Optimizer { algo, slots, index })
    }

    /// The algorithm and its hyperparameters.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algo
    }

    /// Changes the hyperparameters (e.g. a schedule set by the caller) keeping all state; the
    /// algorithm and `grad_accum_steps` must stay the same.
    pub fn set_algorithm(&mut self, algo: Algorithm) -> Result<()> {
        algo.validate()?;
        if algo.name() != self.algo.name()
            || algo.grad_accum_steps() != self.algo.grad_accum_steps()
        {
            return Err(Error::ModelMismatch {
                op: "Optimizer::set_algorithm",
                reason: "the algorithm and grad_accum_steps cannot change mid-run".into(),
            });
        }
        self.algo = algo;
        Ok(())
    }

    /// Names of the parameters, in model order.
    pub fn param_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// The Tiger kind a parameter resolved to.
    pub fn kind_of(&self, name: &str) -> Option<ParamKind> {
        self.index.get(name).map(|&i| self.slots[i].kind)
    }

    /// The effective weight-decay multiplier of a parameter (0 when masked).
    pub fn decay_of(&self, name: &str) -> Option<f64> {
        self.index.get(name).map(|&i| self.slots[i].decay)
    }

    /// Micro-steps a parameter has received.
    pub fn micro_steps(&self, name: &str) -> Option<u64> {
        self.index.get(name).map(|&i| self.slots[i].t)
    }

    /// Tiger guard events per parameter (name, count), in model order.
    pub fn guard_events(&self) -> Vec<(&str, u64)> {
        self.slots
            .iter()
            .map(|s| (s.name.as_str(), s.guard_events))
            .collect()
    }

    /// The momentum of a parameter, as f64 (host copy).
    pub fn momentum(&self, name: &str) -> Result<Vec<f64>> {
        let s = self.slot(name, "Optimizer::momentum")?;
        Ok(match &s.m {
            Moment::Bf16(v) => v.iter().map(|x| x.to_f64()).collect(),
            Moment::Full(t) => match t.dtype() {
                DType::F32 => t.to_vec::<f32>()?.iter().map(|&x| x as f64).collect(),
                DType::F64 => t.to_vec::<f64>()?,
            },
        })
    }

    /// Forgets the cached Σθ² (Tiger's RMS(θ) for the next step). Replacing, reloading,
    /// re-initialising or rescaling a parameter is detected without this call (see
    /// [`crate::cpu::ThetaStamp`]); call it after a sparse in-place edit of parameter values.
    pub fn invalidate_rms_cache(&mut self) {
        self.slots.iter_mut().for_each(|s| {
            s.sum_sq = None;
            s.row_stamp = None;
        });
    }

    /// Bytes of optimizer state held now (momentum, second moment, accumulation buffers).
    pub fn state_bytes(&self) -> usize {
        let t = |x: &Tensor| x.numel() * x.dtype().size();
        self.slots
            .iter()
            .map(|s| {
                (match &s.m {
                    Moment::Full(m) => t(m),
                    Moment::Bf16(v) => v.len() * 2,
                }) + s.v.as_ref().map_or(0, t)
                    + s.acc.as_ref().map_or(0, t)
                    + s.touched.len()
                    + s.row_sum_sq.len() * 8
            })
            .sum()
    }

    pub(crate) fn slot(&self, name: &str, op: &'static str) -> Result<&Slot> {
        self.index
            .get(name)
            .map(|&i| &self.slots[i])
            .ok_or_else(|| Error::UnknownParam {
                op,
                name: name.to_string(),
            })
    }

    /// One micro-step for every parameter of `model`, reading `param.grad`. Every name, shape,
    /// dtype and device is checked first; on error nothing is updated.
    pub fn step(&mut self, model: &mut dyn Module) -> Result<()> {
        self.step_inner(model, None)
    }

    pub(crate) fn step_inner(
        &mut self,
        model: &mut dyn Module,
        verdicts: Option<&[bool]>,
    ) -> Result<()> {
        let mut ptrs: Vec<(String, *mut Param)> = Vec::new();
        model.visit_mut(&Prefix::root(), &mut |n, p| {
            ptrs.push((n.to_string(), p as *mut Param))
        });
        let mut sorted: Vec<usize> = ptrs.iter().map(|p| p.1 as usize).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::ModelMismatch {
                op: "Optimizer::step",
                reason: "the model visits one parameter twice".into(),
            });
        }
        if ptrs.len() != self.slots.len() {
            return Err(Error::ModelMismatch {
                op: "Optimizer::step",
                reason: format!(
                    "the model has {} parameters, the optimizer {}",
                    ptrs.len(),
                    self.slots.len()
                ),
            });
        }
        let mut work: Vec<Option<(&mut Tensor, &Tensor)>> =
            (0..self.slots.len()).map(|_| None).collect();
        for (name, p) in ptrs {
            // SAFETY: the pointers come from `visit_mut` on `model`, which we borrow mutably for
            // this whole call; they are distinct (checked above), so no two `&mut` alias.
            let p: &mut Param = unsafe { &mut *p };
            let i = *self.index.get(&name).ok_or_else(|| Error::UnknownParam {
                op: "Optimizer::step",
                name: name.clone(),
            })?;
            let g = p.grad.as_ref().ok_or_else(|| Error::MissingGradient {
                op: "Optimizer::step",
                name: name.clone(),
            })?;
            work[i] = Some((&mut p.value, g));
        }
        self.checked_micro_step(work, verdicts)
    }

    pub(crate) fn checked_micro_step(
        &mut self,
        work: Vec<Option<(&mut Tensor, &Tensor)>>,
        verdicts: Option<&[bool]>,
    ) -> Result<()> {
        for (s, w) in self.slots.iter().zip(&work) {
            if let Some((th, g)) = w {
                check_tensor(s, th, "Optimizer::step")?;
                th.expect_like("Optimizer::step (gradient)", g)?;
            }
        }
        crate::step::micro_step(&self.algo, &mut self.slots, work, verdicts)
    }
}

fn check_tensor(s: &Slot, th: &Tensor, op: &'static str) -> Result<()> {
    if th.shape() != s.shape.as_slice() {
        return Err(Error::ParamShape {
            op,
            name: s.name.clone(),
            expected: s.shape.clone(),
            got: th.shape().to_vec(),
        });
    }
    if let Moment::Full(m) = &s.m {
        m.expect_like(op, th)?;
    } else if th.dtype() != DType::F32 || !th.device().is_cpu() {
        return Err(Error::Kernel(kernels::Error::Unsupported {
            op,
            reason: "bf16 momentum needs f32 parameters on the CPU".into(),
        }));
    }
    Ok(())
}

fn new_slot(
    name: &str,
    p: &Param,
    r: crate::groups::Resolved,
    bf16_m: bool,
    adam: bool,
) -> Result<Slot> {
    let v = &p.value;
    let zeros = || Tensor::zeros(v.shape(), v.dtype(), &v.device());
    let m = if bf16_m {
        if v.dtype() != DType::F32 || !v.device().is_cpu() {
            return Err(Error::Kernel(kernels::Error::Unsupported {
                op: "Optimizer::new",
                reason: format!("{name}: bf16 momentum needs f32 parameters on the CPU"),
            }));
        }
        Moment::Bf16(vec![bf16::ZERO; v.numel()])
    } else {
        Moment::Full(zeros()?)
    };
    if r.kind == ParamKind::Embedding && v.shape().len() != 2 {
        return Err(Error::Kernel(kernels::Error::invalid_shape(
            "Optimizer::new",
            v.shape(),
            format!("{name}: an Embedding parameter must be [V, d]"),
        )));
    }
    Ok(Slot {
        name: name.to_string(),
        shape: v.shape().to_vec(),
        dtype: v.dtype(),
        kind: r.kind,
        lr_mult: r.lr_mult,
        decay: r.decay,
        centre: r.centre,
        m,
        v: if adam { Some(zeros()?) } else { None },
        acc: None,
        t: 0,
        updates: 0,
        guard_events: 0,
        sum_sq: None,
        row_sum_sq: Vec::new(),
        row_stamp: None,
        decayed: false,
        touched: Vec::new(),
    })
}

impl GradSink for Optimizer {
    /// One micro-step for this parameter with `grad`, which is then dropped (gradient release).
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> nn::Result<()> {
        let i = *self.index.get(name).ok_or_else(|| Error::UnknownParam {
            op: "Optimizer::accept",
            name: name.to_string(),
        })?;
        let mut work: Vec<Option<(&mut Tensor, &Tensor)>> =
            (0..self.slots.len()).map(|_| None).collect();
        work[i] = Some((&mut param.value, &grad));
        self.checked_micro_step(work, None)?;
        Ok(())
    }
}
