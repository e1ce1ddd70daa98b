//! Plain f64 loops over `[outer, len, inner]`: the definitions the kernels are tested against.
//! Sums use Neumaier's compensated summation.

use super::AxisView;

/// Neumaier summation of `terms`.
fn neumaier(terms: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for t in terms {
        let u = s + t;
        c += if s.abs() >= t.abs() {
            (s - u) + t
        } else {
            (t - u) + s
        };
        s = u;
    }
    s + c
}

/// `out[o, i] = f(x[o, 0, i], …, x[o, len−1, i])`.
fn per_output(
    x: &[f64],
    v: AxisView,
    f: impl Fn(&mut dyn Iterator<Item = f64>) -> f64,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.outer * v.inner);
    for o in 0..v.outer {
        for i in 0..v.inner {
            let mut it = (0..v.len).map(|a| x[(o * v.len + a) * v.inner + i]);
            out.push(f(&mut it));
        }
    }
    out
}

/// `y[o, i] = Σ_a x[o, a, i]`.
pub fn sum_forward_ref(x: &[f64], v: AxisView) -> Vec<f64> {
    per_output(x, v, |it| neumaier(it))
}

/// `y[o, i] = (1/len)·Σ_a x[o, a, i]`.
pub fn mean_forward_ref(x: &[f64], v: AxisView) -> Vec<f64> {
    per_output(x, v, |it| neumaier(it) / v.len as f64)
}

/// `y[o, i] = Σ_a x[o, a, i]²`.
pub fn sum_sq_forward_ref(x: &[f64], v: AxisView) -> Vec<f64> {
    per_output(x, v, |it| neumaier(it.map(|t| t * t)))
}

/// `y[o, i] = max_a |x[o, a, i]|`, 0 for an empty axis, NaN if any element is NaN.
pub fn max_abs_ref(x: &[f64], v: AxisView) -> Vec<f64> {
    per_output(x, v, |it| {
        let mut m = 0.0f64;
        for t in it {
            if t.is_nan() {
                return f64::NAN;
            }
            m = m.max(t.abs());
        }
        m
    })
}

/// `y[o, i] = #{a : x[o, a, i] not finite}`.
pub fn count_nonfinite_ref(x: &[f64], v: AxisView) -> Vec<f64> {
    per_output(x, v, |it| it.filter(|t| !t.is_finite()).count() as f64)
}
