//! Unit and property tests (spec §8). Oracle fixtures live in `tests/oracle.rs`.

mod distributed;
mod errors;
mod gpu;
mod properties;
mod properties_dynamics;
mod rms_cache;
mod state_and_sink;
mod vs_reference;

use kernels::Tensor;
use kernels::testing::{randn, rng};
use nn::{Param, ParamRole};

/// A flat bag of named parameters (a list of named parameters is an `nn::Module`).
pub(crate) type Bag = Vec<(String, Param)>;

pub(crate) type Spec<'a> = (&'a str, &'a [usize], ParamRole);

/// Random f64 values (scaled by 0.1) for each spec.
pub(crate) fn values(specs: &[Spec], seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    specs
        .iter()
        .map(|(_, s, _)| {
            randn(&mut r, s.iter().product())
                .iter()
                .map(|v| 0.1 * v)
                .collect()
        })
        .collect()
}

pub(crate) fn bag64(specs: &[Spec], vals: &[Vec<f64>]) -> Bag {
    specs
        .iter()
        .zip(vals)
        .map(|((n, s, r), v)| {
            (
                n.to_string(),
                Param::new(Tensor::from_vec(v.clone(), s).unwrap(), *r),
            )
        })
        .collect()
}

pub(crate) fn bag32(specs: &[Spec], vals: &[Vec<f64>]) -> Bag {
    specs
        .iter()
        .zip(vals)
        .map(|((n, s, r), v)| {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            (
                n.to_string(),
                Param::new(Tensor::from_vec(v, s).unwrap(), *r),
            )
        })
        .collect()
}

/// Sets every gradient (f64 values converted to the parameter's dtype).
pub(crate) fn set_grads(b: &mut Bag, grads: &[Vec<f64>]) {
    for ((_, p), g) in b.iter_mut().zip(grads) {
        let shape = p.value.shape().to_vec();
        p.grad = Some(match p.value.dtype() {
            kernels::DType::F64 => Tensor::from_vec(g.clone(), &shape).unwrap(),
            kernels::DType::F32 => {
                Tensor::from_vec(g.iter().map(|&x| x as f32).collect::<Vec<_>>(), &shape).unwrap()
            }
        });
    }
}

/// Parameter values as f64.
pub(crate) fn vals_of(b: &Bag) -> Vec<Vec<f64>> {
    b.iter()
        .map(|(_, p)| match p.value.dtype() {
            kernels::DType::F64 => p.value.to_vec::<f64>().unwrap(),
            kernels::DType::F32 => p
                .value
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|&x| x as f64)
                .collect(),
        })
        .collect()
}

pub(crate) const SPECS: &[Spec] = &[
    ("w", &[13, 7], ParamRole::Matrix),
    ("emb", &[11, 5], ParamRole::Embedding),
    ("bias", &[7], ParamRole::Bias),
    ("gain", &[5], ParamRole::Gain),
];
