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
//! * [`Gau`]: the layer of §2.1 with RoPE in both layouts (§2.2);
//! * [`GauCross`]: its cross-attention form (§2.4b): queries and gate from the input, keys and
//!   values from a memory sequence;
//! * [`flash`]: FLASH's mixed chunk attention and layer (§3);
//! * [`GauAlpha`]: the GAU-α model (§2.5) with an MLM head, checkpoints, and causal decoding
//!   from a K/V cache ([`decode`], §2.4b);
//! * [`baseline::MhaFfn`]: the multi-head attention + FFN block a GAU pair replaces;
//! * [`findings`]: the softmax findings of §7 (entropy, noise on the scores, the
//!   entropy-invariant scale) as tools with property tests.
//!
//! ```
//! use gau::{Gau, GauConfig, Mask, Normalization};
//! use kernels::{DType, Tensor};
//! use nn::Accumulate;
//!
//! // d = 8, e = 16, s = 4; GAU-α's softmax_plus with the floor of its checkpoints.
//! let cfg = GauConfig { norm: Normalization::SoftmaxPlus { floor: 1 }, ..GauConfig::new(8, 16, 4) };
//! let mut layer = Gau::new(cfg, DType::F32, 0)?;
//! let x = Tensor::from_vec(vec![0.1f32; 2 * 5 * 8], &[2, 5, 8])?;
//! let mask = Mask::causal().with_lengths(&[5, 3]);
//! let (y, cache) = layer.forward(&x, &mask)?;
//! assert_eq!(y.shape(), &[2, 5, 8]);
//! let dx = layer.backward(cache, &Tensor::from_vec(vec![1.0f32; 80], &[2, 5, 8])?, &mut Accumulate)?;
//! assert_eq!(dx.shape(), &[2, 5, 8]);
//! # Ok::<(), gau::Error>(())
//! ```

pub mod baseline;
pub mod core;
pub mod cross;
pub mod decode;
mod error;
pub mod findings;
pub mod flash;
mod gated;
pub mod layer;
pub mod mask;
pub mod model;
pub mod norm;
pub mod ops;
pub mod rope_convert;
#[cfg(test)]
mod test_support;

pub use crate::core::{AttentionCore, CoreCache, CoreGrads, CoreKind, Tiles};
pub use cross::{GauCross, GauCrossCache, GauCrossConfig};
pub use decode::{LayerKv, ModelKv};
pub use error::{Error, Result};
pub use flash::{Flash, FlashConfig, GlobalDenom, MixedChunkAttention};
pub use kernels::ops::rope::RopeLayout;
pub use layer::{Gau, GauCache, GauConfig};
pub use mask::{KeyPadding, Mask};
pub use model::{GauAlpha, GauAlphaCache, GauAlphaConfig, Train};
pub use norm::{Normalization, Relu2Denom, ScoreScale};
