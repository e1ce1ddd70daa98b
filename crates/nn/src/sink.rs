//! Where backward passes send parameter gradients.

use crate::{Param, Result};
use kernels::Tensor;

/// Receives each parameter gradient as a backward pass produces it.
///
/// Contract for layer authors: call `accept` once per parameter per backward, after the layer's
/// last read of `param.value` in that backward (so a sink may update the value in place).
pub trait GradSink {
    /// Takes the gradient `grad` of the parameter named `name` (full dotted name).
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> Result<()>;
}

/// The default sink: `param.grad += grad` (the first gradient is moved in as is).
#[derive(Clone, Copy, Debug, Default)]
pub struct Accumulate;

impl GradSink for Accumulate {
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> Result<()> {
        let _ = name;
        param.value.expect_like("Accumulate::accept", &grad)?;
        match &mut param.grad {
            Some(g) => kernels::ops::add::add_assign(g, &grad)?,
            None => param.grad = Some(grad),
        }
        Ok(())
    }
}

/// A sink that prefixes names, for a layer nested inside a model (`blocks.3` + `w_u`).
pub struct Scoped<'s> {
    inner: &'s mut dyn GradSink,
    prefix: crate::Prefix,
}

impl<'s> Scoped<'s> {
    /// Forwards to `inner`, prefixing every name with `prefix`.
    pub fn new(inner: &'s mut dyn GradSink, prefix: crate::Prefix) -> Self {
        Scoped { inner, prefix }
    }
}

impl GradSink for Scoped<'_> {
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> Result<()> {
        let full = self.prefix.join(name);
        self.inner.accept(&full, param, grad)
    }
}
