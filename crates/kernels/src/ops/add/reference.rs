//! Plain f64 loops.

/// `y = a + b`.
pub fn add_forward_ref(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}
