//! Fused optimizer step throughput (f32, CPU) against the same-traffic ceiling measured in the
//! same run, over a transformer's list of weights (BERT-base shapes, scaled).
//!
//! Traffic counted by hand: Lion/Tiger read θ, g, m and write θ, m = 20 B/param; AdamW adds v
//! = 28 B/param. `ceiling` is a trivial kernel with exactly that traffic (`θ += g; m += g`
//! [`v += g`]) over the same tensors. Ids: `lion/cpu/n10M`, `lion/ceiling/n10M`, ….
//! Tiger has two rows, both counted at 20 B/param against the same ceiling:
//! - `tiger/cpu/…`: [`Optimizer::step_with_flags`], the guard's verdicts supplied by the caller
//!   (from where g is produced, or a global-norm pass it runs anyway): the one fused pass;
//! - `tiger/cpu_selfcheck/…`: plain [`Optimizer::step`], which tests every gradient for
//!   NaN/Inf itself (the default); gradients larger than the 8 MiB guard window are read
//!   twice, so up to 24 B/param actually move.
//!
//! Both run the default non-finite guard, and give bit-identical parameters.

mod common;

use common::{model, sizes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lion_tiger::cpu::{same_traffic_ceiling, same_traffic_ceiling4};
use lion_tiger::*;
use nn::Module;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    for (label, shapes) in sizes() {
        let mut m = model(&shapes);
        let n = m.num_params() as u64;
        eprintln!("{label}: {n} parameters in {} tensors", shapes.len());
        let algos: Vec<(&str, &str, Algorithm, u64)> = vec![
            (
                "lion",
                "cpu",
                Algorithm::Lion(LionConfig {
                    weight_decay: 0.1,
                    ..Default::default()
                }),
                20,
            ),
            ("tiger", "cpu", Algorithm::Tiger(TigerConfig::default()), 20),
            (
                "tiger",
                "cpu_selfcheck",
                Algorithm::Tiger(TigerConfig::default()),
                20,
            ),
            ("adamw", "cpu", Algorithm::AdamW(AdamWConfig::default()), 28),
        ];
        for (group, func, algo, bytes) in algos {
            let mut opt = Optimizer::new(algo, &m, &[]).unwrap();
            let mut g = c.benchmark_group(group);
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
            g.throughput(Throughput::BytesDecimal(bytes * n));
            if group == "tiger" && func == "cpu" {
                // Verdicts from outside: all gradients here are finite.
                let clean = vec![false; opt.param_names().len()];
                g.bench_function(BenchmarkId::new(func, label), |b| {
                    b.iter(|| opt.step_with_flags(&mut m, &clean).unwrap())
                });
            } else {
                g.bench_function(BenchmarkId::new(func, label), |b| {
                    b.iter(|| opt.step(&mut m).unwrap())
                });
            }
            if func == "cpu" {
                // The ceiling over the same tensors (momentum buffers of the same sizes).
                let mut ms: Vec<Vec<f32>> = shapes
                    .iter()
                    .map(|(_, s, _)| vec![0.0; s.iter().product()])
                    .collect();
                let mut vs = ms.clone();
                g.bench_function(BenchmarkId::new("ceiling", label), |b| {
                    b.iter(|| {
                        let mut jobs = Vec::new();
                        let mut jobs4 = Vec::new();
                        for (((_, p), mm), vv) in m.iter_mut().zip(ms.iter_mut()).zip(vs.iter_mut())
                        {
                            let gr = p.grad.as_ref().unwrap().as_slice::<f32>().unwrap();
                            let th = match p.value.storage_mut() {
                                kernels::Storage::F32(v) => v.as_mut_slice(),
                                _ => unreachable!(),
                            };
                            if bytes == 20 {
                                jobs.push((th, mm.as_mut_slice(), gr));
                            } else {
                                jobs4.push((th, mm.as_mut_slice(), vv.as_mut_slice(), gr));
                            }
                        }
                        same_traffic_ceiling(&mut jobs);
                        same_traffic_ceiling4(&mut jobs4);
                    })
                });
            }
            g.finish();
            drop(opt);
            // Reset values so that the next algorithm starts from the same numbers.
            m = model(&shapes);
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
