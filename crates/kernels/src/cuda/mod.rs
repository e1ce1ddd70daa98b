//! The CUDA side (`cuda` feature): device handles, device memory, and NVRTC compilation of the
//! `.cu` sources embedded next to each op, cached per device.
//!
//! cudarc loads `libcuda`, `libnvrtc` and `libcublas` with `dlopen` at first use and panics when
//! one is missing, so every entry point checks for the library first and returns
//! [`Error::CudaUnavailable`] instead.
//!
//! Device code that several `.cu` files need (block and warp row reductions, …) lives once in
//! `cuda/prelude/*.cuh`. A `.cu` file uses it with a plain `#include "row_reduce.cuh"` line —
//! the only place that says which prelude a kernel needs. At run time [`CudaDevice::module`]
//! pastes the header in from the copy embedded by [`prelude::PRELUDES`] (NVRTC has no file
//! system to search); `cargo xtask cuda-check` compiles the same files from disk with
//! `--include-path=crates/kernels/src/cuda/prelude`. A new prelude is a new `.cuh` file plus one
//! `PRELUDES` entry; a test checks that every `#include` of every `.cu` here resolves.

mod device;
pub mod elementwise;
mod launch;
pub mod prelude;

pub(crate) use device::upload;
pub use device::{CudaDevice, CudaStorage, device_count};
pub use launch::{Kernel, elementwise_config};
