//! Plain f64 triple loops: the definition the CPU and CUDA paths are tested against.

/// The sizes of one `matmul` call: `batch` products `op(A_i) (m×k) · op(B_i) (k×n)`, with `A_i`
/// stored `m×k` (`k×m` when `trans_a`), `B_i` stored `k×n` (`n×k` when `trans_b`), and one `B`
/// shared by every batch entry when `broadcast_b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub broadcast_b: bool,
}

impl MatmulDims {
    /// Index of `op(A_i)[r, c]` in `a`.
    fn a_at(&self, i: usize, r: usize, c: usize) -> usize {
        let base = i * self.m * self.k;
        if self.trans_a {
            base + c * self.m + r
        } else {
            base + r * self.k + c
        }
    }

    /// Index of `op(B_i)[r, c]` in `b`.
    fn b_at(&self, i: usize, r: usize, c: usize) -> usize {
        let base = if self.broadcast_b {
            0
        } else {
            i * self.k * self.n
        };
        if self.trans_b {
            base + c * self.k + r
        } else {
            base + r * self.n + c
        }
    }

    /// Elements of `a`, `b` and the output.
    pub fn lens(&self) -> (usize, usize, usize) {
        let nb = if self.broadcast_b { 1 } else { self.batch };
        (
            self.batch * self.m * self.k,
            nb * self.k * self.n,
            self.batch * self.m * self.n,
        )
    }
}

/// `C_i[r, c] = Σ_j op(A_i)[r, j] · op(B_i)[j, c]`.
pub fn matmul_forward_ref(a: &[f64], b: &[f64], d: &MatmulDims) -> Vec<f64> {
    let mut out = vec![0.0; d.lens().2];
    for i in 0..d.batch {
        for r in 0..d.m {
            for c in 0..d.n {
                let mut s = 0.0;
                for j in 0..d.k {
                    s += a[d.a_at(i, r, j)] * b[d.b_at(i, j, c)];
                }
                out[(i * d.m + r) * d.n + c] = s;
            }
        }
    }
    out
}

/// `(da, db)` for cotangent `dy`: `d op(A_i) = dY_i·op(B_i)ᵀ` and `d op(B_i) = op(A_i)ᵀ·dY_i`,
/// written back through the transposes, with `db` summed over the batch when `B` is shared.
pub fn matmul_backward_ref(
    a: &[f64],
    b: &[f64],
    dy: &[f64],
    d: &MatmulDims,
) -> (Vec<f64>, Vec<f64>) {
    let (la, lb, _) = d.lens();
    let (mut da, mut db) = (vec![0.0; la], vec![0.0; lb]);
    for i in 0..d.batch {
        for r in 0..d.m {
            for c in 0..d.n {
                let g = dy[(i * d.m + r) * d.n + c];
                for j in 0..d.k {
                    da[d.a_at(i, r, j)] += g * b[d.b_at(i, j, c)];
                    db[d.b_at(i, j, c)] += g * a[d.a_at(i, r, j)];
                }
            }
        }
    }
    (da, db)
}
