//! Spec §10 reference numbers R1–R7 and R10.

use adam_eps_scaling::adam_eps::{large_eps_limit_exact, large_eps_limit_su2024, mean_field_2025_mv, su2024_mv};
use adam_eps_scaling::quadrature::{Shape, exact_moments};
use adam_eps_scaling::signsgd::{erf_clip, erf_scurve};
use adam_eps_scaling::*;

fn r4() -> (GradStats, DenseH) {
    let st = GradStats::uniform(16, 1e-3, 9e-4).unwrap();
    (st, DenseH::rank_one_plus_identity(&[1.0; 16], 0.5))
}

#[test]
fn r1_erf_s_curves() {
    let (mut e1, mut e2) = (0.0f64, 0.0f64);
    for i in 0..=200_000 {
        let x = i as f64 * 5e-5;
        e1 = e1.max((libm::erf(x) - erf_scurve(x)).abs());
        e2 = e2.max((libm::erf(x) - erf_clip(x)).abs());
    }
    println!("R1: {e1:.5} {e2:.5}");
    assert!((e1 - 0.1078).abs() < 5e-5, "{e1}");
    assert!((e2 - 0.2101).abs() < 5e-5, "{e2}");
}

#[test]
fn r4_surge_instance() {
    let (st, h) = r4();
    let (bp, ep) = peak_batch(&Rule::Sign, &st, &h, &Moments::Exact, 1.0, 1e6).unwrap().unwrap();
    let lim = one_step(&Rule::Sign, &st, &h, f64::INFINITY, &Moments::Exact).unwrap().eta_star;
    println!("R4 exact: B_peak {bp:.2} η_peak {ep:.5e} limit {lim:.5e} ratio {:.4}", ep / lim);
    assert!((bp - 203.0).abs() < 1.0, "{bp}");
    assert!((ep - 1.826e-4).abs() < 5e-8, "{ep}");
    assert!((lim - 1.176e-4).abs() < 5e-8, "{lim}");
    assert!((ep / lim - 1.55).abs() < 5e-3);
    let su = SignMeanField::from_stats(&st, &h, MeanFieldVariant::Su2024).unwrap().b_peak().unwrap();
    let mf = SignMeanField::from_stats(&st, &h, MeanFieldVariant::MeanField2025).unwrap().b_peak().unwrap();
    let li = SurgeLaw::from_stats(&st, &h).unwrap().b_noise;
    println!("R4 predicted peaks: Su2024 {su:.2} Li2024 {li:.2} MF2025 {mf:.2}");
    assert!((su - 217.0).abs() < 1.0 && (li - 188.0).abs() < 1.0 && (mf - 138.0).abs() < 1.0);
    // Per-coordinate approximate moments give the same peaks on identical coordinates.
    let su_pc = peak_batch(&Rule::Sign, &st, &h, &Moments::Su2024, 1.0, 1e6).unwrap().unwrap().0;
    assert!((su_pc / su - 1.0).abs() < 1e-6, "{su_pc} vs {su}");
}

#[test]
fn r5_eps_suppresses_surge() {
    let (st, h) = r4();
    let expect = [(0.0, 1.552, Some(207.0)), (3e-4, 1.605, Some(207.0)), (1e-3, 1.401, Some(243.0)),
        (2e-3, 1.122, Some(395.0)), (3e-3, 1.013, Some(1129.0)), (1e-2, 1.000, None)];
    for (eps, ratio, bpk) in expect {
        let rule = if eps == 0.0 { Rule::Sign } else { Rule::SoftSign { eps } };
        let lim = one_step(&rule, &st, &h, f64::INFINITY, &Moments::Exact).unwrap().eta_star;
        let pk = peak_batch(&rule, &st, &h, &Moments::Exact, 1.0, 1e7).unwrap();
        let r = pk.map_or(1.0, |p| p.1 / lim);
        println!("R5 ε={eps:e}: peak {:?} ratio {r:.4}", pk.map(|p| p.0));
        assert!((r - ratio).abs() < 1.5e-3, "ε={eps}: ratio {r} vs {ratio}");
        match (bpk, pk) {
            // The peaks are flat; R5's own ε = 0 entry (207) differs from R4's (203) for the same
            // quantity by 2 %, so R5's locations are only good to ~2 %.
            (Some(b), Some((bb, _))) => assert!((bb / b - 1.0).abs() < 0.025, "ε={eps}: {bb} vs {b}"),
            (None, None) => {}
            (e, g) => panic!("ε={eps}: expected {e:?}, got {g:?}"),
        }
    }
    // Su 2024's criterion uᵀHu > 2 tr H already says "no peak" at ε = 2e-3 (slightly conservative).
    let l = SoftSignMeanField::from_stats(&st, &h, 2e-3, MeanFieldVariant::Su2024).unwrap();
    assert!(l.b_peak().is_none());
    let l = SoftSignMeanField::from_stats(&st, &h, 1e-3, MeanFieldVariant::Su2024).unwrap();
    assert!(l.b_peak().is_some());
}
