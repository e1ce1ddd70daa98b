//! Backward: the fused core against the materialising one (f64, and f32 against f64), and
//! finite-difference gradient checks of both.

use super::*;
use kernels::DType;
use kernels::testing::{randn, rng};

/// Backward of the fused core against the materialising one in f64, and f32 forward and
/// backward against f64.
#[test]
fn fused_backward_matches_materialized() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 3, 1.0);
    let dc = randn(&mut rng(4), d.batch * d.n_q * d.e);
    let shapes = [
        [d.batch, d.n_q, d.s],
        [d.batch, d.n_k, d.s],
        [d.batch, d.n_k, d.e],
        [d.batch, d.n_q, d.e],
    ];
    let t = |x: &[f64], i: usize, dt: DType| t64(x, &shapes[i]).to_dtype(dt).unwrap();
    let mut worst32: f64 = 0.0;
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            let run = |kind, dt| {
                let c = AttentionCore {
                    kind,
                    ..core(norm, kind, d.s)
                };
                let (qt, kt, vt) = (t(&q, 0, dt), t(&k, 1, dt), t(&v, 2, dt));
                let (out, cache) = c.forward(&qt, &kt, &vt, &mask).unwrap();
                let g = c
                    .backward(&qt, &kt, &vt, &mask, &cache, &t(&dc, 3, dt))
                    .unwrap();
                [out, g.dq, g.dk, g.dv]
                    .map(|x| x.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap())
            };
            let want = run(CoreKind::Materialized, DType::F64);
            for kind in [CoreKind::Fused(ODD_TILES), CoreKind::default()] {
                let got = run(kind, DType::F64);
                for (name, (a, b)) in ["c", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
                    let err = max_abs_diff(a, b);
                    assert!(err < 1e-12, "{norm:?} {mask:?} {kind:?} {name}: {err:e}");
                }
                let got32 = run(kind, DType::F32);
                for (a, b) in got32.iter().zip(&want) {
                    let scale = b.iter().fold(1.0f64, |m, x| m.max(x.abs()));
                    worst32 = worst32.max(max_abs_diff(a, b) / scale);
                }
            }
        }
    }
    // f32 inputs are the f64 ones rounded (relative 6e-8); 6-term dot products, ≤ 11-term sums
    // and exp amplify that by a few units: 1e-5 relative to each tensor's scale leaves margin.
    eprintln!("fused core f32 vs f64: worst relative error {worst32:.2e}");
    assert!(worst32 < 1e-5, "f32 vs f64: {worst32:e}");
}

#[test]
fn gradcheck_core_every_combination() {
    let worst = gradcheck_sweep(AttentionDropout::NONE, 6);
    eprintln!("core gradcheck: worst relative error {worst:.2e}");
}
