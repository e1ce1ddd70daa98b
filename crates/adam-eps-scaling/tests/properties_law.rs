//! Spec §9 properties 1, 2, 3, 9, 12.

mod common;
use adam_eps_scaling::*;
use common::*;

#[test]
fn p1_one_step_identities() {
    let (st, h) = instance_r4();
    for rule in [
        Rule::Sgd,
        Rule::Sign,
        Rule::SoftSign { eps: 1e-3 },
        Rule::AdamDiv { eps: 1e-3 },
        Rule::Clip { eps: 1e-3 },
    ] {
        for how in [Moments::Exact, Moments::Su2024, Moments::MeanField2025] {
            for b in [1.0, 64.0, 4096.0] {
                let r = one_step(&rule, &st, &h, b, &how).unwrap();
                let at = delta_l(&rule, &st, &h, b, r.eta_star, &how).unwrap();
                assert!(rel(at, r.delta_l_star) < 1e-12, "{rule:?} {how:?} {b}");
                let at2 = delta_l(&rule, &st, &h, b, 2.0 * r.eta_star, &how).unwrap();
                assert!(at2.abs() < 1e-12 * r.delta_l_star, "{at2}");
                // ΔL(η)/ΔL* = 2(η/η*) − (η/η*)².
                assert!(rel(r.delta_l(0.5 * r.eta_star) / r.delta_l_star, 0.75) < 1e-12);
            }
        }
    }
}

#[test]
fn p2_sgd_law() {
    let (st, h) = dense_12(1.0);
    let law = SgdLaw::from_stats(&st, &h).unwrap();
    let mut prev = 0.0;
    for b in log_grid(0.1, 1e7, 50) {
        let r = one_step(&Rule::Sgd, &st, &h, b, &Moments::Exact).unwrap();
        assert!(rel(r.eta_star, law.eta(b)) < 1e-12);
        assert!(rel(r.delta_l_star, law.dl(b)) < 1e-12);
        assert!(r.eta_star > prev);
        prev = r.eta_star;
    }
    assert!(rel(law.eta(law.b_noise), law.eta_max / 2.0) < 1e-12);
    let inf = one_step(&Rule::Sgd, &st, &h, f64::INFINITY, &Moments::Exact).unwrap();
    assert!(rel(inf.eta_star, law.eta_max) < 1e-12);
    assert!(rel(law.eta(1e12), law.eta_max) < 1e-9);
    // B_simple = B_noise when H ∝ I.
    let hi = DiagH::scaled_identity(12, 3.0);
    assert!(rel(b_simple(&st).unwrap(), b_noise(&st, &hi).unwrap()) < 1e-12);
}

#[test]
fn p3_steps_examples_hyperbola() {
    let (st, h) = dense_12(1.0);
    let law = SgdLaw::from_stats(&st, &h).unwrap();
    for b in [1.0, 10.0, 1e3, 1e5] {
        let (s, e) = (law.steps_over_min(b), law.examples_over_min(b));
        assert!(((s - 1.0) * (e - 1.0) - 1.0).abs() < 1e-12);
    }
    let (s_min, b_crit) = (1234.0, 917.0);
    let pts: Vec<(f64, f64)> = [1.0, 8.0, 64.0, 512.0, 4096.0, 32768.0]
        .iter()
        .map(|&b| {
            let s = s_min * (1.0 + b_crit / b);
            (s, b * s)
        })
        .collect();
    let (fs, fe, fb) = fit_steps_examples(&pts).unwrap();
    assert!(
        rel(fs, s_min) < 1e-9 && rel(fb, b_crit) < 1e-9 && rel(fe, s_min * b_crit) < 1e-9,
        "{fs} {fe} {fb}"
    );
    // fit_sgd_law recovers the law from exact points.
    let f = fit_sgd_law(&[1.0, 10.0, 100.0, 1e4].map(|b| (b, law.eta(b)))).unwrap();
    assert!(rel(f.eta_max, law.eta_max) < 1e-9 && rel(f.b_noise, law.b_noise) < 1e-9);
    // fit_surge_law recovers Li et al.'s law from exact points.
    let li = SurgeLaw::from_stats(&instance_r4().0, &instance_r4().1).unwrap();
    let f = fit_surge_law(&[1.0, 10.0, 100.0, 1e3, 1e4].map(|b| (b, li.eta(b)))).unwrap();
    assert!(
        rel(f.b_noise, li.b_noise) < 1e-6 && rel(f.eta_peak, li.eta_peak) < 1e-6,
        "{f:?} {li:?}"
    );
}

#[test]
fn p9_homogeneity() {
    let (st, h) = dense_12(1.0);
    let c = 7.3;
    let sc = GradStats::new(
        st.g.iter().map(|g| c * g).collect(),
        st.sigma2.iter().map(|s| c * c * s).collect(),
    )
    .unwrap();
    for how in [Moments::Exact, Moments::Su2024, Moments::MeanField2025] {
        for (r1, r2) in [
            (Rule::Sign, Rule::Sign),
            (
                Rule::SoftSign { eps: 1e-3 },
                Rule::SoftSign { eps: c * 1e-3 },
            ),
            (Rule::AdamDiv { eps: 2e-3 }, Rule::AdamDiv { eps: c * 2e-3 }),
            (Rule::Clip { eps: 2e-2 }, Rule::Clip { eps: c * 2e-2 }),
        ] {
            for b in [1.0, 100.0, 1e4] {
                let e1 = one_step(&r1, &st, &h, b, &how).unwrap().eta_star;
                let e2 = one_step(&r2, &sc, &h, b, &how).unwrap().eta_star;
                assert!(
                    rel(e2, c * e1) < 1e-9,
                    "{r1:?} {how:?} {b}: {}",
                    rel(e2, c * e1)
                );
            }
        }
    }
    let e1 = one_step(&Rule::Sgd, &st, &h, 64.0, &Moments::Exact)
        .unwrap()
        .eta_star;
    let e2 = one_step(&Rule::Sgd, &sc, &h, 64.0, &Moments::Exact)
        .unwrap()
        .eta_star;
    assert!(rel(e1, e2) < 1e-12);
}

#[test]
fn p12_mean_field_algebra() {
    let (st, h) = instance_r4();
    for v in [MeanFieldVariant::Su2024, MeanFieldVariant::MeanField2025] {
        let l = SignMeanField::from_stats(&st, &h, v).unwrap();
        let (bn, ep) = (l.beta_noise().unwrap(), l.eta_peak().unwrap());
        for b in [1.0, 30.0, 217.0, 5000.0] {
            let beta = l.beta(b);
            let peak_form = ep / (0.5 * (bn / beta + beta / bn));
            assert!(rel(l.eta(b), peak_form) < 1e-12);
            let dl = l.dl_max() / (1.0 + l.b_n2() / b);
            let direct = (beta * l.sum_abs_g).powi(2)
                / (2.0 * (beta * beta * (l.off + l.trace_h) + (1.0 - beta * beta) * l.trace_h));
            assert!(rel(l.dl(b), dl) < 1e-12 && rel(direct, dl) < 1e-12);
        }
        assert!(rel(1.0 / l.b_n2() - 1.0 / l.b_peak().unwrap(), 2.0 / l.c) < 1e-12);
        if v == MeanFieldVariant::Su2024 {
            let kappa2 = st.trace_sigma() / st.g_norm2();
            assert!(rel(2.0 / l.c, 4.0 / (std::f64::consts::PI * kappa2)) < 1e-12);
        }
        // η*(B_peak) is the maximum.
        let bp = l.b_peak().unwrap();
        assert!(rel(l.eta(bp), ep) < 1e-12 && l.eta(bp * 1.1) < ep && l.eta(bp / 1.1) < ep);
    }
}
