//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `(y, mean, rstd)` for rows of width `n`: `μ = Σx/n`, `σ² = Σ(x−μ)²/n`,
/// `rstd = 1/√(σ² + eps)`, `y = (x−μ)·rstd·g + β` (gain and bias optional).
pub fn layernorm_forward_ref(
    x: &[f64],
    n: usize,
    gain: Option<&[f64]>,
    bias: Option<&[f64]>,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut mean, mut rstd) = (Vec::new(), Vec::new(), Vec::new());
    for row in x.chunks(n) {
        let mu = row.iter().sum::<f64>() / n as f64;
        let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n as f64;
        let rs = 1.0 / (var + eps).sqrt();
        for (j, &v) in row.iter().enumerate() {
            let h = (v - mu) * rs;
            y.push(h * gain.map_or(1.0, |g| g[j]) + bias.map_or(0.0, |b| b[j]));
        }
        mean.push(mu);
        rstd.push(rs);
    }
    (y, mean, rstd)
}

/// `(dx, dgain, dbias)`: with `x̂ = (x−μ)·rstd` and `d̂ = dy·g`,
/// `dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂·x̂))`, `dgain = Σ_rows dy·x̂`, `dbias = Σ_rows dy`.
pub fn layernorm_backward_ref(
    x: &[f64],
    n: usize,
    gain: Option<&[f64]>,
    dy: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (_, mean, rstd) = layernorm_forward_ref(x, n, None, None, eps);
    let mut dx = Vec::with_capacity(x.len());
    let (mut dgain, mut dbias) = (vec![0.0; n], vec![0.0; n]);
    for (r, (row, g)) in x.chunks(n).zip(dy.chunks(n)).enumerate() {
        let xh: Vec<f64> = row.iter().map(|v| (v - mean[r]) * rstd[r]).collect();
        let dh: Vec<f64> = (0..n).map(|j| g[j] * gain.map_or(1.0, |w| w[j])).collect();
        let c1 = dh.iter().sum::<f64>() / n as f64;
        let c2 = dh.iter().zip(&xh).map(|(d, h)| d * h).sum::<f64>() / n as f64;
        for j in 0..n {
            dx.push(rstd[r] * (dh[j] - c1 - xh[j] * c2));
            dgain[j] += g[j] * xh[j];
            dbias[j] += g[j];
        }
    }
    (dx, dgain, dbias)
}
