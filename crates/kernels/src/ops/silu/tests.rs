use super::*;
use crate::testing::*;
use crate::{Device, Tensor};

fn inputs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    // Include large magnitudes: exp must neither overflow nor produce NaN.
    let mut x: Vec<f64> = randn(&mut r, n).iter().map(|v| 4.0 * v).collect();
    if n >= 4 {
        x[0] = 120.0;
        x[1] = -120.0;
        x[2] = 0.0;
    }
    if n >= 8 {
        x[3] = 1e4;
        x[4] = -1e4;
        x[5] = 30.0;
        x[6] = -30.0;
    }
    (x, randn(&mut r, n))
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for &n in AWKWARD_SIZES {
        let (x, dy) = inputs(n, n as u64);
        let y_ref = silu_forward_ref(&x);
        let dx_ref = silu_backward_ref(&x, &dy);
        let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
        let dyt = Tensor::from_vec(to_f32(&dy), &[n]).unwrap();
        // Compare against the reference evaluated at the f32-rounded inputs.
        let x32 = to_f64(&to_f32(&x));
        let dy32 = to_f64(&to_f32(&dy));
        let y = silu_forward(&xt).unwrap().to_vec::<f32>().unwrap();
        assert_close("silu fwd f32", &y, &silu_forward_ref(&x32), 1e-6, 1e-5);
        let dx = silu_backward(&xt, &dyt).unwrap().to_vec::<f32>().unwrap();
        assert_close(
            "silu bwd f32",
            &dx,
            &silu_backward_ref(&x32, &dy32),
            1e-6,
            1e-5,
        );

        assert!(
            y.iter().chain(&dx).all(|v| v.is_finite()),
            "non-finite output"
        );
        let x64 = Tensor::from_vec(x.clone(), &[n]).unwrap();
        let dy64 = Tensor::from_vec(dy.clone(), &[n]).unwrap();
        let y = silu_forward(&x64).unwrap().to_vec::<f64>().unwrap();
        assert_close("silu fwd f64", &y, &y_ref, 1e-14, 1e-13);
        let dx = silu_backward(&x64, &dy64).unwrap().to_vec::<f64>().unwrap();
        assert_close("silu bwd f64", &dx, &dx_ref, 1e-14, 1e-13);
    }
}

#[test]
fn backward_matches_finite_differences() {
    let (x, w) = inputs(97, 7);
    let x: Vec<f64> = x.iter().map(|v| v.clamp(-6.0, 6.0)).collect();
    let dx = silu_backward_ref(&x, &w);
    let mut f = |x: &[f64]| dot(&silu_forward_ref(x), &w);
    fd_check("silu", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();
    // The CPU kernel's f64 instantiation is the same function.
    let xt = Tensor::from_vec(x.clone(), &[97]).unwrap();
    let wt = Tensor::from_vec(w.clone(), &[97]).unwrap();
    let got = silu_backward(&xt, &wt).unwrap().to_vec::<f64>().unwrap();
    assert_close("silu bwd cpu f64 vs ref", &got, &dx, 1e-14, 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_vec(vec![1.0f32; 6], &[3, 2]).unwrap();
    assert!(matches!(
        silu_backward(&x, &dy),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let dy64 = Tensor::from_vec(vec![1.0f64; 6], &[2, 3]).unwrap();
    assert!(matches!(
        silu_backward(&x, &dy64),
        Err(crate::Error::DTypeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for &n in AWKWARD_SIZES {
            let (x, dy) = inputs(n, 100 + n as u64);
            let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
            let dyt = Tensor::from_vec(to_f32(&dy), &[n]).unwrap();
            let x32 = to_f64(&to_f32(&x));
            let dy32 = to_f64(&to_f32(&dy));
            let cpu_y = silu_forward(&xt).unwrap().to_vec::<f32>().unwrap();
            let cpu_dx = silu_backward(&xt, &dyt).unwrap().to_vec::<f32>().unwrap();
            let (gx, gdy) = (xt.to_device(&dev).unwrap(), dyt.to_device(&dev).unwrap());
            let gy = silu_forward(&gx).unwrap().to_vec::<f32>().unwrap();
            let gdx = silu_backward(&gx, &gdy).unwrap().to_vec::<f32>().unwrap();
            assert_gpu_rule("silu fwd", &gy, &cpu_y, &silu_forward_ref(&x32));
            assert_gpu_rule("silu bwd", &gdx, &cpu_dx, &silu_backward_ref(&x32, &dy32));
        }
        let _ = Device::Cpu;
    }
}
