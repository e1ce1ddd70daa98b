//! Built without the `cuda` feature: the same names as `cuda/`, and every way to reach a GPU
//! returns [`Error::CudaUnavailable`]. The types are uninhabited, so no code path can hold one.

use crate::{Error, Result};

/// A CUDA device handle; cannot exist in a build without the `cuda` feature.
#[derive(Clone)]
pub enum CudaDevice {}

/// Device memory; cannot exist in a build without the `cuda` feature.
pub enum CudaStorage {}

impl CudaDevice {
    pub(crate) fn get(_ordinal: usize) -> Result<CudaDevice> {
        Err(Error::CudaUnavailable(
            "frugal's kernels were built without the `cuda` feature (rebuild with --features cuda)"
                .into(),
        ))
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        match *self {}
    }

    /// Waits for all queued work on the device's stream.
    pub fn synchronize(&self) -> Result<()> {
        match *self {}
    }
}

impl CudaStorage {
    pub(crate) fn device(&self) -> CudaDevice {
        match *self {}
    }
    pub(crate) fn len(&self) -> usize {
        match *self {}
    }
    pub(crate) fn to_host(&self) -> Result<Vec<f32>> {
        match *self {}
    }
    pub(crate) fn try_clone(&self) -> Result<CudaStorage> {
        match *self {}
    }
}

/// Copies host data to a device; unreachable without the `cuda` feature.
pub(crate) fn upload(dev: &CudaDevice, _data: &[f32]) -> Result<CudaStorage> {
    match *dev {}
}

/// Number of CUDA devices visible (always 0 in this build).
pub fn device_count() -> usize {
    0
}
