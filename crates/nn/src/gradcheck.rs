//! Gradient checking of layers and models against f64 central differences.
//!
//! For a layer `f` with parameters `θ`, input `x` and a random cotangent `w` (standard normal,
//! seeded), the checker sets `L(x, θ) = ⟨f(x; θ), w⟩` and compares the hand-written backward —
//! which, given `dy = w`, returns `∂L/∂x` and hands `∂L/∂θ_k` to its [`GradSink`] — with central
//! differences `(L(·+εv) − L(·−εv)) / 2ε`, for the input and for EVERY named parameter. Small
//! tensors (≤ 256 entries) are probed coordinate by coordinate, larger ones along 3 seeded random
//! unit directions `v` (comparing `⟨g, v⟩`); the probing is [`kernels::testing::fd_check`]'s.
//! Defaults: `ε = 1e-6`, agreement `|fd − an| ≤ 1e-6 · max(|fd|, |an|, 1e-3·‖g‖∞)`.
//!
//! Everything runs in f64 on the CPU: build the layer with `DType::F64` parameters and pass an
//! f64 input. A layer opts in by implementing [`Checkable`].
//!
//! **Kinks.** Central differences are only valid where `f` is smooth on `[x − ε, x + ε]`. The
//! layers of `nn` are smooth everywhere they are defined (norms need a row variance ≫ ε, which
//! standard-normal rows have with overwhelming probability). For layers with kinks (relu at 0,
//! |x|, max) draw the test point, then pass the values that feed a kink through
//! [`keep_away_from_kinks`] with a margin ≫ ε (1e-3 against ε = 1e-6): no probe, coordinate or
//! direction (whose steps are at most ε per entry), can then cross the kink. Kinks on internal
//! quantities (a pre-activation inside the layer) must be cleared the same way on those
//! quantities, e.g. by redrawing the input until they all lie outside the margin.

use crate::{Error, GradSink, Module, Param, Prefix, Result};
use kernels::testing::{fd_check, randn, rng};
use kernels::{DType, Tensor};

/// A layer the gradient checker can drive. Both methods run the layer in f64.
pub trait Checkable: Module {
    /// The layer's input: a [`Tensor`], or token ids (`Vec<u32>`), which are not differentiable.
    type Input: CheckInput;

    /// The layer's forward output `y = f(x; θ)`.
    fn check_forward(&self, x: &Self::Input) -> Result<Tensor>;

    /// The layer's backward for the cotangent `dy` at input `x` (recomputing its own cache):
    /// hands every parameter gradient to `sink` under the parameter's own name (as
    /// [`Module::visit`] with the root prefix names it) and returns `dx`, or `None` when the
    /// input is not differentiable.
    fn check_backward(
        &mut self,
        x: &Self::Input,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Option<Tensor>>;
}

/// Implements [`Checkable`] for a layer with a tensor input whose inherent
/// `forward(&self, &Tensor) -> Result<(Tensor, Cache)>` and
/// `backward(&mut self, Cache, &Tensor, &mut dyn GradSink) -> Result<Tensor>` are the ones to check
/// (the backward recomputes its cache with a fresh forward).
#[macro_export]
macro_rules! checkable_layer {
    ($layer:ty) => {
        impl $crate::gradcheck::Checkable for $layer {
            type Input = kernels::Tensor;
            fn check_forward(&self, x: &kernels::Tensor) -> $crate::Result<kernels::Tensor> {
                Ok(self.forward(x)?.0)
            }
            fn check_backward(
                &mut self,
                x: &kernels::Tensor,
                dy: &kernels::Tensor,
                sink: &mut dyn $crate::GradSink,
            ) -> $crate::Result<Option<kernels::Tensor>> {
                let (_, cache) = self.forward(x)?;
                Ok(Some(self.backward(cache, dy, sink)?))
            }
        }
    };
}

/// An input the checker can perturb (a tensor) or not (token ids).
pub trait CheckInput: Sized {
    /// The tensor to differentiate against, if the input is differentiable.
    fn as_tensor(&self) -> Option<&Tensor>;
    /// The same input with new values (only called when `as_tensor` is `Some`).
    fn with_values(&self, values: &[f64]) -> Result<Self>;
}

impl CheckInput for Tensor {
    fn as_tensor(&self) -> Option<&Tensor> {
        Some(self)
    }
    fn with_values(&self, values: &[f64]) -> Result<Self> {
        Ok(Tensor::from_vec(values.to_vec(), self.shape())?)
    }
}

impl CheckInput for Vec<u32> {
    fn as_tensor(&self) -> Option<&Tensor> {
        None
    }
    fn with_values(&self, _: &[f64]) -> Result<Self> {
        Err(Error::GradCheck("token ids are not differentiable".into()))
    }
}

/// Step and tolerance of a check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheckOptions {
    /// Central-difference step ε (default 1e-6, as `torch.autograd.gradcheck`).
    pub eps: f64,
    /// Relative agreement required (default 1e-6).
    pub tol: f64,
    /// Seed of the cotangent `w` (default 0).
    pub seed: u64,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        GradCheckOptions {
            eps: 1e-6,
            tol: 1e-6,
            seed: 0,
        }
    }
}

/// One checked tensor.
#[derive(Clone, Debug)]
pub struct GradCheckEntry {
    /// `"input"` or the parameter's dotted name.
    pub name: String,
    /// Its number of entries.
    pub numel: usize,
    /// Coordinates or directions probed.
    pub probes: usize,
    /// The worst relative disagreement seen.
    pub max_rel: f64,
}

/// What a passing check measured: one entry for the input (if differentiable) and one per
/// parameter, in visit order.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    pub entries: Vec<GradCheckEntry>,
}

impl GradCheckReport {
    /// The worst relative error over all entries.
    pub fn worst(&self) -> f64 {
        self.entries.iter().fold(0.0, |m, e| m.max(e.max_rel))
    }

    /// The entry for `name`.
    pub fn entry(&self, name: &str) -> Option<&GradCheckEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

impl std::fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.entries {
            writeln!(
                f,
                "{:<24} {:>6} entries {:>4} probes  max rel err {:.2e}",
                e.name, e.numel, e.probes, e.max_rel
            )?;
        }
        Ok(())
    }
}

/// A sink that records gradients without touching the parameters.
struct Record(Vec<(String, Tensor)>);

impl GradSink for Record {
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> Result<()> {
        param.value.expect_like("gradcheck sink", &grad)?;
        self.0.push((name.to_string(), grad));
        Ok(())
    }
}

fn f64_values(what: &str, t: &Tensor) -> Result<Vec<f64>> {
    if t.dtype() != DType::F64 || !t.device().is_cpu() {
        return Err(Error::GradCheck(format!(
            "{what} must be an f64 CPU tensor, got {:?}",
            t
        )));
    }
    Ok(t.to_vec::<f64>()?)
}

/// Checks `model`'s backward at `x` against f64 central differences, for the input and every
/// named parameter; see the module docs for the method and the tolerance.
///
/// Errors: [`Error::GradCheck`] naming the tensor and the worst probe when a gradient
/// disagrees, when the backward hands a parameter no gradient or two, or when the model or
/// input is not f64 on the CPU; errors of the layer itself pass through.
pub fn gradcheck<M: Checkable>(
    model: &mut M,
    x: &M::Input,
    opts: &GradCheckOptions,
) -> Result<GradCheckReport> {
    let mut names: Vec<(String, Vec<usize>)> = Vec::new();
    for (n, p) in model.named_params() {
        f64_values(&n, &p.value)?;
        names.push((n, p.value.shape().to_vec()));
    }
    let x_values = x.as_tensor().map(|t| f64_values("input", t)).transpose()?;

    let y = model.check_forward(x)?;
    let w = randn(&mut rng(opts.seed), y.numel());
    let dy = Tensor::from_vec(w.clone(), y.shape())?;
    let mut record = Record(Vec::new());
    let dx = model.check_backward(x, &dy, &mut record)?;

    let mut entries = Vec::new();
    let fd_err = |e: kernels::Error| Error::GradCheck(e.to_string());

    if let (Some(xv), Some(xt)) = (&x_values, x.as_tensor()) {
        let dx =
            dx.ok_or_else(|| Error::GradCheck("backward returned no input gradient".into()))?;
        dx.expect_shape("gradcheck: dx", xt.shape())?;
        let dx = f64_values("dx", &dx)?;
        let mut failure = None;
        let mut loss = |v: &[f64]| -> f64 {
            let r = x
                .with_values(v)
                .and_then(|xp| model.check_forward(&xp))
                .and_then(|y| Ok(y.to_vec::<f64>()?));
            match r {
                Ok(y) => kernels::testing::dot(&y, &w),
                Err(e) => {
                    failure.get_or_insert(e);
                    f64::NAN
                }
            }
        };
        let rep = fd_check("input", &mut loss, xv, &dx, opts.eps, opts.tol);
        if let Some(e) = failure {
            return Err(e);
        }
        let rep = rep.map_err(fd_err)?;
        entries.push(GradCheckEntry {
            name: "input".into(),
            numel: xv.len(),
            probes: rep.probes,
            max_rel: rep.max_rel,
        });
    }

    for (name, shape) in &names {
        let got: Vec<&Tensor> = record
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, g)| g)
            .collect();
        if got.len() != 1 {
            return Err(Error::GradCheck(format!(
                "backward handed parameter {name} {} gradients (expected exactly 1)",
                got.len()
            )));
        }
        let grad = f64_values(name, got[0])?;
        let original = param_of(model, name)?.to_vec::<f64>()?;
        let mut failure = None;
        let mut loss = |v: &[f64]| -> f64 {
            let r = set_param(model, name, v, shape)
                .and_then(|()| model.check_forward(x))
                .and_then(|y| Ok(y.to_vec::<f64>()?));
            match r {
                Ok(y) => kernels::testing::dot(&y, &w),
                Err(e) => {
                    failure.get_or_insert(e);
                    f64::NAN
                }
            }
        };
        let rep = fd_check(name, &mut loss, &original, &grad, opts.eps, opts.tol);
        set_param(model, name, &original, shape)?;
        if let Some(e) = failure {
            return Err(e);
        }
        let rep = rep.map_err(fd_err)?;
        entries.push(GradCheckEntry {
            name: name.clone(),
            numel: original.len(),
            probes: rep.probes,
            max_rel: rep.max_rel,
        });
    }
    if let Some((n, _)) = record
        .0
        .iter()
        .find(|(n, _)| !names.iter().any(|(m, _)| m == n))
    {
        return Err(Error::GradCheck(format!(
            "backward handed a gradient for {n}, which the model does not name"
        )));
    }
    Ok(GradCheckReport { entries })
}

fn param_of<'a, M: Module>(model: &'a M, name: &str) -> Result<&'a Tensor> {
    let mut found = None;
    model.visit(&Prefix::root(), &mut |n, p| {
        if n == name {
            found = Some(&p.value);
        }
    });
    found.ok_or_else(|| Error::GradCheck(format!("no parameter named {name}")))
}

fn set_param<M: Module>(model: &mut M, name: &str, v: &[f64], shape: &[usize]) -> Result<()> {
    let t = Tensor::from_vec(v.to_vec(), shape)?;
    let mut slot = Some(t);
    model.visit_mut(&Prefix::root(), &mut |n, p| {
        if n == name
            && let Some(t) = slot.take()
        {
            p.value = t;
        }
    });
    match slot {
        None => Ok(()),
        Some(_) => Err(Error::GradCheck(format!("no parameter named {name}"))),
    }
}

/// Moves every value closer than `margin` to one of `kinks` out to `kink ± margin` (keeping
/// its side; a value exactly on the kink goes to the + side), so that central differences
/// with a step ε ≪ `margin` never straddle a kink. See the module docs.
pub fn keep_away_from_kinks(values: &mut [f64], kinks: &[f64], margin: f64) {
    for v in values.iter_mut() {
        for &k in kinks {
            if (*v - k).abs() < margin {
                *v = if *v < k { k - margin } else { k + margin };
            }
        }
    }
}

/// A host f64 tensor of standard normal values from `seed` (a convenient test point).
pub fn randn_f64(shape: &[usize], seed: u64) -> Result<Tensor> {
    let n = shape.iter().product();
    Ok(Tensor::from_vec(randn(&mut rng(seed), n), shape)?)
}

#[cfg(test)]
#[path = "gradcheck_tests.rs"]
mod tests;
