use super::*;
use crate::testing::*;

/// Inputs with no zeros, so a zero in the output means "dropped".
fn inputs(n: usize, seed: u64) -> Vec<f64> {
    randn(&mut rng(seed), n)
        .iter()
        .map(|v| 1.0 + v.abs())
        .collect()
}

/// The `(seed, i, hash)` rows of `dropout.cu`'s HASH_CHECKS table.
fn cu_hash_table() -> Vec<[u64; 3]> {
    let src = include_str!("dropout.cu");
    let start = src.find("// BEGIN HASH_CHECKS").expect("start marker");
    let end = src.find("// END HASH_CHECKS").expect("end marker");
    src[start..end]
        .lines()
        .filter(|l| l.trim_start().starts_with("{0x"))
        .map(|l| {
            let v: Vec<u64> = l
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.starts_with("0x"))
                .map(|w| {
                    u64::from_str_radix(w.trim_start_matches("0x").trim_end_matches("ull"), 16)
                        .unwrap()
                })
                .collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

#[test]
fn rust_hash_equals_the_values_written_in_the_cu_file() {
    let table = cu_hash_table();
    assert_eq!(table.len(), 6, "HASH_CHECKS should hold 6 rows");
    for [seed, i, want] in table {
        assert_eq!(
            dropout_hash(seed, i),
            want,
            "dropout_hash({seed:#x}, {i:#x})"
        );
    }
    // splitmix64 seeded with 0 starts 0xe220a8397b1dcdaf: our key is that stream's first output.
    assert_eq!(dropout_key(0), 0xe220_a839_7b1d_cdaf);
}

#[test]
fn f32_and_f64_masks_are_identical_and_values_exact() {
    for &n in AWKWARD_SIZES {
        let x = inputs(n, n as u64);
        for p in [0.1, 0.5, 0.9] {
            let seed = 1000 + n as u64;
            let y64 =
                dropout_forward(&Tensor::from_vec(x.clone(), &[n]).unwrap(), p, seed).unwrap();
            let y32 =
                dropout_forward(&Tensor::from_vec(to_f32(&x), &[n]).unwrap(), p, seed).unwrap();
            let (y64, y32) = (y64.to_vec::<f64>().unwrap(), y32.to_vec::<f32>().unwrap());
            let mask = dropout_mask(n, p, seed).unwrap();
            let (s64, s32) = (1.0 / (1.0 - p), (1.0 / (1.0 - p)) as f32);
            for i in 0..n {
                assert_eq!(y64[i] != 0.0, mask[i]);
                assert_eq!(y32[i] != 0.0, mask[i]);
                if mask[i] {
                    assert_eq!(y64[i], x[i] * s64);
                    assert_eq!(y32[i], x[i] as f32 * s32);
                }
                assert_eq!(
                    mask[i],
                    dropout_hash(seed, i as u64) >> 32 >= (p * 4_294_967_296.0).ceil() as u64
                );
            }
        }
    }
}

#[test]
fn keep_rate_is_one_minus_p() {
    // Kept count ~ Binomial(n, 1 − p): accept |rate − (1 − p)| ≤ 5σ, σ = √(p(1−p)/n)
    // (a false failure has probability < 1e-6 for a random seed; these seeds are fixed).
    let n = 200_000;
    for (k, p) in [0.01, 0.1, 0.5, 0.9].into_iter().enumerate() {
        for seed in [k as u64, 0xdead_beef + k as u64] {
            let kept = dropout_mask(n, p, seed)
                .unwrap()
                .iter()
                .filter(|&&b| b)
                .count();
            let rate = kept as f64 / n as f64;
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (rate - (1.0 - p)).abs() <= 5.0 * sigma,
                "p {p} seed {seed}: keep rate {rate}"
            );
        }
    }
    // Neighbouring seeds give unrelated masks: agreement ≈ p² + (1 − p)² = 0.5 at p = 0.5.
    let (a, b) = (
        dropout_mask(n, 0.5, 7).unwrap(),
        dropout_mask(n, 0.5, 8).unwrap(),
    );
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count() as f64 / n as f64;
    assert!(
        (same - 0.5).abs() <= 5.0 * (0.25 / n as f64).sqrt(),
        "agreement {same}"
    );
    // A larger p drops a superset (u ≥ p is monotone in p).
    let (lo, hi) = (
        dropout_mask(n, 0.2, 9).unwrap(),
        dropout_mask(n, 0.6, 9).unwrap(),
    );
    assert!(lo.iter().zip(&hi).all(|(&l, &h)| l || !h));
}

#[test]
fn p_zero_is_the_identity() {
    let x = inputs(257, 3);
    let y = dropout_forward(&Tensor::from_vec(x.clone(), &[257]).unwrap(), 0.0, 5).unwrap();
    assert_eq!(y.to_vec::<f64>().unwrap(), x);
}

#[test]
fn backward_matches_finite_differences() {
    let shape = [4, 25];
    let (x, w) = (inputs(100, 31), randn(&mut rng(32), 100));
    let (p, seed) = (0.3, 99);
    let dx = dropout_backward(&Tensor::from_vec(w.clone(), &shape).unwrap(), p, seed)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let mut f = |x: &[f64]| {
        let t = Tensor::from_vec(x.to_vec(), &shape).unwrap();
        dot(
            &dropout_forward(&t, p, seed)
                .unwrap()
                .to_vec::<f64>()
                .unwrap(),
            &w,
        )
    };
    // f is linear in x, so central differences have no truncation error: a large step keeps
    // the round-off (ε·|f|/step) far below the tolerance.
    fd_check("dropout", &mut f, &x, &dx, 1e-3, 1e-7).unwrap();
    // The gradient is zero exactly where the forward dropped.
    let y = dropout_forward(&Tensor::from_vec(x, &shape).unwrap(), p, seed)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    assert!(y.iter().zip(&dx).all(|(y, d)| (*y == 0.0) == (*d == 0.0)));
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![1.0f32; 4], &[4]).unwrap();
    for p in [1.0, -0.1, 1.5, f64::NAN] {
        assert!(matches!(
            dropout_forward(&x, p, 0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            dropout_backward(&x, p, 0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            dropout_mask(4, p, 0),
            Err(Error::InvalidArgument { .. })
        ));
    }
}

crate::gpu_test! {
    fn cuda_mask_is_bit_identical_to_cpu() {
        let dev = cuda_test_device();
        let (hashes, ok) = cuda_hash_selftest(&dev).unwrap();
        assert_eq!(ok, vec![1; 6], "the GPU hash disagrees with HASH_CHECKS: {hashes:x?}");
        for (h, [seed, i, _]) in hashes.iter().zip(cu_hash_table()) {
            assert_eq!(*h, dropout_hash(seed, i));
        }
        for &n in AWKWARD_SIZES.iter().chain(&[1 << 20]) {
            let x = Tensor::from_vec(to_f32(&inputs(n, 600 + n as u64)), &[n]).unwrap();
            let gx = x.to_device(&dev).unwrap();
            for p in [0.0, 0.1, 0.5, 0.9] {
                let cpu = dropout_forward(&x, p, n as u64).unwrap().to_vec::<f32>().unwrap();
                let gpu = dropout_forward(&gx, p, n as u64).unwrap().to_vec::<f32>().unwrap();
                // Same mask and same f32 products: compare the bits.
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&gpu), bits(&cpu), "n {n} p {p}");
                let gdx = dropout_backward(&gx, p, 3).unwrap().to_vec::<f32>().unwrap();
                let cdx = dropout_backward(&x, p, 3).unwrap().to_vec::<f32>().unwrap();
                assert_eq!(bits(&gdx), bits(&cdx));
            }
        }
    }
}
