//! The tabulated gates against f64 libm on dense sweeps, at every ISA level this CPU has; the
//! SIMD lanes against the scalar code bit for bit; the interval seams; non-finite inputs.

use super::super::{Isa, available_isas};
use super::*;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// The bounds the module docs state.
/// `|T − g(−a)|` with fused multiply-adds, and without.
const TAIL_ABS_FUSED: f64 = 5e-8;
const TAIL_ABS: f64 = 7e-8;
/// `|R − (a·g′(a) − g(−a))|` with fused multiply-adds, and without.
const SLOPE_ABS_FUSED: f64 = 6e-8;
const SLOPE_ABS: f64 = 7e-8;
const FORWARD_REL_POS: f64 = 2.5e-7;
const BACKWARD_ABS: f64 = 1.5e-7;

type Gate = SymmetricGate<4, 5>;

/// A gate in f64: `(g(x), g′(x))`.
type Exact = fn(f64) -> (f64, f64);

fn erf_gate(x: f64) -> (f64, f64) {
    let pdf = (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
    (0.5 * libm::erfc(-x * FRAC_1_SQRT_2), pdf)
}

fn tanh_gate(x: f64) -> (f64, f64) {
    let k = (2.0 / PI).sqrt();
    let z = 2.0 * k * (x + 0.044715 * x * x * x);
    let (s, s_neg) = (1.0 / (1.0 + (-z).exp()), 1.0 / (1.0 + z.exp()));
    (s, s * s_neg * 2.0 * k * (1.0 + 3.0 * 0.044715 * x * x))
}

const GATES: [(&str, &Gate, Exact); 2] = [
    ("erf", &GELU_ERF, erf_gate),
    ("tanh", &GELU_TANH, tanh_gate),
];

fn sweep(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f32 / (n - 1) as f32)
        .collect()
}

#[test]
fn tables_match_tail_and_slope() {
    let a = sweep(0.0, 9.0, 900_001);
    for (name, gate, exact) in GATES {
        let tail = |a: f64| exact(-a).0;
        let slope = |a: f64| a * exact(a).1 - exact(-a).0;
        let mut worst = [0.0f64; 4];
        for &a in &a {
            let errs = [
                gate.tail.eval::<Fused>(a) as f64 - tail(a as f64),
                gate.tail.eval::<Separate>(a) as f64 - tail(a as f64),
                gate.slope.eval::<Fused>(a) as f64 - slope(a as f64),
                gate.slope.eval::<Separate>(a) as f64 - slope(a as f64),
            ];
            for (w, e) in worst.iter_mut().zip(errs) {
                *w = w.max(e.abs());
            }
        }
        assert!(
            worst[0] < TAIL_ABS_FUSED
                && worst[1] < TAIL_ABS
                && worst[2] < SLOPE_ABS_FUSED
                && worst[3] < SLOPE_ABS,
            "{name}: |error| of tail (fused, separate), slope (fused, separate) = {worst:?}"
        );
    }
}

/// Every f32 within 64 ulps of each interval seam (`s = k + ½`) and of the cap, where the
/// interval index and the polynomial variable must agree, and the table must reach exactly 0.
#[test]
fn interval_seams_are_continuous() {
    fn seams<const N: usize>(p: &Piecewise<N>) -> Vec<f32> {
        let (alpha, beta) = (p.alpha as f64, p.beta as f64);
        let a_of_s = |s: f64| 2.0 * s / (alpha + (alpha * alpha - 4.0 * beta * s).sqrt());
        let mut v: Vec<f32> = (0..7).map(|k| a_of_s(k as f64 + 0.5) as f32).collect();
        v.push(p.limit);
        v
    }
    for (name, gate, exact) in GATES {
        let tail_err = |a: f32| gate.tail.eval::<Fused>(a) as f64 - exact(-a as f64).0;
        let slope_err = |a: f32| {
            let a64 = a as f64;
            gate.slope.eval::<Fused>(a) as f64 - (a64 * exact(a64).1 - exact(-a64).0)
        };
        type ErrorAt<'a> = &'a dyn Fn(f32) -> f64;
        let checks: [(&str, Vec<f32>, ErrorAt, f64); 2] = [
            ("tail", seams(&gate.tail), &tail_err, TAIL_ABS_FUSED),
            ("slope", seams(&gate.slope), &slope_err, SLOPE_ABS_FUSED),
        ];
        for (what, seams, err, bound) in checks {
            for seam in seams {
                let bits = seam.to_bits();
                for b in bits - 64..=bits + 64 {
                    let a = f32::from_bits(b);
                    let e = err(a).abs();
                    assert!(e < bound, "{name} {what}: |error| {e:e} at {a}");
                }
            }
        }
    }
}

#[test]
fn forward_and_backward_match_f64_at_every_level() {
    let mut x = sweep(-13.0, 13.0, 520_001);
    x.extend([0.0, -0.0, 1e-30, -1e-30, 5.9999995, -5.9999995, 6.0, -6.0]);
    for level in available_isas() {
        for (name, gate, exact) in GATES {
            let y = gate.forward_at(level, &x);
            let dy = vec![1.0f32; x.len()];
            let d = gate.backward_at(level, &x, &dy);
            for ((&x, &y), &d) in x.iter().zip(&y).zip(&d) {
                let x64 = x as f64;
                let (g, dg) = exact(x64);
                let (y_ref, d_ref) = (x64 * g, g + x64 * dg);
                let err = (y as f64 - y_ref).abs();
                let bound = if x >= 0.0 {
                    FORWARD_REL_POS * y_ref.abs()
                } else {
                    x64.abs() * TAIL_ABS + 0.5 * f32::EPSILON as f64 * y_ref.abs()
                };
                assert!(
                    err <= bound,
                    "{level:?} {name}: y({x}) = {y:e}, want {y_ref:e} (|error| {err:e} > {bound:e})"
                );
                let err = (d as f64 - d_ref).abs();
                assert!(
                    err <= BACKWARD_ABS,
                    "{level:?} {name}: y'({x}) = {d:e}, want {d_ref:e} (|error| {err:e})"
                );
            }
        }
    }
}

#[test]
fn backward_scales_by_dy() {
    let x = sweep(-7.0, 7.0, 1001);
    let dy: Vec<f32> = x.iter().map(|&v| 3.0 - v * v).collect();
    for level in available_isas() {
        for (name, gate, _) in GATES {
            let ones = gate.backward_at(level, &x, &vec![1.0; x.len()]);
            let got = gate.backward_at(level, &x, &dy);
            for ((&g, &one), &dy) in got.iter().zip(&ones).zip(&dy) {
                assert_eq!(g, one * dy, "{level:?} {name}");
            }
        }
    }
}

/// The AVX2 loop (16 and 8 lanes, then the scalar remainder) computes exactly what the scalar
/// code with fused multiply-adds does, for every length up to 40.
#[test]
fn simd_lanes_equal_scalar_fused() {
    if !available_isas().contains(&Isa::Avx2Fma) {
        eprintln!("skipped: no AVX2+FMA on this CPU");
        return;
    }
    let all = sweep(-7.5, 7.5, 40);
    let dy: Vec<f32> = all.iter().map(|&v| 1.0 - 0.25 * v).collect();
    for (name, gate, _) in GATES {
        for n in 0..=all.len() {
            let (x, dy) = (&all[..n], &dy[..n]);
            let y: Vec<f32> = x.iter().map(|&x| gate.forward_one::<Fused>(x)).collect();
            assert_eq!(
                gate.forward_at(Isa::Avx2Fma, x),
                y,
                "{name} forward, n = {n}"
            );
            let d: Vec<f32> = x
                .iter()
                .zip(dy)
                .map(|(&x, &dy)| gate.backward_one::<Fused>(x, dy))
                .collect();
            assert_eq!(
                gate.backward_at(Isa::Avx2Fma, x, dy),
                d,
                "{name} backward, n = {n}"
            );
        }
    }
}

#[test]
fn non_finite_and_huge_inputs() {
    let x = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e4,
        -1e4,
        120.0,
        -120.0,
        3e38,
        -3e38,
    ];
    for level in available_isas() {
        for (name, gate, _) in GATES {
            let y = gate.forward_at(level, &x);
            // +∞ and −∞ give the limits +∞ and 0; far negative inputs give 0.
            assert!(y[0].is_nan(), "{level:?} {name}: {y:?}");
            let want = [f32::INFINITY, 0.0, 1e4, 0.0, 120.0, 0.0, 3e38, 0.0];
            assert_eq!(&y[1..], &want, "{level:?} {name}: {y:?}");
            let d = gate.backward_at(level, &x, &[2.0; 9]);
            assert!(d[0].is_nan(), "{level:?} {name}");
            assert_eq!(
                &d[1..],
                &[2.0, -0.0, 2.0, -0.0, 2.0, -0.0, 2.0, -0.0],
                "{level:?} {name}"
            );
        }
    }
}

/// From the cap on every table is exactly 0 — with fused multiply-adds by the coefficients'
/// construction, without them by a select — and so is the forward's tail term at `−limit`.
#[test]
fn tables_are_exactly_zero_from_the_cap() {
    fn check<const N: usize>(what: &str, p: &Piecewise<N>) {
        let next = f32::from_bits(p.limit.to_bits() + 1);
        for a in [p.limit, next, 2.0 * p.limit, 1e4, f32::MAX, f32::INFINITY] {
            assert_eq!(p.eval::<Fused>(a).to_bits(), 0, "{what} fused at {a}");
            assert_eq!(p.eval::<Separate>(a).to_bits(), 0, "{what} separate at {a}");
        }
    }
    for (name, gate, _) in GATES {
        check(&format!("{name} tail"), &gate.tail);
        check(&format!("{name} slope"), &gate.slope);
        let x = [-gate.tail.limit, -gate.slope.limit, gate.tail.limit];
        for level in available_isas() {
            let y = gate.forward_at(level, &x);
            assert_eq!(y[..2], [0.0, 0.0], "{level:?} {name}: {y:?}");
            assert_eq!(y[2], gate.tail.limit, "{level:?} {name}");
            let x = [-gate.slope.limit, gate.slope.limit];
            let d = gate.backward_at(level, &x, &[1.0, 1.0]);
            assert_eq!(d, [0.0, 1.0], "{level:?} {name}: {d:?}");
        }
    }
}
