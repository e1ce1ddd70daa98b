//! Shared test instances.
#![allow(dead_code)]

use adam_eps_scaling::*;

/// The §6.5 instance: N = 8, diagonal H, |g_i| ≈ 1e-3, σ_i ≈ 3e-2, SGD B_noise = 917.
/// (The spec gives only these summaries; the exact values here are ours.)
pub fn instance_6_5() -> (GradStats, DiagH) {
    let c = [1.2, -0.8, 1.1, -0.9, 1.05, -0.95, 1.0, -0.98];
    let g: Vec<f64> = c.iter().map(|c| c * 1e-3).collect();
    let h: Vec<f64> = (0..8).map(|i| 1.0 + 0.25 * i as f64).collect();
    let s = [1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 0.98];
    let gh: f64 = g.iter().zip(&h).map(|(g, h)| g * g * h).sum();
    let sh: f64 = s.iter().zip(&h).map(|(s, h)| s * s * h).sum();
    let k = 917.0 * gh / sh;
    let st = GradStats::new(g, s.iter().map(|s| k * s * s).collect()).unwrap();
    (st, DiagH(h))
}

/// R4 / §9.5 surge instance: N = 16, H = 0.5 I + 0.5 11ᵀ, g = 1e-3, σ = 3e-2.
pub fn instance_r4() -> (GradStats, DenseH) {
    (
        GradStats::uniform(16, 1e-3, 9e-4).unwrap(),
        DenseH::rank_one_plus_identity(&[1.0; 16], 0.5),
    )
}

/// A dense, positive-definite N = 12 instance (seeded, deterministic).
pub fn dense_12(noise_scale: f64) -> (GradStats, DenseH) {
    let n = 12;
    let v = |i: usize, j: usize| (((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.5) * 0.6;
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| v(i, j));
    let h = a.dot(&a.t()) + ndarray::Array2::<f64>::eye(n) * 0.5;
    let g: Vec<f64> = (0..n)
        .map(|i| {
            1e-3 * (1.0 + 0.3 * ((i * 5 % 7) as f64 - 3.0) / 3.0)
                * if i % 3 == 0 { -1.0 } else { 1.0 }
        })
        .collect();
    let s2: Vec<f64> = (0..n)
        .map(|i| noise_scale * 9e-4 * (1.0 + 0.2 * ((i * 3 % 5) as f64 - 2.0) / 2.0))
        .collect();
    (GradStats::new(g, s2).unwrap(), DenseH::new(h).unwrap())
}

pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}
