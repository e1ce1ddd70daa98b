//! The two small ops the GAU layer needs that `kernels` does not have: a per-dimension scale
//! and offset, and splitting / concatenating along the last axis. CPU only so far (device
//! tensors get [`Error::Unsupported`](crate::Error::Unsupported)).

pub mod columns;
pub mod scale_offset;
