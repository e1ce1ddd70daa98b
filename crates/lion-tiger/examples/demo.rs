//! Trains a small MLP (nn::Linear + relu²) on a teacher-student regression with AdamW, Lion and
//! Tiger through gradient release (the optimizer is the backward's gradient sink), shows that
//! Tiger with k = 4 accumulation follows the big-batch run, and measures bytes per parameter
//! with a counting global allocator.
//!
//! `cargo run --release -p lion-tiger --example demo` (seconds on a CPU).

use kernels::ops::relu2::{relu2_backward, relu2_forward};
use kernels::testing::{randn, rng};
use kernels::{DType, Tensor};
use lion_tiger::*;
use nn::{Accumulate, GradSink, Linear, LinearCache, Module, Param, Prefix, Scoped};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Mlp {
    layers: Vec<Linear>,
}

impl Module for Mlp {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit(&p.child(i), f);
        }
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&p.child(i), f);
        }
    }
}

type Caches = Vec<(LinearCache, Option<Tensor>)>;

impl Mlp {
    fn new(dims: &[usize], seed: u64) -> Mlp {
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(w[0], w[1], true, DType::F32, seed + i as u64).unwrap())
            .collect();
        Mlp { layers }
    }

    fn forward(&self, x: &Tensor) -> (Tensor, Caches) {
        let mut h = x.try_clone().unwrap();
        let mut caches = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let (z, c) = l.forward(&h).unwrap();
            if i + 1 < self.layers.len() {
                h = relu2_forward(&z).unwrap();
                caches.push((c, Some(z)));
            } else {
                h = z;
                caches.push((c, None));
            }
        }
        (h, caches)
    }

    /// Backward from dy; each parameter gradient goes to `sink` as soon as it exists.
    fn backward(&mut self, caches: Caches, dy: Tensor, sink: &mut dyn GradSink) {
        let mut dy = dy;
        let mut caches = caches;
        for i in (0..self.layers.len()).rev() {
            let (c, _) = caches.pop().unwrap();
            let mut scoped = Scoped::new(sink, Prefix::root().child(i));
            let dx = self.layers[i].backward(c, &dy, &mut scoped).unwrap();
            if i > 0 {
                let z = caches[i - 1].1.as_ref().unwrap();
                dy = relu2_backward(z, &dx).unwrap();
            }
        }
    }
}

/// ½·mean((y − t)²) and its gradient (y − t)/numel.
fn mse(y: &Tensor, t: &Tensor) -> (f64, Tensor) {
    let (a, b) = (y.as_slice::<f32>().unwrap(), t.as_slice::<f32>().unwrap());
    let n = a.len() as f32;
    let d: Vec<f32> = a.iter().zip(b).map(|(a, b)| (a - b) / n).collect();
    let loss = a
        .iter()
        .zip(b)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / (2.0 * n as f64);
    (loss, Tensor::from_vec(d, y.shape()).unwrap())
}

fn batch(teacher: &Mlp, step: u64, rows: usize, din: usize) -> (Tensor, Tensor) {
    let mut r = rng(1000 + step);
    let x: Vec<f32> = randn(&mut r, rows * din)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let x = Tensor::from_vec(x, &[rows, din]).unwrap();
    let (t, _) = teacher.forward(&x);
    (x, t)
}

fn rows_of(t: &Tensor, from: usize, n: usize) -> Tensor {
    let w = t.shape()[1];
    let v = t.as_slice::<f32>().unwrap()[from * w..(from + n) * w].to_vec();
    Tensor::from_vec(v, &[n, w]).unwrap()
}

const DIMS: [usize; 4] = [32, 128, 128, 8];
const STEPS: u64 = 200;

/// The learning-rate multiplier of update `s`: 10 warm-up updates, then a cosine to 10 % (the
/// spec's §2.2 advice: Lion/Tiger want the same schedule shape as AdamW, with a smaller peak).
fn lr_factor(s: u64) -> f64 {
    const WARMUP: u64 = 10;
    if s < WARMUP {
        return (s + 1) as f64 / WARMUP as f64;
    }
    let t = (s - WARMUP) as f64 / (STEPS - WARMUP) as f64;
    0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// `algo` with its peak learning rate scaled by `f`.
fn scaled(algo: &Algorithm, f: f64) -> Algorithm {
    match algo.clone() {
        Algorithm::Lion(c) => Algorithm::Lion(LionConfig { lr: c.lr * f, ..c }),
        Algorithm::Tiger(c) => Algorithm::Tiger(TigerConfig {
            alpha: c.alpha * f,
            ..c
        }),
        Algorithm::AdamW(c) => Algorithm::AdamW(AdamWConfig { lr: c.lr * f, ..c }),
    }
}

/// Per-update training loss (the mean over that update's fresh batch, hence noisy) and the loss
/// on a fixed held-out set of 1024 rows at the printed updates.
struct Curve {
    train: Vec<f64>,
    held_out: Vec<(usize, f64)>,
}

fn printed_steps() -> Vec<usize> {
    (0..STEPS as usize)
        .step_by(20)
        .chain([STEPS as usize - 1])
        .collect()
}

/// Trains with gradient release; k micro-batches per update, the schedule of [`lr_factor`].
fn train(algo: Algorithm, k: usize) -> (Curve, Mlp) {
    let teacher = Mlp::new(&DIMS, 7);
    let mut model = Mlp::new(&DIMS, 99);
    let (hx, ht) = batch(&teacher, 1 << 40, 1024, DIMS[0]);
    let mut opt = Optimizer::new(algo.clone(), &model, &[]).unwrap();
    let printed = printed_steps();
    let mut curve = Curve {
        train: Vec::new(),
        held_out: Vec::new(),
    };
    for s in 0..STEPS {
        opt.set_algorithm(scaled(&algo, lr_factor(s))).unwrap();
        let (x, t) = batch(&teacher, s, 64, DIMS[0]);
        let mut total = 0.0;
        for j in 0..k {
            let (xj, tj) = (
                rows_of(&x, j * 64 / k, 64 / k),
                rows_of(&t, j * 64 / k, 64 / k),
            );
            let (y, caches) = model.forward(&xj);
            let (loss, dy) = mse(&y, &tj);
            total += loss / k as f64;
            model.backward(caches, dy, &mut opt);
        }
        curve.train.push(total);
        if printed.contains(&(s as usize)) {
            curve
                .held_out
                .push((s as usize, mse(&model.forward(&hx).0, &ht).0));
        }
    }
    (curve, model)
}

fn params(m: &Mlp) -> Vec<f32> {
    m.named_params()
        .iter()
        .flat_map(|(_, p)| p.value.to_vec::<f32>().unwrap())
        .collect()
}

/// Peak and persistent bytes per parameter for weights + optimizer state + gradients.
fn memory(algo: Algorithm, release: bool, k: usize) -> (f64, f64) {
    let width = 512;
    let dims = vec![width; 17]; // 16 layers of 512×512 + bias: 4.2 M parameters
    let before = LIVE.load(Relaxed);
    let mut model = Mlp::new(&dims, 3);
    let p = model.num_params();
    let x = Tensor::from_vec(vec![0.1f32; width], &[1, width]).unwrap();
    let t = Tensor::from_vec(vec![0.0f32; width], &[1, width]).unwrap();
    let algo_k = if release { algo } else { with_k(algo, 1) };
    let mut opt = Optimizer::new(algo_k, &model, &[]).unwrap();
    let other = LIVE.load(Relaxed) - before - p * 4 - opt.state_bytes();
    PEAK.store(LIVE.load(Relaxed), Relaxed);
    for _group in 0..2 {
        for _ in 0..k {
            let (y, caches) = model.forward(&x);
            let (_, dy) = mse(&y, &t);
            if release {
                model.backward(caches, dy, &mut opt);
            } else {
                model.backward(caches, dy, &mut Accumulate);
            }
        }
        if !release {
            opt.step(&mut model).unwrap();
            model.zero_grad().unwrap();
        }
    }
    let peak = PEAK.load(Relaxed) - before - other;
    let live = LIVE.load(Relaxed) - before - other;
    (peak as f64 / p as f64, live as f64 / p as f64)
}

fn with_k(a: Algorithm, k: u32) -> Algorithm {
    match a {
        Algorithm::Lion(c) => Algorithm::Lion(LionConfig {
            grad_accum_steps: k,
            ..c
        }),
        Algorithm::Tiger(c) => Algorithm::Tiger(TigerConfig {
            grad_accum_steps: k,
            ..c
        }),
        Algorithm::AdamW(c) => Algorithm::AdamW(AdamWConfig {
            grad_accum_steps: k,
            ..c
        }),
    }
}

fn main() {
    let adamw = Algorithm::AdamW(AdamWConfig {
        lr: 3e-3,
        ..Default::default()
    });
    let lion = Algorithm::Lion(LionConfig {
        lr: 3e-4,
        weight_decay: 0.1,
        ..Default::default()
    });
    let tiger = Algorithm::Tiger(TigerConfig {
        alpha: 3e-3,
        ..Default::default()
    });
    println!(
        "Teacher-student regression, MLP {DIMS:?}, batch 64, {STEPS} updates (10 warm-up, cosine to 10 %), gradient release"
    );
    let runs = [
        ("AdamW lr 3e-3", train(adamw.clone(), 1)),
        ("Lion lr 3e-4 λ 0.1", train(lion.clone(), 1)),
        ("Tiger α 3e-3", train(tiger.clone(), 1)),
        (
            "Tiger α 3e-3, k = 4 × 16",
            train(with_k(tiger.clone(), 4), 4),
        ),
    ];
    println!("held-out loss (1024 fixed rows) / this update's training batch loss:");
    print!("{:>6}", "step");
    for (n, _) in &runs {
        print!(" {n:>26}");
    }
    println!();
    for (i, &s) in printed_steps().iter().enumerate() {
        print!("{s:>6}");
        for (_, (c, _)) in &runs {
            print!(
                " {:>26}",
                format!("{:.5} / {:.5}", c.held_out[i].1, c.train[s])
            );
        }
        println!();
    }
    let (big, acc) = (params(&runs[2].1.1), params(&runs[3].1.1));
    let same = big.iter().zip(&acc).filter(|(a, b)| a == b).count();
    let max_d = big
        .iter()
        .zip(&acc)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "Tiger k = 4 vs big batch after {STEPS} updates: {same} of {} parameters identical, max |Δθ| = {max_d:e}",
        big.len()
    );
    println!(
        "\nMeasured bytes per parameter (weights + optimizer state + gradients, counting allocator;"
    );
    println!("16 Linear 512×512 layers, batch 1; peak includes one layer's transient gradient):");
    println!(
        "{:<8} {:>22} {:>22} {:>22}",
        "", "grad buffer, k = 1", "release, k = 1", "release, k = 4"
    );
    for (name, a) in [("AdamW", adamw), ("Lion", lion), ("Tiger", tiger)] {
        let (p1, l1) = memory(a.clone(), false, 1);
        let (p2, l2) = memory(a.clone(), true, 1);
        let (p3, l3) = memory(with_k(a, 4), true, 4);
        println!(
            "{name:<8} {:>22} {:>22} {:>22}",
            format!("peak {p1:.2} / held {l1:.2}"),
            format!("peak {p2:.2} / held {l2:.2}"),
            format!("peak {p3:.2} / held {l3:.2}")
        );
    }
}
