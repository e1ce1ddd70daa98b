//! # kernels — tensors and every numeric op of frugal, on the CPU and on CUDA
//!
//! A [`Tensor`] is a shape and contiguous row-major storage on a [`Device`]: f32 or f64 on the
//! host (f64 runs the same CPU code, for references and gradient checks), f32 on a CUDA GPU.
//! Every op lives in its own folder under [`ops`] with a plain f64 reference, a rayon CPU kernel
//! generic over [`Float`], and a CUDA kernel compiled at run time by NVRTC; forward and backward
//! are separate functions (`<op>_forward`, `<op>_backward`) and there is no autograd tape.
//!
//! ```
//! use kernels::{Tensor, ops::silu::silu_forward};
//! let x = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3])?;
//! let y = silu_forward(&x)?;
//! assert!((y.to_vec::<f32>()?[2] - 2.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
//! # Ok::<(), kernels::Error>(())
//! ```
//!
//! Build with `--features cuda` for the GPU path. Without it — or without a driver — asking for
//! a GPU returns [`Error::CudaUnavailable`]; nothing panics and nothing needs CUDA to build.

// Without the `cuda` feature the device types are uninhabited: code after them is rightly
// unreachable, and the compiler proves no GPU path can run.
#![cfg_attr(not(feature = "cuda"), allow(unreachable_code))]

mod device;
mod dtype;
mod error;
mod tensor;

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(not(feature = "cuda"))]
#[path = "cuda_stub.rs"]
pub mod cuda;

#[macro_use]
mod dispatch;
pub mod cpu_math;
pub mod cpu_util;
#[cfg(feature = "linalg")]
pub mod linalg;
pub mod ops;
pub mod testing;

pub use cuda::{CudaDevice, CudaStorage};
pub use device::Device;
pub use dtype::{DType, Float};
pub use error::{Error, Result};
pub use tensor::{Storage, Tensor};

/// True when this build has the `cuda` feature (a GPU may still be absent at run time).
pub const CUDA_BUILD: bool = cfg!(feature = "cuda");

pub(crate) fn cuda_zeros(dev: &CudaDevice, n: usize) -> Result<CudaStorage> {
    #[cfg(feature = "cuda")]
    {
        dev.zeros(n)
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = n;
        match *dev {}
    }
}

pub(crate) fn cuda_upload(dev: &CudaDevice, data: &[f32]) -> Result<CudaStorage> {
    cuda::upload(dev, data)
}
