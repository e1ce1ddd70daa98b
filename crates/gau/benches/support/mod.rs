//! Shared pieces of the GAU benches: deterministic data, the FLOP counts of spec/gau.md §4, a
//! gradient sink that drops what it gets, an allocation-counting global allocator for peak
//! memory, and a recorder of per-iteration times (criterion's own numbers go to its files; the
//! recorder lets the bench print time ratios and the machine load next to each number).

use nn::{GradSink, Param};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Base widths (GAU-α): d, e, s; FLASH chunk c; MHA heads.
pub const D: usize = 768;
pub const E: usize = 1536;
pub const S: usize = 128;
pub const CHUNK: usize = 256;
pub const HEADS: usize = 12;

/// Sequence lengths: 128 … 2048 (batch 1), or 128 and 512 under `FRUGAL_BENCH_QUICK`, or the
/// comma-separated list in `FRUGAL_GAU_LENGTHS` (e.g. `4096,8192` to look for FLASH's crossover
/// with a filter such as `gau_layer/(gau_fused|flash)/`).
pub fn lengths() -> Vec<usize> {
    if let Ok(list) = std::env::var("FRUGAL_GAU_LENGTHS") {
        let parsed: Result<Vec<usize>, _> = list.split(',').map(|n| n.trim().parse()).collect();
        match parsed {
            Ok(v) if !v.is_empty() && v.iter().all(|&n| n > 0) => return v,
            _ => panic!(
                "FRUGAL_GAU_LENGTHS must be a comma-separated list of positive lengths, got {list:?}"
            ),
        }
    }
    if quick() {
        vec![128, 512]
    } else {
        vec![128, 256, 512, 1024, 2048]
    }
}

pub fn quick() -> bool {
    std::env::var_os("FRUGAL_BENCH_QUICK").is_some()
}

/// Deterministic values in [−0.5, 0.5)·scale.
pub fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    kernels::testing::lcg_uniform_f32(n, seed, -0.5 * scale, 0.5 * scale)
}

/// Forward FLOPs of one GAU layer (spec §4): `2nd(3e+s) + 2n²(e+s)`.
pub fn gau_fwd_flops(n: usize) -> u64 {
    (2 * n * D * (3 * E + S) + 2 * n * n * (E + S)) as u64
}

/// Forward FLOPs of one FLASH layer (spec §4): `2nd(3e+s) + 2nc(e+s) + 4nse`, with the chunk
/// no longer than the sequence.
pub fn flash_fwd_flops(n: usize) -> u64 {
    let c = CHUNK.min(n);
    (2 * n * D * (3 * E + S) + 2 * n * c * (E + S) + 4 * n * S * E) as u64
}

/// Forward FLOPs of one MHA + FFN block with FFN width 4d (spec §4): `24nd² + 4n²d`.
pub fn mha_ffn_fwd_flops(n: usize) -> u64 {
    (24 * n * D * D + 4 * n * n * D) as u64
}

/// Forward FLOPs of the attention core alone: `2n²(e+s)`.
pub fn core_fwd_flops(n: usize) -> u64 {
    (2 * n * n * (E + S)) as u64
}

/// Forward + backward = 3 × forward (backward ≈ 2 × forward; recomputation not counted).
pub fn fwd_bwd(f: u64) -> u64 {
    3 * f
}

/// Takes every gradient and drops it (an optimizer would consume it; accumulating into
/// `param.grad` would add traffic the layer does not do).
pub struct Drop_;

impl GradSink for Drop_ {
    fn accept(&mut self, _name: &str, _param: &mut Param, grad: kernels::Tensor) -> nn::Result<()> {
        std::hint::black_box(grad);
        Ok(())
    }
}

/// Counts live heap bytes and their peak.
pub struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CURRENT.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new >= l.size() {
            let now = CURRENT.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            CURRENT.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

/// Peak heap bytes allocated while `f` runs, above what was live before it (its inputs and
/// parameters are not counted; everything it allocates, caches included, is).
pub fn peak_bytes(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed).saturating_sub(base)
}

/// Per-iteration times of each (function, n), and the 1-minute load average when it was done.
#[derive(Default)]
pub struct Recorder {
    times: Mutex<BTreeMap<(String, usize), Vec<f64>>>,
    load: Mutex<BTreeMap<(String, usize), String>>,
}

impl Recorder {
    /// Records one criterion batch: `iters` iterations that took `total`.
    pub fn push(&self, function: &str, n: usize, iters: u64, total: Duration) {
        let per = total.as_secs_f64() / iters.max(1) as f64;
        self.times
            .lock()
            .unwrap()
            .entry((function.to_string(), n))
            .or_default()
            .push(per);
        self.load
            .lock()
            .unwrap()
            .insert((function.to_string(), n), load_average());
    }

    /// Median seconds per iteration (the first batch, a warm-up, is dropped when there are
    /// others).
    pub fn median(&self, function: &str, n: usize) -> Option<f64> {
        let t = self.times.lock().unwrap();
        let v = t.get(&(function.to_string(), n))?;
        let mut v: Vec<f64> = if v.len() > 1 {
            v[1..].to_vec()
        } else {
            v.clone()
        };
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    pub fn load(&self, function: &str, n: usize) -> String {
        self.load
            .lock()
            .unwrap()
            .get(&(function.to_string(), n))
            .cloned()
            .unwrap_or_else(|| "-".into())
    }
}

/// The 1-minute load average from `/proc/loadavg` ("-" where there is none).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

/// Where the bench writes its report: `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn report_path(name: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join(name)
}
