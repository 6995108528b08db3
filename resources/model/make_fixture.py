#!/usr/bin/python3
"""Write tests/default_model/expected.json: greedy ids of the exported default
model, computed by the plain float64 torch forward.

It reads the files the C++ app reads (config.json, model.safetensors,
vocab.json, merges.txt), never the in-memory training model, so an export bug
shows up as a mismatch here rather than being baked into the expectation.

    /usr/bin/python3 resources/model/make_fixture.py \
        --model resources/model/default --out tests/default_model/expected.json
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

N_NEW = 64
# Tried in order; the first whose 64 greedy steps all have a top-1 / top-2
# gap above MIN_MARGIN wins, so float32 rounding in the C++ engine cannot
# flip an argmax.  A continuation stuck in a short loop ("Pripripri...")
# would hardly exercise attention over the context, so it must also use at
# least MIN_DISTINCT different ids.
PROMPTS = [
    "Once upon a time, there was a little fox named Pip.",
    "Mia had a friend named Zorbek. Zorbek was a kind bear.",
    "One day, Tom went to the park.",
    "Once upon a time, there was a brave girl named Lily.",
    "There once was a robot named Kex. Kex was very curious.",
    "Ben and Ivy went to the beach.",
]
MIN_MARGIN = 1e-3
MIN_DISTINCT = 24


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)

    config = gpt2_torch.load_config(args.model)
    W = gpt2_torch.load_weights(args.model)
    tok = bpe_train.Tokenizer.load(args.model)
    summary_path = os.path.join(args.model, "training_summary.json")
    summary = {}
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)

    chosen = None
    for text in PROMPTS:
        ids = tok.encode(text)
        gen, _, margins = gpt2_torch.greedy(W, ids, N_NEW, config)
        print("min margin %.5f  %r -> %r" % (min(margins), text, tok.decode(gen)))
        if chosen is None and min(margins) > MIN_MARGIN and len(set(gen)) >= MIN_DISTINCT:
            chosen = (text, ids, gen, min(margins))
    if chosen is None:
        sys.exit("no prompt has all greedy margins above %g and %d distinct ids"
                 % (MIN_MARGIN, MIN_DISTINCT))

    text, ids, gen, margin = chosen
    expected = {
        "model_dir": "resources/model/default",
        "reference": "float64 torch forward over the exported F32 weights",
        "prompt": text,
        "prompt_ids": ids,
        "n_new": N_NEW,
        "greedy_ids": gen,
        "greedy_text": tok.decode(gen),
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
