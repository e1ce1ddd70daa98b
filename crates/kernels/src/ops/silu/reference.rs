//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `y = x·σ(x)`.
pub fn silu_forward_ref(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&x| x * sigmoid(x)).collect()
}

/// `dx = dy · σ(x)·(1 + x·(1 − σ(x)))`.
pub fn silu_backward_ref(x: &[f64], dy: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&x, &dy)| {
            let s = sigmoid(x);
            dy * s * (1.0 + x * (1.0 - s))
        })
        .collect()
}
