//! `Tensor`: a shape and contiguous row-major storage on one device.

use crate::{CudaStorage, DType, Device, Error, Float, Result};
use ndarray::{ArrayD, IxDyn};

/// The bytes behind a tensor: f32 or f64 on the host, f32 on a CUDA device.
pub enum Storage {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Cuda(CudaStorage),
}

/// A dense, contiguous, row-major tensor.
///
/// Deliberately plain: no strides, no broadcasting, no autograd. Each op states the shapes it
/// takes and checks them, returning [`Error::ShapeMismatch`] rather than panicking.
pub struct Tensor {
    shape: Vec<usize>,
    storage: Storage,
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// A tensor from a host vector of f32 or f64 and a shape whose product is the vector's length.
    pub fn from_vec<F: Float>(data: Vec<F>, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != data.len() {
            return Err(Error::invalid_shape(
                "Tensor::from_vec",
                shape,
                format!(
                    "holds {} elements but {} were given",
                    numel(shape),
                    data.len()
                ),
            ));
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            storage: F::into_storage(data),
        })
    }

    /// A tensor of zeros on `device` (f64 only on the CPU).
    pub fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        let n = numel(shape);
        let storage = match (device, dtype) {
            (Device::Cpu, DType::F32) => Storage::F32(vec![0.0; n]),
            (Device::Cpu, DType::F64) => Storage::F64(vec![0.0; n]),
            (Device::Cuda(d), DType::F32) => Storage::Cuda(crate::cuda_zeros(d, n)?),
            (Device::Cuda(_), DType::F64) => {
                return Err(Error::Unsupported {
                    op: "Tensor::zeros",
                    reason: "f64 tensors live on the CPU only".into(),
                });
            }
        };
        Ok(Tensor {
            shape: shape.to_vec(),
            storage,
        })
    }

    /// Wraps existing storage; `storage` must hold `shape`'s element count.
    pub fn from_storage(storage: Storage, shape: &[usize]) -> Result<Tensor> {
        let len = match &storage {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::Cuda(c) => c.len(),
        };
        if len != numel(shape) {
            return Err(Error::invalid_shape(
                "Tensor::from_storage",
                shape,
                format!("holds {} elements but storage has {len}", numel(shape)),
            ));
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            storage,
        })
    }

    /// Wraps device storage produced by a CUDA kernel.
    pub fn from_cuda(storage: CudaStorage, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_storage(Storage::Cuda(storage), shape)
    }

    /// A host tensor from an ndarray array (any layout; copied to row-major).
    pub fn from_array<F: Float>(a: &ArrayD<F>) -> Tensor {
        let data: Vec<F> = a.iter().copied().collect();
        Tensor {
            shape: a.shape().to_vec(),
            storage: F::into_storage(data),
        }
    }

    /// Copies the tensor into an ndarray array of `F` (copying from the device if needed).
    /// The dtype must be `F`'s.
    pub fn to_array<F: Float>(&self) -> Result<ArrayD<F>> {
        let v = self.to_vec::<F>()?;
        ArrayD::from_shape_vec(IxDyn(&self.shape), v)
            .map_err(|e| Error::invalid_shape("Tensor::to_array", &self.shape, e.to_string()))
    }

    /// The values as a host vector of `F`; the tensor's dtype must be `F`'s.
    pub fn to_vec<F: Float>(&self) -> Result<Vec<F>> {
        if self.dtype() != F::DTYPE {
            return Err(Error::DTypeMismatch {
                op: "Tensor::to_vec",
                expected: F::DTYPE,
                got: self.dtype(),
            });
        }
        match &self.storage {
            Storage::Cuda(c) => {
                let v = c.to_host()?;
                Ok(v.into_iter().map(|x| F::from_f64(x as f64)).collect())
            }
            s => Ok(F::slice(s).expect("dtype checked").to_vec()),
        }
    }

    /// Borrows the host values; an error for a device tensor or another dtype.
    pub fn as_slice<F: Float>(&self) -> Result<&[F]> {
        let dtype = self.dtype();
        if let Storage::Cuda(_) = self.storage {
            return Err(Error::Unsupported {
                op: "Tensor::as_slice",
                reason: "the tensor lives on a CUDA device; copy it with to_device(&Device::Cpu)"
                    .into(),
            });
        }
        F::slice(&self.storage).ok_or(Error::DTypeMismatch {
            op: "Tensor::as_slice",
            expected: F::DTYPE,
            got: dtype,
        })
    }

    /// Mutably borrows the host values; an error for a device tensor or another dtype.
    pub fn as_slice_mut<F: Float>(&mut self) -> Result<&mut [F]> {
        let dtype = self.dtype();
        if let Storage::Cuda(_) = self.storage {
            return Err(Error::Unsupported {
                op: "Tensor::as_slice_mut",
                reason: "the tensor lives on a CUDA device; copy it with to_device(&Device::Cpu)"
                    .into(),
            });
        }
        F::slice_mut(&mut self.storage).ok_or(Error::DTypeMismatch {
            op: "Tensor::as_slice_mut",
            expected: F::DTYPE,
            got: dtype,
        })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.storage {
            Storage::F32(_) | Storage::Cuda(_) => DType::F32,
            Storage::F64(_) => DType::F64,
        }
    }

    /// The device the data lives on.
    pub fn device(&self) -> Device {
        match &self.storage {
            Storage::Cuda(c) => Device::Cuda(c.device()),
            _ => Device::Cpu,
        }
    }

    /// The storage, for ops' dispatch.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The storage, mutably, for in-place ops.
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// Same data, new shape with the same element count.
    pub fn reshape(self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::shape("Tensor::reshape", &self.shape, shape));
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            storage: self.storage,
        })
    }

    /// A deep copy on the same device.
    pub fn try_clone(&self) -> Result<Tensor> {
        let storage = match &self.storage {
            Storage::F32(v) => Storage::F32(v.clone()),
            Storage::F64(v) => Storage::F64(v.clone()),
            Storage::Cuda(c) => Storage::Cuda(c.try_clone()?),
        };
        Ok(Tensor {
            shape: self.shape.clone(),
            storage,
        })
    }

    /// A copy on `device`. f64 tensors cannot go to a GPU (convert with [`Tensor::to_dtype`]).
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        let storage = match (&self.storage, device) {
            (Storage::Cuda(c), Device::Cpu) => Storage::F32(c.to_host()?),
            (Storage::Cuda(c), Device::Cuda(d)) if c.device().ordinal() == d.ordinal() => {
                Storage::Cuda(c.try_clone()?)
            }
            (Storage::Cuda(c), Device::Cuda(d)) => {
                Storage::Cuda(crate::cuda_upload(d, &c.to_host()?)?)
            }
            (Storage::F32(v), Device::Cuda(d)) => Storage::Cuda(crate::cuda_upload(d, v)?),
            (Storage::F64(_), Device::Cuda(_)) => {
                return Err(Error::Unsupported {
                    op: "Tensor::to_device",
                    reason: "f64 tensors live on the CPU only; convert with to_dtype(F32) first"
                        .into(),
                });
            }
            (_, Device::Cpu) => return self.try_clone(),
        };
        Ok(Tensor {
            shape: self.shape.clone(),
            storage,
        })
    }

    /// A host copy converted to `dtype` (device tensors are copied to the host first).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        let storage = match (&self.storage, dtype) {
            (Storage::F32(v), DType::F64) => Storage::F64(v.iter().map(|&x| x as f64).collect()),
            (Storage::F64(v), DType::F32) => Storage::F32(v.iter().map(|&x| x as f32).collect()),
            (Storage::Cuda(c), DType::F64) => {
                Storage::F64(c.to_host()?.into_iter().map(|x| x as f64).collect())
            }
            (Storage::Cuda(c), DType::F32) => Storage::F32(c.to_host()?),
            _ => return self.try_clone(),
        };
        Ok(Tensor {
            shape: self.shape.clone(),
            storage,
        })
    }

    /// Checks this tensor has `shape`, naming `op` in the error.
    pub fn expect_shape(&self, op: &'static str, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(Error::shape(op, shape, &self.shape));
        }
        Ok(())
    }

    /// Checks that `other` has the same shape, dtype and device as `self`.
    pub fn expect_like(&self, op: &'static str, other: &Tensor) -> Result<()> {
        other.expect_shape(op, &self.shape)?;
        self.expect_same_kind(op, other)
    }

    /// Checks that `other` has the same dtype and device as `self` (shapes may differ).
    pub fn expect_same_kind(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if other.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch {
                op,
                expected: self.dtype(),
                got: other.dtype(),
            });
        }
        if !self.device().same_as(&other.device()) {
            return Err(Error::DeviceMismatch {
                op,
                a: self.device().to_string(),
                b: other.device().to_string(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor({:?}, {}, {})",
            self.shape,
            self.dtype(),
            self.device()
        )
    }
}
