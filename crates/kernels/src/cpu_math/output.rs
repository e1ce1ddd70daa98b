//! Output buffers for the CPU kernels (huge pages for large ones, no zeroing where every element
//! is written) and the AVX upper-state reset after foreign GEMM kernels.

use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Clears the upper halves of the AVX registers (`vzeroupper`) on the calling thread.
///
/// faer's x86 GEMM kernels (`private-gemm-x86`, hand-written) return with dirty upper halves;
/// until a `vzeroupper`, every SSE-encoded instruction the thread runs next (scalar code, libm's
/// `exp`, non-VEX loops) pays a transition penalty — measured here as 10–20× slower element-wise
/// passes after a faer product. Call it after handing work to such kernels.
#[inline]
pub fn clear_upper_avx_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper()
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked on the line above).
            unsafe { zero_upper() }
        }
    }
}

/// [`clear_upper_avx_state`] on this thread and on every thread of the current rayon pool
/// (after a GEMM that ran on the pool).
pub fn clear_upper_avx_state_everywhere() {
    rayon::broadcast(|_| clear_upper_avx_state());
    clear_upper_avx_state();
}

/// A zeroed output vector of `n` elements (for kernels that need zeros or hand the buffer to a
/// library, such as the GEMMs).
///
/// Large outputs are fresh `mmap`ed memory, and on Linux their first touch costs one page fault
/// per 4 KiB page: for a 40 MB output that is ten thousand faults, several times the time the
/// kernel itself takes. So for outputs of 4 MiB and more this asks the kernel for transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`, a hint: where THP is off it does nothing) before the
/// first touch. The memory is zero-initialised and owned by an ordinary `Vec`.
pub fn alloc_output<F: Float>(n: usize) -> Vec<F> {
    let v = vec![F::default(); n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// A new vector of `n` elements, every one written by `fill` in parallel chunks of [`CHUNK`]
/// (`fill(chunk_index, chunk)`), with no zeroing first: for outputs that glibc recycles from its
/// heap (those under its mmap threshold, up to 32 MB) `vec![0; n]` would `memset` the whole
/// buffer, a second write of every byte. Huge pages as in [`alloc_output`].
///
/// `fill` must write every element of the chunk it is given; [`map1_chunk_uninit`] and
/// [`map2_chunk_uninit`] do, given inputs of the chunk's length.
pub(super) fn filled_output<F: Float>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<F>]) + Sync + Send,
) -> Vec<F> {
    let mut out: Vec<F> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(spare);
    spare
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, c)| fill(i, c));
    // SAFETY: `fill` wrote all `n` elements (the callers below hand the chunk loops inputs of
    // each chunk's length, and those loops write every element); F is Copy, nothing to drop.
    unsafe { out.set_len(n) };
    out
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &[T]) {
    const MIN_BYTES: usize = 4 << 20;
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < MIN_BYTES {
        return;
    }
    let start = v.as_ptr() as usize;
    let first = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: [first, end) lies inside the vector's own allocation; MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents. Failure is harmless.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}
