//! A GAU layer with SEPARATE query and key projections (not in the crate, ablation only):
//! `[U | V | Z_q | Z_k] = SiLU(X W_in)`, `Q = RoPE(Z_q)`, `K = RoPE(Z_k)`, no γ,
//! `O = (U ⊙ softmax(QKᵀ/√s, causal) V) W_o`; in GauAlpha's frame (token table, one trained
//! constant row added to every token like GauAlpha's segment row, post-norm, tied head) and
//! with GauAlpha's init. It tests whether the shared `Z` of GAU is what stalls MQAR.

use crate::models::{EmbedCache, TiedFrame};
use gau::ops::columns::{concat_last, split_last};
use gau::{AttentionCore, CoreCache, CoreKind, Mask, Normalization};
use kernels::ops::add::add_forward;
use kernels::ops::embedding::{embedding_backward, embedding_forward};
use kernels::ops::mul::{mul_backward, mul_forward};
use kernels::ops::rope::{RopeOpts, rope_backward, rope_forward};
use kernels::ops::silu::{silu_backward, silu_forward};
use kernels::{DType, Tensor};
use nn::{
    Embedding, GradSink, Init, Linear, LinearCache, Module, Param, Prefix, RmsNormCache, Scoped,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn trunc(gain: f64, fan: usize) -> Init {
    Init::TruncatedNormal {
        std: 1.13684723 * gain / (fan as f64).sqrt(),
    }
}

pub struct QkLayer {
    e: usize,
    s: usize,
    w_in: Linear,
    w_o: Linear,
}

pub struct QkCache {
    lin_in: LinearCache,
    h: Tensor,
    u: Tensor,
    c: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    core: CoreCache,
    lin_o: LinearCache,
}

impl QkLayer {
    fn core(&self) -> AttentionCore {
        AttentionCore {
            norm: Normalization::Softmax,
            scale: 1.0 / (self.s as f64).sqrt(),
            kind: CoreKind::default(),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<(Tensor, QkCache)> {
        let (h, lin_in) = self.w_in.forward(x)?;
        let g = silu_forward(&h)?;
        let mut p = split_last(&g, &[self.e, self.e, self.s, self.s])?.into_iter();
        let (u, v, zq, zk) = (
            p.next().unwrap(),
            p.next().unwrap(),
            p.next().unwrap(),
            p.next().unwrap(),
        );
        let o = RopeOpts::default();
        let (q, k) = (rope_forward(&zq, &o)?, rope_forward(&zk, &o)?);
        let (c, core) = self.core().forward(&q, &k, &v, &Mask::causal())?;
        let (y, lin_o) = self.w_o.forward(&mul_forward(&u, &c)?)?;
        Ok((
            y,
            QkCache {
                lin_in,
                h,
                u,
                c,
                q,
                k,
                v,
                core,
                lin_o,
            },
        ))
    }

    fn backward(&mut self, c: QkCache, dy: &Tensor, sink: &mut dyn GradSink) -> Result<Tensor> {
        let dp = self.w_o.backward(
            c.lin_o,
            dy,
            &mut Scoped::new(sink, Prefix::root().child("w_o")),
        )?;
        let (du, dc) = mul_backward(&c.u, &c.c, &dp)?;
        let g = self
            .core()
            .backward(&c.q, &c.k, &c.v, &Mask::causal(), &c.core, &dc)?;
        let o = RopeOpts::default();
        let (dzq, dzk) = (rope_backward(&g.dq, &o)?, rope_backward(&g.dk, &o)?);
        let dh = silu_backward(&c.h, &concat_last(&[&du, &g.dv, &dzq, &dzk])?)?;
        Ok(self.w_in.backward(
            c.lin_in,
            &dh,
            &mut Scoped::new(sink, Prefix::root().child("w_in")),
        )?)
    }
}

pub struct QkLm {
    frame: TiedFrame,
    constant: Embedding,
    layers: Vec<QkLayer>,
}

pub struct QkLmCache {
    embed: EmbedCache,
    layers: Vec<(QkCache, RmsNormCache)>,
    head_in: Tensor,
}

impl QkLm {
    pub fn new(
        vocab: usize,
        d: usize,
        e: usize,
        s: usize,
        layers: usize,
        seed: u64,
    ) -> Result<QkLm> {
        let gain = (layers as f64).powf(-1.0 / 3.0);
        let token = Embedding::with_init(vocab, d, trunc(gain, vocab), DType::F32, seed ^ 1)?;
        let constant = Embedding::with_init(1, d, trunc(gain, d), DType::F32, seed ^ 2)?;
        let layers = (0..layers as u64)
            .map(|k| -> Result<QkLayer> {
                Ok(QkLayer {
                    e,
                    s,
                    w_in: Linear::with_init(
                        d,
                        2 * e + 2 * s,
                        false,
                        trunc(gain, d),
                        DType::F32,
                        seed ^ (100 + k),
                    )?,
                    w_o: Linear::with_init(
                        e,
                        d,
                        false,
                        trunc(gain, e),
                        DType::F32,
                        seed ^ (200 + k),
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(QkLm {
            frame: TiedFrame::new(token)?,
            constant,
            layers,
        })
    }

    pub fn forward(&self, ids: &[u32], shape: [usize; 2]) -> Result<(Tensor, QkLmCache)> {
        let zeros = vec![0u32; ids.len()];
        let row = embedding_forward(&self.constant.table.value, &zeros)?;
        let (mut x, embed) = self.frame.embed(ids, shape, Some(&row))?;
        let mut caches = vec![];
        for l in &self.layers {
            let (y, lc) = l.forward(&x)?;
            let (xn, nc) = self.frame.norm.forward(&add_forward(&x, &y)?)?;
            caches.push((lc, nc));
            x = xn;
        }
        let (logits, head_in) = self.frame.head(x)?;
        let cache = QkLmCache {
            embed,
            layers: caches,
            head_in,
        };
        Ok((logits, cache))
    }

    pub fn backward(
        &mut self,
        c: QkLmCache,
        dlogits: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<()> {
        let (mut dx, dtok) = self.frame.head_backward(&c.head_in, dlogits)?;
        for (k, (lc, nc)) in c.layers.into_iter().enumerate().rev() {
            let dr = self.frame.norm.backward(nc, &dx, &mut nn::Accumulate)?;
            let mut scoped = Scoped::new(sink, Prefix::root().child("layers").child(k));
            let dxl = self.layers[k].backward(lc, &dr, &mut scoped)?;
            dx = add_forward(&dr, &dxl)?;
        }
        let de = self.frame.embed_backward(c.embed, &dx, dtok, sink)?;
        let zeros = vec![0u32; de.shape()[0]];
        let dcst = embedding_backward(&de, &zeros, 1)?;
        sink.accept("embed.constant", &mut self.constant.table, dcst)?;
        Ok(())
    }
}

impl Module for QkLm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("embed.token"), &self.frame.token.table);
        f(&p.join("embed.constant"), &self.constant.table);
        for (k, l) in self.layers.iter().enumerate() {
            let lp = p.child("layers").child(k);
            f(&lp.join("w_in.w"), &l.w_in.w);
            f(&lp.join("w_o.w"), &l.w_o.w);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("embed.token"), &mut self.frame.token.table);
        f(&p.join("embed.constant"), &mut self.constant.table);
        for (k, l) in self.layers.iter_mut().enumerate() {
            let lp = p.child("layers").child(k);
            f(&lp.join("w_in.w"), &mut l.w_in.w);
            f(&lp.join("w_o.w"), &mut l.w_o.w);
        }
    }
}
