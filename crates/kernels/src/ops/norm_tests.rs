//! Test machinery the row norms (`layernorm`, `rmsnorm`, `scalenorm`) share, written once: the
//! shapes they sweep, seeded input draws, f32/f64 tensors and comparisons of a result tensor
//! with its f64 reference. Each op's `tests.rs` keeps its own cases, tolerances and assertions.

use crate::Tensor;
use crate::testing::*;
use rand::rngs::StdRng;

/// `(rows, n)`: widths off the warp size and the SIMD widths, a single element, long rows.
pub const CASES: &[(usize, usize)] = &[
    (1, 1),
    (3, 2),
    (5, 7),
    (33, 31),
    (9, 33),
    (17, 97),
    (3, 1025),
    (2, 4099),
];

/// Seeded draws, taken in the order the caller asks for them.
pub struct Draws(StdRng);

impl Draws {
    pub fn new(seed: u64) -> Draws {
        Draws(rng(seed))
    }

    /// `len` values `offset + scale·N(0, 1)` (rows of mean `offset` and spread `scale`).
    pub fn rows(&mut self, len: usize, offset: f64, scale: f64) -> Vec<f64> {
        self.normal(len)
            .iter()
            .map(|v| offset + scale * v)
            .collect()
    }

    /// `n` gains `1 + 0.5·N(0, 1)`.
    pub fn gain(&mut self, n: usize) -> Vec<f64> {
        self.rows(n, 1.0, 0.5)
    }

    /// `len` values N(0, 1).
    pub fn normal(&mut self, len: usize) -> Vec<f64> {
        randn(&mut self.0, len)
    }
}

/// An f32 tensor of shape `s` holding `v` rounded to f32.
pub fn f32s(v: &[f64], s: &[usize]) -> Tensor {
    Tensor::from_vec(to_f32(v), s).unwrap()
}

/// An f64 tensor of shape `s` holding `v`.
pub fn f64s(v: &[f64], s: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

/// `v` rounded to f32 and back: the inputs an f32 kernel really sees.
pub fn round(v: &[f64]) -> Vec<f64> {
    to_f64(&to_f32(v))
}

/// [`assert_close`] of an f32 tensor's values against `want`.
pub fn close_f32(what: &str, got: &Tensor, want: &[f64], atol: f64, rtol: f64) {
    assert_close(what, &got.to_vec::<f32>().unwrap(), want, atol, rtol);
}

/// [`assert_close`] of an f64 tensor's values against `want`.
pub fn close_f64(what: &str, got: &Tensor, want: &[f64], atol: f64, rtol: f64) {
    assert_close(what, &got.to_vec::<f64>().unwrap(), want, atol, rtol);
}

/// Finite-difference `(step, tolerance)` for rows of mean `offset`: with offset 1e3 every x
/// carries ~1e-13 of f64 rounding, which a step of 1e-6 turns into ~1e-5 relative noise, so
/// the step is 1e-4 there (the curvature scale is the row's size, truncation stays ~1e-8)
/// and the tolerance 1e-5; otherwise 1e-6 and 1e-6.
pub fn fd_step_tol(offset: f64) -> (f64, f64) {
    if offset > 0.0 {
        (1e-4, 1e-5)
    } else {
        (1e-6, 1e-6)
    }
}
