//! Ablations behind the demo's GAU-vs-MHA finding: short runs of GAU variants and the MHA
//! baseline on two tasks, constant AdamW lr after a 10 % linear warm-up, batch 16 × 32, printing
//! the mean loss and the last batch's answer accuracy five times per run.
//!
//! ```text
//! cargo run --release -p gau --example ablate -- TASK VARIANT STEPS LR [LAYERS]
//!   TASK     prev  (target = the previous token; a position lookup, 1 layer suffices)
//!            prevK (target = the token K positions back, e.g. prev3)
//!            mqar  (the demo's task: n = 32, 4 pairs)
//!   VARIANT  mha     MHA+FFN blocks (⌈LAYERS/2⌉ of them, 2 heads; mha1: 1 head of 64)
//!            alpha   GauAlpha with LAYERS layers (the demo's GAU model, with its segment row)
//!            alpha0  the same with the segment row zeroed at init (still trained)
//!            qk      GAU with separate query and key projections (qk.rs; not the spec's GAU)
//!            base    plain Gau layers in MHA's frame (no segment row), comma-joined options:
//!                    norope, half (RoPE HalfSplit), gain1, offset, bias, scale1, plus
//! cargo run --release -p gau --example ablate -- probe STEPS   (see `probe`)
//!   GAU_SCALE_W=f   multiplies every w_in and w_o at init by f (1.5874 = 4^(1/3): gain 1 at 4 layers)
//!   GAU_SCALE_GAMMA=f  multiplies γ_q and γ_k at init by f (scores by f²)
//! ```

#![allow(dead_code)] // the demo's modules are shared; not every item is used here

#[path = "../demo/models.rs"]
mod models;
mod qk;
#[path = "../demo/task.rs"]
mod task;
#[path = "../demo/train.rs"]
mod train;

enum Any {
    Demo(Box<Model>),
    Qk(Box<qk::QkLm>),
}

enum AnyCache {
    Demo(models::Cache),
    Qk(qk::QkLmCache),
}

impl Any {
    fn forward(&self, ids: &[u32], shape: [usize; 2]) -> Result<(kernels::Tensor, AnyCache)> {
        Ok(match self {
            Any::Demo(m) => {
                let (l, c) = m.forward(ids, shape)?;
                (l, AnyCache::Demo(c))
            }
            Any::Qk(m) => {
                let (l, c) = m.forward(ids, shape)?;
                (l, AnyCache::Qk(c))
            }
        })
    }

    fn backward(
        &mut self,
        c: AnyCache,
        dl: &kernels::Tensor,
        sink: &mut dyn nn::GradSink,
    ) -> Result<()> {
        match (self, c) {
            (Any::Demo(m), AnyCache::Demo(c)) => m.backward(c, dl, sink),
            (Any::Qk(m), AnyCache::Qk(c)) => m.backward(c, dl, sink),
            _ => Err("cache mismatch".into()),
        }
    }
}

impl nn::Module for Any {
    fn visit<'a>(&'a self, p: &nn::Prefix, f: &mut dyn FnMut(&str, &'a nn::Param)) {
        match self {
            Any::Demo(m) => m.visit(p, f),
            Any::Qk(m) => m.visit(p, f),
        }
    }

    fn visit_mut(&mut self, p: &nn::Prefix, f: &mut dyn FnMut(&str, &mut nn::Param)) {
        match self {
            Any::Demo(m) => m.visit_mut(p, f),
            Any::Qk(m) => m.visit_mut(p, f),
        }
    }
}

use gau::{GauAlpha, GauConfig, Normalization, RopeLayout, ScoreScale};
use kernels::DType;
use kernels::ops::cross_entropy::{
    CrossEntropyOpts, cross_entropy_backward, cross_entropy_forward,
};
use lion_tiger::{AdamWConfig, Algorithm, Optimizer};
use models::{GauLm, MhaLm, Model, Sizes};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const V: task::Vocab = task::Vocab {
    keys: 32,
    values: 32,
};

/// `ablate -- probe STEPS`: trains the demo's Part 2 Softmax model (4-layer GauAlpha, lag-3 copy
/// at n = 32) and, at n = 512, prints the first wrong position and, for the wrong answers, the
/// offsets `D` (other than 3) at which the predicted token occurs in the input.
fn probe(steps: usize) -> Result<()> {
    let sz = Sizes {
        vocab: V.size(),
        d: 64,
        e: 128,
        s: 32,
        blocks: 2,
        heads: 2,
        max_len: 512,
    };
    let mut m = Model::Gau(Box::new(GauAlpha::new(
        sz.gau_config(Normalization::Softmax),
        DType::F32,
        0,
    )?));
    let copy = task::Task::Copy { lag: 3 };
    let cfg = train::TrainCfg {
        vocab: V,
        steps,
        batch: 16,
        n: 32,
        task: copy,
        lr: 3e-3,
        warmup: steps / 10,
        weight_decay: 0.01,
        data_seed: 1_000_003,
        points: 5,
    };
    train::train(&mut m, &cfg, "probe")?;
    let n = 512;
    let b = copy.batch(&V, 4, n, 1 << 40)?;
    let (logits, _) = m.forward(&b.ids, [4, n])?;
    let l = logits.to_vec::<f32>()?;
    let mut first_wrong = vec![];
    let mut offsets = std::collections::BTreeMap::<usize, usize>::new();
    for s in 0..4 {
        let mut fw = None;
        for i in 3..n {
            let row = s * n + i;
            let r = &l[row * V.size()..(row + 1) * V.size()];
            let arg = (0..r.len()).fold(0, |a, j| if r[j] > r[a] { j } else { a }) as u32;
            if arg as i64 != b.targets[row] {
                fw.get_or_insert(i);
                for dd in 0..=i {
                    if dd != 3 && b.ids[s * n + i - dd] == arg {
                        *offsets.entry(dd).or_default() += 1;
                    }
                }
            }
        }
        first_wrong.push(fw);
    }
    println!("first wrong position per sequence: {first_wrong:?}");
    let mut top: Vec<_> = offsets.into_iter().collect();
    top.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
    println!(
        "most common offsets of the predicted token (D, count): {:?}",
        &top[..top.len().min(8)]
    );
    Ok(())
}

/// Multiplies every (f32) parameter of `model` whose name `pick` accepts by `f`.
fn scale_params(model: &mut dyn nn::Module, f: f32, pick: impl Fn(&str) -> bool) {
    model.visit_mut(&nn::Prefix::root(), &mut |name, p| {
        if pick(name) {
            let v: Vec<f32> = p
                .value
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|x| x * f)
                .collect();
            p.value = kernels::Tensor::from_vec(v, p.value.shape()).unwrap();
        }
    });
}

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a[0] == "probe" {
        return probe(a[1].parse()?);
    }
    let taskname = a[0].clone();
    let variant = a[1].clone();
    let steps: usize = a[2].parse()?;
    let lr: f64 = a[3].parse()?;
    let layers: usize = a.get(4).map_or(Ok(4), |s| s.parse())?;
    let sz = Sizes {
        vocab: V.size(),
        d: 64,
        e: 128,
        s: 32,
        blocks: layers.div_ceil(2),
        heads: 2,
        max_len: 256,
    };
    let gain = (layers as f64).powf(-1.0 / 3.0);
    let mut cfg = GauConfig {
        norm: Normalization::Softmax,
        max_len: 256,
        init_gain: gain,
        ..GauConfig::new(64, 128, 32)
    };
    for opt in variant.split(',') {
        match opt {
            "base" | "alpha" | "mha" | "mha1" | "alpha0" | "qk" => {}
            "norope" => cfg.rope = None,
            "half" => cfg.rope = Some(RopeLayout::HalfSplit),
            "gain1" => cfg.init_gain = 1.0,
            "offset" => cfg.offset = true,
            "bias" => cfg.bias = true,
            "scale1" => cfg.scale = ScoreScale::Fixed(1.0),
            "plus" => cfg.norm = Normalization::SoftmaxPlus { floor: 16 },
            o => return Err(format!("unknown {o}").into()),
        }
    }
    let mut model = if variant == "qk" {
        Any::Qk(Box::new(qk::QkLm::new(V.size(), 64, 128, 32, layers, 0)?))
    } else {
        Any::Demo(Box::new(if variant == "alpha0" {
            let mut c = sz.gau_config(Normalization::Softmax);
            c.layers = layers;
            let mut m = Model::Gau(Box::new(GauAlpha::new(c, DType::F32, 0)?));
            use nn::Module;
            m.visit_mut(&nn::Prefix::root(), &mut |name, p| {
                if name == "embed.segment" {
                    p.value =
                        kernels::Tensor::from_vec(vec![0f32; p.value.numel()], p.value.shape())
                            .unwrap();
                }
            });
            m
        } else if variant == "mha" || variant == "mha1" {
            let heads = if variant == "mha1" { 1 } else { 2 };
            Model::Mha(MhaLm::new(&Sizes { heads, ..sz }, 0)?)
        } else if variant == "alpha" {
            let mut c = sz.gau_config(Normalization::Softmax);
            c.layers = layers;
            Model::Gau(Box::new(GauAlpha::new(c, DType::F32, 0)?))
        } else {
            Model::Layers(GauLm::new(V.size(), cfg, layers, gain, 0)?)
        }))
    };
    if let Ok(f) = std::env::var("GAU_SCALE_W") {
        scale_params(&mut model, f.parse()?, |name| {
            name.ends_with("w_in")
                || name.ends_with("w_o")
                || name.starts_with("embed") && std::env::var_os("GAU_SCALE_EMB").is_some()
        });
    }
    if let Ok(f) = std::env::var("GAU_SCALE_GAMMA") {
        scale_params(&mut model, f.parse()?, |name| {
            name.ends_with("gamma_q") || name.ends_with("gamma_k")
        });
    }
    let mut opt = Optimizer::new(
        Algorithm::AdamW(AdamWConfig {
            lr,
            weight_decay: 0.01,
            ..Default::default()
        }),
        &model,
        &[],
    )?;
    let ce = CrossEntropyOpts::default();
    let warm = (steps / 10).max(1);
    let (mut win, mut cnt) = (0.0, 0);
    let t0 = std::time::Instant::now();
    for t in 0..steps {
        let lr_t = if t < warm {
            lr * (t + 1) as f64 / warm as f64
        } else {
            lr
        };
        opt.set_algorithm(Algorithm::AdamW(AdamWConfig {
            lr: lr_t,
            weight_decay: 0.01,
            ..Default::default()
        }))?;
        let b = if let Some(lag) = taskname.strip_prefix("prev") {
            task::copy_batch(&V, 16, 32, lag.parse().unwrap_or(1), 7 + t as u64)?
        } else {
            task::batch(&V, 16, 32, 4, 7 + t as u64)?
        };
        let (logits, cache) = model.forward(&b.ids, [b.b, b.n])?;
        let flat = logits.reshape(&[b.b * b.n, V.size()])?;
        let fwd = cross_entropy_forward(&flat, &b.targets, &ce)?;
        let dl = cross_entropy_backward(&flat, &b.targets, &fwd, 1.0, &ce)?.reshape(&[
            b.b,
            b.n,
            V.size(),
        ])?;
        model.backward(cache, &dl, &mut opt)?;
        // accuracy on this batch (before the update's effect)
        let l = flat.to_vec::<f32>()?;
        let (mut right, mut tot) = (0, 0);
        for (row, &tg) in b.targets.iter().enumerate() {
            if tg == task::IGNORE {
                continue;
            }
            let r = &l[row * V.size()..(row + 1) * V.size()];
            let arg = (0..r.len()).fold(0, |a, j| if r[j] > r[a] { j } else { a });
            right += (arg as i64 == tg) as usize;
            tot += 1;
        }
        win += fwd.loss;
        cnt += 1;
        if (t + 1) % (steps / 5).max(1) == 0 {
            println!(
                "{taskname} {variant:<16} L{layers} lr {lr:.0e} step {:>5} loss {:.3} acc {:.2} ({:.0} ms/step)",
                t + 1,
                win / cnt as f64,
                right as f64 / tot as f64,
                1e3 * t0.elapsed().as_secs_f64() / (t + 1) as f64
            );
            win = 0.0;
            cnt = 0;
        }
    }
    Ok(())
}
