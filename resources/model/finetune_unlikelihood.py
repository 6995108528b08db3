#!/usr/bin/python3
"""An experiment for issue 12, not part of build_default_model.sh: sequence-level unlikelihood
fine-tuning of the embedded Llama (Welleck et al. 2019, section 5.2). Even updates are plain
cross-entropy on training windows; odd ones generate a greedy continuation from <s> and a stretch
of a training story (or, with --odd-prefix, a few random pieces) and penalise with -log(1 - p)
every continuation token inside a 4-gram seen before in that sequence. A GGUF and its sp.model
are written to OUT_DIR/step_N every --save-every steps, for the C++ engine's loop measures.

finetune_unlikelihood.py MODEL.gguf SP_DIR CORPUS OUT_DIR [--steps N] [--lr LR] [--alpha A]
"""
import argparse
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_torch  # noqa: E402
import sp_tokenizer  # noqa: E402
from train import encode_with_bos_eos, evaluate, split_stories  # noqa: E402


def repeated_ngram_mask(seq, start, n=4):
    """bool [len(seq)]: True at positions >= start whose token ends an n-gram seen earlier."""
    mask = np.zeros(len(seq), dtype=bool)
    seen = set()
    for t in range(n - 1, len(seq)):
        g = tuple(seq[t - n + 1:t + 1])
        if t >= start and g in seen:
            mask[t - n + 1:t + 1] = True  # the whole repeated n-gram, as Welleck's candidates
        seen.add(g)
    mask[:start] = False
    return mask


@torch.no_grad()
def greedy(model, prefix, steps):
    """prefix [B, L] -> [B, L + steps], full recompute each step (small model, short)."""
    model.eval()
    x = prefix
    for _ in range(steps):
        logits = model(x)[:, -1]
        x = torch.cat([x, logits.argmax(-1, keepdim=True)], dim=1)
    model.train()
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("sp")
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--save-every", type=int, default=25)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prefix", type=int, default=32)
    ap.add_argument("--continuation", type=int, default=128)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--odd-prefix", type=float, default=0.0,
                    help="share of generation prefixes that are <s> and 1-4 random pieces")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    meta, W = llama_torch.read_gguf(args.model)
    c = llama_torch.config_from_meta(meta)
    model = llama_torch.Llama(c)
    model.load_state(W)
    tok = sp_tokenizer.Tokenizer(args.sp)
    # train.py's hold-out at its default --val-percent 2: the same validation stories.
    train_s, val_s = split_stories(args.corpus, 2)
    train_ids, val_ids = encode_with_bos_eos(tok, train_s), encode_with_bos_eos(tok, val_s)
    T = c["context"]
    n_val = len(val_ids) // (T + 1)
    val_w = torch.from_numpy(val_ids[:n_val * (T + 1)].reshape(n_val, T + 1))
    train_t = torch.from_numpy(train_ids)
    print("val loss before: %.4f" % evaluate(model, val_w, 4), flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    t0 = time.time()
    ul_sum, ul_n, ce_sum, ce_n, rep_sum = 0.0, 0, 0.0, 0, 0.0
    for step in range(args.steps):
        if step % 2 == 0:
            starts = rng.integers(0, len(train_ids) - args.window - 1, size=args.batch)
            b = torch.stack([train_t[s:s + args.window + 1] for s in starts])
            logits = model(b[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
            ce_sum += float(loss)
            ce_n += 1
        else:
            # Prefixes as the engine meets prompts: <s> then a stretch of a story.
            starts = rng.integers(0, len(train_ids) - args.prefix - 1, size=args.batch)
            L = int(rng.integers(2, args.prefix + 1))
            if rng.random() < args.odd_prefix:
                # A prompt unlike any story: a few pieces drawn at random, no specials.
                L = int(rng.integers(1, 5))
                pre = torch.cat([torch.full((args.batch, 1), tok.bos),
                                 torch.from_numpy(rng.integers(3, c["vocab_size"],
                                                               size=(args.batch, L)))], dim=1)
            else:
                pre = torch.stack([torch.cat([torch.tensor([tok.bos]), train_t[s:s + L]])
                                   for s in starts])
            seq = greedy(model, pre, args.continuation)
            masks = np.stack([repeated_ngram_mask(seq[i].tolist(), L + 1)
                              for i in range(args.batch)])
            rep_sum += masks.mean()
            logits = model(seq[:, :-1])
            m = torch.from_numpy(masks[:, 1:])
            p = torch.softmax(logits, -1).gather(-1, seq[:, 1:].unsqueeze(-1)).squeeze(-1)
            ul = -(torch.log((1 - p).clamp(min=1e-5)) * m).sum() / max(1, int(m.sum()))
            loss = args.alpha * ul
            ul_sum += float(ul)
            ul_n += 1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % 20 == 0:
            print("step %4d  ce %.4f  ul %.4f  repeated share %.3f  %.1f min"
                  % (step + 1, ce_sum / max(1, ce_n), ul_sum / max(1, ul_n),
                     rep_sum / max(1, ul_n), (time.time() - t0) / 60), flush=True)
            ul_sum, ul_n, ce_sum, ce_n, rep_sum = 0.0, 0, 0.0, 0, 0.0
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            print("step %4d  val loss %.4f" % (step + 1, evaluate(model, val_w, 4)), flush=True)
            out = os.path.join(args.out, "step_%d" % (step + 1))
            os.makedirs(out, exist_ok=True)
            llama_torch.write_gguf(os.path.join(out, "model.gguf"), model.state(), c,
                                   tok.gguf_vocab(), "kvscope-tiny-llama")
            shutil.copyfile(os.path.join(args.sp, "sp.model"), os.path.join(out, "sp.model"))


if __name__ == "__main__":
    main()
