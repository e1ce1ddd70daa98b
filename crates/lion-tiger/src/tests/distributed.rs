//! Spec §8 items 5 and 12.

use crate::distributed::*;
use crate::reference::{TigerRefState, tiger_micro_step_ref};
use crate::*;
use kernels::testing::{randn, rng};

#[test]
fn p5_data_parallel_tiger_equals_single_worker_on_the_mean() {
    let (workers, k, d) = (3usize, 2u32, 257usize);
    let cfg = TigerConfig {
        grad_accum_steps: k,
        guard: Guard::Off,
        ..Default::default()
    };
    let theta0: Vec<f64> = randn(&mut rng(1), d).iter().map(|x| 0.1 * x).collect();
    let mut dp = TigerDataParallel::new(cfg.clone(), theta0.clone(), workers);
    let mut single = theta0.clone();
    let mut m = vec![0.0; d];
    let mut st = TigerRefState::default();
    let single_cfg = TigerConfig {
        grad_accum_steps: 1,
        ..cfg.clone()
    };
    let kind = ParamKind::Custom {
        lr_mult: 1.0,
        decay: 1.0,
        centre: 0.0,
    };
    for u in 0..20u64 {
        let mut mean = vec![0.0; d];
        for j in 0..k as u64 {
            let grads: Vec<Vec<f64>> = (0..workers)
                .map(|w| randn(&mut rng(100 * u + 10 * j + w as u64), d))
                .collect();
            for g in &grads {
                mean.iter_mut()
                    .zip(g)
                    .for_each(|(a, b)| *a += b / (workers * k as usize) as f64);
            }
            dp.micro_step(&grads);
        }
        // The single worker's schedule position is the update index; constant schedule here.
        tiger_micro_step_ref(&single_cfg, kind, d, &mut st, &mut single, &mut m, &mean);
    }
    let diff = dp
        .theta
        .iter()
        .zip(&single)
        .filter(|(a, b)| (*a - *b).abs() > 1e-15)
        .count();
    assert_eq!(diff, 0, "θ differs at {diff} coordinates");
    for (a, b) in dp.m[0].iter().zip(&m) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-3));
    }
    // One all-reduce per update of d f64 values: 2(N−1)/N·d·64 bits per worker.
    assert_eq!(dp.bits.up, 20 * ((2 * 2 * d as u64 * 64).div_ceil(3)) * 3);
}

#[test]
fn p12_distributed_lion_with_identical_workers_is_lion_and_counts_bits() {
    let d = 101;
    let cfg = LionConfig {
        lr: 1e-3,
        weight_decay: 0.1,
        ..Default::default()
    };
    for (vote, n, down_bits) in [
        (Vote::Majority, 4usize, 1u64),
        (Vote::Average, 4, 3),
        (Vote::Average, 7, 3),
        (Vote::Majority, 3, 1),
    ] {
        let theta0: Vec<f64> = randn(&mut rng(2), d).iter().map(|x| 0.1 * x).collect();
        let mut dl = DistributedLion::new(&cfg, vote, theta0.clone(), n);
        let (mut th, mut m) = (theta0.clone(), vec![0.0; d]);
        for s in 0..15 {
            let g = randn(&mut rng(200 + s), d);
            dl.step(&vec![g.clone(); n]);
            lion_single(&cfg, &mut th, &mut m, &g);
        }
        for (a, b) in dl.theta.iter().zip(&th) {
            assert!((a - b).abs() <= 1e-15, "{vote:?}: {a} vs {b}");
        }
        assert_eq!(dl.bits.up, 15 * (n * d) as u64);
        assert_eq!(dl.bits.down, 15 * (n * d) as u64 * down_bits);
    }
}

#[test]
fn majority_vote_tie_gives_zero_move() {
    let cfg = LionConfig {
        lr: 1e-3,
        ..Default::default()
    };
    let mut dl = DistributedLion::new(&cfg, Vote::Majority, vec![0.5], 2);
    dl.step(&[vec![1.0], vec![-1.0]]);
    assert_eq!(dl.theta, vec![0.5]);
}
