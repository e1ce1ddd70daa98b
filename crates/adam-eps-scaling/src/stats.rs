//! Per-coordinate gradient statistics and the curvature interface (`diag`, `quad`).

use crate::error::{LawError, Result, check_finite, check_len};
use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;

/// Per-**sample** gradient mean `g` and variance `σ²` (the diagonal of Σ), one entry per coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct GradStats {
    pub g: Vec<f64>,
    pub sigma2: Vec<f64>,
}

impl GradStats {
    /// Validated constructor: equal lengths, non-empty, finite, `σ² ≥ 0`.
    pub fn new(g: Vec<f64>, sigma2: Vec<f64>) -> Result<Self> {
        let s = GradStats { g, sigma2 };
        s.validate()?;
        Ok(s)
    }

    /// Identical coordinates: `n` copies of `(g, σ²)`.
    pub fn uniform(n: usize, g: f64, sigma2: f64) -> Result<Self> {
        Self::new(vec![g; n], vec![sigma2; n])
    }

    /// Number of coordinates N.
    pub fn len(&self) -> usize {
        self.g.len()
    }

    /// True when there are no coordinates (never for a validated value).
    pub fn is_empty(&self) -> bool {
        self.g.is_empty()
    }

    /// Checks the invariants of [`GradStats::new`].
    pub fn validate(&self) -> Result<()> {
        if self.g.is_empty() {
            return Err(LawError::InvalidArgument(
                "empty gradient statistics".into(),
            ));
        }
        check_len("sigma2", self.g.len(), &self.sigma2)?;
        check_finite("g", &self.g)?;
        check_finite("sigma2", &self.sigma2)?;
        if let Some(index) = self.sigma2.iter().position(|&v| v < 0.0) {
            return Err(LawError::NegativeVariance {
                what: "sigma2",
                index,
                value: self.sigma2[index],
            });
        }
        Ok(())
    }

    /// `|g|² = Σ g_i²`.
    pub fn g_norm2(&self) -> f64 {
        self.g.iter().map(|g| g * g).sum()
    }

    /// `tr Σ = Σ σ_i²`.
    pub fn trace_sigma(&self) -> f64 {
        self.sigma2.iter().sum()
    }

    /// `τ_i = σ_i/√B`, the std of the batch gradient.
    pub fn tau(&self, b: f64) -> Vec<f64> {
        self.sigma2.iter().map(|s| (s / b).sqrt()).collect()
    }
}

/// The Hessian H at `w`. Only its diagonal and one quadratic form `vᵀHv` are ever needed.
pub trait Curvature: Sync {
    /// Dimension N.
    fn dim(&self) -> usize;
    /// `H_ii`.
    fn diag(&self) -> Vec<f64>;
    /// `vᵀ H v` (callers pass `v.len() == dim()`).
    fn quad(&self, v: &[f64]) -> f64;
    /// `tr H = Σ H_ii`.
    fn trace(&self) -> f64 {
        self.diag().iter().sum()
    }
    /// The diagonal without a copy when H is diagonal (enables the fused, allocation-free path).
    fn as_diag(&self) -> Option<&[f64]> {
        None
    }
}

/// Diagonal H.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagH(pub Vec<f64>);

impl DiagH {
    /// Validated constructor (finite entries, non-empty).
    pub fn new(d: Vec<f64>) -> Result<Self> {
        if d.is_empty() {
            return Err(LawError::InvalidArgument("empty curvature".into()));
        }
        check_finite("h_diag", &d)?;
        Ok(DiagH(d))
    }
    /// `H = c·I` of size n.
    pub fn scaled_identity(n: usize, c: f64) -> Self {
        DiagH(vec![c; n])
    }
}

impl Curvature for DiagH {
    fn dim(&self) -> usize {
        self.0.len()
    }
    fn as_diag(&self) -> Option<&[f64]> {
        Some(&self.0)
    }
    fn diag(&self) -> Vec<f64> {
        self.0.clone()
    }
    fn quad(&self, v: &[f64]) -> f64 {
        if v.len() > 1 << 14 {
            v.par_iter()
                .zip(self.0.par_iter())
                .map(|(x, h)| h * x * x)
                .sum()
        } else {
            v.iter().zip(&self.0).map(|(x, h)| h * x * x).sum()
        }
    }
}

/// Dense symmetric H (a few thousand coordinates at most).
#[derive(Debug, Clone, PartialEq)]
pub struct DenseH(pub Array2<f64>);

impl DenseH {
    /// Validated constructor: square, finite, symmetric to 1e-12 relative.
    pub fn new(h: Array2<f64>) -> Result<Self> {
        let (r, c) = h.dim();
        if r != c || r == 0 {
            return Err(LawError::InvalidArgument(format!(
                "H must be square and non-empty, got {r}×{c}"
            )));
        }
        check_finite(
            "h",
            h.as_slice()
                .unwrap_or(&h.iter().copied().collect::<Vec<_>>()),
        )?;
        let scale = h.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for i in 0..r {
            for j in 0..i {
                if (h[(i, j)] - h[(j, i)]).abs() > 1e-12 * scale {
                    return Err(LawError::InvalidArgument(format!(
                        "H not symmetric at ({i},{j})"
                    )));
                }
            }
        }
        Ok(DenseH(h))
    }

    /// `H = (1−ρ)·I + ρ·s sᵀ` (the surge instance of spec §9.5 / R4 with `s` all ones).
    pub fn rank_one_plus_identity(s: &[f64], rho: f64) -> Self {
        let n = s.len();
        DenseH(Array2::from_shape_fn((n, n), |(i, j)| {
            rho * s[i] * s[j] + if i == j { 1.0 - rho } else { 0.0 }
        }))
    }
}

impl Curvature for DenseH {
    fn dim(&self) -> usize {
        self.0.nrows()
    }
    fn diag(&self) -> Vec<f64> {
        self.0.diag().to_vec()
    }
    fn quad(&self, v: &[f64]) -> f64 {
        let v = ArrayView1::from(v);
        v.dot(&self.0.dot(&v))
    }
}

/// `H = diag(d) + U diag(c) Uᵀ` with `U` of shape N×r: cheap non-diagonal curvature that can surge.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagPlusLowRank {
    pub d: Vec<f64>,
    pub u: Array2<f64>,
    pub c: Vec<f64>,
}

impl DiagPlusLowRank {
    /// Validated constructor.
    pub fn new(d: Vec<f64>, u: Array2<f64>, c: Vec<f64>) -> Result<Self> {
        check_finite("d", &d)?;
        check_finite("c", &c)?;
        if u.nrows() != d.len() {
            return Err(LawError::LengthMismatch {
                what: "U rows",
                expected: d.len(),
                got: u.nrows(),
            });
        }
        if u.ncols() != c.len() {
            return Err(LawError::LengthMismatch {
                what: "c",
                expected: u.ncols(),
                got: c.len(),
            });
        }
        if u.iter().any(|x| !x.is_finite()) {
            return Err(LawError::InvalidArgument("U has non-finite entries".into()));
        }
        Ok(DiagPlusLowRank { d, u, c })
    }
}

impl Curvature for DiagPlusLowRank {
    fn dim(&self) -> usize {
        self.d.len()
    }
    fn diag(&self) -> Vec<f64> {
        let mut out = self.d.clone();
        for (i, o) in out.iter_mut().enumerate() {
            *o += self
                .u
                .row(i)
                .iter()
                .zip(&self.c)
                .map(|(u, c)| c * u * u)
                .sum::<f64>();
        }
        out
    }
    fn quad(&self, v: &[f64]) -> f64 {
        let diag: f64 = v.iter().zip(&self.d).map(|(x, h)| h * x * x).sum();
        let uv = self.u.t().dot(&ArrayView1::from(v));
        diag + uv.iter().zip(&self.c).map(|(p, c)| c * p * p).sum::<f64>()
    }
}

/// Checks that `h` has the same dimension as the statistics.
pub fn check_dims<H: Curvature + ?Sized>(st: &GradStats, h: &H) -> Result<()> {
    if h.dim() == st.len() {
        Ok(())
    } else {
        Err(LawError::LengthMismatch {
            what: "curvature",
            expected: st.len(),
            got: h.dim(),
        })
    }
}
