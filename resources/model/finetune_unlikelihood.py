#!/usr/bin/python3
"""The last stage of the embedded Llama's recipe (issue 12): a short fine-tune of train.py's
export that removes its greedy loops, two unlikelihood losses (Welleck et al. 2019) beside the
cross-entropy.

Even updates are plain cross-entropy on training windows. Odd ones let the model continue greedily
from <s> and a stretch of a training story (or, with --odd-prefix, a few random pieces, as a
prompt unlike any story) and then penalise, with -log(1 - p):
  - every continuation token inside a 4-gram seen before in that sequence (sequence-level
    unlikelihood, weight --alpha);
  - with --dead, the summed probability of the ids the training stream never holds (byte pieces
    of an ASCII corpus, BPE merges that are always merged further) at every continuation position.
A GGUF and its sp.model are written to OUT_DIR/step_N every --save-every updates, for the C++
engine's loop measures; --export DIR writes the last one to DIR with finetune_summary.json.

finetune_unlikelihood.py MODEL.gguf SP_DIR CORPUS OUT_DIR [--steps N] [--lr LR] [--alpha A]
    [--dead D] [--odd-prefix SHARE] [--export DIR]
"""
import argparse
import json
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


def parse_args():
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
    ap.add_argument("--dead", type=float, default=0.0,
                    help="weight of -log(1 - p) for the summed probability of the ids the "
                         "training stream never holds, at every continuation position")
    ap.add_argument("--export", help="directory for the last model.gguf and finetune_summary.json")
    return ap.parse_args()


def ce_loss(model, train_t, rng, args):
    """Cross-entropy on `batch` random training windows of `window` tokens."""
    starts = rng.integers(0, len(train_t) - args.window - 1, size=args.batch)
    b = torch.stack([train_t[s:s + args.window + 1] for s in starts])  # [B, window + 1]
    logits = model(b[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))


def generation_prefix(train_t, rng, tok, vocab_size, args):
    """[B, 1 + L]: <s> then a stretch of a story, or (--odd-prefix) 1-4 random pieces."""
    starts = rng.integers(0, len(train_t) - args.prefix - 1, size=args.batch)
    L = int(rng.integers(2, args.prefix + 1))
    if rng.random() < args.odd_prefix:
        L = int(rng.integers(1, 5))
        pieces = torch.from_numpy(rng.integers(3, vocab_size, size=(args.batch, L)))
        return torch.cat([torch.full((args.batch, 1), tok.bos), pieces], dim=1), L
    return torch.stack([torch.cat([torch.tensor([tok.bos]), train_t[s:s + L]])
                        for s in starts]), L


def ul_losses(model, seq, L, dead):
    """seq [B, 1 + L + C], a greedy continuation after a prefix of 1 + L ids. Returns the
    repeated-4-gram unlikelihood, the dead ids' unlikelihood and the repeated share."""
    masks = np.stack([repeated_ngram_mask(s.tolist(), L + 1) for s in seq])
    logits = model(seq[:, :-1])  # [B, L + C, V]; position i predicts seq[:, i + 1]
    m = torch.from_numpy(masks[:, 1:])
    p = torch.softmax(logits, -1)
    p_next = p.gather(-1, seq[:, 1:].unsqueeze(-1)).squeeze(-1)
    rep = -(torch.log((1 - p_next).clamp(min=1e-5)) * m).sum() / max(1, int(m.sum()))
    p_dead = p[:, L:][..., dead].sum(-1)  # [B, C]: from the last prefix position on
    dead_ul = -torch.log((1 - p_dead).clamp(min=1e-5)).mean()
    return rep, dead_ul, float(masks.mean())


def save(model, c, tok, args, directory):
    os.makedirs(directory, exist_ok=True)
    llama_torch.write_gguf(os.path.join(directory, "model.gguf"), model.state(), c,
                           tok.gguf_vocab(), "kvscope-tiny-llama")
    if os.path.abspath(args.sp) != os.path.abspath(directory):
        shutil.copyfile(os.path.join(args.sp, "sp.model"), os.path.join(directory, "sp.model"))


def main():
    args = parse_args()
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
    # [V] bool: ids never in the training stream. Only the softmax's push trains their rows, so
    # they share one direction, and an odd prompt can put all of them on top at once.
    dead = torch.from_numpy(np.bincount(train_ids, minlength=c["vocab_size"]) == 0)
    print("ids never in the training stream: %d of %d" % (int(dead.sum()), c["vocab_size"]))
    val_before = evaluate(model, val_w, 4)
    print("val loss before: %.4f" % val_before, flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    t0 = time.time()
    sums = dict(ce=[], ul=[], dead=[], rep=[])
    val = val_before
    for step in range(args.steps):
        if step % 2 == 0:
            loss = ce_loss(model, train_t, rng, args)
            sums["ce"].append(float(loss))
        else:
            pre, L = generation_prefix(train_t, rng, tok, c["vocab_size"], args)
            seq = greedy(model, pre, args.continuation)
            rep, dead_ul, share = ul_losses(model, seq, L, dead)
            loss = args.alpha * rep + args.dead * dead_ul
            sums["ul"].append(float(rep))
            sums["dead"].append(float(dead_ul))
            sums["rep"].append(share)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % 20 == 0:
            mean = {k: float(np.mean(v)) if v else 0.0 for k, v in sums.items()}
            print("step %4d  ce %.4f  ul %.4f  dead %.4f  repeated share %.3f  %.1f min"
                  % (step + 1, mean["ce"], mean["ul"], mean["dead"], mean["rep"],
                     (time.time() - t0) / 60), flush=True)
            sums = dict(ce=[], ul=[], dead=[], rep=[])
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            val = evaluate(model, val_w, 4)
            print("step %4d  val loss %.4f" % (step + 1, val), flush=True)
            save(model, c, tok, args, os.path.join(args.out, "step_%d" % (step + 1)))
    if args.export:
        save(model, c, tok, args, args.export)
        with open(os.path.join(args.export, "finetune_summary.json"), "w") as f:
            json.dump({"steps": args.steps, "lr": args.lr, "alpha": args.alpha, "dead": args.dead,
                       "odd_prefix": args.odd_prefix, "seed": args.seed,
                       "dead_ids": int(dead.sum()), "val_loss_before": round(val_before, 4),
                       "val_loss": round(val, 4),
                       "minutes": round((time.time() - t0) / 60, 1)}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
