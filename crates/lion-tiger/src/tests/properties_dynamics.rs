//! Spec §8 properties 8–11 and 13: zero and constant gradients, masks and decoupled decay,
//! schedules; and lazy embedding rows and bfloat16 momentum.

use super::properties::{MAT, g_at, lion_eta_lambda, lockstep, zeros_like};
use super::*;
use crate::*;

#[test]
fn p8_p9_zero_gradient_only_decays_and_first_step_is_sign_sgd() {
    let v0 = values(MAT, 19);
    let (eta, lam) = (1e-3, 0.1);
    let mut a = bag64(MAT, &v0);
    let mut o = lion_eta_lambda(eta, lam, &a);
    set_grads(&mut a, &zeros_like(&v0));
    o.step(&mut a).unwrap();
    for (x, y) in vals_of(&a).iter().flatten().zip(v0.iter().flatten()) {
        assert!((x - y * (1.0 - eta * lam)).abs() < 1e-17);
    }
    let mut b = bag64(MAT, &v0);
    let mut o = lion_eta_lambda(eta, lam, &b);
    let g = g_at(20, 1.0);
    set_grads(&mut b, &g);
    o.step(&mut b).unwrap();
    for ((x, y), g) in vals_of(&b)
        .iter()
        .flatten()
        .zip(v0.iter().flatten())
        .zip(g.iter().flatten())
    {
        assert!((x - (y - eta * g.signum() - eta * lam * y)).abs() < 1e-16);
    }
}

#[test]
fn p10_constant_sign_converges_to_minus_sign_over_lambda() {
    let v0 = values(MAT, 21);
    let mut a = bag64(MAT, &v0);
    let (eta, lam) = (0.01, 2.0);
    let mut o = lion_eta_lambda(eta, lam, &a);
    let g = g_at(22, 1.0);
    set_grads(&mut a, &g);
    o.step(&mut a).unwrap();
    set_grads(&mut a, &zeros_like(&v0));
    for _ in 0..3000 {
        o.step(&mut a).unwrap();
    }
    for (x, g) in vals_of(&a).iter().flatten().zip(g.iter().flatten()) {
        assert!(
            (x - (-g.signum() / lam)).abs() < 1e-9,
            "{x} vs {}",
            -g.signum() / lam
        );
    }
}

#[test]
fn p11_mask_and_fully_decoupled_decay() {
    let specs: &[Spec] = &[
        ("enc.w", &[10, 4], ParamRole::Matrix),
        ("enc.b", &[4], ParamRole::Bias),
        ("emb", &[6, 4], ParamRole::Embedding),
    ];
    let v0 = values(specs, 23);
    let zeros = zeros_like(&v0);
    let (eta, lam, lr_max) = (1e-3, 0.5, 4e-3);
    let cfg = LionConfig {
        lr: eta,
        weight_decay: lam,
        decay_mode: DecayMode::FullyDecoupled { lr_max },
        ..Default::default()
    };
    let mut a = bag64(specs, &v0);
    let rules = [GroupRule::no_decay(Match::Name("emb".into()))];
    let mut o = Optimizer::new(Algorithm::Lion(cfg), &a, &rules).unwrap();
    assert_eq!(o.decay_of("enc.b"), Some(0.0), "biases masked by default");
    set_grads(&mut a, &zeros);
    o.step(&mut a).unwrap();
    let after = vals_of(&a);
    assert_eq!(after[1], v0[1]);
    assert_eq!(after[2], v0[2]);
    for (x, y) in after[0].iter().zip(&v0[0]) {
        assert!((x - y * (1.0 - lam * eta / lr_max)).abs() < 1e-17);
    }
}

#[test]
fn p13_schedule_knots_and_interpolation() {
    let s = PiecewiseLinear::new(&[(40, 1.0), (160, 0.5), (640, 0.1)]).unwrap();
    assert_eq!(s.knots()[0], (0, 0.0));
    assert_eq!(s.at(0), 0.0);
    assert_eq!(s.at(20), 0.5);
    assert_eq!(s.at(40), 1.0);
    assert!((s.at(100) - 0.75).abs() < 1e-15);
    assert_eq!(s.at(160), 0.5);
    assert!((s.at(400) - 0.3).abs() < 1e-15);
    assert_eq!(s.at(640), 0.1);
    assert_eq!(s.at(10_000), 0.1);
    assert_eq!(PiecewiseLinear::constant().at(123), 1.0);
    let z = PiecewiseLinear::new(&[(0, 2.0), (10, 0.0)]).unwrap();
    assert_eq!(z.at(5), 1.0);
}

#[test]
fn tiger_schedule_counts_micro_steps() {
    // With k = 2 and a warm-up of 4 micro-steps, the first update (micro-step 1) uses s(1) = 0.25.
    let specs: &[Spec] = &[("b", &[8], ParamRole::Bias)];
    let v0 = values(specs, 24);
    let mut a = bag64(specs, &v0);
    let sched = PiecewiseLinear::new(&[(4, 1.0)]).unwrap();
    let mut o = Optimizer::tiger(
        TigerConfig {
            alpha: 1e-2,
            grad_accum_steps: 2,
            schedule: sched,
            ..Default::default()
        },
        &a,
    )
    .unwrap();
    set_grads(&mut a, &[vec![1.0; 8]]);
    o.step(&mut a).unwrap();
    assert_eq!(vals_of(&a)[0], v0[0], "no move on a non-update micro-step");
    o.step(&mut a).unwrap();
    for (x, y) in vals_of(&a)[0].iter().zip(&v0[0]) {
        assert!((y - x - 0.5 * 1e-2 * 0.25).abs() < 1e-16);
    }
}

#[test]
fn lazy_rows_leave_unseen_rows_alone() {
    let specs: &[Spec] = &[("emb", &[6, 4], ParamRole::Embedding)];
    let v0 = values(specs, 25);
    let mut a = bag64(specs, &v0);
    let mut o = Optimizer::tiger(
        TigerConfig {
            lazy_embedding_rows: true,
            ..Default::default()
        },
        &a,
    )
    .unwrap();
    let mut g = vec![0.0; 24];
    g[4..8].copy_from_slice(&[1.0, -1.0, 2.0, 0.5]); // row 1 only
    set_grads(&mut a, &[g.clone()]);
    o.step(&mut a).unwrap();
    set_grads(&mut a, &[vec![0.0; 24]]);
    o.step(&mut a).unwrap();
    let after = vals_of(&a);
    for r in [0usize, 2, 3, 4, 5] {
        assert_eq!(after[0][r * 4..(r + 1) * 4], v0[0][r * 4..(r + 1) * 4]);
    }
    // Without lazy rows, a row seen once keeps moving (spec §3.9).
    let mut b = bag64(specs, &v0);
    let mut o = Optimizer::tiger(TigerConfig::default(), &b).unwrap();
    set_grads(&mut b, &[g]);
    o.step(&mut b).unwrap();
    let once = vals_of(&b)[0].clone();
    set_grads(&mut b, &[vec![0.0; 24]]);
    o.step(&mut b).unwrap();
    assert_ne!(vals_of(&b)[0][4..8], once[4..8]);
}

#[test]
fn bf16_momentum_lion_tracks_f32_lion() {
    let v0 = values(MAT, 26);
    let (mut a, mut b) = (bag32(MAT, &v0), bag32(MAT, &v0));
    let mut oa = Optimizer::lion(LionConfig::default(), &a).unwrap();
    let mut ob = Optimizer::lion(
        LionConfig {
            bf16_momentum: true,
            ..Default::default()
        },
        &b,
    )
    .unwrap();
    lockstep((&mut a, &mut oa), (&mut b, &mut ob), 10, <[_]>::to_vec);
    let (ma, mb) = (oa.momentum("w").unwrap(), ob.momentum("w").unwrap());
    // Each of the 10 steps rounds m to bf16 (8 significant bits, half-ulp 2^-9 relative);
    // the errors add up to at most 10·2^-8 of m's scale.
    let scale = ma.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    for (x, y) in ma.iter().zip(&mb) {
        assert!(
            (x - y).abs() <= 10.0 * 2f64.powi(-8) * scale,
            "bf16 m {y} vs f32 m {x}"
        );
    }
    assert!(ob.state_bytes() * 2 == oa.state_bytes());
}
