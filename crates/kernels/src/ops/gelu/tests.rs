use super::*;
use crate::Tensor;
use crate::testing::*;

const KINDS: [GeluKind; 2] = [GeluKind::Erf, GeluKind::Tanh];

fn inputs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    // Include large magnitudes: the exp/erf must neither overflow nor produce NaN.
    let mut x: Vec<f64> = randn(&mut r, n).iter().map(|v| 4.0 * v).collect();
    let specials = [120.0, -120.0, 0.0, 1e4, -1e4, 6.0, -6.0, -12.0];
    for (xi, s) in x.iter_mut().zip(specials).take(n / 2) {
        *xi = s;
    }
    (x, randn(&mut r, n))
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for kind in KINDS {
        for &n in AWKWARD_SIZES {
            let (x, dy) = inputs(n, n as u64);
            let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
            let dyt = Tensor::from_vec(to_f32(&dy), &[n]).unwrap();
            // Compare against the reference evaluated at the f32-rounded inputs.
            let x32 = to_f64(&to_f32(&x));
            let dy32 = to_f64(&to_f32(&dy));
            let y = gelu_forward(&xt, kind).unwrap().to_vec::<f32>().unwrap();
            let what = format!("gelu {kind:?} fwd f32");
            assert_close(&what, &y, &gelu_forward_ref(&x32, kind), 1e-6, 1e-5);
            let dx = gelu_backward(&xt, &dyt, kind)
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let what = format!("gelu {kind:?} bwd f32");
            assert_close(
                &what,
                &dx,
                &gelu_backward_ref(&x32, &dy32, kind),
                1e-6,
                1e-5,
            );
            assert!(
                y.iter().chain(&dx).all(|v| v.is_finite()),
                "non-finite output"
            );

            let x64 = Tensor::from_vec(x.clone(), &[n]).unwrap();
            let dy64 = Tensor::from_vec(dy.clone(), &[n]).unwrap();
            let y = gelu_forward(&x64, kind).unwrap().to_vec::<f64>().unwrap();
            assert_close(
                "gelu fwd f64",
                &y,
                &gelu_forward_ref(&x, kind),
                1e-14,
                1e-13,
            );
            let dx = gelu_backward(&x64, &dy64, kind)
                .unwrap()
                .to_vec::<f64>()
                .unwrap();
            let dx_ref = gelu_backward_ref(&x, &dy, kind);
            assert_close("gelu bwd f64", &dx, &dx_ref, 1e-14, 1e-13);
        }
    }
}

#[test]
fn tanh_form_is_close_to_erf_form() {
    // The approximation's own error is below 1e-3 absolute on [-6, 6] (a sanity check that
    // the two kinds are not swapped or mis-scaled).
    let x: Vec<f64> = (0..=1200).map(|i| -6.0 + i as f64 * 0.01).collect();
    let a = gelu_forward_ref(&x, GeluKind::Erf);
    let b = gelu_forward_ref(&x, GeluKind::Tanh);
    let worst = a
        .iter()
        .zip(&b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-3 && worst > 1e-5, "max |erf − tanh| = {worst:e}");
}

#[test]
fn backward_matches_finite_differences() {
    for kind in KINDS {
        let (x, w) = inputs(97, 7);
        let x: Vec<f64> = x.iter().map(|v| v.clamp(-6.0, 6.0)).collect();
        let dx = gelu_backward_ref(&x, &w, kind);
        let mut f = |x: &[f64]| dot(&gelu_forward_ref(x, kind), &w);
        fd_check("gelu", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();
        // The CPU kernel's f64 instantiation must agree with the reference.
        let xt = Tensor::from_vec(x.clone(), &[97]).unwrap();
        let wt = Tensor::from_vec(w.clone(), &[97]).unwrap();
        let got = gelu_backward(&xt, &wt, kind)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert_close("gelu bwd cpu f64 vs ref", &got, &dx, 1e-14, 1e-12);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_vec(vec![1.0f32; 6], &[3, 2]).unwrap();
    assert!(matches!(
        gelu_backward(&x, &dy, GeluKind::Erf),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let dy64 = Tensor::from_vec(vec![1.0f64; 6], &[2, 3]).unwrap();
    assert!(matches!(
        gelu_backward(&x, &dy64, GeluKind::Tanh),
        Err(crate::Error::DTypeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for kind in KINDS {
            for &n in AWKWARD_SIZES {
                let (x, dy) = inputs(n, 100 + n as u64);
                let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
                let dyt = Tensor::from_vec(to_f32(&dy), &[n]).unwrap();
                let x32 = to_f64(&to_f32(&x));
                let dy32 = to_f64(&to_f32(&dy));
                let cpu_y = gelu_forward(&xt, kind).unwrap().to_vec::<f32>().unwrap();
                let cpu_dx = gelu_backward(&xt, &dyt, kind).unwrap().to_vec::<f32>().unwrap();
                let (gx, gdy) = (xt.to_device(&dev).unwrap(), dyt.to_device(&dev).unwrap());
                let gy = gelu_forward(&gx, kind).unwrap().to_vec::<f32>().unwrap();
                let gdx = gelu_backward(&gx, &gdy, kind).unwrap().to_vec::<f32>().unwrap();
                assert_gpu_rule("gelu fwd", &gy, &cpu_y, &gelu_forward_ref(&x32, kind));
                let dx_ref = gelu_backward_ref(&x32, &dy32, kind);
                assert_gpu_rule("gelu bwd", &gdx, &cpu_dx, &dx_ref);
            }
        }
    }
}
