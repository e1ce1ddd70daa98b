//! The fused core's backward, recomputing every score tile from `lse` instead of storing `A`
//! (flash-attention style, on the CPU), in one pass of sequential GEMMs per tile.
//!
//! Work is split by key tiles: each key tile `j` owns its rows of `dK` and `dV` and walks the
//! query blocks that can see it. Per (query block, key tile), with `x = Q_blk·K_tileᵀ` and
//! `dA' = dC_blk·V_tileᵀ` recomputed by GEMM (module docs of `core`): softmax forms
//! `p = e^(α x − lse)`, `dx = α p (dA − D)` with `D_i = Σ_k dC_ik C_ik`; relu² forms
//! `p = β relu(α x)²`, `dx = 2 β α relu(α x) dA`. Then three GEMMs: `dV_tile += p'ᵀ·dC_blk`,
//! `dK_tile += dxᵀ·Q_blk`, `dQ_blk += dx·K_tile`. With attention dropout the mask (regenerated
//! from the seed) gives `dA = dA' ⊙ M/(1 − p)` before the formulas above, and
//! `p' = p ⊙ M/(1 − p)` in the `dV` product (`p' = p` without dropout).
//!
//! Parallelism, deterministic for a given thread count: with at least as many batch elements as
//! rayon threads, one task per batch element (writing its `dQ` directly); otherwise each batch
//! element's key tiles are dealt to `G` = threads groups in a fixed (snake) order, group 0
//! accumulates `dQ` in the output and the others in their own `n_q × s` buffers, which are added
//! afterwards in group order. Scratch: `2·rows·keys` floats per group plus `(G − 1)·n_q·s`, so
//! `O(n)` and never `n_q × n_k`.

use super::dropout::Keep;
use super::tile::{View, gemm, transpose_into};
use super::{CoreCall, CoreGrads, Dims, Tiles};
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
        if inp.drop.is_none() && plan.valid.is_none() {
            // No dropout, every key real: keys `j0 … lim−1` are visible. Same arithmetic as
            // the general loop below, without its per-element tests.
            let cv = row.lim.saturating_sub(j0).min(nc);
            match form {
                Form::Softmax => {
                    let (lse, dsum) = (inp.lse[row0 + r], inp.dsum[row0 + r]);
                    for (pc, gc) in p[..cv].iter_mut().zip(&mut g[..cv]) {
                        let pe = (alpha * *pc - lse).exp();
                        *gc = alpha * pe * (*gc - dsum);
                        *pc = pe;
                    }
                }
                Form::Relu2 => {
                    let beta = F::from_f64(row.beta);
                    for (pc, gc) in p[..cv].iter_mut().zip(&mut g[..cv]) {
                        let t = (alpha * *pc).max(F::zero());
                        *gc = (beta + beta) * alpha * t * *gc;
                        *pc = beta * t * t;
                    }
                }
            }
            p[cv..].fill(F::zero());
            g[cv..].fill(F::zero());
            continue;
        }
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

/// Per-group scratch: the score tile (later `dxᵀ`), the gradient tile, `p'ᵀ`, and the
/// transposed key and value tiles.
struct Scratch<F> {
    sc: Vec<F>,
    da: Vec<F>,
    pt: Vec<F>,
    kt: Vec<F>,
    vt: Vec<F>,
}

impl<F: Float> Scratch<F> {
    fn new(br: usize, bc: usize, d: &Dims) -> Self {
        let z = |n| vec![F::zero(); n];
        Scratch {
            sc: z(br * bc),
            da: z(br * bc),
            pt: z(br * bc),
            kt: z(d.s * bc),
            vt: z(d.e * bc),
        }
    }
}

/// One key tile (keys `j0 … j0+nc−1` of batch element `b`): walks the query blocks that see it,
/// adds into its own `dk_t [nc × s]`, `dv_t [nc × e]` and into `dq_b [n_q × s]`.
#[allow(clippy::too_many_arguments)]
fn key_tile<F: Float>(
    inp: &Inputs<F>,
    plan: &RowPlan,
    d: &Dims,
    form: Form,
    br: usize,
    b: usize,
    j0: usize,
    dk_t: &mut [F],
    dv_t: &mut [F],
    dq_b: &mut [F],
    w: &mut Scratch<F>,
) {
    let Dims { n_q, n_k, s, e, .. } = *d;
    let nc = dk_t.len() / s;
    let k_tile = View::rows_of(inp.k, s, b * n_k + j0, nc);
    transpose_into(k_tile, &mut w.kt);
    transpose_into(View::rows_of(inp.v, e, b * n_k + j0, nc), &mut w.vt);
    let (kt, vt) = (View::matrix(&w.kt, s, nc), View::matrix(&w.vt, e, nc));
    for i0 in (0..n_q).step_by(br) {
        let nr = br.min(n_q - i0);
        let row0 = b * n_q + i0;
        let rows = &plan.rows[row0..row0 + nr];
        if rows.iter().all(|r| r.l == 0 || r.lim <= j0) {
            continue;
        }
        let q_blk = View::rows_of(inp.q, s, row0, nr);
        let dc_blk = View::rows_of(inp.dc, e, row0, nr);
        let (sc, da) = (&mut w.sc[..nr * nc], &mut w.da[..nr * nc]);
        gemm(q_blk, kt, sc, false);
        gemm(dc_blk, vt, da, false);
        tile_grads(rows, row0, inp, plan, b, j0, nc, form, sc, da);
        // p' and dx transposed (the products below want untransposed operands, see `tile`);
        // p' is not needed after its transpose, so its buffer takes dxᵀ.
        transpose_into(View::matrix(&*sc, nr, nc), &mut w.pt);
        let dx = View::matrix(&*da, nr, nc);
        transpose_into(dx, sc);
        gemm(View::matrix(&w.pt, nc, nr), dc_blk, dv_t, true);
        gemm(View::matrix(&*sc, nc, nr), q_blk, dk_t, true);
        gemm(dx, k_tile, &mut dq_b[i0 * s..(i0 + nr) * s], true);
    }
}

/// The key tiles of one batch element dealt to `groups` groups in snake order (0, 1, …, G−1,
/// G−1, …, 0, 0, 1, …), which balances the causal mask's triangle.
fn group_of(t: usize, groups: usize) -> usize {
    let (round, pos) = (t / groups, t % groups);
    if round % 2 == 0 {
        pos
    } else {
        groups - 1 - pos
    }
}

/// A key tile's first key and its rows of `dK` and `dV`.
type KeyTileOut<'a, F> = (usize, &'a mut [F], &'a mut [F]);

/// One batch element's gradients with its key tiles spread over `groups` parallel groups.
#[allow(clippy::too_many_arguments)]
fn batch_element<F: Float>(
    inp: &Inputs<F>,
    plan: &RowPlan,
    d: &Dims,
    form: Form,
    tiles: Tiles,
    b: usize,
    groups: usize,
    dq_b: &mut [F],
    dk_b: &mut [F],
    dv_b: &mut [F],
) {
    let Dims { n_q, n_k, s, e, .. } = *d;
    let (br, bc) = (tiles.rows.min(n_q), tiles.keys.min(n_k));
    let mut work: Vec<Vec<KeyTileOut<F>>> = (0..groups).map(|_| Vec::new()).collect();
    for (t, (dk_t, dv_t)) in dk_b
        .chunks_mut(bc * s)
        .zip(dv_b.chunks_mut(bc * e))
        .enumerate()
    {
        work[group_of(t, groups)].push((t * bc, dk_t, dv_t));
    }
    let mut extra: Vec<Vec<F>> = (1..groups).map(|_| vec![F::zero(); n_q * s]).collect();
    let mut dq_parts: Vec<&mut [F]> = vec![&mut *dq_b];
    dq_parts.extend(extra.iter_mut().map(|x| x.as_mut_slice()));
    let run_group = |(tiles_g, dq): (Vec<KeyTileOut<F>>, &mut [F])| {
        let mut w = Scratch::new(br, bc, d);
        for (j0, dk_t, dv_t) in tiles_g {
            key_tile(inp, plan, d, form, br, b, j0, dk_t, dv_t, dq, &mut w);
        }
    };
    if groups == 1 {
        work.into_iter().zip(dq_parts).for_each(run_group);
        return;
    }
    work.into_par_iter().zip(dq_parts).for_each(run_group);
    // dQ = Σ_g dQ_g, added in group order.
    const CHUNK: usize = 4096;
    dq_b.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        for part in &extra {
            for (o, &x) in out.iter_mut().zip(&part[c * CHUNK..]) {
                *o += x;
            }
        }
    });
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
    let mut dq = vec![F::zero(); batch * n_q * s];
    let mut dk = vec![F::zero(); batch * n_k * s];
    let mut dv = vec![F::zero(); batch * n_k * e];
    let threads = rayon::current_num_threads().max(1);
    if batch >= threads {
        dq.par_chunks_mut(n_q * s)
            .zip(dk.par_chunks_mut(n_k * s))
            .zip(dv.par_chunks_mut(n_k * e))
            .enumerate()
            .for_each(|(b, ((dq_b, dk_b), dv_b))| {
                batch_element(inp, plan, d, form, tiles, b, 1, dq_b, dk_b, dv_b)
            });
    } else {
        let key_tiles = n_k.div_ceil(tiles.keys.min(n_k));
        let groups = threads.min(key_tiles);
        let per_batch = dq
            .chunks_mut(n_q * s)
            .zip(dk.chunks_mut(n_k * s))
            .zip(dv.chunks_mut(n_k * e));
        for (b, ((dq_b, dk_b), dv_b)) in per_batch.enumerate() {
            batch_element(inp, plan, d, form, tiles, b, groups, dq_b, dk_b, dv_b);
        }
    }
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

pub(super) fn backward(
    call: &CoreCall,
    tiles: Tiles,
    out: &Tensor,
    lse: &Tensor,
    dc: &Tensor,
) -> Result<CoreGrads> {
    use Storage::{F32, F64};
    let (q, k, v, plan, d, form, dropout) = call.parts();
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
