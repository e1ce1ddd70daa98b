use super::*;
use crate::testing::*;
use crate::{Device, Tensor};

/// `(rows, n)` with awkward widths and row counts (the CPU row groups and the CUDA 32-column
/// tiles and 8-row slices all end mid-way somewhere).
const CASES: &[(usize, usize)] = &[
    (1, 1),
    (3, 7),
    (97, 31),
    (255, 33),
    (1025, 3),
    (4, 4099),
    (300, 257),
];

fn inputs(rows: usize, n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    (randn(&mut r, rows * n), randn(&mut r, n))
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for &(rows, n) in CASES {
        let (x, b) = inputs(rows, n, (rows * n) as u64);
        let what = format!("bias_add {rows}x{n}");
        let (x32, b32) = (to_f64(&to_f32(&x)), to_f64(&to_f32(&b)));
        let xt = Tensor::from_vec(to_f32(&x), &[rows, n]).unwrap();
        let bt = Tensor::from_vec(to_f32(&b), &[n]).unwrap();
        let y = bias_add_forward(&xt, &bt).unwrap().to_vec::<f32>().unwrap();
        // One f32 addition: correctly rounded.
        assert_close(&what, &y, &bias_add_forward_ref(&x32, &b32), 0.0, 6e-8);
        let db = bias_add_backward(&xt).unwrap().to_vec::<f32>().unwrap();
        // A column sum of `rows` O(1) values in f32: 1e-6·rows absolute.
        assert_close(
            &what,
            &db,
            &bias_add_backward_ref(&x32, n),
            1e-6 * rows as f64,
            1e-6,
        );

        let xt = Tensor::from_vec(x.clone(), &[rows, n]).unwrap();
        let bt = Tensor::from_vec(b.clone(), &[n]).unwrap();
        let y = bias_add_forward(&xt, &bt).unwrap().to_vec::<f64>().unwrap();
        assert_close(&what, &y, &bias_add_forward_ref(&x, &b), 0.0, 0.0);
        let db = bias_add_backward(&xt).unwrap().to_vec::<f64>().unwrap();
        assert_close(&what, &db, &bias_add_backward_ref(&x, n), 1e-13, 1e-13);
    }
}

#[test]
fn higher_rank_inputs_add_over_the_last_axis() {
    let (x, b) = inputs(6, 5, 3);
    let xt = Tensor::from_vec(x.clone(), &[2, 3, 5]).unwrap();
    let bt = Tensor::from_vec(b.clone(), &[5]).unwrap();
    let y = bias_add_forward(&xt, &bt).unwrap();
    assert_eq!(y.shape(), &[2, 3, 5]);
    assert_close(
        "rank 3",
        &y.to_vec::<f64>().unwrap(),
        &bias_add_forward_ref(&x, &b),
        0.0,
        0.0,
    );
}

#[test]
fn backward_matches_finite_differences() {
    let (rows, n) = (13, 9);
    let (x, b) = inputs(rows, n, 7);
    let mut r = rng(8);
    let w = randn(&mut r, rows * n);
    let wt = Tensor::from_vec(w.clone(), &[rows, n]).unwrap();
    let db = bias_add_backward(&wt).unwrap().to_vec::<f64>().unwrap();
    let f = |x: &[f64], b: &[f64]| {
        let y = bias_add_forward(
            &Tensor::from_vec(x.to_vec(), &[rows, n]).unwrap(),
            &Tensor::from_vec(b.to_vec(), &[n]).unwrap(),
        )
        .unwrap();
        dot(&y.to_vec::<f64>().unwrap(), &w)
    };
    fd_check("bias_add db", &mut |bb| f(&x, bb), &b, &db, 1e-6, 1e-7).unwrap();
    // dx = dy: the identity, checked the same way.
    fd_check("bias_add dx", &mut |xx| f(xx, &b), &x, &w, 1e-6, 1e-7).unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
    let b = Tensor::from_vec(vec![1.0f32; 2], &[2]).unwrap();
    assert!(matches!(
        bias_add_forward(&x, &b),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let b64 = Tensor::from_vec(vec![1.0f64; 3], &[3]).unwrap();
    assert!(matches!(
        bias_add_forward(&x, &b64),
        Err(crate::Error::DTypeMismatch { .. })
    ));
    let scalar = Tensor::from_vec(vec![1.0f32], &[]).unwrap();
    assert!(matches!(
        bias_add_backward(&scalar),
        Err(crate::Error::InvalidShape { .. })
    ));
    assert!(matches!(
        bias_add_forward(&scalar, &b),
        Err(crate::Error::InvalidShape { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for &(rows, n) in CASES {
            let (x, b) = inputs(rows, n, 100 + (rows * n) as u64);
            let what = format!("bias_add {rows}x{n}");
            let (x32, b32) = (to_f64(&to_f32(&x)), to_f64(&to_f32(&b)));
            let xt = Tensor::from_vec(to_f32(&x), &[rows, n]).unwrap();
            let bt = Tensor::from_vec(to_f32(&b), &[n]).unwrap();
            let (gx, gb) = (xt.to_device(&dev).unwrap(), bt.to_device(&dev).unwrap());
            let v = |t: Tensor| t.to_vec::<f32>().unwrap();
            assert_gpu_rule(&what, &v(bias_add_forward(&gx, &gb).unwrap()),
                &v(bias_add_forward(&xt, &bt).unwrap()), &bias_add_forward_ref(&x32, &b32));
            assert_gpu_rule(&what, &v(bias_add_backward(&gx).unwrap()),
                &v(bias_add_backward(&xt).unwrap()), &bias_add_backward_ref(&x32, n));
        }
        let _ = Device::Cpu;
    }
}
