//! The fused Tiger path: verdicts from outside equal the self-checking path bit for bit; the
//! cached Σθ² (whole tensor and per embedding row) equals a fresh computation bit for bit and
//! is dropped by a guard shrink, an external write to θ and a checkpoint load; the AVX2 loops
//! equal the portable ones.

use super::*;
use crate::cpu::tiger::{TigerScalars, fold_update_sum_sq};
use crate::cpu::{sum_sq, sum_sq_simd, tensor_sum_sq};
use crate::{Error, Guard, LionConfig, Optimizer, TigerConfig, load_checkpoint, save_checkpoint};

/// Larger than one rayon chunk, so that the Matrix spans several pieces.
const BIG: &[Spec] = &[
    ("w", &[130, 161], ParamRole::Matrix),
    ("emb", &[37, 19], ParamRole::Embedding),
    ("bias", &[161], ParamRole::Bias),
    ("gain", &[19], ParamRole::Gain),
];

fn grads(seed: u64, nan_in: Option<usize>) -> Vec<Vec<f64>> {
    let mut g = values(BIG, seed);
    if let Some(i) = nan_in {
        g[i][3] = f64::NAN;
    }
    g
}

fn bits(b: &Bag) -> Vec<Vec<u32>> {
    b.iter()
        .map(|(_, p)| {
            p.value
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        })
        .collect()
}

fn m_bits(o: &Optimizer) -> Vec<Vec<u64>> {
    o.param_names()
        .iter()
        .map(|n| o.momentum(n).unwrap().iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// Checks that every cache present equals a fresh Σθ² of the current θ, bit for bit; returns
/// how many caches were checked.
fn check_caches(o: &Optimizer, b: &Bag) -> usize {
    let mut checked = 0;
    for (s, (_, p)) in o.slots.iter().zip(b) {
        let th = p.value.as_slice::<f32>().unwrap();
        if let Some(c) = s.sum_sq {
            assert_eq!(c.value.to_bits(), tensor_sum_sq(th).to_bits(), "{}", s.name);
            checked += 1;
        }
        if s.row_stamp.is_some() {
            for (r, row) in th.chunks(s.shape[1]).enumerate() {
                assert_eq!(
                    s.row_sum_sq[r].to_bits(),
                    sum_sq(row).to_bits(),
                    "{} row {r}",
                    s.name
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn flags_path_equals_selfcheck_and_caches_equal_fresh() {
    for k in [1, 2] {
        let cfg = TigerConfig {
            grad_accum_steps: k,
            ..Default::default()
        };
        let v0 = values(BIG, 40);
        let (mut a, mut b) = (bag32(BIG, &v0), bag32(BIG, &v0));
        let mut oa = Optimizer::tiger(cfg.clone(), &a).unwrap();
        let mut ob = Optimizer::tiger(cfg.clone(), &b).unwrap();
        for step in 0..8u64 {
            let g = grads(41 + step, (step == 3).then_some(0));
            set_grads(&mut a, &g);
            set_grads(&mut b, &g);
            oa.step(&mut a).unwrap();
            let report = ob.grad_report(&b).unwrap();
            assert_eq!(report.has_non_finite[0], step == 3);
            ob.step_with_flags(&mut b, &report.verdicts(cfg.guard))
                .unwrap();
            assert_eq!(bits(&a), bits(&b), "k {k} step {step}");
            assert_eq!(m_bits(&oa), m_bits(&ob), "k {k} step {step}");
            let checked = check_caches(&ob, &b);
            if step == 3 {
                // The guard shrank "w": its cache is gone.
                assert!(ob.slots[0].sum_sq.is_none());
            } else if (step + 1) % k as u64 == 0 {
                assert_eq!(checked, 2, "k {k} step {step}: Matrix and Embedding caches");
            }
        }
        assert_eq!(oa.guard_events(), ob.guard_events());
        assert_eq!(oa.guard_events()[0].1, 1);
    }
}

#[test]
fn external_writes_and_checkpoint_load_drop_the_cache() {
    let cfg = TigerConfig::default();
    let v0 = values(BIG, 50);
    let (mut a, mut b) = (bag32(BIG, &v0), bag32(BIG, &v0));
    let mut oa = Optimizer::tiger(cfg.clone(), &a).unwrap();
    let mut ob = Optimizer::tiger(cfg.clone(), &b).unwrap();
    let step = |o: &mut Optimizer, x: &mut Bag, seed| {
        set_grads(x, &grads(seed, None));
        o.step(x).unwrap();
    };
    step(&mut oa, &mut a, 51);
    step(&mut ob, &mut b, 51);
    assert!(oa.slots[0].sum_sq.is_some() && oa.slots[1].row_stamp.is_some());
    // Rescale θ outside the optimizer: `a` is told, `b` must notice by itself.
    for x in [&mut a, &mut b] {
        for (_, p) in x.iter_mut() {
            p.value
                .as_slice_mut::<f32>()
                .unwrap()
                .iter_mut()
                .for_each(|v| *v *= 2.0);
        }
    }
    oa.invalidate_rms_cache();
    assert!(oa.slots[0].sum_sq.is_none() && oa.slots[1].row_stamp.is_none());
    let stale = ob.slots[0].sum_sq.unwrap().value;
    step(&mut oa, &mut a, 52);
    step(&mut ob, &mut b, 52);
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(ob.slots[0].sum_sq.unwrap().value, stale);
    check_caches(&ob, &b);
    // A checkpoint load drops the caches; the resumed run stays bit-identical.
    let path =
        std::env::temp_dir().join(format!("lt_rms_cache_{}.safetensors", std::process::id()));
    save_checkpoint(&path, &b, &ob).unwrap();
    let mut c = bag32(BIG, &values(BIG, 99));
    let mut oc = Optimizer::tiger(cfg, &c).unwrap();
    load_checkpoint(&path, &mut c, &mut oc).unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        oc.slots
            .iter()
            .all(|s| s.sum_sq.is_none() && s.row_stamp.is_none())
    );
    step(&mut ob, &mut b, 53);
    step(&mut oc, &mut c, 53);
    assert_eq!(bits(&b), bits(&c));
    assert_eq!(m_bits(&ob), m_bits(&oc));
}

#[test]
fn verdicts_are_checked_before_anything_moves() {
    let v0 = values(BIG, 60);
    let mut a = bag32(BIG, &v0);
    set_grads(&mut a, &grads(61, None));
    let mut o = Optimizer::tiger(TigerConfig::default(), &a).unwrap();
    let e = o.step_with_flags(&mut a, &[false; 3]).unwrap_err();
    assert!(matches!(e, Error::ModelMismatch { .. }), "{e}");
    let mut l = Optimizer::lion(LionConfig::default(), &a).unwrap();
    let e = l.step_with_flags(&mut a, &[false; 4]).unwrap_err();
    assert!(
        matches!(e, Error::Kernel(kernels::Error::Unsupported { .. })),
        "{e}"
    );
    assert_eq!(
        vals_of(&a),
        v0.iter()
            .map(|v| v.iter().map(|&x| x as f32 as f64).collect())
            .collect::<Vec<Vec<f64>>>()
    );
    assert_eq!(o.micro_steps("w"), Some(0));
    // NanOnly verdicts ignore ±Inf; the global norm is the root of the summed squares.
    let mut g = grads(62, None);
    g[2][0] = f64::INFINITY;
    set_grads(&mut a, &g);
    let r = o.grad_report(&a).unwrap();
    assert_eq!(
        r.verdicts(Guard::NonFinite),
        vec![false, false, true, false]
    );
    assert_eq!(r.verdicts(Guard::NanOnly), vec![false; 4]);
    assert!(r.global_norm().is_infinite());
}

#[test]
fn simd_loops_equal_portable_ones() {
    let mut r = rng(70);
    for n in [0usize, 1, 7, 8, 9, 31, 1000, 16387] {
        let mut x: Vec<f32> = randn(&mut r, n).iter().map(|&v| v as f32).collect();
        assert_eq!(sum_sq(&x).to_bits(), sum_sq_simd(&x).to_bits(), "n {n}");
        let mut m: Vec<f32> = randn(&mut r, n).iter().map(|&v| 0.1 * v as f32).collect();
        let g: Vec<f32> = randn(&mut r, n).iter().map(|&v| v as f32).collect();
        if n > 8 {
            m[5] = f32::NAN;
            m[6] = 0.0;
            x[7] = -0.0;
        }
        let s = TigerScalars {
            b1: 0.965f32,
            inc: 0.035,
            eta: 1.3e-3,
            decay_mul: 1.0 - 1.3e-5,
            update: true,
        };
        let (mut x1, mut m1) = (x.clone(), m.clone());
        let portable = fold_update_sum_sq(&mut x1, &mut m1, &g, s);
        let (mut x2, mut m2) = (x.clone(), m.clone());
        let fast = crate::cpu::tiger::fold_update_sum_sq_simd(&mut x2, &mut m2, &g, s);
        let b = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(b(&x1), b(&x2), "θ, n {n}");
        assert_eq!(b(&m1), b(&m2), "m, n {n}");
        assert_eq!(portable.to_bits(), fast.to_bits(), "Σθ², n {n}");
        if n <= 8 {
            assert_eq!(portable.to_bits(), sum_sq(&x1).to_bits());
        }
    }
}
