//! Training (AdamW through gradient release) and evaluation on one of the demo's tasks.

use crate::models::Model;
use crate::task;
use kernels::ops::cross_entropy::{
    CrossEntropyOpts, cross_entropy_backward, cross_entropy_forward,
};
use lion_tiger::{AdamWConfig, Algorithm, Optimizer};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One training run's settings; both models of a comparison get the same.
#[derive(Clone, Copy, Debug)]
pub struct TrainCfg {
    pub vocab: task::Vocab,
    pub steps: usize,
    pub batch: usize,
    pub n: usize,
    pub task: task::Task,
    /// Peak AdamW learning rate.
    pub lr: f64,
    /// Linear warm-up steps, then a cosine from `lr` to `lr/10` at the last step.
    pub warmup: usize,
    pub weight_decay: f64,
    /// Batch `t` is drawn from `data_seed + t`, so every model sees the same batches.
    pub data_seed: u64,
    /// Points on the loss curve (each the mean loss of the steps since the previous one).
    pub points: usize,
}

impl TrainCfg {
    /// The learning rate at step `t` (0-based).
    pub fn lr_at(&self, t: usize) -> f64 {
        if t < self.warmup {
            return self.lr * (t + 1) as f64 / self.warmup as f64;
        }
        let span = (self.steps - self.warmup).max(1) as f64;
        let p = (t - self.warmup) as f64 / span;
        self.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
    }
}

/// What a run gives back: the loss curve as `(last step of the window, mean loss)` and seconds
/// per step.
pub struct Run {
    pub curve: Vec<(usize, f64)>,
    pub secs_per_step: f64,
}

fn adamw(cfg: &TrainCfg, t: usize) -> Algorithm {
    Algorithm::AdamW(AdamWConfig {
        lr: cfg.lr_at(t),
        weight_decay: cfg.weight_decay,
        ..Default::default()
    })
}

/// Trains `model` for `cfg.steps` steps, printing a line at every curve point.
pub fn train(model: &mut Model, cfg: &TrainCfg, label: &str) -> Result<Run> {
    let mut opt = Optimizer::new(adamw(cfg, 0), model, &[])?;
    let (opts, v) = (CrossEntropyOpts::default(), cfg.vocab.size());
    let every = cfg.steps.div_ceil(cfg.points.max(1)).max(1);
    let (mut curve, mut window, mut count) = (Vec::new(), 0.0, 0);
    let start = Instant::now();
    for t in 0..cfg.steps {
        opt.set_algorithm(adamw(cfg, t))?;
        let b = cfg
            .task
            .batch(&cfg.vocab, cfg.batch, cfg.n, cfg.data_seed + t as u64)?;
        let (logits, cache) = model.forward(&b.ids, [b.b, b.n])?;
        let flat = logits.reshape(&[b.b * b.n, v])?;
        let fwd = cross_entropy_forward(&flat, &b.targets, &opts)?;
        if !fwd.loss.is_finite() {
            return Err(format!("{label}: loss {} at step {t}", fwd.loss).into());
        }
        let dl = cross_entropy_backward(&flat, &b.targets, &fwd, 1.0, &opts)?;
        let dl = dl.reshape(&[b.b, b.n, v])?;
        // Gradient release: the optimizer is the sink, each gradient is applied and dropped.
        model.backward(cache, &dl, &mut opt)?;
        window += fwd.loss;
        count += 1;
        if (t + 1) % every == 0 || t + 1 == cfg.steps {
            let mean = window / count as f64;
            curve.push((t + 1, mean));
            eprintln!(
                "  {label:<22} step {:>5}/{}  loss {mean:.4}  lr {:.1e}  {:.0} ms/step",
                t + 1,
                cfg.steps,
                cfg.lr_at(t),
                1e3 * start.elapsed().as_secs_f64() / (t + 1) as f64
            );
            (window, count) = (0.0, 0);
        }
    }
    Ok(Run {
        curve,
        secs_per_step: start.elapsed().as_secs_f64() / cfg.steps.max(1) as f64,
    })
}

/// What [`evaluate`] measures.
pub struct Eval {
    /// Mean cross-entropy over the answers.
    pub loss: f64,
    /// Fraction of answers whose argmax is the target.
    pub acc: f64,
    /// `(right, answers)` at each position of the sequence.
    pub by_position: Vec<(usize, usize)>,
}

impl Eval {
    /// Accuracy over the answers at positions `range` (NaN when there are none).
    pub fn acc_in(&self, range: std::ops::Range<usize>) -> f64 {
        let (r, t) = self.by_position[range]
            .iter()
            .fold((0, 0), |(r, t), &(a, b)| (r + a, t + b));
        r as f64 / t as f64
    }
}

/// Mean loss and accuracy (argmax over the whole vocabulary) over the answer positions of at
/// least `queries` answers (rounded up to whole sequences) of `task` at length `n`.
pub fn evaluate(
    model: &Model,
    vocab: &task::Vocab,
    task: task::Task,
    n: usize,
    queries: usize,
    seed: u64,
) -> Result<Eval> {
    let seqs = queries.div_ceil(task.answers(n).max(1));
    let per_batch = (8192 / n).clamp(1, seqs);
    let (opts, v) = (CrossEntropyOpts::default(), vocab.size());
    let (mut loss, mut right, mut total) = (0.0, 0usize, 0usize);
    let mut by_position = vec![(0, 0); n];
    let mut done = 0;
    while done < seqs {
        let b = per_batch.min(seqs - done);
        let batch = task.batch(vocab, b, n, seed.wrapping_add(done as u64))?;
        let (logits, _) = model.forward(&batch.ids, [b, n])?;
        let flat = logits.reshape(&[b * n, v])?;
        let fwd = cross_entropy_forward(&flat, &batch.targets, &opts)?;
        loss += fwd.loss * fwd.count as f64;
        let l = flat.to_vec::<f32>()?;
        for (row, &t) in batch.targets.iter().enumerate() {
            if t == task::IGNORE {
                continue;
            }
            let r = &l[row * v..(row + 1) * v];
            let arg = (0..r.len()).fold(0, |a, j| if r[j] > r[a] { j } else { a });
            let ok = (arg as i64 == t) as usize;
            right += ok;
            total += 1;
            by_position[row % n].0 += ok;
            by_position[row % n].1 += 1;
        }
        done += b;
    }
    Ok(Eval {
        loss: loss / total as f64,
        acc: right as f64 / total as f64,
        by_position,
    })
}
