//! Bad input: typed errors, nothing updated.

use super::*;
use crate::*;
use kernels::Tensor;
use nn::GradSink;

#[test]
fn invalid_hyperparameters_are_rejected() {
    let b = bag32(SPECS, &values(SPECS, 1));
    let bad = |r: Result<Optimizer>| matches!(r, Err(Error::InvalidHyperparameter { .. }));
    assert!(bad(Optimizer::lion(
        LionConfig {
            beta1: 1.0,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::lion(
        LionConfig {
            beta2: -0.1,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::lion(
        LionConfig {
            lr: -1e-3,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::lion(
        LionConfig {
            lr: f64::NAN,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::lion(
        LionConfig {
            decay_mode: DecayMode::FullyDecoupled { lr_max: 0.0 },
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::tiger(
        TigerConfig {
            grad_accum_steps: 0,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::tiger(
        TigerConfig {
            beta: 1.5,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::tiger(
        TigerConfig {
            alpha: -1.0,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::adamw(
        AdamWConfig {
            eps: 0.0,
            ..Default::default()
        },
        &b
    )));
    assert!(bad(Optimizer::adamw(
        AdamWConfig {
            grad_accum_steps: 0,
            ..Default::default()
        },
        &b
    )));
    assert!(PiecewiseLinear::new(&[]).is_err());
    assert!(PiecewiseLinear::new(&[(3, 1.0), (3, 2.0)]).is_err());
}

#[test]
fn mismatched_gradients_update_nothing() {
    let v0 = values(SPECS, 2);
    let mut b = bag32(SPECS, &v0);
    let mut o = Optimizer::tiger(TigerConfig::default(), &b).unwrap();
    let g: Vec<Vec<f64>> = v0.iter().map(|v| vec![0.5; v.len()]).collect();
    set_grads(&mut b, &g);
    // Last tensor's gradient has the wrong shape: the earlier ones must not move either.
    b[3].1.grad = Some(Tensor::from_vec(vec![0.5f32; 5], &[5, 1]).unwrap());
    assert!(matches!(
        o.step(&mut b),
        Err(Error::Kernel(kernels::Error::ShapeMismatch { .. }))
    ));
    assert_eq!(vals_of(&b), vals_of(&bag32(SPECS, &v0)));
    assert!(o.momentum("w").unwrap().iter().all(|&x| x == 0.0));
    assert_eq!(o.micro_steps("w"), Some(0));
    // Wrong dtype.
    b[3].1.grad = Some(Tensor::from_vec(vec![0.5f64; 5], &[5]).unwrap());
    assert!(matches!(
        o.step(&mut b),
        Err(Error::Kernel(kernels::Error::DTypeMismatch { .. }))
    ));
    // Missing gradient.
    b[3].1.grad = None;
    assert!(matches!(o.step(&mut b), Err(Error::MissingGradient { .. })));
    assert_eq!(vals_of(&b), vals_of(&bag32(SPECS, &v0)));
}

#[test]
fn another_model_is_rejected() {
    let b = bag32(SPECS, &values(SPECS, 3));
    let mut o = Optimizer::lion(LionConfig::default(), &b).unwrap();
    let other: &[Spec] = &[("x", &[3], nn::ParamRole::Bias)];
    let mut c = bag32(other, &values(other, 4));
    set_grads(&mut c, &[vec![1.0; 3]]);
    assert!(matches!(o.step(&mut c), Err(Error::ModelMismatch { .. })));
    // Same count, different names.
    let renamed: Vec<Spec> = SPECS
        .iter()
        .map(|s| (if s.0 == "w" { "w2" } else { s.0 }, s.1, s.2))
        .collect();
    let mut d = bag32(&renamed, &values(&renamed, 5));
    let g: Vec<Vec<f64>> = vals_of(&d).iter().map(|v| vec![1.0; v.len()]).collect();
    set_grads(&mut d, &g);
    assert!(matches!(o.step(&mut d), Err(Error::UnknownParam { .. })));
    // Through the sink: unknown name and wrong shape.
    let mut p = nn::Param::new(
        Tensor::from_vec(vec![1.0f32; 3], &[3]).unwrap(),
        nn::ParamRole::Bias,
    );
    let g = Tensor::from_vec(vec![1.0f32; 3], &[3]).unwrap();
    assert!(o.accept("nope", &mut p, g).is_err());
    let g = Tensor::from_vec(vec![1.0f32; 3], &[3]).unwrap();
    assert!(o.accept("bias", &mut p, g).is_err());
    assert_eq!(p.value.to_vec::<f32>().unwrap(), vec![1.0; 3]);
}

#[test]
fn embedding_kind_needs_a_matrix() {
    let specs: &[Spec] = &[("e", &[12], nn::ParamRole::Embedding)];
    let b = bag32(specs, &values(specs, 6));
    assert!(Optimizer::tiger(TigerConfig::default(), &b).is_err());
}
