//! Checks the norm layers (`LayerNorm`, `RmsNorm`, `ScaleNorm`) share, written once; each
//! layer's tests call them with its own layers and inputs, so a failure still names the test.

use crate::{Checkable, Error};
use kernels::testing::rel_err;
use kernels::{DType, Tensor};

/// The f32 layer's forward at `x64` rounded to f32 is within 1e-6 (relative) of the f64
/// layer's forward at `x64`.
pub fn assert_f32_forward_matches_f64(
    l32: &impl Checkable<Input = Tensor>,
    l64: &impl Checkable<Input = Tensor>,
    x64: &Tensor,
) {
    let x32 = x64.to_dtype(DType::F32).unwrap();
    let e = rel_err(
        &l32.check_forward(&x32).unwrap().to_vec::<f32>().unwrap(),
        &l64.check_forward(x64).unwrap().to_vec::<f64>().unwrap(),
    );
    assert!(e < 1e-6, "{e:e}");
}

/// An f32 layer of width 4: an input `[2, 5]` is a shape mismatch, with `check_dtype` an f64
/// input `[2, 4]` a dtype mismatch, and its parameters are named `names`.
pub fn assert_bad_inputs_rejected(
    l: &impl Checkable<Input = Tensor>,
    check_dtype: bool,
    names: &[&str],
) {
    let x = Tensor::from_vec(vec![0.0f32; 10], &[2, 5]).unwrap();
    assert!(matches!(
        l.check_forward(&x),
        Err(Error::Kernel(kernels::Error::ShapeMismatch { .. }))
    ));
    if check_dtype {
        let x64 = Tensor::from_vec(vec![0.0f64; 8], &[2, 4]).unwrap();
        assert!(matches!(
            l.check_forward(&x64),
            Err(Error::Kernel(kernels::Error::DTypeMismatch { .. }))
        ));
    }
    let got: Vec<String> = l.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(got, names);
}
