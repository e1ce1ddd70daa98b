//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `(y, rstd)` for rows of width `n`: `rstd = 1/√(Σx²/n + eps)`, `y = x·rstd·g` (gain optional).
pub fn rmsnorm_forward_ref(
    x: &[f64],
    n: usize,
    gain: Option<&[f64]>,
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut y, mut rstd) = (Vec::new(), Vec::new());
    for row in x.chunks(n) {
        let rs = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / n as f64 + eps).sqrt();
        for (j, &v) in row.iter().enumerate() {
            y.push(v * rs * gain.map_or(1.0, |g| g[j]));
        }
        rstd.push(rs);
    }
    (y, rstd)
}

/// `(dx, dgain)`: with `x̂ = x·rstd` and `d̂ = dy·g`, `dx = rstd·(d̂ − x̂·mean(d̂·x̂))` and
/// `dgain = Σ_rows dy·x̂`.
pub fn rmsnorm_backward_ref(
    x: &[f64],
    n: usize,
    gain: Option<&[f64]>,
    dy: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (_, rstd) = rmsnorm_forward_ref(x, n, None, eps);
    let (mut dx, mut dgain) = (Vec::with_capacity(x.len()), vec![0.0; n]);
    for (r, (row, g)) in x.chunks(n).zip(dy.chunks(n)).enumerate() {
        let xh: Vec<f64> = row.iter().map(|v| v * rstd[r]).collect();
        let dh: Vec<f64> = (0..n).map(|j| g[j] * gain.map_or(1.0, |w| w[j])).collect();
        let c = dh.iter().zip(&xh).map(|(d, h)| d * h).sum::<f64>() / n as f64;
        for j in 0..n {
            dx.push(rstd[r] * (dh[j] - xh[j] * c));
            dgain[j] += g[j] * xh[j];
        }
    }
    (dx, dgain)
}
