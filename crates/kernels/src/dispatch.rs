//! Macros that route an op to its CPU kernel (instantiated for f32 and f64) or its CUDA kernel.
//! The CUDA arm compiles only with the `cuda` feature; without it the storage type is
//! uninhabited and the arm is an empty match.

/// Evaluates `$gpu` with the `cuda` feature; without it, `$c` is uninhabited.
#[macro_export]
#[doc(hidden)]
macro_rules! on_cuda {
    ($c:ident, $gpu:expr) => {{
        #[cfg(feature = "cuda")]
        {
            $gpu
        }
        #[cfg(not(feature = "cuda"))]
        {
            match *$c {}
        }
    }};
}

/// `dispatch!(t, |v| cpu_expr, |c| cuda_expr)`: `v` is `&Vec<f32>` or `&Vec<f64>` (the CPU
/// expression is compiled once for each), `c` the [`CudaStorage`](crate::CudaStorage).
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($t:expr, |$v:ident| $cpu:expr, |$c:ident| $gpu:expr) => {
        match $t.storage() {
            $crate::Storage::F32($v) => $cpu,
            $crate::Storage::F64($v) => $cpu,
            $crate::Storage::Cuda($c) => $crate::on_cuda!($c, $gpu),
        }
    };
}

/// Like [`dispatch!`] for two tensors already checked to share dtype and device.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch2 {
    ($op:expr, $a:expr, $b:expr, |$va:ident, $vb:ident| $cpu:expr, |$ca:ident, $cb:ident| $gpu:expr) => {
        match ($a.storage(), $b.storage()) {
            ($crate::Storage::F32($va), $crate::Storage::F32($vb)) => $cpu,
            ($crate::Storage::F64($va), $crate::Storage::F64($vb)) => $cpu,
            ($crate::Storage::Cuda($ca), $crate::Storage::Cuda($cb)) => {
                let _ = &$cb;
                $crate::on_cuda!($ca, $gpu)
            }
            _ => Err($crate::Error::DeviceMismatch {
                op: $op,
                a: format!("{:?} {}", $a.device(), $a.dtype()),
                b: format!("{:?} {}", $b.device(), $b.dtype()),
            }),
        }
    };
}
