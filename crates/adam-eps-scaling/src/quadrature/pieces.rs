//! The fast evaluation of the §8.3 recipe: an allocation-free walk over the cuts in increasing
//! order, with lane-wise (4 × f64) sums so that the node loops vectorise.
//!
//! Cuts: the integer grid `a + k` (k = −8…8) and the extra cuts `−b·4^J … −b, 0, b … b·4^J`
//! (those strictly inside `(a−8, a+8)`) are each sorted, so one merge visits every piece of the
//! reference's sorted list, in order. A piece `[a+k, a+k+1]` that no extra cut splits is a *unit
//! piece*: its nodes and weights are precomputed, and consecutive unit pieces are one contiguous
//! run of the flat arrays. Every other piece goes to [`CutNodes`], whose Gaussian weights are
//! computed with [`crate::vecmath::exp`] in one vector loop per buffer.

use super::{HALF_WIDTH, INV_SQRT_2PI, Integrand, Quadrature};
use crate::vecmath::exp;

/// Lanes of the accumulators (4 × f64 = one AVX2 register).
const LANES: usize = 4;
/// Nodes per flush of [`CutNodes`] (a multiple of [`LANES`]).
const BUF: usize = 128;
/// Capacity of [`CutNodes`]: [`BUF`] plus the padding to a whole number of lanes.
const CAP: usize = BUF + LANES;
/// Largest rule (nodes per piece) the fast path takes; bigger ones use the reference.
pub const MAX_FAST_NODES: usize = BUF;

/// Nodes of the pieces that need their own Gaussian weights: `x`, `−½(x−a)²` and
/// `½(x1−x0)·w_i/√(2π)`, buffered so that `exp` and `f` run in vector loops; and the terms
/// `w·y`, `w·y²` of a block of nodes before they are summed. Reusable scratch.
pub struct CutNodes {
    x: [f64; CAP],
    arg: [f64; CAP],
    hw: [f64; CAP],
    len: usize,
    wy: [f64; CAP],
    wyy: [f64; CAP],
}

impl CutNodes {
    /// Empty scratch space.
    pub fn new() -> Self {
        CutNodes {
            x: [0.0; CAP],
            arg: [0.0; CAP],
            hw: [0.0; CAP],
            len: 0,
            wy: [0.0; CAP],
            wyy: [0.0; CAP],
        }
    }
}

impl Default for CutNodes {
    fn default() -> Self {
        Self::new()
    }
}

/// Lane-wise `Σ w·y` and `Σ w·y²`.
struct Sums {
    s1: [f64; LANES],
    s2: [f64; LANES],
}

impl Sums {
    /// Adds the terms `w·y` and `w·y²`, element i to lane `i mod 4`.
    #[inline(always)]
    fn add(&mut self, wy: &[f64], wyy: &[f64]) {
        let (mut s1, mut s2) = (self.s1, self.s2);
        let (mut c1, mut c2) = (wy.chunks_exact(LANES), wyy.chunks_exact(LANES));
        for (t1, t2) in (&mut c1).zip(&mut c2) {
            for l in 0..LANES {
                s1[l] += t1[l];
                s2[l] += t2[l];
            }
        }
        for (l, (t1, t2)) in c1.remainder().iter().zip(c2.remainder()).enumerate() {
            s1[l] += t1;
            s2[l] += t2;
        }
        (self.s1, self.s2) = (s1, s2);
    }
    #[inline(always)]
    fn total(&self) -> (f64, f64) {
        let t = |s: &[f64; LANES]| (s[0] + s[1]) + (s[2] + s[3]);
        (t(&self.s1), t(&self.s2))
    }
}

/// State of the walk over `[a−8, a+8]`: the left end of the open piece, the unit piece it lies
/// in, and the pending run of whole unit pieces `[run.0, run.1)` (flat piece indices).
struct Walk<'q, 'b, F> {
    q: &'q Quadrature,
    f: &'q F,
    a: f64,
    prev: f64,
    k: i32,
    run: (usize, usize),
    sums: Sums,
    buf: &'b mut CutNodes,
}

impl<F: Integrand> Walk<'_, '_, F> {
    /// An extra cut `c` (inside, in increasing order): close the pieces ending at or before `c`,
    /// then the part of the current piece left of `c`.
    #[inline(always)]
    fn cut(&mut self, c: f64) {
        while self.k < HALF_WIDTH && self.a + (self.k + 1) as f64 <= c {
            self.close_piece();
        }
        if c > self.prev {
            self.cut_piece(self.prev, c);
            self.prev = c;
        }
    }

    /// Closes `[prev, a+k+1]`: a unit piece if it starts at `a+k`, else a cut piece.
    #[inline(always)]
    fn close_piece(&mut self) {
        let (x0, x1) = (self.prev, self.a + (self.k + 1) as f64);
        if x1 > x0 {
            if x0 == self.a + self.k as f64 {
                let p = (self.k + HALF_WIDTH) as usize;
                if self.run.1 != p {
                    self.flush_run();
                    self.run.0 = p;
                }
                self.run.1 = p + 1;
            } else {
                self.cut_piece(x0, x1);
            }
        }
        self.prev = x1;
        self.k += 1;
    }

    /// Sums the pending run of unit pieces from the flat precomputed arrays, [`BUF`] nodes at a
    /// time.
    #[inline(always)]
    fn flush_run(&mut self) {
        let n = self.q.stride;
        let (i0, i1) = (self.run.0 * n, self.run.1 * n);
        let (z, w) = (&self.q.unit_z[i0..i1], &self.q.unit_w[i0..i1]);
        for (z, w) in z.chunks(BUF).zip(w.chunks(BUF)) {
            let len = z.len();
            let (wy, wyy) = (&mut self.buf.wy[..len], &mut self.buf.wyy[..len]);
            // Element-wise (the loop vectoriser's shape), then a lane-wise reduction.
            for i in 0..len {
                let y = self.f.at(self.a + z[i]);
                wy[i] = w[i] * y;
                wyy[i] = w[i] * y * y;
            }
            self.sums.add(wy, wyy);
        }
        self.run = (0, 0);
    }

    /// Buffers the n nodes of the piece `[x0, x1]`.
    #[inline(always)]
    fn cut_piece(&mut self, x0: f64, x1: f64) {
        let gl = &self.q.gl;
        let n = gl.x.len();
        if self.buf.len + n > BUF {
            self.flush_buf();
        }
        let (mid, half) = (0.5 * (x0 + x1), 0.5 * (x1 - x0));
        let (at, b) = (self.buf.len, &mut *self.buf);
        let (xs, args) = (&mut b.x[at..at + n], &mut b.arg[at..at + n]);
        let hws = &mut b.hw[at..at + n];
        for i in 0..n {
            let x = mid + half * gl.x[i];
            let z = x - self.a;
            xs[i] = x;
            args[i] = -0.5 * z * z;
            hws[i] = half * gl.w[i] * INV_SQRT_2PI;
        }
        b.len += n;
    }

    /// Sums the buffered cut-piece nodes: weight `hw·e^arg`, value `f(x)`.
    #[inline(always)]
    fn flush_buf(&mut self) {
        let b = &mut *self.buf;
        // Pad to whole lanes with weight-0 nodes at x = 1 (f(1) is finite for every shape).
        while !b.len.is_multiple_of(LANES) {
            (b.x[b.len], b.arg[b.len], b.hw[b.len]) = (1.0, 0.0, 0.0);
            b.len += 1;
        }
        let len = b.len;
        let (x, arg, hw) = (&b.x[..len], &b.arg[..len], &b.hw[..len]);
        let (wy, wyy) = (&mut b.wy[..len], &mut b.wyy[..len]);
        for i in 0..len {
            let wt = hw[i] * exp(arg[i]);
            let y = self.f.at(x[i]);
            wy[i] = wt * y;
            wyy[i] = wt * y * y;
        }
        self.sums.add(wy, wyy);
        b.len = 0;
    }
}

impl Quadrature {
    /// The recipe as a merge of the sorted integer and extra cuts; `buf` is scratch space (its
    /// contents on entry do not matter). `#[inline(always)]` so that callers compiled for AVX2
    /// get an AVX2 copy. Needs `nodes() ≤ MAX_FAST_NODES`.
    #[inline(always)]
    pub(crate) fn integrate_with<F: Integrand>(
        &self,
        a: f64,
        b: f64,
        f: &F,
        buf: &mut CutNodes,
    ) -> (f64, f64) {
        let half_width = HALF_WIDTH as f64;
        let (lo, hi) = (a - half_width, a + half_width);
        let inside = |x: f64| x > lo && x < hi;
        buf.len = 0;
        let mut walk = Walk {
            q: self,
            f,
            a,
            prev: lo,
            k: -HALF_WIDTH,
            run: (0, 0),
            sums: Sums {
                s1: [0.0; LANES],
                s2: [0.0; LANES],
            },
            buf,
        };
        // Extra cuts in increasing order: −b·4^J … −b, then 0, then b … b·4^J (b·4^J < |a| + 8).
        let reach = a.abs() + half_width;
        let (mut top, mut count) = (b, 0usize);
        let geometric = b > 0.0 && b < reach;
        if geometric {
            while top * 4.0 < reach {
                top *= 4.0;
                count += 1;
            }
            // Dividing by 4 retraces b·4^j exactly (scaling by powers of 2 is exact here).
            let mut c = top;
            for _ in 0..=count {
                if inside(-c) {
                    walk.cut(-c);
                }
                c /= 4.0;
            }
        }
        if inside(0.0) {
            walk.cut(0.0);
        }
        if geometric {
            let mut c = b;
            for _ in 0..=count {
                if inside(c) {
                    walk.cut(c);
                }
                c *= 4.0;
            }
        }
        while walk.k < HALF_WIDTH {
            walk.close_piece();
        }
        walk.flush_run();
        walk.flush_buf();
        walk.sums.total()
    }
}
