//! Measures (with a counting global allocator) the peak memory the attention cores allocate
//! beyond their inputs and what they return, as `n` grows: the fused core's transient memory
//! must not grow like n² (it holds per-row constants, O(n), and per-task tiles, O(1)); the
//! materialising core's does, which shows the measurement can see an n² buffer.
//!
//! One test in this binary, so no other test allocates concurrently.

use gau::{AttentionCore, CoreKind, Mask, Normalization, Tiles};
use kernels::Tensor;
use kernels::testing::{randn, rng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(l.size(), SeqCst) + l.size();
        PEAK.fetch_max(now, SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CURRENT.fetch_sub(l.size(), SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f`, returning what it returns and the peak bytes allocated during it beyond what it
/// still holds when it returns (its transient memory).
fn transient<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(SeqCst);
    PEAK.store(base, SeqCst);
    let out = f();
    let retained = CURRENT.load(SeqCst).saturating_sub(base);
    let peak = PEAK.load(SeqCst) - base;
    (out, peak - retained)
}

#[test]
fn fused_core_transient_memory_does_not_grow_with_n_squared() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (s, e) = (16, 32);
    let mut rows = Vec::new();
    for n in [256usize, 512, 1024, 2048] {
        let mut r = rng(n as u64);
        let q = Tensor::from_vec(randn(&mut r, n * s), &[1, n, s]).unwrap();
        let k = Tensor::from_vec(randn(&mut r, n * s), &[1, n, s]).unwrap();
        let v = Tensor::from_vec(randn(&mut r, n * e), &[1, n, e]).unwrap();
        let dc = Tensor::from_vec(randn(&mut r, n * e), &[1, n, e]).unwrap();
        let mask = Mask::causal().with_lengths(&[n - 3]);
        let mut measured = Vec::new();
        for kind in [CoreKind::Fused(Tiles::default()), CoreKind::Materialized] {
            let core = AttentionCore {
                norm: Normalization::SoftmaxPlus { floor: 16 },
                scale: 0.25,
                kind,
            };
            pool.install(|| {
                // Warm up rayon's workers so their one-off allocations are not counted.
                core.forward(&q, &k, &v, &mask).unwrap();
                let ((_, cache), fwd) = transient(|| core.forward(&q, &k, &v, &mask).unwrap());
                let (_, bwd) = transient(|| core.backward(&q, &k, &v, &mask, &cache, &dc).unwrap());
                // What the materialising core keeps for the backward is n² too: count it.
                measured.push((fwd.max(bwd), cache.bytes()));
            });
        }
        eprintln!(
            "n = {n:5}: fused transient {:>9} B, cache {:>8} B | materialised transient {:>9} B, cache {:>9} B | one n×n f64 matrix {:>9} B",
            measured[0].0,
            measured[0].1,
            measured[1].0,
            measured[1].1,
            n * n * 8
        );
        rows.push((n, measured));
    }
    for w in rows.windows(2) {
        let ((n0, m0), (n1, m1)) = (&w[0], &w[1]);
        assert_eq!(*n1, 2 * n0);
        // Fused: transient memory at most doubles when n doubles (O(n) per-row constants plus
        // O(1) tiles), and so does the cache (the output and one lse per row).
        assert!(
            m1[0].0 <= 2 * m0[0].0 + 4096,
            "fused transient {} → {}",
            m0[0].0,
            m1[0].0
        );
        assert!(
            m1[0].1 <= 2 * m0[0].1,
            "fused cache {} → {}",
            m0[0].1,
            m1[0].1
        );
        // Materialised: its cache (scores and probabilities) quadruples: the allocator sees it.
        assert!(
            m1[1].1 >= 4 * m0[1].1 - 16,
            "materialised cache {} → {}",
            m0[1].1,
            m1[1].1
        );
    }
    let (n, m) = rows.last().unwrap();
    assert!(
        m[0].0 + m[0].1 < n * n * 8 / 20,
        "fused core at n = {n} uses {:?}",
        m[0]
    );
    assert!(
        m[1].1 >= 2 * n * n * 8,
        "materialised core at n = {n} stores {:?}",
        m[1]
    );
}
