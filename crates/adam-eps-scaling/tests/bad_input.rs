//! Bad input → typed errors, never a panic.

use adam_eps_scaling::dump::{from_json, from_safetensors};
use adam_eps_scaling::estimators::{GnsEstimator, stats_from_per_example, two_batch};
use adam_eps_scaling::simulator::*;
use adam_eps_scaling::*;

fn ok_stats() -> (GradStats, DiagH) {
    (
        GradStats::uniform(4, 1e-3, 1e-4).unwrap(),
        DiagH::scaled_identity(4, 1.0),
    )
}

#[test]
fn bad_batch_eps_and_statistics() {
    let (st, h) = ok_stats();
    for b in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            one_step(&Rule::Sign, &st, &h, b, &Moments::Exact),
            Err(LawError::NonPositiveBatch(_))
        ));
    }
    for rule in [
        Rule::SoftSign { eps: -1e-3 },
        Rule::AdamDiv { eps: f64::NAN },
    ] {
        assert!(matches!(
            one_step(&rule, &st, &h, 4.0, &Moments::Exact),
            Err(LawError::InvalidEps(_))
        ));
    }
    assert!(matches!(
        GradStats::new(vec![1.0, 2.0], vec![1.0, -1.0]),
        Err(LawError::NegativeVariance { index: 1, .. })
    ));
    assert!(matches!(
        GradStats::new(vec![1.0, f64::NAN], vec![1.0, 1.0]),
        Err(LawError::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        GradStats::new(vec![1.0], vec![1.0, 1.0]),
        Err(LawError::LengthMismatch { .. })
    ));
    assert!(matches!(
        GradStats::new(vec![], vec![]),
        Err(LawError::InvalidArgument(_))
    ));
    // A GradStats built by hand with a NaN is still caught.
    let bad = GradStats {
        g: vec![f64::NAN; 4],
        sigma2: vec![1.0; 4],
    };
    assert!(one_step(&Rule::Sgd, &bad, &h, 4.0, &Moments::Exact).is_err());
    assert!(matches!(
        one_step(
            &Rule::Sgd,
            &st,
            &DiagH::scaled_identity(3, 1.0),
            4.0,
            &Moments::Exact
        ),
        Err(LawError::LengthMismatch { .. })
    ));
    assert!(matches!(
        delta_l(&Rule::Sgd, &st, &h, 4.0, f64::NAN, &Moments::Exact),
        Err(LawError::NonFinite { .. })
    ));
}

#[test]
fn no_optimum() {
    let (st, _) = ok_stats();
    let neg = DiagH::scaled_identity(4, -1.0);
    assert!(matches!(
        one_step(&Rule::Sign, &st, &neg, 4.0, &Moments::Exact),
        Err(LawError::NoOptimum(_))
    ));
    let zero = GradStats::uniform(4, 0.0, 1.0).unwrap();
    assert!(matches!(
        one_step(
            &Rule::Sign,
            &zero,
            &DiagH::scaled_identity(4, 1.0),
            4.0,
            &Moments::Exact
        ),
        Err(LawError::NoOptimum(_))
    ));
    assert!(matches!(
        SgdLaw::from_stats(&zero, &DiagH::scaled_identity(4, 1.0)),
        Err(LawError::NoOptimum(_))
    ));
}

#[test]
fn bad_estimator_and_simulator_input() {
    assert!(stats_from_per_example(&[vec![1.0]]).is_err());
    assert!(matches!(
        stats_from_per_example(&[vec![1.0, 2.0], vec![1.0]]),
        Err(LawError::LengthMismatch { .. })
    ));
    assert!(matches!(
        stats_from_per_example(&[vec![1.0], vec![f64::INFINITY]]),
        Err(LawError::NonFinite { .. })
    ));
    assert!(two_batch(1.0, 0.5, 8.0, 4.0).is_err());
    assert!(matches!(
        two_batch(1.0, 0.5, 0.0, 4.0),
        Err(LawError::NonPositiveBatch(_))
    ));
    assert!(GnsEstimator::new(1.0).is_err());
    let model = LinearRegression::new(4, 0.5, 0).unwrap();
    let sw = MultiStepSweep {
        optimizer: Optimizer::Sgd,
        lrs: vec![0.1],
        batches: vec![0],
        seeds: 1,
        protocol: Protocol::FixedHorizon { steps: 1 },
    };
    assert!(sw.run(&model, &[0.0; 4], &|| {}).is_err());
    let sw = MultiStepSweep {
        batches: vec![1],
        lrs: vec![-0.1],
        ..sw
    };
    assert!(sw.run(&model, &[0.0; 4], &|| {}).is_err());
    assert!(LinearRegression::new(0, 0.5, 0).is_err());
    assert!(
        peak_batch(
            &Rule::Sign,
            &ok_stats().0,
            &ok_stats().1,
            &Moments::Exact,
            10.0,
            1.0
        )
        .is_err()
    );
    assert!(fit_sgd_law(&[(1.0, 1.0)]).is_err());
    assert!(fit_steps_examples(&[(1.0, -1.0), (2.0, 3.0)]).is_err());
}

#[test]
fn malformed_dumps() {
    assert!(from_json("{not json").is_err());
    assert!(from_json(r#"{"g": [1.0]}"#).is_err());
    assert!(from_json(r#"{"g": [1.0, 2.0], "sigma2": [1.0, -2.0]}"#).is_err());
    assert!(from_json(r#"{"g": [1.0], "sigma2": [1.0], "h_diag": [1.0, 2.0]}"#).is_err());
    assert!(from_json(r#"{"g": [1.0], "sigma2": [1.0], "extra": 1}"#).is_err());
    let d = from_json(r#"{"g": [1.0, -2.0], "sigma2": [1.0, 4.0]}"#).unwrap();
    assert_eq!(d.stats.len(), 2);
    let d = from_json(r#"{"per_example": [[1.0, 2.0], [3.0, 2.0]]}"#).unwrap();
    assert_eq!(d.stats.g, vec![2.0, 2.0]);
    assert_eq!(d.stats.sigma2, vec![2.0, 0.0]);
    assert!(from_safetensors(b"garbage").is_err());
    assert!(from_safetensors(&[]).is_err());
    // A valid safetensors file with the wrong tensor names / ranks.
    let t = safetensors::tensor::TensorView::new(safetensors::Dtype::F64, vec![2, 1], &[0u8; 16])
        .unwrap();
    let bytes = safetensors::serialize([("g", t.clone()), ("sigma2", t)], None).unwrap();
    assert!(from_safetensors(&bytes).is_err());
    let v: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let t = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &v).unwrap();
    let bytes = safetensors::serialize([("g", t.clone()), ("sigma2", t)], None).unwrap();
    let d = from_safetensors(&bytes).unwrap();
    assert_eq!(d.stats.g, vec![1.0, 2.0]);
}
