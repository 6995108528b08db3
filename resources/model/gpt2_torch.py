"""GPT-2 in PyTorch for kvscope's offline scripts: the float64 reference forward and safetensors
in the Hugging Face GPT-2 layout (Conv1D weights stored [in, out]).

Shared by tests/reference/make_reference.py (the engine's reference fixture) and train.py (the
embedded default model). Torch is never a runtime dependency of the app.
"""

import json
import math
import os
import struct

import numpy as np
import torch

def layer_names(i):
    p = "h.%d." % i
    return [p + n for n in (
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward_full(W, ids, config):
    """Naive float64 forward over the whole sequence; returns [T, vocab] logits."""
    W = {k: t.to(torch.float64) for k, t in W.items()}
    d, H, eps = config["n_embd"], config["n_head"], config["layer_norm_epsilon"]
    hd = d // H
    T = len(ids)
    x = W["wte.weight"][torch.tensor(ids)] + W["wpe.weight"][:T]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(config["n_layer"]):
        p = "h.%d." % i
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(T, H, hd).transpose(0, 1) for t in qkv.split(d, dim=1))
        att = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, d)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    return x @ W["wte.weight"].T


def to_bf16_bits(a32):
    """float32 -> bfloat16 bit patterns, round to nearest, ties to even."""
    u = a32.astype("<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def from_bf16_bits(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


def encode_tensor(t, dtype):
    a = t.numpy()
    if dtype == "F32":
        return a.astype("<f4"), a.astype(np.float32)
    if dtype == "F16":
        h = a.astype("<f2")  # numpy's float32 -> float16 cast rounds to nearest even
        return h, h.astype(np.float32)
    if dtype == "BF16":
        bits = to_bf16_bits(a)
        return bits, from_bf16_bits(bits)
    raise ValueError(dtype)


def write_safetensors(path, W, dtype, prefix=""):
    """Writes W (float32 tensors) as dtype; returns the weights as the file holds
    them, widened back to float32, so expectations match what a loader sees."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, seen, offset = [], {}, 0
    for name, t in W.items():
        raw, back = encode_tensor(t, dtype)
        data = raw.tobytes()
        header[prefix + name] = {"dtype": dtype, "shape": list(t.shape),
                                 "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
        seen[name] = torch.from_numpy(back.copy())
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    return seen


def read_safetensors(path):
    """Minimal reader used to prove the written file round-trips."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    assert (8 + n) % 8 == 0
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__")
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = data[b:e]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        else:
            a = from_bf16_bits(np.frombuffer(raw, "<u2"))
        out[name] = a.reshape(info["shape"])
    assert max(i["data_offsets"][1] for i in header.values()) == len(data)
    return out
