//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

fn relu(x: f64) -> f64 {
    if x < 0.0 { 0.0 } else { x }
}

/// `y = max(x, 0)²`.
pub fn relu2_forward_ref(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&x| relu(x) * relu(x)).collect()
}

/// `dx = 2·max(x, 0)·dy`.
pub fn relu2_backward_ref(x: &[f64], dy: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&x, &dy)| 2.0 * relu(x) * dy)
        .collect()
}
