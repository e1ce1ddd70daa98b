//! Hand-vectorised AVX2 loops for the two places where LLVM's auto-vectoriser gives up: Σθ² of
//! f32 data accumulated in f64 (it widens two lanes at a time, measured 2–3× slower than the
//! rest of the Tiger pass), and Tiger's fused fold + update + Σθ² of the new θ.
//!
//! Both are bit-identical to their portable versions ([`super::sum_sq`],
//! [`super::tiger::fold_update_sum_sq`]): the same eight f64 lanes (lane j takes elements
//! j, j + 8, …, the tail goes to lanes 0, 1, …), the same final pairing
//! ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)), separate multiply and add (no FMA), and
//! sign(x) = (x > 0) − (x < 0) with NaN passed through. `tests::simd_matches_portable`
//! checks this on awkward lengths, NaN included.
//!
//! The caller checks `is_x86_feature_detected!("avx2")` first (run-time dispatch; nothing
//! depends on `target-cpu=native`).

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// The eight f64 lanes folded in the fixed order of [`super::sum_sq`].
#[inline(always)]
fn combine(l: [f64; 8]) -> f64 {
    ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
}

/// Adds the squares of the 8 f32 values of `v` (widened to f64) to the lanes (lo = 0..4,
/// hi = 4..8).
#[inline(always)]
unsafe fn add_squares(lo: &mut __m256d, hi: &mut __m256d, v: __m256) {
    unsafe {
        let a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        let b = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
        *lo = _mm256_add_pd(*lo, _mm256_mul_pd(a, a));
        *hi = _mm256_add_pd(*hi, _mm256_mul_pd(b, b));
    }
}

#[inline(always)]
unsafe fn lanes(lo: __m256d, hi: __m256d) -> [f64; 8] {
    let mut l = [0.0f64; 8];
    unsafe {
        _mm256_storeu_pd(l.as_mut_ptr(), lo);
        _mm256_storeu_pd(l.as_mut_ptr().add(4), hi);
    }
    l
}

/// Σ x² in f64 lanes (see the module docs).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sum_sq_f32(x: &[f32]) -> f64 {
    let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        // SAFETY: c holds 8 f32 values.
        unsafe { add_squares(&mut lo, &mut hi, _mm256_loadu_ps(c.as_ptr())) };
    }
    // SAFETY: AVX2 is enabled in this function.
    let mut l = unsafe { lanes(lo, hi) };
    for (j, &v) in it.remainder().iter().enumerate() {
        let v = v as f64;
        l[j] += v * v;
    }
    combine(l)
}

/// sign(x) ∈ {−1, 0, +1}, NaN passed through.
#[inline(always)]
unsafe fn sign(x: __m256) -> __m256 {
    unsafe {
        let one = _mm256_set1_ps(1.0);
        let z = _mm256_setzero_ps();
        let pos = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(x, z), one);
        let neg = _mm256_and_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, z), one);
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
        _mm256_blendv_ps(_mm256_sub_ps(pos, neg), x, nan)
    }
}

/// Tiger's dense update micro-step on one chunk: `m = b1·m + inc·g; θ = d·θ − η·sign(m)`;
/// returns Σθ² of the new θ. `s` = [b1, inc, η, d].
///
/// # Safety
/// The CPU must support AVX2; the three slices have the same length.
#[target_feature(enable = "avx2")]
pub unsafe fn fold_update_sum_sq_f32(th: &mut [f32], m: &mut [f32], g: &[f32], s: [f32; 4]) -> f64 {
    let n = th.len();
    debug_assert!(m.len() == n && g.len() == n);
    let [b1, inc, eta, d] = s;
    let (vb1, vinc, veta, vd) = (
        _mm256_set1_ps(b1),
        _mm256_set1_ps(inc),
        _mm256_set1_ps(eta),
        _mm256_set1_ps(d),
    );
    let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let body = n / 8 * 8;
    let (tp, mp, gp) = (th.as_mut_ptr(), m.as_mut_ptr(), g.as_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: i + 8 ≤ n for all three slices.
        unsafe {
            let mv = _mm256_loadu_ps(mp.add(i));
            let gv = _mm256_loadu_ps(gp.add(i));
            let mn = _mm256_add_ps(_mm256_mul_ps(mv, vb1), _mm256_mul_ps(gv, vinc));
            _mm256_storeu_ps(mp.add(i), mn);
            let tv = _mm256_loadu_ps(tp.add(i));
            let tn = _mm256_sub_ps(_mm256_mul_ps(tv, vd), _mm256_mul_ps(veta, sign(mn)));
            _mm256_storeu_ps(tp.add(i), tn);
            add_squares(&mut lo, &mut hi, tn);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled in this function.
    let mut l = unsafe { lanes(lo, hi) };
    for j in body..n {
        let mn = m[j] * b1 + g[j] * inc;
        m[j] = mn;
        let t = th[j] * d - eta * super::sign(mn);
        th[j] = t;
        let v = t as f64;
        l[j - body] += v * v;
    }
    combine(l)
}
