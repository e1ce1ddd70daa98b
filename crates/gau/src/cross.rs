//! The cross-attention form of the GAU layer (spec/gau.md §2.4b, bert4keras after GAU-α): the
//! query side produces `[U | Q]` from its own input, the keys and values come from separate
//! SiLU-activated projections of a memory sequence; there is no shared `Z` and no scale/offset.
//!
//! ```text
//! [U | Q~] = SiLU(X W_in + b_in)      X [n_q, d],  W_in: d × (e+s)    (one fused GEMM)
//! K~ = SiLU(M W_k + b_k)              M [n_m, d_mem],  W_k: d_mem × s
//! V  = SiLU(M W_v + b_v)              W_v: d_mem × e
//! Q = RoPE(Q~), K = RoPE(K~)          optional, default off (see below)
//! C  = Normalise(c·QKᵀ, mask) · V     the attention core, n_q × n_m
//! O  = (U ⊙ C) W_o + b_o              W_o: e × d
//! ```
//!
//! The mask is over the memory: key padding `m_j` per memory key, and `l_i` (the count the
//! normalisations use, §2.4) is the number of real memory keys. A causal mask has no meaning
//! between two different sequences and is rejected with [`Error::InvalidConfig`].
//!
//! **RoPE.** The spec says "the rest is unchanged" but does not say which positions a memory
//! key has relative to a query (§9 lists no reading). bert4keras rotates `Q` and `K` with one
//! position table, which only lines up when both sequences have the same length. Here RoPE is
//! an option ([`GauCrossConfig::rope`], default `None`): when on, query `i` sits at position
//! `i` and memory key `j` at position `j`, so scores depend on `i − j` as in self-attention.
//!
//! Backward (spec §5 with the projections above): `dP = dO W_oᵀ`, `dU = dP ⊙ C`,
//! `dC = dP ⊙ U`; the core gives `dQ, dK, dV`; `dQ~ = RoPE_{−θ}(dQ)`, `dK~ = RoPE_{−θ}(dK)`;
//! `dX = ([dU | dQ~] ⊙ SiLU'(H_x)) W_inᵀ`, `dM = (dK~ ⊙ SiLU'(H_k)) W_kᵀ + (dV ⊙ SiLU'(H_v))
//! W_vᵀ`; each weight's gradient is `inputᵀ · dH` and each bias's `Σ_rows dH`.
//!
//! Parameter names: `w_in [d, e+s]`, `b_in [e+s]`, `w_k [d_mem, s]`, `b_k [s]`,
//! `w_v [d_mem, e]`, `b_v [e]`, `w_o [e, d]`, `b_o [d]` (biases with `bias`).

use crate::core::{AttentionCore, CoreCache, CoreKind};
use crate::gated::{
    GatedCache, SiluCache, attention_core, check_input, gated_output, gated_output_backward,
    input_projection_backward, rope_maybe, rope_maybe_backward, rope_opts, silu_projection,
    silu_projection_backward, truncated, validate_options, visit_linear, visit_linear_mut,
};
use crate::mask::Mask;
use crate::norm::{Normalization, ScoreScale};
use crate::{Error, Result};
use kernels::ops::add::add_forward;
use kernels::ops::rope::{RopeLayout, RopeOpts};
use kernels::{DType, Tensor};
use nn::{GradSink, Linear, Module, Param, Prefix};

/// Configuration of a [`GauCross`] layer; [`GauCrossConfig::new`] gives the defaults below.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GauCrossConfig {
    /// Width `d` of the query-side input and of the output.
    pub d: usize,
    /// Width of the memory (defaults to `d`).
    pub d_mem: usize,
    /// Expanded width `e` of U and V.
    pub e: usize,
    /// Query/key width `s`.
    pub s: usize,
    /// Normalisation. Default `SoftmaxPlus { floor: 16 }` (spec §2.3), over memory keys.
    pub norm: Normalization,
    /// Score scale. Default [`ScoreScale::Auto`] (`1/√s`; 1 for `Relu2Paper`).
    pub scale: ScoreScale,
    /// RoPE on `Q` (positions of the queries) and `K` (positions of the memory), or `None`.
    /// Default `None`: the spec leaves the relative positions of two sequences open (module
    /// docs).
    pub rope: Option<RopeLayout>,
    /// RoPE frequency base. Default 10000.
    pub rope_base: f64,
    /// Biases `b_in`, `b_k`, `b_v`, `b_o`. Default off (GAU-α: `use_bias=False`).
    pub bias: bool,
    /// Longest query or memory sequence accepted. Default 512.
    pub max_len: usize,
    /// Attention core implementation. Default fused.
    pub core: CoreKind,
    /// Weights are truncated normals with effective std `init_gain / √fan_in` (as
    /// [`crate::GauConfig::init_gain`]). Default 1.
    pub init_gain: f64,
}

impl GauCrossConfig {
    /// The defaults at widths `d` (query side and memory), `e`, `s`.
    pub fn new(d: usize, e: usize, s: usize) -> GauCrossConfig {
        GauCrossConfig {
            d,
            d_mem: d,
            e,
            s,
            norm: Normalization::default(),
            scale: ScoreScale::Auto,
            rope: None,
            rope_base: 10000.0,
            bias: false,
            max_len: 512,
            core: CoreKind::default(),
            init_gain: 1.0,
        }
    }

    /// Checks the widths and options.
    pub fn validate(&self) -> Result<()> {
        if [self.d, self.d_mem, self.e, self.s, self.max_len].contains(&0) {
            return Err(Error::InvalidConfig(format!(
                "GauCross widths and max_len must be positive, got {self:?}"
            )));
        }
        let (norm, scale, gain) = (&self.norm, &self.scale, Some(self.init_gain));
        validate_options(self.rope, self.s, self.rope_base, gain, norm, scale)
    }
}

/// The cross-attention GAU layer.
pub struct GauCross {
    cfg: GauCrossConfig,
    proj_in: Linear,
    proj_k: Linear,
    proj_v: Linear,
    proj_out: Linear,
}

/// What [`GauCross::forward`] keeps for the backward.
pub struct GauCrossCache {
    x_in: SiluCache,
    k_in: SiluCache,
    v_in: SiluCache,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    core: CoreCache,
    out: GatedCache,
    mask: Mask,
    x_shape: Vec<usize>,
    mem_shape: Vec<usize>,
}

impl GauCross {
    /// A layer with GAU-α's initialisation recipe (see [`GauCrossConfig::init_gain`]; biases
    /// 0), on the CPU in `dtype`, drawn from `seed`.
    pub fn new(cfg: GauCrossConfig, dtype: DType, seed: u64) -> Result<GauCross> {
        cfg.validate()?;
        let (d, m, e, s, gain) = (cfg.d, cfg.d_mem, cfg.e, cfg.s, cfg.init_gain);
        let lin = |fan_in: usize, out: usize, name: &str| {
            let seed = nn::init::sub_seed(seed, name);
            Linear::with_init(fan_in, out, cfg.bias, truncated(gain, fan_in), dtype, seed)
        };
        Ok(GauCross {
            cfg,
            proj_in: lin(d, e + s, "w_in")?,
            proj_k: lin(m, s, "w_k")?,
            proj_v: lin(m, e, "w_v")?,
            proj_out: lin(e, d, "w_o")?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GauCrossConfig {
        &self.cfg
    }

    fn core(&self) -> Result<AttentionCore> {
        attention_core(self.cfg.norm, self.cfg.scale, self.cfg.s, self.cfg.core)
    }

    fn rope(&self) -> Option<RopeOpts> {
        rope_opts(self.cfg.rope, self.cfg.rope_base)
    }

    /// `O = GauCross(x, memory)` for `x [b, n_q, d]` and `memory [b, n_m, d_mem]` (or both
    /// without the batch axis), and the cache for the backward. `mask` pads memory keys.
    ///
    /// Errors: [`Error::WidthMismatch`] when `x` is not `d` wide or the memory not `d_mem`,
    /// [`Error::ShapeMismatch`] when the batches differ, [`Error::TooLong`] past `max_len`,
    /// [`Error::InvalidConfig`] for a causal mask, [`Error::MaskLength`] for a key padding
    /// that does not fit `(b, n_m)`, and kernel errors for mixed dtypes or devices.
    pub fn forward(
        &self,
        x: &Tensor,
        memory: &Tensor,
        mask: &Mask,
    ) -> Result<(Tensor, GauCrossCache)> {
        let cfg = &self.cfg;
        if mask.causal {
            return Err(Error::InvalidConfig(
                "GauCross: a causal mask has no meaning between two sequences (mask the \
                 memory's keys with padding instead)"
                    .into(),
            ));
        }
        let (b, n_q) = check_input("GauCross input", x, cfg.d, cfg.max_len)?;
        let (b_m, n_m) = check_input("GauCross memory", memory, cfg.d_mem, cfg.max_len)?;
        if b_m != b {
            return Err(Error::ShapeMismatch {
                what: "GauCross memory (batch must match the input's)",
                expected: vec![b, n_m, cfg.d_mem],
                got: memory.shape().to_vec(),
            });
        }
        let x3 = x.try_clone()?.reshape(&[b, n_q, cfg.d])?;
        let m3 = memory.try_clone()?.reshape(&[b, n_m, cfg.d_mem])?;
        let (x_in, [u, q]) = silu_projection(&self.proj_in, &x3, [cfg.e, cfg.s])?;
        let (k_in, [k]) = silu_projection(&self.proj_k, &m3, [cfg.s])?;
        let (v_in, [v]) = silu_projection(&self.proj_v, &m3, [cfg.e])?;
        let rope = self.rope();
        let (q, k) = (rope_maybe(q, &rope)?, rope_maybe(k, &rope)?);
        let (c, core) = self.core()?.forward(&q, &k, &v, mask)?;
        let (o, out) = gated_output(&self.proj_out, u, c, x.shape())?;
        let cache = GauCrossCache {
            x_in,
            k_in,
            v_in,
            q,
            k,
            v,
            core,
            out,
            mask: mask.clone(),
            x_shape: x.shape().to_vec(),
            mem_shape: memory.shape().to_vec(),
        };
        Ok((o, cache))
    }

    /// Backward for the cotangent `dy` (shaped like the forward's output): returns
    /// `(dx, dmemory)` and hands every parameter's gradient to `sink` under its name.
    pub fn backward(
        &mut self,
        cache: GauCrossCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<(Tensor, Tensor)> {
        let (du, dc) = gated_output_backward(
            &mut self.proj_out,
            cache.out,
            dy,
            "GauCross::backward: dy",
            sink,
        )?;
        let core = self.core()?;
        let g = core.backward(&cache.q, &cache.k, &cache.v, &cache.mask, &cache.core, &dc)?;
        let rope = self.rope();
        let dq = rope_maybe_backward(g.dq, &rope)?;
        let dk = rope_maybe_backward(g.dk, &rope)?;
        let dm_v =
            silu_projection_backward(&mut self.proj_v, cache.v_in, &[&g.dv], NAMES[2], sink)?;
        let dm_k = silu_projection_backward(&mut self.proj_k, cache.k_in, &[&dk], NAMES[1], sink)?;
        let dx = input_projection_backward(
            &mut self.proj_in,
            cache.x_in,
            &[&du, &dq],
            &cache.x_shape,
            sink,
        )?;
        let dmem = add_forward(&dm_k, &dm_v)?.reshape(&cache.mem_shape)?;
        Ok((dx, dmem))
    }
}

/// Parameter names of the four projections (weight, bias), in visit order.
const NAMES: [[&str; 2]; 4] = [
    ["w_in", "b_in"],
    ["w_k", "b_k"],
    ["w_v", "b_v"],
    ["w_o", "b_o"],
];

impl Module for GauCross {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        let lins = [&self.proj_in, &self.proj_k, &self.proj_v, &self.proj_out];
        for (lin, names) in lins.into_iter().zip(NAMES) {
            visit_linear(lin, names, p, f);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        let lins = [
            &mut self.proj_in,
            &mut self.proj_k,
            &mut self.proj_v,
            &mut self.proj_out,
        ];
        for (lin, names) in lins.into_iter().zip(NAMES) {
            visit_linear_mut(lin, names, p, f);
        }
    }
}

#[cfg(test)]
#[path = "cross_tests.rs"]
mod tests;
