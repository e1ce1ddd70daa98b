//! Test utilities shared by every crate of the workspace: seeded inputs, error measures, the
//! finite-difference checker, the GPU-vs-CPU rule, and the `gpu_test!` marker.
//!
//! Error conventions (style.md §2): "error" is the largest absolute difference from the f64
//! reference divided by the reference's scale (its largest magnitude, at least 1e-30).

use crate::{Device, Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sizes every op is tested at: 1, primes, and values just off every block size a launcher or
/// a CPU chunk can pick.
pub const AWKWARD_SIZES: &[usize] = &[1, 2, 3, 7, 31, 97, 255, 256, 257, 1023, 1025, 4099, 16411];

/// A seeded generator: every random test input comes from one of these.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` standard normal draws (Box–Muller), in f64.
pub fn randn(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// `n` f32 values in `[lo, hi)` from a 64-bit LCG seeded with `seed`: cheap, deterministic
/// inputs for benchmarks at 10⁷+ elements (the values do not matter to speed beyond their sign
/// and range; tests use [`rng`] and friends).
pub fn lcg_uniform_f32(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    const MUL: u64 = 6364136223846793005;
    const INC: u64 = 1442695040888963407;
    let mut s = seed.wrapping_mul(MUL).wrapping_add(INC);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(MUL).wrapping_add(INC);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// `n` draws uniform in `[lo, hi)`.
pub fn uniform(rng: &mut StdRng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n)
        .map(|_| lo + (hi - lo) * rng.random::<f64>())
        .collect()
}

/// Rounds f64 values to f32 (the CPU-f32 and CUDA inputs), so every path sees the same numbers.
pub fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// Widens f32 values to f64.
pub fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// Largest absolute difference from the reference divided by the reference's scale.
pub fn rel_err<T: Copy + Into<f64>>(got: &[T], reference: &[f64]) -> f64 {
    assert_eq!(got.len(), reference.len(), "rel_err: lengths differ");
    let scale = reference
        .iter()
        .fold(0.0f64, |m, r| m.max(r.abs()))
        .max(1e-30);
    got.iter()
        .zip(reference)
        .map(|(&g, &r)| {
            let g: f64 = g.into();
            if g.is_nan() && r.is_nan() {
                0.0
            } else {
                (g - r).abs()
            }
        })
        .fold(0.0, f64::max)
        / scale
}

/// Asserts `|got − ref| ≤ atol + rtol·|ref|` elementwise, naming the worst element on failure.
pub fn assert_close<T: Copy + Into<f64>>(
    what: &str,
    got: &[T],
    reference: &[f64],
    atol: f64,
    rtol: f64,
) {
    assert_eq!(got.len(), reference.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0.0f64);
    for (i, (&g, &r)) in got.iter().zip(reference).enumerate() {
        let g: f64 = g.into();
        if g.is_nan() && r.is_nan() {
            continue;
        }
        let excess = (g - r).abs() - (atol + rtol * r.abs());
        if excess.is_nan() || excess > worst.1 {
            worst = (
                i,
                if excess.is_nan() {
                    f64::INFINITY
                } else {
                    excess
                },
            );
        }
    }
    if worst.1 > 0.0 {
        let i = worst.0;
        let g: f64 = got[i].into();
        panic!(
            "{what}: element {i} of {}: got {g:e}, reference {:e} (atol {atol:e}, rtol {rtol:e})",
            got.len(),
            reference[i]
        );
    }
}

/// flash-attention's rule: the GPU's error against the f64 reference is at most twice the CPU
/// f32 kernel's error plus 1e-6 (both relative to the reference's scale).
pub fn assert_gpu_rule(what: &str, gpu: &[f32], cpu: &[f32], reference: &[f64]) {
    let e_gpu = rel_err(gpu, reference);
    let e_cpu = rel_err(cpu, reference);
    assert!(
        e_gpu <= 2.0 * e_cpu + 1e-6,
        "{what}: GPU error {e_gpu:e} exceeds 2 × CPU-f32 error {e_cpu:e} + 1e-6"
    );
}

/// The CUDA device for a GPU test. Only `gpu_test!` tests call it, and those run only in builds
/// with the `cuda` feature, where a missing GPU is a failure (never a silent pass).
pub fn cuda_test_device() -> Device {
    match Device::cuda(0) {
        Ok(d) => d,
        Err(e) => panic!(
            "this GPU check needs a CUDA device ({e}); build without --features cuda to skip \
             the GPU checks, or run them on a GPU machine with `cargo xtask test-gpu`"
        ),
    }
}

/// Marks a GPU check: an ordinary `#[test]` in builds with the calling crate's `cuda` feature,
/// and an ignored one (counted in cargo's "ignored" total, with the reason) without it.
#[macro_export]
macro_rules! gpu_test {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[test]
        #[cfg_attr(
            not(feature = "cuda"),
            ignore = "GPU check: needs --features cuda and a CUDA GPU (cargo xtask test-gpu)"
        )]
        fn $name() $body
    };
}

/// Result of a finite-difference check.
#[derive(Debug, Clone, Copy)]
pub struct FdReport {
    /// Largest relative disagreement seen.
    pub max_rel: f64,
    /// Number of coordinates or directions compared.
    pub probes: usize,
}

/// Checks an analytic gradient `grad` of a scalar `f` at `x` with f64 central differences
/// `(f(x+εv) − f(x−εv)) / 2ε`: coordinate by coordinate for up to 256 entries, along 3 seeded
/// random unit directions beyond that. Agreement is `|fd − an| ≤ tol·max(|fd|, |an|, 1e-3·‖grad‖∞, 1e-12)`.
/// Returns the report, or `InvalidArgument` describing the worst probe.
pub fn fd_check(
    what: &str,
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    grad: &[f64],
    eps: f64,
    tol: f64,
) -> Result<FdReport> {
    if x.len() != grad.len() {
        return Err(Error::shape("fd_check", &[x.len()], &[grad.len()]));
    }
    let gmax = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let mut xp = x.to_vec();
    let mut worst = 0.0f64;
    let mut report = |fd: f64, an: f64, label: String| -> Result<()> {
        let denom = fd.abs().max(an.abs()).max(1e-3 * gmax).max(1e-12);
        let rel = (fd - an).abs() / denom;
        worst = worst.max(rel);
        if rel.is_nan() || rel > tol {
            return Err(Error::invalid(
                "fd_check",
                format!(
                    "{what}: {label}: finite difference {fd:e} vs analytic {an:e} (rel {rel:e} > {tol:e})"
                ),
            ));
        }
        Ok(())
    };
    let probes;
    if x.len() <= 256 {
        probes = x.len();
        for i in 0..x.len() {
            xp[i] = x[i] + eps;
            let fp = f(&xp);
            xp[i] = x[i] - eps;
            let fm = f(&xp);
            xp[i] = x[i];
            report((fp - fm) / (2.0 * eps), grad[i], format!("coordinate {i}"))?;
        }
    } else {
        probes = 3;
        let mut r = rng(0x5eed_f00d ^ x.len() as u64);
        for k in 0..3 {
            let mut v = randn(&mut r, x.len());
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter_mut().for_each(|a| *a /= norm);
            for i in 0..x.len() {
                xp[i] = x[i] + eps * v[i];
            }
            let fp = f(&xp);
            for i in 0..x.len() {
                xp[i] = x[i] - eps * v[i];
            }
            let fm = f(&xp);
            let an: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
            report((fp - fm) / (2.0 * eps), an, format!("direction {k}"))?;
        }
        xp.copy_from_slice(x);
    }
    Ok(FdReport {
        max_rel: worst,
        probes,
    })
}

/// `Σ y·w` in f64: the scalar whose gradient with respect to `y` is the cotangent `w`.
pub fn dot(y: &[f64], w: &[f64]) -> f64 {
    y.iter().zip(w).map(|(a, b)| a * b).sum()
}
