//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `(y, norm)` for rows of width `n`: `norm = max(‖x‖₂, eps)`, `y = g·x/norm`.
pub fn scalenorm_forward_ref(x: &[f64], n: usize, g: f64, eps: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut y, mut norm) = (Vec::new(), Vec::new());
    for row in x.chunks(n) {
        let nr = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(eps);
        y.extend(row.iter().map(|v| g * v / nr));
        norm.push(nr);
    }
    (y, norm)
}

/// `(dx, dg)`: per row with `‖x‖ > eps`, `dx = (g/‖x‖)·(dy − x·(x·dy)/‖x‖²)`; with the norm
/// clamped to `eps`, `dx = g·dy/eps`; `dg = Σ dy·x/norm` over every element.
pub fn scalenorm_backward_ref(
    x: &[f64],
    n: usize,
    g: f64,
    dy: &[f64],
    eps: f64,
) -> (Vec<f64>, f64) {
    let (_, norm) = scalenorm_forward_ref(x, n, 1.0, eps);
    let (mut dx, mut dg) = (Vec::with_capacity(x.len()), 0.0);
    for (r, (row, d)) in x.chunks(n).zip(dy.chunks(n)).enumerate() {
        let nr = norm[r];
        let xd: f64 = row.iter().zip(d).map(|(a, b)| a * b).sum();
        let clamped = nr <= eps;
        for j in 0..n {
            dx.push(if clamped {
                g * d[j] / nr
            } else {
                g / nr * (d[j] - row[j] * xd / (nr * nr))
            });
        }
        dg += xd / nr;
    }
    (dx, dg)
}
