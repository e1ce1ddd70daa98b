//! Masks and how lengths count (spec/gau.md §2.4).
//!
//! Key `j` is visible to query row `i` of batch element `b` when
//! `allowed_ij = m_bj ∧ (j ≤ i + n_k − n_q if causal)`, with `m_bj` the key padding mask
//! (1 = a real key). With `n_q = n_k` the causal mask is the usual lower triangle; with
//! `n_k > n_q` the queries are the last `n_q` positions of the key sequence (incremental
//! decoding). `l_i = Σ_j allowed_ij` is counted per row: padded keys do not count, and in causal
//! mode an unpadded row `i` counts `i + 1` keys. Padded *query* rows are computed like any other
//! row. A row with no visible key outputs zeros.

use crate::norm::Normalization;
use crate::{Error, Result};

/// Which keys are real, per batch element.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum KeyPadding {
    /// Every key is real.
    #[default]
    None,
    /// Batch element `b` has `lengths[b]` real keys, then padding (`lengths.len()` = batch).
    Lengths(Vec<usize>),
    /// An explicit key mask `[batch × n_k]`, row-major, `true` = a real key.
    Mask(Vec<bool>),
}

/// The attention mask: causal or bidirectional, plus key padding.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Mask {
    /// Row `i` sees keys `j ≤ i + n_k − n_q` only.
    pub causal: bool,
    /// Key padding.
    pub keys: KeyPadding,
}

impl Mask {
    /// Bidirectional, no padding.
    pub fn none() -> Mask {
        Mask::default()
    }

    /// Causal, no padding.
    pub fn causal() -> Mask {
        Mask {
            causal: true,
            keys: KeyPadding::None,
        }
    }

    /// The same mask with `lengths[b]` real keys per batch element.
    pub fn with_lengths(self, lengths: &[usize]) -> Mask {
        Mask {
            keys: KeyPadding::Lengths(lengths.to_vec()),
            ..self
        }
    }

    /// The same mask with an explicit key mask `[batch × n_k]` (`true` = real key).
    pub fn with_key_mask(self, mask: Vec<bool>) -> Mask {
        Mask {
            keys: KeyPadding::Mask(mask),
            ..self
        }
    }
}

/// One query row's visibility and normalisation constants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    /// Keys `j < lim` pass the causal mask (`n_k` when bidirectional).
    pub lim: usize,
    /// `l_i`, the number of visible keys.
    pub l: usize,
    /// Logit scale `α_i` (see `norm`).
    pub alpha: f64,
    /// Post-factor `β_i` (relu² forms).
    pub beta: f64,
}

/// A mask resolved for one shape `(batch, n_q, n_k)`: per-key validity and per-row constants.
#[derive(Clone, Debug)]
pub(crate) struct RowPlan {
    pub n_q: usize,
    pub n_k: usize,
    /// `[batch × n_k]` key validity; `None` when every key is real.
    pub valid: Option<Vec<bool>>,
    /// `[batch × n_q]` rows.
    pub rows: Vec<Row>,
}

impl RowPlan {
    /// Resolves `mask` for the shape and the normalisation's per-row constants at scale `c`.
    pub fn new(
        mask: &Mask,
        batch: usize,
        n_q: usize,
        n_k: usize,
        norm: &Normalization,
        c: f64,
    ) -> Result<RowPlan> {
        norm.validate()?;
        let valid = match &mask.keys {
            KeyPadding::None => None,
            KeyPadding::Lengths(lens) => {
                if lens.len() != batch {
                    return Err(Error::MaskLength {
                        what: "key lengths (one per batch element)",
                        expected: batch,
                        got: lens.len(),
                    });
                }
                if let Some(&l) = lens.iter().find(|&&l| l > n_k) {
                    return Err(Error::MaskLength {
                        what: "a key length (at most the key axis)",
                        expected: n_k,
                        got: l,
                    });
                }
                Some(
                    lens.iter()
                        .flat_map(|&l| (0..n_k).map(move |j| j < l))
                        .collect(),
                )
            }
            KeyPadding::Mask(m) => {
                if m.len() != batch * n_k {
                    return Err(Error::MaskLength {
                        what: "key mask [batch × n_k]",
                        expected: batch * n_k,
                        got: m.len(),
                    });
                }
                Some(m.clone())
            }
        };
        let mut rows = Vec::with_capacity(batch * n_q);
        let mut prefix = vec![0usize; n_k + 1];
        for b in 0..batch {
            for j in 0..n_k {
                let real = valid.as_ref().is_none_or(|v| v[b * n_k + j]);
                prefix[j + 1] = prefix[j] + real as usize;
            }
            let valid_count = prefix[n_k];
            for i in 0..n_q {
                let lim = if mask.causal {
                    (i + 1 + n_k).saturating_sub(n_q).min(n_k)
                } else {
                    n_k
                };
                let l = prefix[lim];
                let (alpha, beta) = if l == 0 {
                    (0.0, 0.0)
                } else {
                    norm.row_coefficients(c, l, valid_count, n_k)
                };
                rows.push(Row {
                    lim,
                    l,
                    alpha,
                    beta,
                });
            }
        }
        Ok(RowPlan {
            n_q,
            n_k,
            valid,
            rows,
        })
    }

    /// Whether key `j` is real in batch element `b` (ignoring the causal mask).
    #[inline]
    pub fn key_real(&self, b: usize, j: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[b * self.n_k + j])
    }
}
