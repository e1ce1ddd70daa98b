//! Forward: fused and materialising cores against the naive f64 reference, large logits,
//! empty rows, single keys, n = 1.

use super::*;
use kernels::testing::{randn, rng};

#[test]
fn fused_and_materialized_match_naive_f64_every_combination() {
    for (seed, d) in [
        (1, DIMS),
        (
            2,
            Dims {
                n_q: 4,
                n_k: 9,
                ..DIMS
            },
        ),
    ] {
        let [q, k, v] = inputs(d, seed, 1.0);
        let (qt, kt, vt) = (
            t64(&q, &[d.batch, d.n_q, d.s]),
            t64(&k, &[d.batch, d.n_k, d.s]),
            t64(&v, &[d.batch, d.n_k, d.e]),
        );
        for norm in Normalization::all() {
            for mask in masks(d.n_k) {
                let c = core(norm, CoreKind::Materialized, d.s);
                let want = naive(&q, &k, &v, d, &mask, norm, c.scale);
                for kind in [
                    CoreKind::Materialized,
                    CoreKind::Fused(ODD_TILES),
                    CoreKind::default(),
                ] {
                    let got = AttentionCore { kind, ..c }
                        .forward(&qt, &kt, &vt, &mask)
                        .unwrap()
                        .0;
                    let err = max_abs_diff(&got.to_vec::<f64>().unwrap(), &want);
                    assert!(err < 1e-12, "{norm:?} {mask:?} {kind:?}: {err:e}");
                }
            }
        }
    }
}

/// Large logits (×100) stay finite and match: the running max handles them.
#[test]
fn large_magnitude_scores() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 5, 10.0);
    let (qt, kt, vt) = (
        t64(&q, &[d.batch, d.n_q, d.s]),
        t64(&k, &[d.batch, d.n_k, d.s]),
        t64(&v, &[d.batch, d.n_k, d.e]),
    );
    for norm in [
        Normalization::Softmax,
        Normalization::SoftmaxPlus { floor: 1 },
    ] {
        for mask in masks(d.n_k) {
            let c = core(norm, CoreKind::Fused(ODD_TILES), d.s);
            let want = naive(&q, &k, &v, d, &mask, norm, c.scale);
            let got = c
                .forward(&qt, &kt, &vt, &mask)
                .unwrap()
                .0
                .to_vec::<f64>()
                .unwrap();
            assert!(got.iter().all(|x| x.is_finite()));
            let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
            assert!(
                max_abs_diff(&got, &want) / scale < 1e-12,
                "{norm:?} {mask:?}"
            );
        }
    }
}

/// Rows with no visible key output exactly 0 and get zero gradient; `n = 1`; `l_i = 1`.
#[test]
fn empty_rows_and_single_keys() {
    let d = Dims {
        batch: 2,
        n_q: 3,
        n_k: 3,
        s: 2,
        e: 2,
    };
    let [q, k, v] = inputs(d, 8, 1.0);
    let (qt, kt, vt) = (
        t64(&q, &[2, 3, 2]),
        t64(&k, &[2, 3, 2]),
        t64(&v, &[2, 3, 2]),
    );
    let mask = Mask::none().with_lengths(&[0, 1]);
    for norm in Normalization::all() {
        for kind in [CoreKind::Materialized, CoreKind::default()] {
            let c = core(norm, kind, d.s);
            let (out, cache) = c.forward(&qt, &kt, &vt, &mask).unwrap();
            let o = out.to_vec::<f64>().unwrap();
            assert!(o[..6].iter().all(|&x| x == 0.0), "{norm:?} {kind:?}");
            if norm.form() == crate::norm::Form::Softmax {
                // One visible key: every row copies v_0 of the second sequence.
                for i in 0..3 {
                    assert!(
                        (o[6 + 2 * i] - v[6]).abs() < 1e-15 && (o[7 + 2 * i] - v[7]).abs() < 1e-15
                    );
                }
            }
            let dc = t64(&randn(&mut rng(9), 12), &[2, 3, 2]);
            let g = c.backward(&qt, &kt, &vt, &mask, &cache, &dc).unwrap();
            let dq = g.dq.to_vec::<f64>().unwrap();
            assert!(dq[..6].iter().all(|&x| x == 0.0));
        }
    }
    // n = 1.
    let one = |x: &[f64]| t64(&x[..2], &[1, 1, 2]);
    let c = core(Normalization::Softmax, CoreKind::default(), 2);
    let out = c
        .forward(&one(&q), &one(&k), &one(&v), &Mask::causal())
        .unwrap()
        .0;
    assert_eq!(out.to_vec::<f64>().unwrap(), v[..2].to_vec());
}
