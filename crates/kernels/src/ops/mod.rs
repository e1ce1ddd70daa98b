//! Every op, one folder each: `mod.rs` (public functions, shape checks, dispatch, docs),
//! `reference.rs` (plain f64 loops), `cpu.rs` (rayon, generic over [`Float`](crate::Float)),
//! `cuda.rs` + `<op>.cu` (NVRTC), and `tests.rs` tying them together.

#[cfg(test)]
mod activation_tests;
pub mod add;
pub mod bias_add;
pub mod cross_entropy;
pub mod dropout;
pub mod embedding;
pub mod fill;
pub mod gelu;
pub mod layernorm;
pub mod matmul;
pub mod mul;
#[cfg(test)]
mod norm_tests;
pub mod reduce;
pub mod relu2;
pub mod rmsnorm;
pub mod rope;
pub mod scale;
pub mod scalenorm;
pub mod sigmoid;
pub mod silu;
pub mod softmax;
