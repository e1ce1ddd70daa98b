//! FLASH tests: chunked = dense form for every local normalisation × global denominator ×
//! mask, no causal leakage (exact), layer gradchecks for the input and every parameter, typed
//! errors.

use super::*;
use crate::core::{AttentionCore, CoreKind, Tiles, tests::check_opts};
use crate::mask::Mask;
use crate::norm::Normalization;
use crate::test_support::{
    LayerCheck, Spread, assert_input_errors, masks, materialized_if, max_abs_diff as diff,
    randomise,
};
use crate::{Error, RopeLayout};
use kernels::testing::{randn, rng};
use kernels::{DType, Tensor};
use nn::gradcheck::{gradcheck, randn_f64};
use nn::{Module, Prefix};

pub(super) const DENOMS: [GlobalDenom; 3] = [
    GlobalDenom::SeqLen,
    GlobalDenom::ChunkSize,
    GlobalDenom::PrefixTokens,
];

#[test]
fn chunked_equals_dense_form() {
    let (b, n, s, e) = (2, 8, 4, 3);
    let t = |w: usize, seed: u64| Tensor::from_vec(randn(&mut rng(seed), b * n * w), &[b, n, w]);
    let (qq, kq, ql, kl, v) = (
        t(s, 1).unwrap(),
        t(s, 2).unwrap(),
        t(s, 3).unwrap(),
        t(s, 4).unwrap(),
        t(e, 5).unwrap(),
    );
    let mut worst: f64 = 0.0;
    for norm in Normalization::all() {
        for global in DENOMS {
            for chunk in [1, 3, 8, 11] {
                for mask in masks(b, n) {
                    for kind in [
                        CoreKind::Materialized,
                        CoreKind::Fused(Tiles { rows: 2, keys: 2 }),
                    ] {
                        let att = MixedChunkAttention {
                            chunk,
                            local: AttentionCore {
                                norm,
                                scale: 0.7,
                                kind,
                            },
                            global,
                        };
                        let (y, _) = att.forward(&qq, &kq, &ql, &kl, &v, &mask).unwrap();
                        let want = mixed_chunk_dense(&att, &qq, &kq, &ql, &kl, &v, &mask).unwrap();
                        let err = diff(&y, &want);
                        assert!(err < 1e-12, "{att:?} {mask:?}: {err:e}");
                        worst = worst.max(err);
                    }
                }
            }
        }
    }
    eprintln!("chunked vs dense: worst abs diff {worst:.2e}");
}

#[test]
fn causal_global_denominators_differ_and_prefix_term_vanishes_in_chunk_zero() {
    // The three readings give different outputs (the option is not ignored), and with
    // PrefixTokens the rows of chunk 0 have no global term at all.
    let (b, n, s, e) = (1, 6, 2, 2);
    let t = |w: usize, seed: u64| {
        Tensor::from_vec(randn(&mut rng(seed), b * n * w), &[b, n, w]).unwrap()
    };
    let (qq, kq, ql, kl, v) = (t(s, 1), t(s, 2), t(s, 3), t(s, 4), t(e, 5));
    let run = |global| {
        let att = MixedChunkAttention {
            chunk: 2,
            local: AttentionCore {
                norm: Normalization::Softmax,
                scale: 1.0,
                kind: CoreKind::Materialized,
            },
            global,
        };
        att.forward(&qq, &kq, &ql, &kl, &v, &Mask::causal())
            .unwrap()
            .0
    };
    let ys: Vec<Tensor> = DENOMS.iter().map(|&g| run(g)).collect();
    assert!(diff(&ys[0], &ys[1]) > 1e-3 && diff(&ys[1], &ys[2]) > 1e-3);
    // Chunk 0 (rows 0, 1): the global term is 0 under every reading (empty prefix).
    let (a, c) = (
        ys[0].to_vec::<f64>().unwrap(),
        ys[2].to_vec::<f64>().unwrap(),
    );
    assert_eq!(a[..4], c[..4]);
}

/// A layer whose every parameter is random: matrices N(0, 0.7²), gains γ = 1 + N(0, 0.5²)
/// (so the local scores γ_q γ_k z² are O(1) and no gradient is tiny), biases N(0, 0.5²).
fn random_layer(cfg: FlashConfig, seed: u64) -> Flash {
    let mut g = Flash::new(cfg, DType::F64, seed).unwrap();
    let spread = Spread {
        matrix: 0.7,
        other: 0.5,
        gain_shift: 1.0,
    };
    randomise(&mut g, seed, spread);
    g
}

fn tiny(local: Normalization, global: GlobalDenom) -> FlashConfig {
    // Chunks of 3: n = 5 gives one full chunk and a padded one.
    FlashConfig {
        chunk: 3,
        local,
        global,
        core: CoreKind::Fused(Tiles { rows: 2, keys: 1 }),
        ..FlashConfig::new(4, 3, 4)
    }
}

#[test]
fn gradcheck_flash_layer() {
    let (b, n) = (2, 5);
    let x = randn_f64(&[b, n, 4], 21).unwrap();
    let mut worst: f64 = 0.0;
    let mut count = 0;
    for (i, norm) in Normalization::all().into_iter().enumerate() {
        for (j, mask) in masks(b, n).into_iter().enumerate() {
            let global = DENOMS[(i + j) % 3];
            let rope = [
                Some(RopeLayout::Interleaved),
                Some(RopeLayout::HalfSplit),
                None,
            ][(i + 2 * j) % 3];
            // Offsets go with RoPE: without it a softmax row is invariant to β_k (q·β_k is the
            // same for every key), so dβ_k is exactly 0 and a relative check measures roundoff
            // (the GAU layer's tests make the same choice).
            let cfg = FlashConfig {
                bias: (i + j) % 2 == 0,
                offset: rope.is_some(),
                rope,
                core: materialized_if(j % 2 == 0, tiny(norm, global).core),
                ..tiny(norm, global)
            };
            let mut m = LayerCheck {
                layer: random_layer(cfg, 7 + i as u64),
                mask: mask.clone(),
            };
            let rep = gradcheck(&mut m, &x, &check_opts())
                .unwrap_or_else(|e| panic!("{cfg:?} {mask:?}: {e}"));
            // input + w_in + 4 γ (+ 4 β) + w_o (+ 2 biases)
            let want = 7 + 4 * cfg.offset as usize + 2 * cfg.bias as usize;
            assert_eq!(rep.entries.len(), want, "{rep}");
            assert!(rep.worst() < 1e-6, "{cfg:?} {mask:?}\n{rep}");
            worst = worst.max(rep.worst());
            count += 1;
        }
    }
    eprintln!("FLASH layer gradcheck: {count} configurations, worst relative error {worst:.2e}");
}

#[test]
fn no_causal_leakage() {
    let (b, n, d) = (2, 9, 4);
    for global in DENOMS {
        for norm in [Normalization::Softmax, Normalization::default()] {
            let cfg = FlashConfig {
                chunk: 3,
                ..tiny(norm, global)
            };
            let layer = random_layer(cfg, 31);
            let x = randn_f64(&[b, n, d], 32).unwrap();
            let mask = Mask::causal().with_lengths(&[n, n - 1]);
            let y0 = layer.forward(&x, &mask).unwrap().0.to_vec::<f64>().unwrap();
            for t in [1, 3, 4, 8] {
                let mut xv = x.to_vec::<f64>().unwrap();
                for bi in 0..b {
                    for i in t..n {
                        for k in 0..d {
                            xv[(bi * n + i) * d + k] += 1.0 + (i * k) as f64;
                        }
                    }
                }
                let x1 = Tensor::from_vec(xv, &[b, n, d]).unwrap();
                let y1 = layer
                    .forward(&x1, &mask)
                    .unwrap()
                    .0
                    .to_vec::<f64>()
                    .unwrap();
                for bi in 0..b {
                    let past = (bi * n) * d..(bi * n + t) * d;
                    assert_eq!(y0[past.clone()], y1[past], "{global:?} {norm:?} t={t}");
                    // The future does change (the test has teeth).
                    let fut = (bi * n + t) * d..(bi * n + n) * d;
                    assert_ne!(y0[fut.clone()], y1[fut]);
                }
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let cfg = FlashConfig {
        max_len: 6,
        ..tiny(Normalization::Softmax, GlobalDenom::ChunkSize)
    };
    let layer = random_layer(cfg, 1);
    assert_input_errors(|x, m| layer.forward(x, m));
    let none = Mask::none();
    let x = randn_f64(&[2, 5, 4], 0).unwrap();
    assert!(matches!(
        Flash::new(FlashConfig { chunk: 0, ..cfg }, DType::F64, 0),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        Flash::new(FlashConfig::new(4, 3, 5), DType::F64, 0),
        Err(Error::OddRopeWidth { s: 5 })
    ));
    let att = cfg.attention().unwrap();
    let q = randn_f64(&[2, 5, 4], 0).unwrap();
    let v = randn_f64(&[2, 4, 3], 0).unwrap();
    assert!(matches!(
        att.forward(&q, &q, &q, &q, &v, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    let q3 = randn_f64(&[2, 5, 3], 0).unwrap();
    assert!(matches!(
        att.forward(&q, &q3, &q, &q, &q3, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    let (_, cache) = layer.forward(&x, &none).unwrap();
    let mut layer = layer;
    let dy_bad = randn_f64(&[2, 4, 4], 0).unwrap();
    assert!(matches!(
        layer.backward(cache, &dy_bad, &mut nn::Accumulate),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn f32_tracks_f64() {
    let cfg = FlashConfig {
        chunk: 3,
        bias: true,
        ..FlashConfig::new(6, 5, 4)
    };
    let l64 = random_layer(cfg, 41);
    let mut l32 = random_layer(cfg, 41);
    l32.visit_mut(&Prefix::root(), &mut |_, p| {
        p.value = p.value.to_dtype(DType::F32).unwrap();
    });
    let x = randn_f64(&[2, 8, 6], 42).unwrap();
    for mask in masks(2, 8) {
        let y = l64.forward(&x, &mask).unwrap().0.to_vec::<f64>().unwrap();
        let y32 = l32
            .forward(&x.to_dtype(DType::F32).unwrap(), &mask)
            .unwrap()
            .0
            .to_vec::<f32>()
            .unwrap();
        let scale = y.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = y
            .iter()
            .zip(&y32)
            .fold(0.0f64, |m, (&a, &b)| m.max((a - b as f64).abs()))
            / scale;
        // f32 rounding (6e-8) through two GEMMs, SiLU, relu² and the chunk sums: 1e-5 of the
        // output's scale leaves an order of magnitude of margin (as the GAU layer's test).
        assert!(err < 1e-5, "{mask:?}: {err:e}");
    }
}
