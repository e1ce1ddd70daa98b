# peer: numpy's OpenBLAS SGEMM (the matmul ceiling)
# requires: numpy
# unset-env: OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# ceiling-for: matmul
#
# Protocol (see xtask/src/peers.rs): reads the criterion results of this run as JSON lines on
# stdin, times numpy's f32 GEMM at every matmul size it sees, and prints one JSON line per size:
# {"group", "function", "param", "value" (GFLOP/s), "unit", "median_ns", "ceiling": true}.
# Sizes come from the bench parameter: the integers in it are (m, k, n), (batch, m, k, n), or a
# single n for n×n×n (e.g. "m512k768n3456", "512x768x3456", "b4m64k64n64", "n2048"). The markers
# "aT" / "bT" in the parameter (e.g. "768x512x3200_aT") time op(a) = aᵀ / op(b) = bᵀ: numpy passes
# the transposed views to OpenBLAS as transpose flags, with no copy, as the Rust side does.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from this script's environment by xtask, so
# OpenBLAS picks its own best kernel for this CPU.
import json
import os
import re
import statistics
import sys
import time

import numpy as np


def dims(param):
    ints = [int(x) for x in re.findall(r"\d+", param)]
    if len(ints) == 1:
        return 1, ints[0], ints[0], ints[0]
    if len(ints) == 3:
        return (1, *ints)
    if len(ints) == 4:
        return tuple(ints)
    return None


def main():
    quick = os.environ.get("FRUGAL_BENCH_QUICK") == "1"
    seen = []
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if r["group"].startswith("matmul") and r["function"] != "ceiling":
            key = (r["group"], r["param"])
            if key not in seen:
                seen.append(key)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        blas = "?"
    print(f"numpy {np.__version__}, BLAS {blas}", file=sys.stderr)
    rng = np.random.default_rng(0)
    for group, param in seen:
        d = dims(param)
        if d is None:
            print(f"  {group}/{param}: cannot read m, k, n from the parameter; skipped", file=sys.stderr)
            continue
        b, m, k, n = d
        ta, tb = "aT" in param, "bT" in param
        batch = (b,) if b > 1 else ()
        a = rng.standard_normal(batch + ((k, m) if ta else (m, k)), dtype=np.float32)
        w = rng.standard_normal(batch + ((n, k) if tb else (k, n)), dtype=np.float32)
        a = np.swapaxes(a, -1, -2) if ta else a
        w = np.swapaxes(w, -1, -2) if tb else w
        c = np.matmul(a, w)
        flops = 2.0 * b * m * k * n
        # Enough repeats for about 1 s (0.3 s quick), at least 5.
        t = time.perf_counter()
        np.matmul(a, w, out=c)
        one = max(time.perf_counter() - t, 1e-7)
        reps = max(5, min(200, int((0.3 if quick else 1.0) / one)))
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            np.matmul(a, w, out=c)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        gflops = flops / med / 1e9
        print(f"  {group}/{param}: {gflops:.1f} GFLOP/s (median of {reps})", file=sys.stderr)
        print(json.dumps({
            "group": group, "function": "numpy_openblas", "param": param,
            "value": gflops, "unit": "GFLOP/s", "median_ns": med * 1e9, "ceiling": True,
        }))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
