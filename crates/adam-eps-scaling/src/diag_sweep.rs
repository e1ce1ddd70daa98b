//! The one-step law at many batch sizes for diagonal H, coordinate-major (what [`crate::sweep`]
//! and `one_step` run when `H` is diagonal).
//!
//! With diagonal H, `mᵀg = Σ m_i g_i` and `T = Σ (v_i + m_i²) H_ii`: sums over coordinates of
//! per-(coordinate, B) terms. One rayon pass over fixed chunks of `CHUNK` coordinates loads
//! `g_i, σ_i², H_ii` once and loops over every batch size inside, adding into per-chunk
//! `[mᵀg; T]` arrays; the chunks are combined in index order, so the results do not depend on
//! the number of threads. The inputs are validated once. Each Rule × Moments pair gets its own
//! monomorphised inner loop (`CoordLaw`), compiled twice (portable and AVX2, picked at run time,
//! bit-identical results):
//! * SGD: closed-form summaries, `mᵀg = |g|²`, `T = gᵀHg + Σσ_i²H_ii/B` (the general law with
//!   `m = g`, `v = σ²/B`, summed in another order).
//! * Exact sign (ε = 0), Su 2024, mean field 2025: one branch-free closed form per (coordinate, B),
//!   vectorised across batch sizes ([`crate::moments::sign_exact_mv_fast`] for the sign).
//! * Exact SoftSign/AdamDiv: the allocation-free quadrature with reusable scratch.
//! * Clip (exact) and Monte Carlo: [`crate::moments::coordinate_mv`] per pair.
//!
//! The dimensionless `a = g√B/σ` and `b_ε = ε√B/σ` use `√B` and `1/σ` computed once, so they can
//! differ from the reference's `g/√(σ²/B)` in the last bits; `crate::one_step::sweep_reference`
//! is the straightforward per-B version this is tested against (`tests/fast_sweep.rs`).

use crate::adam_eps::{mean_field_2025_mv, su2024_mv};
use crate::error::{Result, check_batch};
use crate::moments::{coordinate_mv, sign_exact_mv_fast};
use crate::one_step::OneStep;
use crate::quadrature::{AdamDivF, CutNodes, Quadrature, SoftSignF};
use crate::rules::{Moments, Rule};
use crate::stats::GradStats;
use rayon::prelude::*;

/// Coordinates per rayon task (fixed: the summation order must not depend on the thread count).
const CHUNK: usize = 1024;

/// The valid batch sizes of a sweep and their square roots.
struct Grid {
    b: Vec<f64>,
    sqrt_b: Vec<f64>,
}

/// One coordinate: `g_i`, `σ_i²`, `H_ii`, `1/σ_i` (∞ when σ_i = 0) and its index.
#[derive(Clone, Copy)]
struct Coord {
    g: f64,
    s2: f64,
    h: f64,
    inv_sigma: f64,
    index: u64,
}

/// A per-coordinate inner loop: adds `m·g` to `num[j]` and `(v + m²)·H_ii` to `den[j]` for every
/// batch size `j` of the grid.
trait CoordLaw: Sync {
    fn add(&self, c: Coord, grid: &Grid, num: &mut [f64], den: &mut [f64], scratch: &mut CutNodes);
}

/// A closed form `(m, v)` of `(a, b_ε)`. `#[inline(always)]` impls: a closure or `Fn` call may be
/// left out of line, and then the loop over batch sizes neither vectorises nor runs as AVX2 code.
trait PairMv: Sync {
    fn mv(&self, a: f64, be: f64) -> (f64, f64);
}

/// Exact sign moments (erf).
struct SignMv;
/// Su 2024's approximate moments.
struct Su2024Mv;
/// Mean-field 2025 moments.
struct MeanField2025Mv;

impl PairMv for SignMv {
    #[inline(always)]
    fn mv(&self, a: f64, _: f64) -> (f64, f64) {
        sign_exact_mv_fast(a)
    }
}
impl PairMv for Su2024Mv {
    #[inline(always)]
    fn mv(&self, a: f64, be: f64) -> (f64, f64) {
        su2024_mv(a, be)
    }
}
impl PairMv for MeanField2025Mv {
    #[inline(always)]
    fn mv(&self, a: f64, be: f64) -> (f64, f64) {
        mean_field_2025_mv(a, be)
    }
}

/// A closed form per pair; `τ = 0` (σ = 0 or B = ∞) gives `m = f(g)`, `v = 0`.
struct Pairwise<M> {
    rule: Rule,
    eps: f64,
    mv: M,
}

impl<M: PairMv> CoordLaw for Pairwise<M> {
    #[inline(always)]
    fn add(&self, c: Coord, grid: &Grid, num: &mut [f64], den: &mut [f64], _: &mut CutNodes) {
        let det = self.rule.apply(c.g);
        for ((&sb, n), d) in grid.sqrt_b.iter().zip(num).zip(den) {
            let scale = sb * c.inv_sigma;
            // Evaluated for every lane and selected: no branch in the loop.
            let (m, v) = self.mv.mv(c.g * scale, self.eps * scale);
            let noisy = scale.is_finite();
            let m = if noisy { m } else { det };
            let v = if noisy { v } else { 0.0 };
            *n += m * c.g;
            *d += (v + m * m) * c.h;
        }
    }
}

/// Exact SoftSign / AdamDiv moments by the §8.3 quadrature.
struct Quad {
    rule: Rule,
    eps: f64,
    quad: &'static Quadrature,
}

impl Quad {
    #[inline(always)]
    fn mv(&self, a: f64, be: f64, scratch: &mut CutNodes) -> (f64, f64) {
        if be == 0.0 {
            return sign_exact_mv_fast(a);
        }
        let (m, q) = match self.rule {
            Rule::SoftSign { .. } => self
                .quad
                .integrate_with(a, be, &SoftSignF { b: be }, scratch),
            _ => self
                .quad
                .integrate_with(a, be, &AdamDivF { b: be }, scratch),
        };
        (m, (q - m * m).max(0.0))
    }
}

impl CoordLaw for Quad {
    #[inline(always)]
    fn add(&self, c: Coord, grid: &Grid, num: &mut [f64], den: &mut [f64], s: &mut CutNodes) {
        for ((&sb, n), d) in grid.sqrt_b.iter().zip(num).zip(den) {
            let scale = sb * c.inv_sigma;
            let (m, v) = if scale.is_finite() {
                self.mv(c.g * scale, self.eps * scale, s)
            } else {
                (self.rule.apply(c.g), 0.0)
            };
            *n += m * c.g;
            *d += (v + m * m) * c.h;
        }
    }
}

/// Anything else (Clip exact, Monte Carlo): [`coordinate_mv`] per pair.
struct PerPair {
    rule: Rule,
    how: Moments,
}

impl CoordLaw for PerPair {
    #[inline(always)]
    fn add(&self, c: Coord, grid: &Grid, num: &mut [f64], den: &mut [f64], _: &mut CutNodes) {
        for ((&b, n), d) in grid.b.iter().zip(num).zip(den) {
            let (m, v) = coordinate_mv(&self.rule, c.g, c.s2, b, &self.how, c.index);
            *n += m * c.g;
            *d += (v + m * m) * c.h;
        }
    }
}

/// `[mᵀg; T]` (length 2·nB) of one chunk of coordinates starting at index `first`.
#[inline(always)]
fn chunk_sums_inline<L: CoordLaw>(
    law: &L,
    grid: &Grid,
    cols: [&[f64]; 3],
    first: usize,
) -> Vec<f64> {
    let nb = grid.b.len();
    let mut out = vec![0.0; 2 * nb];
    let mut scratch = CutNodes::new();
    let (num, den) = out.split_at_mut(nb);
    let [g, s2, h] = cols;
    for (i, ((&g, &s2), &h)) in g.iter().zip(s2).zip(h).enumerate() {
        let inv_sigma = 1.0 / s2.sqrt();
        let index = (first + i) as u64;
        let c = Coord {
            g,
            s2,
            h,
            inv_sigma,
            index,
        };
        law.add(c, grid, num, den, &mut scratch);
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chunk_sums_avx2<L: CoordLaw>(law: &L, grid: &Grid, cols: [&[f64]; 3], first: usize) -> Vec<f64> {
    chunk_sums_inline(law, grid, cols, first)
}

fn chunk_sums<L: CoordLaw>(law: &L, grid: &Grid, cols: [&[f64]; 3], first: usize) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if crate::vecmath::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above).
        return unsafe { chunk_sums_avx2(law, grid, cols, first) };
    }
    chunk_sums_inline(law, grid, cols, first)
}

/// `(mᵀg, T)` at every batch size of the grid: chunks in parallel, combined in index order.
fn run<L: CoordLaw>(law: &L, st: &GradStats, d: &[f64], grid: &Grid) -> (Vec<f64>, Vec<f64>) {
    let nb = grid.b.len();
    let parts: Vec<Vec<f64>> =
        st.g.par_chunks(CHUNK)
            .zip(st.sigma2.par_chunks(CHUNK))
            .zip(d.par_chunks(CHUNK))
            .enumerate()
            .map(|(ci, ((g, s2), h))| chunk_sums(law, grid, [g, s2, h], ci * CHUNK))
            .collect();
    let (mut num, mut den) = (vec![0.0; nb], vec![0.0; nb]);
    for p in &parts {
        for j in 0..nb {
            num[j] += p[j];
            den[j] += p[nb + j];
        }
    }
    (num, den)
}

/// SGD: `mᵀg = |g|²`, `T = gᵀHg + (Σσ_i²H_ii)/B` (one pass, any number of batch sizes).
fn sgd_sums(st: &GradStats, d: &[f64], grid: &Grid) -> (Vec<f64>, Vec<f64>) {
    let parts: Vec<[f64; 3]> =
        st.g.par_chunks(CHUNK)
            .zip(st.sigma2.par_chunks(CHUNK))
            .zip(d.par_chunks(CHUNK))
            .map(|((g, s2), h)| {
                let mut acc = [0.0; 3];
                for ((&g, &s2), &h) in g.iter().zip(s2).zip(h) {
                    acc[0] += g * g;
                    acc[1] += g * g * h;
                    acc[2] += s2 * h;
                }
                acc
            })
            .collect();
    let t = parts
        .iter()
        .fold([0.0; 3], |t, p| [t[0] + p[0], t[1] + p[1], t[2] + p[2]]);
    let num = vec![t[0]; grid.b.len()];
    let den = grid.b.iter().map(|&b| t[1] + t[2] / b).collect();
    (num, den)
}

/// `(mᵀg, T)` at every batch size of the grid, with the inner loop specialised per rule.
fn sums(
    rule: &Rule,
    how: &Moments,
    st: &GradStats,
    d: &[f64],
    grid: &Grid,
) -> (Vec<f64>, Vec<f64>) {
    let eps = rule.eps().unwrap_or(0.0);
    let rule = *rule;
    match (rule, how) {
        (Rule::Sgd, _) => sgd_sums(st, d, grid),
        (_, Moments::Exact) if eps == 0.0 => run(
            &Pairwise {
                rule,
                eps,
                mv: SignMv,
            },
            st,
            d,
            grid,
        ),
        (Rule::SoftSign { .. } | Rule::AdamDiv { .. }, Moments::Exact) => {
            let quad = Quadrature::default_rule();
            run(&Quad { rule, eps, quad }, st, d, grid)
        }
        (_, Moments::Su2024) => run(
            &Pairwise {
                rule,
                eps,
                mv: Su2024Mv,
            },
            st,
            d,
            grid,
        ),
        (_, Moments::MeanField2025) => run(
            &Pairwise {
                rule,
                eps,
                mv: MeanField2025Mv,
            },
            st,
            d,
            grid,
        ),
        (_, how) => run(&PerPair { rule, how: *how }, st, d, grid),
    }
}

/// The one-step law at every batch size for diagonal `H = diag(d)` (`d.len() == st.len()`, checked
/// by the caller). Errors are per batch size and the same as `one_step`'s: an invalid ε,
/// then an invalid B, then invalid statistics, then no optimum.
pub(crate) fn diag_sweep(
    rule: &Rule,
    st: &GradStats,
    d: &[f64],
    batches: &[f64],
    how: &Moments,
) -> Vec<Result<OneStep>> {
    let rule_ok = rule.validate();
    let stats_ok = st.validate();
    let ok = |b: f64| rule_ok.is_ok() && check_batch(b).is_ok() && stats_ok.is_ok();
    let b: Vec<f64> = batches.iter().copied().filter(|&b| ok(b)).collect();
    let (num, den) = if b.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let sqrt_b = b.iter().map(|b| b.sqrt()).collect();
        sums(rule, how, st, d, &Grid { b, sqrt_b })
    };
    let mut next = 0;
    batches
        .iter()
        .map(|&b| {
            rule_ok.clone()?;
            check_batch(b)?;
            stats_ok.clone()?;
            next += 1;
            OneStep::from_parts(num[next - 1], den[next - 1])
        })
        .collect()
}
