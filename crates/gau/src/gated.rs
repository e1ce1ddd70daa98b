//! The pieces the GAU ([`crate::Gau`]), FLASH ([`crate::Flash`]) and cross-attention
//! ([`crate::GauCross`]) layers share (spec/gau.md §2.1, §2.4b, §3, §5):
//!
//! ```text
//! input:   G = SiLU(X W + b), split into column groups      (one fused GEMM)
//! output:  O = (U ⊙ C) W_o + b_o
//! ```
//!
//! Backward: `dP = dO W_oᵀ`, `dW_o = Pᵀ dO`, `db_o = Σ_rows dO` (P = U ⊙ C), `dU = dP ⊙ C`,
//! `dC = dP ⊙ U`; for the input, `dH = [dG₁ | … | dG_k] ⊙ SiLU'(H)` with
//! `SiLU'(h) = σ(h)(1 + h(1 − σ(h)))`, then `dW = Xᵀ dH`, `db = Σ_rows dH`, `dX = dH Wᵀ`.
//! Plus the input check, the options check, RoPE on or off, the truncated-normal init, the
//! per-dimension scale/offset pairs `γ ⊙ Z + β` on the shared `Z`, and the naming of a
//! `Linear`'s `w`/`b` under the layer's own parameter names.

use crate::core::{AttentionCore, CoreKind};
use crate::norm::{Normalization, ScoreScale};
use crate::ops::columns::{concat_last, split_last};
use crate::ops::scale_offset::{scale_offset_backward, scale_offset_forward};
use crate::{Error, Result};
use kernels::ops::mul::{mul_backward, mul_forward};
use kernels::ops::rope::{RopeLayout, RopeOpts, rope_backward, rope_forward};
use kernels::ops::silu::{silu_backward, silu_forward};
use kernels::{DType, Tensor};
use nn::{GradSink, Init, Linear, LinearCache, Param, ParamRole, Prefix};

/// Passes a `Linear`'s gradients (`w`, `b`) on under the layer's names.
pub(crate) struct Renamed<'a> {
    pub inner: &'a mut dyn GradSink,
    pub w: &'static str,
    pub b: &'static str,
}

impl GradSink for Renamed<'_> {
    fn accept(&mut self, name: &str, param: &mut Param, grad: Tensor) -> nn::Result<()> {
        let name = if name == "w" { self.w } else { self.b };
        self.inner.accept(name, param, grad)
    }
}

/// Visits a `Linear`'s weight and optional bias as `w` and `b` under `p`.
pub(crate) fn visit_linear<'a>(
    lin: &'a Linear,
    [w, b]: [&str; 2],
    p: &Prefix,
    f: &mut dyn FnMut(&str, &'a Param),
) {
    f(&p.join(w), &lin.w);
    if let Some(bias) = &lin.b {
        f(&p.join(b), bias);
    }
}

/// [`visit_linear`], mutably.
pub(crate) fn visit_linear_mut(
    lin: &mut Linear,
    [w, b]: [&str; 2],
    p: &Prefix,
    f: &mut dyn FnMut(&str, &mut Param),
) {
    f(&p.join(w), &mut lin.w);
    if let Some(bias) = &mut lin.b {
        f(&p.join(b), bias);
    }
}

/// GAU-α's weight init: a normal truncated at ±2σ whose effective std is `gain / √fan_in`.
/// Keras' truncated normal at ±2σ has std 0.87962566·σ; 1.13684723 undoes that (spec §2.5).
pub(crate) fn truncated(gain: f64, fan_in: usize) -> Init {
    Init::TruncatedNormal {
        std: 1.13684723 * gain / (fan_in as f64).sqrt(),
    }
}

/// Checks `x` is `[b, n, d]` or `[n, d]` with `b, n > 0` and `n ≤ max_len`; returns `(b, n)`.
/// `what` names the tensor in the error ([`Error::WidthMismatch`], [`Error::TooLong`] or a
/// kernel shape error).
pub(crate) fn check_input(
    what: &'static str,
    x: &Tensor,
    d: usize,
    max_len: usize,
) -> Result<(usize, usize)> {
    let (b, n, width) = match *x.shape() {
        [n, w] => (1, n, w),
        [b, n, w] => (b, n, w),
        _ => {
            return Err(kernels::Error::invalid_shape(
                what,
                x.shape(),
                "must be [batch, n, width] or [n, width]",
            )
            .into());
        }
    };
    if width != d {
        return Err(Error::WidthMismatch {
            what,
            expected: d,
            got: width,
        });
    }
    if n > max_len {
        return Err(Error::TooLong { n, max: max_len });
    }
    if b == 0 || n == 0 {
        return Err(kernels::Error::invalid_shape(
            what,
            x.shape(),
            "batch and length must be positive",
        )
        .into());
    }
    Ok((b, n))
}

/// Checks that the cotangent has the forward output's shape.
fn check_cotangent(what: &'static str, dy: &Tensor, want: &[usize]) -> Result<()> {
    if dy.shape() != want {
        return Err(Error::ShapeMismatch {
            what,
            expected: want.to_vec(),
            got: dy.shape().to_vec(),
        });
    }
    Ok(())
}

/// Checks the options the layers share, in this order: RoPE ([`validate_rope`]), the init gain
/// (finite, ≥ 0; where the layer has one), the normalisation, and the score scale at width `s`.
pub(crate) fn validate_options(
    rope: Option<RopeLayout>,
    s: usize,
    rope_base: f64,
    init_gain: Option<f64>,
    norm: &Normalization,
    scale: &ScoreScale,
) -> Result<()> {
    validate_rope(rope, s, rope_base)?;
    if let Some(gain) = init_gain
        && !(gain.is_finite() && gain >= 0.0)
    {
        return Err(Error::InvalidConfig(format!(
            "init_gain must be finite and ≥ 0, got {gain}"
        )));
    }
    norm.validate()?;
    scale.resolve(s, norm)?;
    Ok(())
}

/// The attention core of a layer: `norm` at the score scale `scale` resolved for width `s`.
pub(crate) fn attention_core(
    norm: Normalization,
    scale: ScoreScale,
    s: usize,
    kind: CoreKind,
) -> Result<AttentionCore> {
    Ok(AttentionCore {
        norm,
        scale: scale.resolve(s, &norm)?,
        kind,
    })
}

/// Checks the RoPE options of a config: an even width `s` when RoPE is on, a finite base > 0.
pub(crate) fn validate_rope(rope: Option<RopeLayout>, s: usize, base: f64) -> Result<()> {
    if rope.is_some() && !s.is_multiple_of(2) {
        return Err(Error::OddRopeWidth { s });
    }
    if !(base.is_finite() && base > 0.0) {
        return Err(Error::InvalidConfig(format!(
            "rope_base must be finite and > 0, got {base}"
        )));
    }
    Ok(())
}

/// RoPE options at positions `0 … n−1`, or `None` when RoPE is off.
pub(crate) fn rope_opts(rope: Option<RopeLayout>, base: f64) -> Option<RopeOpts> {
    rope.map(|layout| RopeOpts {
        base,
        layout,
        offset: 0,
    })
}

/// `RoPE(t)`, or `t` when RoPE is off.
pub(crate) fn rope_maybe(t: Tensor, opts: &Option<RopeOpts>) -> Result<Tensor> {
    match opts {
        Some(o) => Ok(rope_forward(&t, o)?),
        None => Ok(t),
    }
}

/// `RoPE_{−θ}(dt)` (RoPE's backward), or `dt` when RoPE is off.
pub(crate) fn rope_maybe_backward(dt: Tensor, opts: &Option<RopeOpts>) -> Result<Tensor> {
    match opts {
        Some(o) => Ok(rope_backward(&dt, o)?),
        None => Ok(dt),
    }
}

/// The input projection of the GAU and FLASH layers: checks `x` against width `d` and `max_len`
/// ([`check_input`], `what` names it), then `G = SiLU(x W_in + b_in)` on `x` as `[b, n, d]`, split into groups of `widths`.
pub(crate) fn input_projection<const K: usize>(
    proj_in: &Linear,
    what: &'static str,
    x: &Tensor,
    [d, max_len]: [usize; 2],
    widths: [usize; K],
) -> Result<(SiluCache, [Tensor; K])> {
    let (b, n) = check_input(what, x, d, max_len)?;
    let x3 = x.try_clone()?.reshape(&[b, n, d])?;
    silu_projection(proj_in, &x3, widths)
}

/// Backward of the input projection (`w_in`, `b_in`): [`silu_projection_backward`], with `dx`
/// reshaped to the layer input's shape `x_shape`.
pub(crate) fn input_projection_backward(
    proj_in: &mut Linear,
    cache: SiluCache,
    dparts: &[&Tensor],
    x_shape: &[usize],
    sink: &mut dyn GradSink,
) -> Result<Tensor> {
    let dx = silu_projection_backward(proj_in, cache, dparts, ["w_in", "b_in"], sink)?;
    Ok(dx.reshape(x_shape)?)
}

/// What [`silu_projection`] keeps: the linear cache and the pre-activation `H`.
pub(crate) struct SiluCache {
    pub lin: LinearCache,
    pub h: Tensor,
}

/// `G = SiLU(x W + b)` for `x [.., in]`, split into `K` column groups of `widths`.
pub(crate) fn silu_projection<const K: usize>(
    proj: &Linear,
    x: &Tensor,
    widths: [usize; K],
) -> Result<(SiluCache, [Tensor; K])> {
    let (h, lin) = proj.forward(x)?;
    let g = silu_forward(&h)?;
    let parts: [Tensor; K] = split_last(&g, &widths)?
        .try_into()
        .unwrap_or_else(|_| unreachable!("split_last returns one part per width"));
    Ok((SiluCache { lin, h }, parts))
}

/// Backward of [`silu_projection`] for the part gradients `dparts` (same order): returns `dx`
/// and hands `dW`, `db` to `sink` as `names = [w, b]`.
pub(crate) fn silu_projection_backward(
    proj: &mut Linear,
    cache: SiluCache,
    dparts: &[&Tensor],
    [w, b]: [&'static str; 2],
    sink: &mut dyn GradSink,
) -> Result<Tensor> {
    let dg = match dparts {
        [one] => (*one).try_clone()?,
        _ => concat_last(dparts)?,
    };
    let dh = silu_backward(&cache.h, &dg)?;
    let mut renamed = Renamed { inner: sink, w, b };
    Ok(proj.backward(cache.lin, &dh, &mut renamed)?)
}

/// What [`gated_output`] keeps for its backward.
pub(crate) struct GatedCache {
    lin: LinearCache,
    u: Tensor,
    c: Tensor,
    out_shape: Vec<usize>,
}

/// `O = (U ⊙ C) W_o + b_o` for `U, C [b, n, e]`, reshaped to `out_shape` (the layer input's
/// shape), and the cache for [`gated_output_backward`].
pub(crate) fn gated_output(
    proj: &Linear,
    u: Tensor,
    c: Tensor,
    out_shape: &[usize],
) -> Result<(Tensor, GatedCache)> {
    let (o, lin) = proj.forward(&mul_forward(&u, &c)?)?;
    let cache = GatedCache {
        lin,
        u,
        c,
        out_shape: out_shape.to_vec(),
    };
    Ok((o.reshape(out_shape)?, cache))
}

/// Backward of [`gated_output`] for the cotangent `dy` (shaped like the output; else
/// [`Error::ShapeMismatch`] naming `what`): returns `(dU, dC)` and hands `dW_o`, `db_o` to
/// `sink` as `w_o`, `b_o`.
pub(crate) fn gated_output_backward(
    proj: &mut Linear,
    cache: GatedCache,
    dy: &Tensor,
    what: &'static str,
    sink: &mut dyn GradSink,
) -> Result<(Tensor, Tensor)> {
    check_cotangent(what, dy, &cache.out_shape)?;
    let (b, n) = (cache.u.shape()[0], cache.u.shape()[1]);
    let dy3 = dy.try_clone()?.reshape(&[b, n, proj.out_dim()])?;
    let mut renamed = Renamed {
        inner: sink,
        w: "w_o",
        b: "b_o",
    };
    let dp = proj.backward(cache.lin, &dy3, &mut renamed)?;
    Ok(mul_backward(&cache.u, &cache.c, &dp)?)
}

/// A fresh scale/offset pair of width `s`: `γ = 1` (a gain) and, with `offset`, `β = 0` (a bias).
pub(crate) fn offset_scale_params(
    s: usize,
    offset: bool,
    dtype: DType,
) -> Result<(Param, Option<Param>)> {
    let gamma = Param::new(Init::Ones.tensor(&[s], dtype, 0)?, ParamRole::Gain);
    let beta = offset
        .then(|| -> Result<Param> {
            Ok(Param::new(
                Init::Zeros.tensor(&[s], dtype, 0)?,
                ParamRole::Bias,
            ))
        })
        .transpose()?;
    Ok((gamma, beta))
}

/// `RoPE(γ ⊙ z + β)` (no `β` when `beta` is `None`, no RoPE when `rope` is `None`).
pub(crate) fn scale_offset_rope(
    z: &Tensor,
    gamma: &Param,
    beta: Option<&Param>,
    rope: &Option<RopeOpts>,
) -> Result<Tensor> {
    let y = scale_offset_forward(z, &gamma.value, beta.map(|b| &b.value))?;
    rope_maybe(y, rope)
}

/// Visits a scale/offset pair as `names = [γ, β]` under `p` (β only where it exists).
pub(crate) fn visit_offset_scale<'a>(
    gamma: &'a Param,
    beta: Option<&'a Param>,
    [g, b]: [&str; 2],
    p: &Prefix,
    f: &mut dyn FnMut(&str, &'a Param),
) {
    f(&p.join(g), gamma);
    if let Some(beta) = beta {
        f(&p.join(b), beta);
    }
}

/// [`visit_offset_scale`], mutably.
pub(crate) fn visit_offset_scale_mut(
    gamma: &mut Param,
    beta: Option<&mut Param>,
    [g, b]: [&str; 2],
    p: &Prefix,
    f: &mut dyn FnMut(&str, &mut Param),
) {
    f(&p.join(g), gamma);
    if let Some(beta) = beta {
        f(&p.join(b), beta);
    }
}

/// Backward of one per-dimension scale/offset `q = γ ⊙ z + β` (spec §2.1) for the cotangent
/// `dq`: hands `dγ = Σ dq ⊙ z` and, when β exists, `dβ = Σ dq` to `sink` under `names` (in that
/// order) and returns `dz = γ ⊙ dq`.
pub(crate) fn scale_offset_param_backward(
    z: &Tensor,
    gamma: &mut Param,
    beta: Option<&mut Param>,
    dq: &Tensor,
    [gamma_name, beta_name]: [&str; 2],
    sink: &mut dyn GradSink,
) -> Result<Tensor> {
    let (dz, dgamma, dbeta) = scale_offset_backward(z, &gamma.value, dq, beta.is_some())?;
    sink.accept(gamma_name, gamma, dgamma)?;
    if let (Some(p), Some(g)) = (beta, dbeta) {
        sink.accept(beta_name, p, g)?;
    }
    Ok(dz)
}
