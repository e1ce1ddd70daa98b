//! Mixed chunk attention (spec/gau.md §3): `C = Ĉ^quad + Ĉ^lin` for self-attention over `n`
//! tokens split into `G = ⌈n/c⌉` chunks of `c` (the last one padded with masked zero rows).
//!
//! * **local**: the [`AttentionCore`] run on the chunks as a batch of `b·G` sequences of length
//!   `c`, with the key padding of each chunk (padded tail and the caller's key padding) and the
//!   caller's causal flag (lower-triangular inside the chunk). Any [`crate::Normalization`] can
//!   be used; lengths (`l_i`, `n_k`, the valid count) are those of the chunk, so
//!   `Relu2Paper { denom: PaddedLen }` at scale 1 is `relu(q·k/c)²`, flash-pytorch's local term.
//! * **global**: linear attention across chunks (see [`GlobalDenom`]), non-causal over
//!   all chunks or causal over the preceding ones, normalised per [`GlobalDenom`].
//!
//! Backward: the core's backward on the chunks for `(dQq, dKq, dV_local)` and the global
//! backward (module docs of `flash`) for `(dQl, dKl, dV_global)`; `dV` is their sum.

use super::global::{self, GlobalDenom, GlobalShape};
use crate::core::{AttentionCore, CoreCache};
use crate::mask::{KeyPadding, Mask};
use crate::{Error, Result};
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

/// Mixed chunk attention: chunk size, local core, global normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixedChunkAttention {
    /// Chunk size `c` (> 0).
    pub chunk: usize,
    /// The quadratic attention inside each chunk.
    pub local: AttentionCore,
    /// `ν_g` of the causal global term.
    pub global: GlobalDenom,
}

/// What the forward keeps: the chunked (padded) local inputs and the local core's cache.
pub struct MixedChunkCache {
    qq: Tensor,
    kq: Tensor,
    v: Tensor,
    local_mask: Mask,
    local: CoreCache,
}

/// Gradients of the five inputs.
pub struct MixedChunkGrads {
    pub dqq: Tensor,
    pub dkq: Tensor,
    pub dql: Tensor,
    pub dkl: Tensor,
    pub dv: Tensor,
}

/// What the forward and backward know once their inputs are checked: the mask, which of the
/// `b·n` keys are real ([`key_validity`]) and `[b, n, s, e]` ([`dims`]).
struct Checked<'a> {
    mask: &'a Mask,
    real: Vec<bool>,
    dims: [usize; 4],
}

/// `(b, n, s, e)` after checking the shapes, kinds and host storage.
pub(crate) fn dims(
    qq: &Tensor,
    kq: &Tensor,
    ql: &Tensor,
    kl: &Tensor,
    v: &Tensor,
) -> Result<[usize; 4]> {
    const WHAT: &str = "mixed chunk attention";
    for t in [kq, ql, kl, v] {
        qq.expect_same_kind(WHAT, t)?;
    }
    if matches!(qq.storage(), Storage::Cuda(_)) {
        return Err(Error::Unsupported {
            what: WHAT,
            reason: "runs on the CPU only so far".into(),
        });
    }
    let [b, n, s] = match *qq.shape() {
        [b, n, s] if b > 0 && n > 0 && s > 0 => [b, n, s],
        _ => {
            return Err(kernels::Error::invalid_shape(
                "mixed chunk attention: q_quad",
                qq.shape(),
                "must be [batch, n, s] with every size > 0",
            )
            .into());
        }
    };
    for (name, t) in [("k_quad", kq), ("q_lin", ql), ("k_lin", kl)] {
        if t.shape() != [b, n, s] {
            return Err(Error::ShapeMismatch {
                what: name,
                expected: vec![b, n, s],
                got: t.shape().to_vec(),
            });
        }
    }
    let e = match *v.shape() {
        [vb, vn, e] if vb == b && vn == n && e > 0 => e,
        _ => {
            return Err(Error::ShapeMismatch {
                what: "mixed chunk attention: v",
                expected: vec![b, n, v.shape().last().copied().unwrap_or(0)],
                got: v.shape().to_vec(),
            });
        }
    };
    Ok([b, n, s, e])
}

/// Key validity `[b × n]` from the mask (`true` = real key).
pub(crate) fn key_validity(mask: &Mask, b: usize, n: usize) -> Result<Vec<bool>> {
    match &mask.keys {
        KeyPadding::None => Ok(vec![true; b * n]),
        KeyPadding::Lengths(lens) => {
            if lens.len() != b {
                return Err(Error::MaskLength {
                    what: "key lengths (one per batch element)",
                    expected: b,
                    got: lens.len(),
                });
            }
            if let Some(&l) = lens.iter().find(|&&l| l > n) {
                return Err(Error::MaskLength {
                    what: "a key length (at most the key axis)",
                    expected: n,
                    got: l,
                });
            }
            Ok(lens
                .iter()
                .flat_map(|&l| (0..n).map(move |j| j < l))
                .collect())
        }
        KeyPadding::Mask(m) => {
            if m.len() != b * n {
                return Err(Error::MaskLength {
                    what: "key mask [batch × n]",
                    expected: b * n,
                    got: m.len(),
                });
            }
            Ok(m.clone())
        }
    }
}

/// `[b, n, w]` → `[b·G, c, w]` with zero rows after `n` in each sequence.
fn pad<F: Float>(x: &[F], b: usize, n: usize, n_p: usize, w: usize) -> Vec<F> {
    let mut y = vec![F::zero(); b * n_p * w];
    for bi in 0..b {
        y[bi * n_p * w..(bi * n_p + n) * w].copy_from_slice(&x[bi * n * w..(bi + 1) * n * w]);
    }
    y
}

/// The inverse of [`pad`]: drops the padded rows.
fn unpad<F: Float>(y: &[F], b: usize, n: usize, n_p: usize, w: usize) -> Vec<F> {
    (0..b)
        .flat_map(|bi| y[bi * n_p * w..(bi * n_p + n) * w].iter().copied())
        .collect()
}

impl MixedChunkAttention {
    fn check(&self) -> Result<()> {
        if self.chunk == 0 {
            return Err(Error::InvalidConfig(
                "mixed chunk attention: chunk size must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// `C [b, n, e]` for `qq, kq, ql, kl [b, n, s]` and `v [b, n, e]` (module docs), and the
    /// cache for [`MixedChunkAttention::backward`].
    ///
    /// Errors: shapes that do not fit, a mask of the wrong length, an invalid chunk size or
    /// local normalisation, mixed dtypes, device tensors.
    pub fn forward(
        &self,
        qq: &Tensor,
        kq: &Tensor,
        ql: &Tensor,
        kl: &Tensor,
        v: &Tensor,
        mask: &Mask,
    ) -> Result<(Tensor, MixedChunkCache)> {
        self.check()?;
        let [b, n, s, e] = dims(qq, kq, ql, kl, v)?;
        let real = key_validity(mask, b, n)?;
        let x = Checked {
            mask,
            real,
            dims: [b, n, s, e],
        };
        match qq.dtype() {
            kernels::DType::F32 => self.forward_t::<f32>([qq, kq, ql, kl], v, &x),
            kernels::DType::F64 => self.forward_t::<f64>([qq, kq, ql, kl], v, &x),
        }
    }

    fn shapes(&self, [b, n, s, e]: [usize; 4], causal: bool) -> (usize, usize, GlobalShape) {
        let groups = n.div_ceil(self.chunk);
        let sh = GlobalShape {
            n,
            c: self.chunk,
            s,
            e,
            causal,
            denom: self.global,
        };
        (b * groups, groups * self.chunk, sh)
    }

    fn forward_t<F: Float>(
        &self,
        [qq, kq, ql, kl]: [&Tensor; 4],
        v: &Tensor,
        x: &Checked,
    ) -> Result<(Tensor, MixedChunkCache)> {
        let (mask, real, dims) = (x.mask, &x.real[..], x.dims);
        let [b, n, s, e] = dims;
        let c = self.chunk;
        let (bg, n_p, sh) = self.shapes(dims, mask.causal);
        let chunked = |t: &Tensor, w: usize| -> Result<Tensor> {
            Ok(Tensor::from_vec(
                pad(t.as_slice::<F>()?, b, n, n_p, w),
                &[bg, c, w],
            )?)
        };
        let (qq_p, kq_p, v_p) = (chunked(qq, s)?, chunked(kq, s)?, chunked(v, e)?);
        let local_real: Vec<bool> = (0..b)
            .flat_map(|bi| (0..n_p).map(move |j| j < n && real[bi * n + j]))
            .collect();
        let local_mask = Mask {
            causal: mask.causal,
            keys: KeyPadding::Mask(local_real),
        };
        let (c_loc, local) = self.local.forward(&qq_p, &kq_p, &v_p, &local_mask)?;
        let mut out = unpad(c_loc.as_slice::<F>()?, b, n, n_p, e);
        let (qls, kls, vs) = (ql.as_slice::<F>()?, kl.as_slice::<F>()?, v.as_slice::<F>()?);
        out.par_chunks_mut(n * e).enumerate().for_each(|(bi, o)| {
            let r = |j: usize| real[bi * n + j];
            let (ns, ne) = (bi * n * s..(bi + 1) * n * s, bi * n * e..(bi + 1) * n * e);
            global::forward(&sh, &qls[ns.clone()], &kls[ns], &vs[ne], &r, o);
        });
        let cache = MixedChunkCache {
            qq: qq_p,
            kq: kq_p,
            v: v_p,
            local_mask,
            local,
        };
        Ok((Tensor::from_vec(out, &[b, n, e])?, cache))
    }

    /// Gradients of the five inputs for the cotangent `dc [b, n, e]`; the cache must come from
    /// this forward on the same inputs and mask.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        qq: &Tensor,
        kq: &Tensor,
        ql: &Tensor,
        kl: &Tensor,
        v: &Tensor,
        mask: &Mask,
        cache: &MixedChunkCache,
        dc: &Tensor,
    ) -> Result<MixedChunkGrads> {
        self.check()?;
        let dims_ = dims(qq, kq, ql, kl, v)?;
        let [b, n, _, e] = dims_;
        qq.expect_same_kind("mixed chunk attention backward: dc", dc)?;
        if dc.shape() != [b, n, e] {
            return Err(Error::ShapeMismatch {
                what: "mixed chunk attention backward: dc",
                expected: vec![b, n, e],
                got: dc.shape().to_vec(),
            });
        }
        let real = key_validity(mask, b, n)?;
        let x = Checked {
            mask,
            real,
            dims: dims_,
        };
        match qq.dtype() {
            kernels::DType::F32 => self.backward_t::<f32>([ql, kl, v], &x, cache, dc),
            kernels::DType::F64 => self.backward_t::<f64>([ql, kl, v], &x, cache, dc),
        }
    }

    fn backward_t<F: Float>(
        &self,
        [ql, kl, v]: [&Tensor; 3],
        x: &Checked,
        cache: &MixedChunkCache,
        dc: &Tensor,
    ) -> Result<MixedChunkGrads> {
        let (mask, real, dims) = (x.mask, &x.real[..], x.dims);
        let [b, n, s, e] = dims;
        let (bg, n_p, sh) = self.shapes(dims, mask.causal);
        let expect = [bg, self.chunk, e];
        cache
            .v
            .expect_shape("mixed chunk attention backward: cached v", &expect)?;
        let dcs = dc.as_slice::<F>()?;
        let dc_p = Tensor::from_vec(pad(dcs, b, n, n_p, e), &expect)?;
        let g = self.local.backward(
            &cache.qq,
            &cache.kq,
            &cache.v,
            &cache.local_mask,
            &cache.local,
            &dc_p,
        )?;
        let dqq = unpad(g.dq.as_slice::<F>()?, b, n, n_p, s);
        let dkq = unpad(g.dk.as_slice::<F>()?, b, n, n_p, s);
        let mut dv = unpad(g.dv.as_slice::<F>()?, b, n, n_p, e);
        let mut dql = vec![F::zero(); b * n * s];
        let mut dkl = vec![F::zero(); b * n * s];
        let (qls, kls, vs) = (ql.as_slice::<F>()?, kl.as_slice::<F>()?, v.as_slice::<F>()?);
        dql.par_chunks_mut(n * s)
            .zip(dkl.par_chunks_mut(n * s))
            .zip(dv.par_chunks_mut(n * e))
            .enumerate()
            .for_each(|(bi, ((dq, dk), dvb))| {
                let r = |j: usize| real[bi * n + j];
                let (ns, ne) = (bi * n * s..(bi + 1) * n * s, bi * n * e..(bi + 1) * n * e);
                global::backward(
                    &sh,
                    &qls[ns.clone()],
                    &kls[ns],
                    &vs[ne.clone()],
                    &r,
                    &dcs[ne],
                    dq,
                    dk,
                    dvb,
                );
            });
        let t = |x: Vec<F>, w: usize| Tensor::from_vec(x, &[b, n, w]);
        Ok(MixedChunkGrads {
            dqq: t(dqq, s)?,
            dkq: t(dkq, s)?,
            dql: t(dql, s)?,
            dkl: t(dkl, s)?,
            dv: t(dv, e)?,
        })
    }
}
