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

use crate::core::{AttentionCore, CoreCache, CoreKind};
use crate::mask::Mask;
use crate::norm::{Normalization, ScoreScale};
use crate::ops::columns::{concat_last, split_last};
use crate::ops::scale_offset::{scale_offset_backward, scale_offset_forward};
use crate::{Error, Result};
use kernels::ops::add::add_forward;
use kernels::ops::mul::{mul_backward, mul_forward};
use kernels::ops::rope::{RopeLayout, RopeOpts, rope_backward, rope_forward};
use kernels::ops::silu::{silu_backward, silu_forward};
use kernels::{DType, Tensor};
use nn::{GradSink, Init, Linear, LinearCache, Module, Param, ParamRole, Prefix};

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
        if self.rope.is_some() && !self.s.is_multiple_of(2) {
            return Err(Error::OddRopeWidth { s: self.s });
        }
        if !(self.rope_base.is_finite() && self.rope_base > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "rope_base must be finite and > 0, got {}",
                self.rope_base
            )));
        }
        if !(self.init_gain.is_finite() && self.init_gain >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "init_gain must be finite and ≥ 0, got {}",
                self.init_gain
            )));
        }
        self.norm.validate()?;
        self.scale.resolve(self.s, &self.norm)?;
        Ok(())
    }

    fn rope_opts(&self) -> Option<RopeOpts> {
        self.rope.map(|layout| RopeOpts {
            base: self.rope_base,
            layout,
            offset: 0,
        })
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
    lin_in: LinearCache,
    h: Tensor,
    u: Tensor,
    v: Tensor,
    z: Tensor,
    q: Tensor,
    k: Tensor,
    c: Tensor,
    core: CoreCache,
    lin_out: LinearCache,
    mask: Mask,
    x_shape: Vec<usize>,
}

/// Passes `Linear`'s gradients (`w`, `b`) on under the GAU's names.
struct Renamed<'a> {
    inner: &'a mut dyn GradSink,
    w: &'static str,
    b: &'static str,
}

impl GradSink for Renamed<'_> {
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> nn::Result<()> {
        let name = if name == "w" { self.w } else { self.b };
        self.inner.accept(name, param, grad)
    }
}

fn truncated(gain: f64, fan_in: usize) -> Init {
    // Keras' truncated normal at ±2σ has std 0.87962566·σ; 1.13684723 undoes that (spec §2.5).
    Init::TruncatedNormal {
        std: 1.13684723 * gain / (fan_in as f64).sqrt(),
    }
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
        let ones = || -> Result<Param> {
            Ok(Param::new(
                Init::Ones.tensor(&[s], dtype, 0)?,
                ParamRole::Gain,
            ))
        };
        let zeros = || -> Result<Option<Param>> {
            cfg.offset
                .then(|| {
                    Ok(Param::new(
                        Init::Zeros.tensor(&[s], dtype, 0)?,
                        ParamRole::Bias,
                    ))
                })
                .transpose()
        };
        Ok(Gau {
            cfg,
            proj_in,
            gamma_q: ones()?,
            beta_q: zeros()?,
            gamma_k: ones()?,
            beta_k: zeros()?,
            proj_out,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GauConfig {
        &self.cfg
    }

    fn core(&self) -> Result<AttentionCore> {
        Ok(AttentionCore {
            norm: self.cfg.norm,
            scale: self.cfg.scale.resolve(self.cfg.s, &self.cfg.norm)?,
            kind: self.cfg.core,
        })
    }

    /// Checks `x` is `[b, n, d]` or `[n, d]` with `n ≤ max_len`; returns `(b, n)`.
    fn check_input(&self, x: &Tensor) -> Result<(usize, usize)> {
        let (b, n, d) = match *x.shape() {
            [n, d] => (1, n, d),
            [b, n, d] => (b, n, d),
            _ => {
                return Err(kernels::Error::invalid_shape(
                    "Gau::forward",
                    x.shape(),
                    "x must be [batch, n, d] or [n, d]",
                )
                .into());
            }
        };
        if d != self.cfg.d {
            return Err(Error::WidthMismatch {
                what: "Gau input",
                expected: self.cfg.d,
                got: d,
            });
        }
        if n > self.cfg.max_len {
            return Err(Error::TooLong {
                n,
                max: self.cfg.max_len,
            });
        }
        if b == 0 || n == 0 {
            return Err(kernels::Error::invalid_shape(
                "Gau::forward",
                x.shape(),
                "batch and length must be positive",
            )
            .into());
        }
        Ok((b, n))
    }

    /// `(H, U, V, Z, Q, K)` for `x`, and the input projection's cache.
    #[allow(clippy::type_complexity)]
    fn project(&self, x: &Tensor) -> Result<(LinearCache, [Tensor; 6])> {
        let (b, n) = self.check_input(x)?;
        let x3 = x.try_clone()?.reshape(&[b, n, self.cfg.d])?;
        let (h, lin_in) = self.proj_in.forward(&x3)?;
        let g = silu_forward(&h)?;
        let e = self.cfg.e;
        let mut parts = split_last(&g, &[e, e, self.cfg.s])?.into_iter();
        let (u, v, z) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        fn beta(p: &Option<Param>) -> Option<&Tensor> {
            p.as_ref().map(|p| &p.value)
        }
        let mut q = scale_offset_forward(&z, &self.gamma_q.value, beta(&self.beta_q))?;
        let mut k = scale_offset_forward(&z, &self.gamma_k.value, beta(&self.beta_k))?;
        if let Some(opts) = self.cfg.rope_opts() {
            q = rope_forward(&q, &opts)?;
            k = rope_forward(&k, &opts)?;
        }
        Ok((lin_in, [h, u, v, z, q, k]))
    }

    /// The rotated queries and keys `(Q, K)`, each `[b, n, s]`, for `x` (for inspection and
    /// the RoPE-layout converter's test).
    pub fn queries_keys(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, [_, _, _, _, q, k]) = self.project(x)?;
        Ok((q, k))
    }

    /// `O = GAU(x)` for `x [b, n, d]` (or `[n, d]`), and the cache for the backward.
    ///
    /// Errors: [`Error::WidthMismatch`] when the last axis is not `d`, [`Error::TooLong`] when
    /// `n > max_len`, [`Error::MaskLength`] for masks that do not fit `(b, n)`, and kernel
    /// errors for mixed dtypes or devices.
    pub fn forward(&self, x: &Tensor, mask: &Mask) -> Result<(Tensor, GauCache)> {
        let (lin_in, [h, u, v, z, q, k]) = self.project(x)?;
        let (c, core) = self.core()?.forward(&q, &k, &v, mask)?;
        let p = mul_forward(&u, &c)?;
        let (o, lin_out) = self.proj_out.forward(&p)?;
        let o = o.reshape(x.shape())?;
        let cache = GauCache {
            lin_in,
            h,
            u,
            v,
            z,
            q,
            k,
            c,
            core,
            lin_out,
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
        if dy.shape() != cache.x_shape.as_slice() {
            return Err(Error::ShapeMismatch {
                what: "Gau::backward: dy",
                expected: cache.x_shape.clone(),
                got: dy.shape().to_vec(),
            });
        }
        let u_shape = cache.u.shape().to_vec();
        let dy3 = dy
            .try_clone()?
            .reshape(&[u_shape[0], u_shape[1], self.cfg.d])?;
        let mut out_sink = Renamed {
            inner: sink,
            w: "w_o",
            b: "b_o",
        };
        let dp = self.proj_out.backward(cache.lin_out, &dy3, &mut out_sink)?;
        let (du, dc) = mul_backward(&cache.u, &cache.c, &dp)?;
        let core = self.core()?;
        let g = core.backward(&cache.q, &cache.k, &cache.v, &cache.mask, &cache.core, &dc)?;
        let (mut dq, mut dk) = (g.dq, g.dk);
        if let Some(opts) = self.cfg.rope_opts() {
            dq = rope_backward(&dq, &opts)?;
            dk = rope_backward(&dk, &opts)?;
        }
        let (dzq, dgq, dbq) =
            scale_offset_backward(&cache.z, &self.gamma_q.value, &dq, self.beta_q.is_some())?;
        let (dzk, dgk, dbk) =
            scale_offset_backward(&cache.z, &self.gamma_k.value, &dk, self.beta_k.is_some())?;
        sink.accept("gamma_q", &mut self.gamma_q, dgq)?;
        if let (Some(p), Some(g)) = (self.beta_q.as_mut(), dbq) {
            sink.accept("beta_q", p, g)?;
        }
        sink.accept("gamma_k", &mut self.gamma_k, dgk)?;
        if let (Some(p), Some(g)) = (self.beta_k.as_mut(), dbk) {
            sink.accept("beta_k", p, g)?;
        }
        let dz = add_forward(&dzq, &dzk)?;
        let dg = concat_last(&[&du, &g.dv, &dz])?;
        let dh = silu_backward(&cache.h, &dg)?;
        let mut in_sink = Renamed {
            inner: sink,
            w: "w_in",
            b: "b_in",
        };
        let dx = self.proj_in.backward(cache.lin_in, &dh, &mut in_sink)?;
        Ok(dx.reshape(&cache.x_shape)?)
    }
}

impl Module for Gau {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("w_in"), &self.proj_in.w);
        if let Some(b) = &self.proj_in.b {
            f(&p.join("b_in"), b);
        }
        f(&p.join("gamma_q"), &self.gamma_q);
        if let Some(b) = &self.beta_q {
            f(&p.join("beta_q"), b);
        }
        f(&p.join("gamma_k"), &self.gamma_k);
        if let Some(b) = &self.beta_k {
            f(&p.join("beta_k"), b);
        }
        f(&p.join("w_o"), &self.proj_out.w);
        if let Some(b) = &self.proj_out.b {
            f(&p.join("b_o"), b);
        }
    }

    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("w_in"), &mut self.proj_in.w);
        if let Some(b) = &mut self.proj_in.b {
            f(&p.join("b_in"), b);
        }
        f(&p.join("gamma_q"), &mut self.gamma_q);
        if let Some(b) = &mut self.beta_q {
            f(&p.join("beta_q"), b);
        }
        f(&p.join("gamma_k"), &mut self.gamma_k);
        if let Some(b) = &mut self.beta_k {
            f(&p.join("beta_k"), b);
        }
        f(&p.join("w_o"), &mut self.proj_out.w);
        if let Some(b) = &mut self.proj_out.b {
            f(&p.join("b_o"), b);
        }
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
