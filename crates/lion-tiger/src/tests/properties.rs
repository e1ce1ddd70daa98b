//! Spec §8 properties 1–4, 6 and 7: the update rules, accumulation, the guard and gradient
//! scaling (8–11 and 13 are in `properties_dynamics`, 5 and 12 in `distributed`, 14 in `cuda`).

use super::*;
use crate::*;
use kernels::testing::{randn, rng};
use nn::ParamRole;

pub(super) const MAT: &[Spec] = &[
    ("w", &[64, 33], ParamRole::Matrix),
    ("v", &[40, 9], ParamRole::Matrix),
];

pub(super) fn g_at(seed: u64, scale: f64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    MAT.iter()
        .map(|(_, s, _)| {
            randn(&mut r, s.iter().product())
                .iter()
                .map(|v| v * scale)
                .collect()
        })
        .collect()
}

fn uniform_tiger(cfg: TigerConfig, model: &Bag) -> Optimizer {
    let rule = GroupRule::new(Match::All).with_kind(ParamKind::Custom {
        lr_mult: 1.0,
        decay: 1.0,
        centre: 0.0,
    });
    Optimizer::new(Algorithm::Tiger(cfg), model, &[rule]).unwrap()
}

/// Standard-normal gradients, one per spec.
fn randn_grads(specs: &[Spec], seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    specs
        .iter()
        .map(|(_, s, _)| randn(&mut r, s.iter().product()))
        .collect()
}

pub(super) fn zeros_like(v: &[Vec<f64>]) -> Vec<Vec<f64>> {
    v.iter().map(|v| vec![0.0; v.len()]).collect()
}

/// Lion with learning rate η and decay λ, the rest default.
pub(super) fn lion_eta_lambda(eta: f64, lam: f64, model: &Bag) -> Optimizer {
    Optimizer::lion(
        LionConfig {
            lr: eta,
            weight_decay: lam,
            ..Default::default()
        },
        model,
    )
    .unwrap()
}

/// `steps` steps of two optimizers side by side: `a` gets `g_at(s, 1)` at step s, `b` gets
/// `to_b` of it.
pub(super) fn lockstep(
    (a, oa): (&mut Bag, &mut Optimizer),
    (b, ob): (&mut Bag, &mut Optimizer),
    steps: u64,
    to_b: impl Fn(&[Vec<f64>]) -> Vec<Vec<f64>>,
) {
    for s in 0..steps {
        let g = g_at(s, 1.0);
        set_grads(a, &g);
        set_grads(b, &to_b(&g));
        oa.step(a).unwrap();
        ob.step(b).unwrap();
    }
}

#[test]
fn p1_lion_with_equal_betas_is_plain_tiger_bit_exact() {
    let v0 = values(MAT, 10);
    let (mut a, mut b) = (bag32(MAT, &v0), bag32(MAT, &v0));
    let lion = LionConfig {
        lr: 1e-3,
        beta1: 0.965,
        beta2: 0.965,
        weight_decay: 0.01,
        ..Default::default()
    };
    let tiger = TigerConfig {
        alpha: 1e-3,
        beta: 0.965,
        weight_decay: 0.01,
        guard: Guard::Off,
        ..Default::default()
    };
    let mut ol = Optimizer::lion(lion, &a).unwrap();
    let mut ot = uniform_tiger(tiger, &b);
    lockstep((&mut a, &mut ol), (&mut b, &mut ot), 30, <[_]>::to_vec);
    assert_eq!(vals_of(&a), vals_of(&b));
    assert_eq!(ol.momentum("w").unwrap(), ot.momentum("w").unwrap());
}

#[test]
fn p2_lion_moves_every_coordinate_by_eta() {
    let v0 = values(MAT, 11);
    for f32_path in [false, true] {
        let mut a = if f32_path {
            bag32(MAT, &v0)
        } else {
            bag64(MAT, &v0)
        };
        let eta = 1e-3;
        let mut o = Optimizer::lion(
            LionConfig {
                lr: eta,
                ..Default::default()
            },
            &a,
        )
        .unwrap();
        let g = g_at(12, 1.0);
        set_grads(&mut a, &g);
        let before = vals_of(&a);
        o.step(&mut a).unwrap();
        for (x, y) in vals_of(&a).iter().zip(&before) {
            let mut ss = 0.0;
            for (&x, &y) in x.iter().zip(y) {
                // f32: one ulp of θ_i from rounding θ − η, plus η's own rounding to f32.
                let tol = if f32_path {
                    (y.abs() + eta) * f32::EPSILON as f64
                } else {
                    1e-15
                };
                assert!(
                    ((x - y).abs() - eta).abs() <= tol,
                    "|Δθ| = {} vs η = {eta}",
                    (x - y).abs()
                );
                ss += (x - y) * (x - y);
            }
            let rms = (ss / x.len() as f64).sqrt();
            assert!((rms - eta).abs() <= if f32_path { 1e-9 } else { 1e-15 });
        }
    }
}

#[test]
fn p3_tiger_matrix_moves_alpha_relative_and_vectors_half_alpha() {
    let specs: &[Spec] = &[
        ("w", &[50, 20], ParamRole::Matrix),
        ("b", &[20], ParamRole::Bias),
        ("g", &[20], ParamRole::Gain),
    ];
    let v0 = values(specs, 13);
    let mut a = bag64(specs, &v0);
    let alpha = 2e-3;
    // λ = 0 for the matrix check; vectors would get no decay anyway.
    let mut o = Optimizer::tiger(
        TigerConfig {
            alpha,
            weight_decay: 0.0,
            ..Default::default()
        },
        &a,
    )
    .unwrap();
    let g = randn_grads(specs, 14);
    set_grads(&mut a, &g);
    o.step(&mut a).unwrap();
    let after = vals_of(&a);
    let rms = |x: &[f64]| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    let d: Vec<f64> = after[0].iter().zip(&v0[0]).map(|(a, b)| a - b).collect();
    assert!((rms(&d) / rms(&v0[0]) - alpha).abs() < 1e-15);
    for i in 1..3 {
        for (x, y) in after[i].iter().zip(&v0[i]) {
            assert!(((x - y).abs() - alpha / 2.0).abs() < 1e-15);
        }
    }
    // Vectors and gains get no decay even when λ > 0.
    let mut b = bag64(specs, &v0);
    let mut o = Optimizer::tiger(
        TigerConfig {
            alpha,
            weight_decay: 0.5,
            ..Default::default()
        },
        &b,
    )
    .unwrap();
    set_grads(&mut b, &g);
    o.step(&mut b).unwrap();
    assert_eq!(vals_of(&b)[1], after[1]);
    assert_eq!(vals_of(&b)[2], after[2]);
}

/// Tiger with k micro-batches of a deterministic gradient vs k = 1 on their mean.
fn accumulation_run(f32_path: bool) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let v0 = values(MAT, 15);
    let k = 4u32;
    let mk = |v: &[Vec<f64>]| {
        if f32_path {
            bag32(MAT, v)
        } else {
            bag64(MAT, v)
        }
    };
    let (mut a, mut b) = (mk(&v0), mk(&v0));
    let base = TigerConfig {
        guard: Guard::Off,
        ..Default::default()
    };
    let mut oa = Optimizer::tiger(
        TigerConfig {
            grad_accum_steps: k,
            ..base.clone()
        },
        &a,
    )
    .unwrap();
    let mut ob = Optimizer::tiger(base, &b).unwrap();
    for step in 0..30 {
        let theta = vals_of(&a);
        let mut mean: Vec<Vec<f64>> = theta.iter().map(|t| vec![0.0; t.len()]).collect();
        for j in 0..k as u64 {
            // Gradient of ½‖θ − x_j‖² with a per-micro-batch target x_j.
            let x = g_at(1000 * step + j, 1.0);
            let g: Vec<Vec<f64>> = theta
                .iter()
                .zip(&x)
                .map(|(t, x)| t.iter().zip(x).map(|(t, x)| t - x).collect())
                .collect();
            for (m, g) in mean.iter_mut().zip(&g) {
                m.iter_mut().zip(g).for_each(|(m, g)| *m += g / k as f64);
            }
            set_grads(&mut a, &g);
            oa.step(&mut a).unwrap();
        }
        set_grads(&mut b, &mean);
        ob.step(&mut b).unwrap();
    }
    (vals_of(&a), vals_of(&b))
}

#[test]
fn p4_accumulation_matches_big_batch() {
    let (a, b) = accumulation_run(false);
    assert_eq!(a, b, "f64: identical parameters");
    let (a, b) = accumulation_run(true);
    let (mut flips, mut n) = (0, 0);
    for (x, y) in a.iter().zip(&b) {
        for (x, y) in x.iter().zip(y) {
            n += 1;
            if x != y {
                flips += 1;
            }
        }
    }
    assert!(
        flips as f64 <= 1e-4 * n as f64 + 0.5,
        "{flips} of {n} coordinates differ"
    );
}

#[test]
fn p6_guard_leaves_m_and_shrinks_theta() {
    for guard in [Guard::NonFinite, Guard::NanOnly] {
        let v0 = values(SPECS, 16);
        let mut a = bag32(SPECS, &v0);
        let mut o = Optimizer::tiger(
            TigerConfig {
                guard,
                ..Default::default()
            },
            &a,
        )
        .unwrap();
        let g = randn_grads(SPECS, 17);
        set_grads(&mut a, &g);
        o.step(&mut a).unwrap();
        let (th1, m1) = (
            vals_of(&a),
            SPECS
                .iter()
                .map(|s| o.momentum(s.0).unwrap())
                .collect::<Vec<_>>(),
        );
        for bad in [f64::NAN, f64::INFINITY] {
            let mut b = bag32(SPECS, &th1);
            let mut o2 = Optimizer::tiger(
                TigerConfig {
                    guard,
                    ..Default::default()
                },
                &b,
            )
            .unwrap();
            // Bring o2 to o's state by one identical step from the same start.
            let mut c = bag32(SPECS, &v0);
            set_grads(&mut c, &g);
            o2.step(&mut c).unwrap();
            let mut g2 = g.clone();
            g2[0][3] = bad; // matrix tensor
            g2[3][1] = bad; // gain tensor
            set_grads(&mut b, &g2);
            o2.step(&mut b).unwrap();
            let th2 = vals_of(&b);
            let trips = guard == Guard::NonFinite || bad.is_nan();
            for i in [0usize, 3] {
                if trips {
                    assert_eq!(o2.momentum(SPECS[i].0).unwrap(), m1[i], "m untouched");
                    let c = if i == 3 { 1.0f32 } else { 0.0 };
                    for (x, y) in th2[i].iter().zip(&th1[i]) {
                        assert_eq!(*x as f32, (*y as f32 - c) * 0.99 + c);
                    }
                } else {
                    assert!(
                        o2.momentum(SPECS[i].0)
                            .unwrap()
                            .iter()
                            .any(|x| x.is_infinite())
                    );
                }
            }
            // Other tensors updated normally.
            assert_ne!(th2[1], th1[1]);
            assert_ne!(o2.momentum(SPECS[2].0).unwrap(), m1[2]);
            assert_eq!(o2.guard_events()[0].1, trips as u64);
            // The next finite step proceeds normally and stays finite.
            if trips {
                set_grads(&mut b, &g);
                o2.step(&mut b).unwrap();
                assert!(vals_of(&b).iter().flatten().all(|x| x.is_finite()));
                assert_ne!(vals_of(&b)[0], th2[0]);
            }
        }
    }
}

#[test]
fn p7_power_of_two_gradient_scale_is_bit_identical() {
    for tiger in [false, true] {
        let v0 = values(MAT, 18);
        let (mut a, mut b) = (bag32(MAT, &v0), bag32(MAT, &v0));
        let mk = |x: &Bag| {
            if tiger {
                Optimizer::tiger(TigerConfig::default(), x).unwrap()
            } else {
                Optimizer::lion(
                    LionConfig {
                        weight_decay: 0.1,
                        ..Default::default()
                    },
                    x,
                )
                .unwrap()
            }
        };
        let (mut oa, mut ob) = (mk(&a), mk(&b));
        lockstep((&mut a, &mut oa), (&mut b, &mut ob), 20, |g| {
            g.iter()
                .map(|v| v.iter().map(|x| x * 1024.0).collect())
                .collect()
        });
        assert_eq!(vals_of(&a), vals_of(&b));
    }
}
