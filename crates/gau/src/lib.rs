//! # gau — the Gated Attention Unit (FLASH-Quad / GAU-α)
//!
//! Hua, Dai, Liu and Le, *Transformer Quality in Linear Time* (ICML 2022) replace a
//! Transformer block's attention and FFN with one gated unit: a single-head attention over a
//! small shared query/key width `s`, whose output gates a wide value path. Su's GAU-α
//! (2022) trains it with the entropy-invariant `softmax_plus` normalisation and RoPE. The maths
//! is in `spec/gau.md`; this crate follows it section by section.
//!
//! * [`Normalization`] and [`ScoreScale`] (§2.3), [`Mask`] (§2.4);
//! * [`AttentionCore`]: `C = Normalise(c·QKᵀ, mask)·V` with its backward, as a fused tiled
//!   kernel that never stores the `n × n` matrix and as the materialising reference (§5, §6);
//! * [`Gau`]: the layer of §2.1 with RoPE in both layouts (§2.2).

pub mod core;
mod error;
pub mod layer;
pub mod mask;
pub mod norm;
pub mod ops;
pub mod rope_convert;

pub use crate::core::{AttentionCore, CoreCache, CoreGrads, CoreKind, Tiles};
pub use error::{Error, Result};
pub use kernels::ops::rope::RopeLayout;
pub use layer::{Gau, GauCache, GauConfig};
pub use mask::{KeyPadding, Mask};
pub use norm::{Normalization, Relu2Denom, ScoreScale};
