//! The attention normalisations of spec/gau.md §2.3 and the score scale.
//!
//! With `x_ij = q_i·k_j` (raw dot products), `c` the score scale and `l_i` the number of keys
//! row `i` may attend to (§2.4), every variant is one of two forms, with per-row constants
//! `α_i` (logit scale) and `β_i` (post-factor) that depend only on the masks:
//!
//! ```text
//! softmax form:  A_ij = exp(α_i x_ij) / Σ_{j' visible} exp(α_i x_ij')
//! relu² form:    A_ij = β_i · relu(α_i x_ij)²
//! ```
//!
//! | variant | form | `α_i` | `β_i` |
//! | --- | --- | --- | --- |
//! | [`Normalization::Softmax`] | softmax | `c` | — |
//! | [`Normalization::SoftmaxPlus`] | softmax | `c · ln(max(l_i, floor)) / ln 512` | — |
//! | [`Normalization::Relu2OverLen`] | relu² | `c` | `1 / l_i` |
//! | [`Normalization::Relu2Paper`] | relu² | `c / ν` | `1` |
//!
//! Masked entries are exactly 0, and a row with no visible key is all zeros. The default score
//! scale ([`ScoreScale::Auto`]) is `c = 1/√s`, except for `Relu2Paper`, where it is 1 (the
//! FLASH paper divides by `ν` and not by `√s`).

use crate::{Error, Result};

/// What `ν` is in [`Normalization::Relu2Paper`]'s `relu(x_ij / ν)²` (spec/gau.md §2.3: the
/// sources disagree, so each reading is an option).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relu2Denom {
    /// `ν = n`, the padded key length (the paper's code, flash-pytorch).
    PaddedLen,
    /// `ν` = the number of unpadded keys of the sequence, `Σ_j m_j`, not reduced by the causal
    /// mask (Mega).
    ValidLen,
    /// A fixed `ν` (JunnYu's port uses 512). Must be finite and > 0.
    Fixed(f64),
}

/// How the rows of the score matrix are normalised (spec/gau.md §2.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Normalization {
    /// `A_i· = softmax(c·x_i·)` over the visible keys.
    Softmax,
    /// GAU-α's `softmax_plus` (Su, "Attention's scale operation from the viewpoint of entropy
    /// invariance", 2021): `A_i· = softmax(λ_i c x_i·)`, `λ_i = ln(max(l_i, floor)) / ln 512`.
    /// `floor` is 1 for GAU-α's checkpoints (bert4keras 0.11, 2022) and 16 for new training
    /// (bert4keras, 2023-03); it must be ≥ 1.
    SoftmaxPlus { floor: usize },
    /// bert4keras `squared_relu`: `A_ij = relu(c·x_ij)² / l_i`.
    Relu2OverLen,
    /// The FLASH paper's pseudo-code (Hua et al., "Transformer Quality in Linear Time", 2022):
    /// `A_ij = relu(c·x_ij / ν)²` with the default `c = 1`, `ν` per [`Relu2Denom`].
    Relu2Paper { denom: Relu2Denom },
}

impl Default for Normalization {
    /// `SoftmaxPlus { floor: 16 }`: the spec's default for new training.
    fn default() -> Self {
        Normalization::SoftmaxPlus { floor: 16 }
    }
}

/// The two computational forms of the normalisations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    Softmax,
    Relu2,
}

impl Normalization {
    /// Every variant once (with `SoftmaxPlus` at both spec floors and every `Relu2Paper`
    /// denominator), for tests that sweep them all.
    pub fn all() -> [Normalization; 7] {
        [
            Normalization::Softmax,
            Normalization::SoftmaxPlus { floor: 1 },
            Normalization::SoftmaxPlus { floor: 16 },
            Normalization::Relu2OverLen,
            Normalization::Relu2Paper {
                denom: Relu2Denom::PaddedLen,
            },
            Normalization::Relu2Paper {
                denom: Relu2Denom::ValidLen,
            },
            Normalization::Relu2Paper {
                denom: Relu2Denom::Fixed(3.0),
            },
        ]
    }

    /// Checks the variant's own numbers.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Normalization::SoftmaxPlus { floor } if floor < 1 => Err(Error::InvalidConfig(
                format!("SoftmaxPlus floor must be ≥ 1, got {floor}"),
            )),
            Normalization::Relu2Paper {
                denom: Relu2Denom::Fixed(nu),
            } if !(nu.is_finite() && nu > 0.0) => Err(Error::InvalidConfig(format!(
                "Relu2Paper fixed denominator must be finite and > 0, got {nu}"
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn form(&self) -> Form {
        match self {
            Normalization::Softmax | Normalization::SoftmaxPlus { .. } => Form::Softmax,
            _ => Form::Relu2,
        }
    }

    /// `(α_i, β_i)` for a row with `l` visible keys, in a sequence with `valid` unpadded keys
    /// and `n_k` keys in all, at score scale `c` (see the module table). Only called for
    /// rows with `l ≥ 1`.
    pub(crate) fn row_coefficients(
        &self,
        c: f64,
        l: usize,
        valid: usize,
        n_k: usize,
    ) -> (f64, f64) {
        match *self {
            Normalization::Softmax => (c, 1.0),
            Normalization::SoftmaxPlus { floor } => {
                let lambda = (l.max(floor) as f64).ln() / 512f64.ln();
                (c * lambda, 1.0)
            }
            Normalization::Relu2OverLen => (c, 1.0 / l as f64),
            Normalization::Relu2Paper { denom } => {
                let nu = match denom {
                    Relu2Denom::PaddedLen => n_k as f64,
                    Relu2Denom::ValidLen => valid as f64,
                    Relu2Denom::Fixed(nu) => nu,
                };
                (c / nu, 1.0)
            }
        }
    }
}

/// The score scale `c` in `S = c·QKᵀ`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum ScoreScale {
    /// `1/√s` (Vaswani et al. 2017; GAU-α), or 1 for [`Normalization::Relu2Paper`].
    #[default]
    Auto,
    /// A fixed `c` (finite).
    Fixed(f64),
}

impl ScoreScale {
    /// The scale for query/key width `s` under normalisation `norm`.
    pub fn resolve(&self, s: usize, norm: &Normalization) -> Result<f64> {
        match *self {
            ScoreScale::Auto => Ok(match norm {
                Normalization::Relu2Paper { .. } => 1.0,
                _ => 1.0 / (s.max(1) as f64).sqrt(),
            }),
            ScoreScale::Fixed(c) if c.is_finite() => Ok(c),
            ScoreScale::Fixed(c) => Err(Error::InvalidConfig(format!(
                "score scale must be finite, got {c}"
            ))),
        }
    }
}
