//! CUDA device handles (one context, one stream and one module cache per ordinal) and storage.

use crate::{Error, Result};
use cudarc::driver::{CudaContext, CudaModule, CudaSlice, CudaStream};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

struct Inner {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// Compiled modules by name; compiled by NVRTC at first use.
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    blas: OnceLock<std::result::Result<Arc<cudarc::cublas::CudaBlas>, String>>,
    arch: &'static str,
    sm_count: u32,
}

/// A handle to one CUDA GPU; cheap to clone.
#[derive(Clone)]
pub struct CudaDevice(Arc<Inner>);

fn registry() -> &'static Mutex<HashMap<usize, CudaDevice>> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, CudaDevice>>> = OnceLock::new();
    DEVICES.get_or_init(|| Mutex::new(HashMap::new()))
}

pub(crate) fn driver_error(op: &'static str, e: impl std::fmt::Debug) -> Error {
    Error::Driver {
        op,
        message: format!("{e:?}"),
    }
}

/// Number of CUDA devices visible, 0 when the driver library is missing.
pub fn device_count() -> usize {
    // SAFETY: only probes for the shared library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return 0;
    }
    CudaContext::device_count().map(|n| n as usize).unwrap_or(0)
}

fn virtual_arch(major: i32, minor: i32) -> &'static str {
    // NVRTC is asked for PTX of a virtual architecture; the driver JIT-compiles it for the card.
    match (major, minor) {
        (9, _) => "compute_90",
        (8, 9) => "compute_89",
        (8, 6) => "compute_86",
        (8, _) => "compute_80",
        (7, 5) => "compute_75",
        (m, _) if m >= 10 => "compute_90",
        _ => "compute_70",
    }
}

impl CudaDevice {
    pub(crate) fn get(ordinal: usize) -> Result<CudaDevice> {
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = reg.get(&ordinal) {
            return Ok(d.clone());
        }
        // SAFETY: only probes for the shared library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Error::CudaUnavailable(
                "the CUDA driver library (libcuda.so) was not found".into(),
            ));
        }
        let count = CudaContext::device_count()
            .map_err(|e| Error::CudaUnavailable(format!("cuInit failed: {e:?}")))?;
        if ordinal >= count.max(0) as usize {
            return Err(Error::CudaUnavailable(format!(
                "CUDA device {ordinal} requested but {count} device(s) are visible"
            )));
        }
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| Error::CudaUnavailable(format!("cannot create a context: {e:?}")))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| driver_error("compute_capability", e))?;
        let sm_count = ctx
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )
            .map_err(|e| driver_error("multiprocessor_count", e))? as u32;
        let stream = ctx.default_stream();
        let dev = CudaDevice(Arc::new(Inner {
            ordinal,
            ctx,
            stream,
            modules: Mutex::new(HashMap::new()),
            blas: OnceLock::new(),
            arch: virtual_arch(major, minor),
            sm_count,
        }));
        reg.insert(ordinal, dev.clone());
        Ok(dev)
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.0.ordinal
    }

    /// The stream every op of this device is queued on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.0.stream
    }

    /// The number of streaming multiprocessors (used to size grid-stride launches).
    pub fn sm_count(&self) -> u32 {
        self.0.sm_count
    }

    /// The NVRTC virtual architecture kernels are compiled for (`compute_90` on an H200).
    pub fn arch(&self) -> &'static str {
        self.0.arch
    }

    /// Waits for all queued work on the device's stream.
    pub fn synchronize(&self) -> Result<()> {
        self.0
            .stream
            .synchronize()
            .map_err(|e| driver_error("synchronize", e))
    }

    /// The module compiled from `src` (its `#include` lines expanded from the preludes, see
    /// [`super::prelude`]), compiled by NVRTC at first use and cached under `name`.
    pub fn module(&self, name: &'static str, src: &'static str) -> Result<Arc<CudaModule>> {
        let mut cache = self.0.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = cache.get(name) {
            return Ok(m.clone());
        }
        // SAFETY: only probes for the shared library.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(Error::CudaUnavailable(
                "the NVRTC library (libnvrtc.so) was not found".into(),
            ));
        }
        let opts = cudarc::nvrtc::CompileOptions {
            arch: Some(self.0.arch),
            name: Some(format!("{name}.cu")),
            ..Default::default()
        };
        let src = super::prelude::expand(name, src)?;
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(src, opts).map_err(|e| {
            let log = match &e {
                cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                    log.to_string_lossy().into_owned()
                }
                _ => String::new(),
            };
            Error::Compile {
                module: name,
                message: format!("{e:?}"),
                log,
            }
        })?;
        let module = self
            .0
            .ctx
            .load_module(ptx)
            .map_err(|e| driver_error("load_module", e))?;
        cache.insert(name, module.clone());
        Ok(module)
    }

    /// The cuBLAS handle of this device, created at first use.
    pub fn blas(&self) -> Result<Arc<cudarc::cublas::CudaBlas>> {
        self.0
            .blas
            .get_or_init(|| {
                // SAFETY: only probes for the shared library.
                if !unsafe { cudarc::cublas::sys::is_culib_present() } {
                    return Err("the cuBLAS library (libcublas.so) was not found".into());
                }
                cudarc::cublas::CudaBlas::new(self.0.stream.clone())
                    .map(Arc::new)
                    .map_err(|e| format!("{e:?}"))
            })
            .clone()
            .map_err(Error::CudaUnavailable)
    }

    /// Allocates `len` zeroed f32 values on the device.
    pub fn zeros(&self, len: usize) -> Result<CudaStorage> {
        let slice = self
            .0
            .stream
            .alloc_zeros::<f32>(len.max(1))
            .map_err(|e| driver_error("alloc_zeros", e))?;
        Ok(CudaStorage {
            slice,
            len,
            device: self.clone(),
        })
    }
}

/// f32 values on a CUDA device. The allocation holds at least one element so that empty
/// tensors still have a valid pointer; `len` is the logical length.
pub struct CudaStorage {
    pub slice: CudaSlice<f32>,
    pub len: usize,
    pub device: CudaDevice,
}

impl CudaStorage {
    pub(crate) fn device(&self) -> CudaDevice {
        self.device.clone()
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    pub(crate) fn to_host(&self) -> Result<Vec<f32>> {
        let mut v = self
            .device
            .stream()
            .clone_dtoh(&self.slice)
            .map_err(|e| driver_error("copy to host", e))?;
        v.truncate(self.len);
        Ok(v)
    }
    pub(crate) fn try_clone(&self) -> Result<CudaStorage> {
        let slice = self
            .device
            .stream()
            .clone_dtod(&self.slice)
            .map_err(|e| driver_error("copy on device", e))?;
        Ok(CudaStorage {
            slice,
            len: self.len,
            device: self.device.clone(),
        })
    }
}

/// Copies host data to the device.
pub(crate) fn upload(dev: &CudaDevice, data: &[f32]) -> Result<CudaStorage> {
    let slice = if data.is_empty() {
        dev.stream().alloc_zeros::<f32>(1)
    } else {
        dev.stream().clone_htod(data)
    }
    .map_err(|e| driver_error("copy to device", e))?;
    Ok(CudaStorage {
        slice,
        len: data.len(),
        device: dev.clone(),
    })
}
