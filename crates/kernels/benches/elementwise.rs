//! Elementwise ops and activations on the CPU, f32, against a same-traffic ceiling.
//!
//! For every op, group `<op>` holds two functions at each size `n<N>`: `cpu`, the public op,
//! and `ceiling`, a trivial loop with the same bytes read and written through the same driver
//! and output allocation (`common/elementwise_cases.rs` says exactly what each is).
//! `cargo xtask bench` reports `cpu` against `ceiling` for the same group and size. Threads:
//! rayon's default pool. Criterion times one function after the other; for figures on a noisy
//! machine, `cargo run --release -p kernels --example elementwise_timing` interleaves them.

#[path = "common/elementwise_cases.rs"]
mod elementwise_cases;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: &[usize] = &[10_000_000];

fn elementwise(c: &mut Criterion) {
    for &n in SIZES {
        for make in elementwise_cases::cases(|_| true) {
            let mut case = make(n);
            let mut g = c.benchmark_group(case.group);
            g.sample_size(10);
            g.throughput(Throughput::BytesDecimal(case.bytes_per_elem * n as u64));
            let id = format!("n{n}");
            g.bench_function(BenchmarkId::new("cpu", &id), |b| b.iter(&mut case.op));
            g.bench_function(BenchmarkId::new("ceiling", &id), |b| {
                b.iter(&mut case.ceiling)
            });
            g.finish();
        }
    }
}

criterion_group!(benches, elementwise);
criterion_main!(benches);
