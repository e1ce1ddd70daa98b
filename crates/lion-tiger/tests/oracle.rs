//! Oracle comparisons (spec §8 item 15): 20 steps of lion-pytorch 0.2.5, optax.lion (optax
//! 0.2.8) and pytorch-optimizer 4.1.0's Lion and plain Tiger, recorded by
//! `scripts/make_fixtures.py` in f64 and f32, against this crate on the same inputs.
//!
//! m must agree to rtol 1e-12 (f64) / 1e-6 (f32) of m's scale: the oracles round differently
//! (torch's `add(alpha)` may fuse, pytorch-optimizer uses `lerp`), never by more than an ulp
//! per step. θ must agree to rounding (a few ulp per step; optax computes θ − η(sign + λθ)
//! instead of (1 − ηλ)θ − η·sign), except for sign flips where c ≈ 0, which move a coordinate
//! by ±2η and are counted.

use kernels::Tensor;
use lion_tiger::*;
use nn::{Param, ParamRole};
use safetensors::SafeTensors;

const INPUTS: &[u8] = include_bytes!("fixtures/inputs.safetensors");
const NAMES: [(&str, ParamRole); 2] = [("w", ParamRole::Matrix), ("b", ParamRole::Bias)];

fn read(st: &SafeTensors, key: &str) -> (Vec<f64>, Vec<usize>) {
    let t = st.tensor(key).unwrap();
    let v = t
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (v, t.shape().to_vec())
}

fn tensor(v: &[f64], shape: &[usize], f32: bool) -> Tensor {
    if f32 {
        Tensor::from_vec(v.iter().map(|&x| x as f32).collect(), shape).unwrap()
    } else {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }
}

fn to64(t: &Tensor) -> Vec<f64> {
    match t.dtype() {
        kernels::DType::F32 => t
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        kernels::DType::F64 => t.to_vec::<f64>().unwrap(),
    }
}

/// Runs `algo` on the fixture inputs and compares with `expected`; returns the sign flips.
fn check(
    oracle: &str,
    expected: &[u8],
    algo: Algorithm,
    rules: &[GroupRule],
    f32: bool,
    eta: f64,
) -> usize {
    let inp = SafeTensors::deserialize(INPUTS).unwrap();
    let exp = SafeTensors::deserialize(expected).unwrap();
    let mut bag: Vec<(String, Param)> = NAMES
        .iter()
        .map(|(n, r)| {
            let (v, s) = read(&inp, &format!("theta0.{n}"));
            (n.to_string(), Param::new(tensor(&v, &s, f32), *r))
        })
        .collect();
    let mut opt = Optimizer::new(algo, &bag, rules).unwrap();
    for step in 0..20 {
        for (n, p) in bag.iter_mut() {
            let (g, s) = read(&inp, &format!("grad.{step}.{n}"));
            p.grad = Some(tensor(&g, &s, f32));
        }
        opt.step(&mut bag).unwrap();
    }
    let (rtol, eps) = if f32 {
        (1e-6, f32::EPSILON as f64)
    } else {
        (1e-12, f64::EPSILON)
    };
    let mut flips = 0;
    for (n, p) in &bag {
        let (m_ref, _) = read(&exp, &format!("m.{n}"));
        let m = opt.momentum(n).unwrap();
        let scale = m_ref.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        for (i, (a, b)) in m.iter().zip(&m_ref).enumerate() {
            assert!(
                (a - b).abs() <= rtol * scale,
                "{oracle} m.{n}[{i}]: {a:e} vs {b:e}"
            );
        }
        let (th_ref, _) = read(&exp, &format!("theta.{n}"));
        let th = to64(&p.value);
        for (i, (a, b)) in th.iter().zip(&th_ref).enumerate() {
            let d = (a - b).abs();
            // 20 steps of at most ~2 roundings each, relative to |θ| + η.
            if d <= 64.0 * eps * (b.abs() + eta) {
                continue;
            }
            let k = (d / (2.0 * eta)).round();
            assert!(
                k >= 1.0 && (d - 2.0 * eta * k).abs() <= 1e-3 * eta,
                "{oracle} θ.{n}[{i}]: {a:e} vs {b:e}"
            );
            flips += 1;
        }
    }
    eprintln!("{oracle}: {flips} sign flips");
    flips
}

fn lion() -> Algorithm {
    Algorithm::Lion(LionConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.99,
        weight_decay: 0.1,
        ..Default::default()
    })
}

fn all_decay() -> Vec<GroupRule> {
    vec![GroupRule {
        decay: Some(true),
        ..GroupRule::new(Match::All)
    }]
}

fn tiger() -> (Algorithm, Vec<GroupRule>) {
    let cfg = TigerConfig {
        alpha: 1e-3,
        beta: 0.965,
        weight_decay: 0.01,
        ..Default::default()
    };
    let rule = GroupRule::new(Match::All).with_kind(ParamKind::Custom {
        lr_mult: 1.0,
        decay: 1.0,
        centre: 0.0,
    });
    (Algorithm::Tiger(cfg), vec![rule])
}

macro_rules! oracle_test {
    ($name:ident, $file:literal, $f32:expr, $algo:expr) => {
        #[test]
        fn $name() {
            let (algo, rules): (Algorithm, Vec<GroupRule>) = $algo;
            let flips = check(
                $file,
                include_bytes!(concat!("fixtures/", $file)),
                algo,
                &rules,
                $f32,
                1e-3,
            );
            // Sign flips need |c| within rounding of 0: none expected on 394 coordinates.
            assert_eq!(flips, 0);
        }
    };
}

oracle_test!(
    lion_pytorch_f64,
    "lion_pytorch_f64.safetensors",
    false,
    (lion(), all_decay())
);
oracle_test!(
    lion_pytorch_f32,
    "lion_pytorch_f32.safetensors",
    true,
    (lion(), all_decay())
);
oracle_test!(
    optax_lion_f64,
    "optax_f64.safetensors",
    false,
    (lion(), all_decay())
);
oracle_test!(
    optax_lion_f32,
    "optax_f32.safetensors",
    true,
    (lion(), all_decay())
);
oracle_test!(
    po_lion_f64,
    "po_lion_f64.safetensors",
    false,
    (lion(), all_decay())
);
oracle_test!(
    po_lion_f32,
    "po_lion_f32.safetensors",
    true,
    (lion(), all_decay())
);
oracle_test!(po_tiger_f64, "po_tiger_f64.safetensors", false, tiger());
oracle_test!(po_tiger_f32, "po_tiger_f32.safetensors", true, tiger());
