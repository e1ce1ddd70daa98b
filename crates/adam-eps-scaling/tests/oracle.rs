//! The exact η*(B) (composite Gauss–Legendre, spec §8.3) against an independent scipy quadrature
//! (`scripts/scipy_oracle.py`, fixture committed) to 1e-8 relative.

use adam_eps_scaling::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    instance: String,
    g: Vec<f64>,
    sigma2: Vec<f64>,
    h: Vec<Vec<f64>>,
    rule: String,
    eps: f64,
    batch: f64,
    eta_star: f64,
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[test]
fn exact_eta_star_matches_scipy() {
    let fx: Fixture = serde_json::from_str(include_str!("fixtures/scipy_oracle.json")).unwrap();
    assert!(fx.cases.len() >= 30);
    let mut worst = 0.0f64;
    for c in &fx.cases {
        let n = c.g.len();
        let h = DenseH::new(ndarray::Array2::from_shape_fn((n, n), |(i, j)| c.h[i][j])).unwrap();
        let st = GradStats::new(c.g.clone(), c.sigma2.clone()).unwrap();
        let rule = match c.rule.as_str() {
            "soft_sign" => Rule::SoftSign { eps: c.eps },
            "adam_div" => Rule::AdamDiv { eps: c.eps },
            r => panic!("unknown rule {r}"),
        };
        let e = one_step(&rule, &st, &h, c.batch, &Moments::Exact)
            .unwrap()
            .eta_star;
        let r = (e - c.eta_star).abs() / c.eta_star.abs();
        worst = worst.max(r);
        assert!(
            r < 1e-8,
            "{} {rule:?} B={}: {e} vs scipy {} ({r:e})",
            c.instance,
            c.batch,
            c.eta_star
        );
    }
    println!(
        "oracle: {} cases, worst relative difference {worst:.2e}",
        fx.cases.len()
    );
}
