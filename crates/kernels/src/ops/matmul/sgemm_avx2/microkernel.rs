//! The 6×16 AVX2+FMA micro-kernel: `C[6×16] (+)= Ã·B̃` for one micro-panel of packed `A`
//! (`kc` steps of 6 values, k-major) and one of packed `B` (`kc` steps of 16 values).
//!
//! Twelve ymm accumulators hold the tile (6 rows × 2 vectors of 8 columns); per k step it loads
//! the 16 values of `B̃` (two vectors), broadcasts the 6 values of `Ã` one at a time and issues
//! 12 FMAs. Each `C` element is summed in k order, one FMA per step, whatever the blocking of
//! `m` and `n` or the number of threads.

use super::{MR, NR};
use std::arch::x86_64::*;

/// Where the tile goes: row-major `C` with row stride `ldc`, of which `rows ≤ 6` rows and
/// `cols ≤ 16` columns are real (the rest is padding of the packed operands).
#[derive(Clone, Copy)]
pub(super) struct Tile {
    pub c: *mut f32,
    pub ldc: usize,
    pub rows: usize,
    pub cols: usize,
    /// `C += Ã·B̃` when set, else `C = Ã·B̃`.
    pub accumulate: bool,
}

/// `tile (+)= Ã·B̃` over `kc` steps.
///
/// # Safety
/// - `a` points to `kc·6` readable floats and `b` to `kc·16` readable floats;
/// - `tile.c` is valid for reads and writes of `tile.rows` rows of `tile.cols` floats each,
///   `tile.ldc` floats apart, and no other thread touches them during the call;
/// - the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel_6x16(kc: usize, a: *const f32, b: *const f32, tile: Tile) {
    let mut acc = [_mm256_setzero_ps(); 2 * MR];
    // Start fetching the tile of `C` now; it is needed after the `kc` steps.
    for i in 0..tile.rows {
        let row = tile.c.wrapping_add(i * tile.ldc);
        _mm_prefetch::<_MM_HINT_T0>(row.cast());
        _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(NR - 1).cast());
    }
    // SAFETY: every access below stays inside `a[..kc·6]` and `b[..kc·16]` (the caller's
    // contract): step `s` reads `a[6s..6s+6]` and `b[16s..16s+16]` for `s < kc`.
    unsafe {
        let (mut a, mut b) = (a, b);
        macro_rules! step {
            ($s:expr) => {{
                let b0 = _mm256_loadu_ps(b.add($s * NR));
                let b1 = _mm256_loadu_ps(b.add($s * NR + 8));
                let mut i = 0;
                while i < MR {
                    let ai = _mm256_broadcast_ss(&*a.add($s * MR + i));
                    acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                    acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
                    i += 1;
                }
            }};
        }
        for _ in 0..kc / 4 {
            // The packed `A` panel streams from L2: ask for it 8 steps ahead.
            _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(8 * MR).cast());
            step!(0);
            step!(1);
            step!(2);
            step!(3);
            a = a.add(4 * MR);
            b = b.add(4 * NR);
        }
        for _ in 0..kc % 4 {
            step!(0);
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    // SAFETY: the caller's contract on `tile`.
    unsafe { store(&acc, tile) }
}

/// Writes (or adds) the accumulators to the valid part of the tile.
///
/// # Safety
/// As [`kernel_6x16`] for `tile`.
#[target_feature(enable = "avx2,fma")]
unsafe fn store(acc: &[__m256; 2 * MR], t: Tile) {
    if t.rows == MR && t.cols == NR {
        for (i, row) in acc.chunks_exact(2).enumerate() {
            // SAFETY: row `i < 6` of a full tile: 16 floats at `c + i·ldc` (caller's contract).
            unsafe {
                let p = t.c.add(i * t.ldc);
                let (mut v0, mut v1) = (row[0], row[1]);
                if t.accumulate {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p.add(8)));
                }
                _mm256_storeu_ps(p, v0);
                _mm256_storeu_ps(p.add(8), v1);
            }
        }
        return;
    }
    // Edge tile: spill to the stack, copy the valid part.
    let mut buf = [0.0f32; MR * NR];
    for (i, row) in acc.chunks_exact(2).enumerate() {
        let (lo, hi) = buf[i * NR..(i + 1) * NR].split_at_mut(8);
        // SAFETY: `lo` and `hi` are 8 floats each.
        unsafe {
            _mm256_storeu_ps(lo.as_mut_ptr(), row[0]);
            _mm256_storeu_ps(hi.as_mut_ptr(), row[1]);
        }
    }
    for (i, src) in buf.chunks_exact(NR).take(t.rows).enumerate() {
        // SAFETY: row `i < rows` holds `cols` floats at `c + i·ldc` (caller's contract), and
        // `C` is not borrowed elsewhere.
        let dst = unsafe { std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), t.cols) };
        if t.accumulate {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        } else {
            dst.copy_from_slice(&src[..t.cols]);
        }
    }
}
