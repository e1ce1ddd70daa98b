//! `Linear`: `y = x·W + b`, with `W` stored as `(in, out)` (the layout of the gau spec).
//!
//! Forward: `y[.., o] = Σ_i x[.., i]·W[i, o] + b[o]` for `x [.., in]` (any number of leading
//! dims, shared `W`), via [`matmul`] and [`bias_add_forward`].
//!
//! Backward for the cotangent `dy [.., out]` (with `X`, `G` the inputs and cotangents stacked
//! as rows): `dx = G·Wᵀ`, `dW = Xᵀ·G` (summed over every row), `db = Σ_rows G`
//! ([`matmul_backward`], [`bias_add_backward`]).

use crate::init::{Init, sub_seed};
use crate::{Error, GradSink, Module, Param, ParamRole, Prefix, Result};
use kernels::ops::bias_add::{bias_add_backward, bias_add_forward};
use kernels::ops::matmul::{matmul, matmul_backward};
use kernels::{DType, Tensor};

/// A fully connected layer `y = x·W + b` (`W: (in, out)`, optional `b: (out)`).
///
/// Parameter names: `w` ([`ParamRole::Matrix`]) and, with a bias, `b` ([`ParamRole::Bias`]).
pub struct Linear {
    /// The weight, `[in, out]`.
    pub w: Param,
    /// The bias, `[out]`, if the layer has one.
    pub b: Option<Param>,
}

/// What [`Linear::forward`] keeps for the backward: a copy of the input.
pub struct LinearCache {
    x: Tensor,
}

impl Linear {
    /// A layer with `W ~ XavierUniform(gain 1)` (Glorot & Bengio 2010) and `b = 0`, drawn from
    /// `seed` (the weight from `sub_seed(seed, "w")`), on the CPU in `dtype`.
    pub fn new(
        in_dim: usize,
        out_dim: usize,
        bias: bool,
        dtype: DType,
        seed: u64,
    ) -> Result<Linear> {
        Linear::with_init(
            in_dim,
            out_dim,
            bias,
            Init::XavierUniform { gain: 1.0 },
            dtype,
            seed,
        )
    }

    /// A layer whose weight is drawn with `w_init` (bias, if any, zero).
    pub fn with_init(
        in_dim: usize,
        out_dim: usize,
        bias: bool,
        w_init: Init,
        dtype: DType,
        seed: u64,
    ) -> Result<Linear> {
        if in_dim == 0 || out_dim == 0 {
            return Err(Error::InvalidConfig {
                what: "Linear",
                reason: format!("in_dim and out_dim must be positive, got ({in_dim}, {out_dim})"),
            });
        }
        let w = w_init.tensor(&[in_dim, out_dim], dtype, sub_seed(seed, "w"))?;
        let b = bias
            .then(|| Init::Zeros.tensor(&[out_dim], dtype, 0))
            .transpose()?;
        Linear::from_tensors(w, b)
    }

    /// A layer from existing tensors: `w [in, out]`, `b [out]` of the same dtype and device.
    pub fn from_tensors(w: Tensor, b: Option<Tensor>) -> Result<Linear> {
        if w.shape().len() != 2 {
            return Err(
                kernels::Error::invalid_shape("Linear", w.shape(), "w must be [in, out]").into(),
            );
        }
        if let Some(b) = &b {
            w.expect_same_kind("Linear", b)?;
            b.expect_shape("Linear", &[w.shape()[1]])?;
        }
        Ok(Linear {
            w: Param::new(w, ParamRole::Matrix),
            b: b.map(|b| Param::new(b, ParamRole::Bias)),
        })
    }

    /// The input width.
    pub fn in_dim(&self) -> usize {
        self.w.value.shape()[0]
    }

    /// The output width.
    pub fn out_dim(&self) -> usize {
        self.w.value.shape()[1]
    }

    /// `y = x·W + b` for `x [.., in]` (rank ≥ 1), returning `y [.., out]` and the cache.
    ///
    /// Errors: `x`'s last dim is not `in` ([`kernels::Error::ShapeMismatch`]), or `x` differs
    /// from `W` in dtype or device.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, LinearCache)> {
        let shape = x.shape();
        let (in_dim, out_dim) = (self.in_dim(), self.out_dim());
        match shape.last() {
            Some(&k) if k == in_dim => {}
            _ => {
                let mut want = shape.to_vec();
                match want.last_mut() {
                    Some(k) => *k = in_dim,
                    None => want.push(in_dim),
                }
                return Err(kernels::Error::shape("Linear::forward", &want, shape).into());
            }
        }
        let x2 = x.try_clone()?.reshape(&[x.numel() / in_dim, in_dim])?;
        let mut y = matmul(&x2, &self.w.value, false, false)?;
        if let Some(b) = &self.b {
            y = bias_add_forward(&y, &b.value)?;
        }
        let mut y_shape = shape.to_vec();
        *y_shape.last_mut().expect("rank ≥ 1 checked") = out_dim;
        Ok((y.reshape(&y_shape)?, LinearCache { x: x2 }))
    }

    /// Backward for the cotangent `dy [.., out]`: returns `dx [.., in]`, then hands `dW` (as
    /// `"w"`) and `db` (as `"b"`) to `sink` — after `dx` is computed, per the [`GradSink`]
    /// contract.
    pub fn backward(
        &mut self,
        cache: LinearCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let (rows, in_dim, out_dim) = (cache.x.shape()[0], self.in_dim(), self.out_dim());
        if dy.numel() != rows * out_dim || dy.shape().last() != Some(&out_dim) {
            return Err(
                kernels::Error::shape("Linear::backward", &[rows, out_dim], dy.shape()).into(),
            );
        }
        let dy2 = dy.try_clone()?.reshape(&[rows, out_dim])?;
        let (dx, dw) = matmul_backward(&cache.x, &self.w.value, &dy2, false, false)?;
        let db = self
            .b
            .as_ref()
            .map(|_| bias_add_backward(&dy2))
            .transpose()?;
        let mut x_shape = dy.shape().to_vec();
        *x_shape.last_mut().expect("rank ≥ 1 checked") = in_dim;
        let dx = dx.reshape(&x_shape)?;
        sink.accept("w", &mut self.w, dw)?;
        if let (Some(b), Some(db)) = (self.b.as_mut(), db) {
            sink.accept("b", b, db)?;
        }
        Ok(dx)
    }
}

impl Module for Linear {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("w"), &self.w);
        if let Some(b) = &self.b {
            f(&p.join("b"), b);
        }
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("w"), &mut self.w);
        if let Some(b) = &mut self.b {
            f(&p.join("b"), b);
        }
    }
}

crate::checkable_layer!(Linear);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Accumulate;
    use crate::gradcheck::{GradCheckOptions, gradcheck, randn_f64};
    use kernels::testing::rel_err;

    #[test]
    fn gradcheck_input_w_and_b() {
        for (shape, bias) in [(vec![3, 4], true), (vec![2, 3, 4], false), (vec![4], true)] {
            let mut l = Linear::new(4, 5, bias, DType::F64, 7).unwrap();
            if let Some(b) = &mut l.b {
                b.value = randn_f64(&[5], 8).unwrap();
            }
            let x = randn_f64(&shape, 9).unwrap();
            let rep = gradcheck(&mut l, &x, &GradCheckOptions::default()).unwrap();
            assert_eq!(rep.entries.len(), if bias { 3 } else { 2 });
            assert!(rep.worst() < 1e-6, "{rep}");
        }
        // Beyond 256 entries the checker probes 3 random directions.
        let mut l = Linear::new(20, 17, true, DType::F64, 1).unwrap();
        let rep = gradcheck(
            &mut l,
            &randn_f64(&[3, 20], 2).unwrap(),
            &GradCheckOptions::default(),
        )
        .unwrap();
        assert_eq!(rep.entry("w").unwrap().probes, 3);
        assert!(rep.worst() < 1e-6, "{rep}");
    }

    #[test]
    fn f32_forward_matches_f64() {
        let l64 = Linear::new(13, 7, true, DType::F64, 3).unwrap();
        let l32 = Linear::new(13, 7, true, DType::F32, 3).unwrap();
        let x64 = randn_f64(&[5, 13], 4).unwrap();
        let x32 = x64.to_dtype(DType::F32).unwrap();
        let y64 = l64.forward(&x64).unwrap().0.to_vec::<f64>().unwrap();
        let y32 = l32.forward(&x32).unwrap().0.to_vec::<f32>().unwrap();
        // 13-term f32 dot products of O(1) values: a few ulps of 6e-8.
        let e = rel_err(&y32, &y64);
        assert!(e < 1e-6, "f32 vs f64: {e:e}");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let mut l = Linear::new(4, 3, true, DType::F32, 0).unwrap();
        let wrong_width = Tensor::from_vec(vec![0.0f32; 10], &[2, 5]).unwrap();
        assert!(matches!(
            l.forward(&wrong_width),
            Err(Error::Kernel(kernels::Error::ShapeMismatch { .. }))
        ));
        let scalar = Tensor::from_vec(vec![0.0f32], &[]).unwrap();
        assert!(l.forward(&scalar).is_err());
        let f64_x = Tensor::from_vec(vec![0.0f64; 8], &[2, 4]).unwrap();
        assert!(matches!(
            l.forward(&f64_x),
            Err(Error::Kernel(kernels::Error::DTypeMismatch { .. }))
        ));
        let x = Tensor::from_vec(vec![0.0f32; 8], &[2, 4]).unwrap();
        let (_, cache) = l.forward(&x).unwrap();
        let bad_dy = Tensor::from_vec(vec![0.0f32; 8], &[2, 4]).unwrap();
        assert!(l.backward(cache, &bad_dy, &mut Accumulate).is_err());
        assert!(matches!(
            Linear::new(0, 3, true, DType::F32, 0),
            Err(Error::InvalidConfig { .. })
        ));
        let w = Tensor::from_vec(vec![0.0f32; 6], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![0.0f32; 2], &[2]).unwrap();
        assert!(Linear::from_tensors(w, Some(b)).is_err());
    }

    #[test]
    fn names_and_roles() {
        let l = Linear::new(2, 3, true, DType::F32, 0).unwrap();
        let names: Vec<String> = l.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["w", "b"]);
        assert_eq!(l.w.role, ParamRole::Matrix);
        assert_eq!(l.num_params(), 9);
    }
}
