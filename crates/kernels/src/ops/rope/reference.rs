//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

use super::{RopeLayout, RopeOpts};

/// RoPE of `x: [rows, s]` with sequences of `n` rows; `sign = 1` for the forward, `−1` for the
/// backward (rotation by `−θ`).
pub fn rope_ref(x: &[f64], n: usize, s: usize, opts: &RopeOpts, sign: f64) -> Vec<f64> {
    let mut y = x.to_vec();
    let half = s / 2;
    for (r, (xr, yr)) in x.chunks(s).zip(y.chunks_mut(s)).enumerate() {
        let p = (opts.offset + r % n) as f64;
        for m in 0..half {
            let theta = opts.base.powf(-2.0 * m as f64 / s as f64);
            let (sin, cos) = (sign * p * theta).sin_cos();
            let (a, b) = match opts.layout {
                RopeLayout::Interleaved => (2 * m, 2 * m + 1),
                RopeLayout::HalfSplit => (m, m + half),
            };
            yr[a] = xr[a] * cos - xr[b] * sin;
            yr[b] = xr[b] * cos + xr[a] * sin;
        }
    }
    y
}
