//! The fused core's backward, recomputing every score tile instead of storing `A`
//! (flash-attention style), in two race-free passes:
//!
//! 1. `dQ`: one task per (batch element, query tile), walking the key blocks;
//! 2. `dK`, `dV`: one task per (batch element, key tile), walking the query blocks.
//!
//! In each tile, with `x = q·k` recomputed and `dA = dC·Vᵀ` (module docs of `core`):
//! softmax forms `p = e^(α x − lse)`, `dx = α p (dA − D)` with `D_i = Σ_k dC_ik C_ik`;
//! relu² forms `p = β relu(α x)²`, `dx = 2 β α relu(α x) dA`. Then `dQ_i += Σ_j dx_ij k_j`,
//! `dK_j += Σ_i dx_ij q_i`, `dV_j += Σ_i p_ij dC_i`. With attention dropout the recomputed
//! `dC·Vᵀ` is `dA'`: the mask (regenerated from the seed) gives `dA = dA' ⊙ M/(1 − p)` before the
//! formulas above, and `p' = p ⊙ M/(1 − p)` in the `dV` sum. Scratch per task:
//! `2·rows·keys + (s + e)·keys` floats (pass 1) or `2·rows·keys + (s + e)·keys + rows·(s + e)`
//! (pass 2), independent of `n`.

use super::dropout::{AttentionDropout, Keep};
use super::tile::{add_weighted_rows, block_product, transpose_rows};
use super::{CoreGrads, Dims, Tiles};
use crate::mask::{Row, RowPlan};
use crate::norm::Form;
use crate::{Error, Result};
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

/// The host slices one backward works on.
struct Inputs<'a, F> {
    q: &'a [F],
    k: &'a [F],
    v: &'a [F],
    lse: &'a [F],
    dc: &'a [F],
    /// `D_i = Σ_k dC_ik C_ik` per row (softmax forms).
    dsum: &'a [F],
    /// The forward's dropout mask, `None` without dropout.
    drop: Option<Keep>,
}

/// Turns the recomputed scores `sc` and `dA'` of one `nr × nc` tile (keys `j0…`) into `p'` (in
/// `sc`, dropout applied) and `dx` (in `da`), zero where masked.
#[allow(clippy::too_many_arguments)]
fn tile_grads<F: Float>(
    rows: &[Row],
    row0: usize,
    inp: &Inputs<F>,
    plan: &RowPlan,
    b: usize,
    j0: usize,
    nc: usize,
    form: Form,
    sc: &mut [F],
    da: &mut [F],
) {
    let inv_keep = F::from_f64(inp.drop.map_or(1.0, |k| k.inv_keep));
    for (r, row) in rows.iter().enumerate() {
        let (p, g) = (&mut sc[r * nc..(r + 1) * nc], &mut da[r * nc..(r + 1) * nc]);
        let base = ((row0 + r) * plan.n_k + j0) as u64;
        if row.l == 0 {
            p.fill(F::zero());
            g.fill(F::zero());
            continue;
        }
        let alpha = F::from_f64(row.alpha);
        for c in 0..nc {
            let j = j0 + c;
            if !(j < row.lim && plan.key_real(b, j)) {
                p[c] = F::zero();
                g[c] = F::zero();
                continue;
            }
            // Without dropout this is the code as it was before dropout existed.
            let (gc, kept) = match inp.drop {
                None => (g[c], true),
                Some(keep) => {
                    let kept = keep.kept(base + c as u64);
                    (if kept { g[c] * inv_keep } else { F::zero() }, kept)
                }
            };
            match form {
                Form::Softmax => {
                    let pc = (alpha * p[c] - inp.lse[row0 + r]).exp();
                    g[c] = alpha * pc * (gc - inp.dsum[row0 + r]);
                    p[c] = pc;
                }
                Form::Relu2 => {
                    let beta = F::from_f64(row.beta);
                    let t = (alpha * p[c]).max(F::zero());
                    g[c] = (beta + beta) * alpha * t * gc;
                    p[c] = beta * t * t;
                }
            }
            if inp.drop.is_some() {
                p[c] = if kept { p[c] * inv_keep } else { F::zero() };
            }
        }
    }
}

fn backward_cpu<F: Float>(
    inp: &Inputs<F>,
    plan: &RowPlan,
    d: &Dims,
    form: Form,
    tiles: Tiles,
) -> (Vec<F>, Vec<F>, Vec<F>) {
    let Dims {
        batch,
        n_q,
        n_k,
        s,
        e,
    } = *d;
    let (br, bc) = (tiles.rows, tiles.keys);
    let mut dq = vec![F::zero(); batch * n_q * s];
    let mut dk = vec![F::zero(); batch * n_k * s];
    let mut dv = vec![F::zero(); batch * n_k * e];

    // Pass 1: dQ over query tiles.
    dq.par_chunks_mut(n_q * s)
        .enumerate()
        .for_each(|(b, dq_b)| {
            dq_b.par_chunks_mut(br * s)
                .enumerate()
                .for_each(|(t, dq_t)| {
                    let i0 = t * br;
                    let nr = dq_t.len() / s;
                    let row0 = b * n_q + i0;
                    let rows = &plan.rows[row0..row0 + nr];
                    let q_t = &inp.q[row0 * s..(row0 + nr) * s];
                    let dc_t = &inp.dc[row0 * e..(row0 + nr) * e];
                    let (k_b, v_b) = (&inp.k[b * n_k * s..], &inp.v[b * n_k * e..]);
                    let kmax = rows
                        .iter()
                        .filter(|r| r.l > 0)
                        .map(|r| r.lim)
                        .max()
                        .unwrap_or(0);
                    let mut kt = vec![F::zero(); s * bc];
                    let mut vt = vec![F::zero(); e * bc];
                    let mut sc = vec![F::zero(); nr * bc];
                    let mut da = vec![F::zero(); nr * bc];
                    for j0 in (0..kmax).step_by(bc) {
                        let nc = bc.min(kmax - j0);
                        transpose_rows(k_b, s, j0, nc, &mut kt[..s * nc]);
                        transpose_rows(v_b, e, j0, nc, &mut vt[..e * nc]);
                        block_product(q_t, s, &kt[..s * nc], nc, &mut sc[..nr * nc]);
                        block_product(dc_t, e, &vt[..e * nc], nc, &mut da[..nr * nc]);
                        tile_grads(
                            rows,
                            row0,
                            inp,
                            plan,
                            b,
                            j0,
                            nc,
                            form,
                            &mut sc[..nr * nc],
                            &mut da[..nr * nc],
                        );
                        for r in 0..nr {
                            add_weighted_rows(
                                &da[r * nc..(r + 1) * nc],
                                k_b,
                                s,
                                j0,
                                &mut dq_t[r * s..(r + 1) * s],
                            );
                        }
                    }
                });
        });

    // Pass 2: dK and dV over key tiles.
    dk.par_chunks_mut(n_k * s)
        .zip(dv.par_chunks_mut(n_k * e))
        .enumerate()
        .for_each(|(b, (dk_b, dv_b))| {
            dk_b.par_chunks_mut(bc * s)
                .zip(dv_b.par_chunks_mut(bc * e))
                .enumerate()
                .for_each(|(t, (dk_t, dv_t))| {
                    let j0 = t * bc;
                    let nc = dk_t.len() / s;
                    let (k_b, v_b) = (&inp.k[b * n_k * s..], &inp.v[b * n_k * e..]);
                    let mut kt = vec![F::zero(); s * nc];
                    let mut vt = vec![F::zero(); e * nc];
                    transpose_rows(k_b, s, j0, nc, &mut kt);
                    transpose_rows(v_b, e, j0, nc, &mut vt);
                    let mut sc = vec![F::zero(); br * nc];
                    let mut da = vec![F::zero(); br * nc];
                    // Transposed tiles (keys × rows) so the dK/dV updates are axpys too.
                    let mut pt = vec![F::zero(); nc * br];
                    let mut gt = vec![F::zero(); nc * br];
                    for i0 in (0..n_q).step_by(br) {
                        let nr = br.min(n_q - i0);
                        let row0 = b * n_q + i0;
                        let rows = &plan.rows[row0..row0 + nr];
                        if rows.iter().all(|r| r.l == 0 || r.lim <= j0) {
                            continue;
                        }
                        let q_t = &inp.q[row0 * s..(row0 + nr) * s];
                        let dc_t = &inp.dc[row0 * e..(row0 + nr) * e];
                        block_product(q_t, s, &kt, nc, &mut sc[..nr * nc]);
                        block_product(dc_t, e, &vt, nc, &mut da[..nr * nc]);
                        let (sc, da) = (&mut sc[..nr * nc], &mut da[..nr * nc]);
                        tile_grads(rows, row0, inp, plan, b, j0, nc, form, sc, da);
                        for r in 0..nr {
                            for c in 0..nc {
                                pt[c * nr + r] = sc[r * nc + c];
                                gt[c * nr + r] = da[r * nc + c];
                            }
                        }
                        for c in 0..nc {
                            let dv_row = &mut dv_t[c * e..(c + 1) * e];
                            add_weighted_rows(&pt[c * nr..(c + 1) * nr], inp.dc, e, row0, dv_row);
                            let dk_row = &mut dk_t[c * s..(c + 1) * s];
                            add_weighted_rows(&gt[c * nr..(c + 1) * nr], inp.q, s, row0, dk_row);
                        }
                    }
                });
        });
    (dq, dk, dv)
}

/// `D_i = Σ_k dC_ik C_ik`.
fn row_dots<F: Float>(dc: &[F], c: &[F], e: usize) -> Vec<F> {
    dc.par_chunks(e)
        .zip(c.par_chunks(e))
        .map(|(a, b)| a.iter().zip(b).map(|(&x, &y)| x * y).sum())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run<F: Float>(
    q: &[F],
    k: &[F],
    v: &[F],
    c: &[F],
    lse: &[F],
    dc: &[F],
    plan: &RowPlan,
    d: &Dims,
    form: Form,
    tiles: Tiles,
    drop: Option<Keep>,
) -> Result<CoreGrads> {
    let dsum = match form {
        Form::Softmax => row_dots(dc, c, d.e),
        Form::Relu2 => Vec::new(),
    };
    let inp = Inputs {
        q,
        k,
        v,
        lse,
        dc,
        dsum: &dsum,
        drop,
    };
    let (dq, dk, dv) = backward_cpu(&inp, plan, d, form, tiles);
    Ok(CoreGrads {
        dq: Tensor::from_vec(dq, &[d.batch, d.n_q, d.s])?,
        dk: Tensor::from_vec(dk, &[d.batch, d.n_k, d.s])?,
        dv: Tensor::from_vec(dv, &[d.batch, d.n_k, d.e])?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    plan: &RowPlan,
    d: &Dims,
    form: Form,
    tiles: Tiles,
    out: &Tensor,
    lse: &Tensor,
    dc: &Tensor,
    dropout: AttentionDropout,
) -> Result<CoreGrads> {
    use Storage::{F32, F64};
    let drop = dropout.resolve()?;
    match (
        q.storage(),
        k.storage(),
        v.storage(),
        out.storage(),
        lse.storage(),
        dc.storage(),
    ) {
        (F32(q), F32(k), F32(v), F32(c), F32(l), F32(g)) => {
            run(q, k, v, c, l, g, plan, d, form, tiles, drop)
        }
        (F64(q), F64(k), F64(v), F64(c), F64(l), F64(g)) => {
            run(q, k, v, c, l, g, plan, d, form, tiles, drop)
        }
        _ => Err(Error::Unsupported {
            what: "fused attention core backward",
            reason: "inputs, cache and dc must be host tensors of one dtype".into(),
        }),
    }
}
