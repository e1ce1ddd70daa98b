#!/usr/bin/env python3
"""Independent oracle for the exact one-step optimum eta*(B) of SoftSign and AdamDiv (spec §3, §6).

Computes m_i = E f(g_i + tau_i z), q_i = E f(...)^2 with scipy.integrate.quad (adaptive
Gauss-Kronrod, breakpoints at the kinks), then eta* = sum m g / (sum (q - m^2) H_ii + m^T H m),
and writes tests/fixtures/scipy_oracle.json, which tests/oracle.rs checks to 1e-8 relative.

Run (scipy in a venv outside the repo; the Rust test suite never needs Python):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scipy numpy
    /tmp/venv/bin/python crates/adam-eps-scaling/scripts/scipy_oracle.py
"""
import json
import math
import os

import numpy as np
from scipy import integrate, special

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "scipy_oracle.json")


def f(rule, x, b):
    if rule == "soft_sign":
        return x / math.sqrt(x * x + b * b)
    if rule == "adam_div":
        return x / (abs(x) + b)
    raise ValueError(rule)


def moments(rule, a, b):
    """(E f(a+z, b), E f(a+z, b)^2), z ~ N(0,1), integrated over z in [-12, 12]."""
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    pts = sorted(p for p in (-a, -a - b, -a + b) if -12 < p < 12)
    opts = dict(points=pts or None, epsabs=1e-15, epsrel=1e-13, limit=1000)
    m = integrate.quad(lambda z: f(rule, a + z, b) * pdf(z), -12, 12, **opts)[0]
    q = integrate.quad(lambda z: f(rule, a + z, b) ** 2 * pdf(z), -12, 12, **opts)[0]
    return m, q


def eta_star(rule, eps, g, s2, h, batch):
    num, tr_v, mv = 0.0, 0.0, []
    for gi, si, hii in zip(g, s2, np.diag(h)):
        tau = math.sqrt(si / batch)
        m, q = moments(rule, gi / tau, eps / tau)
        num += m * gi
        tr_v += (q - m * m) * hii
        mv.append(m)
    mv = np.array(mv)
    return num / (tr_v + mv @ h @ mv)


def instances():
    n = 16
    yield "r4", [1e-3] * n, [9e-4] * n, (0.5 * np.eye(n) + 0.5 * np.ones((n, n)))
    c = [1.2, -0.8, 1.1, -0.9, 1.05, -0.95, 1.0, -0.98]
    s = [1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 0.98]
    hd = [1.0 + 0.25 * i for i in range(8)]
    g = [ci * 1e-3 for ci in c]
    k = 917.0 * sum(gi * gi * hi for gi, hi in zip(g, hd)) / sum(si * si * hi for si, hi in zip(s, hd))
    yield "diag8", g, [k * si * si for si in s], np.diag(hd)
    rng = np.random.default_rng(5)
    a = rng.normal(size=(6, 6)) * 0.4
    yield "dense6", list(rng.normal(size=6) * 1e-3), list(rng.uniform(0.5, 2.0, size=6) * 1e-4), a @ a.T + 0.3 * np.eye(6)


def main():
    cases = []
    for name, g, s2, h in instances():
        for rule in ("soft_sign", "adam_div"):
            for eps in (1e-3, 1e-2):
                for batch in (1.0, 64.0, 4096.0):
                    cases.append(dict(instance=name, g=list(map(float, g)), sigma2=list(map(float, s2)),
                                      h=[list(map(float, r)) for r in h], rule=rule, eps=eps, batch=batch,
                                      eta_star=float(eta_star(rule, eps, g, s2, h, batch))))
    with open(OUT, "w") as fh:
        json.dump({"source": "scipy.integrate.quad, epsrel 1e-13", "cases": cases}, fh, indent=1)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
