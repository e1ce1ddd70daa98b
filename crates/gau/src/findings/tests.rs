//! Property tests of spec/gau.md §7, against the spec's simulated reference values.

use super::*;
use crate::{AttentionCore, CoreKind, Gau, GauConfig, Mask, Normalization};
use kernels::testing::{randn, rng, uniform};
use kernels::{DType, Tensor};

const NS: [usize; 4] = [64, 256, 1024, 4096];

fn errors(noise: NoiseKind, agg: Aggregator) -> Vec<f64> {
    NS.iter()
        .map(|&n| noise_error(n, 16, 100, noise, agg, 7 + n as u64).unwrap())
        .collect()
}

fn within(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs()
}

/// §7.1 table for n = 64 … 4096 (16384 is left out to keep the test near 2 s), 100 trials
/// (the spec used 200 and a different random stream, so agreement is statistical: the
/// trial-to-trial spread of ‖õ − o‖ is ~50 % of its mean, so the standard error of a 100-trial
/// mean is ~5 %; we allow 15 %, three standard errors).
#[test]
fn noise_error_falls_like_inverse_sqrt_n_for_softmax_only() {
    let x: Vec<f64> = NS.iter().map(|&n| n as f64).collect();
    let soft = errors(NoiseKind::Iid { std: 1.0 }, Aggregator::Softmax);
    let relu = errors(
        NoiseKind::Iid { std: 1.0 },
        Aggregator::Relu2 { shift: 1.0 },
    );
    let corr = errors(NoiseKind::EqualToScores, Aggregator::Softmax);
    let s_soft = loglog_slope(&x, &soft).unwrap();
    let s_relu = loglog_slope(&x, &relu).unwrap();
    println!("softmax {soft:.3?} slope {s_soft:.3}");
    println!("relu2   {relu:.3?} slope {s_relu:.3}");
    println!("corr    {corr:.3?}");
    let want_soft = [0.722, 0.453, 0.254, 0.132];
    let want_relu = [0.612, 0.383, 0.282, 0.255];
    let want_corr = [1.14, 1.15, 1.06, 1.03];
    for i in 0..NS.len() {
        assert!(within(soft[i], want_soft[i], 0.15), "softmax n={}", NS[i]);
        assert!(within(relu[i], want_relu[i], 0.15), "relu2 n={}", NS[i]);
        assert!(
            within(corr[i], want_corr[i], 0.15),
            "correlated n={}",
            NS[i]
        );
    }
    // Spec: slope −0.44 over 64…16384, approaching −0.5. Bound here (64…4096): softmax slope
    // in [−0.55, −0.38].
    assert!((-0.55..=-0.38).contains(&s_soft), "softmax slope {s_soft}");
    // relu² flattens to a bias that does not vanish: from 1024 to 4096 its error falls by
    // under 15 % while softmax's halves.
    assert!(
        relu[3] > 0.85 * relu[2],
        "relu² error should plateau: {relu:?}"
    );
    assert!(
        soft[3] < 0.6 * soft[2],
        "softmax error should keep falling: {soft:?}"
    );
    assert!(s_relu > -0.3, "relu² slope {s_relu}");
    // Correlated noise is not averaged away.
    assert!(corr.iter().all(|&e| e > 0.9));
}

#[test]
fn a_common_noise_offset_leaves_softmax_unchanged() {
    let (n, dim) = (50, 4);
    let v = randn(&mut rng(1), n * dim);
    let s = randn(&mut rng(2), n);
    let shifted: Vec<f64> = s.iter().map(|x| x + 3.7).collect();
    let a = aggregate(&s, &v, dim, Aggregator::Softmax).unwrap();
    let b = aggregate(&shifted, &v, dim, Aggregator::Softmax).unwrap();
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-15, "{diff}");
    // The tensor form: inject_noise with std 0 is the identity, std 1 moves every entry.
    let t = Tensor::from_vec(s.clone(), &[5, 10]).unwrap();
    let same = inject_noise(&t, 0.0, 3).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(same, s);
    let moved = inject_noise(&t, 1.0, 3).unwrap().to_vec::<f64>().unwrap();
    assert!(moved.iter().zip(&s).all(|(a, b)| a != b));
    assert!(inject_noise(&t, -1.0, 3).is_err());
    assert!(aggregate(&s, &v[1..], dim, Aggregator::Softmax).is_err());
    assert!(loglog_slope(&[1.0], &[1.0]).is_err());
}

/// §7.2's focused-row table, softmax / SoftmaxPlus, 4 targets. The entropy of one row varies
/// a lot with the 4 target draws (their softmax weights are e^(z+a)), so 400 rows per cell and
/// an 8 % band (the spec's own simulation is a different random stream).
#[test]
fn focused_row_entropy_table() {
    let gaps = [4.0, 512f64.ln(), 8.0];
    let want = [
        [(2.34, 3.31), (3.99, 4.40), (5.95, 5.58), (7.71, 6.99)],
        [(1.36, 2.28), (2.01, 2.55), (3.61, 2.79), (6.29, 3.28)],
        [(1.13, 1.71), (1.36, 1.64), (1.85, 1.43), (3.84, 1.49)],
    ];
    for (g, &gap) in gaps.iter().enumerate() {
        for (k, &n) in NS[..4].iter().enumerate() {
            let plus = (n as f64).ln() / 512f64.ln();
            let hs = focused_row_entropy(n, 4, gap, 1.0, 400, 11).unwrap();
            let hp = focused_row_entropy(n, 4, gap, plus, 400, 11).unwrap();
            println!(
                "gap {gap:.2} n {n}: {hs:.2} / {hp:.2}  (spec {:?})",
                want[g][k]
            );
            assert!(
                within(hs, want[g][k].0, 0.08),
                "softmax gap {gap} n {n}: {hs}"
            );
            assert!(within(hp, want[g][k].1, 0.08), "plus gap {gap} n {n}: {hp}");
        }
    }
    // The property: over a 64× length range, SoftmaxPlus drifts much less than softmax.
    let drift = |lam: &dyn Fn(usize) -> f64| {
        let h = |n| focused_row_entropy(n, 4, 512f64.ln(), lam(n), 100, 5).unwrap();
        (h(4096) - h(64)).abs()
    };
    let d_soft = drift(&|_| 1.0);
    let d_plus = drift(&|n| (n as f64).ln() / 512f64.ln());
    assert!(d_plus < 0.3 * d_soft, "{d_plus} vs {d_soft}");
    assert!(focused_row_entropy(4, 4, 1.0, 1.0, 1, 0).is_err());
}

/// §7.3: with logits in [−1, 1] (τ = 1) the entropy never falls below ln n − 0.4745.
#[test]
fn tau_one_entropy_floor() {
    for n in [100usize, 1000, 10000] {
        let floor = (n as f64).ln() - TAU1_ENTROPY_GAP;
        let exact = tau1_min_entropy(n).unwrap();
        // The two-level minimum sits just above the asymptotic floor (gap 0.47447…).
        assert!(exact >= floor - 1e-9, "n {n}: {exact} < {floor}");
        assert!(exact - floor < 1e-3, "n {n}: {exact} vs {floor}");
        // Random logits in [−1, 1] stay well above it (spec: best of 2000 ≈ ln n − 0.19).
        let mut r = rng(n as u64);
        let mut best = f64::INFINITY;
        for _ in 0..if n > 1000 { 30 } else { 300 } {
            let x = uniform(&mut r, n, -1.0, 1.0);
            let z: f64 = x.iter().map(|v| v.exp()).sum();
            let p: Vec<f64> = x.iter().map(|v| v.exp() / z).collect();
            best = best.min(row_entropy(&p));
        }
        let gap = (n as f64).ln() - best;
        println!(
            "n {n}: exact gap {:.5}, best random gap {gap:.3}",
            (n as f64).ln() - exact
        );
        assert!(
            best >= floor - 1e-9 && gap < 0.25,
            "n {n}: random gap {gap}"
        );
    }
    let t = ((4f64).exp() - 3.0 * 2f64.exp()) / ((4f64).exp() - 2.0 * 2f64.exp() + 1.0);
    assert!((t - 0.7945).abs() < 1e-4);
    let e2 = (-2f64).exp();
    let gap = -((1.0 - t + t * e2).ln() + 2.0 * t * e2 / (1.0 - t + t * e2));
    assert!((gap - TAU1_ENTROPY_GAP).abs() < 1e-4, "{gap}");
    assert!(tau1_min_entropy(1).is_err());
}

/// §7.3 / §2.5: GAU-α's init (gain 24^(−1/3)) starts almost uniform: every row's entropy is
/// within 0.01 of ln l_i. The score std depends on s and the gain, not on d or e, so d and e
/// are small here; s = 128 and n = 512 are GAU-α's.
#[test]
fn gau_alpha_init_entropy_is_near_ln_l() {
    let (n, s) = (512, 128);
    let cfg = GauConfig {
        norm: Normalization::SoftmaxPlus { floor: 1 },
        init_gain: 24f64.powf(-1.0 / 3.0),
        ..GauConfig::new(32, 16, s)
    };
    let layer = Gau::new(cfg, DType::F64, 3).unwrap();
    let x = Tensor::from_vec(randn(&mut rng(4), n * 32), &[1, n, 32]).unwrap();
    let (q, k) = layer.queries_keys(&x).unwrap();
    let core = AttentionCore {
        norm: cfg.norm,
        scale: 1.0 / (s as f64).sqrt(),
        kind: CoreKind::Materialized,
    };
    for mask in [Mask::none(), Mask::causal()] {
        let a = core.probabilities(&q, &k, &mask).unwrap();
        let h = attention_entropy(&a).unwrap();
        let worst = h
            .iter()
            .enumerate()
            .map(|(i, &hi)| {
                let l = if mask.causal { i + 1 } else { n };
                (l as f64).ln() - hi
            })
            .fold(0.0, f64::max);
        let mean_gap = h
            .iter()
            .enumerate()
            .map(|(i, &hi)| ((if mask.causal { i + 1 } else { n }) as f64).ln() - hi)
            .sum::<f64>()
            / n as f64;
        println!(
            "causal {}: worst ln l − H {worst:.5}, mean gap {mean_gap:.5}",
            mask.causal
        );
        assert!(worst < 0.01, "{worst}");
    }
    assert!(attention_entropy(&Tensor::from_vec(vec![1.0f64], &[]).unwrap()).is_err());
}

/// §7.2 random-init regime: logits ~ N(0, 1) give H ≈ ln n − σ²/2; SoftmaxPlus multiplies σ by
/// ln_512 n (spec: −0.21 at 64, −0.51 at 512, −0.92 at 4096).
#[test]
fn entropy_invariant_scale_at_random_init() {
    assert!((entropy_invariant_scale(512, 16, 128).unwrap() - 128f64.sqrt().recip()).abs() < 1e-15);
    assert_eq!(entropy_invariant_scale(1, 1, 4).unwrap(), 0.0);
    assert_eq!(
        entropy_invariant_scale(3, 16, 4).unwrap(),
        entropy_invariant_scale(16, 16, 4).unwrap()
    );
    assert!(entropy_invariant_scale(0, 1, 4).is_err());
    assert!(entropy_invariant_scale(4, 0, 4).is_err());
    let s = 128;
    for (n, want) in [(64usize, -0.21), (512, -0.51), (4096, -0.92)] {
        let rows = 8;
        let q = Tensor::from_vec(randn(&mut rng(n as u64), rows * s), &[1, rows, s]).unwrap();
        let k = Tensor::from_vec(randn(&mut rng(n as u64 + 1), n * s), &[1, n, s]).unwrap();
        let core = AttentionCore {
            norm: Normalization::SoftmaxPlus { floor: 1 },
            scale: 1.0 / (s as f64).sqrt(),
            kind: CoreKind::Materialized,
        };
        let h = attention_entropy(&core.probabilities(&q, &k, &Mask::none()).unwrap()).unwrap();
        let gap = h.iter().sum::<f64>() / rows as f64 - (n as f64).ln();
        println!("n {n}: SoftmaxPlus H − ln n = {gap:.3} (spec {want})");
        assert!((gap - want).abs() < 0.06, "n {n}: {gap}");
    }
}

/// §7.3 positive homogeneity: relu² over its row sum ignores the logit scale; softmax does not.
#[test]
fn relu2_is_invariant_to_logit_scale() {
    let x = randn(&mut rng(9), 40);
    let base = relu2_row_normalised(&x, 1.0);
    let p = |lam: f64| {
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = x.iter().map(|v| (lam * (v - m)).exp()).collect();
        let z: f64 = e.iter().sum();
        e.into_iter().map(|v| v / z).collect::<Vec<_>>()
    };
    for lam in [0.1, 0.5, 2.0, 37.0] {
        let r = relu2_row_normalised(&x, lam);
        let d = r
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(d < 1e-15, "λ {lam}: {d}");
        let ds = (row_entropy(&p(lam)) - row_entropy(&p(1.0))).abs();
        assert!(ds > 0.05, "softmax should change with λ {lam}: {ds}");
    }
    assert!(
        relu2_row_normalised(&[-1.0, -2.0], 3.0)
            .iter()
            .all(|&v| v == 0.0)
    );
}
