#!/usr/bin/env python3
"""Fits the piecewise-polynomial tables of the CPU GELU kernels and writes them as Rust.

Both GELU forms are `y = x·g(x)` with a gate `g` that is symmetric about (0, ½):
`g(−x) = 1 − g(x)` (erf form: g = Φ; tanh form: g(x) = σ(2u(x)), u = √(2/π)·(x + 0.044715·x³)).
So for a = |x|, everything follows from two functions of a ≥ 0 (see `src/cpu_math/gate.rs`):

    tail  T(a) = g(−a)                      y  = max(x, 0) − a·T(a)
    slope R(a) = a·g'(a) − g(−a)            y' = x ≥ 0 ? 1 + R(a)   : −R(a)

Each is tabulated as 8 polynomials in t = s − k, where s = a·(α − β·a) maps a onto [0, 7.25]
with intervals that widen as a grows (narrow where the functions bend most, wide in the tail)
and k = round(s) is the interval (t in [−½, ½]; interval 0 is a in [0, s⁻¹(½))). The kernel caps
a at `limit` (s ≈ 7.25, on interval 7; the functions are below 2e-8 there), and interval 7 is
fitted with a root at the cap that the fused float32 evaluation hits exactly (see
fit_clamped), so everything from the cap on is 0 without a select. The two highest
coefficients share one 32-bit word (see fit_interval). For each table the script picks α and β
on a grid (least squares per interval, worst error over the 8 intervals and the cut-off), fits
every interval near-minimax (weighted least squares iterated to equal ripple, Lawson's
algorithm) in float64, rounds to float32, and then evaluates the tables exactly as the Rust
kernel does in float32 (fused multiply-adds) on a dense grid, printing the worst absolute error
of each, which the Rust tests bound.

Usage (numpy and scipy; the peers venv of `cargo xtask bench --peers` has both; the output is
already formatted, one interval row per line, under `#[rustfmt::skip]`):
    python3 crates/kernels/scripts/fit_gate_tables.py > crates/kernels/src/cpu_math/gate_tables.rs
"""
import sys

import numpy as np
from scipy.special import expit, ndtr

SQRT_2PI = np.sqrt(2.0 * np.pi)
K_TANH = np.sqrt(2.0 / np.pi)
C_TANH = 0.044715
MAGIC = 12582912.0  # 1.5·2^23: adding it rounds a float32 in (−2^22, 2^22) to an integer


def erf_tail(a):
    return ndtr(-a)


def erf_slope(a):
    return a * np.exp(-0.5 * a * a) / SQRT_2PI - ndtr(-a)


def tanh_tail(a):
    return expit(-2.0 * K_TANH * (a + C_TANH * a**3))


def tanh_slope(a):
    z = 2.0 * K_TANH * (a + C_TANH * a**3)
    s = expit(-z)  # σ(−z) = g(−a); g'(a) = σ(z)·σ(−z)·z'
    return a * s * (1.0 - s) * 2.0 * K_TANH * (1.0 + 3.0 * C_TANH * a * a) - s


def minimax(f, lo, hi, deg, iters=80):
    """Near-minimax polynomial (increasing powers) of f on [lo, hi] by Lawson's algorithm."""
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.linspace(0.0, np.pi, 4000))
    y = f(x)
    v = np.vander(x, deg + 1, increasing=True)
    w = np.full_like(x, 1.0 / len(x))
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(v * sw[:, None], y * sw, rcond=None)
        w = w * np.abs(v @ c - y)
        w /= w.sum()
    return c


def a_of_s(s, alpha, beta):
    """The inverse of s = a·(α − β·a) on its increasing branch."""
    return 2.0 * s / (alpha + np.sqrt(alpha * alpha - 4.0 * beta * s))


def interval_range(i, s_max):
    return (0.0 if i == 0 else -0.5, min(0.5, s_max - i))


# The clamp: a is capped at `limit` (s ≈ CLAMP_S, on interval 7), and interval 7 is fitted so
# that its fused float32 evaluation there is exactly 0 (see fit_clamped).
CLAMP_S = 7.25


def mapping_error(f, alpha, beta, deg):
    """Worst least-squares error over the 8 intervals, and the value at the cut-off."""
    worst = abs(f(a_of_s(CLAMP_S, alpha, beta)))
    for i in range(8):
        lo, hi = interval_range(i, CLAMP_S)
        t = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.linspace(0.0, np.pi, 200))
        y = f(a_of_s(i + t, alpha, beta))
        c = np.polynomial.chebyshev.Chebyshev.fit(t, y, deg, domain=[lo, hi])
        worst = max(worst, float(np.max(np.abs(c(t) - y))))
    return worst


def choose_mapping(f, deg):
    """(α, β) as float32 on a grid of cut-offs A = s⁻¹(CLAMP_S) and curvatures (β = q·α/(2A);
    q ≤ 0.85 keeps s increasing, its peak CLAMP_S/(2q − q²), past the clamp)."""
    best = None
    for cut in np.linspace(5.0, 6.6, 17):
        for q in np.linspace(0.0, 0.85, 30):
            alpha = CLAMP_S / (cut * (1.0 - q / 2.0))
            beta = q * alpha / (2.0 * cut)
            alpha, beta = float(np.float32(alpha)), float(np.float32(beta))
            err = mapping_error(f, alpha, beta, deg)
            if best is None or err < best[0]:
                best = (err, alpha, beta)
    return best[1], best[2]


def f32(x):
    return np.asarray(x, dtype=np.float64).astype(np.float32)


def fma32(a, b, c):
    # float32 inputs: the float64 product is exact, so this rounds once, as an FMA does
    # (double rounding through float64 is harmless at these magnitudes).
    return f32(np.asarray(a, dtype=np.float64) * np.float64(b) + c)


def fused_t(alpha, beta, a):
    """(k, t) as the kernel computes them with fused multiply-adds."""
    g = fma32(a, -np.float32(beta), np.float64(np.float32(alpha)))
    r = fma32(a, g, np.float64(MAGIC))
    k = f32(r.astype(np.float64) - MAGIC)
    return k, fma32(a, g, -k.astype(np.float64))


def significant_bits(x):
    m, _ = np.frexp(np.float64(x))
    bits = 0
    while m != np.trunc(m):
        m *= 2
        bits += 1
    return bits


def limit_candidates(alpha, beta):
    """Float32 values of a near s⁻¹(CLAMP_S), nearest first, whose fused k is 7 and whose t has
    at most 12 significant bits (so that t times a 12-bit number is exact in float32)."""
    a0 = np.float32(a_of_s(CLAMP_S, alpha, beta))
    bits = int(np.asarray(a0).view(np.uint32))
    for d in sorted(range(-200000, 200001), key=abs):
        a = np.asarray(np.uint32(bits + d)).view(np.float32)
        k, t = fused_t(alpha, beta, a)
        if float(k) == 7.0 and significant_bits(t) <= 12:
            yield np.float32(a)


def bf16(x):
    """x rounded to bfloat16 (the high 16 bits of a float32, round to nearest even)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return u.view(np.float32)


def bf16_neighbours(x):
    """The two bfloat16 values around x (x's own bfloat16 and the next one towards x)."""
    near = float(bf16(x))
    bits = int(np.asarray(np.float32(near)).view(np.uint32))
    step = 1 << 16
    other = bits + step if (x > near) == (near >= 0) else bits - step
    return near, float(np.uint32(other & 0xFFFFFFFF).view(np.float32))


def paired_neighbours(lo_bits, x):
    """The two float32 values around x whose low 16 bits are lo_bits: the kernel reads a
    bfloat16 pair's whole 32-bit word as the higher coefficient (the low half perturbs it only
    below bfloat16's resolution), so those are the values that coefficient can take."""
    hi = int(np.asarray(bf16(x), dtype=np.float32).view(np.uint32)) >> 16
    vals = [float(np.uint32(((hi + d) & 0xFFFF) << 16 | lo_bits).view(np.float32)) for d in (-1, 0, 1)]
    vals.sort(key=lambda v: abs(v - x))
    return vals[:2]


def horner32(c, t):
    p = np.full_like(t, c[-1], dtype=np.float32)
    for cj in c[-2::-1]:
        p = fma32(p, t, np.float64(cj))
    return p


def fit_interval(f, lo, hi, deg):
    """Degree-deg coefficients whose top two form a bfloat16 pair. The highest is rounded to
    bfloat16 (either neighbour), the next chosen among the two nearest values its word can take
    with those low bits, the others refitted after each step and rounded to float32; of the four
    candidates the one with the smallest float32 error on the interval wins."""
    t = f32((lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.linspace(0.0, np.pi, 2001)))
    exact = f(t.astype(np.float64))
    best = None
    for top in bf16_neighbours(minimax(f, lo, hi, deg)[deg]):
        g = lambda t, top=top: f(t) - top * t**deg
        lo_bits = int(np.asarray(np.float32(top)).view(np.uint32)) >> 16
        for nxt in paired_neighbours(lo_bits, minimax(g, lo, hi, deg - 1)[deg - 1]):
            h = lambda t, top=top, nxt=nxt: f(t) - top * t**deg - nxt * t ** (deg - 1)
            c = np.concatenate([minimax(h, lo, hi, deg - 2), [nxt, top]]).astype(np.float32)
            err = float(np.max(np.abs(horner32(c, t) - exact)))
            if best is None or err < best[0]:
                best = (err, c)
    return best[1]


def round_bits(x, bits):
    m, e = np.frexp(np.float64(x))
    return float(np.ldexp(np.round(m * 2.0**bits) / 2.0**bits, e))


def fit_clamped(fi, lo, deg, alpha, beta, limit):
    """Interval 7 with a root at the clamp, exact in fused float32, or None: fit f − f(clamp)
    (it is below 2e-8 there), then choose c1 so that the fused inner value Q = c1 + t·(…) at the
    clamp is a 12-bit number, and c0 = −Q·t, exact, so the last step fma(Q, t, c0) gives exactly
    0. Whether some c1 reaches such a Q depends on the clamp point; the caller tries several."""
    _, t_lim = fused_t(alpha, beta, np.asarray(limit, dtype=np.float32))
    t_lim = float(t_lim)
    at_clamp = float(fi(t_lim))
    c = fit_interval(lambda t: fi(t) - at_clamp, lo, t_lim, deg)
    q2 = horner32(c[2:], np.array([t_lim], dtype=np.float32))[0]
    natural = float(fma32(q2, t_lim, np.float64(c[1])))
    _, e = np.frexp(natural)
    step = float(np.ldexp(1.0, int(e) - 12))
    for q in sorted((round_bits(natural, 12) + d * step for d in range(-64, 65)),
                    key=lambda v: abs(v - natural)):
        c1 = np.float32(q - float(q2) * t_lim)
        for _ in range(8):
            if float(fma32(q2, t_lim, np.float64(c1))) == q:
                break
            c1 = np.nextafter(c1, np.float32(np.inf if float(fma32(q2, t_lim, np.float64(c1))) < q else -np.inf))
        if float(fma32(q2, t_lim, np.float64(c1))) == q:
            break
    else:
        return None  # no c1 reaches a 12-bit inner value with this clamp point
    c[1] = c1
    c[0] = np.float32(-q * t_lim)
    assert float(c[0]) == -q * t_lim, "c0 must be exact"
    return c


def fit(f, deg):
    alpha, beta = choose_mapping(f, deg)
    fi = lambda t, i: f(a_of_s(i + t, alpha, beta))
    rows = [fit_interval(lambda t, i=i: fi(t, i), *interval_range(i, CLAMP_S), deg) for i in range(7)]
    for limit in limit_candidates(alpha, beta):
        last = fit_clamped(lambda t: fi(t, 7), -0.5, deg, alpha, beta, limit)
        if last is not None:
            break
    rows.append(last)
    return alpha, beta, limit, np.array(rows, dtype=np.float32).T


def evaluate(alpha, beta, limit, coef, a):
    """The Rust kernel's float32 evaluation (fused multiply-adds, a capped at the limit), for a
    float32 array a ≥ 0."""
    a = np.minimum(a, limit)
    g = fma32(a, -np.float32(beta), np.float64(np.float32(alpha)))
    r = fma32(a, g, np.float64(MAGIC))
    k = f32(r.astype(np.float64) - MAGIC)
    t = fma32(a, g, -k.astype(np.float64))
    idx = r.view(np.uint32) & 7
    p = coef[-1][idx]
    for row in coef[-2::-1]:
        p = fma32(p, t, row[idx].astype(np.float64))
    return p


def check_clamp(table):
    alpha, beta, limit, coef = table
    at = evaluate(alpha, beta, limit, coef, np.array([limit, 1e4, np.inf], dtype=np.float32))
    assert np.all(at == 0.0), f"the clamp does not evaluate to exactly 0: {at}"


def worst_error(f, table):
    a = f32(np.linspace(0.0, 8.0, 3_000_001))
    return float(np.max(np.abs(evaluate(*table, a) - f(a.astype(np.float64)))))


TABLES = [
    # name, function, degree, what
    ("ERF_TAIL", erf_tail, 5, "`T(a) = Φ(−a)`, the erf form's tail"),
    ("ERF_SLOPE", erf_slope, 6, "`R(a) = a·φ(a) − Φ(−a)`, the erf form's slope"),
    ("TANH_TAIL", tanh_tail, 5, "`T(a) = σ(−2u(a))`, the tanh form's tail"),
    ("TANH_SLOPE", tanh_slope, 6, "`R(a) = a·σ'(2u)·2u'(a) − σ(−2u(a))`, the tanh form's slope"),
]


def lit(x):
    """The shortest decimal that reads back as the same float32."""
    x = np.float32(x)
    if x == 0 or 1e-3 <= abs(x) < 1e3:
        s = np.format_float_positional(x, unique=True, trim="0")
    else:
        s = np.format_float_scientific(x, unique=True, trim="0").replace("e+", "e")
        s = s.replace("e-0", "e-").replace(".e", ".0e")
    return s


def main():
    out = [
        "//! @generated by `crates/kernels/scripts/fit_gate_tables.py`: do not edit; rerun the script.",
        "//!",
        "//! Row `j` of `coef` holds the coefficient of `t^j` on each of the 8 intervals; `top` holds the",
        "//! two highest as bfloat16 pairs: `t^(N+1)`'s bfloat16 in the low half, and the whole word read as",
        "//! an f32 is `t^N`'s coefficient.",
        "",
        "use super::Piecewise;",
    ]
    for name, f, deg, what in TABLES:
        alpha, beta, limit, coef = table = fit(f, deg)
        check_clamp(table)
        err = worst_error(f, table)
        cut = float(f(float(limit)))
        print(f"{name}: degree {deg}, s = a·({alpha} − {beta}·a), 0 from a = {limit} "
              f"(value there {cut:.2e}); worst |error| in float32 {err:.3e}", file=sys.stderr)
        out.append("")
        out.append(f"/// {what}.")
        out.append(f"/// Degree {deg}; 0 from a = {lit(limit)} (where it is {cut:.1e}). Worst absolute error of the")
        out.append(f"/// float32 evaluation on a dense grid: {err:.2e}.")
        out.append("#[rustfmt::skip]")
        out.append(f"pub(super) const {name}: Piecewise<{deg - 1}> = Piecewise {{")
        out.append(f"    alpha: {lit(alpha)},")
        out.append(f"    beta: {lit(beta)},")
        out.append(f"    limit: {lit(limit)},")
        out.append("    coef: [")
        for row in coef[:-2]:
            out.append("        [" + ", ".join(lit(c) for c in row) + "],")
        out.append("    ],")
        hi = coef[-2].view(np.uint32) >> 16  # the low half of coef[-2] is lo, by construction
        lo = coef[-1].view(np.uint32) >> 16
        assert np.all(coef[-2].view(np.uint32) & 0xFFFF == lo)
        out.append("    top: [" + ", ".join(f"0x{h:04x}_{l:04x}" for h, l in zip(hi, lo)) + "],")
        out.append("};")
    print("\n".join(out))


if __name__ == "__main__":
    main()
