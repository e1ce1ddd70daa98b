//! Attention dropout: fused == materialised with dropout on (forward and backward), finite
//! differences with dropout on (the mask is fixed for a fixed seed), `p = 0` is the dropout-free
//! path bit for bit, and the mask itself (positions equal `kernels`' dropout mask, keep fraction
//! ≈ 1 − p).

use super::*;
use kernels::DType;
use kernels::ops::dropout::dropout_mask;
use kernels::testing::{randn, rng};

/// `[out, dq, dk, dv]` as f64 vectors for one core, dtype and dropout.
#[allow(clippy::too_many_arguments)]
fn run(
    c: AttentionCore,
    d: Dims,
    x: &[Vec<f64>; 4],
    mask: &Mask,
    dropout: AttentionDropout,
    dt: DType,
) -> [Vec<f64>; 4] {
    let shapes = [
        [d.batch, d.n_q, d.s],
        [d.batch, d.n_k, d.s],
        [d.batch, d.n_k, d.e],
        [d.batch, d.n_q, d.e],
    ];
    let t = |i: usize| t64(&x[i], &shapes[i]).to_dtype(dt).unwrap();
    let (q, k, v, dc) = (t(0), t(1), t(2), t(3));
    let (out, cache) = c.forward_with_dropout(&q, &k, &v, mask, dropout).unwrap();
    assert_eq!(cache.dropout(), dropout);
    let g = c.backward(&q, &k, &v, mask, &cache, &dc).unwrap();
    [out, g.dq, g.dk, g.dv].map(|x| x.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap())
}

fn all_inputs(d: Dims, seed: u64) -> [Vec<f64>; 4] {
    let [q, k, v] = inputs(d, seed, 1.0);
    let dc = randn(&mut rng(seed + 100), d.batch * d.n_q * d.e);
    [q, k, v, dc]
}

#[test]
fn fused_matches_materialized_with_dropout() {
    let d = DIMS;
    let x = all_inputs(d, 21);
    let drop = AttentionDropout::new(0.3, 0xfeed);
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            let want = run(
                core(norm, CoreKind::Materialized, d.s),
                d,
                &x,
                &mask,
                drop,
                DType::F64,
            );
            let plain = run(
                core(norm, CoreKind::Materialized, d.s),
                d,
                &x,
                &mask,
                AttentionDropout::NONE,
                DType::F64,
            );
            // Dropout changes the output (p = 0.3 on ≥ 50 visible entries).
            assert!(
                max_abs_diff(&want[0], &plain[0]) > 1e-3,
                "{norm:?} {mask:?}"
            );
            for kind in [CoreKind::Fused(ODD_TILES), CoreKind::default()] {
                let got = run(core(norm, kind, d.s), d, &x, &mask, drop, DType::F64);
                for (name, (a, b)) in ["c", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
                    let err = max_abs_diff(a, b);
                    assert!(err < 1e-12, "{norm:?} {mask:?} {kind:?} {name}: {err:e}");
                }
            }
        }
    }
}

#[test]
fn gradcheck_with_dropout() {
    let worst = gradcheck_sweep(AttentionDropout::new(0.25, 7), 22);
    eprintln!("core gradcheck with dropout 0.25: worst relative error {worst:.2e}");
}

/// `p = 0` with any seed is the dropout-free forward and backward, bit for bit, in f32 and f64.
#[test]
fn p_zero_is_the_dropout_free_path_bit_for_bit() {
    let d = DIMS;
    let x = all_inputs(d, 23);
    for norm in [
        Normalization::SoftmaxPlus { floor: 1 },
        Normalization::Relu2OverLen,
    ] {
        for mask in masks(d.n_k) {
            for kind in [CoreKind::Materialized, CoreKind::Fused(ODD_TILES)] {
                for dt in [DType::F32, DType::F64] {
                    let c = core(norm, kind, d.s);
                    let off = run(c, d, &x, &mask, AttentionDropout::NONE, dt);
                    let zero = run(c, d, &x, &mask, AttentionDropout::new(0.0, 99), dt);
                    let bits = |v: &[Vec<f64>; 4]| {
                        v.iter()
                            .flat_map(|t| t.iter().map(|x| x.to_bits()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&off), bits(&zero), "{norm:?} {mask:?} {kind:?} {dt:?}");
                }
            }
        }
    }
}

/// With `V = I` (e = n_k) the output is `A' = A ⊙ M/(1 − p)` itself: its zero pattern is the
/// keep mask, which must be `kernels`' dropout mask of a `[b, n_q, n_k]` tensor, with a keep
/// fraction near `1 − p`; kept entries equal `A/(1 − p)`.
#[test]
fn mask_is_kernels_dropout_mask_with_keep_fraction_one_minus_p() {
    let (b, n) = (2, 64);
    let d = Dims {
        batch: b,
        n_q: n,
        n_k: n,
        s: 4,
        e: n,
    };
    let [q, k, _] = inputs(d, 24, 0.5);
    let eye: Vec<f64> = (0..b * n * n)
        .map(|x| ((x / n) % n == x % n) as u8 as f64)
        .collect();
    let (qt, kt, vt) = (
        t64(&q, &[b, n, 4]),
        t64(&k, &[b, n, 4]),
        t64(&eye, &[b, n, n]),
    );
    let norm = Normalization::Softmax;
    for (p, seed) in [(0.1, 1u64), (0.5, 2), (0.1, 3)] {
        let drop = AttentionDropout::new(p, seed);
        let want_mask = dropout_mask(b * n * n, p, seed).unwrap();
        for kind in [CoreKind::Materialized, CoreKind::Fused(ODD_TILES)] {
            let c = core(norm, kind, d.s);
            let a = c.probabilities(&qt, &kt, &Mask::none()).unwrap();
            let a = a.to_vec::<f64>().unwrap();
            let got = c
                .forward_with_dropout(&qt, &kt, &vt, &Mask::none(), drop)
                .unwrap()
                .0
                .to_vec::<f64>()
                .unwrap();
            let mut kept = 0usize;
            for (idx, (&g, &keep)) in got.iter().zip(&want_mask).enumerate() {
                let want = if keep { a[idx] / (1.0 - p) } else { 0.0 };
                assert!((g - want).abs() < 1e-14, "{kind:?} p={p} element {idx}");
                kept += (g != 0.0) as usize;
            }
            let frac = kept as f64 / (b * n * n) as f64;
            // 8192 Bernoulli draws: standard error ≤ 0.0056; allow 4 of them.
            let se = (p * (1.0 - p) / (b * n * n) as f64).sqrt();
            eprintln!(
                "p = {p}, seed {seed}, {kind:?}: keep fraction {frac:.4} (1 − p ± 4σ: ±{:.4})",
                4.0 * se
            );
            assert!(
                (frac - (1.0 - p)).abs() < 4.0 * se,
                "{kind:?} p={p}: {frac}"
            );
        }
    }
    // Different seeds give different masks.
    assert_ne!(
        dropout_mask(b * n * n, 0.1, 1).unwrap(),
        dropout_mask(b * n * n, 0.1, 3).unwrap()
    );
}

#[test]
fn bad_dropout_is_a_typed_error() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 25, 1.0);
    let (qt, kt, vt) = (
        t64(&q, &[d.batch, d.n_q, d.s]),
        t64(&k, &[d.batch, d.n_k, d.s]),
        t64(&v, &[d.batch, d.n_k, d.e]),
    );
    for kind in [CoreKind::Materialized, CoreKind::default()] {
        let c = core(Normalization::Softmax, kind, d.s);
        for p in [1.0, -0.1, f64::NAN, 2.0] {
            assert!(
                matches!(
                    c.forward_with_dropout(
                        &qt,
                        &kt,
                        &vt,
                        &Mask::none(),
                        AttentionDropout::new(p, 0)
                    ),
                    Err(Error::InvalidConfig(_))
                ),
                "{kind:?} p = {p}"
            );
        }
    }
}
