//! The fused CPU core's one dense primitive: a single-threaded GEMM on strided views of
//! row-major slices (the `gemm` crate, which packs both operands, so transposed views cost
//! nothing extra and no tile is ever copied). The fused core runs one such product per tile
//! inside a rayon task, so the product itself stays sequential.

use kernels::Float;

/// A read-only `rows × cols` view of a slice: element `(r, c)` is `data[r·rs + c·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, F> {
    pub data: &'a [F],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, F> View<'a, F> {
    /// Rows `r0 … r0+rows−1` of the row-major `[·, cols]` matrix `data`.
    pub fn rows_of(data: &'a [F], cols: usize, r0: usize, rows: usize) -> Self {
        View {
            data: &data[r0 * cols..(r0 + rows) * cols],
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The row-major `rows × cols` matrix `data` (exactly `rows·cols` elements used).
    pub fn matrix(data: &'a [F], rows: usize, cols: usize) -> Self {
        View {
            data: &data[..rows * cols],
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (free: swapped strides).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Whether every addressed element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// `c = a·b` (`add = false`) or `c += a·b` (`add = true`) for `a [m × k]`, `b [k × n]` and the
/// row-major `c [m × n]` with row stride `ldc`, sequentially. Panics on mismatched sizes or
/// out-of-bounds views (internal callers only; both are bugs).
pub(crate) fn gemm<F: Float>(a: View<F>, b: View<F>, c: &mut [F], ldc: usize, add: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: inner sizes differ");
    assert!(a.in_bounds() && b.in_bounds(), "gemm: view out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    assert!(n <= ldc && (m - 1) * ldc + n <= c.len(), "gemm: c too small");
    if k == 0 {
        if !add {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(F::zero());
            }
        }
        return;
    }
    // SAFETY: every element the strides address lies inside its slice (checked above), `c` is
    // exclusively borrowed so it aliases neither `a` nor `b`, and `F` is f32 or f64 (`Float` is
    // implemented for nothing else), the types `gemm` accepts. `dst := α·dst + β·lhs·rhs`, with
    // the destination read only when `add`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            add,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if add { F::one() } else { F::zero() },
            F::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
