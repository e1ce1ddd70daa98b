//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against. The masks are
//! evaluated entry by entry from their definitions (not through the kernels' prefix lengths).

use super::SoftmaxOpts;

/// Whether key `j` of row `r` is visible, straight from the definitions in the module docs.
fn visible(shape: &[usize], opts: &SoftmaxOpts, r: usize, j: usize) -> bool {
    let rank = shape.len();
    let n_k = shape[rank - 1];
    let rows: usize = shape[..rank - 1].iter().product();
    if let Some(lens) = opts.key_lengths {
        let b = r / (rows / shape[0]);
        if j >= lens[b] {
            return false;
        }
    }
    if opts.causal {
        let n_q = shape[rank - 2];
        let i = r % n_q;
        // j ≤ i + (n_k − n_q), in signed arithmetic.
        if j as i64 > i as i64 + n_k as i64 - n_q as i64 {
            return false;
        }
    }
    true
}

/// `y = softmax(c·x)` over the last axis of `x` (shape `shape`), masked entries 0, fully masked
/// rows all 0. `opts` must be valid for `shape` (the public function checks it).
pub fn softmax_forward_ref(x: &[f64], shape: &[usize], opts: &SoftmaxOpts) -> Vec<f64> {
    let n = *shape.last().expect("rank ≥ 1");
    let mut y = vec![0.0; x.len()];
    if n == 0 {
        return y;
    }
    for (r, (xr, yr)) in x.chunks(n).zip(y.chunks_mut(n)).enumerate() {
        let vis: Vec<bool> = (0..n).map(|j| visible(shape, opts, r, j)).collect();
        let m = (0..n)
            .filter(|&j| vis[j])
            .map(|j| opts.scale * xr[j])
            .fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            continue;
        }
        let mut sum = 0.0;
        for j in (0..n).filter(|&j| vis[j]) {
            yr[j] = (opts.scale * xr[j] - m).exp();
            sum += yr[j];
        }
        yr.iter_mut().for_each(|v| *v /= sum);
    }
    y
}

/// `dx = c · y ⊙ (dy − Σ_j y_j dy_j)` per row of length `n`.
pub fn softmax_backward_ref(y: &[f64], dy: &[f64], scale: f64, n: usize) -> Vec<f64> {
    let mut dx = vec![0.0; y.len()];
    if n == 0 {
        return dx;
    }
    for ((yr, dyr), dxr) in y.chunks(n).zip(dy.chunks(n)).zip(dx.chunks_mut(n)) {
        let dot: f64 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
        for j in 0..n {
            dxr[j] = scale * yr[j] * (dyr[j] - dot);
        }
    }
    dx
}
