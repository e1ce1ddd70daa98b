# peer: optax.lion (JAX CPU), lion-pytorch (torch CPU) and torch's fused AdamW on lion-tiger's shapes
# requires: torch==2.15.0 jax[cpu]==0.10.2 optax==0.2.8 lion-pytorch==0.2.5
#
# Protocol (see xtask/src/peers.rs): reads this run's criterion results as JSON lines on stdin and,
# for every lion/tiger/adamw parameter it sees (n1M, n10M, n100M), builds the same BERT-shaped
# parameter list as crates/lion-tiger/benches/step.rs and times one optimizer step of each peer.
# Prints {"group", "function", "param", "value", "unit": "GB/s", "median_ns"} with the bench's own
# byte count (20 B/param for Lion, 28 for AdamW), so that the table shows ratios side by side.
import json
import os
import sys
import time

import numpy as np

SIZES = {"n1M": (128, 4, 4096), "n10M": (256, 8, 16384), "n100M": (768, 12, 21000)}
REPEATS = 3 if os.environ.get("FRUGAL_BENCH_QUICK") else 10


def shapes(h, layers, vocab):
    s = [(vocab, h), (512, h), (2, h), (h,), (h,)]
    for _ in range(layers):
        s += [(h, h), (h,)] * 4 + [(h,), (h,), (h, 4 * h), (4 * h,), (4 * h, h), (h,), (h,), (h,)]
    return s + [(h, h), (h,)]


def median_time(step):
    step()  # warm-up (and jit)
    ts = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def torch_peers(sh):
    import torch
    from lion_pytorch import Lion

    params = [torch.nn.Parameter(torch.randn(*s) * 0.02) for s in sh]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    out = {}
    opt = Lion(params, lr=1e-4, weight_decay=0.1)
    out[("lion", "lion_pytorch")] = median_time(opt.step)
    opt = torch.optim.AdamW(params, lr=1e-3, fused=True)
    out[("adamw", "torch_fused_adamw")] = median_time(opt.step)
    return out


def optax_peer(sh):
    import jax
    import jax.numpy as jnp
    import optax

    tx = optax.lion(1e-4, weight_decay=0.1)
    params = [jnp.asarray(np.random.randn(*s).astype(np.float32) * 0.02) for s in sh]
    grads = [jnp.asarray(np.random.randn(*s).astype(np.float32) * 1e-3) for s in sh]
    state = tx.init(params)

    @jax.jit
    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    box = [params, state]

    def run():
        p, s = step(box[0], box[1], grads)
        jax.block_until_ready(p)
        box[0], box[1] = p, s

    return {("lion", "optax_lion"): median_time(run)}


def main():
    wanted = set()
    for line in sys.stdin:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("group") in ("lion", "tiger", "adamw") and r.get("param") in SIZES:
            wanted.add(r["param"])
    for param in sorted(wanted, key=lambda p: SIZES[p][0]):
        sh = shapes(*SIZES[param])
        n = sum(int(np.prod(s)) for s in sh)
        print(f"lion peers: {param} ({n} parameters)", file=sys.stderr)
        times = {}
        times.update(torch_peers(sh))
        times.update(optax_peer(sh))
        for (group, function), t in times.items():
            b = (28 if group == "adamw" else 20) * n
            print(json.dumps({"group": group, "function": function, "param": param,
                              "value": b / t / 1e9, "unit": "GB/s", "median_ns": t * 1e9}))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
