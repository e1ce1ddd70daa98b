//! Where a tensor lives.

use crate::{CudaDevice, Result};
use std::fmt;

/// A compute device: the host CPU (rayon) or one CUDA GPU.
///
/// `Device::cuda(0)` returns [`Error::CudaUnavailable`](crate::Error::CudaUnavailable) when the
/// crate was built without the `cuda` feature, when no driver library is installed, or when the
/// ordinal does not exist; it never panics. Handles to the same ordinal share one context, one
/// stream and one cache of compiled kernels.
#[derive(Clone)]
pub enum Device {
    /// The host CPU; kernels run on rayon's global thread pool (set `RAYON_NUM_THREADS=1` for a
    /// sequential, reproducible run).
    Cpu,
    /// A CUDA GPU with its context, stream and kernel cache.
    Cuda(CudaDevice),
}

impl Device {
    /// The CUDA device with this ordinal, or `CudaUnavailable` saying why not.
    pub fn cuda(ordinal: usize) -> Result<Device> {
        CudaDevice::get(ordinal).map(Device::Cuda)
    }

    /// True for [`Device::Cpu`].
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// True when both handles name the same device.
    pub fn same_as(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Cuda(a), Device::Cuda(b)) => a.ordinal() == b.ordinal(),
            _ => false,
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(d) => write!(f, "cuda:{}", d.ordinal()),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
