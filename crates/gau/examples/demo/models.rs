//! The two language models of the demo, one wrapper around each:
//!
//! * [`GauAlpha`] from the crate: `2L` post-norm GAU layers (§2.5), dropout off;
//! * [`MhaLm`], the same frame around `L` [`MhaFfn`] blocks: the token table, the parameter-free
//!   RMSNorm after it, the blocks (each post-norm inside), the tied head `logits = x E_tokᵀ`.
//!
//! Both use the same token-table initialisation; only the blocks differ.

use gau::baseline::{MhaFfn, MhaFfnCache};
use gau::{Gau, GauAlpha, GauAlphaCache, GauAlphaConfig, GauCache, GauConfig, Mask, Train};
use kernels::ops::add::{add_assign, add_forward};
use kernels::ops::embedding::{embedding_backward, embedding_forward};
use kernels::ops::matmul::{matmul, matmul_backward};
use kernels::{DType, Tensor};
use nn::{Embedding, GradSink, Init, Module, Param, Prefix, RmsNorm, RmsNormCache, Scoped};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Widths shared by both models.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub vocab: usize,
    /// Model width `d`.
    pub d: usize,
    /// GAU expansion `e`.
    pub e: usize,
    /// GAU query/key width `s`.
    pub s: usize,
    /// Attention + FFN blocks `L`; the GAU model has `2L` layers.
    pub blocks: usize,
    /// Heads of the baseline's attention.
    pub heads: usize,
    pub max_len: usize,
}

impl Sizes {
    /// Parameters of one GAU layer: `W_in d×(2e+s)`, `W_o e×d`, `γ_q`, `γ_k`.
    pub fn gau_layer_params(&self) -> usize {
        self.d * (2 * self.e + self.s) + self.e * self.d + 2 * self.s
    }

    /// The baseline's FFN width `f` that makes one block (`4d² + 2df`) hold as many parameters
    /// as two GAU layers (rounded to the nearest integer).
    pub fn ffn_width(&self) -> usize {
        let target = 2 * self.gau_layer_params() as i64 - 4 * (self.d * self.d) as i64;
        ((target as f64 / (2 * self.d) as f64).round() as i64).max(1) as usize
    }

    pub fn gau_config(&self, norm: gau::Normalization) -> GauAlphaConfig {
        GauAlphaConfig {
            vocab: self.vocab,
            segments: 1,
            d: self.d,
            e: self.e,
            s: self.s,
            layers: 2 * self.blocks,
            norm,
            max_len: self.max_len,
            dropout: 0.0,
            attention_dropout: 0.0,
            eps: 1e-12,
        }
    }
}

/// The frame every example LM shares: a token table, the parameter-free RMSNorm after the
/// embedding, and the tied head `logits = x E_tokᵀ`. The blocks between differ.
pub struct TiedFrame {
    pub vocab: usize,
    pub d: usize,
    pub token: Embedding,
    pub norm: RmsNorm,
}

/// What [`TiedFrame::embed`] keeps for the backward.
pub struct EmbedCache {
    ids: Vec<u32>,
    norm: RmsNormCache,
    shape: [usize; 2],
}

impl TiedFrame {
    pub fn new(token: Embedding) -> Result<TiedFrame> {
        let (vocab, d) = (token.table.value.shape()[0], token.table.value.shape()[1]);
        let norm = RmsNorm::without_gain(d, 1e-12)?;
        Ok(TiedFrame {
            vocab,
            d,
            token,
            norm,
        })
    }

    /// `x = RMSNorm(E_tok[ids] (+ extra))` as `[b, n, d]`; `extra` is `[b·n, d]`.
    pub fn embed(
        &self,
        ids: &[u32],
        shape: [usize; 2],
        extra: Option<&Tensor>,
    ) -> Result<(Tensor, EmbedCache)> {
        let [b, n] = shape;
        let mut e = embedding_forward(&self.token.table.value, ids)?;
        if let Some(extra) = extra {
            add_assign(&mut e, extra)?;
        }
        let (x, norm) = self.norm.forward(&e.reshape(&[b, n, self.d])?)?;
        let cache = EmbedCache {
            ids: ids.to_vec(),
            norm,
            shape,
        };
        Ok((x, cache))
    }

    /// `(logits [b, n, vocab], head input [b·n, d])` for `x [b, n, d]`.
    pub fn head(&self, x: Tensor) -> Result<(Tensor, Tensor)> {
        let (b, n) = (x.shape()[0], x.shape()[1]);
        let h = x.reshape(&[b * n, self.d])?;
        let logits =
            matmul(&h, &self.token.table.value, false, true)?.reshape(&[b, n, self.vocab])?;
        Ok((logits, h))
    }

    /// `(dx [b, n, d], head part of the table's gradient)` from `dlogits [b, n, vocab]`.
    pub fn head_backward(&self, head_in: &Tensor, dlogits: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, n) = (dlogits.shape()[0], dlogits.shape()[1]);
        let dl = dlogits.try_clone()?.reshape(&[b * n, self.vocab])?;
        let (dh, dtok) = matmul_backward(head_in, &self.token.table.value, &dl, false, true)?;
        Ok((dh.reshape(&[b, n, self.d])?, dtok))
    }

    /// Back through the embedding norm: hands the tied table's whole gradient (`dtok` from the
    /// head plus the lookup's) to `sink` once as `embed.token`; returns the embedding gradient
    /// `[b·n, d]` (for an `extra` term).
    pub fn embed_backward(
        &mut self,
        c: EmbedCache,
        dx: &Tensor,
        mut dtok: Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let [b, n] = c.shape;
        let de = self.norm.backward(c.norm, dx, &mut nn::Accumulate)?;
        let de = de.reshape(&[b * n, self.d])?;
        add_assign(&mut dtok, &embedding_backward(&de, &c.ids, self.vocab)?)?;
        sink.accept("embed.token", &mut self.token.table, dtok)?;
        Ok(de)
    }
}

/// `L` attention + FFN blocks between a token table and its tied head.
pub struct MhaLm {
    frame: TiedFrame,
    blocks: Vec<MhaFfn>,
}

pub struct MhaLmCache {
    embed: EmbedCache,
    blocks: Vec<MhaFfnCache>,
    head_in: Tensor,
}

impl MhaLm {
    /// The token table is drawn exactly as [`GauAlpha`]'s (truncated normal, std
    /// `(2L)^(−1/3)/√rows` for 10 … 10000 rows), so the two models start from the same table.
    pub fn new(sz: &Sizes, seed: u64) -> Result<MhaLm> {
        let gain = ((2 * sz.blocks) as f64).powf(-1.0 / 3.0);
        let fan = if (10..=10000).contains(&sz.vocab) {
            sz.vocab
        } else {
            sz.d
        };
        let init = Init::TruncatedNormal {
            std: 1.13684723 * gain / (fan as f64).sqrt(),
        };
        let token = Embedding::with_init(
            sz.vocab,
            sz.d,
            init,
            DType::F32,
            nn::init::sub_seed(seed, "embed.token"),
        )?;
        let blocks = (0..sz.blocks)
            .map(|k| {
                MhaFfn::new(
                    sz.d,
                    sz.heads,
                    sz.ffn_width(),
                    DType::F32,
                    nn::init::sub_seed(seed, &format!("blocks.{k}")),
                )
            })
            .collect::<gau::Result<Vec<_>>>()?;
        Ok(MhaLm {
            frame: TiedFrame::new(token)?,
            blocks,
        })
    }

    fn forward(&self, ids: &[u32], shape: [usize; 2], mask: &Mask) -> Result<(Tensor, MhaLmCache)> {
        let (mut x, embed) = self.frame.embed(ids, shape, None)?;
        let mut caches = Vec::with_capacity(self.blocks.len());
        for blk in &self.blocks {
            let (y, c) = blk.forward(&x, mask)?;
            caches.push(c);
            x = y;
        }
        let (logits, head_in) = self.frame.head(x)?;
        let cache = MhaLmCache {
            embed,
            blocks: caches,
            head_in,
        };
        Ok((logits, cache))
    }

    /// Backward from `dlogits [b, n, vocab]`; the tied table's gradient (head + lookup) is
    /// handed to `sink` once.
    fn backward(&mut self, c: MhaLmCache, dlogits: &Tensor, sink: &mut dyn GradSink) -> Result<()> {
        let (mut dx, dtok) = self.frame.head_backward(&c.head_in, dlogits)?;
        for (k, bc) in c.blocks.into_iter().enumerate().rev() {
            let mut scoped = Scoped::new(sink, Prefix::root().child("blocks").child(k));
            dx = self.blocks[k].backward(bc, &dx, &mut scoped)?;
        }
        self.frame.embed_backward(c.embed, &dx, dtok, sink)?;
        Ok(())
    }
}

impl Module for MhaLm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("embed.token"), &self.frame.token.table);
        for (k, blk) in self.blocks.iter().enumerate() {
            blk.visit(&p.child("blocks").child(k), f);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("embed.token"), &mut self.frame.token.table);
        for (k, blk) in self.blocks.iter_mut().enumerate() {
            blk.visit_mut(&p.child("blocks").child(k), f);
        }
    }
}

/// Plain [`Gau`] layers (any [`GauConfig`]) in [`MhaLm`]'s frame: token table, RMSNorm,
/// `x ← RMSNorm(x + GAU(x))` per layer, tied head. No segment table. Used by the `ablate`
/// example (the demo itself does not build one, hence the `allow`).
#[allow(dead_code)]
pub struct GauLm {
    frame: TiedFrame,
    layers: Vec<Gau>,
}

pub struct GauLmCache {
    embed: EmbedCache,
    layers: Vec<(GauCache, RmsNormCache)>,
    head_in: Tensor,
}

#[allow(dead_code)]
impl GauLm {
    /// `layers` layers of `cfg`; the token table as [`MhaLm::new`] draws it for `table_gain`.
    pub fn new(
        vocab: usize,
        cfg: GauConfig,
        layers: usize,
        table_gain: f64,
        seed: u64,
    ) -> Result<GauLm> {
        let fan = if (10..=10000).contains(&vocab) {
            vocab
        } else {
            cfg.d
        };
        let init = Init::TruncatedNormal {
            std: 1.13684723 * table_gain / (fan as f64).sqrt(),
        };
        let token = Embedding::with_init(
            vocab,
            cfg.d,
            init,
            DType::F32,
            nn::init::sub_seed(seed, "embed.token"),
        )?;
        let layers = (0..layers)
            .map(|k| {
                Gau::new(
                    cfg,
                    DType::F32,
                    nn::init::sub_seed(seed, &format!("layers.{k}")),
                )
            })
            .collect::<gau::Result<Vec<_>>>()?;
        Ok(GauLm {
            frame: TiedFrame::new(token)?,
            layers,
        })
    }

    fn forward(&self, ids: &[u32], shape: [usize; 2], mask: &Mask) -> Result<(Tensor, GauLmCache)> {
        let (mut x, embed) = self.frame.embed(ids, shape, None)?;
        let mut caches = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let (y, gc) = l.forward(&x, mask)?;
            let (xn, nc) = self.frame.norm.forward(&add_forward(&x, &y)?)?;
            caches.push((gc, nc));
            x = xn;
        }
        let (logits, head_in) = self.frame.head(x)?;
        let cache = GauLmCache {
            embed,
            layers: caches,
            head_in,
        };
        Ok((logits, cache))
    }

    fn backward(&mut self, c: GauLmCache, dlogits: &Tensor, sink: &mut dyn GradSink) -> Result<()> {
        let (mut dx, dtok) = self.frame.head_backward(&c.head_in, dlogits)?;
        for (k, (gc, nc)) in c.layers.into_iter().enumerate().rev() {
            let dr = self.frame.norm.backward(nc, &dx, &mut nn::Accumulate)?;
            let mut scoped = Scoped::new(sink, Prefix::root().child("layers").child(k));
            let dxl = self.layers[k].backward(gc, &dr, &mut scoped)?;
            dx = add_forward(&dr, &dxl)?;
        }
        self.frame.embed_backward(c.embed, &dx, dtok, sink)?;
        Ok(())
    }
}

impl Module for GauLm {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("embed.token"), &self.frame.token.table);
        for (k, l) in self.layers.iter().enumerate() {
            l.visit(&p.child("layers").child(k), f);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("embed.token"), &mut self.frame.token.table);
        for (k, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&p.child("layers").child(k), f);
        }
    }
}

/// Either model, behind one forward/backward.
pub enum Model {
    Gau(Box<GauAlpha>),
    Mha(MhaLm),
    #[allow(dead_code)]
    Layers(GauLm),
}

pub enum Cache {
    Gau(GauAlphaCache),
    Mha(MhaLmCache),
    Layers(GauLmCache),
}

impl Model {
    /// Logits `[b, n, vocab]` under a causal mask, no dropout.
    pub fn forward(&self, ids: &[u32], shape: [usize; 2]) -> Result<(Tensor, Cache)> {
        let mask = Mask::causal();
        Ok(match self {
            Model::Gau(m) => {
                let segments = vec![0u32; ids.len()];
                let (l, c) = m.forward(ids, &segments, shape, &mask, Train::Eval)?;
                (l, Cache::Gau(c))
            }
            Model::Mha(m) => {
                let (l, c) = m.forward(ids, shape, &mask)?;
                (l, Cache::Mha(c))
            }
            Model::Layers(m) => {
                let (l, c) = m.forward(ids, shape, &mask)?;
                (l, Cache::Layers(c))
            }
        })
    }

    pub fn backward(&mut self, c: Cache, dlogits: &Tensor, sink: &mut dyn GradSink) -> Result<()> {
        match (self, c) {
            (Model::Gau(m), Cache::Gau(c)) => m.backward(c, dlogits, sink)?,
            (Model::Mha(m), Cache::Mha(c)) => m.backward(c, dlogits, sink)?,
            (Model::Layers(m), Cache::Layers(c)) => m.backward(c, dlogits, sink)?,
            _ => return Err("a cache from the other model".into()),
        }
        Ok(())
    }

    /// Parameters outside the token and segment tables.
    pub fn block_params(&self) -> usize {
        let mut n = 0;
        self.visit(&Prefix::root(), &mut |name, p| {
            if !name.starts_with("embed.") {
                n += p.numel();
            }
        });
        n
    }
}

impl Module for Model {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        match self {
            Model::Gau(m) => m.visit(p, f),
            Model::Mha(m) => m.visit(p, f),
            Model::Layers(m) => m.visit(p, f),
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        match self {
            Model::Gau(m) => m.visit_mut(p, f),
            Model::Mha(m) => m.visit_mut(p, f),
            Model::Layers(m) => m.visit_mut(p, f),
        }
    }
}
