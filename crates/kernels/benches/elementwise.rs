//! Elementwise ops and activations on the CPU, f32, against a same-traffic ceiling.
//!
//! For every op, group `<op>` holds two functions at each size `n<N>`:
//! - `cpu`: the public op (`kernels::ops::<op>`), output allocated as users get it;
//! - `ceiling`: a trivial loop with the same bytes read and written (`y = x + 1`,
//!   `y = a + b`, …), run by the same parallel chunked driver ([`kernels::cpu_math::map1`] /
//!   [`map2`]) into an output allocated the same way ([`kernels::cpu_math::alloc_output`]).
//!
//! Bytes are counted by hand: 4 B per f32 read or written (unary 8 B/elem, binary 12 B/elem,
//! `mul_backward` 20 B/elem, `scale_assign` 8 B/elem in place). `cargo xtask bench` reports
//! `cpu` against `ceiling` for the same group and size. Threads: rayon's default pool.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kernels::Tensor;
use kernels::cpu_math::{Map1, Map2, alloc_output, map1, map2};
use kernels::cpu_util::CHUNK;
use kernels::ops::{add, gelu, mul, relu2, scale, sigmoid, silu};
use rayon::prelude::*;
use std::hint::black_box;

const SIZES: &[usize] = &[10_000_000];

struct AddOne;
impl Map1<f32> for AddOne {
    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        x + 1.0
    }
}

struct AddPair;
impl Map2<f32> for AddPair {
    #[inline(always)]
    fn apply(&self, a: f32, b: f32) -> f32 {
        a + b
    }
}

/// Deterministic inputs spread over [−8, 8) (values are irrelevant to speed as long as they
/// exercise both signs and the interesting ranges).
fn data(n: usize, seed: u64) -> Vec<f32> {
    kernels::testing::lcg_uniform_f32(n, seed, -8.0, 8.0)
}

fn tensor(v: &[f32]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

type Unary = fn(&Tensor) -> Tensor;
type Binary = fn(&Tensor, &Tensor) -> Tensor;

fn bench_unary(c: &mut Criterion, name: &str, op: Unary) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    for &n in SIZES {
        let x = data(n, 1);
        let xt = tensor(&x);
        let id = format!("n{n}");
        g.throughput(Throughput::BytesDecimal(8 * n as u64));
        g.bench_function(BenchmarkId::new("cpu", &id), |b| {
            b.iter(|| black_box(op(black_box(&xt))))
        });
        g.bench_function(BenchmarkId::new("ceiling", &id), |b| {
            b.iter(|| black_box(map1(&AddOne, black_box(&x))))
        });
    }
    g.finish();
}

fn bench_binary(c: &mut Criterion, name: &str, op: Binary) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    for &n in SIZES {
        let (a, b) = (data(n, 2), data(n, 3));
        let (at, bt) = (tensor(&a), tensor(&b));
        let id = format!("n{n}");
        g.throughput(Throughput::BytesDecimal(12 * n as u64));
        g.bench_function(BenchmarkId::new("cpu", &id), |bch| {
            bch.iter(|| black_box(op(black_box(&at), black_box(&bt))))
        });
        g.bench_function(BenchmarkId::new("ceiling", &id), |bch| {
            bch.iter(|| black_box(map2(&AddPair, black_box(&a), black_box(&b))))
        });
    }
    g.finish();
}

fn bench_mul_backward(c: &mut Criterion) {
    let mut g = c.benchmark_group("mul_backward");
    g.sample_size(10);
    for &n in SIZES {
        let (a, b, dy) = (data(n, 4), data(n, 5), data(n, 6));
        let (at, bt, dyt) = (tensor(&a), tensor(&b), tensor(&dy));
        let id = format!("n{n}");
        g.throughput(Throughput::BytesDecimal(20 * n as u64));
        g.bench_function(BenchmarkId::new("cpu", &id), |bch| {
            bch.iter(|| black_box(mul::mul_backward(&at, &bt, &dyt).unwrap()))
        });
        // Same traffic: read three arrays, write two, same chunks.
        g.bench_function(BenchmarkId::new("ceiling", &id), |bch| {
            bch.iter(|| {
                let mut o1 = alloc_output::<f32>(n);
                let mut o2 = alloc_output::<f32>(n);
                o1.par_chunks_mut(CHUNK)
                    .zip(o2.par_chunks_mut(CHUNK))
                    .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                    .zip(dy.par_chunks(CHUNK))
                    .for_each(|(((o1, o2), (a, b)), d)| {
                        for ((((o1, o2), &a), &b), &d) in o1.iter_mut().zip(o2).zip(a).zip(b).zip(d)
                        {
                            *o1 = a + d;
                            *o2 = b + d;
                        }
                    });
                black_box((o1, o2))
            })
        });
    }
    g.finish();
}

fn bench_scale_assign(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_assign");
    g.sample_size(10);
    for &n in SIZES {
        let mut xt = tensor(&data(n, 7));
        let mut x = data(n, 7);
        let id = format!("n{n}");
        g.throughput(Throughput::BytesDecimal(8 * n as u64));
        // α = 1 keeps the values (and so the work) the same across iterations.
        g.bench_function(BenchmarkId::new("cpu", &id), |b| {
            b.iter(|| scale::scale_assign(black_box(&mut xt), 1.0).unwrap())
        });
        g.bench_function(BenchmarkId::new("ceiling", &id), |b| {
            b.iter(|| {
                black_box(&mut x).par_chunks_mut(CHUNK).for_each(|c| {
                    for v in c {
                        *v += 0.0;
                    }
                })
            })
        });
    }
    g.finish();
}

fn elementwise(c: &mut Criterion) {
    use gelu::GeluKind::{Erf, Tanh};
    bench_unary(c, "silu", |x| silu::silu_forward(x).unwrap());
    bench_binary(c, "silu_backward", |x, dy| {
        silu::silu_backward(x, dy).unwrap()
    });
    bench_unary(c, "sigmoid", |x| sigmoid::sigmoid_forward(x).unwrap());
    bench_binary(c, "sigmoid_backward", |x, dy| {
        sigmoid::sigmoid_backward(x, dy).unwrap()
    });
    bench_unary(c, "gelu", |x| gelu::gelu_forward(x, Erf).unwrap());
    bench_binary(c, "gelu_backward", |x, dy| {
        gelu::gelu_backward(x, dy, Erf).unwrap()
    });
    bench_unary(c, "gelu_tanh", |x| gelu::gelu_forward(x, Tanh).unwrap());
    bench_binary(c, "gelu_tanh_backward", |x, dy| {
        gelu::gelu_backward(x, dy, Tanh).unwrap()
    });
    bench_unary(c, "relu2", |x| relu2::relu2_forward(x).unwrap());
    bench_binary(c, "relu2_backward", |x, dy| {
        relu2::relu2_backward(x, dy).unwrap()
    });
    bench_unary(c, "scale", |x| scale::scale_forward(x, 0.5).unwrap());
    bench_scale_assign(c);
    bench_binary(c, "add", |a, b| add::add_forward(a, b).unwrap());
    bench_binary(c, "mul", |a, b| mul::mul_forward(a, b).unwrap());
    bench_mul_backward(c);
}

criterion_group!(benches, elementwise);
criterion_main!(benches);
