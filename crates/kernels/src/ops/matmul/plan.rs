//! The shape bookkeeping shared by the CPU and CUDA paths: one batched GEMM
//! `C_i = op(X_i)·op(Y_i)` (row-major), where either operand may be shared by every batch
//! entry (batch stride 0) and the output may be summed over the batch.

/// One batched row-major GEMM: `C_i (m×n) = op(X_i) (m×k) · op(Y_i) (k×n)` for `i < batch`.
///
/// `X_i` is stored `m×k` (`k×m` when `tx`), `Y_i` is stored `k×n` (`n×k` when `ty`), both
/// contiguous row-major. A stride of 0 shares one matrix across the batch. With `sum_batches`
/// the output is one `m×n` matrix holding `Σ_i C_i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GemmPlan {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub tx: bool,
    pub ty: bool,
    pub stride_x: usize,
    pub stride_y: usize,
    pub sum_batches: bool,
}

impl GemmPlan {
    /// The plan for `batch` products with `x` or `y` possibly shared (not batched), then
    /// folded into a single larger GEMM where the row-major layout allows it:
    /// - `y` shared, `x` batched and not transposed, output batched: the batch stacks onto the
    ///   rows, `(batch·m)×k · k×n` (the Linear case `x[B,T,d]·W[d,out]`);
    /// - output summed, both operands batched with the batch on the contraction side
    ///   (`tx && !ty`): `X` stacks to `(batch·k)×m` and `Y` to `(batch·k)×n`, one GEMM with
    ///   `k' = batch·k` (the weight gradient of a Linear layer, `Σ_i X_iᵀ·dY_i = Xᵀ·dY`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        batch: usize,
        m: usize,
        n: usize,
        k: usize,
        tx: bool,
        ty: bool,
        x_batched: bool,
        y_batched: bool,
        sum_batches: bool,
    ) -> GemmPlan {
        let mut p = GemmPlan {
            batch,
            m,
            n,
            k,
            tx,
            ty,
            stride_x: if x_batched { m * k } else { 0 },
            stride_y: if y_batched { k * n } else { 0 },
            sum_batches,
        };
        if batch > 1 && x_batched && !y_batched && !tx && !sum_batches {
            p.m *= batch;
            p.batch = 1;
            p.stride_x = 0;
        } else if batch > 1 && x_batched && y_batched && tx && !ty && sum_batches {
            p.k *= batch;
            p.batch = 1;
            p.stride_x = 0;
            p.stride_y = 0;
        }
        p
    }

    /// Elements between consecutive outputs (0 when the output is summed over the batch).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub fn stride_c(&self) -> usize {
        if self.sum_batches { 0 } else { self.m * self.n }
    }

    /// Elements of the output buffer.
    pub fn out_len(&self) -> usize {
        if self.sum_batches {
            self.m * self.n
        } else {
            self.batch * self.m * self.n
        }
    }

    /// Rows and columns of `X_i` as stored.
    pub fn x_stored(&self) -> (usize, usize) {
        if self.tx {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        }
    }

    /// Rows and columns of `Y_i` as stored.
    pub fn y_stored(&self) -> (usize, usize) {
        if self.ty {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        }
    }
}
