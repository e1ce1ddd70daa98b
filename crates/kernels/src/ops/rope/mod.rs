//! Rotary position embedding (RoPE, Su et al., "RoFormer: Enhanced Transformer with Rotary
//! Position Embedding", 2021) over the last axis of `x: [.., n, s]`, `s` even.
//!
//! Row `r` of the `[rows, s]` view sits at position `p = offset + r mod n` (the row index
//! within its sequence of `n`, plus an optional offset for incremental decoding). For
//! `m = 0 … s/2 − 1`, with `θ_m = base^(−2m/s)` and angle `p·θ_m`, each pair `(a, b)` of
//! channels is rotated:
//!
//! ```text
//! y_a = x_a cos(pθ_m) − x_b sin(pθ_m)
//! y_b = x_b cos(pθ_m) + x_a sin(pθ_m)
//! ```
//!
//! where the pair is `(2m, 2m+1)` for [`RopeLayout::Interleaved`] (bert4keras / GAU-α) and
//! `(m, m + s/2)` for [`RopeLayout::HalfSplit`] (the FLASH paper's pseudo-code, GPT-NeoX).
//! See `spec/gau.md` §2.2.
//!
//! Backward: RoPE is a rotation (orthogonal and linear), so `dx = Rᵀ dy` is RoPE with `−θ`:
//! `dx_a = dy_a cos + dy_b sin`, `dx_b = dy_b cos − dy_a sin` (spec/gau.md §5).
//!
//! The angles and their cosines/sines are computed in f64 on every path (the CPU builds an
//! f64 table per call, the CUDA kernel uses double `sincos`) and rounded once to the tensor's
//! type, so f32 results are as accurate at position 4096 as at position 1.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::rope_ref;

use crate::{Error, Result, Tensor};

/// Which channels form a rotated pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RopeLayout {
    /// Pairs `(2m, 2m+1)`: bert4keras, GAU-α, RoFormer. The default.
    #[default]
    Interleaved,
    /// Pairs `(m, m + s/2)`: the FLASH paper's pseudo-code, GPT-NeoX, LLaMA's `rotate_half`.
    HalfSplit,
}

/// Options of [`rope_forward`] / [`rope_backward`]. `RopeOpts::default()` is GAU-α's RoPE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeOpts {
    /// Frequency base in `θ_m = base^(−2m/s)`; must be finite and > 0. Default 10000
    /// (Su et al. 2021, following Vaswani et al. 2017).
    pub base: f64,
    /// Pairing of channels. Default [`RopeLayout::Interleaved`].
    pub layout: RopeLayout,
    /// Position of the first row of each sequence (incremental decoding). Default 0.
    pub offset: usize,
}

impl Default for RopeOpts {
    fn default() -> Self {
        RopeOpts {
            base: 10000.0,
            layout: RopeLayout::Interleaved,
            offset: 0,
        }
    }
}

/// The validated geometry: `rows` rows of width `s`, sequences of `n` rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RopeGeom {
    /// Number of rows (read by the CUDA launcher).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub rows: usize,
    pub n: usize,
    pub s: usize,
}

fn geometry(op: &'static str, shape: &[usize], opts: &RopeOpts) -> Result<RopeGeom> {
    if !(opts.base.is_finite() && opts.base > 0.0) {
        return Err(Error::invalid(
            op,
            format!("base must be finite and > 0, got {}", opts.base),
        ));
    }
    let rank = shape.len();
    if rank < 2 {
        return Err(Error::invalid_shape(
            op,
            shape,
            "needs rank ≥ 2 ([.., n, s])",
        ));
    }
    let (n, s) = (shape[rank - 2], shape[rank - 1]);
    if s == 0 || s % 2 != 0 {
        return Err(Error::invalid_shape(
            op,
            shape,
            format!(
                "the last axis s = {s} must be even and positive (channels are rotated in pairs)"
            ),
        ));
    }
    let rows = shape[..rank - 1].iter().product();
    Ok(RopeGeom { rows, n, s })
}

fn rope(op: &'static str, x: &Tensor, opts: &RopeOpts, sign: f64) -> Result<Tensor> {
    let g = geometry(op, x.shape(), opts)?;
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::rope(v, &g, opts, sign), x.shape()),
        |c| cuda::rope(c, &g, opts, sign).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `y = RoPE_θ(x)` for `x: [.., n, s]`, `s` even (see the module docs). Same shape, dtype,
/// device as `x`.
pub fn rope_forward(x: &Tensor, opts: &RopeOpts) -> Result<Tensor> {
    rope("rope_forward", x, opts, 1.0)
}

/// `dx = RoPE_{−θ}(dy)`: the transpose (= inverse) of the forward rotation, with the same
/// `opts` as the forward.
pub fn rope_backward(dy: &Tensor, opts: &RopeOpts) -> Result<Tensor> {
    rope("rope_backward", dy, opts, -1.0)
}
