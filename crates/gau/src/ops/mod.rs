//! The two small ops the GAU layer needs that `kernels` does not have: a per-dimension scale
//! and offset, and splitting / concatenating along the last axis. CPU (f32, f64) and CUDA (f32,
//! `cuda.rs` with `scale_offset.cu` and `columns.cu`, feature `cuda`).

pub mod columns;
#[cfg(feature = "cuda")]
mod cuda;
pub mod scale_offset;
