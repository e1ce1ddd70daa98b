//! The fast paths against the straightforward references: the coordinate-major [`sweep`] (and
//! [`one_step`]) for diagonal H against [`sweep_reference`], and the allocation-free quadrature
//! against [`Quadrature::integrate_reference`].

use adam_eps_scaling::quadrature::{Quadrature, Shape};
use adam_eps_scaling::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Random instance: |g| ~ 1e-3 with some g = 0, σ² ~ 9e-4 with some σ² = 0, H_ii ∈ [0.5, 2].
fn instance(n: usize, seed: u64) -> (GradStats, DiagH) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = Vec::with_capacity(n);
    let mut s2 = Vec::with_capacity(n);
    let mut h = Vec::with_capacity(n);
    for i in 0..n {
        let z: f64 = StandardNormal.sample(&mut rng);
        g.push(if i % 11 == 5 { 0.0 } else { 1e-3 * z });
        s2.push(if i % 7 == 3 {
            0.0
        } else {
            9e-4 * rng.random_range(0.05..3.0)
        });
        h.push(rng.random_range(0.5..2.0));
    }
    (GradStats::new(g, s2).unwrap(), DiagH(h))
}

fn rules() -> Vec<Rule> {
    vec![
        Rule::Sgd,
        Rule::Sign,
        Rule::SoftSign { eps: 1e-3 },
        Rule::SoftSign { eps: 0.0 },
        Rule::AdamDiv { eps: 1e-3 },
        Rule::AdamDiv { eps: 3e-2 },
        Rule::Clip { eps: 1e-3 },
        Rule::Clip { eps: 1e-1 },
    ]
}

fn moments() -> Vec<Moments> {
    vec![
        Moments::Exact,
        Moments::Su2024,
        Moments::MeanField2025,
        Moments::MonteCarlo { draws: 16, seed: 7 },
    ]
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / b.abs() }
}

#[test]
fn fast_sweep_equals_reference() {
    // B = ∞ and invalid sizes (per-B errors) among ordinary ones.
    let batches = [1.0, 3.7, f64::INFINITY, 0.0, 64.0, -2.0, 1e3, f64::NAN, 1e6];
    let mut worst = 0.0f64;
    for (n, seed) in [(1, 1), (7, 2), (1001, 3), (2 * 1024 + 77, 4)] {
        let (st, h) = instance(n, seed);
        for rule in rules() {
            for how in moments() {
                // The quadrature on 2101 coordinates is the slow part of this test; 1001 is enough.
                let quad = matches!(how, Moments::Exact)
                    && matches!(rule, Rule::SoftSign { eps } | Rule::AdamDiv { eps } if eps > 0.0);
                if quad && n > 1001 {
                    continue;
                }
                let fast = sweep(&rule, &st, &h, &batches, &how);
                let slow = sweep_reference(&rule, &st, &h, &batches, &how);
                for ((f, s), b) in fast.iter().zip(&slow).zip(&batches) {
                    let ctx = format!("n={n} {rule:?} {how:?} B={b}");
                    match (f, s) {
                        (Ok(f), Ok(s)) => {
                            let r = rel(f.num, s.num).max(rel(f.den, s.den));
                            worst = worst.max(r);
                            assert!(r <= 1e-12, "{ctx}: {f:?} vs {s:?} ({r:e})");
                            assert!(rel(f.eta_star, s.eta_star) <= 3e-12, "{ctx}");
                        }
                        (Err(f), Err(s)) => assert_eq!(
                            std::mem::discriminant(f),
                            std::mem::discriminant(s),
                            "{ctx}: {f} vs {s}"
                        ),
                        _ => panic!("{ctx}: {f:?} vs {s:?}"),
                    }
                    // one_step (diagonal H) runs the same kernel with one batch size.
                    let one = one_step(&rule, &st, &h, *b, &how);
                    assert_eq!(one.is_ok(), s.is_ok(), "{ctx}");
                    if let (Ok(o), Ok(s)) = (one, s) {
                        assert!(rel(o.num, s.num).max(rel(o.den, s.den)) <= 1e-12, "{ctx}");
                    }
                }
            }
        }
    }
    println!("fast sweep vs reference: worst relative difference {worst:.2e}");
}

#[test]
fn fast_sweep_errors_match_reference() {
    let (st, h) = instance(5, 9);
    let batches = [1.0, 0.0, 8.0];
    // Invalid ε: every B fails the same way.
    for (f, s) in sweep(
        &Rule::AdamDiv { eps: -1.0 },
        &st,
        &h,
        &batches,
        &Moments::Exact,
    )
    .iter()
    .zip(sweep_reference(
        &Rule::AdamDiv { eps: -1.0 },
        &st,
        &h,
        &batches,
        &Moments::Exact,
    )) {
        assert_eq!(f.as_ref().unwrap_err(), s.as_ref().unwrap_err());
    }
    // Bad statistics and mismatched curvature.
    let bad = GradStats {
        g: vec![1.0, f64::NAN],
        sigma2: vec![1.0, 1.0],
    };
    let h2 = DiagH(vec![1.0, 1.0]);
    for how in moments() {
        let f = sweep(&Rule::Sign, &bad, &h2, &batches, &how);
        let s = sweep_reference(&Rule::Sign, &bad, &h2, &batches, &how);
        // (Debug strings: the errors carry the offending NaN, and NaN ≠ NaN.)
        assert_eq!(format!("{f:?}"), format!("{s:?}"));
        assert!(f.iter().all(|r| r.is_err()));
        let f = sweep(&Rule::Sign, &st, &h2, &batches, &how);
        assert_eq!(f, sweep_reference(&Rule::Sign, &st, &h2, &batches, &how));
        assert!(matches!(f[0], Err(LawError::LengthMismatch { .. })));
    }
}

#[test]
fn fast_sweep_is_deterministic() {
    let (st, h) = instance(5000, 5);
    let batches = log_grid(1.0, 1e5, 9);
    for how in [Moments::Exact, Moments::Su2024] {
        let rule = Rule::Sign;
        let a = sweep(&rule, &st, &h, &batches, &how);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| sweep(&rule, &st, &h, &batches, &how));
        assert_eq!(a, b, "{how:?}: the thread count changed the result");
    }
}

#[test]
fn fast_quadrature_equals_reference() {
    let q = Quadrature::default_rule();
    let q20 = Quadrature::new(20);
    let q3 = Quadrature::new(3);
    let mut worst = 0.0f64;
    let a_list = [
        -40.0, -8.0, -7.9999, -3.5, -1.0, -0.3, 0.0, 1e-9, 0.25, 0.5, 1.0, 2.0, 7.5, 8.0, 9.0, 25.0,
    ];
    // (b ≥ 1e-150: below it b² underflows and SoftSign is 0/0 at x = 0 in both versions.)
    let b_list = [
        0.0, 1e-150, 1e-12, 1e-6, 1e-3, 0.0625, 0.25, 1.0, 3.0, 30.0, 1e3, 1e300,
    ];
    for quad in [q, &q20, &q3] {
        for shape in [Shape::Sign, Shape::SoftSign, Shape::AdamDiv, Shape::Clip] {
            for &a in &a_list {
                for &b in &b_list {
                    let (m1, q1) = quad.moments(shape, a, b);
                    let (m2, q2) = quad.moments_reference(shape, a, b);
                    let d = (m1 - m2).abs().max((q1 - q2).abs());
                    worst = worst.max(d);
                    assert!(
                        d <= 1e-14,
                        "{shape:?} n={} a={a} b={b}: {d:e}",
                        quad.nodes()
                    );
                }
            }
        }
    }
    // Cuts that coincide with the integer grid (a = 1, b = 1/4: cut at 1 = a + 0).
    let (m1, q1) = q.integrate(1.0, 0.25, |x| x / (x.abs() + 0.25));
    let (m2, q2) = q.integrate_reference(1.0, 0.25, |x| x / (x.abs() + 0.25));
    assert!((m1 - m2).abs() <= 1e-14 && (q1 - q2).abs() <= 1e-14);
    // A rule too large for the fast path's buffer falls back to the reference.
    let big = Quadrature::new(200);
    let f = |x: f64| x / (x * x + 1e-6).sqrt();
    assert_eq!(
        big.integrate(0.3, 1e-3, f),
        big.integrate_reference(0.3, 1e-3, f)
    );
    println!("fast quadrature vs reference: worst absolute difference {worst:.2e}");
}
