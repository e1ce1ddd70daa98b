//! Converting a GAU layer between the two RoPE layouts (spec/gau.md §2.2).
//!
//! Interleaved RoPE rotates channel pairs `(2m, 2m+1)`, half-split RoPE pairs `(m, m + s/2)`.
//! Only `Q·Kᵀ` sees the rotated vectors, and a permutation `P` of the `s` channels applied to
//! both `Q` and `K` leaves `Q·Kᵀ` unchanged. With `P` = "even channels first, then odd"
//! (new channel `m` ← old `2m`, new `m + s/2` ← old `2m+1`), half-split RoPE of `P·x` equals
//! `P` applied to interleaved RoPE of `x`; so permuting the `Z` columns of `W_in` (and `b_in`)
//! and the entries of `γ_q, β_q, γ_k, β_k` by `P` converts an interleaved layer into a
//! half-split one with identical scores and outputs (and `P⁻¹` converts back).

use crate::layer::Gau;
use crate::{Error, Result};
use kernels::ops::rope::RopeLayout;
use kernels::{Float, Storage, Tensor};
use nn::{Linear, Param};

/// `perm[new] = old` for interleaved → half-split: `[0, 2, 4, …, 1, 3, 5, …]`.
fn even_then_odd(s: usize) -> Vec<usize> {
    (0..s / 2)
        .map(|m| 2 * m)
        .chain((0..s / 2).map(|m| 2 * m + 1))
        .collect()
}

/// Permutes the last `s` entries of every row of width `w` (the `Z` block): `new[off + i] =
/// old[off + perm[i]]` with `off = w − s`.
fn permute_tail<F: Float>(x: &[F], w: usize, perm: &[usize]) -> Vec<F> {
    let off = w - perm.len();
    let mut y = x.to_vec();
    for (row_y, row_x) in y.chunks_exact_mut(w).zip(x.chunks_exact(w)) {
        for (i, &p) in perm.iter().enumerate() {
            row_y[off + i] = row_x[off + p];
        }
    }
    y
}

fn permuted(t: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let w = *t.shape().last().expect("parameters have rank ≥ 1");
    match t.storage() {
        Storage::F32(v) => Ok(Tensor::from_vec(permute_tail(v, w, perm), t.shape())?),
        Storage::F64(v) => Ok(Tensor::from_vec(permute_tail(v, w, perm), t.shape())?),
        Storage::Cuda(_) => Err(Error::Unsupported {
            what: "convert_rope_layout",
            reason: "copy the layer to the CPU first".into(),
        }),
    }
}

fn param(p: &Param, perm: &[usize]) -> Result<Param> {
    Ok(Param::new(permuted(&p.value, perm)?, p.role))
}

fn copy(p: &Param) -> Result<Param> {
    Ok(Param::new(p.value.try_clone()?, p.role))
}

/// A copy of `gau` using RoPE layout `to`, with its `Z` channels permuted so that scores and
/// outputs are unchanged (module docs). Errors when the layer has no RoPE.
pub fn convert_rope_layout(gau: &Gau, to: RopeLayout) -> Result<Gau> {
    let from = gau
        .cfg
        .rope
        .ok_or_else(|| Error::InvalidConfig("convert_rope_layout: the layer has no RoPE".into()))?;
    let s = gau.cfg.s;
    let perm: Vec<usize> = match (from, to) {
        (a, b) if a == b => (0..s).collect(),
        (RopeLayout::Interleaved, RopeLayout::HalfSplit) => even_then_odd(s),
        (RopeLayout::HalfSplit, RopeLayout::Interleaved) => {
            let fwd = even_then_odd(s);
            let mut inv = vec![0; s];
            for (new, &old) in fwd.iter().enumerate() {
                inv[old] = new;
            }
            inv
        }
        _ => unreachable!("RopeLayout has two variants"),
    };
    let proj_in = Linear {
        w: param(&gau.proj_in.w, &perm)?,
        b: gau
            .proj_in
            .b
            .as_ref()
            .map(|b| param(b, &perm))
            .transpose()?,
    };
    let proj_out = Linear {
        w: copy(&gau.proj_out.w)?,
        b: gau.proj_out.b.as_ref().map(copy).transpose()?,
    };
    let mut cfg = gau.cfg;
    cfg.rope = Some(to);
    Ok(Gau {
        cfg,
        proj_in,
        gamma_q: param(&gau.gamma_q, &perm)?,
        beta_q: gau.beta_q.as_ref().map(|b| param(b, &perm)).transpose()?,
        gamma_k: param(&gau.gamma_k, &perm)?,
        beta_k: gau.beta_k.as_ref().map(|b| param(b, &perm)).transpose()?,
        proj_out,
    })
}
