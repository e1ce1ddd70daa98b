//! Exact Gaussian moments `M(a,b) = E f(a+z, b)`, `Q(a,b) = E f(a+z, b)²`, `z ~ N(0,1)`, by
//! composite Gauss–Legendre quadrature (spec §8.3).
//!
//! Recipe: integrate over `x = a + z` on `[a − 8, a + 8]` (mass outside: 1.2e-15), cut at every
//! `a + k` (k integer), at 0 and at `±b·4^j` (j = 0, 1, … while inside), with an n-node
//! (default 10) Gauss–Legendre rule on every piece. The geometric cuts grade the mesh towards the
//! kink of f at `|x| ≈ b`, which is what keeps AdamDiv's second moment accurate down to
//! `b = 1e-6` (it has a `b·ln(1/b)` term). Pieces `[a+k, a+k+1]` that contain no other cut reuse
//! precomputed nodes and Gaussian weights, so most nodes cost one evaluation of f and no `exp`.

use std::sync::OnceLock;

/// Gauss–Legendre nodes `x` and weights `w` on `[−1, 1]`.
#[derive(Debug, Clone)]
pub struct GaussLegendre {
    pub x: Vec<f64>,
    pub w: Vec<f64>,
}

/// n-point Gauss–Legendre rule by Newton iteration on `P_n` (exact for polynomials of degree 2n−1).
pub fn gauss_legendre(n: usize) -> GaussLegendre {
    let n = n.max(1);
    let (mut xs, mut ws) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let kf = k as f64;
                let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
                p0 = p1;
                p1 = p2;
            }
            if n == 1 {
                p0 = 1.0;
            }
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        xs[i] = x;
        ws[i] = 2.0 / ((1.0 - x * x) * dp * dp);
    }
    GaussLegendre { x: xs, w: ws }
}

/// The dimensionless update shapes `f(x, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Sign,
    SoftSign,
    AdamDiv,
    Clip,
}

/// `f(x, b)` of a [`Shape`]; `b = 0` gives `sign`.
#[inline(always)]
pub fn shape_fn(shape: Shape, x: f64, b: f64) -> f64 {
    if b == 0.0 || shape == Shape::Sign {
        return crate::rules::sign0(x);
    }
    match shape {
        Shape::Sign => unreachable!(),
        Shape::SoftSign => x / (x * x + b * b).sqrt(),
        Shape::AdamDiv => x / (x.abs() + b),
        Shape::Clip => (x / b).clamp(-1.0, 1.0),
    }
}

const HALF_WIDTH: i32 = 8;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Composite Gauss–Legendre integrator for Gaussian expectations with the §8.3 cuts.
#[derive(Debug, Clone)]
pub struct Quadrature {
    gl: GaussLegendre,
    /// For each unit piece `[k, k+1]`, k = −8…7: (z node, weight × ϕ(z)).
    unit: Vec<Vec<(f64, f64)>>,
}

impl Quadrature {
    /// Integrator with `n` nodes per piece.
    pub fn new(n: usize) -> Self {
        let gl = gauss_legendre(n);
        let unit = (-HALF_WIDTH..HALF_WIDTH)
            .map(|k| {
                let mid = k as f64 + 0.5;
                gl.x.iter()
                    .zip(&gl.w)
                    .map(|(t, w)| {
                        let z = mid + 0.5 * t;
                        (z, 0.5 * w * INV_SQRT_2PI * (-0.5 * z * z).exp())
                    })
                    .collect()
            })
            .collect();
        Quadrature { gl, unit }
    }

    /// The spec's default: 10 nodes per piece (shared, built once).
    pub fn default_rule() -> &'static Quadrature {
        static RULE: OnceLock<Quadrature> = OnceLock::new();
        RULE.get_or_init(|| Quadrature::new(10))
    }

    /// Nodes per piece.
    pub fn nodes(&self) -> usize {
        self.gl.x.len()
    }

    /// `(E f(a+z), E f(a+z)²)` for the shape's `f(·, b)`.
    pub fn moments(&self, shape: Shape, a: f64, b: f64) -> (f64, f64) {
        match shape {
            Shape::Sign => self.integrate(a, 0.0, |x| shape_fn(Shape::Sign, x, 0.0)),
            Shape::SoftSign if b > 0.0 => self.integrate(a, b, |x| x / (x * x + b * b).sqrt()),
            Shape::AdamDiv if b > 0.0 => self.integrate(a, b, |x| x / (x.abs() + b)),
            Shape::Clip if b > 0.0 => self.integrate(a, b, |x| (x / b).clamp(-1.0, 1.0)),
            _ => self.integrate(a, 0.0, crate::rules::sign0),
        }
    }

    /// `(∫ f ϕ(x−a), ∫ f² ϕ(x−a))` over `[a−8, a+8]` with the cuts of the module docs.
    pub fn integrate<F: Fn(f64) -> f64>(&self, a: f64, b: f64, f: F) -> (f64, f64) {
        let (lo, hi) = (a - HALF_WIDTH as f64, a + HALF_WIDTH as f64);
        // (x, integer tag k or i32::MIN).
        let mut cuts: Vec<(f64, i32)> = Vec::with_capacity(64);
        cuts.extend((-HALF_WIDTH..=HALF_WIDTH).map(|k| (a + k as f64, k)));
        let inside = |x: f64| x > lo && x < hi;
        if inside(0.0) {
            cuts.push((0.0, i32::MIN));
        }
        if b > 0.0 {
            let reach = a.abs() + HALF_WIDTH as f64;
            let mut c = b;
            while c < reach {
                for x in [c, -c] {
                    if inside(x) {
                        cuts.push((x, i32::MIN));
                    }
                }
                c *= 4.0;
            }
        }
        cuts.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
        let (mut s1, mut s2) = (0.0, 0.0);
        for pair in cuts.windows(2) {
            let ((x0, k0), (x1, k1)) = (pair[0], pair[1]);
            if x1 <= x0 {
                continue;
            }
            if k0 != i32::MIN && k1 == k0 + 1 {
                for &(z, w) in &self.unit[(k0 + HALF_WIDTH) as usize] {
                    let y = f(a + z);
                    s1 += w * y;
                    s2 += w * y * y;
                }
            } else {
                let (mid, half) = (0.5 * (x0 + x1), 0.5 * (x1 - x0));
                for (t, w) in self.gl.x.iter().zip(&self.gl.w) {
                    let x = mid + half * t;
                    let z = x - a;
                    let wt = half * w * INV_SQRT_2PI * (-0.5 * z * z).exp();
                    let y = f(x);
                    s1 += wt * y;
                    s2 += wt * y * y;
                }
            }
        }
        (s1, s2)
    }
}

/// Moments of a shape with the default 10-node rule: `(M(a,b), Q(a,b))`.
pub fn exact_moments(shape: Shape, a: f64, b: f64) -> (f64, f64) {
    Quadrature::default_rule().moments(shape, a, b)
}
