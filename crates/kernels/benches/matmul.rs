//! GEMM throughput of `kernels::ops::matmul::matmul`, f32.
//!
//! Group `matmul`, functions `cpu` (faer on rayon's default pool) and, in a `--features cuda`
//! build on a machine with a GPU, `cuda` (cuBLAS, stream synchronised inside the timed
//! region); parameters `MxKxN` (m×k×n): `2048x2048x2048` and the GAU-α projection shape
//! `512x768x3456`. Throughput is `Throughput::Elements(2·m·n·k)`, i.e. **criterion's elem/s
//! is FLOP/s** (one multiply and one add per term); `cargo xtask bench` prints it as GFLOP/s.
//! The ceiling (numpy's OpenBLAS GEMM) is measured by `cargo xtask bench --peers`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernels::Tensor;
use kernels::ops::matmul::matmul;
use std::hint::black_box;
use std::time::Duration;

/// (m, k, n).
const SHAPES: &[(usize, usize, usize)] = &[(2048, 2048, 2048), (512, 768, 3456)];

/// Deterministic values in [−0.5, 0.5).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
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
    for &(m, k, n) in SHAPES {
        let a = Tensor::from_vec(data(m * k, 1), &[m, k]).unwrap();
        let b = Tensor::from_vec(data(k * n, 2), &[k, n]).unwrap();
        let id = format!("{m}x{k}x{n}");
        g.throughput(Throughput::Elements(flops(m, k, n)));
        g.bench_function(BenchmarkId::new("cpu", &id), |bch| {
            bch.iter(|| black_box(matmul(&a, &b, false, false).unwrap()))
        });
        #[cfg(feature = "cuda")]
        if let Ok(dev @ kernels::Device::Cuda(d)) = kernels::Device::cuda(0).as_ref() {
            let (ga, gb) = (a.to_device(dev).unwrap(), b.to_device(dev).unwrap());
            g.bench_function(BenchmarkId::new("cuda", &id), |bch| {
                bch.iter(|| {
                    let y = matmul(&ga, &gb, false, false).unwrap();
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
