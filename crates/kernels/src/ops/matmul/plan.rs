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

/// The column-major (cuBLAS) call that computes a [`GemmPlan`]: a row-major `r×c` matrix is the
/// column-major `c×r` matrix with leading dimension `c`, so the row-major `C = op(X)·op(Y)` is
/// the column-major `Cᵀ = op(Y)ᵀ·op(X)ᵀ`: operand `A` is `Y`, operand `B` is `X`, each
/// transposed exactly when the plan transposes it, and nothing is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(any(feature = "cuda", test)), allow(dead_code))]
pub(crate) struct ColumnMajorGemm {
    /// `op(A)` is `Aᵀ` (`CUBLAS_OP_T`).
    pub trans_a: bool,
    /// `op(B)` is `Bᵀ`.
    pub trans_b: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
    /// Elements between batch entries of `A` (= `Y`), `B` (= `X`) and `C`.
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
}

impl GemmPlan {
    /// The cuBLAS arguments for this plan (see [`ColumnMajorGemm`]).
    #[cfg_attr(not(any(feature = "cuda", test)), allow(dead_code))]
    pub fn column_major(&self) -> ColumnMajorGemm {
        ColumnMajorGemm {
            trans_a: self.ty,
            trans_b: self.tx,
            m: self.n,
            n: self.m,
            k: self.k,
            lda: self.y_stored().1.max(1),
            ldb: self.x_stored().1.max(1),
            ldc: self.n.max(1),
            stride_a: self.stride_y,
            stride_b: self.stride_x,
            stride_c: self.stride_c(),
        }
    }
}
