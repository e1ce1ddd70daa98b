use super::*;
use crate::testing::*;

fn inputs(len: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    let x: Vec<f64> = randn(&mut r, len).iter().map(|v| 3.0 * v).collect();
    (x, randn(&mut r, len))
}

/// Option sets every size is tried with: plain, scaled, causal, padded, both.
fn option_sets(batch: usize, n: usize) -> Vec<(SoftmaxOpts<'static>, Vec<usize>)> {
    let lens: Vec<usize> = (0..batch).map(|b| (n * (b + 1)) / (batch + 1)).collect();
    vec![
        (SoftmaxOpts::default(), vec![]),
        (
            SoftmaxOpts {
                scale: 0.37,
                causal: true,
                key_lengths: None,
            },
            vec![],
        ),
        (
            SoftmaxOpts {
                scale: -1.3,
                causal: false,
                key_lengths: None,
            },
            lens.clone(),
        ),
        (
            SoftmaxOpts {
                scale: 1.0,
                causal: true,
                key_lengths: None,
            },
            lens,
        ),
    ]
}

fn with_lengths<'a>(o: &SoftmaxOpts<'a>, lens: &'a [usize]) -> SoftmaxOpts<'a> {
    SoftmaxOpts {
        key_lengths: if lens.is_empty() { None } else { Some(lens) },
        ..*o
    }
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for &n in AWKWARD_SIZES {
        // [batch 2, n_q 3, n_k n]: the causal mask hides whole rows when n < 3.
        let shape = [2, 3, n];
        let (x, dy) = inputs(6 * n, n as u64);
        for (o, lens) in option_sets(2, n) {
            let o = with_lengths(&o, &lens);
            let y_ref = softmax_forward_ref(&x, &shape, &o);
            let dx_ref = softmax_backward_ref(&y_ref, &dy, o.scale, n);
            let x64 = Tensor::from_vec(x.clone(), &shape).unwrap();
            let y = softmax_forward(&x64, &o).unwrap();
            assert_close(
                "softmax fwd f64",
                &y.to_vec::<f64>().unwrap(),
                &y_ref,
                1e-15,
                1e-12,
            );
            let dy64 = Tensor::from_vec(dy.clone(), &shape).unwrap();
            let dx = softmax_backward(&y, &dy64, o.scale).unwrap();
            assert_close(
                "softmax bwd f64",
                &dx.to_vec::<f64>().unwrap(),
                &dx_ref,
                1e-14,
                1e-11,
            );

            // f32 against the reference at the f32-rounded inputs; the rtol grows with the
            // row length (the sum and the dot are n-term reductions).
            let (x32, dy32) = (to_f64(&to_f32(&x)), to_f64(&to_f32(&dy)));
            let y_ref = softmax_forward_ref(&x32, &shape, &o);
            let xt = Tensor::from_vec(to_f32(&x), &shape).unwrap();
            let y = softmax_forward(&xt, &o).unwrap();
            let rtol = 1e-5 + 1e-7 * n as f64;
            assert_close(
                "softmax fwd f32",
                &y.to_vec::<f32>().unwrap(),
                &y_ref,
                1e-7,
                rtol,
            );
            let y_r32 = to_f64(&y.to_vec::<f32>().unwrap());
            let dyt = Tensor::from_vec(to_f32(&dy), &shape).unwrap();
            let dx = softmax_backward(&y, &dyt, o.scale).unwrap();
            let dx_ref = softmax_backward_ref(&y_r32, &dy32, o.scale, n);
            assert_close(
                "softmax bwd f32",
                &dx.to_vec::<f32>().unwrap(),
                &dx_ref,
                1e-6,
                rtol,
            );
        }
    }
}

#[test]
fn large_magnitudes_are_stable() {
    // candle's case: softmax([1234, 0]) = [1, 0] with no overflow.
    for (x, want) in [
        (vec![1234.0, 0.0], vec![1.0, 0.0]),
        (vec![0.0, -1234.0], vec![1.0, 0.0]),
        (vec![-1234.0, -1234.0], vec![0.5, 0.5]),
        (vec![1e30, 1e30, 1e30, 1e30], vec![0.25; 4]),
    ] {
        let n = x.len();
        let y = softmax_forward(
            &Tensor::from_vec(to_f32(&x), &[n]).unwrap(),
            &Default::default(),
        )
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
        assert_close("softmax large f32", &y, &want, 0.0, 0.0);
        let y = softmax_forward(&Tensor::from_vec(x, &[n]).unwrap(), &Default::default())
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert_close("softmax large f64", &y, &want, 0.0, 0.0);
    }
    // 1000 rows spanning ±1e4: no NaN, every row sums to 1.
    let (x, _) = inputs(1000 * 7, 3);
    let x: Vec<f64> = x.iter().map(|v| 3000.0 * v).collect();
    let y = softmax_forward(
        &Tensor::from_vec(to_f32(&x), &[1000, 7]).unwrap(),
        &Default::default(),
    )
    .unwrap()
    .to_vec::<f32>()
    .unwrap();
    for row in y.chunks(7) {
        assert!(row.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn masked_entries_are_exactly_zero_and_full_masks_give_zero_rows() {
    // [batch 2, n_q 4, n_k 3]: causal with n_q > n_k hides all of row 0 (j ≤ i − 1).
    let shape = [2, 4, 3];
    let (x, dy) = inputs(24, 11);
    let lens = [2usize, 0];
    let o = SoftmaxOpts {
        scale: 0.5,
        causal: true,
        key_lengths: Some(&lens),
    };
    let y = softmax_forward(&Tensor::from_vec(x.clone(), &shape).unwrap(), &o).unwrap();
    let yv = y.to_vec::<f64>().unwrap();
    for (r, row) in yv.chunks(3).enumerate() {
        let (b, i) = (r / 4, r % 4);
        let visible = lens[b].min(i); // j ≤ i − 1 and j < len
        for (j, &v) in row.iter().enumerate() {
            if j >= visible {
                assert_eq!(v, 0.0, "row {r} key {j} must be masked");
            } else {
                assert!(v > 0.0);
            }
        }
        let sum: f64 = row.iter().sum();
        let want = if visible == 0 { 0.0 } else { 1.0 };
        assert!((sum - want).abs() < 1e-12, "row {r} sums to {sum}");
    }
    // Fully masked rows (batch 1 entirely, row 0 of batch 0) have zero gradient too.
    let dx = softmax_backward(&y, &Tensor::from_vec(dy, &shape).unwrap(), 0.5).unwrap();
    let dxv = dx.to_vec::<f64>().unwrap();
    assert!(dxv[..3].iter().chain(&dxv[12..]).all(|&v| v == 0.0));
    // The causal mask with n_k > n_q: the 2 queries are the last 2 of 5 keys.
    let o = SoftmaxOpts {
        causal: true,
        ..Default::default()
    };
    let y = softmax_forward(&Tensor::from_vec(vec![0.0f64; 10], &[2, 5]).unwrap(), &o).unwrap();
    let want = [0.25, 0.25, 0.25, 0.25, 0.0, 0.2, 0.2, 0.2, 0.2, 0.2];
    assert_close(
        "causal n_k > n_q",
        &y.to_vec::<f64>().unwrap(),
        &want,
        1e-15,
        0.0,
    );
}

#[test]
fn backward_matches_finite_differences() {
    let lens = [5usize, 3];
    for o in [
        SoftmaxOpts::default(),
        SoftmaxOpts {
            scale: 0.8,
            causal: true,
            key_lengths: Some(&lens),
        },
    ] {
        let shape = [2, 4, 7];
        let (x, w) = inputs(56, 5);
        let y = softmax_forward(&Tensor::from_vec(x.clone(), &shape).unwrap(), &o).unwrap();
        let dx = softmax_backward(&y, &Tensor::from_vec(w.clone(), &shape).unwrap(), o.scale)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        let mut f = |x: &[f64]| {
            let t = Tensor::from_vec(x.to_vec(), &shape).unwrap();
            dot(
                &softmax_forward(&t, &o).unwrap().to_vec::<f64>().unwrap(),
                &w,
            )
        };
        let rep = fd_check("softmax", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();
        assert_eq!(rep.probes, 56);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0f32; 12], &[2, 6]).unwrap();
    let bad_lens = [3usize];
    let too_long = [3usize, 7];
    let cases = [
        SoftmaxOpts {
            key_lengths: Some(&bad_lens),
            ..Default::default()
        },
        SoftmaxOpts {
            key_lengths: Some(&too_long),
            ..Default::default()
        },
        SoftmaxOpts {
            scale: f64::NAN,
            ..Default::default()
        },
    ];
    for o in cases {
        assert!(matches!(
            softmax_forward(&x, &o),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let x1 = Tensor::from_vec(vec![0.0f32; 6], &[6]).unwrap();
    let causal = SoftmaxOpts {
        causal: true,
        ..Default::default()
    };
    assert!(matches!(
        softmax_forward(&x1, &causal),
        Err(Error::InvalidShape { .. })
    ));
    let scalar = Tensor::from_vec(vec![0.0f32], &[]).unwrap();
    assert!(matches!(
        softmax_forward(&scalar, &Default::default()),
        Err(Error::InvalidShape { .. })
    ));
    let dy = Tensor::from_vec(vec![0.0f32; 12], &[6, 2]).unwrap();
    assert!(matches!(
        softmax_backward(&x, &dy, 1.0),
        Err(Error::ShapeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for &n in AWKWARD_SIZES {
            let shape = [2, 3, n];
            let (x, dy) = inputs(6 * n, 200 + n as u64);
            let (x32, dy32) = (to_f64(&to_f32(&x)), to_f64(&to_f32(&dy)));
            for (o, lens) in option_sets(2, n) {
                let o = with_lengths(&o, &lens);
                let xt = Tensor::from_vec(to_f32(&x), &shape).unwrap();
                let dyt = Tensor::from_vec(to_f32(&dy), &shape).unwrap();
                let cy = softmax_forward(&xt, &o).unwrap();
                let cdx = softmax_backward(&cy, &dyt, o.scale).unwrap().to_vec::<f32>().unwrap();
                let gy = softmax_forward(&xt.to_device(&dev).unwrap(), &o).unwrap();
                let gdx = softmax_backward(&gy, &dyt.to_device(&dev).unwrap(), o.scale).unwrap();
                let y_ref = softmax_forward_ref(&x32, &shape, &o);
                let gyv = gy.to_vec::<f32>().unwrap();
                assert_gpu_rule("softmax fwd", &gyv, &cy.to_vec::<f32>().unwrap(), &y_ref);
                // Masked entries are exactly zero on the GPU as well.
                for (g, r) in gyv.iter().zip(&y_ref) {
                    assert!(*r != 0.0 || *g == 0.0);
                }
                let dx_ref = softmax_backward_ref(&y_ref, &dy32, o.scale, n);
                assert_gpu_rule("softmax bwd", &gdx.to_vec::<f32>().unwrap(), &cdx, &dx_ref);
            }
        }
    }
}
