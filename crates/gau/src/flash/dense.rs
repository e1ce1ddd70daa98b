//! The dense form of mixed chunk attention (spec/gau.md §3), materialised in f64: the reference
//! the chunked implementation is tested against.
//!
//! ```text
//! C = (A_loc + A_glob) V,   A_loc = N_loc(Qq Kqᵀ) on the block diagonal (chunks of c),
//!                           lower-triangular when causal; padded keys masked
//! A_glob,ij = w_g(i) · Ql_i·Kl_j  for real j with chunk(j) < chunk(i) (causal) or any j
//! ```
//!
//! Per row, the local normalisation sees the row's chunk as its whole key sequence: `l_i` the
//! visible keys there, `n_k = c`, the valid count = real keys of the chunk.

use super::chunked::{MixedChunkAttention, dims, key_validity};
use super::global::GlobalShape;
use crate::mask::Mask;
use crate::norm::Form;
use crate::{Error, Result};
use kernels::DType;
use kernels::Tensor;

/// `C [b, n, e]` by the dense form (module docs). f64 CPU tensors only; shapes as
/// [`MixedChunkAttention::forward`].
pub fn mixed_chunk_dense(
    att: &MixedChunkAttention,
    qq: &Tensor,
    kq: &Tensor,
    ql: &Tensor,
    kl: &Tensor,
    v: &Tensor,
    mask: &Mask,
) -> Result<Tensor> {
    let [b, n, s, e] = dims(qq, kq, ql, kl, v)?;
    let c = att.chunk;
    if c == 0 {
        return Err(Error::InvalidConfig("chunk size must be > 0".into()));
    }
    att.local.norm.validate()?;
    if qq.dtype() != DType::F64 {
        return Err(Error::Unsupported {
            what: "mixed_chunk_dense",
            reason: "the dense reference runs in f64 only".into(),
        });
    }
    let real = key_validity(mask, b, n)?;
    let (qq, kq, ql, kl, v) = (
        qq.to_vec::<f64>()?,
        kq.to_vec::<f64>()?,
        ql.to_vec::<f64>()?,
        kl.to_vec::<f64>()?,
        v.to_vec::<f64>()?,
    );
    let sh = GlobalShape {
        n,
        c,
        s,
        e,
        causal: mask.causal,
        denom: att.global,
    };
    let dot = |x: &[f64], i: usize, y: &[f64], j: usize| -> f64 {
        (0..s).map(|a| x[i * s + a] * y[j * s + a]).sum()
    };
    let mut out = vec![0.0; b * n * e];
    for bi in 0..b {
        let o = bi * n;
        let is_real = |j: usize| real[o + j];
        for i in 0..n {
            let g = i / c;
            let mut a = vec![0.0f64; n];
            // Local: keys of the same chunk.
            let chunk = g * c..((g + 1) * c).min(n);
            let vis: Vec<usize> = chunk
                .clone()
                .filter(|&j| is_real(j) && (!mask.causal || j <= i))
                .collect();
            let valid = chunk.filter(|&j| is_real(j)).count();
            if !vis.is_empty() {
                let (alpha, beta) =
                    att.local
                        .norm
                        .row_coefficients(att.local.scale, vis.len(), valid, c);
                let x: Vec<f64> = vis
                    .iter()
                    .map(|&j| alpha * dot(&qq, o + i, &kq, o + j))
                    .collect();
                match att.local.norm.form() {
                    Form::Softmax => {
                        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let z: f64 = x.iter().map(|t| (t - m).exp()).sum();
                        for (&j, t) in vis.iter().zip(&x) {
                            a[j] = (t - m).exp() / z;
                        }
                    }
                    Form::Relu2 => {
                        for (&j, t) in vis.iter().zip(&x) {
                            a[j] = beta * t.max(0.0).powi(2);
                        }
                    }
                }
            }
            // Global: earlier chunks (causal) or every chunk.
            let w = sh.weight(g);
            let lim = if mask.causal { g * c } else { n };
            for j in (0..lim).filter(|&j| is_real(j)) {
                a[j] += w * dot(&ql, o + i, &kl, o + j);
            }
            for (j, &aij) in a.iter().enumerate() {
                for f in 0..e {
                    out[(o + i) * e + f] += aij * v[(o + j) * e + f];
                }
            }
        }
    }
    Ok(Tensor::from_vec(out, &[b, n, e])?)
}
