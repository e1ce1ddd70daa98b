//! The parameter lists and models shared by `benches/step.rs` and `examples/step_timing.rs`:
//! a transformer's list of weights (BERT-base shapes, scaled), with deterministic values and
//! gradients.

use kernels::Tensor;
use nn::{Param, ParamRole};

/// The parameters of one benchmark: (name, parameter with its gradient set); a list of named
/// parameters is an `nn::Module`.
pub type Bag = Vec<(String, Param)>;

/// A parameter list: (name, shape, role).
pub type Shapes = Vec<(String, Vec<usize>, ParamRole)>;

/// BERT-base's parameter list with hidden size h, `layers` blocks and vocabulary `vocab`.
pub fn bert_shapes(h: usize, layers: usize, vocab: usize) -> Shapes {
    let mut s = vec![
        ("emb.word".to_string(), vec![vocab, h], ParamRole::Embedding),
        ("emb.pos".into(), vec![512, h], ParamRole::Embedding),
        ("emb.type".into(), vec![2, h], ParamRole::Embedding),
        ("emb.ln.g".into(), vec![h], ParamRole::Gain),
        ("emb.ln.b".into(), vec![h], ParamRole::Bias),
    ];
    for l in 0..layers {
        for (n, shape, role) in [
            ("q.w", vec![h, h], ParamRole::Matrix),
            ("q.b", vec![h], ParamRole::Bias),
            ("k.w", vec![h, h], ParamRole::Matrix),
            ("k.b", vec![h], ParamRole::Bias),
            ("v.w", vec![h, h], ParamRole::Matrix),
            ("v.b", vec![h], ParamRole::Bias),
            ("o.w", vec![h, h], ParamRole::Matrix),
            ("o.b", vec![h], ParamRole::Bias),
            ("ln1.g", vec![h], ParamRole::Gain),
            ("ln1.b", vec![h], ParamRole::Bias),
            ("ff1.w", vec![h, 4 * h], ParamRole::Matrix),
            ("ff1.b", vec![4 * h], ParamRole::Bias),
            ("ff2.w", vec![4 * h, h], ParamRole::Matrix),
            ("ff2.b", vec![h], ParamRole::Bias),
            ("ln2.g", vec![h], ParamRole::Gain),
            ("ln2.b", vec![h], ParamRole::Bias),
        ] {
            s.push((format!("layer.{l}.{n}"), shape, role));
        }
    }
    s.push(("pool.w".into(), vec![h, h], ParamRole::Matrix));
    s.push(("pool.b".into(), vec![h], ParamRole::Bias));
    s
}

/// (label, shapes): ≈1 M, 10 M, 100 M parameters (100 M ≈ BERT-base at vocab 21 k).
#[allow(dead_code)]
pub fn sizes() -> Vec<(&'static str, Shapes)> {
    let mut v = vec![
        ("n1M", bert_shapes(128, 4, 4096)),
        ("n10M", bert_shapes(256, 8, 16384)),
    ];
    // 100 M parameters only in full runs (not under `cargo xtask bench --quick`).
    if std::env::var("LION_BENCH_SMALL").is_err() && std::env::var("FRUGAL_BENCH_QUICK").is_err() {
        v.push(("n100M", bert_shapes(768, 12, 21000)));
    }
    v
}

pub fn model(shapes: &[(String, Vec<usize>, ParamRole)]) -> Bag {
    shapes
        .iter()
        .map(|(n, s, r)| {
            let k: usize = s.iter().product();
            let v: Vec<f32> = (0..k)
                .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-4)
                .collect();
            let g: Vec<f32> = (0..k)
                .map(|i| ((i * 104729 % 997) as f32 - 498.0) * 1e-3)
                .collect();
            let mut p = Param::new(Tensor::from_vec(v, s).unwrap(), *r);
            p.grad = Some(Tensor::from_vec(g, s).unwrap());
            (n.clone(), p)
        })
        .collect()
}
