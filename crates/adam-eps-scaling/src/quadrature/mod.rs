//! Exact Gaussian moments `M(a,b) = E f(a+z, b)`, `Q(a,b) = E f(a+z, b)²`, `z ~ N(0,1)`, by
//! composite Gauss–Legendre quadrature (spec §8.3).
//!
//! Recipe: integrate over `x = a + z` on `[a − 8, a + 8]` (mass outside: 1.2e-15), cut at every
//! `a + k` (k integer), at 0 and at `±b·4^j` (j = 0, 1, … while inside), with an n-node
//! (default 10) Gauss–Legendre rule on every piece. The geometric cuts grade the mesh towards the
//! kink of f at `|x| ≈ b`, which is what keeps AdamDiv's second moment accurate down to
//! `b = 1e-6` (it has a `b·ln(1/b)` term). Pieces `[a+k, a+k+1]` that contain no other cut reuse
//! precomputed nodes and Gaussian weights, so most nodes cost one evaluation of f and no `exp`.
//!
//! Two evaluations of the same recipe (same cuts, same pieces, same nodes):
//! [`Quadrature::integrate`] walks the cuts in order without allocating or sorting (the integer
//! cuts and the geometric cuts are each already sorted), sums runs of whole unit pieces from flat
//! precomputed arrays and buffers the nodes of the other pieces so that their Gaussian weights come
//! from a vectorised [`crate::vecmath::exp`]; all sums are kept in 4 lanes so the loops vectorise
//! (AVX2 where the CPU has it, chosen at run time). [`Quadrature::integrate_reference`] is the
//! straightforward version (collect, sort, scalar `exp`), kept as the reference the fast one is
//! tested against (`≤ 1e-14` apart; only rounding differs).

mod pieces;

pub(crate) use pieces::CutNodes;
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

/// A function `f(x)` to integrate. Implemented with `#[inline(always)]` by the shapes below, so
/// that it is inlined into the vector loops (a closure or `Fn` call may be left out of line, and
/// then the loop neither vectorises nor runs as AVX2 code).
pub(crate) trait Integrand {
    fn at(&self, x: f64) -> f64;
}

/// `sign(x)`.
pub(crate) struct SignF;
/// `x/√(x² + b²)`.
pub(crate) struct SoftSignF {
    pub b: f64,
}
/// `x/(|x| + b)`.
pub(crate) struct AdamDivF {
    pub b: f64,
}
/// `clip(x/b, −1, 1)`.
pub(crate) struct ClipF {
    pub b: f64,
}
/// Any closure (inlined only if LLVM chooses to).
struct Closure<F>(F);

impl Integrand for SignF {
    #[inline(always)]
    fn at(&self, x: f64) -> f64 {
        crate::rules::sign0(x)
    }
}
impl Integrand for SoftSignF {
    #[inline(always)]
    fn at(&self, x: f64) -> f64 {
        x / (x * x + self.b * self.b).sqrt()
    }
}
impl Integrand for AdamDivF {
    #[inline(always)]
    fn at(&self, x: f64) -> f64 {
        x / (x.abs() + self.b)
    }
}
impl Integrand for ClipF {
    #[inline(always)]
    fn at(&self, x: f64) -> f64 {
        (x / self.b).clamp(-1.0, 1.0)
    }
}
impl<F: Fn(f64) -> f64> Integrand for Closure<F> {
    #[inline(always)]
    fn at(&self, x: f64) -> f64 {
        (self.0)(x)
    }
}

const HALF_WIDTH: i32 = 8;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Composite Gauss–Legendre integrator for Gaussian expectations with the §8.3 cuts.
#[derive(Debug, Clone)]
pub struct Quadrature {
    gl: GaussLegendre,
    /// Unit piece `[k, k+1]`, k = −8…7, node i at flat index `(k+8)·stride + i`: its z node …
    unit_z: Vec<f64>,
    /// … and its weight `½w_i·ϕ(z)`. Each piece is padded to `stride` (n rounded up to a multiple
    /// of 4) with weight-0 nodes at the piece's midpoint, so that the vector loops have no tails.
    unit_w: Vec<f64>,
    stride: usize,
}

impl Quadrature {
    /// Integrator with `n` nodes per piece.
    pub fn new(n: usize) -> Self {
        let gl = gauss_legendre(n);
        let stride = gl.x.len().next_multiple_of(4);
        let (mut unit_z, mut unit_w) = (Vec::new(), Vec::new());
        for k in -HALF_WIDTH..HALF_WIDTH {
            let mid = k as f64 + 0.5;
            for (t, w) in gl.x.iter().zip(&gl.w) {
                let z = mid + 0.5 * t;
                unit_z.push(z);
                unit_w.push(0.5 * w * INV_SQRT_2PI * (-0.5 * z * z).exp());
            }
            for _ in gl.x.len()..stride {
                unit_z.push(mid);
                unit_w.push(0.0);
            }
        }
        Quadrature {
            gl,
            unit_z,
            unit_w,
            stride,
        }
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
            Shape::SoftSign if b > 0.0 => self.integrate_fast(a, b, &SoftSignF { b }),
            Shape::AdamDiv if b > 0.0 => self.integrate_fast(a, b, &AdamDivF { b }),
            Shape::Clip if b > 0.0 => self.integrate_fast(a, b, &ClipF { b }),
            _ => self.integrate_fast(a, 0.0, &SignF),
        }
    }

    /// [`Quadrature::moments`] through [`Quadrature::integrate_reference`].
    pub fn moments_reference(&self, shape: Shape, a: f64, b: f64) -> (f64, f64) {
        match shape {
            Shape::SoftSign if b > 0.0 => self.integrate_reference(a, b, |x| SoftSignF { b }.at(x)),
            Shape::AdamDiv if b > 0.0 => self.integrate_reference(a, b, |x| AdamDivF { b }.at(x)),
            Shape::Clip if b > 0.0 => self.integrate_reference(a, b, |x| ClipF { b }.at(x)),
            _ => self.integrate_reference(a, 0.0, |x| SignF.at(x)),
        }
    }

    /// `(∫ f ϕ(x−a), ∫ f² ϕ(x−a))` over `[a−8, a+8]` with the cuts of the module docs: the fast,
    /// allocation-free evaluation (run-time AVX2 dispatch). Rules with more than 128 nodes per
    /// piece fall back to the reference.
    pub fn integrate<F: Fn(f64) -> f64>(&self, a: f64, b: f64, f: F) -> (f64, f64) {
        self.integrate_fast(a, b, &Closure(f))
    }

    fn integrate_fast<I: Integrand>(&self, a: f64, b: f64, f: &I) -> (f64, f64) {
        if self.nodes() > pieces::MAX_FAST_NODES {
            return self.integrate_reference(a, b, |x| f.at(x));
        }
        let mut buf = CutNodes::new();
        #[cfg(target_arch = "x86_64")]
        if crate::vecmath::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above).
            return unsafe { self.integrate_avx2(a, b, f, &mut buf) };
        }
        self.integrate_with(a, b, f, &mut buf)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn integrate_avx2<I: Integrand>(
        &self,
        a: f64,
        b: f64,
        f: &I,
        buf: &mut CutNodes,
    ) -> (f64, f64) {
        self.integrate_with(a, b, f, buf)
    }

    /// The reference evaluation of the recipe: collect all cuts, sort them, integrate each piece
    /// with scalar `exp`. Slow (allocates per call); kept to test [`Quadrature::integrate`].
    pub fn integrate_reference<F: Fn(f64) -> f64>(&self, a: f64, b: f64, f: F) -> (f64, f64) {
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
        let n = self.nodes();
        let (mut s1, mut s2) = (0.0, 0.0);
        for pair in cuts.windows(2) {
            let ((x0, k0), (x1, k1)) = (pair[0], pair[1]);
            if x1 <= x0 {
                continue;
            }
            if k0 != i32::MIN && k1 == k0 + 1 {
                let p = (k0 + HALF_WIDTH) as usize * self.stride;
                for (&z, &w) in self.unit_z[p..p + n].iter().zip(&self.unit_w[p..p + n]) {
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
