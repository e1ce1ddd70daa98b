//! Plain f64 loops.

/// `y = a ⊙ b`.
pub fn mul_forward_ref(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a * b).collect()
}

/// `(da, db) = (dy ⊙ b, dy ⊙ a)`.
pub fn mul_backward_ref(a: &[f64], b: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (mul_forward_ref(dy, b), mul_forward_ref(dy, a))
}
