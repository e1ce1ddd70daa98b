//! Element types. The CPU kernels are generic over [`Float`], so the same code runs in f32 for
//! speed and in f64 for references and gradient checks.

use std::fmt;

/// The element type of a tensor: f32 everywhere, f64 on the CPU (references, gradient checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// A float the CPU kernels run on: `f32` or `f64`.
pub trait Float:
    num_traits::Float
    + num_traits::FloatConst
    + num_traits::NumAssign
    + std::iter::Sum
    + Send
    + Sync
    + Copy
    + Default
    + fmt::Debug
    + fmt::Display
    + 'static
{
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Converts from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Converts to f64 (exact).
    fn to_f64(self) -> f64;
    /// Wraps a vector in CPU storage.
    fn into_storage(v: Vec<Self>) -> crate::Storage;
    /// Borrows CPU storage of this type, if it is.
    fn slice(s: &crate::Storage) -> Option<&[Self]>;
    /// Mutably borrows CPU storage of this type, if it is.
    fn slice_mut(s: &mut crate::Storage) -> Option<&mut [Self]>;
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn into_storage(v: Vec<Self>) -> crate::Storage {
        crate::Storage::F32(v)
    }
    fn slice(s: &crate::Storage) -> Option<&[Self]> {
        match s {
            crate::Storage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn slice_mut(s: &mut crate::Storage) -> Option<&mut [Self]> {
        match s {
            crate::Storage::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    fn into_storage(v: Vec<Self>) -> crate::Storage {
        crate::Storage::F64(v)
    }
    fn slice(s: &crate::Storage) -> Option<&[Self]> {
        match s {
            crate::Storage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn slice_mut(s: &mut crate::Storage) -> Option<&mut [Self]> {
        match s {
            crate::Storage::F64(v) => Some(v),
            _ => None,
        }
    }
}
