#!/usr/bin/python3
"""The PyTorch peer of kvscope_bench: the same GPT-2 small weights, the same thread counts and
the same cases, timed the same way, then kvscope / PyTorch for each case.

    /usr/bin/python3 tests/bench/torch_peer.py --model DIR --kvscope bench.json [--json out.json]

Cached decode uses the matrix-vector path (weights transposed once to (out, in), torch.addmv,
a preallocated K/V cache), PyTorch's fastest way to stream weights one token at a time. Naive
steps are the float32 forward of resources/model/gpt2_torch.py over the whole sequence as
matrix-matrix products (x @ W with W as stored); like kvscope, only the last position's logits
are computed. Debian's python3-torch calls whatever libblas.so.3 points to: install
libopenblas0-openmp, or PyTorch is about 20x slower and the ratios mean nothing.

OpenBLAS picks its kernels by CPU model. A virtual CPU that reports a generic model name ("Intel
Xeon Processor", as this machine does) is not recognised and gets the Prescott (SSE3) kernels:
GEMM at ~20 instead of ~120 GFLOP/s on one thread. So unless OPENBLAS_CORETYPE is already set,
it is set from the CPU's flags before torch (and OpenBLAS) is loaded: SkylakeX with AVX-512,
Haswell with AVX2.
"""

import argparse
import json
import math
import os
import sys
import time


def choose_openblas_core():
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":")[1].split() for line in f if line.startswith("flags")), [])
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


choose_openblas_core()
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "model"))
import gpt2_torch  # noqa: E402
from gpt2_torch import gelu_new, layer_norm  # noqa: E402


class CachedDecoder:
    """One token per call against a preallocated K/V cache; every product is a GEMV."""

    def __init__(self, W, config):
        self.c = config
        self.W = W
        n, d, ctx = config["n_layer"], config["n_embd"], config["n_positions"]
        self.T = {}  # Conv1D (in, out) -> (out, in), contiguous, once
        for i in range(n):
            for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
                name = "h.%d.%s.weight" % (i, m)
                self.T[name] = W[name].t().contiguous()
        self.k = torch.zeros(n, ctx, d)
        self.v = torch.zeros(n, ctx, d)
        self.pos = 0

    def step(self, token):
        W, T, c = self.W, self.T, self.c
        d, H, eps = c["n_embd"], c["n_head"], c["layer_norm_epsilon"]
        hd, t = d // H, self.pos
        x = W["wte.weight"][token] + W["wpe.weight"][t]
        for i in range(c["n_layer"]):
            p = "h.%d." % i
            h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
            qkv = torch.addmv(W[p + "attn.c_attn.bias"], T[p + "attn.c_attn.weight"], h)
            q, k, v = qkv.split(d)
            self.k[i, t] = k
            self.v[i, t] = v
            K = self.k[i, : t + 1].view(t + 1, H, hd).transpose(0, 1)  # [H, t+1, hd]
            V = self.v[i, : t + 1].view(t + 1, H, hd).transpose(0, 1)
            att = torch.softmax(torch.bmm(K, q.view(H, hd, 1)).squeeze(-1) / math.sqrt(hd), -1)
            y = torch.bmm(att.unsqueeze(1), V).reshape(d)
            x = x + torch.addmv(W[p + "attn.c_proj.bias"], T[p + "attn.c_proj.weight"], y)
            h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            m = gelu_new(torch.addmv(W[p + "mlp.c_fc.bias"], T[p + "mlp.c_fc.weight"], h))
            x = x + torch.addmv(W[p + "mlp.c_proj.bias"], T[p + "mlp.c_proj.weight"], m)
        x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
        self.pos += 1
        return torch.mv(W["wte.weight"], x)


def naive_step(W, ids, c):
    """One naive step: the whole sequence through the model, logits of the last row."""
    d, H, eps = c["n_embd"], c["n_head"], c["layer_norm_epsilon"]
    hd, T = d // H, len(ids)
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = torch.addmm(W[p + "attn.c_attn.bias"], h, W[p + "attn.c_attn.weight"])
        q, k, v = (t.reshape(T, H, hd).transpose(0, 1) for t in qkv.split(d, dim=1))
        att = torch.softmax((q @ k.transpose(1, 2) / math.sqrt(hd)).masked_fill(causal, -math.inf), -1)
        y = (att @ v).transpose(0, 1).reshape(T, d)
        x = x + torch.addmm(W[p + "attn.c_proj.bias"], y, W[p + "attn.c_proj.weight"])
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = gelu_new(torch.addmm(W[p + "mlp.c_fc.bias"], h, W[p + "mlp.c_fc.weight"]))
        x = x + torch.addmm(W[p + "mlp.c_proj.bias"], m, W[p + "mlp.c_proj.weight"])
    x = layer_norm(x[-1], W["ln_f.weight"], W["ln_f.bias"], eps)
    return torch.mv(W["wte.weight"], x)


def product_flops(c, n):
    """Weight and attention product FLOPs of a naive step at n tokens, counted as kvscope
    counts them (causal triangle only, lm_head for the last row)."""
    d, inner, L, V = c["n_embd"], 4 * c["n_embd"], c["n_layer"], c["vocab_size"]
    weights = 2 * n * L * (3 * d * d + d * d + 2 * d * inner) + 2 * d * V
    attention = 2 * 2 * L * d * n * (n + 1) // 2
    return weights + attention


def loaded_blas():
    """The BLAS library this process really uses (libblas.so.3 is an alternatives link), and
    the kernels OpenBLAS chose."""
    import ctypes
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as f:
        libs = {os.path.realpath(line.split()[-1]) for line in f if "blas" in line.lower()}
    core = "?"
    for lib in libs:
        if "openblas" in os.path.basename(lib):
            name = ctypes.CDLL(lib).openblas_get_corename
            name.restype = ctypes.c_char_p
            core = name().decode()
    return "%s (OpenBLAS kernels: %s)" % (", ".join(sorted(libs)) or "none found", core)


def run_cached(W, c, tokens):
    dec = CachedDecoder(W, c)
    steps = min(tokens, c["n_positions"] - 1)
    token = c["eos_token_id"]
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            token = int(torch.argmax(dec.step(token)))
    return steps / (time.perf_counter() - start)


def run_naive(W, c, tokens, repeats):
    n = min(tokens, c["n_positions"])
    ids = torch.tensor([(i * 7919) % c["vocab_size"] for i in range(n)])
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            naive_step(W, ids, c)
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], product_flops(c, n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--kvscope", required=True, help="kvscope_bench --json output")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    with open(args.kvscope) as f:
        ours = [k for k in json.load(f)["cases"] if k["model"] == "gpt2-small"]
    c = gpt2_torch.load_config(args.model)
    W = gpt2_torch.load_weights(args.model)
    print("PyTorch %s, BLAS: %s" % (torch.__version__, loaded_blas()))
    print("%-6s %5s %3s  %12s %12s  %7s" % ("mode", "tok", "thr", "kvscope", "PyTorch", "ratio"))
    results = []
    for k in ours:
        torch.set_num_threads(k["threads"])
        if k["mode"] == "cached":
            theirs = run_cached(W, c, k["tokens"])
            mine, unit = k["tokens_per_s"], "tok/s"
        else:
            step, flops = run_naive(W, c, k["tokens"], args.repeats)
            counted = k["matmul_gflops"] * k["naive_step_ms"] * 1e6
            assert abs(counted / flops - 1) < 1e-3, "FLOP counts disagree: %g vs %g" % (counted, flops)
            theirs = flops / step / 1e9
            mine, unit = k["matmul_gflops"], "GFLOP/s"
        ratio = mine / theirs
        print("%-6s %5d %3d  %8.2f %-3s %8.2f %-3s  %6.2fx" % (
            k["mode"], k["tokens"], k["threads"], mine, "", theirs, "", ratio), unit)
        sys.stdout.flush()
        results.append(dict(mode=k["mode"], tokens=k["tokens"], threads=k["threads"],
                            unit=unit, kvscope=mine, pytorch=theirs, ratio=ratio))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
