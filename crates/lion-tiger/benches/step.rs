//! Fused optimizer step throughput (f32, CPU) against the same-traffic ceiling measured in the
//! same run, over a transformer's list of weights (BERT-base shapes, scaled).
//!
//! Traffic counted by hand: Lion/Tiger read θ, g, m and write θ, m = 20 B/param; AdamW adds v
//! = 28 B/param. `ceiling` is a trivial kernel with exactly that traffic (`θ += g; m += g`
//! [`v += g`]) over the same tensors. Ids: `lion/cpu/n10M`, `lion/ceiling/n10M`, ….
//! Tiger `cpu` runs the default non-finite guard (one extra read of g, 24 B/param actually
//! moved); `cpu_flag` is Tiger with the guard flag supplied from outside (guard off here), the
//! 20 B/param kernel.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernels::Tensor;
use lion_tiger::cpu::{same_traffic_ceiling, same_traffic_ceiling4};
use lion_tiger::*;
use nn::{Module, Param, ParamRole, Prefix};
use std::time::Duration;

struct Bag(Vec<(String, Param)>);

impl Module for Bag {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        for (n, x) in &self.0 {
            f(&p.join(n), x);
        }
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        for (n, x) in &mut self.0 {
            f(&p.join(n), x);
        }
    }
}

/// A parameter list: (name, shape, role).
pub type Shapes = Vec<(String, Vec<usize>, ParamRole)>;

/// BERT-base's parameter list with hidden size h, `layers` blocks and vocabulary `vocab`.
pub fn bert_shapes(h: usize, layers: usize, vocab: usize) -> Shapes {
    let mut s = vec![
        ("emb.word".to_string(), vec![vocab, h], ParamRole::Embedding),
        ("emb.pos".into(), vec![512, h], ParamRole::Embedding),
        ("emb.type".into(), vec![2, h], ParamRole::Embedding),
        ("emb.ln.g".into(), vec![h], ParamRole::Gain),
        ("emb.ln.b".into(), vec![h], ParamRole::Bias),
    ];
    for l in 0..layers {
        for (n, shape, role) in [
            ("q.w", vec![h, h], ParamRole::Matrix),
            ("q.b", vec![h], ParamRole::Bias),
            ("k.w", vec![h, h], ParamRole::Matrix),
            ("k.b", vec![h], ParamRole::Bias),
            ("v.w", vec![h, h], ParamRole::Matrix),
            ("v.b", vec![h], ParamRole::Bias),
            ("o.w", vec![h, h], ParamRole::Matrix),
            ("o.b", vec![h], ParamRole::Bias),
            ("ln1.g", vec![h], ParamRole::Gain),
            ("ln1.b", vec![h], ParamRole::Bias),
            ("ff1.w", vec![h, 4 * h], ParamRole::Matrix),
            ("ff1.b", vec![4 * h], ParamRole::Bias),
            ("ff2.w", vec![4 * h, h], ParamRole::Matrix),
            ("ff2.b", vec![h], ParamRole::Bias),
            ("ln2.g", vec![h], ParamRole::Gain),
            ("ln2.b", vec![h], ParamRole::Bias),
        ] {
            s.push((format!("layer.{l}.{n}"), shape, role));
        }
    }
    s.push(("pool.w".into(), vec![h, h], ParamRole::Matrix));
    s.push(("pool.b".into(), vec![h], ParamRole::Bias));
    s
}

/// (label, shapes): ≈1 M, 10 M, 100 M parameters (100 M ≈ BERT-base at vocab 21 k).
pub fn sizes() -> Vec<(&'static str, Shapes)> {
    let mut v = vec![
        ("n1M", bert_shapes(128, 4, 4096)),
        ("n10M", bert_shapes(256, 8, 16384)),
    ];
    // 100 M parameters only in full runs (not under `cargo xtask bench --quick`).
    if std::env::var("LION_BENCH_SMALL").is_err() && std::env::var("FRUGAL_BENCH_QUICK").is_err() {
        v.push(("n100M", bert_shapes(768, 12, 21000)));
    }
    v
}

fn model(shapes: &[(String, Vec<usize>, ParamRole)]) -> Bag {
    Bag(shapes
        .iter()
        .map(|(n, s, r)| {
            let k: usize = s.iter().product();
            let v: Vec<f32> = (0..k)
                .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-4)
                .collect();
            let g: Vec<f32> = (0..k)
                .map(|i| ((i * 104729 % 997) as f32 - 498.0) * 1e-3)
                .collect();
            let mut p = Param::new(Tensor::from_vec(v, s).unwrap(), *r);
            p.grad = Some(Tensor::from_vec(g, s).unwrap());
            (n.clone(), p)
        })
        .collect())
}

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
                "cpu_flag",
                Algorithm::Tiger(TigerConfig {
                    guard: Guard::Off,
                    ..Default::default()
                }),
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
            g.bench_function(BenchmarkId::new(func, label), |b| {
                b.iter(|| opt.step(&mut m).unwrap())
            });
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
                        for (((_, p), mm), vv) in
                            m.0.iter_mut().zip(ms.iter_mut()).zip(vs.iter_mut())
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
