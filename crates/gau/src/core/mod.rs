//! The attention core `C = Normalise(c·QKᵀ, mask) · V` (spec/gau.md §2.1, §2.3–2.4, §5), in two
//! implementations that compute the same function:
//!
//! * **materialising** ([`CoreKind::Materialized`]): `X = QKᵀ` with the `matmul` GEMM, then
//!   `A = Normalise(X)` row by row, then `C = A·V`; it stores the `n_q × n_k` matrices `X` and
//!   `A` for the backward. This is the reference the fused core is tested against.
//! * **fused** ([`CoreKind::Fused`]): tiled over query rows and key blocks, never holding more
//!   than one `rows × keys` tile of scores per worker. Softmax forms use the online softmax
//!   (running max `m_i`, running sum `ℓ_i`, rescaled accumulator) and keep
//!   `lse_i = m_i + ln ℓ_i` per row; the relu² forms know their normaliser `β_i` up front. The
//!   backward recomputes each tile's probabilities from `lse` (flash-attention style).
//!
//! Shapes: `q [b, n_q, s]`, `k [b, n_k, s]`, `v [b, n_k, e]`, output `c [b, n_q, e]`; f32 or
//! f64 on the CPU, f32 on CUDA for the fused core (`cuda.rs` + `attention.cu`, built with the
//! `cuda` feature; its tile sizes are fixed in the kernel and [`Tiles`] only steers the CPU).
//! The materialising core is CPU-only: device tensors get [`Error::Unsupported`] there. The
//! normalisations and the per-row constants `α_i`, `β_i` are documented in [`crate::norm`],
//! the masks in [`crate::mask`].
//!
//! Attention dropout ([`AttentionDropout`], off by default) multiplies `A` by a counter-based
//! keep mask scaled by `1/(1 − p)` before the product with `V`: see `dropout.rs`. Call
//! [`AttentionCore::forward_with_dropout`]; the cache remembers `(p, seed)`, so
//! [`AttentionCore::backward`] regenerates the same mask.
//!
//! Backward (hand-derived, spec §5), with `x_ij = q_i·k_j`, `dA = dC·Vᵀ`, `dV = Aᵀ·dC`:
//!
//! ```text
//! softmax forms: dx_ij = α_i A_ij (dA_ij − D_i),  D_i = Σ_j A_ij dA_ij = Σ_k dC_ik C_ik
//! relu² forms:   dx_ij = 2 β_i α_i relu(α_i x_ij) dA_ij
//! masked (i, j): dx_ij = 0
//! dQ = dX·K,  dK = dXᵀ·Q
//! ```
//!
//! The materialising backward computes `D_i` from `A` and `dA`; the fused one from `dC` and
//! `C` (FlashAttention's identity), so the two paths check each other.

#[cfg(feature = "cuda")]
mod cuda;
mod dropout;
mod fused;
mod fused_backward;
mod materialized;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod tile;

pub use dropout::AttentionDropout;

use crate::mask::{Mask, RowPlan};
use crate::norm::{Form, Normalization};
use crate::{Error, Result};
use kernels::{Storage, Tensor};

/// Tile sizes of the fused core: query rows per task and keys per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiles {
    /// Query rows per tile (one rayon task each in the forward). Default 128.
    pub rows: usize,
    /// Keys per block. Default 64 (measured with the blocked-GEMM CPU core at s = 128,
    /// e = 1536: 128 × 64 is within 5 % of the best tiles at n = 512 and 2048).
    pub keys: usize,
}

impl Default for Tiles {
    fn default() -> Self {
        Tiles {
            rows: 128,
            keys: 64,
        }
    }
}

/// Which implementation of the core to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreKind {
    /// Tiled, never stores the `n_q × n_k` matrix. The default.
    Fused(Tiles),
    /// Stores `QKᵀ` and `A` (the reference).
    Materialized,
}

impl Default for CoreKind {
    fn default() -> Self {
        CoreKind::Fused(Tiles::default())
    }
}

/// The attention core: a normalisation, a score scale `c` and an implementation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionCore {
    pub norm: Normalization,
    /// The score scale `c` (resolved, see [`crate::ScoreScale::resolve`]).
    pub scale: f64,
    pub kind: CoreKind,
}

/// What the core's forward keeps for its backward.
pub enum CoreCache {
    /// Raw scores `X = QKᵀ` and probabilities `A` (before dropout), both `[b, n_q, n_k]`.
    Materialized {
        scores: Tensor,
        probs: Tensor,
        dropout: AttentionDropout,
    },
    /// The output `C` (after dropout) and per-row `lse_i` (`[b, n_q]`; `−∞` for rows with no
    /// visible key, 0 for relu² forms, which need none). On the device of the inputs.
    Fused {
        out: Tensor,
        lse: Tensor,
        dropout: AttentionDropout,
    },
}

impl CoreCache {
    /// Bytes of the tensors held for the backward.
    pub fn bytes(&self) -> usize {
        let t = |t: &Tensor| t.numel() * t.dtype().size();
        match self {
            CoreCache::Materialized { scores, probs, .. } => t(scores) + t(probs),
            CoreCache::Fused { out, lse, .. } => t(out) + t(lse),
        }
    }

    /// The attention dropout the forward used (and the backward will regenerate).
    pub fn dropout(&self) -> AttentionDropout {
        match self {
            CoreCache::Materialized { dropout, .. } | CoreCache::Fused { dropout, .. } => *dropout,
        }
    }
}

/// Gradients of the core's inputs.
pub struct CoreGrads {
    pub dq: Tensor,
    pub dk: Tensor,
    pub dv: Tensor,
}

/// The core's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub batch: usize,
    pub n_q: usize,
    pub n_k: usize,
    pub s: usize,
    pub e: usize,
}

/// One checked call of the core, as every implementation (materialised, fused CPU, CUDA) takes
/// it: the inputs, the mask's row plan, the sizes, the normalisation's form and the dropout.
pub(crate) struct CoreCall<'a> {
    pub q: &'a Tensor,
    pub k: &'a Tensor,
    pub v: &'a Tensor,
    pub plan: &'a RowPlan,
    pub d: Dims,
    pub form: Form,
    pub dropout: AttentionDropout,
}

impl CoreCall<'_> {
    /// `(q, k, v, plan, d, form, dropout)`.
    #[allow(clippy::type_complexity)]
    fn parts(
        &self,
    ) -> (
        &Tensor,
        &Tensor,
        &Tensor,
        &RowPlan,
        &Dims,
        Form,
        AttentionDropout,
    ) {
        (
            self.q,
            self.k,
            self.v,
            self.plan,
            &self.d,
            self.form,
            self.dropout,
        )
    }
}

fn dims(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Dims> {
    const WHAT: &str = "attention core";
    q.expect_same_kind(WHAT, k)?;
    q.expect_same_kind(WHAT, v)?;
    let rank3 = |t: &Tensor, name: &'static str| -> Result<[usize; 3]> {
        match *t.shape() {
            [a, b, c] if a > 0 && b > 0 && c > 0 => Ok([a, b, c]),
            _ => Err(kernels::Error::invalid_shape(
                name,
                t.shape(),
                "must be [batch, n, width] with every size > 0",
            )
            .into()),
        }
    };
    let [batch, n_q, s] = rank3(q, "attention core: q")?;
    let [bk, n_k, sk] = rank3(k, "attention core: k")?;
    let [bv, nv, e] = rank3(v, "attention core: v")?;
    if [bk, n_k, sk] != [batch, n_k, s] {
        return Err(Error::ShapeMismatch {
            what: "attention core: k",
            expected: vec![batch, n_k, s],
            got: k.shape().to_vec(),
        });
    }
    if [bv, nv] != [batch, n_k] {
        return Err(Error::ShapeMismatch {
            what: "attention core: v",
            expected: vec![batch, n_k, e],
            got: v.shape().to_vec(),
        });
    }
    Ok(Dims {
        batch,
        n_q,
        n_k,
        s,
        e,
    })
}

impl AttentionCore {
    fn plan(&self, mask: &Mask, d: &Dims) -> Result<RowPlan> {
        if !self.scale.is_finite() {
            return Err(Error::InvalidConfig(format!(
                "score scale must be finite, got {}",
                self.scale
            )));
        }
        if let CoreKind::Fused(t) = self.kind
            && (t.rows == 0 || t.keys == 0)
        {
            return Err(Error::InvalidConfig(format!(
                "fused core tiles must be positive, got {t:?}"
            )));
        }
        RowPlan::new(mask, d.batch, d.n_q, d.n_k, &self.norm, self.scale)
    }

    /// `C = Normalise(c·QKᵀ, mask)·V` and the cache for [`AttentionCore::backward`]; no
    /// dropout (exactly [`AttentionCore::forward_with_dropout`] with
    /// [`AttentionDropout::NONE`]).
    ///
    /// Errors: shapes that do not fit (see the module docs), masks of the wrong length, an
    /// invalid normalisation or scale, mixed dtypes or devices, device tensors for the
    /// materialising core (or in a build without the `cuda` feature, where none can exist).
    pub fn forward(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: &Mask,
    ) -> Result<(Tensor, CoreCache)> {
        self.forward_with_dropout(q, k, v, mask, AttentionDropout::NONE)
    }

    /// `C = (Normalise(c·QKᵀ, mask) ⊙ M/(1 − p))·V` with the attention dropout mask `M` of
    /// `dropout` (module docs of `dropout.rs`), and the cache for [`AttentionCore::backward`],
    /// which regenerates the same mask. `p = 0` runs the dropout-free code unchanged.
    ///
    /// Errors: as [`AttentionCore::forward`], and [`Error::InvalidConfig`] for `p ∉ [0, 1)`.
    pub fn forward_with_dropout(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: &Mask,
        dropout: AttentionDropout,
    ) -> Result<(Tensor, CoreCache)> {
        let d = dims(q, k, v)?;
        let plan = self.plan(mask, &d)?;
        dropout.resolve()?;
        let call = CoreCall {
            q,
            k,
            v,
            plan: &plan,
            d,
            form: self.norm.form(),
            dropout,
        };
        if let Storage::Cuda(_c) = q.storage() {
            return match self.kind {
                CoreKind::Fused(_) => kernels::on_cuda!(_c, cuda::forward(&call)),
                CoreKind::Materialized => Err(materialized_on_device()),
            };
        }
        match self.kind {
            CoreKind::Materialized => materialized::forward(&call),
            CoreKind::Fused(tiles) => fused::forward(&call, tiles),
        }
    }

    /// The attention matrix `A = Normalise(c·QKᵀ, mask)`, `[b, n_q, n_k]`, materialised (for
    /// inspection: entropies, the findings of spec §7). `q [b, n_q, s]`, `k [b, n_k, s]`.
    ///
    /// Errors: as [`AttentionCore::forward`].
    pub fn probabilities(&self, q: &Tensor, k: &Tensor, mask: &Mask) -> Result<Tensor> {
        if matches!(q.storage(), Storage::Cuda(_)) {
            return Err(materialized_on_device());
        }
        let v = k.try_clone()?;
        let d = dims(q, k, &v)?;
        let plan = self.plan(mask, &d)?;
        Ok(materialized::probabilities(q, k, &plan, self.norm.form())?.1)
    }

    /// Gradients `(dQ, dK, dV)` for the cotangent `dc [b, n_q, e]` (module docs). The cache must
    /// come from this core's forward on the same `q`, `k`, `v` and `mask`; the attention dropout
    /// it recorded is applied again (same mask).
    pub fn backward(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: &Mask,
        cache: &CoreCache,
        dc: &Tensor,
    ) -> Result<CoreGrads> {
        let d = dims(q, k, v)?;
        let plan = self.plan(mask, &d)?;
        q.expect_same_kind("attention core backward: dc", dc)?;
        let out_shape = [d.batch, d.n_q, d.e];
        if dc.shape() != out_shape {
            return Err(Error::ShapeMismatch {
                what: "attention core backward: dc",
                expected: out_shape.to_vec(),
                got: dc.shape().to_vec(),
            });
        }
        let call = CoreCall {
            q,
            k,
            v,
            plan: &plan,
            d,
            form: self.norm.form(),
            dropout: cache.dropout(),
        };
        match (self.kind, cache) {
            (CoreKind::Materialized, CoreCache::Materialized { scores, probs, .. }) => {
                if matches!(q.storage(), Storage::Cuda(_)) {
                    return Err(materialized_on_device());
                }
                materialized::backward(&call, scores, probs, dc)
            }
            (CoreKind::Fused(tiles), CoreCache::Fused { out, lse, .. }) => {
                out.expect_shape("attention core backward: cached output", &out_shape)?;
                lse.expect_shape("attention core backward: cached lse", &[d.batch, d.n_q])?;
                q.expect_same_kind("attention core backward: cached output", out)?;
                q.expect_same_kind("attention core backward: cached lse", lse)?;
                match q.storage() {
                    Storage::Cuda(_c) => {
                        kernels::on_cuda!(_c, cuda::backward(&call, out, lse, dc))
                    }
                    _ => fused_backward::backward(&call, tiles, out, lse, dc),
                }
            }
            _ => Err(Error::InvalidConfig(
                "the cache comes from the other core implementation".into(),
            )),
        }
    }
}

fn materialized_on_device() -> Error {
    Error::Unsupported {
        what: "materialising attention core",
        reason: "runs on the CPU only (its normalisation pass has no CUDA kernel); use the fused \
                 core (CoreKind::Fused) for device tensors"
            .into(),
    }
}
