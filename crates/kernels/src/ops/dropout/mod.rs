//! Inverted dropout with a counter-based generator: the mask is a pure function of
//! `(seed, flat element index, p)`, so the CPU (f32 or f64) and CUDA masks are bit-identical
//! and the backward regenerates the mask from the seed instead of storing it.
//!
//! ```text
//! h_i    = mix64(mix64(seed + γ) + i·γ)          γ = 0x9E3779B97F4A7C15 (splitmix64)
//! keep_i = (h_i >> 32) ≥ ⌈p·2³²⌉                  (u_i = (h_i >> 32)/2³² ≥ p, in integers)
//! y_i    = keep_i ? x_i / (1 − p) : 0
//! dx_i   = keep_i ? dy_i / (1 − p) : 0            (the same mask, from the same seed)
//! ```
//!
//! `mix64` is splitmix64's finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
//! generators", 2014), so `h_i` is the `(i+1)`-th output of a splitmix64 stream started at a
//! state derived from the seed. The threshold `⌈p·2³²⌉` is computed once on the host; the
//! per-element test uses 64-bit integer operations only, written identically in
//! [`dropout_hash`] and in `dropout.cu` (whose `HASH_CHECKS` table the tests compare with the
//! Rust hash). The keep probability is `1 − ⌈p·2³²⌉/2³²`, i.e. `1 − p` to within 2⁻³².
//!
//! `p` must lie in `[0, 1)` (else [`Error::InvalidArgument`]); `p = 0` is the identity. The
//! scale `1/(1 − p)` is rounded once to the tensor's type, so f32 CPU and CUDA outputs are
//! also bit-identical. Use a fresh seed per call site and step (e.g. `hash(step, layer)`).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
#[cfg(test)]
mod tests;

use crate::{Error, Result, Tensor};

/// splitmix64's increment γ (the golden ratio in 64-bit fixed point).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser (a bijection of u64).
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The per-stream key derived from a seed: `mix64(seed + γ)`.
#[inline(always)]
pub fn dropout_key(seed: u64) -> u64 {
    mix64(seed.wrapping_add(GAMMA))
}

/// The 64-bit hash of element `i` under `seed`: `mix64(dropout_key(seed) + i·γ)`.
#[inline(always)]
pub fn dropout_hash(seed: u64, i: u64) -> u64 {
    mix64(dropout_key(seed).wrapping_add(i.wrapping_mul(GAMMA)))
}

/// The integer threshold `⌈p·2³²⌉`: element `i` is kept iff `dropout_hash(seed, i) >> 32` is at
/// least this.
fn threshold(op: &'static str, p: f64) -> Result<u64> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::invalid(op, format!("p must lie in [0, 1), got {p}")));
    }
    // Exact: multiplying by a power of two only changes the exponent.
    Ok((p * 4_294_967_296.0).ceil() as u64)
}

/// The keep threshold `⌈p·2³²⌉` for `p ∈ [0, 1)` (else [`Error::InvalidArgument`]): element `i`
/// is kept iff `dropout_hash(seed, i) >> 32 ≥` this. For fused kernels that apply the same mask
/// to their own element indices (e.g. the attention core's dropout on `A`).
pub fn dropout_threshold(p: f64) -> Result<u64> {
    threshold("dropout_threshold", p)
}

/// The keep mask of the first `n` elements for `(p, seed)`: `true` where kept.
pub fn dropout_mask(n: usize, p: f64, seed: u64) -> Result<Vec<bool>> {
    let t = threshold("dropout_mask", p)?;
    let key = dropout_key(seed);
    Ok((0..n as u64)
        .map(|i| mix64(key.wrapping_add(i.wrapping_mul(GAMMA))) >> 32 >= t)
        .collect())
}

fn dropout(op: &'static str, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    let t = threshold(op, p)?;
    if t == 0 {
        return x.try_clone(); // p = 0: the identity
    }
    let scale = 1.0 / (1.0 - p);
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::dropout(v, t, scale, dropout_key(seed)), x.shape()),
        |c| cuda::dropout(c, t, scale, seed).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `y_i = x_i/(1 − p)` where element `i` is kept under `seed`, else 0; any shape (the mask
/// follows the flat row-major index).
pub fn dropout_forward(x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    dropout("dropout_forward", x, p, seed)
}

/// `dx_i = dy_i/(1 − p)` where element `i` was kept, else 0: the mask of the forward with the
/// same `p` and `seed` (regenerated, not stored). The derivative of `y_i = m_i·x_i/(1 − p)` is
/// `m_i/(1 − p)`.
pub fn dropout_backward(dy: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    dropout("dropout_backward", dy, p, seed)
}

/// The GPU's hashes of `dropout.cu`'s `HASH_CHECKS` inputs and whether each equals the table.
#[cfg(test)]
fn cuda_hash_selftest(dev: &crate::Device) -> Result<(Vec<u64>, Vec<i32>)> {
    match dev {
        crate::Device::Cuda(c) => crate::on_cuda!(c, cuda::hash_selftest(c)),
        crate::Device::Cpu => Err(Error::invalid(
            "dropout_hash_selftest",
            "needs a CUDA device",
        )),
    }
}
