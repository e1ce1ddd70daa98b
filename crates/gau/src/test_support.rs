//! Test helpers shared by the layer, FLASH, cross-attention, baseline and model tests: a
//! gradient-check harness for any layer run as `forward(x, mask)` / `backward(cache, dy)`, a
//! parameter randomiser and the masks every sweep uses.

use crate::baseline::{MhaFfn, MhaFfnCache};
use crate::core::CoreKind;
use crate::flash::{Flash, FlashCache};
use crate::layer::{Gau, GauCache};
use crate::mask::{KeyPadding, Mask};
use crate::{Error, Result};
use kernels::Tensor;
use kernels::testing::{randn, rng};
use nn::gradcheck::{Checkable, randn_f64};
use nn::{GradSink, Module, Param, ParamRole, Prefix};

/// A layer with a masked forward and a backward that returns `dx`.
pub(crate) trait MaskedLayer: Module {
    type Cache;
    fn run(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, Self::Cache)>;
    fn run_backward(
        &mut self,
        cache: Self::Cache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor>;
}

macro_rules! masked_layer {
    ($layer:ty, $cache:ty) => {
        impl MaskedLayer for $layer {
            type Cache = $cache;
            fn run(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, $cache)> {
                self.forward(x, mask)
            }
            fn run_backward(
                &mut self,
                cache: $cache,
                dy: &Tensor,
                sink: &mut dyn GradSink,
            ) -> Result<Tensor> {
                self.backward(cache, dy, sink)
            }
        }
    };
}

masked_layer!(Gau, GauCache);
masked_layer!(Flash, FlashCache);
masked_layer!(MhaFfn, MhaFfnCache);

/// `nn::gradcheck`'s view of a layer under a fixed mask: input `x`, output `layer(x, mask)`.
pub(crate) struct LayerCheck<L> {
    pub layer: L,
    pub mask: Mask,
}

impl<L: MaskedLayer> Module for LayerCheck<L> {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        self.layer.visit(p, f)
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        self.layer.visit_mut(p, f)
    }
}

impl<L: MaskedLayer> Checkable for LayerCheck<L> {
    type Input = Tensor;
    fn check_forward(&self, x: &Tensor) -> nn::Result<Tensor> {
        Ok(self.layer.run(x, &self.mask)?.0)
    }
    fn check_backward(
        &mut self,
        x: &Tensor,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (_, cache) = self.layer.run(x, &self.mask)?;
        Ok(Some(self.layer.run_backward(cache, dy, sink)?))
    }
}

/// Scales of [`randomise`]: matrices `N(0, matrix²)`, gains `gain_shift + N(0, other²)`,
/// everything else `N(0, other²)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spread {
    pub matrix: f64,
    pub other: f64,
    pub gain_shift: f64,
}

/// Matrices `N(0, 0.7²)`, every other parameter `N(0, 0.5²)`: O(1) everywhere, so no gradient
/// is trivially small.
pub(crate) const SPREAD: Spread = Spread {
    matrix: 0.7,
    other: 0.5,
    gain_shift: 0.0,
};

/// Redraws every f64 parameter of `m` from [`Spread`], seeded per parameter from `seed`.
pub(crate) fn randomise(m: &mut dyn Module, seed: u64, spread: Spread) {
    let mut k = 0;
    m.visit_mut(&Prefix::root(), &mut |_, p| {
        k += 1;
        let (scale, shift) = match p.role {
            ParamRole::Matrix => (spread.matrix, 0.0),
            ParamRole::Gain => (spread.other, spread.gain_shift),
            _ => (spread.other, 0.0),
        };
        let v: Vec<f64> = randn(&mut rng(seed * 100 + k), p.numel())
            .into_iter()
            .map(|x| shift + x * scale)
            .collect();
        p.value = Tensor::from_vec(v, p.value.shape()).unwrap();
    });
}

/// The masks every layer sweep uses, for batch 2 and `n ≥ 3` keys ([`mask_sweep`]): lengths
/// `[n − 2, n]`; the key mask hides keys 1 (and 4, when `n > 4`) of the second sequence.
pub(crate) fn masks(b: usize, n: usize) -> Vec<Mask> {
    assert!(b == 2 && n >= 3, "masks are written for batch 2, n ≥ 3");
    let hidden: &[usize] = if n > 4 { &[1, 4] } else { &[1] };
    mask_sweep(n, [n - 2, n], hidden)
}

/// For batch 2 and `n` keys, bidirectional then causal: no padding; lengths `lengths`; an
/// explicit key mask hiding keys `hidden` of the second sequence.
pub(crate) fn mask_sweep(n: usize, lengths: [usize; 2], hidden: &[usize]) -> Vec<Mask> {
    let mut key_mask = vec![true; 2 * n];
    for &j in hidden {
        key_mask[n + j] = false;
    }
    let mut out = Vec::new();
    for causal in [false, true] {
        let base = Mask {
            causal,
            keys: KeyPadding::None,
        };
        out.push(base.clone());
        out.push(base.clone().with_lengths(&lengths));
        out.push(base.with_key_mask(key_mask.clone()));
    }
    out
}

/// `CoreKind::Materialized` when `materialized`, else `fused` (the sweeps alternate the two).
pub(crate) fn materialized_if(materialized: bool, fused: CoreKind) -> CoreKind {
    if materialized {
        CoreKind::Materialized
    } else {
        fused
    }
}

/// The input errors of a self-attention layer of width 4 with `max_len` 6, run as `forward`: a
/// 5-wide input is `WidthMismatch { expected: 4, got: 5 }`, 7 tokens `TooLong { n: 7, max: 6 }`,
/// and masks that do not fit `[2, 5]` are `MaskLength`.
pub(crate) fn assert_input_errors<T>(forward: impl Fn(&Tensor, &Mask) -> Result<T>) {
    let none = Mask::none();
    let wide = randn_f64(&[2, 5, 5], 0).unwrap();
    assert!(matches!(
        forward(&wide, &none),
        Err(Error::WidthMismatch {
            expected: 4,
            got: 5,
            ..
        })
    ));
    let long = randn_f64(&[1, 7, 4], 0).unwrap();
    assert!(matches!(
        forward(&long, &none),
        Err(Error::TooLong { n: 7, max: 6 })
    ));
    let x = randn_f64(&[2, 5, 4], 0).unwrap();
    for m in [
        Mask::none().with_lengths(&[5]),
        Mask::causal().with_lengths(&[5, 6]),
        Mask::none().with_key_mask(vec![true; 5]),
    ] {
        assert!(
            matches!(forward(&x, &m), Err(Error::MaskLength { .. })),
            "{m:?}"
        );
    }
}

/// `max |a − b|` over two tensors of the same length.
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}
