use super::*;
use crate::ops::matmul::{MatmulDims, matmul_forward_ref};
use crate::testing::*;

/// Small blocks, so that tiny shapes cross every block edge (`mc`, `kc`, `nc`, `MR`, `NR`).
const SMALL: Blocking = Blocking {
    mc: 12,
    kc: 7,
    nc: 32,
};

/// Blocks that hold full 8-step register transposes and a remainder in the packing.
const MID: Blocking = Blocking {
    mc: 18,
    kc: 19,
    nc: 48,
};

/// `(m, k, n)`: 1, primes, sizes off every multiple of 6, 16 and the small blocks.
const SIZES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 5, 17),
    (7, 1, 3),
    (6, 16, 16),
    (13, 37, 41),
    (29, 15, 33),
    (50, 70, 90),
];

fn cpu() -> Avx2Fma {
    Avx2Fma::detect().expect("these tests need AVX2 and FMA")
}

/// Inputs of one product: `X` stored `m×k` (`k×m` when `tx`), `Y` `k×n` (`n×k` when `ty`),
/// and a starting `C`, all f32-representable f64 values.
fn inputs(m: usize, k: usize, n: usize, seed: u64) -> [Vec<f64>; 3] {
    let mut r = rng(seed);
    let f = |v: Vec<f64>| to_f64(&to_f32(&v));
    [
        f(randn(&mut r, m * k)),
        f(randn(&mut r, k * n)),
        f(randn(&mut r, m * n)),
    ]
}

/// Runs `sgemm_blocked` on the f32 inputs and returns `C`.
#[allow(clippy::too_many_arguments)]
fn run(
    bl: Blocking,
    (m, k, n): (usize, usize, usize),
    tx: bool,
    ty: bool,
    [x, y, c0]: &[Vec<f64>; 3],
    accumulate: bool,
    parallel: bool,
) -> Vec<f32> {
    let (x, y) = (to_f32(x), to_f32(y));
    let mut c = to_f32(c0);
    let (xs, ys) = (Strided::op(&x, m, k, tx), Strided::op(&y, k, n, ty));
    sgemm_blocked(cpu(), bl, xs, ys, &mut c, accumulate, parallel);
    c
}

/// The f64 reference of the same product (plus `C` when accumulating).
fn reference(
    mkn: (usize, usize, usize),
    tx: bool,
    ty: bool,
    v: &[Vec<f64>; 3],
    add: bool,
) -> Vec<f64> {
    let (m, k, n) = mkn;
    let d = MatmulDims {
        batch: 1,
        m,
        k,
        n,
        trans_a: tx,
        trans_b: ty,
        broadcast_b: false,
    };
    let mut out = matmul_forward_ref(&v[0], &v[1], &d);
    if add {
        out.iter_mut().zip(&v[2]).for_each(|(o, c)| *o += c);
    }
    out
}

#[test]
fn matches_the_reference_in_every_layout_and_blocking() {
    for (si, &mkn) in SIZES.iter().enumerate() {
        for (tx, ty) in [(false, false), (false, true), (true, false), (true, true)] {
            let v = inputs(mkn.0, mkn.1, mkn.2, 100 + si as u64);
            for accumulate in [false, true] {
                let want = reference(mkn, tx, ty, &v, accumulate);
                for bl in [SMALL, MID, Blocking::DEFAULT] {
                    for parallel in [false, true] {
                        let got = run(bl, mkn, tx, ty, &v, accumulate, parallel);
                        let what = format!("{mkn:?} tx={tx} ty={ty} add={accumulate} {bl:?}");
                        // The bound of the matmul tests: 1e-6·k absolute, 1e-5 relative.
                        assert_close(&what, &got, &want, 1e-6 * mkn.1 as f64, 1e-5);
                    }
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mkn = (61, 47, 83);
    let v = inputs(mkn.0, mkn.1, mkn.2, 7);
    for bl in [SMALL, MID, Blocking::DEFAULT] {
        for (tx, ty) in [(false, false), (true, true)] {
            for accumulate in [false, true] {
                let on = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    pool.install(|| run(bl, mkn, tx, ty, &v, accumulate, true))
                };
                let one = on(1);
                assert_eq!(one, on(3), "{bl:?} tx={tx} ty={ty} add={accumulate}");
                assert_eq!(one, run(bl, mkn, tx, ty, &v, accumulate, false));
                let want = reference(mkn, tx, ty, &v, accumulate);
                assert_close("threads", &one, &want, 1e-6 * mkn.1 as f64, 1e-5);
            }
        }
    }
}

#[test]
fn empty_contraction_replaces_with_zero_or_adds_nothing() {
    let (m, n) = (5, 19);
    let c0: Vec<f32> = (0..m * n).map(|i| i as f32).collect();
    for accumulate in [false, true] {
        let mut c = c0.clone();
        let (xs, ys) = (Strided::op(&[], m, 0, false), Strided::op(&[], 0, n, true));
        sgemm_blocked(cpu(), SMALL, xs, ys, &mut c, accumulate, true);
        let want = if accumulate {
            c0.clone()
        } else {
            vec![0.0; m * n]
        };
        assert_eq!(c, want, "add={accumulate}");
    }
}

#[test]
fn batched_and_batch_summed_products_through_the_cpu_gemm() {
    use crate::ops::matmul::{cpu, plan::GemmPlan};
    // k < 4n or tx: the products go to this kernel (see `cpu::gemm_one`); `Add` runs in the
    // batch sum.
    let (batch, m, k, n) = (3, 13, 11, 29);
    for (tx, ty) in [(false, false), (false, true), (true, false), (true, true)] {
        for sum in [false, true] {
            let d = MatmulDims {
                batch,
                m,
                k,
                n,
                trans_a: tx,
                trans_b: ty,
                broadcast_b: false,
            };
            let (la, lb, _) = d.lens();
            let mut r = rng(5 + tx as u64 * 2 + ty as u64);
            let (x, y) = (
                to_f64(&to_f32(&randn(&mut r, la))),
                to_f64(&to_f32(&randn(&mut r, lb))),
            );
            let mut want = matmul_forward_ref(&x, &y, &d);
            if sum {
                let (head, rest) = want.split_at_mut(m * n);
                for entry in rest.chunks(m * n) {
                    head.iter_mut().zip(entry).for_each(|(h, e)| *h += e);
                }
                want.truncate(m * n);
            }
            let p = GemmPlan::new(batch, m, n, k, tx, ty, true, true, sum);
            let mut c = vec![f32::NAN; p.out_len()];
            cpu::gemm(&p, &to_f32(&x), &to_f32(&y), &mut c);
            let bound = 1e-6 * (k * if sum { batch } else { 1 }) as f64;
            assert_close(
                &format!("tx={tx} ty={ty} sum={sum}"),
                &c,
                &want,
                bound,
                1e-5,
            );
        }
    }
}
