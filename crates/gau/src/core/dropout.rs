//! Attention dropout inside the core (GAU-α: `p = 0.1` on the normalised attention `A`, spec
//! §2.5), as inverted dropout with `kernels::ops::dropout`'s counter-based mask:
//!
//! ```text
//! C = (A ⊙ M / (1 − p)) · V
//! M_bij = 1  iff  dropout_hash(seed, (b·n_q + i)·n_k + j) >> 32  ≥  ⌈p·2³²⌉
//! ```
//!
//! i.e. exactly the mask `kernels::ops::dropout::dropout_forward` draws for a `[b, n_q, n_k]`
//! tensor with the same `(p, seed)`; the materialising core applies that op to its stored `A`,
//! the fused cores (CPU and CUDA) hash each element's index themselves. The mask is a pure
//! function of `(seed, index)`, so the backward regenerates it instead of storing it.
//!
//! Backward with `A' = A ⊙ M/(1 − p)`: `dV = A'ᵀ dC`, `dA' = dC Vᵀ`, `dA = dA' ⊙ M/(1 − p)`, then
//! the normalisation's backward on `dA`. For the softmax forms
//! `D_i = Σ_j A_ij dA_ij = Σ_j A'_ij dA'_ij = Σ_k dC_ik C_ik` still holds (spec §5), so the fused
//! backward keeps computing `D` from `dC` and the (dropped-out) output `C`.
//!
//! `p = 0` (the default) is not a special value of the arithmetic: the cores skip dropout
//! entirely and run exactly the code they ran before dropout existed.

use crate::{Error, Result};
use kernels::Float;
use kernels::ops::dropout::{GAMMA, dropout_key, dropout_threshold, mix64};

/// Inverted dropout on the attention matrix `A` (module docs). `p ∈ [0, 1)`; `p = 0` is off.
/// Use a fresh `seed` per layer and step; the backward reuses the forward's (it is kept in the
/// [`CoreCache`](super::CoreCache)).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct AttentionDropout {
    /// Drop probability, in `[0, 1)`. Default 0 (off). GAU-α trains with 0.1.
    pub p: f64,
    /// Seed of the counter-based mask.
    pub seed: u64,
}

impl AttentionDropout {
    /// No dropout.
    pub const NONE: AttentionDropout = AttentionDropout { p: 0.0, seed: 0 };

    /// Dropout with probability `p` and mask seed `seed`.
    pub fn new(p: f64, seed: u64) -> AttentionDropout {
        AttentionDropout { p, seed }
    }

    /// Whether this drops anything (`p > 0`).
    pub fn is_active(&self) -> bool {
        self.p != 0.0
    }

    /// Checks `p ∈ [0, 1)` and resolves the mask: `None` when `p = 0`.
    pub(crate) fn resolve(&self) -> Result<Option<Keep>> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(Error::InvalidConfig(format!(
                "attention dropout p must lie in [0, 1), got {}",
                self.p
            )));
        }
        if self.p == 0.0 {
            return Ok(None);
        }
        Ok(Some(Keep {
            key: dropout_key(self.seed),
            threshold: dropout_threshold(self.p)?,
            inv_keep: 1.0 / (1.0 - self.p),
        }))
    }
}

/// A resolved dropout mask: element `idx` is kept iff `mix64(key + idx·γ) >> 32 ≥ threshold`,
/// and kept entries are scaled by `inv_keep = 1/(1 − p)` (rounded once to the float type, as
/// `kernels`' dropout does).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keep {
    pub key: u64,
    pub threshold: u64,
    pub inv_keep: f64,
}

impl Keep {
    /// Whether element `idx` of the flattened `[b, n_q, n_k]` attention is kept.
    #[inline(always)]
    pub fn kept(&self, idx: u64) -> bool {
        mix64(self.key.wrapping_add(idx.wrapping_mul(GAMMA))) >> 32 >= self.threshold
    }

    /// `x/(1 − p)` if element `idx` is kept, else 0.
    #[inline(always)]
    pub fn apply<F: Float>(&self, idx: u64, x: F, inv_keep: F) -> F {
        if self.kept(idx) {
            x * inv_keep
        } else {
            F::zero()
        }
    }
}
