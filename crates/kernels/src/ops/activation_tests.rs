//! The tests every unary activation (`silu`, `sigmoid`, `relu2`) runs, written once: each op's
//! `tests.rs` names its functions in an [`Activation`] and calls these checks from its own
//! `#[test]`s (and its `gpu_test!`), so a failure still names the op and the test.

use crate::testing::*;
use crate::{Result, Tensor};

/// An activation `y = f(x)` with backward `dx = dy·f'(x)`, and its f64 references.
pub struct Activation {
    /// Name used in failure messages.
    pub name: &'static str,
    pub forward: fn(&Tensor) -> Result<Tensor>,
    pub backward: fn(&Tensor, &Tensor) -> Result<Tensor>,
    pub forward_ref: fn(&[f64]) -> Vec<f64>,
    pub backward_ref: fn(&[f64], &[f64]) -> Vec<f64>,
}

/// Seeded `(x, dy)`: x ~ 4·N(0, 1) with large magnitudes (±120, ±1e4, ±30) and an exact zero
/// planted at the front, so exp-based kernels must neither overflow nor produce NaN.
pub fn inputs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    let mut x: Vec<f64> = randn(&mut r, n).iter().map(|v| 4.0 * v).collect();
    if n >= 4 {
        x[..3].copy_from_slice(&[120.0, -120.0, 0.0]);
    }
    if n >= 8 {
        x[3..7].copy_from_slice(&[1e4, -1e4, 30.0, -30.0]);
    }
    (x, randn(&mut r, n))
}

fn f32_tensor(v: &[f64]) -> Tensor {
    Tensor::from_vec(to_f32(v), &[v.len()]).unwrap()
}

fn f64_tensor(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

/// The CPU kernel, f32 and f64, forward and backward, matches the reference on
/// [`AWKWARD_SIZES`]: f32 within 1e-6 + 1e-5 relative of the reference at the f32-rounded
/// inputs, and finite; f64 within 1e-14 + 1e-13 relative.
pub fn check_cpu_matches_reference(op: &Activation) {
    let name = op.name;
    for &n in AWKWARD_SIZES {
        let (x, dy) = inputs(n, n as u64);
        let (xt, dyt) = (f32_tensor(&x), f32_tensor(&dy));
        let x32 = to_f64(&to_f32(&x));
        let dy32 = to_f64(&to_f32(&dy));
        let y = (op.forward)(&xt).unwrap().to_vec::<f32>().unwrap();
        let y_ref = (op.forward_ref)(&x32);
        assert_close(&format!("{name} fwd f32"), &y, &y_ref, 1e-6, 1e-5);
        let dx = (op.backward)(&xt, &dyt).unwrap().to_vec::<f32>().unwrap();
        let dx_ref = (op.backward_ref)(&x32, &dy32);
        assert_close(&format!("{name} bwd f32"), &dx, &dx_ref, 1e-6, 1e-5);
        assert!(
            y.iter().chain(&dx).all(|v| v.is_finite()),
            "{name}: non-finite output"
        );

        let (x64, dy64) = (f64_tensor(&x), f64_tensor(&dy));
        let y = (op.forward)(&x64).unwrap().to_vec::<f64>().unwrap();
        let y_ref = (op.forward_ref)(&x);
        assert_close(&format!("{name} fwd f64"), &y, &y_ref, 1e-14, 1e-13);
        let dx = (op.backward)(&x64, &dy64).unwrap().to_vec::<f64>().unwrap();
        let dx_ref = (op.backward_ref)(&x, &dy);
        assert_close(&format!("{name} bwd f64"), &dx, &dx_ref, 1e-14, 1e-13);
    }
}

/// The reference backward agrees with f64 central differences (step `eps`, tolerance 1e-6) of
/// `Σ f(x)·w` at 97 points `probe(x)`, and the CPU kernel's f64 backward equals the reference.
pub fn check_backward_finite_differences(op: &Activation, eps: f64, probe: fn(f64) -> f64) {
    let (x, w) = inputs(97, 7);
    let x: Vec<f64> = x.into_iter().map(probe).collect();
    let dx = (op.backward_ref)(&x, &w);
    let mut f = |x: &[f64]| dot(&(op.forward_ref)(x), &w);
    fd_check(op.name, &mut f, &x, &dx, eps, 1e-6).unwrap();
    let got = (op.backward)(&f64_tensor(&x), &f64_tensor(&w)).unwrap();
    let what = format!("{} bwd cpu f64 vs ref", op.name);
    assert_close(&what, &got.to_vec::<f64>().unwrap(), &dx, 1e-14, 1e-12);
}

/// A `dy` of another shape is `ShapeMismatch`, of another dtype `DTypeMismatch`.
pub fn check_bad_input_is_a_typed_error(op: &Activation) {
    let x = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_vec(vec![1.0f32; 6], &[3, 2]).unwrap();
    assert!(matches!(
        (op.backward)(&x, &dy),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let dy64 = Tensor::from_vec(vec![1.0f64; 6], &[2, 3]).unwrap();
    assert!(matches!(
        (op.backward)(&x, &dy64),
        Err(crate::Error::DTypeMismatch { .. })
    ));
}

/// On the CUDA device, forward and backward meet [`assert_gpu_rule`] against the CPU f32
/// kernel and the reference, on [`AWKWARD_SIZES`]. Call it from a `gpu_test!`.
pub fn check_cuda_matches_cpu(op: &Activation) {
    let dev = cuda_test_device();
    let name = op.name;
    for &n in AWKWARD_SIZES {
        let (x, dy) = inputs(n, 100 + n as u64);
        let (xt, dyt) = (f32_tensor(&x), f32_tensor(&dy));
        let x32 = to_f64(&to_f32(&x));
        let dy32 = to_f64(&to_f32(&dy));
        let cpu_y = (op.forward)(&xt).unwrap().to_vec::<f32>().unwrap();
        let cpu_dx = (op.backward)(&xt, &dyt).unwrap().to_vec::<f32>().unwrap();
        let (gx, gdy) = (xt.to_device(&dev).unwrap(), dyt.to_device(&dev).unwrap());
        let gy = (op.forward)(&gx).unwrap().to_vec::<f32>().unwrap();
        let gdx = (op.backward)(&gx, &gdy).unwrap().to_vec::<f32>().unwrap();
        let y_ref = (op.forward_ref)(&x32);
        assert_gpu_rule(&format!("{name} fwd"), &gy, &cpu_y, &y_ref);
        let dx_ref = (op.backward_ref)(&x32, &dy32);
        assert_gpu_rule(&format!("{name} bwd"), &gdx, &cpu_dx, &dx_ref);
    }
}

/// `activation_tests!(OP)` defines the tests every activation shares, each calling the check
/// above of the same name on `OP`: `cpu_matches_reference_f32_and_f64`,
/// `bad_input_is_a_typed_error`, and the `gpu_test!` `cuda_matches_cpu`. The finite-difference
/// test stays in each op's `tests.rs` (its step and probe points differ).
macro_rules! activation_tests {
    ($op:expr) => {
        #[test]
        fn cpu_matches_reference_f32_and_f64() {
            $crate::ops::activation_tests::check_cpu_matches_reference(&$op);
        }

        #[test]
        fn bad_input_is_a_typed_error() {
            $crate::ops::activation_tests::check_bad_input_is_a_typed_error(&$op);
        }

        $crate::gpu_test! {
            fn cuda_matches_cpu() {
                $crate::ops::activation_tests::check_cuda_matches_cpu(&$op);
            }
        }
    };
}
pub(crate) use activation_tests;
