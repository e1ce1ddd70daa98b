//! FLASH: mixed chunk attention and the linear-time GAU layer (spec/gau.md §3, backward §5).
//!
//! * [`MixedChunkAttention`]: local quadratic attention inside chunks of `c` tokens (any
//!   [`crate::Normalization`], run by the [`crate::AttentionCore`] on the chunks) plus global
//!   linear attention across chunks, causal (exclusive prefix sums over chunks, normalised per
//!   [`GlobalDenom`]) or not; forward and hand-derived backward.
//! * [`mixed_chunk_dense`]: the same function with the `n × n` matrix materialised (f64), the
//!   reference the chunked form is tested against.
//! * [`Flash`]: the layer (GAU projections, four scale/offset pairs, optional RoPE).
//!
//! The global term, per batch element, with `P_h = Σ_{j ∈ chunk h, j real} Kl_jᵀ V_j`
//! (`s × e`), `g(i)` the chunk of row `i` and `w_g = 1/ν_g` ([`GlobalDenom`]):
//!
//! ```text
//! non-causal: Ĉ^lin_i = Ql_i · (Σ_h P_h) / n
//! causal:     Ĉ^lin_i = Ql_i · S_g(i) · w_g(i),   S_g = Σ_{h<g} P_h  (exclusive prefix sum)
//! ```
//!
//! Backward (derived by hand, spec §5; checked by the gradchecks and the oracle fixtures):
//!
//! ```text
//! dQl_i = w_g(i) · S_g(i) dĈ_i                (S_g = Σ_h P_h for every g when non-causal)
//! dS_g  = w_g Σ_{i ∈ g} Ql_iᵀ dĈ_i
//! dP_h  = Σ_{g > h} dS_g  (causal: reverse exclusive prefix sum)  or  Σ_g dS_g
//! dKl_j = dP_h(j) V_j ,   dV_j += Kl_j dP_h(j)   (real keys only)
//! ```
//!
//! The local term's backward is the attention core's (module [`crate::core`]) on the chunks.
//! Both causal passes keep one running `s × e` state, so memory does not grow with `G`.

mod chunked;
#[cfg(test)]
mod chunked_tests;
mod dense;
mod global;
mod layer;
#[cfg(test)]
mod tests;

pub use chunked::{MixedChunkAttention, MixedChunkCache, MixedChunkGrads};
pub use dense::mixed_chunk_dense;
pub use global::GlobalDenom;
pub use layer::{Flash, FlashCache, FlashConfig, OffsetScale, PAIR_NAMES};
