#!/usr/bin/python3
"""Regenerate kvscope's Llama reference fixture: two tiny random Llama models in llama2.c's
checkpoint formats, a tokenizer.bin, and their exact float64 outputs.

Run with Debian's python3 (it has python3-torch and python3-numpy):
    /usr/bin/python3 tests/reference/make_llama_reference.py [--check-runc DIR]
Torch is only used here, offline; the C++ app never depends on it. With --check-runc, DIR holds
what llama2.c's run.c printed for each legacy model (<model>.txt, see README.md) and the script
asserts that it is exactly the text of the reference's greedy ids.
See llama/README.md for the layout of the outputs.
"""

import argparse
import hashlib
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "llama")

# Both models share one vocabulary, so one tokenizer.bin sits beside all four checkpoints.
VOCAB_SIZE = 320
SEQ_LEN = 256
# The two attention layouts llama2.c's header can describe besides plain multi-head:
# grouped-query (4 query heads per KV head, tied classifier) and multi-query (one KV head,
# separate classifier, i.e. a negative vocab_size in the legacy header). head_dim 4 and 8; the
# hidden sizes are not multiples of 8 so vectorised kernels run their tails.
MODELS = {
    "gqa": dict(dim=32, hidden_dim=76, n_layers=2, n_heads=8, n_kv_heads=2, tied=True, seed=31),
    "mqa": dict(dim=32, hidden_dim=52, n_layers=2, n_heads=4, n_kv_heads=1, tied=False, seed=26),
}
# llama2.c's constants: RMSNorm epsilon and the RoPE base.
NORM_EPS = 1e-5
ROPE_THETA = 10000.0
# Random models with small weights are dominated by the (tied) embedding and repeat the last
# token forever, which would let a broken KV cache pass; wider matrices make attention over the
# context matter. Seeds were picked for greedy margins well above float32 error and for greedy
# runs that never produce <s> (run.c stops there) or </s>.
EMB_STD = 0.6
MATRIX_GAIN = 1.6  # std = gain / sqrt(fan_in)
NORM_STD = 0.1     # norm gains 1 + N(0, NORM_STD), so a loader that drops them is caught
PROMPT = "Once upon a time"
# The fixed sequence whose logits are recorded at every position.
SEQUENCE_TEXT = "Once upon a time, there was a little girl."
N_NEW = 200
# Greedy steps whose full logit vectors are recorded (early, middle and the last one).
LOGGED_STEPS = [0, 1, 2, 100, 199]

# Stories in the style llama2.c's models are trained on; only the tokenizer is trained on it.
CORPUS = """Once upon a time, there was a little girl named Lily. She liked to play in the park.
Once upon a time, there was a big red ball. Lily ran to the ball and kicked it up in the sky.
Once upon a time, there was a little boy named Tom. Tom had a dog. The dog liked to run.
Once upon a time, Lily and Tom were friends. They played in the park every day.
Once upon a time, a cat lived in a small house. The cat was sad because it had no friends.
Once upon a time, the cat met a bird. The bird said, "Hello, cat! Do you want to play?"
Once upon a time, they played all day and then went home. The end."""


# ------------------------------------------------------------- tokenizer ---

class Lcg:
    """64-bit LCG for anything that must not depend on Python's or torch's generators."""

    def __init__(self, seed):
        self.x = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return self.x >> 33


def train_pieces(corpus, n_pieces):
    """SentencePiece-style BPE over words that keep their leading space: the single characters
    of the corpus, then merges in order of frequency (ties broken by the pair's text) until there
    are n_pieces. Returns [(piece, score)], merges scoring higher the earlier they were learned."""
    words = {}
    for line in corpus.split("\n"):
        for w in line.split(" "):
            if w:
                key = tuple(" " + w)
                words[key] = words.get(key, 0) + 1
    chars = sorted({c for w in words for c in w})
    pieces = [(c, -1000.0 - i) for i, c in enumerate(chars)]
    known = set(chars)
    rank = 0
    while len(pieces) < n_pieces:
        counts = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + n
        candidates = [(n, a + b, (a, b)) for (a, b), n in counts.items() if a + b not in known]
        if not candidates:
            raise SystemExit("corpus too small for %d pieces" % n_pieces)
        best = max(candidates, key=lambda c: (c[0], [-ord(ch) for ch in c[1]]))
        (a, b), merged = best[2], best[1]
        pieces.append((merged, -float(rank)))
        known.add(merged)
        rank += 1
        new_words = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    return pieces


def build_vocab():
    """llama2.c's id layout: <unk>, <s>, </s> (spelled as run.c's real tokenizer.bin spells
    them), the 256 byte pieces <0x00>..<0xFF> (id = byte + 3), then the learned pieces."""
    vocab = [(b"<unk>", 0.0), (b"\n<s>\n", 0.0), (b"\n</s>\n", 0.0)]
    vocab += [(("<0x%02X>" % b).encode(), 0.0) for b in range(256)]
    vocab += [(p.encode(), s) for p, s in train_pieces(CORPUS, VOCAB_SIZE - len(vocab))]
    assert len(vocab) == VOCAB_SIZE and len({p for p, _ in vocab}) == VOCAB_SIZE
    return vocab


def write_tokenizer(path, vocab):
    """tokenizer.bin: uint32 max_token_length, then per id float32 score, int32 length, bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(p) for p, _ in vocab)))
        for piece, score in vocab:
            f.write(struct.pack("<fi", score, len(piece)))
            f.write(piece)


def read_tokenizer(path, n):
    with open(path, "rb") as f:
        data = f.read()
    at, out = 4, []
    for _ in range(n):
        score, length = struct.unpack_from("<fi", data, at)
        at += 8
        out.append((data[at:at + length], score))
        at += length
    assert at == len(data)
    return out


def encode(vocab, text):
    """The algorithm run.c's encode() documents: <s>, a dummy-prefix " " piece, one piece per
    UTF-8 code point (its bytes + 3 when it is not a piece), then repeatedly merge the adjacent
    pair whose concatenation is the highest-scoring piece (the leftmost on ties)."""
    index = {p: i for i, (p, _) in enumerate(vocab)}
    ids = [1]
    if text:
        ids.append(index[b" "])
    for ch in text:
        b = ch.encode("utf-8")
        ids += [index[b]] if b in index else [x + 3 for x in b]
    while True:
        best, where = None, -1
        for i in range(len(ids) - 1):
            j = index.get(vocab[ids[i]][0] + vocab[ids[i + 1]][0])
            if j is not None and (best is None or vocab[j][1] > vocab[best][1]):
                best, where = j, i
        if best is None:
            return ids
        ids[where:where + 2] = [best]


def runc_text(vocab, ids, steps):
    """The bytes run.c's generate() prints for a run of `steps` positions over `ids` (which
    start with <s>): a piece per position; after <s> a leading space is dropped; <0xNN> pieces
    print their byte, single bytes that are neither printable nor space print nothing; a newline
    at the end. Stops before printing when the next id is <s>."""
    out = b""
    for pos in range(min(steps, len(ids) - 1)):
        prev, nxt = ids[pos], ids[pos + 1]
        if nxt == 1:
            break
        piece = vocab[nxt][0]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            piece = bytes([int(piece[3:5], 16)])
        if len(piece) == 1 and not (32 <= piece[0] < 127 or piece[0] in b" \t\n\v\f\r"):
            continue
        out += piece
    return out + b"\n"


# ----------------------------------------------------------------- model ---

def make_weights(spec):
    """float32 weights in Meta's layout (matrices [out, in]), named like the C++ reader's
    canonical (GGUF) names."""
    torch.manual_seed(spec["seed"])
    d, h, kv = spec["dim"], spec["hidden_dim"], spec["dim"] // spec["n_heads"] * spec["n_kv_heads"]

    def matrix(rows, cols):
        return torch.randn(rows, cols, dtype=torch.float32) * (MATRIX_GAIN / math.sqrt(cols))

    def norm():
        return 1.0 + torch.randn(d, dtype=torch.float32) * NORM_STD

    w = {"token_embd.weight": torch.randn(VOCAB_SIZE, d, dtype=torch.float32) * EMB_STD}
    for l in range(spec["n_layers"]):
        p = "blk.%d." % l
        w[p + "attn_norm.weight"] = norm()
        w[p + "attn_q.weight"] = matrix(d, d)
        w[p + "attn_k.weight"] = matrix(kv, d)
        w[p + "attn_v.weight"] = matrix(kv, d)
        w[p + "attn_output.weight"] = matrix(d, d)
        w[p + "ffn_norm.weight"] = norm()
        w[p + "ffn_gate.weight"] = matrix(h, d)  # w1
        w[p + "ffn_down.weight"] = matrix(d, h)  # w2
        w[p + "ffn_up.weight"] = matrix(h, d)    # w3
    w["output_norm.weight"] = norm()
    if not spec["tied"]:
        w["output.weight"] = torch.randn(VOCAB_SIZE, d, dtype=torch.float32) * EMB_STD
    return w


def rope_angles(head_dim, positions):
    """angle[pos, i] = pos * theta^(-2i / head_dim) for the pair (2i, 2i + 1)."""
    i = np.arange(head_dim // 2, dtype=np.float64)
    return np.outer(np.arange(positions, dtype=np.float64), ROPE_THETA ** (-2.0 * i / head_dim))


def rotate_adjacent(x, angles):
    """x: (T, heads, head_dim); rotates each adjacent pair (x[2i], x[2i+1]) by angles[t, i]."""
    cos = torch.from_numpy(np.cos(angles)).to(x.dtype)[:, None, :]
    sin = torch.from_numpy(np.sin(angles)).to(x.dtype)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def rmsnorm(x, weight):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + NORM_EPS) * weight


def forward_full(W, spec, ids):
    """Causal float64 forward of the whole sequence; returns logits (T, vocab)."""
    W = {k: v.double() for k, v in W.items()}
    d, nh, nkv = spec["dim"], spec["n_heads"], spec["n_kv_heads"]
    hd, T = d // nh, len(ids)
    angles = rope_angles(hd, T)
    x = W["token_embd.weight"][torch.tensor(ids)]
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1)
    for l in range(spec["n_layers"]):
        p = "blk.%d." % l
        h = rmsnorm(x, W[p + "attn_norm.weight"])
        q = rotate_adjacent((h @ W[p + "attn_q.weight"].T).view(T, nh, hd), angles)
        k = rotate_adjacent((h @ W[p + "attn_k.weight"].T).view(T, nkv, hd), angles)
        v = (h @ W[p + "attn_v.weight"].T).view(T, nkv, hd)
        # Query head j reads KV head j // (nh / nkv).
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        att = torch.softmax(scores, dim=-1)
        out = torch.einsum("hts,shd->thd", att, v).reshape(T, d)
        x = x + out @ W[p + "attn_output.weight"].T
        h = rmsnorm(x, W[p + "ffn_norm.weight"])
        gate = h @ W[p + "ffn_gate.weight"].T
        x = x + (torch.nn.functional.silu(gate) * (h @ W[p + "ffn_up.weight"].T)) \
            @ W[p + "ffn_down.weight"].T
    x = rmsnorm(x, W["output_norm.weight"])
    classifier = W["output.weight"] if "output.weight" in W else W["token_embd.weight"]
    return x @ classifier.T


class CachedFloat32:
    """A second decoder, one position at a time in numpy float32 with a K/V cache, as run.c
    computes: it checks the float64 full forward (and that float32 greedy agrees with it)."""

    def __init__(self, W, spec):
        self.W = {k: v.numpy().astype(np.float32) for k, v in W.items()}
        self.s = spec
        self.hd = spec["dim"] // spec["n_heads"]
        self.k = [[] for _ in range(spec["n_layers"])]
        self.v = [[] for _ in range(spec["n_layers"])]

    def norm(self, x, w):
        return (w * (x / np.sqrt(np.mean(x * x) + np.float32(NORM_EPS)))).astype(np.float32)

    def rotate(self, x, pos):
        x = x.reshape(-1, self.hd).copy()
        for i in range(self.hd // 2):
            a = pos * ROPE_THETA ** (-2.0 * i / self.hd)
            c, s = np.float32(math.cos(a)), np.float32(math.sin(a))
            x0, x1 = x[:, 2 * i].copy(), x[:, 2 * i + 1].copy()
            x[:, 2 * i], x[:, 2 * i + 1] = x0 * c - x1 * s, x0 * s + x1 * c
        return x

    def step(self, token):
        W, s, hd = self.W, self.s, self.hd
        nh, nkv = s["n_heads"], s["n_kv_heads"]
        pos = len(self.k[0])
        x = W["token_embd.weight"][token].copy()
        for l in range(s["n_layers"]):
            p = "blk.%d." % l
            h = self.norm(x, W[p + "attn_norm.weight"])
            q = self.rotate(W[p + "attn_q.weight"] @ h, pos)
            self.k[l].append(self.rotate(W[p + "attn_k.weight"] @ h, pos))
            self.v[l].append((W[p + "attn_v.weight"] @ h).reshape(nkv, hd))
            keys, values = np.stack(self.k[l]), np.stack(self.v[l])  # (pos+1, nkv, hd)
            out = np.empty((nh, hd), np.float32)
            for j in range(nh):
                g = j // (nh // nkv)
                sc = keys[:, g, :] @ q[j] / np.float32(math.sqrt(hd))
                e = np.exp(sc - sc.max())
                out[j] = (e / e.sum()) @ values[:, g, :]
            x = x + W[p + "attn_output.weight"] @ out.reshape(-1)
            h = self.norm(x, W[p + "ffn_norm.weight"])
            gate = W[p + "ffn_gate.weight"] @ h
            x = x + W[p + "ffn_down.weight"] @ (gate / (1 + np.exp(-gate)) *
                                                (W[p + "ffn_up.weight"] @ h))
        x = self.norm(x, W["output_norm.weight"])
        return W.get("output.weight", W["token_embd.weight"]) @ x


def greedy(W, spec, prompt_ids, n_new):
    """Greedy continuation with a full float64 forward per step; returns the ids, the logits
    of every step (before choosing generated[k]) and the top-1 minus top-2 margins."""
    seq, gen, logits, margins = list(prompt_ids), [], [], []
    for _ in range(n_new):
        row = forward_full(W, spec, seq)[-1]
        top = torch.topk(row, 2).values
        logits.append(row)
        margins.append(float(top[0] - top[1]))
        gen.append(int(torch.argmax(row)))
        seq.append(gen[-1])
    return gen, logits, margins


# --------------------------------------------------------------- writers ---

def legacy_order(W, spec):
    """Tensor names in legacy file order: each kind stacked over the layers."""
    L = range(spec["n_layers"])
    kinds = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
             "ffn_down", "ffn_up"]
    return ["token_embd.weight"] + ["blk.%d.%s.weight" % (l, k) for k in kinds for l in L] + \
        ["output_norm.weight"]


def v1_order(W, spec):
    L = range(spec["n_layers"])
    norms = ["blk.%d.%s.weight" % (l, k) for k in ("attn_norm", "ffn_norm") for l in L]
    mats = ["blk.%d.%s.weight" % (l, k) for k in ("attn_q", "attn_k", "attn_v", "attn_output",
                                                    "ffn_gate", "ffn_down", "ffn_up") for l in L]
    return norms + ["output_norm.weight", "token_embd.weight"] + mats


def fields(spec, vocab_size):
    return (spec["dim"], spec["hidden_dim"], spec["n_layers"], spec["n_heads"],
            spec["n_kv_heads"], vocab_size, SEQ_LEN)


def f32(t):
    return np.ascontiguousarray(t.numpy(), dtype="<f4").tobytes()


def write_legacy(path, W, spec):
    vocab = VOCAB_SIZE if spec["tied"] else -VOCAB_SIZE
    parts = [struct.pack("<7i", *fields(spec, vocab))]
    parts += [f32(W[n]) for n in legacy_order(W, spec)]
    # The freq_cis tables run.c skips: cos, then sin, (seq_len, head_dim / 2) in float32.
    angles = rope_angles(spec["dim"] // spec["n_heads"], SEQ_LEN)
    parts += [np.cos(angles).astype("<f4").tobytes(), np.sin(angles).astype("<f4").tobytes()]
    if not spec["tied"]:
        parts.append(f32(W["output.weight"]))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def write_v1(path, W, spec):
    header = struct.pack("<Ii7iB", 0x616B3432, 1, *fields(spec, VOCAB_SIZE), int(spec["tied"]))
    parts = [header.ljust(256, b"\0")] + [f32(W[n]) for n in v1_order(W, spec)]
    if not spec["tied"]:
        parts.append(f32(W["output.weight"]))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def read_back(path, spec):
    """Reads either layout with offsets computed from the header alone, as a check of the
    writers (and of the offsets the C++ test expects)."""
    with open(path, "rb") as f:
        data = f.read()
    v1 = data[:4] == b"24ka"
    dim, hidden, layers, heads, kv_heads, vocab, seq = \
        struct.unpack_from("<7i", data, 8 if v1 else 0)
    tied = data[36] == 1 if v1 else vocab > 0
    vocab, hd = abs(vocab), dim // heads
    kv = hd * kv_heads
    shape = {"attn_norm": (dim,), "ffn_norm": (dim,), "attn_q": (dim, dim), "attn_k": (kv, dim),
             "attn_v": (kv, dim), "attn_output": (dim, dim), "ffn_gate": (hidden, dim),
             "ffn_down": (dim, hidden), "ffn_up": (hidden, dim)}
    at = 256 if v1 else 28
    out = {}
    for name in (v1_order if v1 else legacy_order)(None, spec):
        kind = name.split(".")[2] if name.startswith("blk.") else None
        shp = shape[kind] if kind else ((vocab, dim) if name == "token_embd.weight" else (dim,))
        n = int(np.prod(shp))
        out[name] = np.frombuffer(data, "<f4", n, at).reshape(shp)
        at += 4 * n
    if not v1:
        at += 4 * seq * hd
    if not tied:
        out["output.weight"] = np.frombuffer(data, "<f4", vocab * dim, at).reshape(vocab, dim)
        at += 4 * vocab * dim
    assert at == len(data), (path, at, len(data))
    return out


# ------------------------------------------------------------------ json ---

def r7(x):
    return float("%.7g" % x)


def dump_json(obj, path):
    """Indented JSON with number lists kept on one line (as make_reference.py writes)."""
    def enc(o, ind):
        pad, inner = " " * ind, " " * (ind + 1)
        if isinstance(o, dict):
            items = [inner + json.dumps(k, ensure_ascii=False) + ": " + enc(v, ind + 1)
                     for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, list) and o and all(isinstance(v, (dict, list)) for v in o):
            return "[\n" + ",\n".join(inner + enc(v, ind + 1) for v in o) + "\n" + pad + "]"
        return json.dumps(o, ensure_ascii=False, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(enc(obj, 0) + "\n")


# ------------------------------------------------------------------ main ---

def check_float32(W, spec, seq_ids, seq_logits, prompt_ids, gen, gen_logits):
    """Max |float32 cached - float64 full| over the sequence and the greedy run."""
    worst = 0.0
    dec = CachedFloat32(W, spec)
    for t, tok in enumerate(seq_ids):
        worst = max(worst, float(np.abs(dec.step(tok) - seq_logits[t].numpy()).max()))
    dec = CachedFloat32(W, spec)
    ids = list(prompt_ids) + gen
    for t, tok in enumerate(ids[:-1]):
        out = dec.step(tok)
        k = t - (len(prompt_ids) - 1)
        if k >= 0:
            worst = max(worst, float(np.abs(out - gen_logits[k].numpy()).max()))
            assert int(np.argmax(out)) == gen[k], "float32 greedy diverged at step %d" % k
    return worst


def model_entry(name, spec, vocab, check_runc):
    W = make_weights(spec)
    legacy, v1 = name + ".bin", name + "_v1.bin"
    write_legacy(os.path.join(OUT_DIR, legacy), W, spec)
    write_v1(os.path.join(OUT_DIR, v1), W, spec)
    for f in (legacy, v1):
        back = read_back(os.path.join(OUT_DIR, f), spec)
        assert sorted(back) == sorted(W) and all(np.array_equal(back[k], W[k].numpy()) for k in W)

    seq_ids = encode(vocab, SEQUENCE_TEXT)
    seq_logits = forward_full(W, spec, seq_ids)
    prompt_ids = encode(vocab, PROMPT)
    assert len(prompt_ids) + N_NEW <= SEQ_LEN
    gen, gen_logits, margins = greedy(W, spec, prompt_ids, N_NEW)
    # Causality: the last step's logits equal the full forward at that position.
    full = forward_full(W, spec, prompt_ids + gen)
    assert float((full[len(prompt_ids) - 1] - gen_logits[0]).abs().max()) < 1e-12
    worst32 = check_float32(W, spec, seq_ids, seq_logits, prompt_ids, gen, gen_logits)
    assert worst32 < 1e-4, worst32
    assert min(margins) > 1e-3, "greedy step too close to a tie: %g" % min(margins)
    assert 1 not in gen and 2 not in gen, "greedy run produces <s> or </s>"
    assert len(set(gen)) > 20, "greedy run is not varied enough"

    # run.c with -n 200 runs 200 positions: the prompt after <s>, then its own tokens.
    text = runc_text(vocab, prompt_ids + gen, 200)
    if check_runc:
        with open(os.path.join(check_runc, name + ".txt"), "rb") as f:
            printed = f.read()
        assert printed == text, "run.c printed something else for %s:\n%r\n%r" % (
            name, printed, text)
        print("%s: run.c's text equals the reference's greedy text (%d bytes)" % (name, len(text)))

    entry = {
        "legacy": legacy,
        "v1": v1,
        "dim": spec["dim"], "hidden_dim": spec["hidden_dim"], "n_layers": spec["n_layers"],
        "n_heads": spec["n_heads"], "n_kv_heads": spec["n_kv_heads"], "vocab_size": VOCAB_SIZE,
        "seq_len": SEQ_LEN, "tied_classifier": spec["tied"],
        "sequence": {
            "text": SEQUENCE_TEXT,
            "ids": seq_ids,
            "max_abs_logit": r7(float(seq_logits.abs().max())),
            "logits": [[r7(v) for v in row.tolist()] for row in seq_logits],
        },
        "greedy": {
            "prompt": PROMPT,
            "prompt_ids": prompt_ids,
            "n_new": N_NEW,
            "generated": gen,
            "min_margin": r7(min(margins)),
            "logged_steps": LOGGED_STEPS,
            "logits": [[r7(v) for v in gen_logits[k].tolist()] for k in LOGGED_STEPS],
            "runc_text_200_steps": text.decode("utf-8", "backslashreplace"),
        },
        "float32_cached_vs_float64_max_abs_diff": float("%.3g" % worst32),
    }
    return entry, min(margins), worst32


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check-runc", metavar="DIR",
                        help="folder with run.c's output for each legacy model (<name>.txt)")
    args = parser.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    vocab = build_vocab()
    write_tokenizer(os.path.join(OUT_DIR, "tokenizer.bin"), vocab)
    assert read_tokenizer(os.path.join(OUT_DIR, "tokenizer.bin"), VOCAB_SIZE) == \
        [(p, float(np.float32(s))) for p, s in vocab]
    models = {}
    for name, spec in MODELS.items():
        entry, margin, worst32 = model_entry(name, spec, vocab, args.check_runc)
        models[name] = entry
        print("%s: prompt ids %s, min greedy margin %.4g, float32 vs float64 %.3g, %d distinct "
              "generated ids" % (name, entry["greedy"]["prompt_ids"], margin, worst32,
                                 len(set(entry["greedy"]["generated"]))))
    tokenizer_cases = []
    for text in ["Once upon a time", "Lily and Tom", "The cat was happy.", "",
                 "naïve café 🙂", "x  y\tz\n", "Hello, cat! Do you want to play?"]:
        tokenizer_cases.append({"text": text, "ids": encode(vocab, text)})
    expected = {
        "format_version": 1,
        "reference_dtype": "float64",
        "logit_rounding": "7 significant digits",
        "rope": "adjacent pairs (2i, 2i+1) rotated by pos * theta^(-2i/head_dim), theta 10000",
        "norm_eps": NORM_EPS,
        "tokenizer": "tokenizer.bin",
        "sequence_definition": "sequence.logits[t] = logits at position t of one causal forward "
                               "over sequence.ids (which start with <s> = 1)",
        "greedy_definition": "greedy.logits[i] = last-position logits after prompt_ids + "
                             "generated[:logged_steps[i]]; generated[k] = argmax of step k",
        "models": models,
        "tokenizer_cases": tokenizer_cases,
    }
    dump_json(expected, os.path.join(OUT_DIR, "expected.json"))
    total = 0
    for f in sorted(os.listdir(OUT_DIR)):
        p = os.path.join(OUT_DIR, f)
        if f == "README.md":
            continue
        size = os.path.getsize(p)
        total += size
        with open(p, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        print("%9d  %s  %s" % (size, digest[:16], f))
    print("%9d  total" % total)


if __name__ == "__main__":
    main()
