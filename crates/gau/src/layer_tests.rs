//! GAU layer: gradient checks for the input and every parameter over every normalisation ×
//! causal/bidirectional × padding combination, fused = materialising, f32 vs f64, the RoPE
//! layout converter, and typed errors.

use super::*;
use crate::core::{Tiles, tests::check_opts};
use crate::rope_convert::convert_rope_layout;
use crate::test_support::{
    LayerCheck, SPREAD, assert_input_errors, masks, materialized_if, max_abs_diff, randomise,
};
use nn::gradcheck::{gradcheck, randn_f64};

/// A layer whose every parameter is random (so no gradient is trivially structured).
fn random_layer(cfg: GauConfig, seed: u64) -> Gau {
    let mut g = Gau::new(cfg, DType::F64, seed).unwrap();
    randomise(&mut g, seed, SPREAD);
    g
}

fn tiny(norm: Normalization) -> GauConfig {
    GauConfig {
        norm,
        core: CoreKind::Fused(Tiles { rows: 2, keys: 3 }),
        ..GauConfig::new(4, 3, 4)
    }
}

#[test]
fn gradcheck_layer_every_combination() {
    let (b, n) = (2, 5);
    let x = randn_f64(&[b, n, 4], 11).unwrap();
    let mut worst: f64 = 0.0;
    for (i, norm) in Normalization::all().into_iter().enumerate() {
        for (j, mask) in masks(b, n).into_iter().enumerate() {
            // Alternate biases, offsets, RoPE layouts and core kinds over the sweep (each
            // normalisation meets both cores causal and bidirectional). Offsets
            // go with RoPE: without it a softmax row is invariant to β_k (q·β_k is the same for
            // every key), so dβ_k is exactly 0 and a relative check of it measures roundoff
            // (`beta_k_is_invariant_under_softmax_without_rope` tests that zero instead).
            let cfg = GauConfig {
                bias: i % 2 == 0,
                offset: i % 3 != 2,
                rope: [
                    Some(RopeLayout::Interleaved),
                    Some(RopeLayout::HalfSplit),
                    None,
                ][i % 3],
                core: materialized_if((i + j) % 2 == 0, tiny(norm).core),
                ..tiny(norm)
            };
            let mut m = LayerCheck {
                layer: random_layer(cfg, 3 + i as u64),
                mask: mask.clone(),
            };
            let rep = gradcheck(&mut m, &x, &check_opts())
                .unwrap_or_else(|e| panic!("{cfg:?} {mask:?}: {e}"));
            let want = 4 + 2 * cfg.bias as usize + 2 * cfg.offset as usize + 1;
            assert_eq!(rep.entries.len(), want, "{rep}");
            assert!(rep.worst() < 1e-6, "{cfg:?} {mask:?}\n{rep}");
            worst = worst.max(rep.worst());
        }
    }
    // Both cores, every option on, both masks, at once.
    for core in [CoreKind::Materialized, CoreKind::default()] {
        for mask in masks(b, n) {
            let cfg = GauConfig {
                bias: true,
                offset: true,
                core,
                ..tiny(Normalization::default())
            };
            let mut m = LayerCheck {
                layer: random_layer(cfg, 99),
                mask: mask.clone(),
            };
            let rep = gradcheck(&mut m, &x, &check_opts()).unwrap();
            assert!(rep.worst() < 1e-6, "{cfg:?} {mask:?}\n{rep}");
            worst = worst.max(rep.worst());
        }
    }
    eprintln!("layer gradcheck: worst relative error {worst:.2e}");
}

#[test]
fn beta_k_is_invariant_under_softmax_without_rope() {
    let x = randn_f64(&[2, 5, 4], 16).unwrap();
    for norm in [
        Normalization::Softmax,
        Normalization::SoftmaxPlus { floor: 1 },
    ] {
        for mask in masks(2, 5) {
            let cfg = GauConfig {
                offset: true,
                rope: None,
                ..tiny(norm)
            };
            let mut g = random_layer(cfg, 17);
            let (_, cache) = g.forward(&x, &mask).unwrap();
            let dy = randn_f64(&[2, 5, 4], 18).unwrap();
            g.backward(cache, &dy, &mut nn::Accumulate).unwrap();
            let grad = |p: &Option<Param>| {
                p.as_ref()
                    .unwrap()
                    .grad
                    .as_ref()
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap()
            };
            let (dbk, dbq) = (grad(&g.beta_k), grad(&g.beta_q));
            assert!(
                dbk.iter().all(|v| v.abs() < 1e-13),
                "{norm:?} {mask:?}: {dbk:?}"
            );
            assert!(
                dbq.iter().any(|v| v.abs() > 1e-6),
                "β_q does matter: {dbq:?}"
            );
        }
    }
}

#[test]
fn fused_equals_materialized_and_f32_tracks_f64() {
    let x = randn_f64(&[2, 7, 8], 12).unwrap();
    for norm in Normalization::all() {
        for mask in masks(2, 7) {
            let cfg = GauConfig {
                bias: true,
                offset: true,
                ..GauConfig::new(8, 8, 4)
            };
            let fused = random_layer(GauConfig { norm, ..cfg }, 5);
            let mut mat = random_layer(
                GauConfig {
                    norm,
                    core: CoreKind::Materialized,
                    ..cfg
                },
                5,
            );
            let (yf, _) = fused.forward(&x, &mask).unwrap();
            let (ym, cache) = mat.forward(&x, &mask).unwrap();
            let err = max_abs_diff(&yf, &ym);
            assert!(err < 1e-12, "{norm:?} {mask:?}: {err:e}");
            let dy = randn_f64(&[2, 7, 8], 13).unwrap();
            let dx = mat.backward(cache, &dy, &mut nn::Accumulate).unwrap();
            assert!(dx.to_vec::<f64>().unwrap().iter().all(|v| v.is_finite()));
            // f32 copy of the fused layer.
            let mut f32_layer = random_layer(GauConfig { norm, ..cfg }, 5);
            f32_layer.visit_mut(&Prefix::root(), &mut |_, p| {
                p.value = p.value.to_dtype(DType::F32).unwrap();
            });
            let y32 = f32_layer
                .forward(&x.to_dtype(DType::F32).unwrap(), &mask)
                .unwrap()
                .0;
            let scale = ym
                .to_vec::<f64>()
                .unwrap()
                .iter()
                .fold(1.0f64, |m, v| m.max(v.abs()));
            let e32 = max_abs_diff(&y32.to_dtype(DType::F64).unwrap(), &ym) / scale;
            // Inputs rounded to f32 (6e-8) through two GEMMs, SiLU and the core: 1e-5 of the
            // output's scale leaves an order of magnitude of margin.
            assert!(e32 < 1e-5, "{norm:?} {mask:?}: f32 {e32:e}");
        }
    }
}

#[test]
fn rope_layout_converter_keeps_scores_and_outputs() {
    let x = randn_f64(&[2, 6, 8], 14).unwrap();
    let cfg = GauConfig {
        bias: true,
        offset: true,
        ..GauConfig::new(8, 6, 8)
    };
    let inter = random_layer(cfg, 15);
    let half = convert_rope_layout(&inter, RopeLayout::HalfSplit).unwrap();
    assert_eq!(half.config().rope, Some(RopeLayout::HalfSplit));
    let back = convert_rope_layout(&half, RopeLayout::Interleaved).unwrap();
    let scores = |g: &Gau| {
        let (q, k) = g.queries_keys(&x).unwrap();
        kernels::ops::matmul::matmul(&q, &k, false, true).unwrap()
    };
    let diff = max_abs_diff;
    let s0 = scores(&inter);
    assert!(diff(&s0, &scores(&half)) < 1e-12);
    assert!(diff(&s0, &scores(&back)) < 1e-12);
    // Without the permutation the half-split layer scores differently (the test has teeth).
    let mut naive = random_layer(cfg, 15);
    naive.cfg.rope = Some(RopeLayout::HalfSplit);
    assert!(diff(&s0, &scores(&naive)) > 1e-3);
    let mask = Mask::causal().with_lengths(&[4, 6]);
    let y = |g: &Gau| g.forward(&x, &mask).unwrap().0;
    assert!(diff(&y(&inter), &y(&half)) < 1e-12);
    // The back-converted layer has the original parameters exactly.
    let (a, b) = (inter.named_params(), back.named_params());
    for ((na, pa), (nb, pb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert_eq!(
            pa.value.to_vec::<f64>().unwrap(),
            pb.value.to_vec::<f64>().unwrap()
        );
    }
    let no_rope = Gau::new(GauConfig { rope: None, ..cfg }, DType::F64, 0).unwrap();
    assert!(matches!(
        convert_rope_layout(&no_rope, RopeLayout::HalfSplit),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn parameter_names_and_counts() {
    let cfg = GauConfig {
        bias: true,
        offset: true,
        ..GauConfig::new(6, 10, 4)
    };
    let g = Gau::new(cfg, DType::F32, 0).unwrap();
    let names: Vec<String> = g.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "w_in", "b_in", "gamma_q", "beta_q", "gamma_k", "beta_k", "w_o", "b_o"
        ]
    );
    // 3de + ds weights (spec §2.1) plus biases and the four s-vectors.
    assert_eq!(
        g.num_params(),
        3 * 6 * 10 + 6 * 4 + (2 * 10 + 4) + 6 + 4 * 4
    );
    let alpha = Gau::new(GauConfig::new(6, 10, 4), DType::F32, 0).unwrap();
    let names: Vec<String> = alpha.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["w_in", "gamma_q", "gamma_k", "w_o"]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let cfg = GauConfig {
        max_len: 6,
        ..GauConfig::new(4, 3, 4)
    };
    let mut g = Gau::new(cfg, DType::F64, 0).unwrap();
    assert_input_errors(|x, m| g.forward(x, m));
    let none = Mask::none();
    let x = randn_f64(&[2, 5, 4], 0).unwrap();
    assert!(matches!(
        Gau::new(GauConfig::new(4, 3, 5), DType::F64, 0),
        Err(Error::OddRopeWidth { s: 5 })
    ));
    assert!(
        Gau::new(
            GauConfig {
                rope: None,
                ..GauConfig::new(4, 3, 5)
            },
            DType::F64,
            0
        )
        .is_ok()
    );
    assert!(matches!(
        Gau::new(GauConfig::new(0, 3, 4), DType::F64, 0),
        Err(Error::InvalidConfig(_))
    ));
    let bad_scale = GauConfig {
        scale: ScoreScale::Fixed(f64::INFINITY),
        ..GauConfig::new(4, 3, 4)
    };
    assert!(matches!(
        Gau::new(bad_scale, DType::F64, 0),
        Err(Error::InvalidConfig(_))
    ));
    let x32 = x.to_dtype(DType::F32).unwrap();
    assert!(g.forward(&x32, &none).is_err());
    let rank1 = randn_f64(&[4], 0).unwrap();
    assert!(matches!(g.forward(&rank1, &none), Err(Error::Kernel(_))));
    let (_, cache) = g.forward(&x, &none).unwrap();
    let dy_bad = randn_f64(&[2, 4, 4], 0).unwrap();
    assert!(matches!(
        g.backward(cache, &dy_bad, &mut nn::Accumulate),
        Err(Error::ShapeMismatch { .. })
    ));
    // A 2-D input is one sequence.
    let x2 = randn_f64(&[5, 4], 0).unwrap();
    assert_eq!(g.forward(&x2, &none).unwrap().0.shape(), &[5, 4]);
}
