//! Spec §9 properties 4, 5, 6, 7, 7b, 8, 10, 13.

mod common;
use adam_eps_scaling::adam_eps::{
    SoftSignMeanField, clip_closed_moments, large_eps_limit_exact, large_eps_limit_su2024,
};
use adam_eps_scaling::quadrature::{Quadrature, Shape};
use adam_eps_scaling::*;
use common::*;

#[test]
fn p4_sign_exact() {
    let q = Quadrature::default_rule();
    for a in [-6.0, -1.3, -1e-3, 0.0, 0.2, 1.0, 2.5, 7.9] {
        let (m, qq) = q.moments(Shape::Sign, a, 0.0);
        assert!((m - libm::erf(a / 2f64.sqrt())).abs() < 1e-9, "{a}");
        assert!((qq - 1.0).abs() < 1e-9);
    }
    let (st, h) = instance_6_5();
    // η*(4B)/η*(B) → 2 as B → 0 (max |a| < 1e-3).
    let b = 1e-4;
    let amax =
        st.g.iter()
            .zip(&st.sigma2)
            .map(|(g, s)| (g / (s / b).sqrt()).abs())
            .fold(0.0, f64::max);
    assert!(amax < 1e-3);
    let e1 = one_step(&Rule::Sign, &st, &h, b, &Moments::Exact)
        .unwrap()
        .eta_star;
    let e4 = one_step(&Rule::Sign, &st, &h, 4.0 * b, &Moments::Exact)
        .unwrap()
        .eta_star;
    assert!((e4 / e1 - 2.0).abs() < 1e-3, "{}", e4 / e1);
    // η*(∞) = Σ|g|/sᵀHs, at B = 1e9 to 1e-6.
    let s: Vec<f64> = st.g.iter().map(|g| g.signum()).collect();
    let lim = st.g.iter().map(|g| g.abs()).sum::<f64>() / h.quad(&s);
    let e = one_step(&Rule::Sign, &st, &h, 1e9, &Moments::Exact)
        .unwrap()
        .eta_star;
    assert!(rel(e, lim) < 1e-6);
    // Diagonal H ⇒ increasing.
    let mut prev = 0.0;
    for b in log_grid(0.01, 1e8, 100) {
        let e = one_step(&Rule::Sign, &st, &h, b, &Moments::Exact)
            .unwrap()
            .eta_star;
        // Non-decreasing (equal to rounding once erf saturates at 1).
        assert!(e >= prev * (1.0 - 1e-14), "{b}");
        prev = e;
    }
}

#[test]
fn p5_surge_exists_and_dl_monotone() {
    let (st, h) = instance_r4();
    // ρ(N−1) = 0.5·15 > 1.
    let (bp, _) = peak_batch(&Rule::Sign, &st, &h, &Moments::Exact, 1.0, 1e7)
        .unwrap()
        .unwrap();
    let l = SignMeanField::from_stats(&st, &h, MeanFieldVariant::Su2024).unwrap();
    // Identical coordinates: the peak solves erf(a/√2) = β_noise, a = g√B/σ.
    let bn = l.beta_noise().unwrap();
    let a = (libm::erf(0.0) + bn).max(0.0);
    let mut x = 0.5;
    for _ in 0..100 {
        x -= (libm::erf(x) - a) / (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp());
    }
    let a_star = x * 2f64.sqrt();
    let b_star = a_star * a_star * st.sigma2[0] / (st.g[0] * st.g[0]);
    assert!(rel(bp, b_star) < 0.01, "{bp} vs {b_star}");
    assert!(
        surge_test(&Rule::Sign, &st, &h, &Moments::Exact, 1.0, 1e7, 1e-3)
            .unwrap()
            .is_some()
    );
    let mut prev = 0.0;
    for b in log_grid(1.0, 1e7, 60) {
        let d = one_step(&Rule::Sign, &st, &h, b, &Moments::Exact)
            .unwrap()
            .delta_l_star;
        // Non-decreasing (equal to rounding once erf saturates at 1).
        assert!(d >= prev * (1.0 - 1e-14), "{b}");
        prev = d;
    }
    // ρ(N−1) < 1: no surge.
    let h2 = DenseH::rank_one_plus_identity(&[1.0; 16], 0.05);
    assert!(
        peak_batch(&Rule::Sign, &st, &h2, &Moments::Exact, 1.0, 1e7)
            .unwrap()
            .is_none()
    );
    assert!(
        surge_test(&Rule::Sign, &st, &h2, &Moments::Exact, 1.0, 1e7, 1e-9)
            .unwrap()
            .is_none()
    );
}

#[test]
fn p6_eps_to_zero_recovers_sign() {
    let (st, h) = instance_r4();
    let (st2, h2) = instance_6_5();
    for b in [1.0, 64.0, 4096.0] {
        for (st, hh) in [(&st, &h as &dyn Curvature), (&st2, &h2 as &dyn Curvature)] {
            let tau_min = st.tau(b).into_iter().fold(f64::MAX, f64::min);
            let sign = one_step(&Rule::Sign, st, hh, b, &Moments::Exact)
                .unwrap()
                .eta_star;
            for rule in [
                Rule::SoftSign {
                    eps: 1e-9 * tau_min,
                },
                Rule::AdamDiv {
                    eps: 1e-9 * tau_min,
                },
                Rule::Clip {
                    eps: 1e-9 * tau_min,
                },
            ] {
                let e = one_step(&rule, st, hh, b, &Moments::Exact)
                    .unwrap()
                    .eta_star;
                assert!(rel(e, sign) < 1e-4, "{rule:?} {b}: {}", rel(e, sign));
            }
        }
    }
}

#[test]
fn p7_large_batch_limit_and_monotonicity() {
    let (st, h) = instance_6_5();
    for rule in [
        Rule::SoftSign { eps: 1e-3 },
        Rule::AdamDiv { eps: 1e-3 },
        Rule::SoftSign { eps: 1e-4 },
    ] {
        let u: Vec<f64> = st.g.iter().map(|&g| rule.apply(g)).collect();
        let lim = u.iter().zip(&st.g).map(|(u, g)| u * g).sum::<f64>() / h.quad(&u);
        let e = one_step(&rule, &st, &h, 1e8, &Moments::Exact)
            .unwrap()
            .eta_star;
        assert!(rel(e, lim) < 1e-4, "{rule:?}: {}", rel(e, lim));
        for b in log_grid(1.0, 1e8, 60) {
            assert!(
                one_step(&rule, &st, &h, b, &Moments::Exact)
                    .unwrap()
                    .eta_star
                    <= 1.01 * lim
            );
        }
    }
    let mut prev = 0.0;
    for b in log_grid(1.0, 1e8, 60) {
        let e = one_step(&Rule::Sgd, &st, &h, b, &Moments::Exact)
            .unwrap()
            .eta_star;
        assert!(e > prev);
        prev = e;
    }
}

#[test]
fn p7b_eps_to_infinity() {
    for (st, h) in [instance_6_5().0, dense_12(1.0).0]
        .into_iter()
        .zip([&instance_6_5().1 as &dyn Curvature, &dense_12(1.0).1])
    {
        for b in [4.0, 64.0, 1024.0] {
            let scale =
                st.g.iter()
                    .zip(st.tau(b))
                    .map(|(g, t)| g.abs().max(t))
                    .fold(0.0, f64::max);
            let eps = 1e4 * scale;
            let sgd = one_step(&Rule::Sgd, &st, h, b, &Moments::Exact)
                .unwrap()
                .eta_star;
            assert!(rel(large_eps_limit_exact(&st, h, b).unwrap(), sgd) < 1e-12);
            let su_lim = large_eps_limit_su2024(&st, h, b).unwrap();
            for rule in [Rule::SoftSign { eps }, Rule::AdamDiv { eps }] {
                for how in [Moments::Exact, Moments::MeanField2025] {
                    let e = one_step(&rule, &st, h, b, &how).unwrap().eta_star / eps;
                    assert!(rel(e, sgd) < 1e-3, "{rule:?} {how:?} {b}: {}", rel(e, sgd));
                }
                let e = one_step(&rule, &st, h, b, &Moments::Su2024)
                    .unwrap()
                    .eta_star
                    / eps;
                assert!(rel(e, su_lim) < 1e-3, "Su2024 {b}: {}", rel(e, su_lim));
                assert!(rel(e, sgd) > 1e-2, "Su2024's limit must not be exact SGD");
            }
        }
    }
}

#[test]
fn p8_large_eps_removes_surge() {
    let (st, h) = instance_r4();
    assert!(
        peak_batch(
            &Rule::SoftSign { eps: 1e-2 },
            &st,
            &h,
            &Moments::Exact,
            1.0,
            1e7
        )
        .unwrap()
        .is_none()
    );
    for eps in [0.0, 1e-3, 2e-3, 1e-2, 1.0] {
        for v in [MeanFieldVariant::Su2024, MeanFieldVariant::MeanField2025] {
            let l = SoftSignMeanField::from_stats(&st, &h, eps, v).unwrap();
            assert_eq!(l.b_peak().is_none(), l.uhu <= 2.0 * l.trace_h, "ε={eps}");
        }
    }
    let l = SoftSignMeanField::from_stats(&st, &h, 1e-2, MeanFieldVariant::Su2024).unwrap();
    assert!(l.uhu <= 2.0 * l.trace_h && l.b_peak().is_none());
}

#[test]
fn p10_clip_closed_forms() {
    let q = Quadrature::default_rule();
    let mut worst = 0.0f64;
    for a in [-4.0, -1.0, 0.0, 0.3, 1.7, 5.0] {
        for b in [0.05, 0.3, 1.0, 3.0, 10.0] {
            let (m, qq) = clip_closed_moments(a, b);
            let (mq, qq2) = q.moments(Shape::Clip, a, b);
            worst = worst.max((m - mq).abs()).max((qq - qq2).abs());
        }
    }
    assert!(worst < 1e-8, "{worst}");
    println!("R2: max |closed − quadrature| = {worst:.2e}");
    for b in [0.1, 1.0, 4.0] {
        let h = 1e-6;
        let slope = (clip_closed_moments(h, b).0 - clip_closed_moments(-h, b).0) / (2.0 * h);
        assert!(rel(slope, libm::erf(b / 2f64.sqrt()) / b) < 1e-8);
    }
}

#[test]
fn p13_quadrature_convergence() {
    let q10 = Quadrature::default_rule();
    let q40 = Quadrature::new(40);
    for shape in [Shape::SoftSign, Shape::AdamDiv] {
        for a in [0.0, 0.1, 1.0, 3.0, -2.0] {
            for b in [1e-3, 0.1, 1.0, 5.0, 30.0] {
                let (m1, q1) = q10.moments(shape, a, b);
                let (m2, q2) = q40.moments(shape, a, b);
                assert!(
                    (m1 - m2).abs() < 1e-9 && (q1 - q2).abs() < 1e-9,
                    "{shape:?} {a} {b}"
                );
            }
            let (m1, q1) = q10.moments(shape, a, 1e-6);
            let (m2, q2) = Quadrature::new(20).moments(shape, a, 1e-6);
            assert!(
                (m1 - m2).abs() < 1e-10 && (q1 - q2).abs() < 1e-10,
                "{shape:?} {a} b=1e-6"
            );
        }
    }
}
