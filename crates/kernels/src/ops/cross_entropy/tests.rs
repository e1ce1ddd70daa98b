use super::*;
use crate::testing::*;
use rand::Rng;

const IGNORE: i64 = -100;

/// `rows` rows of logits (scale 3) and targets with about one row in five ignored.
fn inputs(rows: usize, vocab: usize, seed: u64) -> (Vec<f64>, Vec<i64>) {
    let mut r = rng(seed);
    let x = randn(&mut r, rows * vocab)
        .iter()
        .map(|v| 3.0 * v)
        .collect();
    let t = (0..rows)
        .map(|_| {
            if r.random::<f64>() < 0.2 {
                IGNORE
            } else {
                r.random_range(0..vocab as i64)
            }
        })
        .collect();
    (x, t)
}

fn run<F: crate::Float>(x: &[f64], t: &[i64], vocab: usize, dloss: f64) -> (f64, Vec<F>) {
    let xs: Vec<F> = x.iter().map(|&v| F::from_f64(v)).collect();
    let xt = Tensor::from_vec(xs, &[t.len(), vocab]).unwrap();
    let o = CrossEntropyOpts::default();
    let fwd = cross_entropy_forward(&xt, t, &o).unwrap();
    let dx = cross_entropy_backward(&xt, t, &fwd, dloss, &o).unwrap();
    (fwd.loss, dx.to_vec::<F>().unwrap())
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for &vocab in AWKWARD_SIZES {
        let (x, t) = inputs(5, vocab, vocab as u64);
        let (loss, dx) = run::<f64>(&x, &t, vocab, 0.7);
        let want = cross_entropy_forward_ref(&x, &t, vocab, IGNORE);
        assert!(
            (loss - want).abs() <= 1e-13 * want.abs().max(1.0),
            "{loss} vs {want}"
        );
        let dx_ref = cross_entropy_backward_ref(&x, &t, vocab, IGNORE, 0.7);
        assert_close("ce bwd f64", &dx, &dx_ref, 1e-15, 1e-12);

        let x32 = to_f64(&to_f32(&x));
        let (loss, dx) = run::<f32>(&x, &t, vocab, 0.7);
        let want = cross_entropy_forward_ref(&x32, &t, vocab, IGNORE);
        // lse in f32 over V terms: rtol grows with V.
        let tol = (1e-6 + 1e-8 * vocab as f64) * want.abs().max(1.0);
        assert!((loss - want).abs() <= tol, "V {vocab}: {loss} vs {want}");
        let dx_ref = cross_entropy_backward_ref(&x32, &t, vocab, IGNORE, 0.7);
        assert_close("ce bwd f32", &dx, &dx_ref, 1e-7, 1e-5);
    }
}

#[test]
fn large_magnitudes_and_known_values() {
    // logits [1234, 0]: target 0 → loss 0 (exactly, lse = 1234), target 1 → 1234.
    let x = [1234.0, 0.0, 1234.0, 0.0];
    for (t, want) in [([0i64, 0], 0.0), ([1, 1], 1234.0), ([0, 1], 617.0)] {
        let (l32, d32) = run::<f32>(&x, &t, 2, 1.0);
        let (l64, d64) = run::<f64>(&x, &t, 2, 1.0);
        assert_eq!(l32, want);
        assert_eq!(l64, want);
        assert!(d32.iter().all(|v| v.is_finite()));
        let dref = cross_entropy_backward_ref(&x, &t, 2, IGNORE, 1.0);
        assert_close("ce large f64", &d64, &dref, 1e-15, 0.0);
        assert_close("ce large f32", &d32, &dref, 1e-7, 0.0);
    }
    // Uniform logits: loss = ln V.
    let (l, _) = run::<f64>(&[0.0; 7], &[3], 7, 1.0);
    assert!((l - 7f64.ln()).abs() < 1e-15);
}

#[test]
fn ignored_rows_and_all_ignored() {
    let (x, _) = inputs(4, 6, 8);
    // Rows 1 and 3 ignored through a custom ignore index: they must not matter at all.
    let o = CrossEntropyOpts { ignore_index: 5 };
    let t = [2i64, 5, 0, 5];
    let xt = Tensor::from_vec(x.clone(), &[4, 6]).unwrap();
    let fwd = cross_entropy_forward(&xt, &t, &o).unwrap();
    assert_eq!(fwd.count, 2);
    assert!((fwd.loss - cross_entropy_forward_ref(&x, &t, 6, 5)).abs() < 1e-14);
    let dx = cross_entropy_backward(&xt, &t, &fwd, 1.0, &o)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    assert!(dx[6..12].iter().chain(&dx[18..]).all(|&v| v == 0.0));
    // Each non-ignored row's gradient sums to 0 (softmax minus one-hot).
    assert!(dx[..6].iter().sum::<f64>().abs() < 1e-15);

    // All rows ignored: loss 0 and an all-zero gradient, not NaN.
    let t = [IGNORE; 4];
    let fwd = cross_entropy_forward(&xt, &t, &Default::default()).unwrap();
    assert_eq!((fwd.loss, fwd.count), (0.0, 0));
    let dx = cross_entropy_backward(&xt, &t, &fwd, 1.0, &Default::default()).unwrap();
    assert!(dx.to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn backward_matches_finite_differences() {
    let (rows, vocab) = (6, 9);
    let (x, t) = inputs(rows, vocab, 13);
    let (_, dx) = run::<f64>(&x, &t, vocab, 0.7);
    let mut f = |x: &[f64]| 0.7 * cross_entropy_forward_ref(x, &t, vocab, IGNORE);
    // Step 1e-5: at 1e-6 the round-off of the O(1) loss (ε·|f|/step) reaches 1e-6 relative on
    // the smallest gradient entries; the truncation error at 1e-5 is ~1e-12.
    let rep = fd_check("cross_entropy", &mut f, &x, &dx, 1e-5, 1e-6).unwrap();
    assert_eq!(rep.probes, rows * vocab);
    // And through the public forward (not only the reference).
    let mut g = |x: &[f64]| 0.7 * run::<f64>(x, &t, vocab, 1.0).0;
    fd_check("cross_entropy (kernel fwd)", &mut g, &x, &dx, 1e-5, 1e-6).unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0f32; 6], &[2, 3]).unwrap();
    let o = CrossEntropyOpts::default();
    for t in [vec![0i64, 3], vec![-1, 0], vec![0]] {
        assert!(matches!(
            cross_entropy_forward(&x, &t, &o),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let flat = Tensor::from_vec(vec![0.0f32; 6], &[6]).unwrap();
    assert!(matches!(
        cross_entropy_forward(&flat, &[0], &o),
        Err(Error::InvalidShape { .. })
    ));
    let fwd = cross_entropy_forward(&x, &[0, 1], &o).unwrap();
    assert!(matches!(
        cross_entropy_backward(&x, &[0, IGNORE], &fwd, 1.0, &o),
        Err(Error::InvalidArgument { .. })
    ));
    let x64 = Tensor::from_vec(vec![0.0f64; 6], &[2, 3]).unwrap();
    assert!(matches!(
        cross_entropy_backward(&x64, &[0, 1], &fwd, 1.0, &o),
        Err(Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        cross_entropy_backward(&x, &[0, 1], &fwd, f64::NAN, &o),
        Err(Error::InvalidArgument { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        let o = CrossEntropyOpts::default();
        for &vocab in AWKWARD_SIZES {
            let (x, t) = inputs(5, vocab, 500 + vocab as u64);
            let x32 = to_f64(&to_f32(&x));
            let xt = Tensor::from_vec(to_f32(&x), &[5, vocab]).unwrap();
            let gx = xt.to_device(&dev).unwrap();
            let cf = cross_entropy_forward(&xt, &t, &o).unwrap();
            let gf = cross_entropy_forward(&gx, &t, &o).unwrap();
            let want = cross_entropy_forward_ref(&x32, &t, vocab, IGNORE);
            assert_gpu_rule("ce loss", &[gf.loss as f32], &[cf.loss as f32], &[want]);
            let cdx = cross_entropy_backward(&xt, &t, &cf, 0.7, &o).unwrap().to_vec::<f32>().unwrap();
            let gdx = cross_entropy_backward(&gx, &t, &gf, 0.7, &o).unwrap().to_vec::<f32>().unwrap();
            let dref = cross_entropy_backward_ref(&x32, &t, vocab, IGNORE, 0.7);
            assert_gpu_rule("ce bwd", &gdx, &cdx, &dref);
        }
    }
}
