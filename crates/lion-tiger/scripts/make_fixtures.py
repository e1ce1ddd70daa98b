#!/usr/bin/env python3
"""Generates the oracle fixtures of lion-tiger's tests (spec §8 item 15).

Runs 20 steps of each oracle optimizer on two small tensors from a fixed seed, in float64 and
float32, and writes `tests/fixtures/<oracle>_<dtype>.safetensors` with the start values, the
20 gradients, and the final parameters and momentum. The Rust tests never need Python: the
files are committed and loaded with include_bytes!.

Oracles (versions per the design's toolchain page):
  lion_pytorch   lion-pytorch 0.2.5   Lion(params, lr, betas=(0.9, 0.99), weight_decay)
  optax          optax 0.2.8          optax.lion(lr, b1=0.9, b2=0.99, weight_decay)  (default wd 1e-3!)
  po_lion        pytorch-optimizer 4.1.0 Lion(..., weight_decouple=True, fixed_decay=False, foreach=False)
  po_tiger       pytorch-optimizer 4.1.0 Tiger(lr=1e-3, beta=0.965, weight_decay=0.01, ..., foreach=False)

Usage: python make_fixtures.py  (in a venv with torch, jax, optax, lion-pytorch, pytorch-optimizer)
"""
import os
import numpy as np
import torch
import jax
import jax.numpy as jnp
import optax
from safetensors.numpy import save_file
from lion_pytorch import Lion as LucidLion
from pytorch_optimizer import Lion as PoLion, Tiger as PoTiger

jax.config.update("jax_enable_x64", True)

SHAPES = {"w": (24, 16), "b": (10,)}
STEPS = 20
LR = 1e-3
WD = 0.1
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def inputs():
    rng = np.random.default_rng(20230216)
    theta = {k: 0.1 * rng.standard_normal(s) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s) for k, s in SHAPES.items()} for _ in range(STEPS)]
    # An exact zero gradient entry on step 1: sign(0) = 0 must leave it unmoved.
    grads[0]["b"][3] = 0.0
    return theta, grads


def run_torch(make_opt, theta, grads, dtype, state_key="exp_avg"):
    params = {k: torch.nn.Parameter(torch.tensor(v, dtype=dtype)) for k, v in theta.items()}
    opt = make_opt(list(params.values()))
    for g in grads:
        for k, p in params.items():
            p.grad = torch.tensor(g[k], dtype=dtype)
        opt.step()
    out = {}
    for k, p in params.items():
        out[f"theta.{k}"] = p.detach().numpy().astype(np.float64)
        out[f"m.{k}"] = opt.state[p][state_key].numpy().astype(np.float64)
    return out


def run_optax(theta, grads, dtype):
    tx = optax.lion(LR, b1=0.9, b2=0.99, weight_decay=WD)
    params = {k: jnp.asarray(v, dtype=dtype) for k, v in theta.items()}
    state = tx.init(params)
    for g in grads:
        gj = {k: jnp.asarray(v, dtype=dtype) for k, v in g.items()}
        updates, state = tx.update(gj, state, params)
        params = optax.apply_updates(params, updates)
    mu = state[0].mu
    out = {}
    for k in SHAPES:
        out[f"theta.{k}"] = np.asarray(params[k], dtype=np.float64)
        out[f"m.{k}"] = np.asarray(mu[k], dtype=np.float64)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    theta, grads = inputs()
    common = {f"theta0.{k}": v for k, v in theta.items()}
    for i, g in enumerate(grads):
        for k, v in g.items():
            common[f"grad.{i}.{k}"] = v
    save_file(common, os.path.join(OUT, "inputs.safetensors"))
    for name, dt_t, dt_j in [("f64", torch.float64, jnp.float64), ("f32", torch.float32, jnp.float32)]:
        # f32 runs start from the same values rounded to f32.
        th = {k: v.astype(np.float32 if name == "f32" else np.float64) for k, v in theta.items()}
        gr = [{k: v.astype(th[k].dtype) for k, v in g.items()} for g in grads]
        runs = {
            "lion_pytorch": run_torch(lambda p: LucidLion(p, lr=LR, betas=(0.9, 0.99), weight_decay=WD), th, gr, dt_t),
            "optax": run_optax(th, gr, dt_j),
            "po_lion": run_torch(
                lambda p: PoLion(p, lr=LR, betas=(0.9, 0.99), weight_decay=WD, weight_decouple=True,
                                 fixed_decay=False, foreach=False), th, gr, dt_t),
            "po_tiger": run_torch(
                lambda p: PoTiger(p, lr=1e-3, beta=0.965, weight_decay=0.01, weight_decouple=True,
                                  fixed_decay=False, foreach=False), th, gr, dt_t),
        }
        for oracle, out in runs.items():
            save_file(out, os.path.join(OUT, f"{oracle}_{name}.safetensors"),
                      metadata={"oracle": oracle, "dtype": name, "steps": str(STEPS)})
    print("versions: torch", torch.__version__, "jax", jax.__version__, "optax", optax.__version__)


if __name__ == "__main__":
    main()
