use super::*;
use crate::testing::*;
use rand::Rng;

/// A table [vocab, d], ids with heavy repeats (a few hot ids, as with padding tokens), and dy.
fn inputs(vocab: usize, d: usize, n: usize, seed: u64) -> (Vec<f64>, Vec<u32>, Vec<f64>) {
    let mut r = rng(seed);
    let table = randn(&mut r, vocab * d);
    let ids = (0..n)
        .map(|_| {
            if r.random::<f64>() < 0.3 {
                0
            } else {
                r.random_range(0..vocab as u32)
            }
        })
        .collect();
    (table, ids, randn(&mut r, n * d))
}

const CASES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (5, 3, 7),
    (31, 7, 97),
    (257, 33, 255),
    (1025, 64, 1023),
    (13, 4099, 5),
];

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for (c, &(vocab, d, n)) in CASES.iter().enumerate() {
        let (table, ids, dy) = inputs(vocab, d, n, c as u64);
        // The gather is a copy: exact in both types.
        let y = embedding_forward(&Tensor::from_vec(table.clone(), &[vocab, d]).unwrap(), &ids)
            .unwrap();
        assert_eq!(y.shape(), &[n, d]);
        assert_eq!(
            y.to_vec::<f64>().unwrap(),
            embedding_forward_ref(&table, &ids, d)
        );
        let y = embedding_forward(
            &Tensor::from_vec(to_f32(&table), &[vocab, d]).unwrap(),
            &ids,
        )
        .unwrap();
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            to_f32(&embedding_forward_ref(&table, &ids, d))
        );

        // f64 backward sums in the reference's order: exactly equal.
        let dt = embedding_backward(&Tensor::from_vec(dy.clone(), &[n, d]).unwrap(), &ids, vocab)
            .unwrap();
        assert_eq!(dt.shape(), &[vocab, d]);
        assert_eq!(
            dt.to_vec::<f64>().unwrap(),
            embedding_backward_ref(&dy, &ids, vocab, d)
        );
        // f32: sums of up to ~n terms rounded in f32 (rtol grows with the count).
        let dy32 = to_f64(&to_f32(&dy));
        let dt = embedding_backward(
            &Tensor::from_vec(to_f32(&dy), &[n, d]).unwrap(),
            &ids,
            vocab,
        )
        .unwrap();
        let want = embedding_backward_ref(&dy32, &ids, vocab, d);
        assert_close(
            "embedding bwd f32",
            &dt.to_vec::<f32>().unwrap(),
            &want,
            1e-6 * n as f64,
            1e-6,
        );
    }
}

#[test]
fn backward_is_deterministic_across_thread_counts() {
    let (vocab, d, n) = (64, 16, 5000);
    let (_, ids, dy) = inputs(vocab, d, n, 77);
    let dyt = Tensor::from_vec(to_f32(&dy), &[n, d]).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                embedding_backward(&dyt, &ids, vocab)
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap()
            })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn backward_matches_finite_differences() {
    let (vocab, d, n) = (6, 4, 9);
    let (table, ids, w) = inputs(vocab, d, n, 3);
    let dt = embedding_backward(&Tensor::from_vec(w.clone(), &[n, d]).unwrap(), &ids, vocab)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let mut f = |t: &[f64]| {
        let tt = Tensor::from_vec(t.to_vec(), &[vocab, d]).unwrap();
        dot(
            &embedding_forward(&tt, &ids)
                .unwrap()
                .to_vec::<f64>()
                .unwrap(),
            &w,
        )
    };
    fd_check("embedding dtable", &mut f, &table, &dt, 1e-6, 1e-7).unwrap();
    // Rows that no id selects get exactly zero.
    for v in 0..vocab {
        if !ids.contains(&(v as u32)) {
            assert!(dt[v * d..(v + 1) * d].iter().all(|&g| g == 0.0));
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let table = Tensor::from_vec(vec![0.0f32; 12], &[4, 3]).unwrap();
    assert!(matches!(
        embedding_forward(&table, &[0, 4]),
        Err(Error::InvalidArgument { .. })
    ));
    let flat = Tensor::from_vec(vec![0.0f32; 12], &[12]).unwrap();
    assert!(matches!(
        embedding_forward(&flat, &[0]),
        Err(Error::InvalidShape { .. })
    ));
    let dy = Tensor::from_vec(vec![0.0f32; 6], &[2, 3]).unwrap();
    assert!(matches!(
        embedding_backward(&dy, &[0, 1, 2], 4),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        embedding_backward(&dy, &[0, 9], 4),
        Err(Error::InvalidArgument { .. })
    ));
    // No ids: an empty output and an all-zero gradient, not an error.
    assert_eq!(embedding_forward(&table, &[]).unwrap().shape(), &[0, 3]);
    let empty = Tensor::from_vec(Vec::<f32>::new(), &[0, 3]).unwrap();
    let dt = embedding_backward(&empty, &[], 4).unwrap();
    assert!(dt.to_vec::<f32>().unwrap().iter().all(|&g| g == 0.0));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for (c, &(vocab, d, n)) in CASES.iter().enumerate() {
            let (table, ids, dy) = inputs(vocab, d, n, 400 + c as u64);
            let tt = Tensor::from_vec(to_f32(&table), &[vocab, d]).unwrap();
            let gy = embedding_forward(&tt.to_device(&dev).unwrap(), &ids).unwrap();
            let cy = embedding_forward(&tt, &ids).unwrap();
            // A gather is a copy: the GPU must be bit-exact.
            assert_eq!(gy.to_vec::<f32>().unwrap(), cy.to_vec::<f32>().unwrap());
            let dyt = Tensor::from_vec(to_f32(&dy), &[n, d]).unwrap();
            let cdt = embedding_backward(&dyt, &ids, vocab).unwrap().to_vec::<f32>().unwrap();
            let gdt = embedding_backward(&dyt.to_device(&dev).unwrap(), &ids, vocab).unwrap();
            let want = embedding_backward_ref(&to_f64(&to_f32(&dy)), &ids, vocab, d);
            assert_gpu_rule("embedding bwd", &gdt.to_vec::<f32>().unwrap(), &cdt, &want);
        }
    }
}
