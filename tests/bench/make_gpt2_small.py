#!/usr/bin/python3
"""Writes a GPT-2 small (124M) with random weights for the benchmarks.

Shapes, tokenizer and file layout are GPT-2 small's (12 layers, 12 heads, d=768, context 1024,
vocabulary 50257, F32 safetensors with Conv1D [in, out] matrices), so the engine does exactly the
work of the real checkpoint; the text it produces is noise. ~500 MB, not committed:

    /usr/bin/python3 tests/bench/make_gpt2_small.py build/gpt2-small-random
"""

import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "resources", "model"))
import gpt2_torch  # noqa: E402

N_LAYER, N_HEAD, N_EMBD, N_CTX, VOCAB, EOT = 12, 12, 768, 1024, 50257, 50256


def shapes():
    d, inner = N_EMBD, 4 * N_EMBD
    out = {"wte.weight": (VOCAB, d), "wpe.weight": (N_CTX, d)}
    per_layer = {
        "ln_1.weight": (d,), "ln_1.bias": (d,),
        "attn.c_attn.weight": (d, 3 * d), "attn.c_attn.bias": (3 * d,),
        "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,),
        "ln_2.weight": (d,), "ln_2.bias": (d,),
        "mlp.c_fc.weight": (d, inner), "mlp.c_fc.bias": (inner,),
        "mlp.c_proj.weight": (inner, d), "mlp.c_proj.bias": (d,),
    }
    for i in range(N_LAYER):
        for name, shape in per_layer.items():
            out["h.%d.%s" % (i, name)] = shape
    out["ln_f.weight"] = (d,)
    out["ln_f.bias"] = (d,)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(124)
    weights = {}
    for name, shape in shapes().items():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            a = np.ones(shape, np.float32)
        elif name.endswith(".bias"):
            a = np.zeros(shape, np.float32)
        else:  # GPT-2's initialisation scale
            a = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        weights[name] = torch.from_numpy(a)
    gpt2_torch.write_safetensors(os.path.join(folder, "model.safetensors"), weights, "F32")
    gpt2_torch.write_config(os.path.join(folder, "config.json"),
                            gpt2_torch.hf_config(N_LAYER, N_HEAD, N_EMBD, N_CTX, VOCAB, EOT))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(ROOT, "tests", "tokenizer", "gpt2", f), os.path.join(folder, f))
    params = sum(int(np.prod(s)) for s in shapes().values())
    print("wrote %s: %d parameters" % (folder, params))


if __name__ == "__main__":
    main()
