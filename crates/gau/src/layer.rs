//! The quadratic GAU layer (spec/gau.md §2.1):
//!
//! ```text
//! H  = X W_in + b_in          W_in: d × (2e+s), one fused GEMM, columns [U | V | Z]
//! G  = SiLU(H);  U = G[:, :e],  V = G[:, e:2e],  Z = G[:, 2e:]
//! Q  = RoPE(Z ⊙ γ_q + β_q),  K = RoPE(Z ⊙ γ_k + β_k)
//! C  = Normalise(c·QKᵀ, mask) · V          (the attention core)
//! O  = (U ⊙ C) W_o + b_o      W_o: e × d
//! ```
//!
//! Backward (spec §5), from `dO`: `dP = dO W_oᵀ`, `dW_o = Pᵀ dO`, `db_o = Σ dO` (P = U ⊙ C);
//! `dU = dP ⊙ C`, `dC = dP ⊙ U`; the core gives `dQ, dK, dV`; `dQ~ = RoPE_{−θ}(dQ)` (same
//! for K); `dγ_q = Σ_rows dQ~ ⊙ Z`, `dβ_q = Σ_rows dQ~` (same for k), `dZ = dQ~ ⊙ γ_q + dK~ ⊙ γ_k`;
//! `dH = [dU | dV | dZ] ⊙ SiLU'(H)`; `dW_in = Xᵀ dH`, `db_in = Σ dH`, `dX = dH W_inᵀ`.
//!
//! Parameter names: `w_in [d, 2e+s]`, `b_in [2e+s]` (with `bias`), `gamma_q [s]`,
//! `beta_q [s]` (with `offset`), `gamma_k`, `beta_k`, `w_o [e, d]`, `b_o [d]` (with `bias`).

use crate::core::{AttentionCore, AttentionDropout, CoreCache, CoreKind};
use crate::gated::{
    GatedCache, SiluCache, attention_core, gated_output, gated_output_backward, input_projection,
    input_projection_backward, offset_scale_params, rope_maybe_backward, rope_opts,
    scale_offset_param_backward, scale_offset_rope, truncated, validate_options, visit_linear,
    visit_linear_mut, visit_offset_scale, visit_offset_scale_mut,
};
use crate::mask::Mask;
use crate::norm::{Normalization, ScoreScale};
use crate::{Error, Result};
use kernels::ops::add::add_forward;
use kernels::ops::rope::{RopeLayout, RopeOpts};
use kernels::{DType, Tensor};
use nn::{GradSink, Linear, Module, Param, Prefix};

/// Configuration of a [`Gau`] layer. [`GauConfig::new`] gives the defaults below.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GauConfig {
    /// Model width `d`.
    pub d: usize,
    /// Expanded width `e` of U and V (GAU-α: `2d`).
    pub e: usize,
    /// Shared query/key width `s` (GAU-α: 128).
    pub s: usize,
    /// Normalisation. Default `SoftmaxPlus { floor: 16 }` (spec §2.3).
    pub norm: Normalization,
    /// Score scale. Default [`ScoreScale::Auto`] (`1/√s`; 1 for `Relu2Paper`).
    pub scale: ScoreScale,
    /// RoPE layout, or `None` for no RoPE. Default interleaved (GAU-α).
    pub rope: Option<RopeLayout>,
    /// RoPE frequency base. Default 10000.
    pub rope_base: f64,
    /// Biases `b_in`, `b_o`. Default off (GAU-α: `use_bias=False`).
    pub bias: bool,
    /// Offsets `β_q`, `β_k`. Default off (GAU-α has only the scales γ).
    pub offset: bool,
    /// Longest sequence accepted. Default 512 (GAU-α's pre-training length).
    pub max_len: usize,
    /// Attention core implementation. Default fused.
    pub core: CoreKind,
    /// Weights are drawn from a normal truncated at ±2σ whose effective standard deviation is
    /// `init_gain / √fan_in` (GAU-α: `init_gain = L^(−1/3)`, L = 24 layers, spec §2.5).
    /// Default 1.
    pub init_gain: f64,
}

impl GauConfig {
    /// The defaults (GAU-α's choices except the floor, which is the spec's default for new
    /// training) at widths `d`, `e`, `s`.
    pub fn new(d: usize, e: usize, s: usize) -> GauConfig {
        GauConfig {
            d,
            e,
            s,
            norm: Normalization::default(),
            scale: ScoreScale::Auto,
            rope: Some(RopeLayout::Interleaved),
            rope_base: 10000.0,
            bias: false,
            offset: false,
            max_len: 512,
            core: CoreKind::default(),
            init_gain: 1.0,
        }
    }

    /// Checks the widths and options.
    pub fn validate(&self) -> Result<()> {
        if self.d == 0 || self.e == 0 || self.s == 0 || self.max_len == 0 {
            return Err(Error::InvalidConfig(format!(
                "GAU widths and max_len must be positive, got d={}, e={}, s={}, max_len={}",
                self.d, self.e, self.s, self.max_len
            )));
        }
        let (norm, scale, gain) = (&self.norm, &self.scale, Some(self.init_gain));
        validate_options(self.rope, self.s, self.rope_base, gain, norm, scale)
    }

    fn rope_opts(&self) -> Option<RopeOpts> {
        rope_opts(self.rope, self.rope_base)
    }
}

/// The GAU layer: parameters and configuration.
pub struct Gau {
    pub(crate) cfg: GauConfig,
    pub(crate) proj_in: Linear,
    pub(crate) gamma_q: Param,
    pub(crate) beta_q: Option<Param>,
    pub(crate) gamma_k: Param,
    pub(crate) beta_k: Option<Param>,
    pub(crate) proj_out: Linear,
}

/// What [`Gau::forward`] keeps for the backward.
pub struct GauCache {
    proj_in: SiluCache,
    v: Tensor,
    z: Tensor,
    q: Tensor,
    k: Tensor,
    core: CoreCache,
    out: GatedCache,
    mask: Mask,
    x_shape: Vec<usize>,
}

impl Gau {
    /// A layer with GAU-α's initialisation (see [`GauConfig::init_gain`]; γ = 1, β = 0, biases
    /// 0), on the CPU in `dtype`, drawn from `seed`.
    pub fn new(cfg: GauConfig, dtype: DType, seed: u64) -> Result<Gau> {
        cfg.validate()?;
        let (d, e, s) = (cfg.d, cfg.e, cfg.s);
        let proj_in = Linear::with_init(
            d,
            2 * e + s,
            cfg.bias,
            truncated(cfg.init_gain, d),
            dtype,
            seed,
        )?;
        let proj_out = Linear::with_init(
            e,
            d,
            cfg.bias,
            truncated(cfg.init_gain, e),
            dtype,
            seed ^ 0x9e37_79b9,
        )?;
        let (gamma_q, beta_q) = offset_scale_params(s, cfg.offset, dtype)?;
        let (gamma_k, beta_k) = offset_scale_params(s, cfg.offset, dtype)?;
        Ok(Gau {
            cfg,
            proj_in,
            gamma_q,
            beta_q,
            gamma_k,
            beta_k,
            proj_out,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GauConfig {
        &self.cfg
    }

    fn core(&self) -> Result<AttentionCore> {
        attention_core(self.cfg.norm, self.cfg.scale, self.cfg.s, self.cfg.core)
    }

    /// `(U, V, Z, Q, K)` for `x`, and the input projection's cache (with `H`).
    fn project(&self, x: &Tensor) -> Result<(SiluCache, [Tensor; 5])> {
        let (d, e, s) = (self.cfg.d, self.cfg.e, self.cfg.s);
        let (proj_in, [u, v, z]) = input_projection(
            &self.proj_in,
            "Gau input",
            x,
            [d, self.cfg.max_len],
            [e, e, s],
        )?;
        let rope = self.cfg.rope_opts();
        let q = scale_offset_rope(&z, &self.gamma_q, self.beta_q.as_ref(), &rope)?;
        let k = scale_offset_rope(&z, &self.gamma_k, self.beta_k.as_ref(), &rope)?;
        Ok((proj_in, [u, v, z, q, k]))
    }

    /// The rotated queries and keys `(Q, K)`, each `[b, n, s]`, for `x` (for inspection and
    /// the RoPE-layout converter's test).
    pub fn queries_keys(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, [_, _, _, q, k]) = self.project(x)?;
        Ok((q, k))
    }

    /// `O = GAU(x)` for `x [b, n, d]` (or `[n, d]`), and the cache for the backward.
    ///
    /// Errors: [`Error::WidthMismatch`] when the last axis is not `d`, [`Error::TooLong`] when
    /// `n > max_len`, [`Error::MaskLength`] for masks that do not fit `(b, n)`, and kernel
    /// errors for mixed dtypes or devices.
    pub fn forward(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, GauCache)> {
        self.forward_with_dropout(x, mask, AttentionDropout::NONE)
    }

    /// [`Gau::forward`] with dropout on the normalised attention `A` inside the core
    /// (`C = (A ⊙ M/(1−p))·V`, the mask regenerated by the backward; see
    /// [`crate::core::AttentionDropout`]). GAU-α trains with `p = 0.1`.
    pub fn forward_with_dropout(
        &self,
        x: &Tensor,
        mask: &Mask,
        dropout: AttentionDropout,
    ) -> Result<(Tensor, GauCache)> {
        let (proj_in, [u, v, z, q, k]) = self.project(x)?;
        let (c, core) = self
            .core()?
            .forward_with_dropout(&q, &k, &v, mask, dropout)?;
        let (o, out) = gated_output(&self.proj_out, u, c, x.shape())?;
        let cache = GauCache {
            proj_in,
            v,
            z,
            q,
            k,
            core,
            out,
            mask: mask.clone(),
            x_shape: x.shape().to_vec(),
        };
        Ok((o, cache))
    }

    /// Backward for the cotangent `dy` (shaped like the forward's output): returns `dx` and
    /// hands every parameter's gradient to `sink` under its name (module docs).
    pub fn backward(
        &mut self,
        cache: GauCache,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Tensor> {
        let (du, dc) =
            gated_output_backward(&mut self.proj_out, cache.out, dy, "Gau::backward: dy", sink)?;
        let core = self.core()?;
        let g = core.backward(&cache.q, &cache.k, &cache.v, &cache.mask, &cache.core, &dc)?;
        let rope = self.cfg.rope_opts();
        let dq = rope_maybe_backward(g.dq, &rope)?;
        let dk = rope_maybe_backward(g.dk, &rope)?;
        let dzq = scale_offset_param_backward(
            &cache.z,
            &mut self.gamma_q,
            self.beta_q.as_mut(),
            &dq,
            ["gamma_q", "beta_q"],
            sink,
        )?;
        let dzk = scale_offset_param_backward(
            &cache.z,
            &mut self.gamma_k,
            self.beta_k.as_mut(),
            &dk,
            ["gamma_k", "beta_k"],
            sink,
        )?;
        let dz = add_forward(&dzq, &dzk)?;
        input_projection_backward(
            &mut self.proj_in,
            cache.proj_in,
            &[&du, &g.dv, &dz],
            &cache.x_shape,
            sink,
        )
    }
}

impl Module for Gau {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        visit_linear(&self.proj_in, ["w_in", "b_in"], p, f);
        let q_names = ["gamma_q", "beta_q"];
        visit_offset_scale(&self.gamma_q, self.beta_q.as_ref(), q_names, p, f);
        let k_names = ["gamma_k", "beta_k"];
        visit_offset_scale(&self.gamma_k, self.beta_k.as_ref(), k_names, p, f);
        visit_linear(&self.proj_out, ["w_o", "b_o"], p, f);
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        visit_linear_mut(&mut self.proj_in, ["w_in", "b_in"], p, f);
        let q_names = ["gamma_q", "beta_q"];
        visit_offset_scale_mut(&mut self.gamma_q, self.beta_q.as_mut(), q_names, p, f);
        let k_names = ["gamma_k", "beta_k"];
        visit_offset_scale_mut(&mut self.gamma_k, self.beta_k.as_mut(), k_names, p, f);
        visit_linear_mut(&mut self.proj_out, ["w_o", "b_o"], p, f);
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
