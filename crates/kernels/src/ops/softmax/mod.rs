//! Row softmax over the last axis, with a logit scale and optional padding and causal masks.
//!
//! `x` is viewed as `[rows, n]` (`n` = the last axis). For each row, with `c` the logit scale
//! and `V` the set of visible keys,
//!
//! ```text
//! y_j = exp(c·x_j − m) / Σ_{k∈V} exp(c·x_k − m)   for j ∈ V,   m = max_{k∈V} c·x_k
//! y_j = 0                                          for j ∉ V   (exactly zero)
//! ```
//!
//! Masks ([`SoftmaxOpts`]):
//! * padding: `key_lengths[b]` is the valid key count of leading batch element `b`
//!   (`x.shape()[0]` elements, each `rows / shape[0]` rows); keys `j ≥ key_lengths[b]` are masked;
//! * causal: for a score tensor `[.., n_q, n_k]`, query row `i` sees keys `j ≤ i + (n_k − n_q)`
//!   (with `n_q = n_k` the usual lower triangle; with `n_k > n_q` the queries are the last `n_q`
//!   positions of the key sequence, as in incremental decoding).
//!
//! Both masks hide a suffix of the row, so every row has a visible prefix `[0, L)`.
//! **A fully masked row (`L = 0`) outputs all zeros**, and its gradient is zero; so does a row
//! whose visible logits are all `−∞` (inputs are otherwise expected to be finite).
//!
//! Numerically stable: the row maximum is subtracted before `exp` (the CUDA kernel keeps a
//! running max and rescales its running sum, one pass over the row), so `softmax([1234, 0])`
//! is `[1, 0]`.
//!
//! Backward (from the output `y`): `dx = c · y ⊙ (dy − Σ_j y_j·dy_j)`. Masked entries have
//! `y = 0` and so get `dx = 0`; the masks need not be passed again.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{softmax_backward_ref, softmax_forward_ref};

use crate::{Error, Result, Tensor};

/// Options of [`softmax_forward`]. `SoftmaxOpts::default()` is a plain softmax.
#[derive(Clone, Copy, Debug)]
pub struct SoftmaxOpts<'a> {
    /// Logit scale `c` in `y = softmax(c·x)`; must be finite. Default 1.
    pub scale: f64,
    /// Causal mask over the last two axes `[.., n_q, n_k]`: row `i` sees keys
    /// `j ≤ i + (n_k − n_q)`. Needs rank ≥ 2. Default off.
    pub causal: bool,
    /// Valid key count per leading batch element (`len == x.shape()[0]`, each `≤ n_k`); keys
    /// `j ≥ key_lengths[b]` are masked. Needs rank ≥ 2. Default `None` (no padding).
    pub key_lengths: Option<&'a [usize]>,
}

impl Default for SoftmaxOpts<'_> {
    fn default() -> Self {
        SoftmaxOpts {
            scale: 1.0,
            causal: false,
            key_lengths: None,
        }
    }
}

/// The validated row geometry: which prefix `[0, L)` of each row is visible.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowMask<'a> {
    /// Number of rows (read by the CUDA launcher).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub rows: usize,
    pub n: usize,
    /// Number of query rows per score matrix (`shape[rank−2]`), used by the causal mask.
    pub n_q: usize,
    pub causal: bool,
    /// Rows per leading batch element, used by the padding mask.
    pub rows_per_batch: usize,
    pub lengths: Option<&'a [usize]>,
}

impl RowMask<'_> {
    /// The visible prefix length of row `r`.
    #[inline]
    pub fn visible(&self, r: usize) -> usize {
        let mut l = self.n;
        if let Some(lens) = self.lengths {
            l = l.min(lens[r / self.rows_per_batch]);
        }
        if self.causal {
            // j ≤ i + n − n_q  ⇔  j < i + 1 + n − n_q.
            l = l.min((r % self.n_q + 1 + self.n).saturating_sub(self.n_q));
        }
        l
    }
}

fn row_mask<'a>(op: &'static str, shape: &[usize], opts: &SoftmaxOpts<'a>) -> Result<RowMask<'a>> {
    if !opts.scale.is_finite() {
        return Err(Error::invalid(
            op,
            format!("scale must be finite, got {}", opts.scale),
        ));
    }
    let rank = shape.len();
    if rank == 0 {
        return Err(Error::invalid_shape(op, shape, "needs rank ≥ 1"));
    }
    let n = shape[rank - 1];
    let numel: usize = shape.iter().product();
    let rows = numel.checked_div(n).unwrap_or(0);
    if (opts.causal || opts.key_lengths.is_some()) && rank < 2 {
        return Err(Error::invalid_shape(
            op,
            shape,
            "masks need rank ≥ 2 ([batch.., n_q, n_k])",
        ));
    }
    let n_q = if rank >= 2 { shape[rank - 2] } else { 1 };
    let mut rows_per_batch = rows.max(1);
    if let Some(lens) = opts.key_lengths {
        if lens.len() != shape[0] {
            return Err(Error::invalid(
                op,
                format!(
                    "key_lengths has {} entries but the leading axis is {}",
                    lens.len(),
                    shape[0]
                ),
            ));
        }
        if let Some((b, &l)) = lens.iter().enumerate().find(|&(_, &l)| l > n) {
            return Err(Error::invalid(
                op,
                format!("key_lengths[{b}] = {l} exceeds the key axis {n}"),
            ));
        }
        rows_per_batch = (rows / shape[0].max(1)).max(1);
    }
    Ok(RowMask {
        rows,
        n,
        n_q: n_q.max(1),
        causal: opts.causal,
        rows_per_batch,
        lengths: opts.key_lengths,
    })
}

/// `y = softmax(c·x)` over the last axis with the masks of `opts` (see the module docs).
/// Same shape, dtype and device as `x`.
pub fn softmax_forward(x: &Tensor, opts: &SoftmaxOpts) -> Result<Tensor> {
    let mask = row_mask("softmax_forward", x.shape(), opts)?;
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::softmax_forward(v, opts.scale, &mask), x.shape()),
        |c| cuda::softmax_forward(c, opts.scale, &mask)
            .and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `dx = c · y ⊙ (dy − Σ_j y_j·dy_j)` per row, from the forward output `y` and the upstream
/// gradient `dy` (same shape, dtype, device); `scale` is the forward's `c`.
///
/// Derivation: `∂y_j/∂z_k = y_j(δ_jk − y_k)` with `z = c·x`, so
/// `dz_k = Σ_j dy_j y_j(δ_jk − y_k) = y_k(dy_k − Σ_j y_j dy_j)` and `dx = c·dz`. Masked keys
/// have `y = 0` and so `dx = 0`.
pub fn softmax_backward(y: &Tensor, dy: &Tensor, scale: f64) -> Result<Tensor> {
    y.expect_like("softmax_backward", dy)?;
    let plain = SoftmaxOpts {
        scale,
        ..Default::default()
    };
    let mask = row_mask("softmax_backward", y.shape(), &plain)?;
    dispatch2!(
        "softmax_backward",
        y,
        dy,
        |a, b| Tensor::from_vec(cpu::softmax_backward(a, b, scale, mask.n), y.shape()),
        |a, b| cuda::softmax_backward(a, b, scale, &mask)
            .and_then(|s| Tensor::from_cuda(s, y.shape()))
    )
}
