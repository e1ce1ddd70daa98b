//! Branch-free f32 approximations of `exp` on x ≤ 0 and of `σ` (inline(always): they are meant
//! to be inlined into a SIMD loop). Bounds are in [`crate::cpu_math`]'s docs and are tested by
//! `tests.rs` at every ISA level.

use super::MulAdd;

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4; // few mantissa bits: k·LN2_HI is exact
const LN2_LO: f32 = -2.121_944_4e-4;

/// `1.5·2^23 + 127`: `x·log2(e) + MAGIC_BIASED` rounds `x·log2(e)` to an integer `k` held in
/// the low bits together with the exponent bias, so `bits << 23` is `2^k` as an f32.
const MAGIC_BIASED: f32 = 12_583_039.0;

/// `(2^k as bits-shifted f32, r)` with `x = k·ln2 + r`, |r| ≤ ln2/2 (Cody–Waite, two
/// constants). The `2^k` factor is valid for k in −127..=127 (−127 gives 0); callers clamp.
#[inline(always)]
fn reduce<M: MulAdd>(xc: f32) -> (f32, f32) {
    let t = M::mul_add(xc, LOG2E, MAGIC_BIASED);
    let two_k = f32::from_bits(t.to_bits() << 23);
    let kf = t - MAGIC_BIASED;
    let r = M::mul_add(kf, -LN2_LO, M::mul_add(kf, -LN2_HI, xc));
    (two_k, r)
}

/// `e^r − 1` for |r| ≤ ln2/2 by a degree-5 polynomial `r + r²·q(r)`, `q` minimax-fitted here
/// for relative error 1.03e-7 of `e^r` in exact arithmetic (`1 + r` kept exact); Estrin's scheme.
#[inline(always)]
fn expm1_reduced_p5<M: MulAdd>(r: f32) -> f32 {
    let r2 = r * r;
    let lo = M::mul_add(0.166_670_9, r, 0.499_992_3);
    let hi = M::mul_add(0.008_314_719, r, 0.041_890_208);
    M::mul_add(M::mul_add(hi, r2, lo), r2, r)
}

/// Where [`exp_nonpos_f32`] clamps its argument: `k = round(−88·log2 e) = −127`, whose `2^k`
/// built from exponent bits is exactly 0, so everything at or below the clamp comes out 0
/// without a select.
const EXP_NONPOS_LO: f32 = -88.0;

/// `e^x` for `x ≤ 0` (and NaN), for the activations (every exponent they take is
/// non-positive: `−|x|`, `−x²/2`): `2^k·(1 + (e^r − 1))` as one multiply-add with `2^k` a single
/// factor (k ≤ 0), the degree-5 polynomial of `expm1_reduced_p5`, no select: the argument is
/// clamped at −88, where `k = −127` makes the `2^k` factor exactly 0. So the result is 0 below
/// about −87.68 (`k = −127`), and between there and −87.34 (`k = −126`) the correctly scaled
/// subnormal value; above, relative error ≤ 2e-7. For x > 0 the result is wrong (unchecked).
#[inline(always)]
pub fn exp_nonpos_f32<M: MulAdd>(x: f32) -> f32 {
    // `x < LO ? LO : x` is one `vmaxps` and keeps NaN (then `2^k` is 0 and `0·NaN` is NaN).
    let xc = if x < EXP_NONPOS_LO { EXP_NONPOS_LO } else { x };
    let (two_k, r) = reduce::<M>(xc);
    M::mul_add(two_k, expm1_reduced_p5::<M>(r), two_k)
}

/// `(σ(x), 1 − σ(x))` with `σ(x) = 1/(1 + e^(−x))`, both without cancellation: with
/// `e = exp(−|x|)`, `σ = 1/(1+e)` for x ≥ 0 and `e/(1+e)` otherwise, and `1 − σ` the other one.
#[inline(always)]
pub fn sigmoid_parts_f32<M: MulAdd>(x: f32) -> (f32, f32) {
    let e = exp_nonpos_f32::<M>(-x.abs());
    let big = 1.0 / (1.0 + e);
    let small = e * big;
    // A select on the sign bit (one `vblendvps` on x itself; σ(−0) = σ(0) either way).
    if x.is_sign_negative() {
        (small, big)
    } else {
        (big, small)
    }
}

/// `t·σ(z)` with `σ(z) = 1/(1 + e^(−z))`, as `(z < 0 ? t·e : t) / (1 + e)` with
/// `e = exp(−|z|)`: one division and no separate `σ`, so SiLU (`t = z`) and the logistic itself
/// (`t = 1`) cost one multiply less than through [`sigmoid_parts_f32`]. Relative error as there (≤ 5e-7, tested with `t = 1`).
#[inline(always)]
pub fn scaled_sigmoid_f32<M: MulAdd>(z: f32, t: f32) -> f32 {
    let e = exp_nonpos_f32::<M>(-z.abs());
    let num = if z.is_sign_negative() { t * e } else { t };
    num / (1.0 + e)
}
