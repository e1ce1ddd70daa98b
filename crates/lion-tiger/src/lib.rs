//! # lion-tiger — Lion and Tiger, exactly as published, fused over all parameters
//!
//! Sign-based optimizers keep one momentum buffer (4 B/param) instead of AdamW's two, and move
//! every coordinate by exactly ±η. [`Optimizer`] runs Lion, Tiger or AdamW (the baseline) over
//! the named parameters of an [`nn::Module`], on the CPU (fused rayon kernels, f32 or f64) or on
//! CUDA (multi-tensor NVRTC kernels, feature `cuda`).
//!
//! ## Lion — "Symbolic Discovery of Optimization Algorithms", Chen et al., 2023 (Algorithm 2)
//! ```text
//! c_t = β1·m_{t-1} + (1−β1)·g_t                 (the OLD momentum)
//! θ_t = θ_{t-1} − η_t·(sign(c_t) + λ·θ_{t-1})     (decoupled decay on the OLD θ; sign(0) = 0)
//! m_t = β2·m_{t-1} + (1−β2)·g_t
//! ```
//! Defaults ([`LionConfig`]): β1 = 0.9, β2 = 0.99 (paper; 0.95/0.98 for language models),
//! λ = 0 (PyTorch references; optax.lion uses 1e-3), lr 1e-4 (lion-pytorch). Decay modes
//! ([`DecayMode`]): decoupled 1 − ηλ (default), fully decoupled 1 − (η/η_max)λ, fixed 1 − λ.
//!
//! ## Tiger — Su Jianlin, "Tiger：一个'抠'到极致的优化器", 2023 (kexue.fm/archives/9512)
//! Lion with β1 = β2 = β, plus the reference code's rules ([`TigerConfig`], [`ParamKind`]):
//! ```text
//! b1 = β if t mod k == 0 else 1;   m = b1·m + ((1−β)/k)·g             (k micro-steps, no extra buffer)
//! on (t+1) mod k == 0:  θ = θ − η·(sign(m) + λ_kind·θ)
//!   Matrix:    η = α·s(t)·max(RMS(θ_{t-1}), rms_floor)                 (whole tensor)
//!   Embedding: η = α·s(t)·max(RMS(θ_{t-1}[row,:]), rms_floor)          (per row)
//!   Vector/Gain: η = 0.5·α·s(t), λ = 0
//! guard (gradient of a tensor not finite): m unchanged, θ = (θ − c)·0.99 + c (c = 1 for gains)
//! ```
//! Defaults: α = 1e-3, β = 0.965 (0.945 for vision), λ = 0.01, k = 1, s = {0: 1} (piecewise
//! linear in micro-steps, [`PiecewiseLinear`]), shrink 0.99, guard non-finite ([`Guard`]).
//!
//! ## Learning rate and decay relative to AdamW (Chen et al. 2023 §5)
//! Every coordinate moves by η, so use an lr **3–10× smaller** than AdamW's (scale the whole
//! schedule), and a λ **3–10× larger** so that η·λ stays the same (ViT-B/16: Lion 1e-4 / λ 10
//! vs AdamW 1e-3 / λ 1). Base-size models: η = 3e-4, λ = 0.01; above 1B parameters 1e-4…2e-4.
//! Warm up; Lion prefers large batches. Tiger's α is a *relative* step (RMS(Δθ)/RMS(θ) = α for
//! a matrix): Su recommends a peak of 1e-3…2e-3, and LAMB settings carry over.
//!
//! ## Gradient release and memory
//! The optimizer is an [`nn::GradSink`]: hand it to a backward pass and each gradient is folded
//! into the state as soon as it is produced, then dropped. Measured in `examples/demo.rs`
//! (f32): Tiger holds 8 B/param (θ + m) also with k = 4 accumulation; Lion 8 (12 with k > 1,
//! which needs a mean-gradient buffer); AdamW 12 (16). State and model go into one safetensors
//! checkpoint ([`save_checkpoint`], [`load_checkpoint`]) and resume bit-exactly.
//!
//! ```
//! use lion_tiger::{Optimizer, TigerConfig};
//! use nn::{Param, ParamRole, Module, Prefix};
//! use kernels::Tensor;
//!
//! struct W(Param);
//! impl Module for W {
//!     fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) { f(&p.join("w"), &self.0) }
//!     fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) { f(&p.join("w"), &mut self.0) }
//! }
//! let mut model = W(Param::new(Tensor::from_vec(vec![0.5f32, -0.5, 1.0, -1.0], &[2, 2])?, ParamRole::Matrix));
//! let mut opt = Optimizer::tiger(TigerConfig { weight_decay: 0.0, ..Default::default() }, &model)?;
//! model.0.grad = Some(Tensor::from_vec(vec![1.0f32, -1.0, 1.0, -1.0], &[2, 2])?);
//! opt.step(&mut model)?;
//! // RMS(θ) = 0.790…, so each entry moves by α·RMS = 7.9e-4 against the gradient's sign.
//! let th = model.0.value.to_vec::<f32>()?;
//! assert!((th[0] - (0.5 - 1e-3 * 0.625f32.sqrt())).abs() < 1e-7);
//! # Ok::<(), lion_tiger::Error>(())
//! ```
//!
//! See `examples/demo.rs` for training curves and memory, `benches/step.rs` for throughput.

mod config;
pub mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
pub mod distributed;
mod error;
mod groups;
mod guard;
mod optimizer;
pub mod reference;
mod schedule;
mod state;
mod step;

pub use config::{AdamWConfig, DecayMode, Guard, LionConfig, ParamKind, TigerConfig};
pub use error::{Error, Result};
pub use groups::{GroupRule, Match};
pub use guard::GradReport;
pub use optimizer::{Algorithm, Optimizer};
pub use schedule::PiecewiseLinear;
pub use state::{load_checkpoint, save_checkpoint};

#[cfg(test)]
mod tests;
