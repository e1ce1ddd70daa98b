use crate::model::{GauAlpha, GauAlphaConfig, Train};
use crate::{CoreKind, Mask, Normalization};
use kernels::{DType, Tensor};

fn cfg(norm: Normalization) -> GauAlphaConfig {
    GauAlphaConfig {
        vocab: 13,
        segments: 2,
        d: 8,
        e: 12,
        s: 6,
        layers: 3,
        norm,
        max_len: 8,
        dropout: 0.1,
        attention_dropout: 0.1,
        eps: 1e-12,
    }
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Token by token (and in uneven chunks) decoding reproduces the full causal forward row by
/// row, for every normalisation whose row constants depend only on the visible keys
/// (SoftmaxPlus: λ from the current visible length). `Relu2Paper` with `PaddedLen` or
/// `ValidLen` divides by the whole sequence's length, which a decoder does not know yet: there
/// the full forward is not causal in that constant, and decoding differs (checked below).
#[test]
fn decoding_equals_the_full_causal_forward() {
    let (b, n, v) = (2, 7, 13);
    let ids: Vec<u32> = (0..b * n).map(|i| ((i * 5 + 3) % v) as u32).collect();
    let seg: Vec<u32> = (0..b * n).map(|i| (i % 3 == 0) as u32).collect();
    for norm in Normalization::all() {
        let whole_length = matches!(
            norm,
            Normalization::Relu2Paper {
                denom: crate::Relu2Denom::PaddedLen | crate::Relu2Denom::ValidLen
            }
        );
        let model = GauAlpha::new(cfg(norm), DType::F64, 4).unwrap();
        let full = model
            .forward(&ids, &seg, [b, n], &Mask::causal(), Train::Eval)
            .unwrap()
            .0
            .to_vec::<f64>()
            .unwrap();
        for chunks in [vec![1; 7], vec![3, 1, 2, 1]] {
            let mut kv = model.new_kv();
            let mut got = vec![0.0; b * n * v];
            let mut t = 0;
            for m in chunks {
                let pick = |x: &[u32]| -> Vec<u32> {
                    (0..b)
                        .flat_map(|i| x[i * n + t..i * n + t + m].to_vec())
                        .collect()
                };
                let y = model
                    .decode_step(&pick(&ids), &pick(&seg), [b, m], &mut kv)
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap();
                for i in 0..b {
                    got[(i * n + t) * v..(i * n + t + m) * v]
                        .copy_from_slice(&y[i * m * v..(i + 1) * m * v]);
                }
                t += m;
                assert_eq!(kv.len(), t);
            }
            let diff = max_diff(&got, &full);
            if whole_length {
                assert!(diff > 1e-3, "{norm:?}: {diff}");
            } else {
                assert!(diff < 1e-12, "{norm:?}: {diff}");
            }
        }
    }
}

/// The same with the materialising core, and decoding past max_len is a typed error.
#[test]
fn decoding_with_the_materialised_core_and_length_limit() {
    let mut model = GauAlpha::new(cfg(Normalization::Softmax), DType::F64, 5).unwrap();
    for l in model.layers_mut() {
        l.cfg.core = CoreKind::Materialized;
    }
    let ids = [1u32, 2, 3, 4];
    let seg = [0u32; 4];
    let full = model
        .forward(&ids, &seg, [1, 4], &Mask::causal(), Train::Eval)
        .unwrap()
        .0;
    let mut kv = model.new_kv();
    let mut rows = Vec::new();
    for t in 0..4 {
        let y = model
            .decode_step(&ids[t..t + 1], &seg[t..t + 1], [1, 1], &mut kv)
            .unwrap();
        rows.extend(y.to_vec::<f64>().unwrap());
    }
    assert!(max_diff(&rows, &full.to_vec::<f64>().unwrap()) < 1e-12);
    assert!(matches!(
        model.decode_step(&[1; 5], &[0; 5], [1, 5], &mut kv),
        Err(crate::Error::TooLong { n: 9, max: 8 })
    ));
    assert!(model.decode_step(&[1, 2], &[0], [1, 2], &mut kv).is_err());
    // An f32 model decodes too (the cache copies through f64, exactly).
    let m32 = GauAlpha::new(cfg(Normalization::Softmax), DType::F32, 5).unwrap();
    let mut kv32 = m32.new_kv();
    for t in 0..3 {
        let y = m32
            .decode_step(&ids[t..t + 1], &seg[t..t + 1], [1, 1], &mut kv32)
            .unwrap();
        assert_eq!(y.shape(), &[1, 1, 13]);
    }
    let x = Tensor::from_vec(vec![0.0f64; 5], &[1, 1, 5]).unwrap();
    let mut lkv = crate::LayerKv::default();
    assert!(matches!(
        model.layers()[0].decode_step(&x, &mut lkv),
        Err(crate::Error::WidthMismatch { .. })
    ));
}
