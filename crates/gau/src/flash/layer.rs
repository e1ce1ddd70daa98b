//! The FLASH layer (spec/gau.md §3): the GAU layer of §2.1 with the attention core replaced by
//! mixed chunk attention, and four scale/offset pairs on the shared `Z`:
//!
//! ```text
//! H = X W_in + b_in,  G = SiLU(H),  U = G[:, :e],  V = G[:, e:2e],  Z = G[:, 2e:]
//! Qq = R(Z⊙γ_qq + β_qq), Kq = R(Z⊙γ_kq + β_kq), Ql = R(Z⊙γ_ql + β_ql), Kl = R(Z⊙γ_kl + β_kl)
//! C = MixedChunk(Qq, Kq, Ql, Kl, V)          R = RoPE (optional, positions 0…n−1)
//! O = (U ⊙ C) W_o + b_o
//! ```
//!
//! Backward: as the GAU layer's (module `layer`), with the mixed chunk backward in place of the
//! core's and `dZ = Σ_p dP~_p ⊙ γ_p` over the four pairs `p` (`dP~ = R_{−θ}(dP)`).
//!
//! Parameter names: `w_in [d, 2e+s]`, `b_in` (with `bias`), `gamma_q_quad`, `gamma_k_quad`,
//! `gamma_q_lin`, `gamma_k_lin` `[s]`, `beta_*` likewise (with `offset`), `w_o [e, d]`, `b_o`.

use super::chunked::{MixedChunkAttention, MixedChunkCache};
use super::global::GlobalDenom;
use crate::core::CoreKind;
use crate::gated::{
    GatedCache, SiluCache, attention_core, gated_output, gated_output_backward, input_projection,
    input_projection_backward, offset_scale_params, rope_maybe_backward, rope_opts,
    scale_offset_param_backward, scale_offset_rope, truncated, validate_options, visit_linear,
    visit_linear_mut, visit_offset_scale, visit_offset_scale_mut,
};
use crate::mask::Mask;
use crate::norm::{Normalization, Relu2Denom, ScoreScale};
use crate::{Error, Result};
use kernels::ops::add::add_forward;
use kernels::ops::rope::{RopeLayout, RopeOpts};
use kernels::{DType, Tensor};
use nn::{GradSink, Linear, Module, Param, Prefix};

/// Configuration of a [`Flash`] layer; [`FlashConfig::new`] gives the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlashConfig {
    pub d: usize,
    pub e: usize,
    pub s: usize,
    /// Chunk size `c`. Default 256 (the paper).
    pub chunk: usize,
    /// Local normalisation. Default `Relu2Paper { PaddedLen }` at scale 1, i.e.
    /// `relu(q·k/c)²` (the paper's code and flash-pytorch, ν = the chunk length).
    pub local: Normalization,
    /// Local score scale. Default [`ScoreScale::Auto`].
    pub scale: ScoreScale,
    /// Causal global normalisation. Default [`GlobalDenom::PrefixTokens`] (spec §3).
    pub global: GlobalDenom,
    /// RoPE on all four of Qq, Kq, Ql, Kl (as flash-pytorch), or none. Default interleaved.
    pub rope: Option<RopeLayout>,
    pub rope_base: f64,
    /// Biases `b_in`, `b_o`. Default off.
    pub bias: bool,
    /// Offsets `β`. Default on (the paper's OffsetScale).
    pub offset: bool,
    /// Longest sequence accepted. Default 8192.
    pub max_len: usize,
    /// Local core implementation. Default fused.
    pub core: CoreKind,
}

impl FlashConfig {
    pub fn new(d: usize, e: usize, s: usize) -> FlashConfig {
        FlashConfig {
            d,
            e,
            s,
            chunk: 256,
            local: Normalization::Relu2Paper {
                denom: Relu2Denom::PaddedLen,
            },
            scale: ScoreScale::Auto,
            global: GlobalDenom::default(),
            rope: Some(RopeLayout::Interleaved),
            rope_base: 10000.0,
            bias: false,
            offset: true,
            max_len: 8192,
            core: CoreKind::default(),
        }
    }

    /// Checks the widths and options.
    pub fn validate(&self) -> Result<()> {
        if [self.d, self.e, self.s, self.chunk, self.max_len].contains(&0) {
            return Err(Error::InvalidConfig(format!(
                "FLASH widths, chunk and max_len must be positive, got {self:?}"
            )));
        }
        let (norm, scale, gain) = (&self.local, &self.scale, None);
        validate_options(self.rope, self.s, self.rope_base, gain, norm, scale)
    }

    /// The attention part.
    pub fn attention(&self) -> Result<MixedChunkAttention> {
        Ok(MixedChunkAttention {
            chunk: self.chunk,
            local: attention_core(self.local, self.scale, self.s, self.core)?,
            global: self.global,
        })
    }
}

/// The four scale/offset pairs, in this order.
pub const PAIR_NAMES: [&str; 4] = ["q_quad", "k_quad", "q_lin", "k_lin"];

/// One scale/offset pair.
pub struct OffsetScale {
    pub gamma: Param,
    pub beta: Option<Param>,
}

/// The FLASH layer.
pub struct Flash {
    pub cfg: FlashConfig,
    pub proj_in: Linear,
    /// Scale/offset pairs in [`PAIR_NAMES`] order.
    pub pairs: [OffsetScale; 4],
    pub proj_out: Linear,
}

/// What [`Flash::forward`] keeps for the backward.
pub struct FlashCache {
    proj_in: SiluCache,
    v: Tensor,
    z: Tensor,
    /// Qq, Kq, Ql, Kl (rotated).
    qk: [Tensor; 4],
    att: MixedChunkCache,
    out: GatedCache,
    mask: Mask,
    x_shape: Vec<usize>,
}

fn gamma_name(i: usize) -> String {
    format!("gamma_{}", PAIR_NAMES[i])
}

fn beta_name(i: usize) -> String {
    format!("beta_{}", PAIR_NAMES[i])
}

impl Flash {
    /// A layer with truncated-normal weights of std `1/√fan_in`, γ = 1, β = 0, biases 0 (the
    /// paper's γ init is not stated, spec §9), on the CPU in `dtype`.
    pub fn new(cfg: FlashConfig, dtype: DType, seed: u64) -> Result<Flash> {
        cfg.validate()?;
        let (d, e, s) = (cfg.d, cfg.e, cfg.s);
        let init = |fan: usize| truncated(1.0, fan);
        let proj_in = Linear::with_init(d, 2 * e + s, cfg.bias, init(d), dtype, seed)?;
        let proj_out = Linear::with_init(e, d, cfg.bias, init(e), dtype, seed ^ 0x9e37_79b9)?;
        let pair = || -> Result<OffsetScale> {
            let (gamma, beta) = offset_scale_params(s, cfg.offset, dtype)?;
            Ok(OffsetScale { gamma, beta })
        };
        Ok(Flash {
            cfg,
            proj_in,
            pairs: [pair()?, pair()?, pair()?, pair()?],
            proj_out,
        })
    }

    fn rope_opts(&self) -> Option<RopeOpts> {
        rope_opts(self.cfg.rope, self.cfg.rope_base)
    }

    /// `O = FLASH(x)` for `x [b, n, d]` (or `[n, d]`) and the cache for the backward. Errors as
    /// [`crate::Gau::forward`].
    pub fn forward(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, FlashCache)> {
        let (d, e, s) = (self.cfg.d, self.cfg.e, self.cfg.s);
        let (proj_in, [u, v, z]) = input_projection(
            &self.proj_in,
            "Flash input",
            x,
            [d, self.cfg.max_len],
            [e, e, s],
        )?;
        let rope = self.rope_opts();
        let project = |p: &OffsetScale| scale_offset_rope(&z, &p.gamma, p.beta.as_ref(), &rope);
        let qk = [
            project(&self.pairs[0])?,
            project(&self.pairs[1])?,
            project(&self.pairs[2])?,
            project(&self.pairs[3])?,
        ];
        let att = self.cfg.attention()?;
        let (c, att_cache) = att.forward(&qk[0], &qk[1], &qk[2], &qk[3], &v, mask)?;
        let (o, out) = gated_output(&self.proj_out, u, c, x.shape())?;
        let cache = FlashCache {
            proj_in,
            v,
            z,
            qk,
            att: att_cache,
            out,
            mask: mask.clone(),
            x_shape: x.shape().to_vec(),
        };
        Ok((o, cache))
    }

    /// Backward for the cotangent `dy`: returns `dx` and hands every parameter's gradient to
    /// `sink` under its name.
    pub fn backward(
        &mut self,
        cache: FlashCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let (du, dc) = gated_output_backward(
            &mut self.proj_out,
            cache.out,
            dy,
            "Flash::backward: dy",
            sink,
        )?;
        let att = self.cfg.attention()?;
        let [qq, kq, ql, kl] = &cache.qk;
        let g = att.backward(qq, kq, ql, kl, &cache.v, &cache.mask, &cache.att, &dc)?;
        let rope = self.rope_opts();
        let mut dz: Option<Tensor> = None;
        for (i, d) in [g.dqq, g.dkq, g.dql, g.dkl].into_iter().enumerate() {
            let d = rope_maybe_backward(d, &rope)?;
            let pair = &mut self.pairs[i];
            let dzi = scale_offset_param_backward(
                &cache.z,
                &mut pair.gamma,
                pair.beta.as_mut(),
                &d,
                [&gamma_name(i), &beta_name(i)],
                sink,
            )?;
            dz = Some(match dz {
                None => dzi,
                Some(acc) => add_forward(&acc, &dzi)?,
            });
        }
        let dz = dz.expect("four pairs");
        input_projection_backward(
            &mut self.proj_in,
            cache.proj_in,
            &[&du, &g.dv, &dz],
            &cache.x_shape,
            sink,
        )
    }
}

impl Module for Flash {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        visit_linear(&self.proj_in, ["w_in", "b_in"], p, f);
        for (i, pair) in self.pairs.iter().enumerate() {
            let names = [&gamma_name(i), &beta_name(i)];
            visit_offset_scale(
                &pair.gamma,
                pair.beta.as_ref(),
                names.map(|n| n.as_str()),
                p,
                f,
            );
        }
        visit_linear(&self.proj_out, ["w_o", "b_o"], p, f);
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        visit_linear_mut(&mut self.proj_in, ["w_in", "b_in"], p, f);
        for (i, pair) in self.pairs.iter_mut().enumerate() {
            let names = [&gamma_name(i), &beta_name(i)];
            let names = names.map(|n| n.as_str());
            visit_offset_scale_mut(&mut pair.gamma, pair.beta.as_mut(), names, p, f);
        }
        visit_linear_mut(&mut self.proj_out, ["w_o", "b_o"], p, f);
    }
}
