use super::*;
use crate::testing::*;

fn inputs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    (randn(&mut r, n), randn(&mut r, n))
}

#[test]
fn cpu_matches_reference() {
    for &n in AWKWARD_SIZES {
        let (a, b) = inputs(n, n as u64);
        let (a32, b32) = (to_f64(&to_f32(&a)), to_f64(&to_f32(&b)));
        let at = Tensor::from_vec(to_f32(&a), &[n]).unwrap();
        let bt = Tensor::from_vec(to_f32(&b), &[n]).unwrap();
        let y = add_forward(&at, &bt).unwrap().to_vec::<f32>().unwrap();
        assert_close("add f32", &y, &add_forward_ref(&a32, &b32), 1e-6, 1e-6);
        let mut acc = at.try_clone().unwrap();
        add_assign(&mut acc, &bt).unwrap();
        assert_eq!(acc.to_vec::<f32>().unwrap(), y);
        let a64 = Tensor::from_vec(a.clone(), &[n]).unwrap();
        let b64 = Tensor::from_vec(b.clone(), &[n]).unwrap();
        let y = add_forward(&a64, &b64).unwrap().to_vec::<f64>().unwrap();
        assert_close("add f64", &y, &add_forward_ref(&a, &b), 0.0, 0.0);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let a = Tensor::from_vec(vec![1.0f32; 4], &[4]).unwrap();
    let b = Tensor::from_vec(vec![1.0f32; 5], &[5]).unwrap();
    assert!(matches!(
        add_forward(&a, &b),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut a2 = a.try_clone().unwrap();
    assert!(matches!(
        add_assign(&mut a2, &b),
        Err(Error::ShapeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for &n in AWKWARD_SIZES {
            let (a, b) = inputs(n, 50 + n as u64);
            let (a32, b32) = (to_f64(&to_f32(&a)), to_f64(&to_f32(&b)));
            let at = Tensor::from_vec(to_f32(&a), &[n]).unwrap();
            let bt = Tensor::from_vec(to_f32(&b), &[n]).unwrap();
            let cpu = add_forward(&at, &bt).unwrap().to_vec::<f32>().unwrap();
            let (ga, gb) = (at.to_device(&dev).unwrap(), bt.to_device(&dev).unwrap());
            let gpu = add_forward(&ga, &gb).unwrap().to_vec::<f32>().unwrap();
            assert_gpu_rule("add", &gpu, &cpu, &add_forward_ref(&a32, &b32));
            let mut acc = ga.try_clone().unwrap();
            add_assign(&mut acc, &gb).unwrap();
            assert_gpu_rule("add_assign", &acc.to_vec::<f32>().unwrap(), &cpu, &add_forward_ref(&a32, &b32));
        }
    }
}
