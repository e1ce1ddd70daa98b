//! The baseline the GAU replaces: one multi-head attention + FFN block with the same
//! machinery (post-norm parameter-free RMSNorm as GAU-α, no biases, RoPE on every head, the
//! crate's attention core and masks), so that two GAU layers can be measured against it at
//! (almost) equal parameters: `4d² + 2·d·f` here (12d² at `f = 4d`) versus ≈ `2·(3de + ds)`.
//!
//! ```text
//! [Q | K | V] = X W_qkv;  per head h (width d_h = d/H): Q_h, K_h ← RoPE;  C_h = Normalise(Q_h K_hᵀ/√d_h) V_h
//! A  = RMSNorm(X + [C_1 … C_H] W_o)
//! Y  = RMSNorm(A + GELU(A W_1) W_2)
//! ```
//!
//! Backward by the chain rule through the same pieces (`Linear`, `rope_backward`, the core's
//! backward, `gelu_backward`, `RmsNorm::backward`); head split/merge are permutations, whose
//! backward is the inverse permutation. Parameter names: `w_qkv [d, 3d]`, `w_o [d, d]`,
//! `w_1 [d, f]`, `w_2 [f, d]`.

use crate::mask::{KeyPadding, Mask};
use crate::norm::Normalization;
use crate::ops::columns::{concat_last, split_last};
use crate::{AttentionCore, CoreCache, CoreKind, Error, Result};
use kernels::ops::add::add_forward;
use kernels::ops::gelu::{GeluKind, gelu_backward, gelu_forward};
use kernels::ops::rope::{RopeOpts, rope_backward, rope_forward};
use kernels::{DType, Tensor};
use nn::{GradSink, Init, Linear, LinearCache, Module, Param, Prefix, RmsNorm, RmsNormCache};

/// A multi-head attention + FFN block.
pub struct MhaFfn {
    heads: usize,
    d: usize,
    norm_kind: Normalization,
    qkv: Linear,
    out: Linear,
    ff1: Linear,
    ff2: Linear,
    norm: RmsNorm,
}

/// What [`MhaFfn::forward`] keeps for the backward.
pub struct MhaFfnCache {
    qkv: LinearCache,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    core: CoreCache,
    mask: Mask,
    out: LinearCache,
    n1: RmsNormCache,
    ff1: LinearCache,
    pre_gelu: Tensor,
    ff2: LinearCache,
    n2: RmsNormCache,
}

/// `[b, n, H·d_h] → [b·H, n, d_h]` (or back with `inverse`), a host permutation.
fn heads(x: &Tensor, b: usize, n: usize, h: usize, inverse: bool) -> Result<Tensor> {
    let dh = x.numel() / (b * n * h);
    let src = x.to_dtype(DType::F64)?.to_vec::<f64>()?; // exact for f32
    let mut dst = vec![0.0; src.len()];
    for bi in 0..b {
        for t in 0..n {
            for hi in 0..h {
                let a = ((bi * n + t) * h + hi) * dh; // [b, n, h, dh]
                let c = ((bi * h + hi) * n + t) * dh; // [b, h, n, dh]
                let (from, to) = if inverse { (c, a) } else { (a, c) };
                dst[to..to + dh].copy_from_slice(&src[from..from + dh]);
            }
        }
    }
    let shape = if inverse {
        vec![b, n, h * dh]
    } else {
        vec![b * h, n, dh]
    };
    Ok(Tensor::from_vec(dst, &shape)?.to_dtype(x.dtype())?)
}

/// The mask for `b·H` sequences: every batch element's padding repeated per head.
/// Errors: padding that does not fit `b` sequences of `n` keys ([`Error::MaskLength`]).
fn per_head(mask: &Mask, b: usize, h: usize, n: usize) -> Result<Mask> {
    let (what, expected, got) = match &mask.keys {
        KeyPadding::None => ("", 0, 0),
        KeyPadding::Lengths(l) => ("key lengths (one per batch element)", b, l.len()),
        KeyPadding::Mask(m) => ("key mask [batch × n_k]", b * n, m.len()),
    };
    if expected != got {
        return Err(Error::MaskLength {
            what,
            expected,
            got,
        });
    }
    let keys = match &mask.keys {
        KeyPadding::None => KeyPadding::None,
        KeyPadding::Lengths(l) => {
            KeyPadding::Lengths(l.iter().flat_map(|&x| std::iter::repeat_n(x, h)).collect())
        }
        KeyPadding::Mask(m) => KeyPadding::Mask(
            m.chunks(n.max(1))
                .flat_map(|row| std::iter::repeat_n(row, h).flatten().copied())
                .collect(),
        ),
    };
    Ok(Mask {
        causal: mask.causal,
        keys,
    })
}

impl MhaFfn {
    /// A block of width `d`, `heads` heads (`d_h = d/heads`, even for RoPE) and FFN width `f`,
    /// weights truncated-normal with std `1/√fan_in`, in `dtype` from `seed`.
    pub fn new(d: usize, heads: usize, f: usize, dtype: DType, seed: u64) -> Result<MhaFfn> {
        if heads == 0 || d == 0 || f == 0 || !d.is_multiple_of(heads) {
            return Err(Error::InvalidConfig(format!(
                "MhaFfn needs d divisible by heads, all positive; got d={d}, heads={heads}, f={f}"
            )));
        }
        if !(d / heads).is_multiple_of(2) {
            return Err(Error::OddRopeWidth { s: d / heads });
        }
        let lin = |i: usize, o: usize, k: u64| {
            let init = Init::TruncatedNormal {
                std: 1.13684723 / (i as f64).sqrt(),
            };
            Linear::with_init(i, o, false, init, dtype, seed ^ (k * 0x9e37_79b9))
        };
        Ok(MhaFfn {
            heads,
            d,
            norm_kind: Normalization::Softmax,
            qkv: lin(d, 3 * d, 1)?,
            out: lin(d, d, 2)?,
            ff1: lin(d, f, 3)?,
            ff2: lin(f, d, 4)?,
            norm: RmsNorm::without_gain(d, 1e-12)?,
        })
    }

    fn core(&self) -> AttentionCore {
        AttentionCore {
            norm: self.norm_kind,
            scale: 1.0 / ((self.d / self.heads) as f64).sqrt(),
            kind: CoreKind::default(),
        }
    }

    fn dims(&self, x: &Tensor) -> Result<(usize, usize)> {
        match *x.shape() {
            [b, n, d] if d == self.d && b > 0 && n > 0 => Ok((b, n)),
            [_, _, d] if d != self.d => Err(Error::WidthMismatch {
                what: "MhaFfn input",
                expected: self.d,
                got: d,
            }),
            _ => Err(
                kernels::Error::invalid_shape("MhaFfn", x.shape(), "x must be [b, n, d]").into(),
            ),
        }
    }

    /// `Y` for `x [b, n, d]` and the cache. Errors: width, shape, mask mismatches.
    pub fn forward(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, MhaFfnCache)> {
        let (b, n) = self.dims(x)?;
        let h = self.heads;
        let (qkv, c_qkv) = self.qkv.forward(x)?;
        let mut p = split_last(&qkv, &[self.d; 3])?.into_iter();
        let opts = RopeOpts::default();
        let q = rope_forward(&heads(&p.next().unwrap(), b, n, h, false)?, &opts)?;
        let k = rope_forward(&heads(&p.next().unwrap(), b, n, h, false)?, &opts)?;
        let v = heads(&p.next().unwrap(), b, n, h, false)?;
        let mask = per_head(mask, b, h, n)?;
        let (c, core) = self.core().forward(&q, &k, &v, &mask)?;
        let (o, c_out) = self.out.forward(&heads(&c, b, n, h, true)?)?;
        let (a, n1) = self.norm.forward(&add_forward(x, &o)?)?;
        let (pre_gelu, ff1) = self.ff1.forward(&a)?;
        let (f, ff2) = self.ff2.forward(&gelu_forward(&pre_gelu, GeluKind::Erf)?)?;
        let (y, n2) = self.norm.forward(&add_forward(&a, &f)?)?;
        let cache = MhaFfnCache {
            qkv: c_qkv,
            q,
            k,
            v,
            core,
            mask,
            out: c_out,
            n1,
            ff1,
            pre_gelu,
            ff2,
            n2,
        };
        Ok((y, cache))
    }

    /// `dx` for `dy [b, n, d]`; parameter gradients go to `sink` under their names.
    pub fn backward(
        &mut self,
        c: MhaFfnCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let (b, n) = self.dims(dy)?;
        let h = self.heads;
        let mut none = nn::Accumulate;
        let dr2 = self.norm.backward(c.n2, dy, &mut none)?;
        let dg = self.ff2.backward(
            c.ff2,
            &dr2,
            &mut Named {
                inner: sink,
                name: "w_2",
            },
        )?;
        let dpre = gelu_backward(&c.pre_gelu, &dg, GeluKind::Erf)?;
        let da_ff = self.ff1.backward(
            c.ff1,
            &dpre,
            &mut Named {
                inner: sink,
                name: "w_1",
            },
        )?;
        let da = add_forward(&dr2, &da_ff)?;
        let dr1 = self.norm.backward(c.n1, &da, &mut none)?;
        let dcm = self.out.backward(
            c.out,
            &dr1,
            &mut Named {
                inner: sink,
                name: "w_o",
            },
        )?;
        let dc = heads(&dcm, b, n, h, false)?;
        let g = self
            .core()
            .backward(&c.q, &c.k, &c.v, &c.mask, &c.core, &dc)?;
        let opts = RopeOpts::default();
        let dq = heads(&rope_backward(&g.dq, &opts)?, b, n, h, true)?;
        let dk = heads(&rope_backward(&g.dk, &opts)?, b, n, h, true)?;
        let dv = heads(&g.dv, b, n, h, true)?;
        let dqkv = concat_last(&[&dq, &dk, &dv])?;
        let dx_att = self.qkv.backward(
            c.qkv,
            &dqkv,
            &mut Named {
                inner: sink,
                name: "w_qkv",
            },
        )?;
        Ok(add_forward(&dr1, &dx_att)?)
    }
}

/// Hands a bias-free `Linear`'s only gradient (`w`) on under the block's name for it.
struct Named<'a> {
    inner: &'a mut dyn GradSink,
    name: &'static str,
}

impl GradSink for Named<'_> {
    fn accept(&mut self, _: &str, param: &mut Param, grad: Tensor) -> nn::Result<()> {
        self.inner.accept(self.name, param, grad)
    }
}

/// `Linear`'s weight is `w`; the block names it after the layer (`w_qkv`, not `w_qkv.w`).
fn linear_w<'a>(p: &Prefix, name: &str, l: &'a Linear, f: &mut dyn FnMut(&str, &'a Param)) {
    f(&p.join(name), &l.w);
}

impl Module for MhaFfn {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        linear_w(p, "w_qkv", &self.qkv, f);
        linear_w(p, "w_o", &self.out, f);
        linear_w(p, "w_1", &self.ff1, f);
        linear_w(p, "w_2", &self.ff2, f);
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("w_qkv"), &mut self.qkv.w);
        f(&p.join("w_o"), &mut self.out.w);
        f(&p.join("w_1"), &mut self.ff1.w);
        f(&p.join("w_2"), &mut self.ff2.w);
    }
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
