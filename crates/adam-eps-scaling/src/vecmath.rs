//! Vectorisable f64 `exp` and `erf`/`erfc` for the hot loops of the sweep and the quadrature,
//! and the run-time choice of an AVX2 build of those loops.
//!
//! # Why
//! libm's scalar `exp`/`erfc` are calls LLVM cannot vectorise; in the exact sweep they run once per
//! quadrature node or (coordinate, batch) pair. The functions here are branch-free (selects, not
//! jumps) and use only `+ − × ÷`, comparisons and bit casts, so a loop over them compiles to
//! AVX2 code. They never use fused multiply-adds (Rust does not contract `a·b + c`), so the
//! portable and the AVX2 builds give bit-identical results.
//!
//! # Accuracy (tested below against `std`/libm on dense sweeps)
//! - [`exp`]: Cody–Waite reduction `x = k·ln2 + r`, `|r| ≤ ln2/2`, degree-13 Taylor polynomial,
//!   `2^k` from exponent bits: ≤ 2 ulp from `f64::exp` on `[−708, 709.78]`; 0 below −708 (the
//!   true value is below 3.3e-308), +∞ above `ln(f64::MAX)`, NaN in → NaN out.
//! - [`erf_erfc`]: W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 631–637, 1969;
//!   the Netlib SPECFUN `CALERF` coefficient sets) on `[0, 0.46875]`, `(0.46875, 4]`, `(4, ∞)`,
//!   all three evaluated and one selected. `erf` to ≤ 4e-16 absolute (3 ulp near 1), `erfc` to
//!   ≤ 5e-16·(1 + x²) relative (the `x²` from `exp(−x²)`; only `erf = 1 − erfc` needs to be
//!   accurate for the law, and it is).
//!
//! # Run-time dispatch
//! [`has_avx2_fma`] is checked once per process with `is_x86_feature_detected!`; callers keep a
//! plain and a `#[target_feature(enable = "avx2,fma")]` copy of their loop (both inlining the same
//! `#[inline(always)]` body) and pick one per chunk of work. Nothing depends on
//! `target-cpu=native`.

use std::sync::OnceLock;

/// True when the CPU runs AVX2 and FMA (detected once; always false off x86-64).
pub fn has_avx2_fma() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// `1.5·2^52`: adding it to `|t| < 2^51` rounds `t` to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// `ln 2` split so that `k·LN2_HI` is exact for `|k| < 2^21` (fdlibm's constants).
#[allow(clippy::excessive_precision)]
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
/// `ln(f64::MAX)`; above it `e^x` overflows.
const EXP_MAX: f64 = 709.782_712_893_384;
/// Below this `e^x < 3.3e-308` is flushed to 0 (keeps `2^(k−1)` a normal number).
const EXP_MIN: f64 = -708.0;

/// `e^x` in f64, branch-free and vectorisable (see the module docs for the error bound).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // NaN stays NaN through the arithmetic; the last select returns it.
    let xc = x.clamp(EXP_MIN, EXP_MAX);
    let t = xc * std::f64::consts::LOG2_E + ROUND_MAGIC;
    let kf = t - ROUND_MAGIC;
    let k = (t.to_bits() as i64).wrapping_sub(ROUND_MAGIC.to_bits() as i64);
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    // Taylor series of e^r to degree 13 (truncation ≤ 5e-18 relative for |r| ≤ ln2/2).
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    // 2^(k−1) stays normal for k ∈ [−1021, 1024]; the factor 2 is exact.
    let scale = f64::from_bits(((k + 1022) as u64) << 52);
    let y = (p * 2.0) * scale;
    let y = if x < EXP_MIN { 0.0 } else { y };
    let y = if x > EXP_MAX { f64::INFINITY } else { y };
    if x.is_nan() { x } else { y }
}

// W. J. Cody (1969) / SPECFUN CALERF coefficients, at their published precision.
#[allow(clippy::excessive_precision)]
const CODY_A: [f64; 5] = [
    3.16112374387056560e0,
    1.13864154151050156e2,
    3.77485237685302021e2,
    3.20937758913846947e3,
    1.85777706184603153e-1,
];
#[allow(clippy::excessive_precision)]
const CODY_B: [f64; 4] = [
    2.36012909523441209e1,
    2.44024637934444173e2,
    1.28261652607737228e3,
    2.84423683343917062e3,
];
#[allow(clippy::excessive_precision)]
const CODY_C: [f64; 9] = [
    5.64188496988670089e-1,
    8.88314979438837594e0,
    6.61191906371416295e1,
    2.98635138197400131e2,
    8.81952221241769090e2,
    1.71204761263407058e3,
    2.05107837782607147e3,
    1.23033935479799725e3,
    2.15311535474403846e-8,
];
#[allow(clippy::excessive_precision)]
const CODY_D: [f64; 8] = [
    1.57449261107098347e1,
    1.17693950891312499e2,
    5.37181101862009858e2,
    1.62138957456669019e3,
    3.29079923573345963e3,
    4.36261909014324716e3,
    3.43936767414372164e3,
    1.23033935480374942e3,
];
#[allow(clippy::excessive_precision)]
const CODY_P: [f64; 6] = [
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
];
#[allow(clippy::excessive_precision)]
const CODY_Q: [f64; 5] = [
    2.56852019228982242e0,
    1.87295284992346047e0,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
];
/// `1/√π`.
#[allow(clippy::excessive_precision)]
const FRAC_1_SQRT_PI: f64 = 5.6418958354775628695e-1;
/// Below this Cody uses the erf form, above it erfc.
const ERF_SMALL: f64 = 0.46875;

/// `(erf x, erfc x)` for `x ≥ 0`, branch-free (all three of Cody's intervals are evaluated and
/// one is selected; one division, one [`exp`]). `x = +∞` gives `(1, 0)`.
#[inline(always)]
pub fn erf_erfc(x: f64) -> (f64, f64) {
    let z = x * x;
    // [0, 0.46875]: erf x = x·A(z)/B(z).
    let (mut n1, mut d1) = (CODY_A[4] * z, z);
    for i in 0..3 {
        n1 = (n1 + CODY_A[i]) * z;
        d1 = (d1 + CODY_B[i]) * z;
    }
    let (n1, d1) = (x * (n1 + CODY_A[3]), d1 + CODY_B[3]);
    // (0.46875, 4]: e^{x²}·erfc x = C(x)/D(x).
    let (mut n2, mut d2) = (CODY_C[8] * x, x);
    for i in 0..7 {
        n2 = (n2 + CODY_C[i]) * x;
        d2 = (d2 + CODY_D[i]) * x;
    }
    let (n2, d2) = (n2 + CODY_C[7], d2 + CODY_D[7]);
    // (4, ∞): e^{x²}·erfc x = (1/√π − w·P(w)/Q(w))/x, w = 1/x², written as one fraction.
    let w = 1.0 / z;
    let (mut n3, mut d3) = (CODY_P[5] * w, w);
    for i in 0..4 {
        n3 = (n3 + CODY_P[i]) * w;
        d3 = (d3 + CODY_Q[i]) * w;
    }
    let (n3, d3) = (n3 + CODY_P[4], d3 + CODY_Q[4]);
    let (n3, d3) = (FRAC_1_SQRT_PI * d3 - w * n3, d3 * x);
    let small = x <= ERF_SMALL;
    let (num, den) = if small {
        (n1, d1)
    } else if x <= 4.0 {
        (n2, d2)
    } else {
        (n3, d3)
    };
    let q = num / den;
    let c = exp(-z) * q;
    if small { (q, 1.0 - q) } else { (1.0 - c, c) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_within_two_ulp_of_std() {
        let mut worst = 0;
        let n = 2_000_000;
        for i in 0..=n {
            let x = EXP_MIN + (EXP_MAX - EXP_MIN) * i as f64 / n as f64;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        // Dense near 0 and over the quadrature's range [−32, 0].
        for i in 0..=n {
            let x = -32.0 + 33.0 * i as f64 / n as f64;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for x in [
            0.0, -0.0, 1e-300, -1e-300, 1e-10, -1e-10, 0.5, -0.5, EXP_MAX,
        ] {
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 2, "worst {worst} ulp");
    }

    #[test]
    fn exp_edges() {
        assert_eq!(exp(-708.5), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_erfc_match_libm() {
        let (mut worst_erf, mut worst_erfc) = (0.0f64, (0.0f64, 0.0));
        let n = 1_000_000;
        for i in 0..=n {
            let x = 30.0 * i as f64 / n as f64;
            let (e, c) = erf_erfc(x);
            worst_erf = worst_erf.max((e - libm::erf(x)).abs());
            let cr = libm::erfc(x);
            // Relative accuracy down to 1e-300 (where e^{−x²} is flushed, erfc < 3e-308·1/x√π).
            if cr > 1e-300 {
                let r = (c - cr).abs() / cr / (1.0 + x * x);
                if r > worst_erfc.0 {
                    worst_erfc = (r, x);
                }
            } else {
                assert!(c <= cr.max(1e-300), "erfc({x}) = {c}");
            }
        }
        assert!(worst_erf <= 4e-16, "erf abs {worst_erf:e}");
        assert!(worst_erfc.0 <= 5e-16, "erfc rel/(1+x²) {worst_erfc:?}");
        for x in [
            0.0,
            1e-300,
            1e-20,
            ERF_SMALL,
            4.0,
            30.0,
            1e200,
            f64::INFINITY,
        ] {
            let (e, c) = erf_erfc(x);
            assert!((e - libm::erf(x)).abs() <= 4e-16, "erf({x}) = {e}");
            assert!((c - libm::erfc(x)).abs() <= 5e-16 * (1.0 + x * x) * libm::erfc(x).max(1e-300));
        }
    }
}
