//! The softmax findings of spec/gau.md §7 as tools.
//!
//! * [`entropy`]: per-row attention entropy `H_i = −Σ_j A_ij ln A_ij` of an attention matrix,
//!   the focused-row experiment of §7.2 and the τ = 1 entropy floor of §7.3;
//! * [`noise`]: i.i.d. noise injected on the scores, and how far the attention average moves
//!   (§7.1: the error falls like `n^(−1/2)` for softmax, not for relu²);
//! * [`scale`]: the entropy-invariant logit scale `ln(max(l, floor))/(ln 512 · √s)` of
//!   `SoftmaxPlus`, and relu²'s invariance to any logit scale (§7.3).
//!
//! The property tests (`tests.rs`) reproduce the spec's reference values.

pub mod entropy;
pub mod noise;
pub mod scale;

pub use entropy::{
    TAU1_ENTROPY_GAP, attention_entropy, focused_row_entropy, row_entropy, tau1_min_entropy,
};
pub use noise::{Aggregator, NoiseKind, aggregate, inject_noise, loglog_slope, noise_error};
pub use scale::{entropy_invariant_scale, relu2_row_normalised};

#[cfg(test)]
mod tests;
