//! Hyperparameters of Lion, Tiger and AdamW, with the published defaults and their sources.

use crate::schedule::PiecewiseLinear;
use crate::{Error, Result};

/// How decoupled weight decay enters the step (spec §2.4). The multiplier applies to θ_{t-1},
/// before the sign step: θ_t = d·θ_{t-1} − η_t·sign(c_t).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecayMode {
    /// d = 1 − η_t·λ (the paper's decoupled decay; default everywhere).
    Decoupled,
    /// d = 1 − (η_t/η_max)·λ ("fully decoupled": lion-pytorch `decoupled_weight_decay=True`,
    /// optimi `decouple_lr`); `lr_max` is η_max and must be positive.
    FullyDecoupled { lr_max: f64 },
    /// d = 1 − λ (pytorch-optimizer `fixed_decay=True`).
    Fixed,
}

/// Lion: "Symbolic Discovery of Optimization Algorithms", Chen et al., 2023 (Algorithm 2).
///
/// ```text
/// c_t = β1·m_{t-1} + (1−β1)·g_t
/// θ_t = d·θ_{t-1} − η_t·sign(c_t)        d = 1 − η_t·λ (decoupled), sign(0) = 0
/// m_t = β2·m_{t-1} + (1−β2)·g_t
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LionConfig {
    /// η. No default in the paper; use 3–10× less than AdamW's (paper §5). Here 1e-4
    /// (lion-pytorch's default).
    pub lr: f64,
    /// β1 = 0.9 (paper, found by the program search; 0.95 for language models).
    pub beta1: f64,
    /// β2 = 0.99 (paper; 0.98 for language models).
    pub beta2: f64,
    /// λ = 0 (the PyTorch references; optax.lion defaults to 1e-3). Use 3–10× AdamW's.
    pub weight_decay: f64,
    /// How λ enters (default [`DecayMode::Decoupled`]).
    pub decay_mode: DecayMode,
    /// Micro-steps per update, k ≥ 1 (default 1). k > 1 keeps a mean-gradient buffer ḡ (+4 B/param):
    /// Lion needs m_{t-1} and ḡ separately (spec §2.3).
    pub grad_accum_steps: u32,
    /// Keep m in bf16 (2 B/param; only its sign is used). CPU only; default false.
    pub bf16_momentum: bool,
}

impl Default for LionConfig {
    fn default() -> Self {
        LionConfig {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.99,
            weight_decay: 0.0,
            decay_mode: DecayMode::Decoupled,
            grad_accum_steps: 1,
            bf16_momentum: false,
        }
    }
}

/// Which gradients trip Tiger's guard (spec §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Any NaN or ±Inf in a tensor's gradient (default).
    NonFinite,
    /// NaN only, as Su's reference (`is_nan`); ±Inf passes into m.
    NanOnly,
    /// No guard: NaN propagates.
    Off,
}

/// How Tiger sets a tensor's learning rate (spec §3.3). Resolved from [`nn::ParamRole`] by
/// default, overridable by name through [`crate::GroupRule`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// η = α·max(RMS(θ_{t-1}), rms_floor) over the whole tensor; decay λ; centre 0.
    Matrix,
    /// η = α·max(RMS(θ_{t-1}[row, :]), rms_floor) per row of a [V, d] table; decay λ; centre 0.
    Embedding,
    /// Biases and norm shifts: η = 0.5·α, no decay, centre 0.
    Vector,
    /// Norm gains: η = 0.5·α, no decay, centre 1.
    Gain,
    /// η = α·lr_mult, decay λ·decay, guard centre `centre` (uniform Tiger: `lr_mult = decay = 1`).
    Custom {
        lr_mult: f64,
        decay: f64,
        centre: f64,
    },
}

/// Tiger: Su Jianlin, "Tiger：一个'抠'到极致的优化器", 2023 (kexue.fm/archives/9512), and the
/// reference code bojone/tiger.
///
/// Per micro-step t (0-based), with k = `grad_accum_steps`:
/// ```text
/// b1 = β if t mod k == 0 else 1
/// m  = b1·m + ((1−β)/k)·g
/// η  = α·s(t)·mult(kind, θ_{t-1}) if (t+1) mod k == 0 else 0
/// θ  = (1 − η·λ_kind)·θ − η·sign(m)
/// ```
/// and when the guard trips on a tensor: m unchanged, θ = (θ − c)·shrink + c.
#[derive(Clone, Debug, PartialEq)]
pub struct TigerConfig {
    /// α, the global relative learning rate = 1e-3 (reference default; Su recommends a peak of
    /// 1e-3 … 2e-3).
    pub alpha: f64,
    /// β = 0.965 (reference default, the mean of Lion's NLP pair; 0.945 for vision).
    pub beta: f64,
    /// λ = 0.01 (reference default; biases, shifts and gains get 0).
    pub weight_decay: f64,
    /// k ≥ 1 micro-steps per update, accumulated inside m (no extra buffer). Default 1.
    pub grad_accum_steps: u32,
    /// Multiplier on α, knots in micro-steps (default {0: 1}).
    pub schedule: PiecewiseLinear,
    /// s = 0.99: the guard's shrink ratio toward the kind's centre.
    pub shrink_ratio: f64,
    /// Default [`Guard::NonFinite`].
    pub guard: Guard,
    /// Lower bound on the RMS in the Matrix/Embedding rule (default 0, as the reference; a
    /// zero-initialised matrix never moves with 0).
    pub rms_floor: f64,
    /// Update an embedding row only when it received a non-zero gradient in the current
    /// accumulation group (spec §3.9). Default false.
    pub lazy_embedding_rows: bool,
    /// True (default): a guard event on the first micro-step of a group also skips that group's
    /// β decay, as in the reference. False: the first finite micro-step of the group decays.
    pub reference_mode: bool,
}

impl Default for TigerConfig {
    fn default() -> Self {
        TigerConfig {
            alpha: 1e-3,
            beta: 0.965,
            weight_decay: 0.01,
            grad_accum_steps: 1,
            schedule: PiecewiseLinear::constant(),
            shrink_ratio: 0.99,
            guard: Guard::NonFinite,
            rms_floor: 0.0,
            lazy_embedding_rows: false,
            reference_mode: true,
        }
    }
}

/// AdamW: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019; defaults of
/// `torch.optim.AdamW` (lr 1e-3, β 0.9/0.999, ε 1e-8, λ 0.01).
///
/// ```text
/// θ = (1 − ηλ)·θ;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
/// θ = θ − η/(1−β1^t) · m / (sqrt(v/(1−β2^t)) + ε)
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Micro-steps per update (k > 1 keeps a mean-gradient buffer, +4 B/param).
    pub grad_accum_steps: u32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            grad_accum_steps: 1,
        }
    }
}

fn check(name: &'static str, value: f64, ok: bool, reason: &'static str) -> Result<()> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value,
            reason,
        })
    }
}

fn beta(name: &'static str, b: f64) -> Result<()> {
    check(name, b, (0.0..1.0).contains(&b), "must lie in [0, 1)")
}

fn nonneg(name: &'static str, v: f64) -> Result<()> {
    check(name, v, v >= 0.0, "must be finite and non-negative")
}

fn steps(k: u32) -> Result<()> {
    check("grad_accum_steps", k as f64, k >= 1, "must be at least 1")
}

impl LionConfig {
    /// Checks every hyperparameter.
    pub fn validate(&self) -> Result<()> {
        nonneg("lr", self.lr)?;
        beta("beta1", self.beta1)?;
        beta("beta2", self.beta2)?;
        nonneg("weight_decay", self.weight_decay)?;
        steps(self.grad_accum_steps)?;
        if let DecayMode::FullyDecoupled { lr_max } = self.decay_mode {
            check("lr_max", lr_max, lr_max > 0.0, "must be positive")?;
        }
        Ok(())
    }
}

impl TigerConfig {
    /// Checks every hyperparameter.
    pub fn validate(&self) -> Result<()> {
        nonneg("alpha", self.alpha)?;
        beta("beta", self.beta)?;
        nonneg("weight_decay", self.weight_decay)?;
        steps(self.grad_accum_steps)?;
        check(
            "shrink_ratio",
            self.shrink_ratio,
            (0.0..=1.0).contains(&self.shrink_ratio),
            "must lie in [0, 1]",
        )?;
        nonneg("rms_floor", self.rms_floor)?;
        self.schedule.validate()
    }
}

impl AdamWConfig {
    /// Checks every hyperparameter.
    pub fn validate(&self) -> Result<()> {
        nonneg("lr", self.lr)?;
        beta("beta1", self.beta1)?;
        beta("beta2", self.beta2)?;
        check("eps", self.eps, self.eps > 0.0, "must be positive")?;
        nonneg("weight_decay", self.weight_decay)?;
        steps(self.grad_accum_steps)
    }
}

impl ParamKind {
    /// (lr multiplier on α before any RMS factor, decay multiplier on λ, guard centre).
    pub fn factors(self) -> (f64, f64, f64) {
        match self {
            ParamKind::Matrix | ParamKind::Embedding => (1.0, 1.0, 0.0),
            ParamKind::Vector => (0.5, 0.0, 0.0),
            ParamKind::Gain => (0.5, 0.0, 1.0),
            ParamKind::Custom {
                lr_mult,
                decay,
                centre,
            } => (lr_mult, decay, centre),
        }
    }

    /// Tiger's default kind for an `nn` role and shape: matrices and "other" tensors of rank
    /// ≥ 2 use the whole-tensor RMS rule, rank-1 "other" tensors the vector rule.
    pub fn from_role(role: nn::ParamRole, shape: &[usize]) -> ParamKind {
        match role {
            nn::ParamRole::Matrix => ParamKind::Matrix,
            nn::ParamRole::Embedding => ParamKind::Embedding,
            nn::ParamRole::Bias => ParamKind::Vector,
            nn::ParamRole::Gain => ParamKind::Gain,
            nn::ParamRole::Other if shape.len() >= 2 => ParamKind::Matrix,
            nn::ParamRole::Other => ParamKind::Vector,
        }
    }
}
