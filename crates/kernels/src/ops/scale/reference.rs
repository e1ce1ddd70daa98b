//! Plain f64 loops.

/// `y = α·x`.
pub fn scale_forward_ref(x: &[f64], alpha: f64) -> Vec<f64> {
    x.iter().map(|x| alpha * x).collect()
}
