#!/usr/bin/python3
"""Write tests/default_model/expected.json: greedy ids of the embedded model from PyTorch.

Reads the EXPORTED files (model.safetensors, vocab.json, merges.txt, config.json) back, so the
C++ test compares its engine with an independent float64 forward over the very bytes it embeds.

    /usr/bin/python3 make_fixture.py --model default
"""

import argparse
import json
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
from gpt2_torch import forward_full, read_safetensors  # noqa: E402

PROMPTS = ["Once upon a time, there was a little fox called", "One morning, Pia",
           "At the market, Tom met", "\"Where is my lantern?\" asked", "Long ago"]
N_NEW = 64


def greedy(W, config, ids, n_new):
    ids, margins = list(ids), []
    out = []
    for _ in range(n_new):
        last = forward_full(W, ids, config)[-1]
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        ids.append(nxt)
    return out, min(margins)


def log_value(log, pattern):
    m = re.search(pattern, log)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "default_model",
                                                  "expected.json"))
    args = ap.parse_args()
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    W = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(
        os.path.join(args.model, "model.safetensors")).items()}
    tok = bpe_train.Tokenizer.load(args.model)
    best = None
    for prompt in PROMPTS:
        ids = tok.encode(prompt)
        out, margin = greedy(W, config, ids, N_NEW)
        print("%-50r min margin %.4f: %r" % (prompt, margin, tok.decode(out)[:80]))
        if margin > 1e-3 and (best is None or margin > best["min_margin"]):
            best = {"prompt": prompt, "prompt_ids": ids, "greedy_ids": out, "min_margin": margin,
                    "text": tok.decode(out)}
    if best is None:
        sys.exit("no prompt has all greedy margins above 1e-3")
    with open(os.path.join(args.model, "training_log.txt")) as f:
        log = f.read()
    best["validation_loss"] = log_value(log, r"final validation loss: ([0-9.]+)")
    best["unigram_entropy"] = log_value(log, r"unigram entropy of the validation tokens: ([0-9.]+)")
    best["reference"] = "PyTorch float64 forward over the exported files (make_fixture.py)"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(best, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s (prompt %r, min margin %.4f)" % (args.out, best["prompt"], best["min_margin"]))


if __name__ == "__main__":
    main()
