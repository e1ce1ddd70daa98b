//! Incremental decoding of the quadratic GAU layer and of a causal [`GauAlpha`] (spec/gau.md
//! §2.4b): per layer the cache holds the rotated keys `K [b, t, s]` and the values
//! `V [b, t, e]` of the `t` positions seen so far. A step with `m` new positions projects them,
//! rotates their queries and keys at positions `t … t+m−1` (RoPE offset `t`), appends `K`, `V`
//! and runs the attention core causally with `n_q = m`, `n_k = t + m` (row `i` sees keys
//! `j ≤ t + i`, so `l_i = t + i + 1` and `SoftmaxPlus` uses the current visible length). The
//! outputs equal the rows `t … t+m−1` of the full causal forward (test) for every
//! normalisation except `Relu2Paper` with `PaddedLen` / `ValidLen`, whose `ν` is the length of
//! the whole sequence: a decoder uses the current length `t + m` instead. Decoding is
//! inference only: no dropout, no backward.

use crate::layer::Gau;
use crate::mask::Mask;
use crate::model::GauAlpha;
use crate::ops::columns::split_last;
use crate::ops::scale_offset::scale_offset_forward;
use crate::{AttentionCore, Error, Result};
use kernels::Tensor;
use kernels::ops::add::add_forward;
use kernels::ops::embedding::embedding_forward;
use kernels::ops::matmul::matmul;
use kernels::ops::mul::mul_forward;
use kernels::ops::rope::{RopeOpts, rope_forward};
use kernels::ops::silu::silu_forward;

/// One layer's cache: rotated keys and values of the positions seen so far.
#[derive(Default)]
pub struct LayerKv {
    k: Option<Tensor>,
    v: Option<Tensor>,
}

impl LayerKv {
    /// The number of cached positions `t`.
    pub fn len(&self) -> usize {
        self.k.as_ref().map_or(0, |k| k.shape()[1])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `[a | new]` along the sequence axis of `[b, t, w]` tensors (host copy, in `new`'s dtype).
fn append_seq(a: Option<&Tensor>, new: &Tensor) -> Result<Tensor> {
    let Some(a) = a else {
        return Ok(new.try_clone()?);
    };
    let ([b, t, w], [bn, m, wn]) = (a.shape(), new.shape()) else {
        unreachable!("cache tensors are rank 3")
    };
    if (b, w) != (bn, wn) {
        return Err(Error::ShapeMismatch {
            what: "decode: new rows for the cache",
            expected: vec![*b, *m, *w],
            got: new.shape().to_vec(),
        });
    }
    // Through f64, which is exact for f32 values.
    let f64s =
        |t: &Tensor| -> Result<Vec<f64>> { Ok(t.to_dtype(kernels::DType::F64)?.to_vec::<f64>()?) };
    let (av, nv) = (f64s(a)?, f64s(new)?);
    let mut out = Vec::with_capacity(av.len() + nv.len());
    for i in 0..*b {
        out.extend_from_slice(&av[i * t * w..(i + 1) * t * w]);
        out.extend_from_slice(&nv[i * m * w..(i + 1) * m * w]);
    }
    Ok(Tensor::from_vec(out, &[*b, t + m, *w])?.to_dtype(new.dtype())?)
}

impl Gau {
    /// The outputs `[b, m, d]` of `m` new positions `x [b, m, d]` given the cache of the
    /// previous ones (causal attention), appending their keys and values to `kv`.
    ///
    /// Errors: as [`Gau::forward`], plus [`Error::TooLong`] when `t + m > max_len`.
    pub fn decode_step(&self, x: &Tensor, kv: &mut LayerKv) -> Result<Tensor> {
        let cfg = &self.cfg;
        let t = kv.len();
        let m = match *x.shape() {
            [_, m, d] if d == cfg.d => m,
            [_, _, d] => {
                return Err(Error::WidthMismatch {
                    what: "Gau::decode_step input",
                    expected: cfg.d,
                    got: d,
                });
            }
            _ => {
                return Err(kernels::Error::invalid_shape(
                    "Gau::decode_step",
                    x.shape(),
                    "x must be [batch, m, d]",
                )
                .into());
            }
        };
        if t + m > cfg.max_len {
            return Err(Error::TooLong {
                n: t + m,
                max: cfg.max_len,
            });
        }
        let (h, _) = self.proj_in.forward(x)?;
        let g = silu_forward(&h)?;
        let mut parts = split_last(&g, &[cfg.e, cfg.e, cfg.s])?.into_iter();
        let (u, v, z) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let beta = |p: &Option<nn::Param>| p.as_ref().map(|p| p.value.try_clone()).transpose();
        let mut q = scale_offset_forward(&z, &self.gamma_q.value, beta(&self.beta_q)?.as_ref())?;
        let mut k = scale_offset_forward(&z, &self.gamma_k.value, beta(&self.beta_k)?.as_ref())?;
        if let Some(layout) = cfg.rope {
            let opts = RopeOpts {
                base: cfg.rope_base,
                layout,
                offset: t,
            };
            q = rope_forward(&q, &opts)?;
            k = rope_forward(&k, &opts)?;
        }
        let k_all = append_seq(kv.k.as_ref(), &k)?;
        let v_all = append_seq(kv.v.as_ref(), &v)?;
        let core = AttentionCore {
            norm: cfg.norm,
            scale: cfg.scale.resolve(cfg.s, &cfg.norm)?,
            kind: cfg.core,
        };
        let (c, _) = core.forward(&q, &k_all, &v_all, &Mask::causal())?;
        kv.k = Some(k_all);
        kv.v = Some(v_all);
        let (o, _) = self.proj_out.forward(&mul_forward(&u, &c)?)?;
        Ok(o)
    }
}

/// The cache of a whole [`GauAlpha`] decoder: one [`LayerKv`] per layer.
pub struct ModelKv {
    layers: Vec<LayerKv>,
}

impl ModelKv {
    /// The number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerKv::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GauAlpha {
    /// An empty decoding cache for this model.
    pub fn new_kv(&self) -> ModelKv {
        ModelKv {
            layers: self.layers().iter().map(|_| LayerKv::default()).collect(),
        }
    }

    /// Causal-LM decoding (evaluation mode): logits `[b, m, vocab]` for `m` new positions per
    /// sequence (`ids`, `segments`: `b·m` each, row-major), equal to those rows of
    /// `forward(.., &Mask::causal(), Train::Eval)` on the whole sequence.
    ///
    /// Errors: ids or segments not `b·m` long, ids past a table, `t + m > max_len`.
    pub fn decode_step(
        &self,
        ids: &[u32],
        segments: &[u32],
        shape: [usize; 2],
        kv: &mut ModelKv,
    ) -> Result<Tensor> {
        let [b, m] = shape;
        for (what, got) in [
            ("decode: ids", ids.len()),
            ("decode: segments", segments.len()),
        ] {
            if got != b * m || got == 0 {
                return Err(Error::ShapeMismatch {
                    what,
                    expected: vec![b, m],
                    got: vec![got],
                });
            }
        }
        let cfg = self.config();
        let (tok, seg) = self.tables();
        let e = add_forward(
            &embedding_forward(tok, ids)?,
            &embedding_forward(seg, segments)?,
        )?
        .reshape(&[b, m, cfg.d])?;
        let norm = self.post_norm();
        let (mut x, _) = norm.forward(&e)?;
        for (layer, lkv) in self.layers().iter().zip(kv.layers.iter_mut()) {
            let y = layer.decode_step(&x, lkv)?;
            x = norm.forward(&add_forward(&x, &y)?)?.0;
        }
        let h = x.reshape(&[b * m, cfg.d])?;
        Ok(matmul(&h, tok, false, true)?.reshape(&[b, m, cfg.vocab])?)
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
