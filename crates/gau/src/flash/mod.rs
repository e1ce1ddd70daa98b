//! FLASH: mixed chunk attention and the linear-time GAU layer (spec/gau.md §3, backward §5).
//!
//! * [`MixedChunkAttention`]: local quadratic attention inside chunks of `c` tokens (any
//!   [`crate::Normalization`], run by the [`crate::AttentionCore`] on the chunks) plus global
//!   linear attention across chunks, causal (exclusive prefix sums over chunks, normalised per
//!   [`GlobalDenom`]) or not; forward and hand-derived backward.
//! * [`mixed_chunk_dense`]: the same function with the `n × n` matrix materialised (f64), the
//!   reference the chunked form is tested against.
//! * [`Flash`]: the layer (GAU projections, four scale/offset pairs, optional RoPE).

mod chunked;
mod dense;
mod global;
mod layer;
#[cfg(test)]
mod tests;

pub use chunked::{MixedChunkAttention, MixedChunkCache, MixedChunkGrads};
pub use dense::mixed_chunk_dense;
pub use global::GlobalDenom;
pub use layer::{Flash, FlashCache, FlashConfig, OffsetScale, PAIR_NAMES};
