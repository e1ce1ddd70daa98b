use super::*;
use crate::testing::*;

fn inputs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    (randn(&mut r, n), randn(&mut r, n), randn(&mut r, n))
}

fn t32(v: &[f64]) -> Tensor {
    Tensor::from_vec(to_f32(v), &[v.len()]).unwrap()
}

#[test]
fn cpu_matches_reference() {
    for &n in AWKWARD_SIZES {
        let (a, b, dy) = inputs(n, n as u64);
        let r = |v: &[f64]| to_f64(&to_f32(v));
        let (a32, b32, dy32) = (r(&a), r(&b), r(&dy));
        // One rounding of an exact product: |err| ≤ ½ ulp.
        let y = mul_forward(&t32(&a), &t32(&b))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert_close("mul f32", &y, &mul_forward_ref(&a32, &b32), 0.0, 6e-8);
        let (da, db) = mul_backward(&t32(&a), &t32(&b), &t32(&dy)).unwrap();
        let (da_ref, db_ref) = mul_backward_ref(&a32, &b32, &dy32);
        assert_close(
            "mul da f32",
            &da.to_vec::<f32>().unwrap(),
            &da_ref,
            0.0,
            6e-8,
        );
        assert_close(
            "mul db f32",
            &db.to_vec::<f32>().unwrap(),
            &db_ref,
            0.0,
            6e-8,
        );

        let t64 = |v: &[f64]| Tensor::from_vec(v.to_vec(), &[n]).unwrap();
        let y = mul_forward(&t64(&a), &t64(&b))
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert_close("mul f64", &y, &mul_forward_ref(&a, &b), 0.0, 0.0);
        let (da, db) = mul_backward(&t64(&a), &t64(&b), &t64(&dy)).unwrap();
        let (da_ref, db_ref) = mul_backward_ref(&a, &b, &dy);
        assert_close(
            "mul da f64",
            &da.to_vec::<f64>().unwrap(),
            &da_ref,
            0.0,
            0.0,
        );
        assert_close(
            "mul db f64",
            &db.to_vec::<f64>().unwrap(),
            &db_ref,
            0.0,
            0.0,
        );
    }
}

#[test]
fn backward_matches_finite_differences() {
    let (a, b, w) = inputs(97, 7);
    let (da, db) = mul_backward_ref(&a, &b, &w);
    let mut fa = |x: &[f64]| dot(&mul_forward_ref(x, &b), &w);
    fd_check("mul da", &mut fa, &a, &da, 1e-6, 1e-6).unwrap();
    let mut fb = |x: &[f64]| dot(&mul_forward_ref(&a, x), &w);
    fd_check("mul db", &mut fb, &b, &db, 1e-6, 1e-6).unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let a = Tensor::from_vec(vec![1.0f32; 4], &[4]).unwrap();
    let b = Tensor::from_vec(vec![1.0f32; 5], &[5]).unwrap();
    assert!(matches!(
        mul_forward(&a, &b),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        mul_backward(&a, &a, &b),
        Err(Error::ShapeMismatch { .. })
    ));
    let dy64 = Tensor::from_vec(vec![1.0f64; 4], &[4]).unwrap();
    assert!(matches!(
        mul_backward(&a, &a, &dy64),
        Err(Error::DTypeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for &n in AWKWARD_SIZES {
            let (a, b, dy) = inputs(n, 50 + n as u64);
            let r = |v: &[f64]| to_f64(&to_f32(v));
            let (a32, b32, dy32) = (r(&a), r(&b), r(&dy));
            let (at, bt, dyt) = (t32(&a), t32(&b), t32(&dy));
            let cpu = mul_forward(&at, &bt).unwrap().to_vec::<f32>().unwrap();
            let (cda, cdb) = mul_backward(&at, &bt, &dyt).unwrap();
            let g = |t: &Tensor| t.to_device(&dev).unwrap();
            let (ga, gb, gdy) = (g(&at), g(&bt), g(&dyt));
            let gpu = mul_forward(&ga, &gb).unwrap().to_vec::<f32>().unwrap();
            assert_gpu_rule("mul", &gpu, &cpu, &mul_forward_ref(&a32, &b32));
            let (gda, gdb) = mul_backward(&ga, &gb, &gdy).unwrap();
            let (da_ref, db_ref) = mul_backward_ref(&a32, &b32, &dy32);
            let v = |t: &Tensor| t.to_vec::<f32>().unwrap();
            assert_gpu_rule("mul da", &v(&gda), &v(&cda), &da_ref);
            assert_gpu_rule("mul db", &v(&gdb), &v(&cdb), &db_ref);
        }
    }
}
