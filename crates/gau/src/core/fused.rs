//! The fused core's forward (flash attention on the CPU): one rayon task per (batch element,
//! block of query rows); each task walks the key tiles its rows can see with two sequential
//! GEMMs per tile, `X = Q_blk·K_tileᵀ` and `C_blk += P·V_tile`, holding only one
//! `rows × keys` tile of scores, the transposed key tile and its rows' running statistics.
//! Scratch per task is `(rows + s)·keys + 2·rows` floats, independent of `n`.
//!
//! Softmax forms, per row (online softmax, spec/gau.md §6): for each tile, with `y = α x`,
//! `m' = max(m, max_tile y)`, `acc ← acc·e^(m−m')`, `ℓ ← ℓ·e^(m−m') + Σ_j e^(y_j−m')`, and the
//! tile's weights `p_j = e^(y_j−m')` go into `acc += p·V_tile`; at the end `c = acc/ℓ`,
//! `lse = m + ln ℓ`. Relu² forms: `p_j = β relu(α x_j)²`, `acc += p·V_tile` (no statistics).
//! Masked keys get weight 0.
//!
//! With attention dropout (`super::dropout`) each weight is first masked and scaled by
//! `1/(1 − p)`; the softmax statistics `m`, `ℓ` (and so `lse`) use the undropped weights,
//! since the mask multiplies the normalised `A`.

use super::dropout::Keep;
use super::tile::{View, gemm, transpose_into};
use super::{CoreCache, CoreCall, Dims, Tiles};
use crate::mask::RowPlan;
use crate::norm::Form;
use crate::{Error, Result};
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

/// The host slices and settings one forward works on.
#[derive(Clone, Copy)]
struct Host<'a, F> {
    q: &'a [F],
    k: &'a [F],
    v: &'a [F],
    plan: &'a RowPlan,
    d: &'a Dims,
    form: Form,
    tiles: Tiles,
    /// The dropout mask, `None` without dropout.
    drop: Option<Keep>,
}

/// One task: rows `i0 … i0+nr−1` of batch element `b` (`out [nr × e]`, `lse [nr]`).
fn forward_tile<F: Float>(h: &Host<'_, F>, b: usize, i0: usize, out: &mut [F], lse: &mut [F]) {
    let Host {
        q,
        k,
        v,
        plan,
        d,
        form,
        tiles,
        drop,
    } = *h;
    let (s, e, n_k) = (d.s, d.e, d.n_k);
    let nr = lse.len();
    let row0 = b * d.n_q + i0;
    let rows = &plan.rows[row0..row0 + nr];
    let q_tile = View::rows_of(q, s, row0, nr);
    let bc = tiles.keys;
    let inv_keep = F::from_f64(drop.map_or(1.0, |k| k.inv_keep));
    // Flat index of element (b, i0 + r, j) of the [b, n_q, n_k] attention: row_base(r) + j.
    let row_base = |r: usize| ((row0 + r) * n_k) as u64;
    let bc = bc.min(n_k);
    let mut sc = vec![F::zero(); nr * bc];
    let mut kt = vec![F::zero(); s * bc];
    let mut m = vec![F::neg_infinity(); nr];
    let mut l_sum = vec![F::zero(); nr];
    out.fill(F::zero());
    let kmax = rows
        .iter()
        .filter(|r| r.l > 0)
        .map(|r| r.lim)
        .max()
        .unwrap_or(0);
    for j0 in (0..kmax).step_by(bc) {
        let nc = bc.min(kmax - j0);
        let sc = &mut sc[..nr * nc];
        transpose_into(View::rows_of(k, s, b * n_k + j0, nc), &mut kt);
        gemm(q_tile, View::matrix(&kt, s, nc), sc, false);
        for (r, row) in rows.iter().enumerate() {
            let p = &mut sc[r * nc..(r + 1) * nc];
            if row.l == 0 {
                p.fill(F::zero());
                continue;
            }
            let alpha = F::from_f64(row.alpha);
            let vis = |c: usize| j0 + c < row.lim && plan.key_real(b, j0 + c);
            match form {
                Form::Softmax => {
                    let mut bmax = F::neg_infinity();
                    for (c, x) in p.iter_mut().enumerate() {
                        if vis(c) {
                            *x = alpha * *x;
                            bmax = bmax.max(*x);
                        }
                    }
                    if bmax == F::neg_infinity() {
                        p.fill(F::zero()); // nothing visible in this tile
                        continue;
                    }
                    let m_new = m[r].max(bmax);
                    let corr = (m[r] - m_new).exp();
                    if corr != F::one() {
                        out[r * e..(r + 1) * e].iter_mut().for_each(|a| *a *= corr);
                        l_sum[r] *= corr;
                    }
                    let mut sum = F::zero();
                    for (c, x) in p.iter_mut().enumerate() {
                        *x = if vis(c) {
                            (*x - m_new).exp()
                        } else {
                            F::zero()
                        };
                        sum += *x;
                    }
                    l_sum[r] += sum;
                    m[r] = m_new;
                }
                Form::Relu2 => {
                    let beta = F::from_f64(row.beta);
                    for (c, x) in p.iter_mut().enumerate() {
                        let t = (alpha * *x).max(F::zero());
                        *x = if vis(c) { beta * t * t } else { F::zero() };
                    }
                }
            }
            if let Some(keep) = drop {
                let base = row_base(r) + j0 as u64;
                for (c, x) in p.iter_mut().enumerate() {
                    *x = keep.apply(base + c as u64, *x, inv_keep);
                }
            }
        }
        let v_tile = View::rows_of(v, e, b * n_k + j0, nc);
        gemm(View::matrix(sc, nr, nc), v_tile, out, true);
    }
    for (r, row) in rows.iter().enumerate() {
        lse[r] = match (form, row.l) {
            (_, 0) => F::neg_infinity(),
            (Form::Relu2, _) => F::zero(),
            (Form::Softmax, _) => {
                let inv = l_sum[r].recip();
                out[r * e..(r + 1) * e].iter_mut().for_each(|a| *a *= inv);
                m[r] + l_sum[r].ln()
            }
        };
    }
}

fn forward_cpu<F: Float>(h: &Host<'_, F>) -> (Vec<F>, Vec<F>) {
    let (d, tiles) = (h.d, h.tiles);
    let (n_q, e) = (d.n_q, d.e);
    // Fewer row blocks than threads (short single sequences): smaller blocks, so that every
    // thread gets one.
    let threads = rayon::current_num_threads().max(1);
    let br = if d.batch * n_q.div_ceil(tiles.rows) < threads {
        n_q.div_ceil(threads.div_ceil(d.batch)).max(1)
    } else {
        tiles.rows
    };
    let mut out = vec![F::zero(); d.batch * n_q * e];
    let mut lse = vec![F::zero(); d.batch * n_q];
    out.par_chunks_mut(n_q * e)
        .zip(lse.par_chunks_mut(n_q))
        .enumerate()
        .for_each(|(b, (out_b, lse_b))| {
            out_b
                .par_chunks_mut(br * e)
                .zip(lse_b.par_chunks_mut(br))
                .enumerate()
                .for_each(|(t, (o, l))| forward_tile(h, b, t * br, o, l));
        });
    (out, lse)
}

/// [`forward_cpu`] for one call on the host slices `q, k, v`, as tensors `(C [b, n_q, e],
/// lse [b, n_q])`.
fn forward_host<F: Float>(
    [q, k, v]: [&[F]; 3],
    call: &CoreCall,
    tiles: Tiles,
    drop: Option<Keep>,
) -> Result<(Tensor, Tensor)> {
    let d = &call.d;
    let h = Host {
        q,
        k,
        v,
        plan: call.plan,
        d,
        form: call.form,
        tiles,
        drop,
    };
    let (o, l) = forward_cpu(&h);
    Ok((
        Tensor::from_vec(o, &[d.batch, d.n_q, d.e])?,
        Tensor::from_vec(l, &[d.batch, d.n_q])?,
    ))
}

pub(super) fn forward(call: &CoreCall, tiles: Tiles) -> Result<(Tensor, CoreCache)> {
    let (q, k, v, dropout) = (call.q, call.k, call.v, call.dropout);
    let drop = dropout.resolve()?;
    let (out, lse) = match (q.storage(), k.storage(), v.storage()) {
        (Storage::F32(q), Storage::F32(k), Storage::F32(v)) => {
            forward_host([q, k, v], call, tiles, drop)?
        }
        (Storage::F64(q), Storage::F64(k), Storage::F64(v)) => {
            forward_host([q, k, v], call, tiles, drop)?
        }
        _ => {
            return Err(Error::Unsupported {
                what: "fused attention core",
                reason: "q, k, v must be host tensors of one dtype".into(),
            });
        }
    };
    Ok((out.try_clone()?, CoreCache::Fused { out, lse, dropout }))
}
