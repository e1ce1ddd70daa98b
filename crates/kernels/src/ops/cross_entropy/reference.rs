//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

fn lse(row: &[f64]) -> f64 {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + row.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

/// Mean over rows with `targets[i] != ignore_index` of `lse_i − logits[i, t_i]`; 0 when all
/// rows are ignored. Targets must be valid.
pub fn cross_entropy_forward_ref(
    logits: &[f64],
    targets: &[i64],
    vocab: usize,
    ignore_index: i64,
) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for (row, &t) in logits.chunks(vocab).zip(targets) {
        if t != ignore_index {
            sum += lse(row) - row[t as usize];
            count += 1;
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// `dlogits = dloss·(softmax − onehot)/K`, 0 for ignored rows.
pub fn cross_entropy_backward_ref(
    logits: &[f64],
    targets: &[i64],
    vocab: usize,
    ignore_index: i64,
    dloss: f64,
) -> Vec<f64> {
    let count = targets.iter().filter(|&&t| t != ignore_index).count();
    let mut d = vec![0.0; logits.len()];
    for ((row, &t), drow) in logits.chunks(vocab).zip(targets).zip(d.chunks_mut(vocab)) {
        if t == ignore_index {
            continue;
        }
        let l = lse(row);
        for j in 0..vocab {
            let onehot = if j as i64 == t { 1.0 } else { 0.0 };
            drow[j] = dloss * ((row[j] - l).exp() - onehot) / count as f64;
        }
    }
    d
}
