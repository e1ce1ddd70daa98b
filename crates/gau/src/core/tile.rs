//! The fused CPU core's dense primitives: a single-threaded GEMM (faer's) on row-major tiles of
//! slices, and a tile transpose. Every product is laid out untransposed (`C = A·B` with `A`, `B`,
//! `C` row-major): on x86 faer packs neither a transposed left operand nor a row-major `Aᵀ`
//! well, and measured 2–5× slower on those layouts, so the callers transpose the small tiles
//! (`K_tile`, `V_tile`, `P`, `dX`: `O(rows·keys + keys·(s + e))` each) into scratch first. The
//! fused core runs one product per tile inside a rayon task, so the products stay sequential.

use kernels::Float;
use std::any::TypeId;

/// A read-only row-major `rows × cols` view of a slice with row stride `rs ≥ cols`: element
/// `(r, c)` is `data[r·rs + c]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, F> {
    pub data: &'a [F],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
}

impl<'a, F> View<'a, F> {
    /// Rows `r0 … r0+rows−1` of the row-major `[·, cols]` matrix `data`.
    pub fn rows_of(data: &'a [F], cols: usize, r0: usize, rows: usize) -> Self {
        View {
            data: &data[r0 * cols..(r0 + rows) * cols],
            rows,
            cols,
            rs: cols,
        }
    }

    /// The contiguous row-major `rows × cols` matrix at the start of `data`.
    pub fn matrix(data: &'a [F], rows: usize, cols: usize) -> Self {
        Self::rows_of(data, cols, 0, rows)
    }
}

/// `dst [cols × rows] = srcᵀ`, row-major and contiguous.
pub(crate) fn transpose_into<F: Float>(src: View<F>, dst: &mut [F]) {
    let (rows, cols) = (src.rows, src.cols);
    let dst = &mut dst[..rows * cols];
    for r in 0..rows {
        let row = &src.data[r * src.rs..r * src.rs + cols];
        for (c, &x) in row.iter().enumerate() {
            dst[c * rows + r] = x;
        }
    }
}

/// `slice` as `&[T]` when `F` is `T`.
fn cast<F: 'static, T: 'static>(x: &[F]) -> Option<&[T]> {
    // SAFETY: F and T are the same type (equal TypeIds), so the layout is identical.
    (TypeId::of::<F>() == TypeId::of::<T>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<T>(), x.len()) })
}

/// `slice` as `&mut [T]` when `F` is `T`.
fn cast_mut<F: 'static, T: 'static>(x: &mut [F]) -> Option<&mut [T]> {
    // SAFETY: as in `cast`; the exclusive borrow is passed on.
    (TypeId::of::<F>() == TypeId::of::<T>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<T>(), x.len()) })
}

fn faer_view<T>(v: View<'_, T>) -> faer::MatRef<'_, T> {
    faer::MatRef::from_row_major_slice_with_stride(v.data, v.rows, v.cols, v.rs)
}

fn faer_gemm<T: faer::traits::ComplexField + Copy>(
    a: View<T>,
    b: View<T>,
    c: &mut [T],
    add: bool,
    one: T,
) {
    let (m, n) = (a.rows, b.cols);
    let cv = faer::MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n);
    let accum = if add {
        faer::Accum::Add
    } else {
        faer::Accum::Replace
    };
    faer::linalg::matmul::matmul(cv, accum, faer_view(a), faer_view(b), one, faer::Par::Seq);
    kernels::cpu_math::clear_upper_avx_state();
}

/// `c = a·b` (`add = false`) or `c += a·b` (`add = true`) for `a [m × k]`, `b [k × n]` and the
/// contiguous row-major `c [m × n]`, sequentially. Panics on mismatched sizes (internal callers
/// only: a bug).
pub(crate) fn gemm<F: Float>(a: View<F>, b: View<F>, c: &mut [F], add: bool) {
    assert_eq!(a.cols, b.rows, "gemm: inner sizes differ");
    assert!(c.len() >= a.rows * b.cols, "gemm: c too small");
    if let (Some(x), Some(y), Some(z)) = (cast(a.data), cast(b.data), cast_mut::<F, f32>(c)) {
        faer_gemm(re_f(a, x), re_f(b, y), z, add, 1.0f32);
    } else if let (Some(x), Some(y), Some(z)) = (cast(a.data), cast(b.data), cast_mut::<F, f64>(c))
    {
        faer_gemm(re_f(a, x), re_f(b, y), z, add, 1.0f64);
    } else {
        unreachable!("Float is implemented for f32 and f64 only");
    }
}

/// `v` with its data replaced by the same elements seen as another type.
fn re_f<'a, F, T>(v: View<'_, F>, data: &'a [T]) -> View<'a, T> {
    View {
        data,
        rows: v.rows,
        cols: v.cols,
        rs: v.rs,
    }
}
