//! Cross-entropy of logits against integer class targets, averaged over the non-ignored rows
//! (PyTorch's `F.cross_entropy` with `reduction = "mean"` and `ignore_index`).
//!
//! `logits: [N, V]`, `targets: &[i64]` of length N on the host (i64 as in PyTorch; each
//! target is in `[0, V)` or equals `ignore_index`, default −100; anything else is an
//! [`Error::InvalidArgument`]). With `lse_i = log Σ_j exp(logits_ij)` and `K` the number of
//! non-ignored rows:
//!
//! ```text
//! loss = (1/K) Σ_{i not ignored} (lse_i − logits_{i, t_i})
//! dlogits_ij = dloss · (softmax(logits_i)_j − [j = t_i]) / K     (0 for ignored rows)
//! ```
//!
//! **When every row is ignored (`K = 0`) the loss is 0 and the gradient is all zeros** (PyTorch
//! returns NaN there; a zero keeps a fully padded micro-batch from poisoning a sum).
//!
//! The loss comes back as an `f64` on the host — on CUDA the per-row losses (N floats) are
//! copied back and summed in f64 — together with the per-row `lse` as a `[N]` tensor on the
//! logits' device, which is all the backward needs besides the logits themselves.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{cross_entropy_backward_ref, cross_entropy_forward_ref};

use crate::{Error, Result, Tensor};

/// Options of the cross-entropy. `CrossEntropyOpts::default()` ignores target −100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossEntropyOpts {
    /// Rows whose target equals this value add nothing to the loss and get zero gradient.
    /// Default −100 (PyTorch's default).
    pub ignore_index: i64,
}

impl Default for CrossEntropyOpts {
    fn default() -> Self {
        CrossEntropyOpts { ignore_index: -100 }
    }
}

/// What [`cross_entropy_forward`] returns: the loss and the cache of the backward.
#[derive(Debug)]
pub struct CrossEntropyForward {
    /// The mean loss over the non-ignored rows (0 when all are ignored).
    pub loss: f64,
    /// `lse_i = log Σ_j exp(logits_ij)` per row, `[N]`, on the logits' device and dtype
    /// (also computed for ignored rows).
    pub lse: Tensor,
    /// The number `K` of non-ignored rows.
    pub count: usize,
}

/// Checks shapes and targets; returns `(N, V)` and the targets with ignored rows as −1.
fn prepare(
    op: &'static str,
    logits: &Tensor,
    targets: &[i64],
    opts: &CrossEntropyOpts,
) -> Result<(usize, usize, Vec<i64>)> {
    let [rows, vocab] = *logits.shape() else {
        return Err(Error::invalid_shape(
            op,
            logits.shape(),
            "logits must be [N, V]",
        ));
    };
    if vocab == 0 {
        return Err(Error::invalid_shape(
            op,
            logits.shape(),
            "needs at least one class",
        ));
    }
    if targets.len() != rows {
        return Err(Error::invalid(
            op,
            format!("{} targets for {rows} rows of logits", targets.len()),
        ));
    }
    let mut t = Vec::with_capacity(rows);
    for (i, &v) in targets.iter().enumerate() {
        if v == opts.ignore_index {
            t.push(-1);
        } else if v < 0 || v as u64 >= vocab as u64 {
            return Err(Error::invalid(
                op,
                format!(
                    "targets[{i}] = {v} is outside [0, {vocab}) and is not the ignore index {}",
                    opts.ignore_index
                ),
            ));
        } else {
            t.push(v);
        }
    }
    Ok((rows, vocab, t))
}

/// The mean cross-entropy of `logits: [N, V]` against `targets` (see the module docs).
pub fn cross_entropy_forward(
    logits: &Tensor,
    targets: &[i64],
    opts: &CrossEntropyOpts,
) -> Result<CrossEntropyForward> {
    let (_, vocab, t) = prepare("cross_entropy_forward", logits, targets, opts)?;
    let count = t.iter().filter(|&&v| v >= 0).count();
    let (sum, lse) = dispatch!(
        logits,
        |v| {
            let (sum, lse) = cpu::cross_entropy_forward(v, &t, vocab);
            Tensor::from_vec(lse, &[t.len()]).map(|l| (sum, l))
        },
        |c| {
            let (sum, lse) = cuda::cross_entropy_forward(c, &t, vocab)?;
            Tensor::from_cuda(lse, &[t.len()]).map(|l| (sum, l))
        }
    )?;
    let loss = if count == 0 { 0.0 } else { sum / count as f64 };
    Ok(CrossEntropyForward { loss, lse, count })
}

/// `dlogits_ij = dloss · (exp(logits_ij − lse_i) − [j = t_i]) / K`, zero for ignored rows and
/// all zero when `K = 0`; `fwd` is the forward's output for the same logits and targets.
///
/// Derivation: `∂(lse_i − logits_{i,t_i})/∂logits_ij = softmax(logits_i)_j − [j = t_i]`, and
/// the mean divides by `K`. Targets are integers and get no gradient.
pub fn cross_entropy_backward(
    logits: &Tensor,
    targets: &[i64],
    fwd: &CrossEntropyForward,
    dloss: f64,
    opts: &CrossEntropyOpts,
) -> Result<Tensor> {
    let op = "cross_entropy_backward";
    let (rows, vocab, t) = prepare(op, logits, targets, opts)?;
    fwd.lse.expect_shape(op, &[rows])?;
    logits.expect_same_kind(op, &fwd.lse)?;
    let count = t.iter().filter(|&&v| v >= 0).count();
    if count != fwd.count {
        return Err(Error::invalid(
            op,
            format!(
                "the targets select {count} rows but the forward counted {}",
                fwd.count
            ),
        ));
    }
    if !dloss.is_finite() {
        return Err(Error::invalid(
            op,
            format!("dloss must be finite, got {dloss}"),
        ));
    }
    let g = if count == 0 {
        0.0
    } else {
        dloss / count as f64
    };
    dispatch2!(
        op,
        logits,
        fwd.lse,
        |x, lse| Tensor::from_vec(
            cpu::cross_entropy_backward(x, lse, &t, vocab, g),
            logits.shape()
        ),
        |x, lse| cuda::cross_entropy_backward(x, lse, &t, vocab, g)
            .and_then(|s| Tensor::from_cuda(s, logits.shape()))
    )
}
