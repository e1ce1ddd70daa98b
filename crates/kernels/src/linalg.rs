//! Dense linear algebra through ndarray-linalg and the system OpenBLAS/LAPACK (feature `linalg`,
//! off by default so that the default build needs no system library; install
//! `libopenblas-dev` to use it). The LRU layer initialises its recurrence from an
//! eigendecomposition; nothing on a hot path goes through here.

use crate::{DType, Error, Result, Tensor};
use ndarray::Array2;
use ndarray_linalg::Eig;

/// The eigendecomposition `A V = V diag(λ)` of a real square matrix `A` (n × n).
#[derive(Debug, Clone, PartialEq)]
pub struct EigDecomposition {
    /// The order n.
    pub n: usize,
    /// Eigenvalues λ_j as `(re, im)`, in LAPACK `geev` order (complex ones come in adjacent
    /// conjugate pairs).
    pub values: Vec<(f64, f64)>,
    /// The n × n complex matrix V, row-major, entries `(re, im)`: column j (entries
    /// `vectors[i * n + j]`) is the right eigenvector of λ_j, with unit 2-norm.
    pub vectors: Vec<(f64, f64)>,
}

/// Eigenvalues and right eigenvectors of a real square matrix (f32 or f64, any device; computed in
/// f64 on the CPU by LAPACK `geev`): `A v_j = λ_j v_j`.
///
/// Errors: `InvalidShape` unless `a` is n × n; `InvalidArgument` if `a` holds a NaN or an
/// infinity, or if LAPACK fails to converge.
pub fn eig_general(a: &Tensor) -> Result<EigDecomposition> {
    const OP: &str = "eig_general";
    let shape = a.shape();
    if shape.len() != 2 || shape[0] != shape[1] {
        return Err(Error::invalid_shape(
            OP,
            shape,
            "expected a square n × n matrix",
        ));
    }
    let n = shape[0];
    let data = a.to_dtype(DType::F64)?.to_vec::<f64>()?;
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidArgument {
            op: OP,
            reason: format!("entry {i} is {}", data[i]),
        });
    }
    if n == 0 {
        return Ok(EigDecomposition {
            n,
            values: Vec::new(),
            vectors: Vec::new(),
        });
    }
    let m = Array2::from_shape_vec((n, n), data)
        .map_err(|e| Error::invalid_shape(OP, shape, e.to_string()))?;
    let (values, vectors) = m.eig().map_err(|e| Error::InvalidArgument {
        op: OP,
        reason: format!("LAPACK geev failed: {e}"),
    })?;
    Ok(EigDecomposition {
        n,
        values: values.iter().map(|z| (z.re, z.im)).collect(),
        vectors: vectors.iter().map(|z| (z.re, z.im)).collect(),
    })
}

/// Eigenvalues of a real square matrix as `(re, im)`; see [`eig_general`].
pub fn eigvals(a: &Tensor) -> Result<Vec<(f64, f64)>> {
    eig_general(a).map(|e| e.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    }

    #[test]
    fn rotation_has_eigenvalues_plus_minus_i() {
        let a = Tensor::from_vec(vec![0.0f64, -1.0, 1.0, 0.0], &[2, 2]).unwrap();
        let v = sorted(eigvals(&a).unwrap());
        for (got, want) in v.iter().zip([(0.0, -1.0), (0.0, 1.0)]) {
            assert!(
                (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
                "{v:?}"
            );
        }
    }

    #[test]
    fn triangular_matrix_eigenpairs_satisfy_a_v_equals_lambda_v() {
        // Upper triangular: the eigenvalues are the diagonal, 1, 2 and 3.
        let a = [2.0f64, 1.0, -4.0, 0.0, 3.0, 5.0, 0.0, 0.0, 1.0];
        let e = eig_general(&Tensor::from_vec(a.to_vec(), &[3, 3]).unwrap()).unwrap();
        let v = sorted(e.values.clone());
        for (got, want) in v.iter().zip([1.0, 2.0, 3.0]) {
            assert!((got.0 - want).abs() < 1e-12 && got.1.abs() < 1e-12, "{v:?}");
        }
        let n = e.n;
        for j in 0..n {
            let (lr, li) = e.values[j];
            let mut norm = 0.0;
            for i in 0..n {
                let (vr, vi) = e.vectors[i * n + j];
                norm += vr * vr + vi * vi;
                // (A v)_i − λ v_i, real and imaginary parts.
                let (mut re, mut im) = (0.0, 0.0);
                for k in 0..n {
                    re += a[i * n + k] * e.vectors[k * n + j].0;
                    im += a[i * n + k] * e.vectors[k * n + j].1;
                }
                re -= lr * vr - li * vi;
                im -= lr * vi + li * vr;
                assert!(
                    re.abs() < 1e-12 && im.abs() < 1e-12,
                    "pair {j}, row {i}: {re} {im}"
                );
            }
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let not_square = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
        assert!(matches!(
            eig_general(&not_square),
            Err(Error::InvalidShape { .. })
        ));
        let vector = Tensor::from_vec(vec![1.0f32; 4], &[4]).unwrap();
        assert!(matches!(eigvals(&vector), Err(Error::InvalidShape { .. })));
        let nan = Tensor::from_vec(vec![1.0f32, f32::NAN, 0.0, 1.0], &[2, 2]).unwrap();
        assert!(matches!(eigvals(&nan), Err(Error::InvalidArgument { .. })));
        let empty = Tensor::from_vec(Vec::<f64>::new(), &[0, 0]).unwrap();
        assert!(eigvals(&empty).unwrap().is_empty());
    }
}
