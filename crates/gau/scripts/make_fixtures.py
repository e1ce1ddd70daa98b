#!/usr/bin/env python3
"""Float64 oracle fixtures for crates/gau/tests/oracle.rs (issue 4, spec/gau.md §0, §2, §3).

References (pinned):
  * FLASH-pytorch 0.1.9 (lucidrains): `GAU` (the paper's relu² form, relu(QKᵀ/n)²) and `FLASH`
    (mixed chunk attention, relu(QqKqᵀ/c)² locally, global linear with ν = c when causal and n
    when not), with rotary_embedding_torch for FLASH's RoPE;
  * gau-alpha 0.0.3 (JunnYu, aligned with bert4keras): `GatedAttentionUnit` with
    normalization="softmax_plus" and RoPE.

Set-up (outside the repository; the Rust tests never need Python):
    python3 -m venv /tmp/venv-gau
    /tmp/venv-gau/bin/pip install torch FLASH-pytorch==0.1.9 gau-alpha safetensors numpy
    /tmp/venv-gau/bin/python crates/gau/scripts/make_fixtures.py

What is disabled or neutralised in the references, and how their layouts map to ours:
  * flash-pytorch: norm_klass=nn.Identity (no pre-norm), add_residual=False (GAU); FLASH always
    adds the residual x, so its fixture stores y − x and dx − dy (the layer's own output and
    input gradient); dropout 0 and eval mode; shift_tokens=False; laplace_attn_fn=False; the
    T5 relative-position bias (always present) has its table set to 0, and its gradient is not
    compared (our layers have no such parameter).
  * flash-pytorch's `to_hidden` is [V | U] and `to_qk` is separate: our w_in [d, 2e+s] is
    [W_U | W_V | W_qk] (transposed to (in, out)), b_in likewise; OffsetScale rows: GAU (q, k);
    FLASH (quad_q, lin_q, quad_k, lin_k) → ours (q_quad, k_quad, q_lin, k_lin).
  * rotary_embedding_torch builds its frequencies in float32; they are replaced by the float64
    θ_m = 1/10000^(2m/s) (and its cache disabled) so that the comparison is of the maths, not
    of a float32 table. Its layout is interleaved pairs (2m, 2m+1), rotating all s channels.
  * gau-alpha: its `__init__` needs transformers' model classes, so layer.py is loaded on its
    own; sin/cos tables are passed in float64 (the package's are float32). Its RoPE writes the
    rotated pairs as [evens | odds], the same permutation on q and k, so scores equal our
    interleaved RoPE. Masks are passed as float 0/1 [b, m, n] tensors, so l = the row's
    visible keys; only bidirectional masks are used, because its −1e4 fill is multiplied by
    λ = ln l / ln 512, which is 0 for a causal row with one key (the leak of spec §2.4).
  * All parameters are drawn at random (matrices N(0, 0.5²), γ = 1 + N(0, 0.3²), biases and
    offsets N(0, 0.3²)) so that no gradient is trivially zero; the cotangent dy is N(0, 1).
"""

import importlib.util
import math
import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)  # fixed reduction order: the fixtures are reproducible bit for bit
torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

from flash_pytorch import FLASH, GAU  # noqa: E402
from rotary_embedding_torch import RotaryEmbedding  # noqa: E402

from importlib.metadata import version  # noqa: E402

assert version("FLASH-pytorch") == "0.1.9", "need FLASH-pytorch==0.1.9"


def gau_alpha_layer_module():
    spec = importlib.util.find_spec("gau_alpha")
    path = os.path.join(list(spec.submodule_search_locations)[0], "layer.py")
    s = importlib.util.spec_from_file_location("gau_alpha_layer", path)
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def randomise(module, gen, gains=()):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not p.requires_grad:  # RoPE frequencies (set exactly below)
                continue
            r = torch.randn(p.shape, generator=gen)
            if name in gains:
                p.copy_(1.0 + 0.3 * r)
            elif p.dim() == 2:
                p.copy_(0.5 * r)
            else:
                p.copy_(0.3 * r)


def run(module_fn, x, dy):
    assert x.dtype == torch.float64 and dy.dtype == torch.float64
    x = x.clone().requires_grad_(True)
    y = module_fn(x)
    y.backward(dy)
    return y.detach(), x.grad.detach()


def masks_to_tensor(lengths, n):
    return torch.tensor([[1.0 if j < l else 0.0 for j in range(n)] for l in lengths])


def check_f64(m):
    for name, p in m.named_parameters():
        assert p.dtype == torch.float64, name


def save(name, tensors, meta):
    path = os.path.join(OUT, name + ".safetensors")
    save_file({k: v.contiguous().to(torch.float64) for k, v in tensors.items()}, path,
              metadata={"config": " ".join(f"{k}={v}" for k, v in meta.items())})
    print(f"{path}: {os.path.getsize(path)} bytes")


def flash_pytorch_gau(causal, seed):
    b, n, d, s = 2, 7, 6, 8
    e = 2 * d
    lengths = [7, 5]
    gen = torch.Generator().manual_seed(seed)
    m = GAU(dim=d, query_key_dim=s, expansion_factor=2.0, add_residual=False, causal=causal,
            dropout=0.0, norm_klass=nn.Identity)
    m.eval()
    randomise(m, gen, gains={"offsetscale.gamma"})
    with torch.no_grad():
        m.rel_pos_bias.relative_attention_bias.weight.zero_()
    x = torch.randn(b, n, d, generator=gen)
    dy = torch.randn(b, n, d, generator=gen)
    mask = torch.tensor([[j < l for j in range(n)] for l in lengths])
    check_f64(m)
    y, dx = run(lambda t: m(t, mask=mask), x, dy)
    wh, bh = m.to_hidden[0].weight, m.to_hidden[0].bias  # [2e, d]: rows [V | U]
    wq, bq = m.to_qk[0].weight, m.to_qk[0].bias
    g, bt = m.offsetscale.gamma, m.offsetscale.beta
    wo, bo = m.to_out[0].weight, m.to_out[0].bias

    def ours(f):
        return {
            "w_in": torch.cat([f(wh)[e:], f(wh)[:e], f(wq)], 0).T,
            "b_in": torch.cat([f(bh)[e:], f(bh)[:e], f(bq)]),
            "gamma_q": f(g)[0], "beta_q": f(bt)[0], "gamma_k": f(g)[1], "beta_k": f(bt)[1],
            "w_o": f(wo).T, "b_o": f(bo),
        }

    t = {"x": x, "dy": dy, "y": y, "dx": dx, "lengths": torch.tensor(lengths, dtype=torch.float64)}
    t.update({k: v.detach() for k, v in ours(lambda p: p).items()})
    t.update({"grad." + k: v.detach() for k, v in ours(lambda p: p.grad).items()})
    save(f"flash_pytorch_gau_{'causal' if causal else 'bidir'}", t,
         {"b": b, "n": n, "d": d, "e": e, "s": s, "causal": causal})


def flash_pytorch_flash(causal, seed):
    b, n, d, s, c = 2, 8, 6, 8, 3
    e = 2 * d
    lengths = [8, 6]
    gen = torch.Generator().manual_seed(seed)
    rope = RotaryEmbedding(dim=s, cache_if_possible=False)
    m = FLASH(dim=d, group_size=c, query_key_dim=s, expansion_factor=2.0, causal=causal,
              dropout=0.0, rotary_pos_emb=rope, norm_klass=nn.Identity, shift_tokens=False,
              laplace_attn_fn=False)
    m.double().eval()
    randomise(m, gen, gains={"qk_offset_scale.gamma"})
    with torch.no_grad():
        m.rel_pos_bias.relative_attention_bias.weight.zero_()
        exact = 1.0 / (10000.0 ** (torch.arange(0, s, 2, dtype=torch.float64) / s))
        rope.freqs.copy_(exact)
    assert rope.freqs.dtype == torch.float64 and not rope.freqs.requires_grad
    x = torch.randn(b, n, d, generator=gen)
    dy = torch.randn(b, n, d, generator=gen)
    mask = torch.tensor([[j < l for j in range(n)] for l in lengths])
    check_f64(m)
    y, dx = run(lambda t: m(t, mask=mask), x, dy)
    y, dx = y - x, dx - dy  # FLASH adds the residual x itself
    wh, bh = m.to_hidden[0].weight, m.to_hidden[0].bias
    wq, bq = m.to_qk[0].weight, m.to_qk[0].bias
    g, bt = m.qk_offset_scale.gamma, m.qk_offset_scale.beta  # rows: quad_q, lin_q, quad_k, lin_k
    wo, bo = m.to_out.weight, m.to_out.bias
    order = {"q_quad": 0, "k_quad": 2, "q_lin": 1, "k_lin": 3}

    def ours(f):
        out = {
            "w_in": torch.cat([f(wh)[e:], f(wh)[:e], f(wq)], 0).T,
            "b_in": torch.cat([f(bh)[e:], f(bh)[:e], f(bq)]),
            "w_o": f(wo).T, "b_o": f(bo),
        }
        for name, row in order.items():
            out["gamma_" + name] = f(g)[row]
            out["beta_" + name] = f(bt)[row]
        return out

    t = {"x": x, "dy": dy, "y": y, "dx": dx, "lengths": torch.tensor(lengths, dtype=torch.float64)}
    t.update({k: v.detach() for k, v in ours(lambda p: p).items()})
    t.update({"grad." + k: v.detach() for k, v in ours(lambda p: p.grad).items()})
    save(f"flash_pytorch_flash_{'causal' if causal else 'bidir'}", t,
         {"b": b, "n": n, "d": d, "e": e, "s": s, "chunk": c, "causal": causal})


def gau_alpha(use_bias, lengths, seed):
    b, n, d, e, s = 2, 7, 6, 10, 8
    lay = gau_alpha_layer_module()
    gen = torch.Generator().manual_seed(seed)
    m = lay.GatedAttentionUnit(hidden_size=d, intermediate_size=e, attention_key_size=s,
                               activation="swish", use_bias=use_bias,
                               normalization="softmax_plus", attention_scale=True,
                               attention_dropout=0.0)
    m.eval()
    randomise(m, gen, gains={"q_scaleoffset.weight", "k_scaleoffset.weight"})
    pos = torch.arange(n, dtype=torch.float64)
    theta = torch.pow(10000.0, -2 * torch.arange(s // 2, dtype=torch.float64) / s)
    ang = torch.einsum("n,d->nd", pos, theta)[None]
    sinusoidal = (ang.sin(), ang.cos())
    x = torch.randn(b, n, d, generator=gen)
    dy = torch.randn(b, n, d, generator=gen)
    if lengths is None:
        am = None
    else:
        am = masks_to_tensor(lengths, n)[:, None, :].expand(b, n, n).contiguous()
    check_f64(m)
    y, dx = run(lambda t: m(t, am, sinusoidal)[0], x, dy)

    def ours(f):
        out = {"w_in": f(m.i_dense.weight).T, "gamma_q": f(m.q_scaleoffset.weight),
               "gamma_k": f(m.k_scaleoffset.weight), "w_o": f(m.o_dense.weight).T}
        if use_bias:
            out.update({"b_in": f(m.i_dense.bias), "b_o": f(m.o_dense.bias),
                        "beta_q": f(m.q_scaleoffset.bias), "beta_k": f(m.k_scaleoffset.bias)})
        return out

    t = {"x": x, "dy": dy, "y": y, "dx": dx}
    if lengths is not None:
        t["lengths"] = torch.tensor(lengths, dtype=torch.float64)
    t.update({k: v.detach() for k, v in ours(lambda p: p).items()})
    t.update({"grad." + k: v.detach() for k, v in ours(lambda p: p.grad).items()})
    tag = ("bias" if use_bias else "nobias") + ("_padded" if lengths else "")
    save(f"gau_alpha_softmax_plus_{tag}", t,
         {"b": b, "n": n, "d": d, "e": e, "s": s, "use_bias": use_bias})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    print("torch", torch.__version__, file=sys.stderr)
    flash_pytorch_gau(False, 1)
    flash_pytorch_gau(True, 2)
    flash_pytorch_flash(False, 3)
    flash_pytorch_flash(True, 4)
    gau_alpha(False, None, 5)
    gau_alpha(True, [7, 4], 6)
