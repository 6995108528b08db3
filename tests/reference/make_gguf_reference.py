#!/usr/bin/python3
"""Regenerate kvscope's GGUF reference fixture: small random Llama and Qwen2 models written as GGUF
by the project's own writer (tests/formats/gguf_writer.py), their weights in every ggml type
kvscope reads (quantized by tests/tensor/ggml_quants.py, numpy written from the format
definitions), and a float64 PyTorch forward over the dequantized weights.

    /usr/bin/python3 tests/reference/make_gguf_reference.py [--all-types DIR]

Committed fixture (tests/reference/gguf/, see README.md there):
  llama_mixed.gguf  Llama, grouped-query (4 query heads, 2 KV heads), 2 layers, dim 256: its 18
                    weight matrices cycle through all 13 types (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0
                    Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K), so one small file exercises every kernel;
  llama_f32.gguf    a smaller Llama (dim 64, 8 heads, 2 KV heads) all in F32, for greedy ids;
  llama_q8_0.gguf   the same weights in Q8_0 (the same model in two precisions);
  qwen2_mixed.gguf  Qwen2: Q, K and V biases, rotation of the first half with the second half,
                    one KV head, tied classifier, rope base 1e6, byte-level BPE vocabulary with
                    tokenizer.ggml.pre = qwen2; matrices in Q4_K, Q6_K, Q8_0 and F16;
  gpt2_mixed.gguf   GPT-2 as llama.cpp's converter writes it (attn_qkv (out, in), biases, learned
                    positions, tied classifier, tokenizer.ggml.pre = gpt-2); Q8_0, Q5_K, Q4_0,
                    F16 and Q6_K matrices;
  expected.json     per model: the sequence, the last position's logits after every prefix, greedy
                    ids from the prompt (float64 over the dequantized weights).
--all-types DIR also writes the Llama, the Qwen2 and the GPT-2 once per type (every matrix in
that type) into DIR, not committed (39 files, ~40 MB), with their expectations in
DIR/expected.json (the same layout as ours); KVSCOPE_GGUF_REFERENCE_DIR=DIR points
core.gguf_reference's float-activation test at them.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "formats"))
sys.path.insert(0, os.path.join(ROOT, "tests", "tensor"))
sys.path.insert(0, HERE)
import ggml_quants as gq  # noqa: E402
from gguf_writer import GGML, Array, GgufWriter, T  # noqa: E402
import make_llama_reference as ref  # noqa: E402  (its vocabulary and tokenizer trainer)

OUT = os.path.join(HERE, "gguf")
ALL_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
             "Q4_K", "Q5_K", "Q6_K"]
SEQUENCE_LEN = 16
N_GREEDY = 24
CONTEXT = 128

MODELS = {
    "llama_mixed": dict(arch="llama", dim=256, hidden=256, layers=2, heads=4, kv_heads=2,
                        tied=False, theta=10000.0, eps=1e-5, seed=7, types=ALL_TYPES),
    "llama_f32": dict(arch="llama", dim=64, hidden=96, layers=2, heads=8, kv_heads=2,
                      tied=True, theta=10000.0, eps=1e-5, seed=11, types=["F32"]),
    # llama_f32's weights in Q8_0: the same model in two precisions, as the window compares them.
    "llama_q8_0": dict(arch="llama", dim=64, hidden=96, layers=2, heads=8, kv_heads=2,
                       tied=True, theta=10000.0, eps=1e-5, seed=11, types=["Q8_0"]),
    "qwen2_mixed": dict(arch="qwen2", dim=256, hidden=256, layers=1, heads=4, kv_heads=1,
                        tied=True, theta=1000000.0, eps=1e-6, seed=5,
                        types=["Q4_K", "Q6_K", "Q8_0", "F16"]),
    "gpt2_mixed": dict(arch="gpt2", dim=256, hidden=512, layers=2, heads=4, kv_heads=4,
                       tied=True, theta=None, eps=1e-5, seed=3,
                       types=["Q8_0", "Q5_K", "Q4_0", "F16", "Q6_K"]),
}


# ------------------------------------------------------------ vocabularies ---

def llama_vocab():
    """The llama2.c reference vocabulary (320 pieces) in GGUF's spelling: U+2581 for a space,
    token types 2 (unknown), 3 (control), 6 (byte) and 1 (normal)."""
    pieces, scores, types = [], [], []
    for i, (piece, score) in enumerate(ref.build_vocab()):
        if i == 0:
            pieces.append("<unk>"); types.append(2)
        elif i in (1, 2):
            pieces.append("<s>" if i == 1 else "</s>"); types.append(3)
        elif piece.startswith(b"<0x"):
            pieces.append(piece.decode()); types.append(6)
        else:
            pieces.append(piece.decode().replace(" ", "\u2581")); types.append(1)
        scores.append(score)
    return dict(model="llama", tokens=pieces, scores=scores, types=types, bos=1, eos=2)


def byte_alphabet():
    """GPT-2's byte -> printable character table."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def byte_level_vocab(size=320):
    """256 byte tokens, then merges learned greedily on the story corpus (words keep their
    leading space as GPT-2's pre-tokenizer does), ties broken by the pair's text; an
    <|endoftext|> control token last."""
    alpha = byte_alphabet()
    tokens = [alpha[b] for b in range(256)]
    words = {}
    for line in ref.CORPUS.split("\n"):
        for k, w in enumerate(line.split(" ")):
            if w:
                text = ("" if k == 0 else " ") + w
                key = tuple(alpha[b] for b in text.encode())
                words[key] = words.get(key, 0) + 1
    merges = []
    while len(tokens) < size - 1:
        counts = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + n
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0][0] + kv[0][1]]))
        merges.append(a + " " + b)
        tokens.append(a + b)
        new = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == (a, b):
                    out.append(a + b); i += 2
                else:
                    out.append(w[i]); i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + n
        words = new
    tokens.append("<|endoftext|>")
    types = [1] * (len(tokens) - 1) + [3]
    return dict(model="gpt2", pre="qwen2", tokens=tokens, merges=merges, types=types,
                eos=len(tokens) - 1, bos=len(tokens) - 1, add_bos=False)


# ----------------------------------------------------------------- weights ---

def tensor_shapes(s):
    """(name, rows, cols) of every weight matrix, and the vectors (name, length)."""
    if s["arch"] == "gpt2":
        return gpt2_shapes(s)
    d, h = s["dim"], s["hidden"]
    kv = d // s["heads"] * s["kv_heads"]
    mats, vecs = [("token_embd.weight", VOCAB, d)], []
    for l in range(s["layers"]):
        p = "blk.%d." % l
        mats += [(p + "attn_q.weight", d, d), (p + "attn_k.weight", kv, d),
                 (p + "attn_v.weight", kv, d), (p + "attn_output.weight", d, d),
                 (p + "ffn_gate.weight", h, d), (p + "ffn_up.weight", h, d),
                 (p + "ffn_down.weight", d, h)]
        vecs += [(p + "attn_norm.weight", d), (p + "ffn_norm.weight", d)]
        if s["arch"] == "qwen2":
            vecs += [(p + "attn_q.bias", d), (p + "attn_k.bias", kv), (p + "attn_v.bias", kv)]
    vecs.append(("output_norm.weight", s["dim"]))
    if not s["tied"]:
        mats.append(("output.weight", VOCAB, d))
    return mats, vecs


def gpt2_shapes(s):
    """GPT-2 in GGUF's names: Q, K and V as one (3d, d) product, every product and norm with a
    bias, learned positions; matrices (out, in) as llama.cpp's converter writes them."""
    d, h = s["dim"], s["hidden"]
    mats = [("token_embd.weight", VOCAB, d), ("position_embd.weight", CONTEXT, d)]
    vecs = []
    for l in range(s["layers"]):
        p = "blk.%d." % l
        mats += [(p + "attn_qkv.weight", 3 * d, d), (p + "attn_output.weight", d, d),
                 (p + "ffn_up.weight", h, d), (p + "ffn_down.weight", d, h)]
        vecs += [(p + "attn_qkv.bias", 3 * d), (p + "attn_output.bias", d),
                 (p + "ffn_up.bias", h), (p + "ffn_down.bias", d)]
        for norm in ("attn_norm", "ffn_norm"):
            vecs += [(p + norm + ".weight", d), (p + norm + ".bias", d)]
    vecs += [("output_norm.weight", d), ("output_norm.bias", d)]
    return mats, vecs


def make_weights(s):
    rng = np.random.default_rng(s["seed"])
    mats, vecs = tensor_shapes(s)
    w = {}
    for name, rows, cols in mats:
        # Classifier rows of norm ~3 give logits of a real model's spread (std ~3), so that
        # 1e-4 is float32's error and not a fraction of a huge logit.
        classifier = name == "output.weight" or (s["tied"] and name == "token_embd.weight")
        std = 3.0 / math.sqrt(cols) if classifier else \
            0.3 if name == "position_embd.weight" else \
            ref.EMB_STD if name == "token_embd.weight" else ref.MATRIX_GAIN / math.sqrt(cols)
        w[name] = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
    for name, n in vecs:
        if name.endswith(".bias"):
            w[name] = (rng.standard_normal(n) * (0.1 if s["arch"] == "gpt2" else 0.5)).astype(
                np.float32)
        else:
            w[name] = (1.0 + rng.standard_normal(n) * ref.NORM_STD).astype(np.float32)
    return w


def assign_types(s, types):
    """Matrix name -> type: cycling through `types` in file order (GPT-2's position table stays
    F32: llama.cpp keeps it so, and the engine reads it as float)."""
    mats, _ = tensor_shapes(s)
    mats = [m for m in mats if m[0] != "position_embd.weight"]
    return {name: types[i % len(types)] for i, (name, _, _) in enumerate(mats)}


def stored(w, assigned):
    """Each matrix as the bytes of its type and as the float32 values those bytes mean."""
    raw, values = {}, {}
    for name, x in w.items():
        t = assigned.get(name, "F32")
        raw[name] = (t, gq.quantize(t, x))
        values[name] = gq.dequantize(t, raw[name][1], x.size).reshape(x.shape)
    return raw, values


# ----------------------------------------------------------------- forward ---

def rotate(x, angles, halves):
    cos = torch.from_numpy(np.cos(angles))[:, None, :]
    sin = torch.from_numpy(np.sin(angles))[:, None, :]
    if halves:
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def forward(W, s, ids):
    """Causal float64 forward over the whole sequence; logits (T, vocab)."""
    W = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in W.items()}
    d, nh, nkv = s["dim"], s["heads"], s["kv_heads"]
    hd, n = d // nh, len(ids)
    i = np.arange(hd // 2, dtype=np.float64)
    angles = np.outer(np.arange(n, dtype=np.float64), s["theta"] ** (-2.0 * i / hd))
    halves = s["arch"] == "qwen2"

    def norm(x, g):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + s["eps"]) * g

    x = W["token_embd.weight"][torch.tensor(ids)]
    mask = torch.triu(torch.full((n, n), float("-inf"), dtype=torch.float64), 1)
    for l in range(s["layers"]):
        p = "blk.%d." % l
        h = norm(x, W[p + "attn_norm.weight"])

        def proj(what):
            y = h @ W[p + what + ".weight"].T
            return y + W[p + what + ".bias"] if (p + what + ".bias") in W else y

        q = rotate(proj("attn_q").view(n, nh, hd), angles, halves)
        k = rotate(proj("attn_k").view(n, nkv, hd), angles, halves)
        v = proj("attn_v").view(n, nkv, hd)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.softmax(torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask, dim=-1)
        x = x + torch.einsum("hts,shd->thd", att, v).reshape(n, d) @ W[p + "attn_output.weight"].T
        h = norm(x, W[p + "ffn_norm.weight"])
        x = x + (torch.nn.functional.silu(h @ W[p + "ffn_gate.weight"].T) *
                 (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
    x = norm(x, W["output_norm.weight"])
    return x @ W.get("output.weight", W["token_embd.weight"]).T


def forward_gpt2(W, s, ids):
    """GPT-2: LayerNorm, tanh GELU, learned positions, biases everywhere; float64."""
    W = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in W.items()}
    d, nh, n = s["dim"], s["heads"], len(ids)
    hd = d // nh

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + s["eps"]) * W[p + ".weight"] + W[p + ".bias"]

    def lin(x, p):
        return x @ W[p + ".weight"].T + W[p + ".bias"]

    x = W["token_embd.weight"][torch.tensor(ids)] + W["position_embd.weight"][:n]
    mask = torch.triu(torch.full((n, n), float("-inf"), dtype=torch.float64), 1)
    for l in range(s["layers"]):
        p = "blk.%d." % l
        qkv = lin(ln(x, p + "attn_norm"), p + "attn_qkv")
        q, k, v = (qkv[:, i * d:(i + 1) * d].view(n, nh, hd) for i in range(3))
        att = torch.softmax(torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask, dim=-1)
        x = x + lin(torch.einsum("hts,shd->thd", att, v).reshape(n, d), p + "attn_output")
        h = lin(ln(x, p + "ffn_norm"), p + "ffn_up")
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + lin(h, p + "ffn_down")
    return ln(x, "output_norm") @ W["token_embd.weight"].T


def expectations(values, s, sequence, prompt):
    fwd = forward_gpt2 if s["arch"] == "gpt2" else forward
    logits = fwd(values, s, sequence)
    gen, seq, margins = [], list(prompt), []
    for _ in range(N_GREEDY):
        row = fwd(values, s, seq)[-1]
        top = torch.topk(row, 2).values
        margins.append(float(top[0] - top[1]))
        gen.append(int(torch.argmax(row)))
        seq.append(gen[-1])
    return {"sequence": sequence, "logits_last": [[float(v) for v in row] for row in logits],
            "prompt": prompt, "greedy": gen, "min_greedy_margin": min(margins)}


# ----------------------------------------------------------------- writer ---

def write_gguf(path, s, raw, vocab, damage=None):
    a = s["arch"]
    w = GgufWriter(version=3)
    w.add("general.architecture", T.STRING, "falcon" if damage == "unknown_architecture" else a)
    w.add("general.name", T.STRING, os.path.basename(path))
    if damage != "no_block_count":
        w.add(a + ".block_count", T.UINT32, s["layers"])
    w.add(a + ".context_length", T.UINT32, CONTEXT)
    w.add(a + ".embedding_length", T.UINT32, s["dim"])
    w.add(a + ".feed_forward_length", T.UINT32, s["hidden"])
    w.add(a + ".attention.head_count", T.UINT32, s["heads"])
    w.add(a + ".attention.head_count_kv", T.UINT32,
          3 if damage == "kv_heads_not_dividing" else s["kv_heads"])
    if damage == "rope_scaling":
        w.add(a + ".rope.scaling.type", T.STRING, "yarn")
    if a == "gpt2":
        w.add(a + ".attention.layer_norm_epsilon", T.FLOAT32, s["eps"])
    else:
        w.add(a + ".attention.layer_norm_rms_epsilon", T.FLOAT32, s["eps"])
        w.add(a + ".rope.freq_base", T.FLOAT32, s["theta"])
        w.add(a + ".rope.dimension_count", T.UINT32, s["dim"] // s["heads"])
    add_vocabulary(w, vocab)
    for name, (t, data) in raw.items():
        dims = list(reversed(WEIGHTS_SHAPES[name]))  # ne0, the row length, first
        w.add_tensor(name, GGML[t], dims, data)
    w.write(path)


def add_vocabulary(w, vocab):
    w.add("tokenizer.ggml.model", T.STRING, vocab["model"])
    if "pre" in vocab:
        w.add("tokenizer.ggml.pre", T.STRING, vocab["pre"])
    w.add("tokenizer.ggml.tokens", T.ARRAY, Array(T.STRING, vocab["tokens"]))
    if "scores" in vocab:
        w.add("tokenizer.ggml.scores", T.ARRAY, Array(T.FLOAT32, vocab["scores"]))
    w.add("tokenizer.ggml.token_type", T.ARRAY, Array(T.INT32, vocab["types"]))
    if "merges" in vocab:
        w.add("tokenizer.ggml.merges", T.ARRAY, Array(T.STRING, vocab["merges"]))
    w.add("tokenizer.ggml.bos_token_id", T.UINT32, vocab["bos"])
    w.add("tokenizer.ggml.eos_token_id", T.UINT32, vocab["eos"])
    if "add_bos" in vocab:
        w.add("tokenizer.ggml.add_bos_token", T.BOOL, vocab["add_bos"])


WEIGHTS_SHAPES = {}
VOCAB = 320


# Damaged models for core.gguf_reference's battery: a tiny valid Llama (dim 16, one layer), each
# file with one thing wrong that the GGUF reader itself accepts but the model loader must refuse,
# naming the key or tensor (the reader's own battery is core.gguf).
TINY = dict(arch="llama", dim=16, hidden=32, layers=1, heads=2, kv_heads=2, tied=True,
            theta=10000.0, eps=1e-5, seed=2, types=["F32"])
DAMAGES = {
    "no_block_count": "drop llama.block_count",
    "kv_heads_not_dividing": "llama.attention.head_count_kv = 3 with 2 heads",
    "unknown_architecture": "general.architecture = falcon",
    "missing_tensor": "drop blk.0.ffn_up.weight",
    "wrong_shape": "blk.0.attn_q.weight of (16, 8)",
    "rope_scaling": "llama.rope.scaling.type = yarn",
    "unknown_tokenizer": "tokenizer.ggml.model = bert",
    "bad_merge": "a gpt2 vocabulary whose merges name a token it lacks",
}


def write_damaged(vocabs):
    out = os.path.join(OUT, "damaged")
    os.makedirs(out, exist_ok=True)
    s = TINY
    w = make_weights(s)
    WEIGHTS_SHAPES.update({k: v.shape for k, v in w.items()})
    raw, _ = stored(w, assign_types(s, ["F32"]))
    for name in DAMAGES:
        spec, tensors, vocab = dict(s), dict(raw), dict(vocabs["llama"])
        if name == "wrong_shape":
            tensors["blk.0.attn_q.weight"] = ("F32", gq.quantize("F32", w["blk.0.attn_q.weight"][:8]))
            WEIGHTS_SHAPES["blk.0.attn_q.weight"] = (8, 16)
        if name == "missing_tensor":
            del tensors["blk.0.ffn_up.weight"]
        if name == "unknown_tokenizer":
            vocab["model"] = "bert"
        if name == "bad_merge":
            vocab = dict(vocabs["gpt2"], merges=vocabs["gpt2"]["merges"][:5] + ["zzĠ qqĠ"])
        path = os.path.join(out, name + ".gguf")
        write_gguf(path, spec, tensors, vocab, damage=name)
        WEIGHTS_SHAPES["blk.0.attn_q.weight"] = (16, 16)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# Damaged GGUF models\n\nWritten by `../../make_gguf_reference.py`: a tiny valid "
                "Llama (dim 16, one layer, F32) with one fault each, which core.gguf_reference's "
                "damagedModelsAreRefused expects to be refused naming the key or tensor.\n\n")
        for name, what in DAMAGES.items():
            f.write("- `%s.gguf`: %s\n" % (name, what))


def build(name, s, types, out_dir, vocab, sequence, prompt):
    w = make_weights(s)
    WEIGHTS_SHAPES.update({k: v.shape for k, v in w.items()})
    raw, values = stored(w, assign_types(s, types))
    path = os.path.join(out_dir, name + ".gguf")
    write_gguf(path, s, raw, vocab)
    exp = expectations(values, s, sequence, prompt)
    exp["types"] = {k: t for k, (t, _) in raw.items()}
    print("%s: %d bytes, smallest greedy margin %.4f" % (path, os.path.getsize(path),
                                                        exp["min_greedy_margin"]))
    return exp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all-types", metavar="DIR")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    sequence = [int(v) for v in rng.integers(3, VOCAB, SEQUENCE_LEN)]
    sequence[0] = 1  # <s> for the Llama vocabulary; an ordinary byte for Qwen2's
    prompt = sequence[:4]
    gpt2_vocab = dict(byte_level_vocab(VOCAB), pre="gpt-2")
    vocabs = {"llama": llama_vocab(), "qwen2": byte_level_vocab(VOCAB), "gpt2": gpt2_vocab}
    if args.all_types:
        os.makedirs(args.all_types, exist_ok=True)
        out = {}
        for base in ("llama_mixed", "qwen2_mixed", "gpt2_mixed"):
            s = MODELS[base]
            arch = s["arch"]
            for t in ALL_TYPES:
                out[arch + "_" + t] = build(arch + "_" + t, s, [t], args.all_types, vocabs[arch],
                                            sequence, prompt)
        with open(os.path.join(args.all_types, "expected.json"), "w") as f:
            json.dump(out, f)
        return
    os.makedirs(OUT, exist_ok=True)
    out = {name: build(name, s, s["types"], OUT, vocabs[s["arch"]], sequence, prompt)
           for name, s in MODELS.items()}
    write_damaged(vocabs)
    # The vocabulary alone (no tensors), as llama.cpp ships its ggml-vocab-*.gguf files.
    w = GgufWriter(version=3)
    w.add("general.architecture", T.STRING, "llama")
    add_vocabulary(w, vocabs["llama"])
    w.write(os.path.join(OUT, "llama_vocab_only.gguf"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", os.path.join(OUT, "expected.json"))


if __name__ == "__main__":
    main()
