#!/usr/bin/python3
"""Regenerate kvscope's Hugging Face Llama folder fixture (tests/reference/hf_llama/): the weights
of tests/reference/gguf/llama_f32.gguf in a Hugging Face Llama folder, as the transformers
library lays one out:

  config.json                       model_type llama, its sizes, rms_norm_eps, rope_theta,
                                    tie_word_embeddings
  model-00001-of-00002.safetensors  the tensors under Hugging Face's names, float32, split in two
  model-00002-of-00002.safetensors  shards, with
  model.safetensors.index.json      the weight_map naming each tensor's shard
  tokenizer.json                    the same 320-piece vocabulary as a SentencePiece-style BPE
                                    with byte fallback (Llama 2's layout of the file)

Hugging Face's conversion permutes the rows of the Q and K projections so that rotating the
first half of each head with the second half (its layout) equals rotating adjacent pairs on the
original rows (Meta's layout, kept by GGUF). This script applies that permutation, so the
folder must give exactly the logits recorded for llama_f32.gguf: core.hf_llama checks it, which
pins the halves pairing and the name table end to end.

    /usr/bin/python3 tests/reference/make_hf_llama_reference.py
"""

import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_gguf_reference as gg  # noqa: E402
import make_llama_reference as ref  # noqa: E402

OUT = os.path.join(HERE, "hf_llama")
SPEC = gg.MODELS["llama_f32"]


def to_halves(w, heads):
    """Meta's interleaved rows (pairs 2i, 2i+1 of each head) -> Hugging Face's (i, i + hd/2)."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


HF_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}


def hf_tensors(w):
    out = {"model.embed_tokens.weight": w["token_embd.weight"],
           "model.norm.weight": w["output_norm.weight"]}
    for l in range(SPEC["layers"]):
        for kind, hf in HF_NAMES.items():
            t = w["blk.%d.%s.weight" % (l, kind)]
            if kind == "attn_q":
                t = to_halves(t, SPEC["heads"])
            if kind == "attn_k":
                t = to_halves(t, SPEC["kv_heads"])
            out["model.layers.%d.%s.weight" % (l, hf)] = t
    return out


def write_safetensors(path, tensors):
    header, data, at = {}, b"", 0
    for name, t in tensors.items():
        raw = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        data += raw
        at += len(raw)
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + data)


def learned_merges():
    """The merges ref.train_pieces learns, in order, as (left, right) pieces."""
    words = {}
    for line in ref.CORPUS.split("\n"):
        for w in line.split(" "):
            if w:
                key = tuple(" " + w)
                words[key] = words.get(key, 0) + 1
    known = {c for w in words for c in w}
    merges = []
    vocab = ref.build_vocab()
    n_learned = len(vocab) - 259 - len(known)
    while len(merges) < n_learned:
        counts = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + n
        cands = [(n, a + b, (a, b)) for (a, b), n in counts.items() if a + b not in known]
        best = max(cands, key=lambda c: (c[0], [-ord(ch) for ch in c[1]]))
        (a, b), merged = best[2], best[1]
        merges.append((a, b))
        known.add(merged)
        new = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged); i += 2
                else:
                    out.append(w[i]); i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + n
        words = new
    return merges


def tokenizer_json():
    v = gg.llama_vocab()
    sp = lambda s: s.replace(" ", "\u2581")  # noqa: E731
    vocab = {piece: i for i, piece in enumerate(v["tokens"])}
    merges = [sp(a) + " " + sp(b) for a, b in learned_merges()]
    for m in merges:
        a, b = m.split(" ")
        assert a in vocab and b in vocab and a + b in vocab, m
    special = lambda i, s: {"id": i, "content": s, "single_word": False, "lstrip": False,  # noqa
                            "rstrip": False, "normalized": False, "special": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "vocab": vocab, "merges": merges},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = hf_tensors(gg.make_weights(SPEC))
    names = sorted(tensors)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for k, part in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (k + 1, len(shards))
        write_safetensors(os.path.join(OUT, fname), {n: tensors[n] for n in part})
        weight_map.update({n: fname for n in part})
    total = sum(t.size * 4 for t in tensors.values())
    with open(os.path.join(OUT, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": SPEC["dim"], "intermediate_size": SPEC["hidden"],
        "num_hidden_layers": SPEC["layers"], "num_attention_heads": SPEC["heads"],
        "num_key_value_heads": SPEC["kv_heads"], "max_position_embeddings": gg.CONTEXT,
        "vocab_size": gg.VOCAB, "rms_norm_eps": SPEC["eps"], "rope_theta": SPEC["theta"],
        "rope_scaling": None, "tie_word_embeddings": SPEC["tied"], "hidden_act": "silu",
        "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False)
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
