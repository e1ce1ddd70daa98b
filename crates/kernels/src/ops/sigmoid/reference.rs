//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `σ(x)`, without overflow for either sign.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `y = σ(x)`.
pub fn sigmoid_forward_ref(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&x| sigmoid(x)).collect()
}

/// `dx = dy · σ(x)·σ(−x)` (`σ(−x) = 1 − σ(x)`, computed without cancellation).
pub fn sigmoid_backward_ref(x: &[f64], dy: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&x, &dy)| dy * sigmoid(x) * sigmoid(-x))
        .collect()
}
