//! `Embedding`: a table `[V, d]` whose rows are looked up by token id.
//!
//! Forward: `y[i, :] = table[ids[i], :]` for host ids `&[u32]`, `y [N, d]`.
//! Backward: `dtable[v, :] = Σ_{i: ids[i] = v} dy[i, :]` (a scatter-add, see
//! [`kernels::ops::embedding`]); the ids are integers and have no gradient.

use crate::gradcheck::Checkable;
use crate::init::{Init, sub_seed};
use crate::{Error, GradSink, Module, Param, ParamRole, Prefix, Result};
use kernels::ops::embedding::{embedding_backward, embedding_forward};
use kernels::{DType, Tensor};

/// An embedding table, named `table` ([`ParamRole::Embedding`]).
pub struct Embedding {
    /// The table, `[V, d]`.
    pub table: Param,
}

/// What [`Embedding::forward`] keeps for the backward: the ids.
pub struct EmbeddingCache {
    ids: Vec<u32>,
}

impl Embedding {
    /// A `[vocab, dim]` table drawn `N(0, 1)` (PyTorch's `nn.Embedding` default) from
    /// `sub_seed(seed, "table")`, in `dtype` on the CPU.
    pub fn new(vocab: usize, dim: usize, dtype: DType, seed: u64) -> Result<Embedding> {
        Embedding::with_init(vocab, dim, Init::Normal { std: 1.0 }, dtype, seed)
    }

    /// A `[vocab, dim]` table drawn with `init`.
    pub fn with_init(
        vocab: usize,
        dim: usize,
        init: Init,
        dtype: DType,
        seed: u64,
    ) -> Result<Embedding> {
        if vocab == 0 || dim == 0 {
            return Err(Error::InvalidConfig {
                what: "Embedding",
                reason: format!("vocab and dim must be positive, got ({vocab}, {dim})"),
            });
        }
        let t = init.tensor(&[vocab, dim], dtype, sub_seed(seed, "table"))?;
        Ok(Embedding {
            table: Param::new(t, ParamRole::Embedding),
        })
    }

    /// The number of rows `V`.
    pub fn vocab(&self) -> usize {
        self.table.value.shape()[0]
    }

    /// The row width `d`.
    pub fn dim(&self) -> usize {
        self.table.value.shape()[1]
    }

    /// `y [ids.len(), d]` (reshape it for batched ids), and the cache.
    /// Errors: an id `≥ V` ([`kernels::Error::InvalidArgument`]).
    pub fn forward(&self, ids: &[u32]) -> Result<(Tensor, EmbeddingCache)> {
        let y = embedding_forward(&self.table.value, ids)?;
        Ok((y, EmbeddingCache { ids: ids.to_vec() }))
    }

    /// Hands `dtable` (`"table"`) to `sink` for the cotangent `dy [N, d]` (any shape with
    /// `N·d` elements and last dim `d` is accepted). There is no input gradient.
    pub fn backward(
        &mut self,
        cache: EmbeddingCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<()> {
        let (n, d) = (cache.ids.len(), self.dim());
        if dy.numel() != n * d || dy.shape().last() != Some(&d) {
            return Err(kernels::Error::shape("Embedding::backward", &[n, d], dy.shape()).into());
        }
        let dy = dy.try_clone()?.reshape(&[n, d])?;
        let dt = embedding_backward(&dy, &cache.ids, self.vocab())?;
        sink.accept("table", &mut self.table, dt)
    }
}

impl Module for Embedding {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("table"), &self.table);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("table"), &mut self.table);
    }
}

impl Checkable for Embedding {
    type Input = Vec<u32>;
    fn check_forward(&self, ids: &Vec<u32>) -> Result<Tensor> {
        Ok(self.forward(ids)?.0)
    }
    fn check_backward(
        &mut self,
        ids: &Vec<u32>,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Option<Tensor>> {
        let (_, cache) = self.forward(ids)?;
        self.backward(cache, dy, sink)?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckOptions, gradcheck};
    use kernels::testing::rel_err;

    #[test]
    fn gradcheck_table_with_repeated_and_unused_ids() {
        // Id 2 appears three times (its rows must sum), ids 1 and 4 never (zero gradient).
        let mut e = Embedding::new(6, 5, DType::F64, 1).unwrap();
        let ids = vec![2u32, 0, 2, 5, 3, 2];
        let rep = gradcheck(&mut e, &ids, &GradCheckOptions::default()).unwrap();
        assert_eq!(rep.entries.len(), 1);
        assert_eq!(rep.entries[0].name, "table");
        assert_eq!(rep.entries[0].probes, 30);
        assert!(rep.worst() < 1e-6, "{rep}");
    }

    #[test]
    fn f32_forward_matches_f64_exactly() {
        let e64 = Embedding::new(9, 4, DType::F64, 3).unwrap();
        let e32 = Embedding::new(9, 4, DType::F32, 3).unwrap();
        let ids = [8u32, 0, 3, 3];
        let y64 = e64.forward(&ids).unwrap().0.to_vec::<f64>().unwrap();
        let y32 = e32.forward(&ids).unwrap().0.to_vec::<f32>().unwrap();
        // A gather copies: f32 holds the f64 values rounded, so the error is one rounding.
        assert!(rel_err(&y32, &y64) < 1e-7);
        assert!(y32.iter().zip(&y64).all(|(a, b)| *a == *b as f32));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let mut e = Embedding::new(4, 3, DType::F32, 0).unwrap();
        assert!(matches!(
            e.forward(&[1, 4]),
            Err(Error::Kernel(kernels::Error::InvalidArgument { .. }))
        ));
        let (_, cache) = e.forward(&[1, 2]).unwrap();
        let dy = Tensor::from_vec(vec![0.0f32; 9], &[3, 3]).unwrap();
        assert!(matches!(
            e.backward(cache, &dy, &mut crate::Accumulate),
            Err(Error::Kernel(kernels::Error::ShapeMismatch { .. }))
        ));
        assert!(Embedding::new(0, 3, DType::F32, 0).is_err());
        let names: Vec<String> = e.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["table"]);
    }
}
