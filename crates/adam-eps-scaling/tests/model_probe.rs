//! The estimators on a real `nn` model (softmax regression with nn::Linear) during training.

use adam_eps_scaling::estimators::{GnsEstimator, unbiased_g2};
use adam_eps_scaling::model_probe::SoftmaxProbe;
use adam_eps_scaling::*;

#[test]
fn gns_and_laws_on_softmax_regression() {
    let mut probe = SoftmaxProbe::new(6, 3, 1).unwrap();
    let mut gns = GnsEstimator::new(0.9).unwrap();
    let (k, bs) = (8, 4);
    let mut losses = Vec::new();
    let mut last = None;
    for _ in 0..40 {
        let s = probe.train_step(0.2, k, bs, &mut gns).unwrap();
        losses.push(s.loss);
        last = Some(s);
    }
    let s = last.unwrap();
    assert!(
        losses[35..].iter().sum::<f64>() < 0.8 * losses[..5].iter().sum::<f64>(),
        "{losses:?}"
    );
    // Both routes estimate B_simple = trΣ/|g|²: the EMA two-batch estimator and the
    // per-coordinate micro-batch statistics (with the unbiased |g|²).
    let ema = s.b_simple_ema.unwrap();
    let g2: f64 = unbiased_g2(&s.stats, k * bs).iter().sum();
    let per_step = s.stats.trace_sigma() / g2;
    println!("B_simple: EMA {ema:.2}, last step {per_step:.2}");
    assert!(ema > 0.0 && ema.is_finite());
    // Curvature by finite-difference HVPs; the one-step laws on the measured statistics.
    let h = probe.curvature(512, 16).unwrap();
    assert!(h.diag().iter().all(|d| d.is_finite()));
    let law = SgdLaw::from_stats(&s.stats, &h).unwrap();
    println!(
        "SGD law on the model: η_max {:.3}, B_noise {:.2}",
        law.eta_max, law.b_noise
    );
    assert!(law.eta_max > 0.0 && law.b_noise > 0.0);
    let e = one_step(
        &Rule::AdamDiv { eps: 1e-3 },
        &s.stats,
        &h,
        16.0,
        &Moments::Exact,
    )
    .unwrap();
    assert!(e.eta_star > 0.0);
}
