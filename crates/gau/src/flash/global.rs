//! The global (linear) part of mixed chunk attention (spec/gau.md §3, backward §5), per batch
//! element, on the unpadded rows. With `P_h = Σ_{j ∈ chunk h, j real} k_jᵀ v_j` (`s × e`):
//!
//! ```text
//! non-causal: c_i = q_i · (Σ_h P_h) / n
//! causal:     c_i = q_i · (Σ_{h < g(i)} P_h) / ν_g(i)      (0 when g(i) = 0 or ν has no value)
//! ```
//!
//! Backward, with `S_g = Σ_{h<g} P_h` (or `Σ_h P_h` for every g, non-causal) and `w_g = 1/ν_g`:
//!
//! ```text
//! dq_i  = w_g(i) · S_g(i) · dc_i                       (S as s × e, so dq_i[a] = w Σ_f S[a,f] dc_i[f])
//! dS_g  = w_g Σ_{i ∈ g} q_iᵀ dc_i
//! dP_h  = Σ_{g > h} dS_g  (causal: a reverse exclusive prefix sum)   or  Σ_g dS_g  (non-causal)
//! dk_j  = dP_h(j) · v_j ,  dv_j = k_j · dP_h(j)        (real j only; padded keys get 0)
//! ```
//!
//! The causal passes keep one running `s × e` state (the forward's prefix sum, the backward's
//! reverse prefix sum), so memory does not grow with the number of chunks.

use kernels::Float;

/// How the causal global term is normalised: `ν_g` for chunk `g` (0-based), spec §3. The
/// non-causal term always divides by `n` (the unpadded sequence length): every reading agrees
/// there (all `n` tokens are summed; the paper's code and flash-pytorch both use `n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GlobalDenom {
    /// `ν_g = n`, the sequence length (the paper's pseudo-code).
    SeqLen,
    /// `ν_g = c`, the chunk size (flash-pytorch 0.1.9 divides each `P_h` by the group size).
    ChunkSize,
    /// `ν_g = g·c`, the number of positions summed (Su-FLASH's text); the term is 0 for `g = 0`.
    #[default]
    PrefixTokens,
}

/// The sizes and options of one global pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GlobalShape {
    /// Unpadded sequence length.
    pub n: usize,
    /// Chunk size.
    pub c: usize,
    pub s: usize,
    pub e: usize,
    pub causal: bool,
    pub denom: GlobalDenom,
}

impl GlobalShape {
    /// `w_g = 1/ν_g` for chunk `g`, or 0 when the term vanishes.
    pub fn weight(&self, g: usize) -> f64 {
        if !self.causal {
            return 1.0 / self.n as f64;
        }
        match self.denom {
            GlobalDenom::SeqLen => 1.0 / self.n as f64,
            GlobalDenom::ChunkSize => 1.0 / self.c as f64,
            GlobalDenom::PrefixTokens if g == 0 => 0.0,
            GlobalDenom::PrefixTokens => 1.0 / (g * self.c) as f64,
        }
    }

    fn groups(&self) -> usize {
        self.n.div_ceil(self.c)
    }

    fn rows(&self, g: usize) -> std::ops::Range<usize> {
        g * self.c..((g + 1) * self.c).min(self.n)
    }
}

/// `m[a, :] += w · x[a] · y[:]` for `m [x.len() × y.len()]`.
fn add_outer<F: Float>(m: &mut [F], x: &[F], y: &[F], w: F) {
    for (row, &xa) in m.chunks_exact_mut(y.len()).zip(x) {
        let f = w * xa;
        if f == F::zero() {
            continue;
        }
        row.iter_mut().zip(y).for_each(|(r, &yv)| *r += f * yv);
    }
}

/// `out[:] += w · Σ_a x[a] m[a, :]`.
fn add_vec_mat<F: Float>(out: &mut [F], x: &[F], m: &[F], w: F) {
    for (row, &xa) in m.chunks_exact(out.len()).zip(x) {
        let f = w * xa;
        if f == F::zero() {
            continue;
        }
        out.iter_mut().zip(row).for_each(|(o, &mv)| *o += f * mv);
    }
}

/// `out[a] += w · Σ_f m[a, f] y[f]`.
fn add_mat_vec<F: Float>(out: &mut [F], m: &[F], y: &[F], w: F) {
    for (o, row) in out.iter_mut().zip(m.chunks_exact(y.len())) {
        let dot: F = row.iter().zip(y).map(|(&a, &b)| a * b).sum();
        *o += w * dot;
    }
}

/// `out [n × e] += global(q, k, v)` for one batch element (`q, k [n × s]`, `v [n × e]`);
/// `real(j)` says whether key `j` is real.
pub(crate) fn forward<F: Float>(
    sh: &GlobalShape,
    q: &[F],
    k: &[F],
    v: &[F],
    real: &dyn Fn(usize) -> bool,
    out: &mut [F],
) {
    let (s, e) = (sh.s, sh.e);
    let mut state = vec![F::zero(); s * e];
    let add_chunk = |state: &mut [F], h: usize| {
        for j in sh.rows(h).filter(|&j| real(j)) {
            add_outer(
                state,
                &k[j * s..(j + 1) * s],
                &v[j * e..(j + 1) * e],
                F::one(),
            );
        }
    };
    if !sh.causal {
        (0..sh.groups()).for_each(|h| add_chunk(&mut state, h));
    }
    for g in 0..sh.groups() {
        let w = F::from_f64(sh.weight(g));
        if w != F::zero() {
            for i in sh.rows(g) {
                add_vec_mat(
                    &mut out[i * e..(i + 1) * e],
                    &q[i * s..(i + 1) * s],
                    &state,
                    w,
                );
            }
        }
        if sh.causal {
            add_chunk(&mut state, g);
        }
    }
}

/// Adds the global part's gradients to `dq, dk [n × s]`, `dv [n × e]` for the cotangent
/// `dc [n × e]` of one batch element (module docs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<F: Float>(
    sh: &GlobalShape,
    q: &[F],
    k: &[F],
    v: &[F],
    real: &dyn Fn(usize) -> bool,
    dc: &[F],
    dq: &mut [F],
    dk: &mut [F],
    dv: &mut [F],
) {
    let (s, e) = (sh.s, sh.e);
    let rows_s = |i: usize| i * s..(i + 1) * s;
    let rows_e = |i: usize| i * e..(i + 1) * e;
    // dS_g = w_g Σ_{i∈g} q_iᵀ dc_i, added into `acc`.
    let add_ds = |acc: &mut [F], g: usize| {
        let w = F::from_f64(sh.weight(g));
        if w != F::zero() {
            for i in sh.rows(g) {
                add_outer(acc, &q[rows_s(i)], &dc[rows_e(i)], w);
            }
        }
    };
    // dk_j, dv_j from dP for the real keys of chunk h.
    let apply_dp = |dp: &[F], h: usize, dk: &mut [F], dv: &mut [F]| {
        for j in sh.rows(h).filter(|&j| real(j)) {
            add_mat_vec(&mut dk[j * s..(j + 1) * s], dp, &v[rows_e(j)], F::one());
            add_vec_mat(&mut dv[rows_e(j)], &k[j * s..(j + 1) * s], dp, F::one());
        }
    };
    // Forward-order pass: dq from the prefix state.
    let mut state = vec![F::zero(); s * e];
    if !sh.causal {
        for j in (0..sh.n).filter(|&j| real(j)) {
            add_outer(&mut state, &k[j * s..(j + 1) * s], &v[rows_e(j)], F::one());
        }
    }
    for g in 0..sh.groups() {
        let w = F::from_f64(sh.weight(g));
        if w != F::zero() {
            for i in sh.rows(g) {
                add_mat_vec(&mut dq[i * s..(i + 1) * s], &state, &dc[rows_e(i)], w);
            }
        }
        if sh.causal {
            for j in sh.rows(g).filter(|&j| real(j)) {
                add_outer(&mut state, &k[j * s..(j + 1) * s], &v[rows_e(j)], F::one());
            }
        }
    }
    // dP: reverse exclusive prefix sum of dS (causal) or the total (non-causal).
    let mut dp = vec![F::zero(); s * e];
    if !sh.causal {
        (0..sh.groups()).for_each(|g| add_ds(&mut dp, g));
        (0..sh.groups()).for_each(|h| apply_dp(&dp, h, dk, dv));
        return;
    }
    for h in (0..sh.groups()).rev() {
        apply_dp(&dp, h, dk, dv);
        add_ds(&mut dp, h);
    }
}
