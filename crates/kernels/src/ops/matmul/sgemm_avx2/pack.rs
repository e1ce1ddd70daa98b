//! Packing: copies blocks of `op(X)` and `op(Y)` into the micro-panel order the micro-kernel
//! streams, zero-padded at the edges. Reads any row and column strides, so transposed operands
//! cost nothing extra; both memory orders are read sequentially (whole rows when the lanes of a
//! micro-panel are contiguous, 8×8 register transposes when its k steps are).

use super::{Avx2Fma, MR, NR, Strided};
use std::arch::x86_64::*;

/// Packs rows `r0..r0 + rows` × columns `p0..p0 + kb` of `op(X)` into `⌈rows/6⌉` micro-panels
/// of `kb·6` floats: panel `q`, step `s`, lane `i` is `op(X)[r0 + 6q + i, p0 + s]` (0 past the
/// last row).
pub(super) fn pack_a(
    cpu: Avx2Fma,
    x: Strided<'_>,
    r0: usize,
    rows: usize,
    p0: usize,
    kb: usize,
    dst: &mut [f32],
) {
    pack_block::<MR>(cpu, x, r0, rows, p0, kb, dst);
}

/// Packs rows `p0..p0 + kb` × columns `c0..c0 + cols` of `op(Y)` into `⌈cols/16⌉`
/// micro-panels of `kb·16` floats: panel `q`, step `s`, lane `j` is `op(Y)[p0 + s, c0 + 16q + j]`
/// (0 past the last column).
pub(super) fn pack_b(
    cpu: Avx2Fma,
    y: Strided<'_>,
    p0: usize,
    kb: usize,
    c0: usize,
    cols: usize,
    dst: &mut [f32],
) {
    // Columns of op(Y) are the rows of op(Y)ᵀ: the same packing as for op(X).
    let yt = Strided {
        data: y.data,
        rows: y.cols,
        cols: y.rows,
        rs: y.cs,
        cs: y.rs,
    };
    pack_block::<NR>(cpu, yt, c0, cols, p0, kb, dst);
}

/// `⌈h/W⌉` micro-panels of width `W`: `dst[q·kb·W + s·W + i] = m[i0 + qW + i, p0 + s]` for
/// `qW + i < h`, `s < kb`, zero past `h`.
fn pack_block<const W: usize>(
    _cpu: Avx2Fma,
    m: Strided<'_>,
    i0: usize,
    h: usize,
    p0: usize,
    kb: usize,
    dst: &mut [f32],
) {
    let panels = h.div_ceil(W);
    let dst = &mut dst[..panels * kb * W];
    if !h.is_multiple_of(W) {
        dst[(panels - 1) * kb * W..].fill(0.0);
    }
    if m.rs == 1 {
        // The lanes of one k step are contiguous: stream whole rows of the stored matrix.
        for s in 0..kb {
            let start = (p0 + s) * m.cs + i0;
            let src = &m.data[start..start + h];
            let mut runs = src.chunks_exact(W);
            for (q, run) in runs.by_ref().enumerate() {
                let at = q * kb * W + s * W;
                dst[at..at + W].copy_from_slice(run);
            }
            let rest = runs.remainder();
            if !rest.is_empty() {
                let at = (h / W) * kb * W + s * W;
                dst[at..at + rest.len()].copy_from_slice(rest);
            }
        }
        return;
    }
    for (q, panel) in dst.chunks_exact_mut(kb * W).enumerate() {
        let lanes = W.min(h - q * W);
        let first = i0 + q * W;
        if m.cs == 1 && lanes == W && (W == 16 || W == 6) && kb >= 8 {
            // k-runs contiguous per lane: 8×8 register transposes.
            // SAFETY: `Strided::op` checked that `data` holds the matrix, and rows
            // `first..first + W`, columns `p0..p0 + kb` are inside it; the panel holds `kb·W`
            // floats; this code runs only under an `Avx2Fma` proof (module docs of `super`).
            unsafe { transpose_runs::<W>(m, first, p0, kb, panel) };
        } else {
            for (s, d) in panel.chunks_exact_mut(W).enumerate() {
                for (i, v) in d[..lanes].iter_mut().enumerate() {
                    *v = m.data[(p0 + s) * m.cs + (first + i) * m.rs];
                }
            }
        }
    }
}

/// `panel[s·W + i] = m[first + i, p0 + s]` for `i < W`, `s < kb`, where each row of `m`
/// is contiguous (`cs == 1`): 8 k steps × 8 lanes at a time through an 8×8 transpose.
///
/// # Safety
/// `m.data` holds rows `first..first + W` × columns `p0..p0 + kb` at `i·m.rs + j`, `panel` is
/// `kb·W` floats, `W` is 6 or 16, `kb ≥ 8`, and the CPU runs AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_runs<const W: usize>(
    m: Strided<'_>,
    first: usize,
    p0: usize,
    kb: usize,
    panel: &mut [f32],
) {
    let src = m.data.as_ptr();
    let dst = panel.as_mut_ptr();
    let full = kb / 8 * 8;
    let mut g = 0;
    while g < W {
        let lanes = (W - g).min(8);
        for s in (0..full).step_by(8) {
            // SAFETY: rows `first + g + r` (`r < lanes`) and columns `p0 + s .. p0 + s + 8`
            // (`s + 8 ≤ kb`) are inside the matrix; the 8 stores of `lanes` floats each go to
            // `panel[(s + t)·W + g ..][..lanes]`, inside the panel.
            unsafe {
                let row = |r: usize| {
                    if r < lanes {
                        let at = src.add((first + g + r) * m.rs + p0 + s);
                        // Each row is its own stream: fetch 4 lines ahead.
                        _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(64).cast());
                        _mm256_loadu_ps(at)
                    } else {
                        _mm256_setzero_ps()
                    }
                };
                let t = transpose8(std::array::from_fn(row));
                for (step, v) in t.iter().enumerate() {
                    let out = dst.add((s + step) * W + g);
                    if lanes == 8 {
                        _mm256_storeu_ps(out, *v);
                    } else {
                        let mut tmp = [0.0f32; 8];
                        _mm256_storeu_ps(tmp.as_mut_ptr(), *v);
                        std::ptr::copy_nonoverlapping(tmp.as_ptr(), out, lanes);
                    }
                }
            }
        }
        g += 8;
    }
    // The last `kb % 8` steps, one element at a time.
    for s in full..kb {
        for i in 0..W {
            panel[s * W + i] = m.data[(first + i) * m.rs + p0 + s];
        }
    }
}

/// Transposes the 8×8 matrix whose rows are `r`.
#[target_feature(enable = "avx2,fma")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}
