//! The elementwise cases shared by `benches/elementwise.rs` (criterion) and
//! `examples/elementwise_timing.rs` (interleaved medians): every op at one size, each with its
//! same-traffic ceiling.
//!
//! A case's `op` is the public op (`kernels::ops::<op>`), output allocated as users get it; its
//! `ceiling` is a trivial loop with the same bytes read and written (`y = x + 1`, `y = a + b`,
//! …), run by the same parallel chunked driver ([`kernels::cpu_math::map1`] / [`map2`]) into an
//! output allocated the same way ([`kernels::cpu_math::alloc_output`]). Bytes are counted by
//! hand: 4 B per f32 read or written (unary 8 B/elem, binary 12 B/elem, `mul_backward`
//! 20 B/elem, `scale_assign` 8 B/elem in place).

use kernels::Tensor;
use kernels::cpu_math::{Map1, Map2, alloc_output, map1, map2};
use kernels::cpu_util::CHUNK;
use kernels::ops::gelu::GeluKind::{Erf, Tanh};
use kernels::ops::{add, gelu, mul, relu2, scale, sigmoid, silu};
use rayon::prelude::*;
use std::hint::black_box;

/// One op and its ceiling; both closures own their inputs.
pub struct Case {
    /// Criterion group name (`silu`, `gelu_backward`, …).
    pub group: &'static str,
    /// Bytes read and written per element.
    pub bytes_per_elem: u64,
    pub op: Box<dyn FnMut()>,
    pub ceiling: Box<dyn FnMut()>,
}

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

fn unary(group: &'static str, n: usize, op: fn(&Tensor) -> Tensor) -> Case {
    let x = data(n, 1);
    let xt = tensor(&x);
    Case {
        group,
        bytes_per_elem: 8,
        op: Box::new(move || drop(black_box(op(black_box(&xt))))),
        ceiling: Box::new(move || drop(black_box(map1(&AddOne, black_box(&x))))),
    }
}

fn binary(group: &'static str, n: usize, op: fn(&Tensor, &Tensor) -> Tensor) -> Case {
    let (a, b) = (data(n, 2), data(n, 3));
    let (at, bt) = (tensor(&a), tensor(&b));
    Case {
        group,
        bytes_per_elem: 12,
        op: Box::new(move || drop(black_box(op(black_box(&at), black_box(&bt))))),
        ceiling: Box::new(move || drop(black_box(map2(&AddPair, black_box(&a), black_box(&b))))),
    }
}

fn mul_backward(n: usize) -> Case {
    let (a, b, dy) = (data(n, 4), data(n, 5), data(n, 6));
    let (at, bt, dyt) = (tensor(&a), tensor(&b), tensor(&dy));
    Case {
        group: "mul_backward",
        bytes_per_elem: 20,
        op: Box::new(move || drop(black_box(mul::mul_backward(&at, &bt, &dyt).unwrap()))),
        // Same traffic: read three arrays, write two, same chunks.
        ceiling: Box::new(move || {
            let mut o1 = alloc_output::<f32>(n);
            let mut o2 = alloc_output::<f32>(n);
            o1.par_chunks_mut(CHUNK)
                .zip(o2.par_chunks_mut(CHUNK))
                .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                .zip(dy.par_chunks(CHUNK))
                .for_each(|(((o1, o2), (a, b)), d)| {
                    for ((((o1, o2), &a), &b), &d) in o1.iter_mut().zip(o2).zip(a).zip(b).zip(d) {
                        *o1 = a + d;
                        *o2 = b + d;
                    }
                });
            drop(black_box((o1, o2)))
        }),
    }
}

fn scale_assign(n: usize) -> Case {
    let mut xt = tensor(&data(n, 7));
    let mut x = data(n, 7);
    Case {
        group: "scale_assign",
        bytes_per_elem: 8,
        // α = 1 keeps the values (and so the work) the same across iterations.
        op: Box::new(move || scale::scale_assign(black_box(&mut xt), 1.0).unwrap()),
        ceiling: Box::new(move || {
            black_box(&mut x).par_chunks_mut(CHUNK).for_each(|c| {
                for v in c {
                    *v += 0.0;
                }
            })
        }),
    }
}

/// Builds one case (its inputs) at `n` elements.
pub type Make = Box<dyn Fn(usize) -> Case>;

/// The builder of every case whose group name `filter` accepts, in a fixed order. Cases are
/// built one at a time by the caller, so that only one case's inputs are alive at once (all of
/// them at 10 M elements would hold about 1.6 GB).
pub fn cases(filter: impl Fn(&str) -> bool) -> Vec<Make> {
    let all: Vec<(&'static str, Make)> = vec![
        (
            "silu",
            Box::new(|n| unary("silu", n, |x| silu::silu_forward(x).unwrap())),
        ),
        (
            "silu_backward",
            Box::new(|n| {
                binary("silu_backward", n, |x, dy| {
                    silu::silu_backward(x, dy).unwrap()
                })
            }),
        ),
        (
            "sigmoid",
            Box::new(|n| unary("sigmoid", n, |x| sigmoid::sigmoid_forward(x).unwrap())),
        ),
        (
            "sigmoid_backward",
            Box::new(|n| {
                binary("sigmoid_backward", n, |x, dy| {
                    sigmoid::sigmoid_backward(x, dy).unwrap()
                })
            }),
        ),
        (
            "gelu",
            Box::new(|n| unary("gelu", n, |x| gelu::gelu_forward(x, Erf).unwrap())),
        ),
        (
            "gelu_backward",
            Box::new(|n| {
                binary("gelu_backward", n, |x, dy| {
                    gelu::gelu_backward(x, dy, Erf).unwrap()
                })
            }),
        ),
        (
            "gelu_tanh",
            Box::new(|n| unary("gelu_tanh", n, |x| gelu::gelu_forward(x, Tanh).unwrap())),
        ),
        (
            "gelu_tanh_backward",
            Box::new(|n| {
                binary("gelu_tanh_backward", n, |x, dy| {
                    gelu::gelu_backward(x, dy, Tanh).unwrap()
                })
            }),
        ),
        (
            "relu2",
            Box::new(|n| unary("relu2", n, |x| relu2::relu2_forward(x).unwrap())),
        ),
        (
            "relu2_backward",
            Box::new(|n| {
                binary("relu2_backward", n, |x, dy| {
                    relu2::relu2_backward(x, dy).unwrap()
                })
            }),
        ),
        (
            "scale",
            Box::new(|n| unary("scale", n, |x| scale::scale_forward(x, 0.5).unwrap())),
        ),
        ("scale_assign", Box::new(scale_assign)),
        (
            "add",
            Box::new(|n| binary("add", n, |a, b| add::add_forward(a, b).unwrap())),
        ),
        (
            "mul",
            Box::new(|n| binary("mul", n, |a, b| mul::mul_forward(a, b).unwrap())),
        ),
        ("mul_backward", Box::new(mul_backward)),
    ];
    all.into_iter()
        .filter(|(g, _)| filter(g))
        .map(|(_, make)| make)
        .collect()
}
