//! Our own f32 GEMM for x86-64 hosts with AVX2 and FMA (and no AVX-512), BLIS-style:
//! `C = op(X)·op(Y)` or `C += op(X)·op(Y)`, `C` row-major `m×n`, `op(X)` `m×k` and `op(Y)`
//! `k×n` read through any strides (so transposes are free).
//!
//! Loops, outermost first (`docs/cpu-matmul.md` has the measurements behind the sizes):
//! 1. columns of `C` in blocks of `nc`;
//! 2. `k` in blocks of `kc`: the `kc×nc` block of `op(Y)` is packed once into 16-column
//!    micro-panels (in parallel), shared by every thread;
//! 3. rows of `C` in blocks of at most `mc` (whole 6-row micro-panels), split evenly among the
//!    threads; each thread packs its `mc×kc` block of `op(X)` into 6-row micro-panels in its own
//!    buffer (it stays in that core's L2);
//! 4. 16-column micro-panels of the packed `op(Y)` block (one stays in L1), then 6-row
//!    micro-panels of the packed `op(X)` block: the 6×16 micro-kernel.
//!
//! Each element of `C` is the sum over `k` in order (a running FMA chain within a `kc` block,
//! one add per block), whatever `mc`, `nc` and the thread count: results do not depend on the
//! number of threads.

mod microkernel;
mod pack;
#[cfg(test)]
mod tests;

use microkernel::{Tile, kernel_6x16};
use rayon::prelude::*;
use std::cell::RefCell;

/// Rows of the micro-kernel tile.
const MR: usize = 6;
/// Columns of the micro-kernel tile.
const NR: usize = 16;

/// Proof that this CPU runs AVX2 and FMA (the only way to reach [`sgemm`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2Fma(());

impl Avx2Fma {
    /// `Some` on a CPU with AVX2 and FMA.
    pub fn detect() -> Option<Avx2Fma> {
        let yes = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        yes.then_some(Avx2Fma(()))
    }
}

/// A `rows×cols` matrix read from `data` at `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Strided<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Strided<'a> {
    /// `op(M)` for `M` stored row-major `rows×cols` (`cols×rows` when `trans`) in `data`.
    pub fn op(data: &'a [f32], rows: usize, cols: usize, trans: bool) -> Strided<'a> {
        let (rs, cs) = if trans { (1, rows) } else { (cols, 1) };
        assert!(data.len() >= rows * cols, "operand shorter than its shape");
        Strided {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }
}

/// Block sizes (`mc` and `nc` are upper bounds; `mc` a multiple of 6, `nc` of 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Blocking {
    pub mc: usize,
    pub kc: usize,
    pub nc: usize,
}

impl Blocking {
    /// The sizes measured best on the development VM (Zen 3: 32 KiB L1d, 512 KiB L2).
    pub const DEFAULT: Blocking = Blocking {
        mc: 144,
        kc: 256,
        nc: 4096,
    };
}

/// `C = op(X)·op(Y)` (`accumulate == false`) or `C += op(X)·op(Y)` into `c[..m·n]`
/// (row-major), on rayon's current pool when `parallel`, else on this thread.
pub(super) fn sgemm(
    cpu: Avx2Fma,
    x: Strided<'_>,
    y: Strided<'_>,
    c: &mut [f32],
    accumulate: bool,
    parallel: bool,
) {
    sgemm_blocked(cpu, Blocking::DEFAULT, x, y, c, accumulate, parallel);
}

/// A 64-byte aligned line of packed floats (packed micro-panel rows start on cache lines).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

thread_local! {
    /// Packed `op(X)` block of this thread.
    static PACKED_A: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    /// Packed `op(Y)` block of the calling thread.
    static PACKED_B: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on at least `len` floats of this thread's buffer `key` (a fresh one when it is
/// already in use further up this thread's stack, e.g. by a product that rayon interleaved).
fn with_buffer<R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<Line>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    let lines = len.div_ceil(16);
    let floats = |v: &mut [Line]| {
        // SAFETY: `Line` is `repr(C)` around `[f32; 16]` (64 bytes, no padding), so `v` is
        // `16·v.len()` initialised, exclusively borrowed floats.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<f32>(), 16 * v.len()) }
    };
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < lines {
                v.resize(lines, Line([0.0; 16]));
            }
            f(floats(&mut v[..lines]))
        }
        Err(_) => f(floats(&mut vec![Line([0.0; 16]); lines])),
    })
}

/// `C`'s base pointer, shared by the tasks that write disjoint tiles of it.
#[derive(Clone, Copy)]
struct SharedC(*mut f32);
// SAFETY: the tasks of one `sgemm_blocked` call write disjoint row or column ranges of `C`
// (see `sgemm_blocked`), and `C` outlives them (they are joined before it returns).
unsafe impl Send for SharedC {}
// SAFETY: as above.
unsafe impl Sync for SharedC {}

/// [`sgemm`] with explicit block sizes (tests use small ones to cross every block edge).
pub(super) fn sgemm_blocked(
    cpu: Avx2Fma,
    bl: Blocking,
    x: Strided<'_>,
    y: Strided<'_>,
    c: &mut [f32],
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (x.rows, x.cols, y.cols);
    assert!(
        y.rows == k && c.len() >= m * n,
        "sgemm: inconsistent shapes"
    );
    assert!(
        bl.mc.is_multiple_of(MR) && bl.nc.is_multiple_of(NR) && bl.mc > 0 && bl.kc > 0 && bl.nc > 0
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let splits = RowSplit::new(m, bl.mc, threads);
    let c_ptr = SharedC(c.as_mut_ptr());
    let nc_max = bl.nc.min(n.div_ceil(NR) * NR);
    let kc_max = bl.kc.min(k);
    with_buffer(&PACKED_B, nc_max * kc_max, |packed_b| {
        for jc in (0..n).step_by(bl.nc) {
            let nb = bl.nc.min(n - jc);
            let panels = nb.div_ceil(NR);
            // Too few row blocks to occupy every thread: split the columns too.
            let col_groups = threads.div_ceil(splits.blocks).min(panels);
            for pc in (0..k).step_by(bl.kc) {
                let kb = bl.kc.min(k - pc);
                // Groups of 8 micro-panels (128 columns), one task each.
                let pack_group = |(g, dst): (usize, &mut [f32])| {
                    let c0 = g * 8 * NR;
                    pack::pack_b(cpu, y, pc, kb, jc + c0, (8 * NR).min(nb - c0), dst);
                };
                let packed = &mut packed_b[..panels * kb * NR];
                if threads > 1 {
                    packed
                        .par_chunks_mut(8 * kb * NR)
                        .enumerate()
                        .for_each(pack_group);
                } else {
                    packed
                        .chunks_mut(8 * kb * NR)
                        .enumerate()
                        .for_each(pack_group);
                }
                let packed_b = &packed_b[..panels * kb * NR];
                let task = |t: usize| {
                    let (rows, group) = (splits.rows(t / col_groups), t % col_groups);
                    let cols = panels * group / col_groups..panels * (group + 1) / col_groups;
                    let acc = accumulate || pc > 0;
                    let block = Block {
                        rows,
                        cols,
                        jc,
                        nb,
                        kb,
                        n,
                    };
                    block.run(cpu, x, pc, packed_b, c_ptr, acc);
                };
                let tasks = splits.blocks * col_groups;
                if threads > 1 && tasks > 1 {
                    (0..tasks).into_par_iter().for_each(task);
                } else {
                    (0..tasks).for_each(task);
                }
            }
        }
    });
}

/// The rows of `C` cut into `blocks` ranges of whole 6-row micro-panels, at most `mc` rows
/// each, their count a multiple of the thread count where there are enough micro-panels.
struct RowSplit {
    m: usize,
    panels: usize,
    blocks: usize,
}

impl RowSplit {
    fn new(m: usize, mc: usize, threads: usize) -> RowSplit {
        let panels = m.div_ceil(MR);
        let blocks = m.div_ceil(mc).next_multiple_of(threads).min(panels);
        RowSplit { m, panels, blocks }
    }

    /// Rows of block `b`.
    fn rows(&self, b: usize) -> std::ops::Range<usize> {
        let q = |b: usize| (self.panels * b / self.blocks * MR).min(self.m);
        q(b)..q(b + 1)
    }
}

/// One task: rows `rows` of `C` against the 16-column micro-panels `cols` of the packed block
/// of `op(Y)` (columns `jc..jc + nb` of `C`, `kb` steps).
struct Block {
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    jc: usize,
    nb: usize,
    kb: usize,
    n: usize,
}

impl Block {
    /// Packs this block's rows of `op(X)` (columns `pc..pc + kb`) and runs the micro-kernel
    /// over every tile.
    fn run(
        &self,
        cpu: Avx2Fma,
        x: Strided<'_>,
        pc: usize,
        packed_b: &[f32],
        c: SharedC,
        accumulate: bool,
    ) {
        let (r0, mb, kb) = (self.rows.start, self.rows.len(), self.kb);
        if mb == 0 || self.cols.is_empty() {
            return;
        }
        let row_panels = mb.div_ceil(MR);
        with_buffer(&PACKED_A, row_panels * kb * MR, |packed_a| {
            pack::pack_a(cpu, x, r0, mb, pc, kb, packed_a);
            for q in self.cols.clone() {
                let b_panel = &packed_b[q * kb * NR..(q + 1) * kb * NR];
                let c0 = self.jc + q * NR;
                let cols = NR.min(self.nb - q * NR);
                for (p, a_panel) in packed_a.chunks_exact(kb * MR).take(row_panels).enumerate() {
                    let row = r0 + p * MR;
                    let tile = Tile {
                        // SAFETY: `row < m` and `c0 < n`, so the offset is inside `C`.
                        c: unsafe { c.0.add(row * self.n + c0) },
                        ldc: self.n,
                        rows: MR.min(r0 + mb - row),
                        cols,
                        accumulate,
                    };
                    // SAFETY: `a_panel` holds `kb·6` floats and `b_panel` `kb·16`; the tile's
                    // `rows × cols` lie inside the `m×n` `C` (rows `< r0 + mb ≤ m`, columns
                    // `< jc + nb ≤ n`), which only this task writes (its rows × its column
                    // panels, disjoint from every other task's), and `cpu` proves that the CPU
                    // runs AVX2 and FMA.
                    unsafe { kernel_6x16(kb, a_panel.as_ptr(), b_panel.as_ptr(), tile) };
                }
            }
        });
    }
}
