//! GEMM throughput of `kernels::ops::matmul::matmul`, f32.
//!
//! Group `matmul`, functions `cpu` (`cpu.rs`'s GEMM on rayon's default pool) and, in a `--features cuda`
//! build on a machine with a GPU, `cuda` (cuBLAS, stream synchronised inside the timed
//! region); parameters `MxKxN` (m×k×n of `op(a)·op(b)`) with a suffix `_aT` / `_bT` / `_aTbT`
//! for the transposed layouts: `2048x2048x2048` and the GAU-α projection shape `512x768x3456` in
//! all four layouts, and the six products of one GAU layer on 512 tokens (d = 768, 2e + s = 3200,
//! e = 1536): forward `x·W₁` (512x768x3200) and `h·W₂` (512x1536x768), their input gradients
//! `dY·Wᵀ` (`_bT`) and weight gradients `xᵀ·dY` (`_aT`). Throughput is `Throughput::Elements(2·m·n·k)`, i.e. **criterion's elem/s
//! is FLOP/s** (one multiply and one add per term); `cargo xtask bench` prints it as GFLOP/s.
//! The ceiling (numpy's OpenBLAS GEMM) is measured by `cargo xtask bench --peers`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernels::Tensor;
use kernels::ops::matmul::matmul;
use std::hint::black_box;
use std::time::Duration;

/// (m, k, n, trans_a, trans_b) of `op(a)·op(b)`.
const SHAPES: &[(usize, usize, usize, bool, bool)] = &[
    (2048, 2048, 2048, false, false),
    (2048, 2048, 2048, true, false),
    (2048, 2048, 2048, false, true),
    (2048, 2048, 2048, true, true),
    (512, 768, 3456, false, false),
    (512, 768, 3456, true, false),
    (512, 768, 3456, false, true),
    (512, 768, 3456, true, true),
    // One GAU layer on 512 tokens: x·W₁, dX = dY·W₁ᵀ, dW₁ = xᵀ·dY; h·W₂ and its two gradients.
    (512, 768, 3200, false, false),
    (512, 3200, 768, false, true),
    (768, 512, 3200, true, false),
    (512, 1536, 768, false, false),
    (512, 768, 1536, false, true),
    (1536, 512, 768, true, false),
];

/// Deterministic values in [−0.5, 0.5).
fn data(n: usize, seed: u64) -> Vec<f32> {
    kernels::testing::lcg_uniform_f32(n, seed, -0.5, 0.5)
}

/// FLOPs of one `m×k · k×n` product.
fn flops(m: usize, k: usize, n: usize) -> u64 {
    2 * (m * n * k) as u64
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &(m, k, n, ta, tb) in SHAPES {
        let a_shape = if ta { [k, m] } else { [m, k] };
        let b_shape = if tb { [n, k] } else { [k, n] };
        let a = Tensor::from_vec(data(m * k, 1), &a_shape).unwrap();
        let b = Tensor::from_vec(data(k * n, 2), &b_shape).unwrap();
        let suffix = match (ta, tb) {
            (false, false) => "",
            (true, false) => "_aT",
            (false, true) => "_bT",
            (true, true) => "_aTbT",
        };
        let id = format!("{m}x{k}x{n}{suffix}");
        g.throughput(Throughput::Elements(flops(m, k, n)));
        g.bench_function(BenchmarkId::new("cpu", &id), |bch| {
            bch.iter(|| black_box(matmul(&a, &b, ta, tb).unwrap()))
        });
        #[cfg(feature = "cuda")]
        if let Ok(dev @ kernels::Device::Cuda(d)) = kernels::Device::cuda(0).as_ref() {
            let (ga, gb) = (a.to_device(dev).unwrap(), b.to_device(dev).unwrap());
            g.bench_function(BenchmarkId::new("cuda", &id), |bch| {
                bch.iter(|| {
                    let y = matmul(&ga, &gb, ta, tb).unwrap();
                    d.synchronize().unwrap();
                    black_box(y)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
