//! The CUDA side (`cuda` feature): device handles, device memory, and NVRTC compilation of the
//! `.cu` sources embedded next to each op, cached per device.
//!
//! cudarc loads `libcuda`, `libnvrtc` and `libcublas` with `dlopen` at first use and panics when
//! one is missing, so every entry point checks for the library first and returns
//! [`Error::CudaUnavailable`] instead.

mod device;
pub mod elementwise;
mod launch;

pub(crate) use device::upload;
pub use device::{CudaDevice, CudaStorage, device_count};
pub use launch::{Kernel, elementwise_config};
