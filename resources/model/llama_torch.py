"""The embedded Llama in torch and in GGUF, for the offline scripts (train.py, make_fixture.py,
analyze_heads.py).  Torch is only used offline; the C++ app never depends on it.

As gpt2_torch.py, two forwards on purpose:
  * forward_full: a plain float64 function over a dict of tensors named as in the GGUF file, the
    literal reference the C++ engine is tested against;
  * Llama: the nn.Module for training, whose state_dict() uses the same names, so export writes
    that dict and the written file can be checked with forward_full.

Architecture (llama2.c's and GGUF `llama`'s): RMSNorm, rotary embeddings over adjacent pairs
(dimensions 2i and 2i+1 rotate together), grouped-query attention (query head h reads KV head
h // (n_head / n_kv_head)), SwiGLU MLP w2(silu(w1 x) * w3 x), no biases, classifier tied to the
token embedding.
"""

import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "formats"))
import gpt2_torch  # noqa: E402  (its attention products, fast on torch 1.13's CPU)
from gguf_writer import GGML, Array, GgufWriter, T  # noqa: E402


def config(n_layer, n_head, n_kv_head, dim, hidden, vocab_size, context=1024, theta=10000.0,
           eps=1e-5):
    return dict(n_layer=n_layer, n_head=n_head, n_kv_head=n_kv_head, dim=dim, hidden=hidden,
                vocab_size=vocab_size, context=context, theta=theta, eps=eps)


def tensor_shapes(c):
    """GGUF name -> numpy shape (rows, row length) of every tensor, in file order."""
    d, hd = c["dim"], c["dim"] // c["n_head"]
    kv = hd * c["n_kv_head"]
    shapes = {"token_embd.weight": (c["vocab_size"], d)}
    for i in range(c["n_layer"]):
        p = "blk.%d." % i
        shapes.update({p + "attn_norm.weight": (d,), p + "attn_q.weight": (d, d),
                       p + "attn_k.weight": (kv, d), p + "attn_v.weight": (kv, d),
                       p + "attn_output.weight": (d, d), p + "ffn_norm.weight": (d,),
                       p + "ffn_gate.weight": (c["hidden"], d),
                       p + "ffn_up.weight": (c["hidden"], d),
                       p + "ffn_down.weight": (d, c["hidden"])})
    shapes["output_norm.weight"] = (d,)
    return shapes


# ------------------------------------------------------------- reference ---

def rope_tables(head_dim, n, theta, dtype):
    """cos, sin of shape [n, head_dim / 2]: pair i of position p turns by p * theta^(-2i/hd)."""
    inv = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rotate_adjacent(x, cos, sin):
    """x [..., T, hd]: dimensions (2i, 2i+1) turned by the angles of their position."""
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack((xe * cos - xo * sin, xe * sin + xo * cos), dim=-1).flatten(-2)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward_full(W, ids, c, return_attention=False):
    """float64 logits [T, vocab] for one sequence, the whole triangle at once."""
    W = {k: v.to(torch.float64) for k, v in W.items()}
    H, Hkv, d = c["n_head"], c["n_kv_head"], c["dim"]
    hd, Tn = d // H, len(ids)
    cos, sin = rope_tables(hd, Tn, c["theta"], torch.float64)
    x = W["token_embd.weight"][torch.tensor(ids)]
    mask = torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), diagonal=1)
    attentions = []
    for i in range(c["n_layer"]):
        p = "blk.%d." % i
        h = rmsnorm(x, W[p + "attn_norm.weight"], c["eps"])
        q = (h @ W[p + "attn_q.weight"].T).view(Tn, H, hd).transpose(0, 1)
        k = (h @ W[p + "attn_k.weight"].T).view(Tn, Hkv, hd).transpose(0, 1)
        v = (h @ W[p + "attn_v.weight"].T).view(Tn, Hkv, hd).transpose(0, 1)
        q, k = rotate_adjacent(q, cos, sin), rotate_adjacent(k, cos, sin)
        k = k.repeat_interleave(H // Hkv, dim=0)
        v = v.repeat_interleave(H // Hkv, dim=0)
        att = torch.softmax((q @ k.transpose(1, 2) / math.sqrt(hd)).masked_fill(mask, -math.inf),
                            dim=-1)
        attentions.append(att)
        y = (att @ v).transpose(0, 1).reshape(Tn, d)
        x = x + y @ W[p + "attn_output.weight"].T
        h = rmsnorm(x, W[p + "ffn_norm.weight"], c["eps"])
        g = F.silu(h @ W[p + "ffn_gate.weight"].T) * (h @ W[p + "ffn_up.weight"].T)
        x = x + g @ W[p + "ffn_down.weight"].T
    x = rmsnorm(x, W["output_norm.weight"], c["eps"])
    logits = x @ W["token_embd.weight"].T
    return (logits, attentions) if return_attention else logits


# ----------------------------------------------------------- training ---

class Llama(nn.Module):
    """Training-time Llama whose state_dict names are the GGUF file's."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.shapes = tensor_shapes(c)
        self.w = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(torch.empty(s))
                                   for k, s in self.shapes.items()})
        cos, sin = rope_tables(c["dim"] // c["n_head"], c["context"], c["theta"], torch.float32)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        causal = torch.triu(torch.ones(c["context"], c["context"], dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)
        self.reset_parameters()

    def p(self, name):
        return self.w[name.replace(".", "__")]

    def reset_parameters(self):
        # N(0, 0.02), residual outputs scaled by 1/sqrt(2 n_layer), norms at one (as GPT-2's).
        for name, s in self.shapes.items():
            t = self.p(name)
            if len(s) == 1:
                nn.init.ones_(t)
            elif name.endswith(("attn_output.weight", "ffn_down.weight")):
                nn.init.normal_(t, 0.0, 0.02 / math.sqrt(2 * self.c["n_layer"]))
            else:
                nn.init.normal_(t, 0.0, 0.02)

    def decayed(self, name):
        return len(self.shapes[name]) == 2 and name.startswith("blk.")

    def forward(self, idx, return_attention=False):
        c = self.c
        B, Tn = idx.shape
        H, Hkv, d = c["n_head"], c["n_kv_head"], c["dim"]
        hd = d // H
        cos, sin = self.cos[:Tn], self.sin[:Tn]
        mask = self.causal[:Tn, :Tn]
        x = F.embedding(idx, self.p("token_embd.weight"))
        attentions = []
        for i in range(c["n_layer"]):
            p = "blk.%d." % i
            h = rmsnorm(x, self.p(p + "attn_norm.weight"), c["eps"])
            # Heads folded into the batch; the 1/sqrt(hd) scale folded into q.
            q = (h @ self.p(p + "attn_q.weight").T).view(B, Tn, H, hd).transpose(1, 2)
            k = (h @ self.p(p + "attn_k.weight").T).view(B, Tn, Hkv, hd).transpose(1, 2)
            v = (h @ self.p(p + "attn_v.weight").T).view(B, Tn, Hkv, hd).transpose(1, 2)
            q = rotate_adjacent(q, cos, sin) * (1.0 / math.sqrt(hd))
            k = rotate_adjacent(k, cos, sin).repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
            q, k, v = (t.reshape(B * H, Tn, hd) for t in (q, k, v))
            att = gpt2_torch._Scores.apply(q.contiguous(), k.contiguous())
            att = torch.softmax(att.masked_fill_(mask, float("-inf")), dim=-1)
            if return_attention:
                attentions.append(att.detach().view(B, H, Tn, Tn))
            y = gpt2_torch._Mix.apply(att, v.contiguous()).view(B, H, Tn, hd)
            x = x + y.transpose(1, 2).reshape(B, Tn, d) @ self.p(p + "attn_output.weight").T
            h = rmsnorm(x, self.p(p + "ffn_norm.weight"), c["eps"])
            g = F.silu(h @ self.p(p + "ffn_gate.weight").T) * (h @ self.p(p + "ffn_up.weight").T)
            x = x + g @ self.p(p + "ffn_down.weight").T
        x = rmsnorm(x, self.p("output_norm.weight"), c["eps"])
        logits = x @ self.p("token_embd.weight").T
        return (logits, attentions) if return_attention else logits

    def state(self):
        """float32 tensors keyed by GGUF name, in file order."""
        return {k: self.p(k).detach().to(torch.float32).contiguous().clone()
                for k in self.shapes}

    def load_state(self, W):
        with torch.no_grad():
            for k in self.shapes:
                self.p(k).copy_(W[k])


# ----------------------------------------------------------------- GGUF ---

def write_gguf(path, W, c, vocab, name):
    w = GgufWriter(version=3)
    w.add("general.architecture", T.STRING, "llama")
    w.add("general.name", T.STRING, name)
    w.add("llama.block_count", T.UINT32, c["n_layer"])
    w.add("llama.context_length", T.UINT32, c["context"])
    w.add("llama.embedding_length", T.UINT32, c["dim"])
    w.add("llama.feed_forward_length", T.UINT32, c["hidden"])
    w.add("llama.attention.head_count", T.UINT32, c["n_head"])
    w.add("llama.attention.head_count_kv", T.UINT32, c["n_kv_head"])
    w.add("llama.attention.layer_norm_rms_epsilon", T.FLOAT32, c["eps"])
    w.add("llama.rope.freq_base", T.FLOAT32, c["theta"])
    w.add("llama.rope.dimension_count", T.UINT32, c["dim"] // c["n_head"])
    w.add("llama.vocab_size", T.UINT32, c["vocab_size"])
    w.add("tokenizer.ggml.model", T.STRING, vocab["model"])
    w.add("tokenizer.ggml.tokens", T.ARRAY, Array(T.STRING, vocab["tokens"]))
    w.add("tokenizer.ggml.scores", T.ARRAY, Array(T.FLOAT32, vocab["scores"]))
    w.add("tokenizer.ggml.token_type", T.ARRAY, Array(T.INT32, vocab["types"]))
    w.add("tokenizer.ggml.bos_token_id", T.UINT32, vocab["bos"])
    w.add("tokenizer.ggml.eos_token_id", T.UINT32, vocab["eos"])
    w.add("tokenizer.ggml.add_bos_token", T.BOOL, vocab["add_bos"])
    for k, t in W.items():
        a = t.detach().to(torch.float32).numpy().astype("<f4")
        w.add_tensor(k, GGML.F32, list(reversed(a.shape)), a)
    w.write(path)


def _read_value(b, o, vtype):
    """One metadata value of the types write_gguf uses; returns (value, next offset)."""
    scalars = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}
    if vtype in scalars:
        fmt = scalars[vtype]
        return struct.unpack_from(fmt, b, o)[0], o + struct.calcsize(fmt)
    if vtype == 8:
        n = struct.unpack_from("<Q", b, o)[0]
        return b[o + 8:o + 8 + n].decode("utf-8"), o + 8 + n
    if vtype == 9:
        et, n = struct.unpack_from("<IQ", b, o)
        o += 12
        out = []
        for _ in range(n):
            v, o = _read_value(b, o, et)
            out.append(v)
        return out, o
    raise ValueError("metadata type %d" % vtype)


def read_gguf(path):
    """(metadata dict, {name: float32 tensor}) of an F32 GGUF as write_gguf writes it."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:4] == b"GGUF", path
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", b, 4)
    o, meta = 24, {}
    for _ in range(n_kv):
        n = struct.unpack_from("<Q", b, o)[0]
        key = b[o + 8:o + 8 + n].decode()
        o += 8 + n
        vtype = struct.unpack_from("<I", b, o)[0]
        meta[key], o = _read_value(b, o + 4, vtype)
    infos = []
    for _ in range(n_tensors):
        n = struct.unpack_from("<Q", b, o)[0]
        name = b[o + 8:o + 8 + n].decode()
        o += 8 + n
        nd = struct.unpack_from("<I", b, o)[0]
        dims = struct.unpack_from("<%dQ" % nd, b, o + 4)
        ttype, off = struct.unpack_from("<IQ", b, o + 4 + 8 * nd)
        assert ttype == 0, "%s: only F32 is read here" % name
        o += 4 + 8 * nd + 12
        infos.append((name, dims, off))
    align = meta.get("general.alignment", 32)
    base = (o + align - 1) // align * align
    tensors = {}
    for name, dims, off in infos:
        count = int(np.prod(dims))
        a = np.frombuffer(b, "<f4", count, base + off).reshape(tuple(reversed(dims)))
        tensors[name] = torch.from_numpy(a.copy())
    return meta, tensors


def config_from_meta(meta):
    return config(meta["llama.block_count"], meta["llama.attention.head_count"],
                  meta["llama.attention.head_count_kv"], meta["llama.embedding_length"],
                  meta["llama.feed_forward_length"], len(meta["tokenizer.ggml.tokens"]),
                  meta["llama.context_length"], meta["llama.rope.freq_base"],
                  meta["llama.attention.layer_norm_rms_epsilon"])
