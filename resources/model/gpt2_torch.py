"""GPT-2 in torch and the Hugging Face file formats, shared by the offline
scripts (tests/reference/make_reference.py, resources/model/train.py,
make_fixture.py, analyze_heads.py).

Two forwards live here on purpose:
  * forward_full / CachedFloat32: plain functions over a dict of tensors named
    as in the HF checkpoint.  They are the "obviously correct" reference the
    C++ engine is tested against, so they stay as literal as possible.
  * GPT2: an nn.Module for training.  Its state_dict() uses the same HF names
    and the same Conv1D [in, out] layout, so exporting is just writing that
    dict, and the exported file can be checked with forward_full.

Torch is only used offline; the C++ app never depends on it.
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- config ---

def hf_config(n_layer, n_head, n_embd, n_positions, vocab_size, eos_token_id,
              layer_norm_epsilon=1e-5):
    """A GPT-2 config.json dict with the keys the C++ loader (and HF) read.
    Key order is fixed so the written file is byte-stable."""
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "n_layer": n_layer,
        "n_head": n_head,
        "n_embd": n_embd,
        "n_positions": n_positions,
        "n_ctx": n_positions,
        "vocab_size": vocab_size,
        "layer_norm_epsilon": layer_norm_epsilon,
        "activation_function": "gelu_new",
        "bos_token_id": eos_token_id,
        "eos_token_id": eos_token_id,
        "torch_dtype": "float32",
    }


def write_config(path, config):
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def load_config(directory):
    with open(os.path.join(directory, "config.json")) as f:
        return json.load(f)


def layer_names(i):
    p = "h.%d." % i
    return [p + n for n in (
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")]


def tensor_names(n_layer):
    """Every tensor of an HF GPT-2 checkpoint without the transformer. prefix,
    in the order the files are written (lm_head is tied, so absent)."""
    names = ["wte.weight", "wpe.weight"]
    for i in range(n_layer):
        names += layer_names(i)
    return names + ["ln_f.weight", "ln_f.bias"]


# ------------------------------------------------------ reference forward ---

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward_full(W, ids, config, return_attention=False):
    """Naive float64 forward over the whole sequence; returns [T, vocab] logits
    (and, if asked, the per-layer [H, T, T] attention probabilities)."""
    W = {k: t.to(torch.float64) for k, t in W.items()}
    d, H = config["n_embd"], config["n_head"]
    eps = config["layer_norm_epsilon"]
    hd = d // H
    T = len(ids)
    x = W["wte.weight"][torch.tensor(ids)] + W["wpe.weight"][:T]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    attentions = []
    for i in range(config["n_layer"]):
        p = "h.%d." % i
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(T, H, hd).transpose(0, 1) for t in qkv.split(d, dim=1))
        att = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(causal, float("-inf")), dim=-1)
        attentions.append(att)
        y = (att @ v).transpose(0, 1).reshape(T, d)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    logits = x @ W["wte.weight"].T
    return (logits, attentions) if return_attention else logits


class CachedFloat32:
    """Independent float32 KV-cache decoder, only to sanity-check forward_full."""

    def __init__(self, W, config):
        self.config = config
        self.W = {k: t.to(torch.float32) for k, t in W.items()}
        self.k = [[] for _ in range(config["n_layer"])]
        self.v = [[] for _ in range(config["n_layer"])]

    def step(self, token):
        W, d, H = self.W, self.config["n_embd"], self.config["n_head"]
        eps = self.config["layer_norm_epsilon"]
        hd = d // H
        pos = len(self.k[0])
        x = W["wte.weight"][token] + W["wpe.weight"][pos]
        for i in range(self.config["n_layer"]):
            p = "h.%d." % i
            h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
            qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
            q, k, v = (t.reshape(H, hd) for t in qkv.split(d))
            self.k[i].append(k)
            self.v[i].append(v)
            K = torch.stack(self.k[i], dim=1)  # [H, t, hd]
            V = torch.stack(self.v[i], dim=1)
            att = torch.softmax((K @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(hd), dim=-1)
            y = (att.unsqueeze(1) @ V).reshape(d)
            x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
            h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            m = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
            x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
        x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
        return x @ W["wte.weight"].T


def greedy(W, prompt_ids, n_new, config):
    """Greedy decode with the naive float64 forward.

    Returns (generated ids, logits list of n_new + 1 vectors, margins): logits[k]
    is the last-position output after feeding prompt + generated[:k], so the
    final vector also checks the forward of the last generated token."""
    ids = list(prompt_ids)
    out, logits, margins = [], [], []
    for k in range(n_new + 1):
        last = forward_full(W, ids, config)[-1]
        logits.append(last)
        if k == n_new:
            break
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        ids.append(nxt)
    return out, logits, margins


# ------------------------------------------------------- training module ---

def _outer_products(a, b):
    """a @ b^T for [N, T, hd] tensors.  torch 1.13's CPU bmm is ~7x slower than
    single mm calls for this shape (tiny inner dimension, big output), and
    attention scores are where the training time goes, so loop over N."""
    out = a.new_empty(a.shape[0], a.shape[1], b.shape[1])
    for i in range(a.shape[0]):
        torch.mm(a[i], b[i].T, out=out[i])
    return out


class _Scores(torch.autograd.Function):
    """q @ k^T with a backward made of well-shaped bmm calls."""

    @staticmethod
    def forward(ctx, q, k):
        ctx.save_for_backward(q, k)
        return _outer_products(q, k)

    @staticmethod
    def backward(ctx, g):
        q, k = ctx.saved_tensors
        return g @ k, g.transpose(1, 2) @ q


class _Mix(torch.autograd.Function):
    """att @ v; its input gradient g @ v^T has the slow shape, see above."""

    @staticmethod
    def forward(ctx, att, v):
        ctx.save_for_backward(att, v)
        return att @ v

    @staticmethod
    def backward(ctx, g):
        att, v = ctx.saved_tensors
        return _outer_products(g.contiguous(), v), att.transpose(1, 2) @ g


class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(
            *x.shape[:-1], self.weight.shape[1])


class _Attn(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)


class _Mlp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = Conv1D(d, 4 * d)
        self.c_proj = Conv1D(4 * d, d)


class Block(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = _Attn(d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = _Mlp(d)


class GPT2(nn.Module):
    """Training-time GPT-2 whose state_dict names are the HF checkpoint's."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        d, eps = config["n_embd"], config["layer_norm_epsilon"]
        self.wte = nn.Embedding(config["vocab_size"], d)
        self.wpe = nn.Embedding(config["n_positions"], d)
        self.h = nn.ModuleList(Block(d, eps) for _ in range(config["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=eps)
        causal = torch.triu(torch.ones(config["n_positions"], config["n_positions"],
                                       dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        # GPT-2's init: N(0, 0.02), with residual output projections scaled
        # by 1/sqrt(2 * n_layer) so the residual stream does not grow with depth.
        std = 0.02
        nn.init.normal_(self.wte.weight, 0.0, std)
        nn.init.normal_(self.wpe.weight, 0.0, std / 2)
        for b in self.h:
            nn.init.normal_(b.attn.c_attn.weight, 0.0, std)
            nn.init.normal_(b.mlp.c_fc.weight, 0.0, std)
            for proj in (b.attn.c_proj, b.mlp.c_proj):
                nn.init.normal_(proj.weight, 0.0, std / math.sqrt(2 * len(self.h)))

    def forward(self, idx, return_attention=False):
        B, T = idx.shape
        d, H = self.config["n_embd"], self.config["n_head"]
        hd = d // H
        pos = torch.arange(T)
        x = self.wte(idx) + self.wpe(pos)
        mask = self.causal[:T, :T]
        attentions = []
        for blk in self.h:
            h = blk.ln_1(x)
            q, k, v = blk.attn.c_attn(h).split(d, dim=2)
            # Heads folded into the batch, scale folded into q (T*hd values
            # instead of T*T).
            q = (q * (1.0 / math.sqrt(hd))).view(B, T, H, hd).transpose(1, 2).reshape(B * H, T, hd)
            k = k.reshape(B, T, H, hd).transpose(1, 2).reshape(B * H, T, hd)
            v = v.reshape(B, T, H, hd).transpose(1, 2).reshape(B * H, T, hd)
            att = _Scores.apply(q, k).masked_fill_(mask, float("-inf"))
            att = torch.softmax(att, dim=-1)
            if return_attention:
                attentions.append(att.detach().view(B, H, T, T))
            y = _Mix.apply(att, v).view(B, H, T, hd).transpose(1, 2).reshape(B, T, d)
            x = x + blk.attn.c_proj(y)
            x = x + blk.mlp.c_proj(F.gelu(blk.mlp.c_fc(blk.ln_2(x)), approximate="tanh"))
        x = self.ln_f(x)
        logits = x @ self.wte.weight.T  # tied lm_head
        return (logits, attentions) if return_attention else logits

    def hf_state(self):
        """float32 CPU tensors keyed by HF name, in checkpoint order."""
        sd = self.state_dict()
        return {n: sd[n].detach().to(torch.float32).contiguous().clone()
                for n in tensor_names(self.config["n_layer"])}


# ----------------------------------------------------------- safetensors ---

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
    """Minimal reader: name -> float32 numpy array (F32, F16 or BF16 on disk)."""
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


def load_weights(directory):
    """The exported checkpoint as float32 torch tensors (what the C++ app reads)."""
    raw = read_safetensors(os.path.join(directory, "model.safetensors"))
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in raw.items()}
