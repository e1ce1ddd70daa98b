//! Accuracy of the f32 math against f64 libm, on dense sweeps, at every ISA level this CPU has.

use super::*;

/// A test kernel running `$f::<M>` with separate multiply-adds in the portable loop and fused
/// ones in FMA loops, so every level tests the code it runs in the ops.
macro_rules! math_kernel {
    ($name:ident, $f:ident $(. $field:tt)?) => {
        struct $name;
        impl Map1<f32> for $name {
            #[inline(always)]
            fn apply(&self, x: f32) -> f32 {
                $f::<Separate>(x) $(. $field)?
            }
            #[inline(always)]
            fn apply_fma(&self, x: f32) -> f32 {
                $f::<Fused>(x) $(. $field)?
            }
        }
    };
}
math_kernel!(ExpNonpos, exp_nonpos_f32);
math_kernel!(Sig, sigmoid_parts_f32.0);
math_kernel!(OneMinusSig, sigmoid_parts_f32.1);

/// `1·σ(x)` and `x·σ(x)` through [`scaled_sigmoid_f32`].
struct ScaledSig<const SILU: bool>;
impl<const SILU: bool> Map1<f32> for ScaledSig<SILU> {
    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        scaled_sigmoid_f32::<Separate>(x, if SILU { x } else { 1.0 })
    }
    #[inline(always)]
    fn apply_fma(&self, x: f32) -> f32 {
        scaled_sigmoid_f32::<Fused>(x, if SILU { x } else { 1.0 })
    }
}

fn sweep(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| lo + (hi - lo) * (i as f32) / ((n - 1) as f32))
        .collect()
}

/// Largest relative error over the points whose true value is at least `floor` in magnitude.
fn max_rel(got: &[f32], x: &[f32], truth: impl Fn(f64) -> f64, floor: f64) -> f64 {
    got.iter()
        .zip(x)
        .map(|(&g, &x)| {
            let t = truth(x as f64);
            if t.abs() < floor {
                0.0
            } else {
                ((g as f64 - t) / t).abs()
            }
        })
        .fold(0.0, f64::max)
}

fn sig64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn exp_nonpos_relative_error_below_2e7() {
    let x_nonpos = sweep(-87.3, 0.0, 400_001);
    for level in available_isas() {
        let y = map1_at(level, &ExpNonpos, &x_nonpos);
        let e = max_rel(&y, &x_nonpos, f64::exp, 0.0);
        assert!(e < 2e-7, "{level:?}: exp_nonpos rel err {e:e}");
    }
}

#[test]
fn exp_nonpos_edges_and_nan() {
    for level in available_isas() {
        // Exactly 0 from about −87.68 down (the clamp's 2^−127 factor is 0), the subnormal e^x
        // just above, 1 at ±0, NaN in → NaN out.
        let x = [
            -1e4f32,
            -120.0,
            -87.9,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::NAN,
            -87.5,
        ];
        let y = map1_at(level, &ExpNonpos, &x);
        assert_eq!(&y[..6], &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0], "{level:?}");
        assert!(y[6].is_nan(), "{level:?}");
        let sub = (-87.5f64).exp();
        let ulp = f32::from_bits(1) as f64; // spacing of the subnormals
        assert!(
            (y[7] as f64 - sub).abs() <= ulp,
            "{level:?}: e^-87.5 = {}",
            y[7]
        );
    }
}

#[test]
fn sigmoid_parts_relative_error_below_5e7() {
    let x = sweep(-100.0, 100.0, 400_001);
    for level in available_isas() {
        let s = map1_at(level, &Sig, &x);
        let e = max_rel(&s, &x, sig64, 1e-37);
        assert!(e < 5e-7, "{level:?}: sigmoid rel err {e:e}");
        let c = map1_at(level, &OneMinusSig, &x);
        let e = max_rel(&c, &x, |x| sig64(-x), 1e-37);
        assert!(e < 5e-7, "{level:?}: 1 - sigmoid rel err {e:e}");
        let big = map1_at(level, &Sig, &[1e4, -1e4, 120.0, -120.0]);
        assert_eq!(big, vec![1.0, 0.0, 1.0, 0.0], "{level:?}");
        // The scaled form: t·σ(x) for t = 1 and t = x (SiLU), same bound.
        let s = map1_at(level, &ScaledSig::<false>, &x);
        let e = max_rel(&s, &x, sig64, 1e-37);
        assert!(e < 5e-7, "{level:?}: scaled sigmoid rel err {e:e}");
        // x·σ(x) over the same domain (σ(x) ≥ 1e-37; below, e^x is flushed as in σ).
        let xs: Vec<f32> = x
            .iter()
            .copied()
            .filter(|&x| sig64(x as f64) >= 1e-37)
            .collect();
        let s = map1_at(level, &ScaledSig::<true>, &xs);
        let e = max_rel(&s, &xs, |x| x * sig64(x), 0.0);
        assert!(e < 5e-7, "{level:?}: x·σ(x) rel err {e:e}");
        let edges = [1e4, -1e4, 120.0, -120.0];
        assert_eq!(
            map1_at(level, &ScaledSig::<false>, &edges),
            vec![1.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(
            map1_at(level, &ScaledSig::<true>, &edges),
            vec![1e4, -0.0, 120.0, -0.0]
        );
    }
}
