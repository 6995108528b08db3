#!/usr/bin/python3
"""Write an embedded model's C++ test fixture (tests/default_model/expected.json for the GPT-2,
llama_expected.json for the Llama): greedy ids computed by the plain float64 torch forward.

It reads the files the C++ app reads (the GPT-2's config.json, model.safetensors, vocab.json and
merges.txt; the Llama's model.gguf), never the in-memory training model, so an export bug shows
up as a mismatch here rather than being baked into the expectation.

    /usr/bin/python3 resources/model/make_fixture.py --arch gpt2 \
        --model resources/model/default --out tests/default_model/expected.json
    /usr/bin/python3 resources/model/make_fixture.py --arch llama \
        --model resources/model/llama --out tests/default_model/llama_expected.json
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
import gpt2_torch  # noqa: E402
import llama_torch  # noqa: E402
import sp_tokenizer  # noqa: E402

N_NEW = 64
# Tried in order; the first whose 64 greedy steps all have a top-1 / top-2
# gap above MIN_MARGIN wins, so float32 rounding in the C++ engine cannot
# flip an argmax.  A continuation stuck in a short loop ("Pripripri...")
# would hardly exercise attention over the context, so it must also use at
# least MIN_DISTINCT different ids.
PROMPTS = [
    "Mia had a friend named Zorbek. Zorbek was a kind bear.",
    "Once upon a time, there was a little fox named Pip.",
    "One day, Tom went to the park.",
    "Once upon a time, there was a brave girl named Lily.",
    "There once was a robot named Kex. Kex was very curious.",
    "Ben and Ivy went to the beach.",
]
MIN_MARGIN = 1e-3
MIN_DISTINCT = 24


class Gpt2:
    def __init__(self, directory):
        self.config = gpt2_torch.load_config(directory)
        self.W = gpt2_torch.load_weights(directory)
        self.tok = bpe_train.Tokenizer.load(directory)

    def prompt_ids(self, text):
        return self.tok.encode(text)

    def greedy(self, ids):
        gen, _, margins = gpt2_torch.greedy(self.W, ids, N_NEW, self.config)
        return gen, margins


class Llama:
    """The GGUF file's weights and configuration; the prompt as the engine encodes it (<s>, then
    SentencePiece with the dummy space)."""

    def __init__(self, directory):
        meta, self.W = llama_torch.read_gguf(os.path.join(directory, "model.gguf"))
        self.config = llama_torch.config_from_meta(meta)
        self.tok = sp_tokenizer.Tokenizer(directory)

    def prompt_ids(self, text):
        return [self.tok.bos] + self.tok.encode(text)

    def greedy(self, ids):
        ids, gen, margins = list(ids), [], []
        for _ in range(N_NEW):
            last = llama_torch.forward_full(self.W, ids, self.config)[-1]
            top = torch.topk(last, 2).values
            margins.append(float(top[0] - top[1]))
            nxt = int(torch.argmax(last))
            gen.append(nxt)
            ids.append(nxt)
        return gen, margins


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)

    model = (Gpt2 if args.arch == "gpt2" else Llama)(args.model)
    summary = {}
    for name in ("training_summary.json", "finetune_summary.json"):
        path = os.path.join(args.model, name)
        if os.path.exists(path):
            with open(path) as f:
                later = json.load(f)
            if name == "finetune_summary.json":
                # The fine-tune changed the weights: train.py's training loss no longer
                # describes them, its validation loss replaces train.py's.
                summary.pop("train_loss", None)
            summary.update(later)

    chosen = None
    for text in PROMPTS:
        ids = model.prompt_ids(text)
        gen, margins = model.greedy(ids)
        print("min margin %.5f  %r -> %r" % (min(margins), text, model.tok.decode(gen)))
        if min(margins) > MIN_MARGIN and len(set(gen)) >= MIN_DISTINCT:
            chosen = (text, ids, gen, min(margins))
            break
    if chosen is None:
        sys.exit("no prompt has all greedy margins above %g and %d distinct ids"
                 % (MIN_MARGIN, MIN_DISTINCT))

    text, ids, gen, margin = chosen
    expected = {
        "model_dir": os.path.relpath(os.path.abspath(args.model),
                                     os.path.dirname(os.path.dirname(HERE))),
        "reference": "float64 torch forward over the exported F32 weights",
        "prompt": text,
        "prompt_ids": ids,
        "n_new": N_NEW,
        "greedy_ids": gen,
        "greedy_text": model.tok.decode(gen),
        "min_margin": float("%.6g" % margin),
        "distinct_greedy_ids": len(set(gen)),
        "val_loss_nats_per_token": summary.get("val_loss"),
        "train_loss_nats_per_token": summary.get("train_loss"),
        "unigram_entropy_nats_per_token": summary.get("unigram_entropy"),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        # One key per line with id lists kept on one line: readable diffs.
        f.write("{\n" + ",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v, ensure_ascii=False))
                                    for k, v in expected.items()) + "\n}\n")
    print("chose %r (min margin %.5f) -> %s" % (text, margin, args.out))


if __name__ == "__main__":
    main()
