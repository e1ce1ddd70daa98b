//! Parameters and the named parameter tree.

use kernels::Tensor;

/// What a parameter is for; optimizers use it for defaults such as "no weight decay on biases
/// and gains" and Tiger's per-kind learning rate, and can be overridden by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamRole {
    /// A weight matrix (Linear, projections).
    Matrix,
    /// An embedding table (rows are looked up by index).
    Embedding,
    /// A bias or offset vector.
    Bias,
    /// A multiplicative gain (norm gains, per-dimension scales).
    Gain,
    /// Anything else.
    Other,
}

/// A trainable tensor and its gradient.
///
/// `grad` is `None` until a backward hands the parameter a gradient through the [`Accumulate`]
/// sink; [`Param::zero_grad`] resets it (keeping the buffer) so that micro-batches accumulate.
///
/// [`Accumulate`]: crate::Accumulate
pub struct Param {
    /// The value.
    pub value: Tensor,
    /// The accumulated gradient, same shape/dtype/device as `value`.
    pub grad: Option<Tensor>,
    /// What the parameter is for.
    pub role: ParamRole,
}

impl Param {
    /// A parameter with no gradient yet.
    pub fn new(value: Tensor, role: ParamRole) -> Param {
        Param {
            value,
            grad: None,
            role,
        }
    }

    /// The number of scalars.
    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// Sets the gradient to zero, keeping its buffer if it has one.
    pub fn zero_grad(&mut self) -> kernels::Result<()> {
        match &mut self.grad {
            Some(g) => kernels::ops::fill::fill(g, 0.0),
            None => Ok(()),
        }
    }

    /// Drops the gradient buffer (for gradient-release training, where none should persist).
    pub fn drop_grad(&mut self) {
        self.grad = None;
    }
}

/// A dotted-name prefix while walking a parameter tree (`blocks.3.gau`).
#[derive(Clone, Debug, Default)]
pub struct Prefix(String);

impl Prefix {
    /// The empty prefix (the root of a model).
    pub fn root() -> Prefix {
        Prefix(String::new())
    }

    /// `prefix.name`, or `name` at the root.
    pub fn join(&self, name: &str) -> String {
        if self.0.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.0)
        }
    }

    /// The prefix one level down (`blocks` → `blocks.3`).
    pub fn child(&self, name: impl std::fmt::Display) -> Prefix {
        Prefix(self.join(&name.to_string()))
    }

    /// The prefix as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A model or layer that owns parameters. Names are stable: the same model always yields the
/// same names in the same order, and they key checkpoints and optimizer state.
pub trait Module {
    /// Calls `f` with each parameter's full dotted name, in a fixed order.
    fn visit<'a>(&'a self, prefix: &Prefix, f: &mut dyn FnMut(&str, &'a Param));

    /// Calls `f` with each parameter's full dotted name, mutably, in the same order as `visit`.
    fn visit_mut(&mut self, prefix: &Prefix, f: &mut dyn FnMut(&str, &mut Param));

    /// All parameters with their names.
    fn named_params(&self) -> Vec<(String, &Param)> {
        let mut out = Vec::new();
        self.visit(&Prefix::root(), &mut |n, p| out.push((n.to_string(), p)));
        out
    }

    /// Total number of scalars.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit(&Prefix::root(), &mut |_, p| n += p.numel());
        n
    }

    /// Zeroes every gradient (keeping the buffers).
    fn zero_grad(&mut self) -> kernels::Result<()> {
        let mut result = Ok(());
        self.visit_mut(&Prefix::root(), &mut |_, p| {
            if result.is_ok() {
                result = p.zero_grad();
            }
        });
        result
    }
}

/// A flat list of named parameters is the smallest [`Module`]: each name is joined under the
/// prefix, in list order (optimizer benches and tests build their parameter sets this way).
impl Module for Vec<(String, Param)> {
    fn visit<'a>(&'a self, prefix: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        for (name, p) in self {
            f(&prefix.join(name), p);
        }
    }
    fn visit_mut(&mut self, prefix: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        for (name, p) in self {
            f(&prefix.join(name), p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_named_params_visits_in_order_under_the_prefix() {
        let p = |v: f32| {
            Param::new(
                Tensor::from_vec(vec![v; 2], &[2]).unwrap(),
                ParamRole::Matrix,
            )
        };
        let mut list = vec![("a".to_string(), p(1.0)), ("b.c".to_string(), p(2.0))];
        let names: Vec<String> = list.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b.c"]);
        let mut seen = Vec::new();
        list.visit_mut(&Prefix::root().child("opt"), &mut |n, q| {
            seen.push((n.to_string(), q.value.to_vec::<f32>().unwrap()[0]))
        });
        assert_eq!(
            seen,
            [("opt.a".to_string(), 1.0), ("opt.b.c".to_string(), 2.0)]
        );
        assert_eq!(list.num_params(), 4);
    }
}
