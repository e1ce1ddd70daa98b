//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `y[r, j] = x[r, j] + b[j]` with `n = b.len()`.
pub fn bias_add_forward_ref(x: &[f64], b: &[f64]) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| v + b[i % b.len()])
        .collect()
}

/// `db[j] = Σ_r dy[r, j]` for rows of width `n`.
pub fn bias_add_backward_ref(dy: &[f64], n: usize) -> Vec<f64> {
    let mut db = vec![0.0; n];
    for row in dy.chunks(n.max(1)) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
    db
}
