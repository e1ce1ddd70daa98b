//! Elementwise ops and activations on the CPU, f32, against a same-traffic ceiling.
//!
//! For every op, group `<op>` holds two functions at each size `n<N>`: `cpu`, the public op,
//! and `ceiling`, a trivial loop with the same bytes read and written through the same driver
//! and output allocation (`common/elementwise_cases.rs` says exactly what each is).
//! `cargo xtask bench` reports `cpu` against `ceiling` for the same group and size. Threads:
//! rayon's default pool.
//!
//! Criterion measures one function, then the other; on a shared machine the two windows can
//! differ by ±15 %. So `cpu` times each call of the op next to a call of the ceiling (order
//! alternating; only the op's time goes to criterion) and, when `cargo xtask bench` asks through
//! `FRUGAL_BENCH_PAIRED`, appends the median of the per-call ratios ceiling time / op time to
//! that file, which the summary's percentage then uses. `ceiling` on its own gives the ceiling's
//! absolute rate. `cargo run --release -p kernels --example elementwise_timing` prints the same
//! pairing with more rounds.

#[path = "common/elementwise_cases.rs"]
mod elementwise_cases;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write;
use std::time::{Duration, Instant};

const SIZES: &[usize] = &[10_000_000];

fn elementwise(c: &mut Criterion) {
    for &n in SIZES {
        for make in elementwise_cases::cases(|_| true) {
            let mut case = make(n);
            let mut g = c.benchmark_group(case.group);
            g.sample_size(10);
            g.throughput(Throughput::BytesDecimal(case.bytes_per_elem * n as u64));
            let id = format!("n{n}");
            let mut ratios = Vec::new();
            let (op, ceiling) = (&mut case.op, &mut case.ceiling);
            g.bench_function(BenchmarkId::new("cpu", &id), |b| {
                b.iter_custom(|iters| {
                    let mut op_time = Duration::ZERO;
                    for i in 0..iters {
                        let (o, c) = if i % 2 == 0 {
                            (time(op), time(ceiling))
                        } else {
                            let c = time(ceiling);
                            (time(op), c)
                        };
                        op_time += o;
                        ratios.push(c.as_secs_f64() / o.as_secs_f64());
                    }
                    op_time
                })
            });
            g.bench_function(BenchmarkId::new("ceiling", &id), |b| {
                b.iter(&mut case.ceiling)
            });
            g.finish();
            record_paired(case.group, "cpu", &id, ratios);
        }
    }
}

fn time(f: &mut dyn FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Appends `{"group", "function", "param", "ratio", "pairs"}` (ratio = the median of `ratios`)
/// to the file named by `FRUGAL_BENCH_PAIRED`, if set.
fn record_paired(group: &str, function: &str, param: &str, mut ratios: Vec<f64>) {
    let Some(path) = std::env::var_os("FRUGAL_BENCH_PAIRED") else {
        return;
    };
    if ratios.is_empty() {
        return;
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let line = format!(
        "{{\"group\": \"{group}\", \"function\": \"{function}\", \"param\": \"{param}\", \"ratio\": {ratio}, \"pairs\": {}}}\n",
        ratios.len()
    );
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    if let Err(e) = file.and_then(|mut f| f.write_all(line.as_bytes())) {
        eprintln!("elementwise bench: cannot record paired ratios in {path:?}: {e}");
    }
}

criterion_group!(benches, elementwise);
criterion_main!(benches);
