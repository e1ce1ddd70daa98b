# peer: flash-pytorch's GAU (torch CPU) on the gau bench's shapes
# requires: torch==2.15.0 flash-pytorch==0.1.9
#
# Protocol (see xtask/src/peers.rs): reads this run's criterion results as JSON lines on stdin and,
# for every `gau_layer` parameter it sees (n128 … n2048), times one forward + backward of
# flash_pytorch.GAU(dim=768, query_key_dim=128, expansion_factor=2) on a [1, n, 768] float32 input,
# as crates/gau/benches/layer.rs does for the crate's GAU layer. Prints
# {"group": "gau_layer", "function": "flash_pytorch_gau", "param", "value", "unit": "GFLOP/s",
# "median_ns"} with the bench's own FLOP count (spec/gau.md §4: 3 × (2nd(3e+s) + 2n²(e+s))), so the
# summary table shows both rates side by side: their ratio is the ratio of times.
#
# flash-pytorch's GAU also runs a LayerNorm, a T5 relative-position bias and a residual add (and
# relu² attention instead of softmax); those are part of its layer and are timed with it. Its
# timing uses torch's default intra-op threads (all cores), like the crate's rayon pool.
import json
import os
import sys
import time

# This file's name is the package's: drop its own folder from the path so `flash_pytorch` is the
# pip-installed package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

D, E, S = 768, 1536, 128
REPEATS = 3 if os.environ.get("FRUGAL_BENCH_QUICK") else 10


def gau_fwd_flops(n):
    return 2 * n * D * (3 * E + S) + 2 * n * n * (E + S)


def median_time(step, repeats):
    step()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    wanted = set()
    for line in sys.stdin:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        p = r.get("param", "")
        if r.get("group") == "gau_layer" and p.startswith("n") and p[1:].isdigit():
            wanted.add(int(p[1:]))
    if not wanted:
        return
    import torch
    from flash_pytorch import GAU

    torch.manual_seed(0)
    layer = GAU(dim=D, query_key_dim=S, expansion_factor=E / D)
    print(f"flash-pytorch GAU: torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    for n in sorted(wanted):
        x = torch.randn(1, n, D, requires_grad=True)
        dy = torch.randn(1, n, D) * 0.1

        def step():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            out = layer(x)
            out.backward(dy)

        t = median_time(step, REPEATS if n <= 1024 else max(3, REPEATS // 3))
        flops = 3 * gau_fwd_flops(n)
        print(f"flash-pytorch GAU n={n}: {t * 1e3:.1f} ms per forward+backward", file=sys.stderr)
        print(json.dumps({"group": "gau_layer", "function": "flash_pytorch_gau",
                          "param": f"n{n}", "value": flops / t / 1e9, "unit": "GFLOP/s",
                          "median_ns": t * 1e9}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
