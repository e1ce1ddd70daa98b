use super::*;
use crate::testing::*;

const ALPHA: f64 = -0.37;

fn inputs(n: usize, seed: u64) -> Vec<f64> {
    randn(&mut rng(seed), n)
}

#[test]
fn cpu_matches_reference() {
    let a32 = ALPHA as f32 as f64;
    for &n in AWKWARD_SIZES {
        let x = inputs(n, n as u64);
        let x32 = to_f64(&to_f32(&x));
        let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
        // One rounding of an exact product: |err| ≤ ½ ulp.
        let y = scale_forward(&xt, ALPHA).unwrap().to_vec::<f32>().unwrap();
        assert_close("scale f32", &y, &scale_forward_ref(&x32, a32), 0.0, 6e-8);
        let dx = scale_backward(&xt, ALPHA).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(dx, y);
        let mut inplace = xt.try_clone().unwrap();
        scale_assign(&mut inplace, ALPHA).unwrap();
        assert_eq!(inplace.to_vec::<f32>().unwrap(), y);

        let xt = Tensor::from_vec(x.clone(), &[n]).unwrap();
        let y = scale_forward(&xt, ALPHA).unwrap().to_vec::<f64>().unwrap();
        assert_close("scale f64", &y, &scale_forward_ref(&x, ALPHA), 0.0, 0.0);
        let mut inplace = xt.try_clone().unwrap();
        scale_assign(&mut inplace, ALPHA).unwrap();
        assert_eq!(inplace.to_vec::<f64>().unwrap(), y);
    }
}

#[test]
fn backward_matches_finite_differences() {
    let x = inputs(97, 7);
    let w = inputs(97, 8);
    let dy = Tensor::from_vec(w.clone(), &[97]).unwrap();
    let dx = scale_backward(&dy, ALPHA).unwrap().to_vec::<f64>().unwrap();
    let mut f = |x: &[f64]| dot(&scale_forward_ref(x, ALPHA), &w);
    fd_check("scale", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut x = Tensor::from_vec(vec![1.0f32; 4], &[4]).unwrap();
    for bad in [f64::NAN, f64::INFINITY] {
        assert!(matches!(
            scale_forward(&x, bad),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            scale_backward(&x, bad),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            scale_assign(&mut x, bad),
            Err(Error::InvalidArgument { .. })
        ));
    }
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        let a32 = ALPHA as f32 as f64;
        for &n in AWKWARD_SIZES {
            let x = inputs(n, 50 + n as u64);
            let x32 = to_f64(&to_f32(&x));
            let xt = Tensor::from_vec(to_f32(&x), &[n]).unwrap();
            let cpu = scale_forward(&xt, ALPHA).unwrap().to_vec::<f32>().unwrap();
            let gx = xt.to_device(&dev).unwrap();
            let gpu = scale_forward(&gx, ALPHA).unwrap().to_vec::<f32>().unwrap();
            let reference = scale_forward_ref(&x32, a32);
            assert_gpu_rule("scale", &gpu, &cpu, &reference);
            let mut g = gx.try_clone().unwrap();
            scale_assign(&mut g, ALPHA).unwrap();
            assert_gpu_rule("scale_assign", &g.to_vec::<f32>().unwrap(), &cpu, &reference);
        }
    }
}
