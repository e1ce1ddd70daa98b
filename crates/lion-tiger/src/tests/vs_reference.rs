//! The fused kernels (through the optimizer) against the plain f64 references.

use super::*;
use crate::reference::*;
use crate::*;
use kernels::testing::{assert_close, randn, rng};

fn grads(specs: &[Spec], seed: u64, scale: f64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    specs
        .iter()
        .map(|(_, s, _)| {
            randn(&mut r, s.iter().product())
                .iter()
                .map(|v| scale * v)
                .collect()
        })
        .collect()
}

#[test]
fn lion_f64_matches_reference_every_decay_mode() {
    let specs: &[Spec] = &[
        ("a", &[300, 70], nn::ParamRole::Matrix),
        ("b", &[33], nn::ParamRole::Bias),
    ];
    for mode in [
        DecayMode::Decoupled,
        DecayMode::FullyDecoupled { lr_max: 3e-3 },
        DecayMode::Fixed,
    ] {
        let cfg = LionConfig {
            lr: 1e-3,
            weight_decay: 0.1,
            decay_mode: mode,
            ..Default::default()
        };
        let v0 = values(specs, 1);
        let mut bag = bag64(specs, &v0);
        let mut opt = Optimizer::lion(cfg.clone(), &bag).unwrap();
        let mut th = v0.clone();
        let mut m: Vec<Vec<f64>> = th.iter().map(|v| vec![0.0; v.len()]).collect();
        for step in 0..20 {
            let g = grads(specs, 100 + step, 1.0);
            set_grads(&mut bag, &g);
            opt.step(&mut bag).unwrap();
            for i in 0..specs.len() {
                let lam = if i == 1 { 0.0 } else { cfg.weight_decay };
                let decay = 1.0 - crate::step::lion_decay_mul(&cfg, cfg.lr, lam);
                lion_step_ref(&mut th[i], &mut m[i], &g[i], cfg.lr, 0.9, 0.99, decay);
            }
        }
        let got = vals_of(&bag);
        for i in 0..specs.len() {
            assert_close("lion θ f64", &got[i], &th[i], 1e-15, 1e-13);
            assert_close(
                "lion m f64",
                &opt.momentum(specs[i].0).unwrap(),
                &m[i],
                1e-15,
                1e-13,
            );
        }
    }
}

#[test]
fn adamw_f64_and_f32_match_reference() {
    let specs: &[Spec] = &[("a", &[257, 31], nn::ParamRole::Matrix)];
    let cfg = AdamWConfig::default();
    let v0 = values(specs, 2);
    let mut b64 = bag64(specs, &v0);
    let mut b32 = bag32(specs, &v0);
    let mut o64 = Optimizer::adamw(cfg.clone(), &b64).unwrap();
    let mut o32 = Optimizer::adamw(cfg.clone(), &b32).unwrap();
    let mut th = v0[0].clone();
    let (mut m, mut v) = (vec![0.0; th.len()], vec![0.0; th.len()]);
    for step in 0..20u64 {
        let g = grads(specs, 200 + step, 1.0);
        set_grads(&mut b64, &g);
        set_grads(&mut b32, &g);
        o64.step(&mut b64).unwrap();
        o32.step(&mut b32).unwrap();
        adamw_step_ref(
            &mut th,
            &mut m,
            &mut v,
            &g[0],
            step + 1,
            cfg.lr,
            0.9,
            0.999,
            1e-8,
            0.01,
        );
    }
    assert_close("adamw θ f64", &vals_of(&b64)[0], &th, 1e-15, 1e-12);
    assert_close("adamw m f64", &o64.momentum("a").unwrap(), &m, 1e-15, 1e-12);
    // f32: 20 steps of rounding of O(1e-3) updates on O(0.1) values.
    assert_close("adamw θ f32", &vals_of(&b32)[0], &th, 1e-6, 1e-5);
}

/// Runs the optimizer and the reference side by side for `steps` micro-steps.
fn tiger_vs_ref(cfg: TigerConfig, steps: u64, nan_at: &[(u64, usize)]) -> (Bag, Vec<Vec<f64>>) {
    let v0 = values(SPECS, 3);
    let mut bag = bag64(SPECS, &v0);
    let mut opt = Optimizer::tiger(cfg.clone(), &bag).unwrap();
    let mut th = v0.clone();
    let mut m: Vec<Vec<f64>> = th.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut st: Vec<TigerRefState> = vec![Default::default(); SPECS.len()];
    for t in 0..steps {
        let mut g = grads(SPECS, 300 + t, 0.5);
        // Sparse embedding gradients: only some rows are looked up.
        for r in 0..11 {
            if !(r + t as usize).is_multiple_of(3) {
                g[1][r * 5..(r + 1) * 5].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        for &(when, which) in nan_at {
            if when == t {
                g[which][2] = if which % 2 == 0 {
                    f64::NAN
                } else {
                    f64::INFINITY
                };
            }
        }
        set_grads(&mut bag, &g);
        opt.step(&mut bag).unwrap();
        for i in 0..SPECS.len() {
            let kind = opt.kind_of(SPECS[i].0).unwrap();
            tiger_micro_step_ref(&cfg, kind, 5, &mut st[i], &mut th[i], &mut m[i], &g[i]);
        }
    }
    for i in 0..SPECS.len() {
        assert_close(
            "tiger m",
            &opt.momentum(SPECS[i].0).unwrap(),
            &m[i],
            1e-15,
            1e-12,
        );
        assert_eq!(
            opt.guard_events()[i].1,
            st[i].guard_events,
            "guard counter {i}"
        );
    }
    (bag, th)
}

#[test]
fn tiger_f64_matches_reference_all_rules() {
    let sched = PiecewiseLinear::new(&[(4, 1.0), (10, 0.5), (20, 0.1)]).unwrap();
    for (k, lazy, refmode, floor) in [
        (1, false, true, 0.0),
        (3, false, true, 0.0),
        (3, true, true, 0.05),
        (2, false, false, 0.0),
    ] {
        let cfg = TigerConfig {
            alpha: 2e-3,
            grad_accum_steps: k,
            schedule: sched.clone(),
            lazy_embedding_rows: lazy,
            reference_mode: refmode,
            rms_floor: floor,
            ..Default::default()
        };
        let (bag, th) = tiger_vs_ref(cfg, 24, &[(6, 0), (9, 3), (12, 2)]);
        let got = vals_of(&bag);
        for i in 0..SPECS.len() {
            assert_close("tiger θ", &got[i], &th[i], 1e-15, 1e-12);
        }
    }
}

#[test]
fn tiger_f32_matches_reference_up_to_sign_flips() {
    let cfg = TigerConfig {
        grad_accum_steps: 2,
        ..Default::default()
    };
    let v0 = values(SPECS, 3);
    let (b64, th) = tiger_vs_ref(cfg.clone(), 20, &[]);
    let mut b32 = bag32(SPECS, &v0);
    let mut o32 = Optimizer::tiger(cfg, &b32).unwrap();
    for t in 0..20 {
        let mut g = grads(SPECS, 300 + t, 0.5);
        for r in 0..11 {
            if !(r + t as usize).is_multiple_of(3) {
                g[1][r * 5..(r + 1) * 5].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        set_grads(&mut b32, &g);
        o32.step(&mut b32).unwrap();
    }
    let (g32, g64) = (vals_of(&b32), vals_of(&b64));
    for i in 0..SPECS.len() {
        // f32 rounding of θ·d − η·sign over 10 updates: a few ulp of |θ| ≈ 0.3.
        assert_close("tiger θ f32", &g32[i], &th[i], 1e-6, 1e-5);
        assert_close("tiger f64 vs ref", &g64[i], &th[i], 1e-15, 1e-12);
    }
}
