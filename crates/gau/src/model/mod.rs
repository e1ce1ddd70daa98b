//! The GAU-α model (spec/gau.md §2.5): embeddings, `2L` post-norm GAU layers, an MLM head.
//!
//! ```text
//! x₀ = RMSNorm(Dropout(E_tok[ids] + E_seg[segments]))
//! x_{k+1} = RMSNorm(x_k + Dropout(GAU_k(x_k)))           k = 0 … layers−1
//! logits = Dropout(x_L) E_tokᵀ                              tied embedding, no bias
//! RMSNorm(x) = x / √(mean(x²) + ε)                          no gain, ε = 1e-12
//! ```
//!
//! Backward, from `dlogits`: `dh = dlogits E_tok`, `dE_tok ⊕= dlogitsᵀ h` (the head's half of
//! the tied gradient); through each block `dr = RMSNorm'(dx)`, `dx = dr + GAU'(Dropout'(dr))`;
//! then `de = Dropout'(RMSNorm'(dx))` scatters into both tables (`dE_tok` gets the sum of the
//! head's and the lookup's halves, handed over once).
//!
//! Initialisation (GAU-α): every weight is a normal truncated at ±2σ with effective std
//! `layers^(−1/3)/√fan_in`; for the embedding tables `fan_in` is the row count unless the
//! table has more than 10000 or fewer than 10 rows, when it is `d`. γ = 1.
//!
//! Dropout uses `kernels::ops::dropout` with a seed per site derived from the call's seed;
//! [`Train::Eval`] turns it off. Attention dropout on the normalised `A` (GAU-α: 0.1) runs
//! inside the attention core ([`crate::core::AttentionDropout`]: the keep mask is a counter hash
//! of `(b, i, j)`, regenerated in the backward, so the fused core still never stores `A`).
//!
//! Parameter names (stable, checkpoint keys): `embed.token [vocab, d]`, `embed.segment
//! [segments, d]`, `layers.<k>.w_in`, `layers.<k>.gamma_q`, `layers.<k>.gamma_k`,
//! `layers.<k>.w_o` (plus the layer's optional biases and offsets, see [`crate::layer`]).

use crate::core::AttentionDropout;
use crate::layer::{Gau, GauCache, GauConfig};
use crate::mask::Mask;
use crate::norm::Normalization;
use crate::{Error, Result};
use kernels::ops::add::{add_assign, add_forward};
use kernels::ops::dropout::{dropout_backward, dropout_forward, mix64};
use kernels::ops::embedding::{embedding_backward, embedding_forward};
use kernels::ops::matmul::{matmul, matmul_backward};
use kernels::{DType, Tensor};
use nn::{Embedding, GradSink, Init, Module, Param, Prefix, RmsNorm, RmsNormCache, Scoped};

/// Configuration of a [`GauAlpha`] model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GauAlphaConfig {
    /// Token vocabulary (GAU-α: 12000).
    pub vocab: usize,
    /// Segment types (GAU-α: 2).
    pub segments: usize,
    /// Model width `d` (768).
    pub d: usize,
    /// Expanded width `e` (1536).
    pub e: usize,
    /// Query/key width `s` (128).
    pub s: usize,
    /// Number of GAU layers, `2L` (24).
    pub layers: usize,
    /// Attention normalisation (GAU-α: `SoftmaxPlus { floor: 1 }`).
    pub norm: Normalization,
    /// Longest sequence (512).
    pub max_len: usize,
    /// Hidden dropout after the embeddings, after each GAU and before the head (0.1).
    pub dropout: f64,
    /// Dropout on the normalised attention `A` inside each GAU's core (0.1).
    pub attention_dropout: f64,
    /// RMSNorm ε (1e-12).
    pub eps: f64,
}

impl GauAlphaConfig {
    /// GAU-α's base configuration (chinese_GAU-alpha-char_L-24_H-768).
    pub fn base() -> GauAlphaConfig {
        GauAlphaConfig {
            vocab: 12000,
            segments: 2,
            d: 768,
            e: 1536,
            s: 128,
            layers: 24,
            norm: Normalization::SoftmaxPlus { floor: 1 },
            max_len: 512,
            dropout: 0.1,
            attention_dropout: 0.1,
            eps: 1e-12,
        }
    }

    /// The per-layer configuration: GAU-α's init gain `layers^(−1/3)`.
    pub fn layer(&self) -> GauConfig {
        GauConfig {
            norm: self.norm,
            max_len: self.max_len,
            init_gain: (self.layers as f64).powf(-1.0 / 3.0),
            ..GauConfig::new(self.d, self.e, self.s)
        }
    }

    /// Checks the sizes and rates.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 || self.segments == 0 || self.layers == 0 {
            return Err(Error::InvalidConfig(format!(
                "vocab, segments and layers must be positive, got {}, {}, {}",
                self.vocab, self.segments, self.layers
            )));
        }
        for (what, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::InvalidConfig(format!(
                    "{what} must be in [0, 1), got {p}"
                )));
            }
        }
        self.layer().validate()
    }
}

/// Training (dropout on, seeded) or evaluation (dropout off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Train {
    /// Dropout with masks drawn from this seed (one sub-seed per site).
    Train { seed: u64 },
    /// No dropout.
    Eval,
}

/// The GAU-α model.
pub struct GauAlpha {
    cfg: GauAlphaConfig,
    token: Embedding,
    segment: Embedding,
    layers: Vec<Gau>,
    norm: RmsNorm,
}

/// What [`GauAlpha::forward`] keeps for the backward.
pub struct GauAlphaCache {
    ids: Vec<u32>,
    segments: Vec<u32>,
    train: Train,
    embed_norm: RmsNormCache,
    blocks: Vec<(GauCache, RmsNormCache)>,
    head_in: Tensor,
    shape: [usize; 2],
}

fn table_init(rows: usize, d: usize, gain: f64) -> Init {
    let fan = if !(10..=10000).contains(&rows) {
        d
    } else {
        rows
    };
    Init::TruncatedNormal {
        std: 1.13684723 * gain / (fan as f64).sqrt(),
    }
}

impl GauAlpha {
    /// A model with GAU-α's initialisation in `dtype` on the CPU, drawn from `seed`.
    pub fn new(cfg: GauAlphaConfig, dtype: DType, seed: u64) -> Result<GauAlpha> {
        cfg.validate()?;
        let gain = (cfg.layers as f64).powf(-1.0 / 3.0);
        let token = Embedding::with_init(
            cfg.vocab,
            cfg.d,
            table_init(cfg.vocab, cfg.d, gain),
            dtype,
            nn::init::sub_seed(seed, "embed.token"),
        )?;
        let segment = Embedding::with_init(
            cfg.segments,
            cfg.d,
            table_init(cfg.segments, cfg.d, gain),
            dtype,
            nn::init::sub_seed(seed, "embed.segment"),
        )?;
        let layers = (0..cfg.layers)
            .map(|k| {
                Gau::new(
                    cfg.layer(),
                    dtype,
                    nn::init::sub_seed(seed, &format!("layers.{k}")),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GauAlpha {
            cfg,
            token,
            segment,
            layers,
            norm: RmsNorm::without_gain(cfg.d, cfg.eps)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GauAlphaConfig {
        &self.cfg
    }

    /// The GAU layers.
    pub fn layers(&self) -> &[Gau] {
        &self.layers
    }

    /// The GAU layers, mutably (for example to pick the attention core).
    pub fn layers_mut(&mut self) -> &mut [Gau] {
        &mut self.layers
    }

    /// The token and segment tables.
    pub(crate) fn tables(&self) -> (&Tensor, &Tensor) {
        (&self.token.table.value, &self.segment.table.value)
    }

    /// The parameter-free post-norm.
    pub(crate) fn post_norm(&self) -> &RmsNorm {
        &self.norm
    }

    fn drop(&self, x: Tensor, train: Train, site: u64) -> Result<Tensor> {
        match train {
            Train::Train { seed } if self.cfg.dropout > 0.0 => {
                Ok(dropout_forward(&x, self.cfg.dropout, mix64(seed ^ site))?)
            }
            _ => Ok(x),
        }
    }

    /// The attention dropout of layer `k`: a seed per layer derived from the call's seed (sites
    /// above the hidden-dropout ones), none in evaluation.
    fn attention_drop(&self, train: Train, k: usize) -> AttentionDropout {
        match train {
            Train::Train { seed } if self.cfg.attention_dropout > 0.0 => AttentionDropout::new(
                self.cfg.attention_dropout,
                mix64(seed ^ ((1 << 32) + k as u64)),
            ),
            _ => AttentionDropout::NONE,
        }
    }

    fn drop_back(&self, dy: Tensor, train: Train, site: u64) -> Result<Tensor> {
        match train {
            Train::Train { seed } if self.cfg.dropout > 0.0 => {
                Ok(dropout_backward(&dy, self.cfg.dropout, mix64(seed ^ site))?)
            }
            _ => Ok(dy),
        }
    }

    /// MLM logits `[b, n, vocab]` for token ids and segment ids (`b·n` each, row-major) and the
    /// attention mask, and the cache for [`GauAlpha::backward`].
    ///
    /// Errors: ids or segments not `b·n` long ([`Error::ShapeMismatch`]), an id past the vocab
    /// or segment table, `n > max_len` ([`Error::TooLong`]), masks that do not fit.
    pub fn forward(
        &self,
        ids: &[u32],
        segments: &[u32],
        shape: [usize; 2],
        mask: &Mask,
        train: Train,
    ) -> Result<(Tensor, GauAlphaCache)> {
        let [b, n] = shape;
        for (what, got) in [
            ("GauAlpha: ids", ids.len()),
            ("GauAlpha: segments", segments.len()),
        ] {
            if got != b * n || got == 0 {
                return Err(Error::ShapeMismatch {
                    what,
                    expected: vec![b, n],
                    got: vec![got],
                });
            }
        }
        if n > self.cfg.max_len {
            return Err(Error::TooLong {
                n,
                max: self.cfg.max_len,
            });
        }
        let d = self.cfg.d;
        let e = add_forward(
            &embedding_forward(&self.token.table.value, ids)?,
            &embedding_forward(&self.segment.table.value, segments)?,
        )?
        .reshape(&[b, n, d])?;
        let e = self.drop(e, train, 0)?;
        let (mut x, embed_norm) = self.norm.forward(&e)?;
        let mut blocks = Vec::with_capacity(self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let (y, gc) = layer.forward_with_dropout(&x, mask, self.attention_drop(train, k))?;
            let y = self.drop(y, train, 1 + k as u64)?;
            let (xn, nc) = self.norm.forward(&add_forward(&x, &y)?)?;
            blocks.push((gc, nc));
            x = xn;
        }
        let h = self
            .drop(x, train, 1 + self.layers.len() as u64)?
            .reshape(&[b * n, d])?;
        let logits =
            matmul(&h, &self.token.table.value, false, true)?.reshape(&[b, n, self.cfg.vocab])?;
        let cache = GauAlphaCache {
            ids: ids.to_vec(),
            segments: segments.to_vec(),
            train,
            embed_norm,
            blocks,
            head_in: h,
            shape,
        };
        Ok((logits, cache))
    }

    /// Backward for `dlogits [b, n, vocab]`: hands every parameter's gradient to `sink` once,
    /// under its name (module docs). Token ids have no gradient.
    pub fn backward(
        &mut self,
        cache: GauAlphaCache,
        dlogits: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<()> {
        let [b, n] = cache.shape;
        let (d, v) = (self.cfg.d, self.cfg.vocab);
        if dlogits.shape() != [b, n, v] {
            return Err(Error::ShapeMismatch {
                what: "GauAlpha::backward: dlogits",
                expected: vec![b, n, v],
                got: dlogits.shape().to_vec(),
            });
        }
        let dl = dlogits.try_clone()?.reshape(&[b * n, v])?;
        let (dh, mut dtok) =
            matmul_backward(&cache.head_in, &self.token.table.value, &dl, false, true)?;
        let n_layers = self.layers.len();
        let mut dx = self
            .drop_back(dh, cache.train, 1 + n_layers as u64)?
            .reshape(&[b, n, d])?;
        let mut none = nn::Accumulate;
        for (k, (gc, nc)) in cache.blocks.into_iter().enumerate().rev() {
            let dr = self.norm.backward(nc, &dx, &mut none)?;
            let dy = self.drop_back(dr.try_clone()?, cache.train, 1 + k as u64)?;
            let mut scoped = Scoped::new(sink, Prefix::root().child("layers").child(k));
            let dxl = self.layers[k].backward(gc, &dy, &mut scoped)?;
            dx = add_forward(&dr, &dxl)?;
        }
        let de = self.norm.backward(cache.embed_norm, &dx, &mut none)?;
        let de = self.drop_back(de, cache.train, 0)?.reshape(&[b * n, d])?;
        add_assign(&mut dtok, &embedding_backward(&de, &cache.ids, v)?)?;
        sink.accept("embed.token", &mut self.token.table, dtok)?;
        let dseg = embedding_backward(&de, &cache.segments, self.cfg.segments)?;
        sink.accept("embed.segment", &mut self.segment.table, dseg)?;
        Ok(())
    }

    /// Saves the parameters to a safetensors file under their names (`nn::checkpoint`).
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        Ok(nn::checkpoint::save(path, self, &Default::default())?)
    }

    /// Loads every parameter from a safetensors file; a missing, extra or mis-shaped tensor is
    /// [`nn::Error::CheckpointMismatch`] (inside [`Error::Nn`]) and leaves the model unchanged.
    pub fn load(&mut self, path: impl AsRef<std::path::Path>) -> Result<()> {
        nn::checkpoint::load(path, self)?;
        Ok(())
    }
}

impl Module for GauAlpha {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("embed.token"), &self.token.table);
        f(&p.join("embed.segment"), &self.segment.table);
        let lp = p.child("layers");
        for (k, l) in self.layers.iter().enumerate() {
            l.visit(&lp.child(k), f);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("embed.token"), &mut self.token.table);
        f(&p.join("embed.segment"), &mut self.segment.table);
        let lp = p.child("layers");
        for (k, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&lp.child(k), f);
        }
    }
}

#[cfg(test)]
mod tests;
