#!/usr/bin/python3
"""Train kvscope's embedded default model (a tiny GPT-2) and export it in the
Hugging Face layout the C++ engine loads.

    /usr/bin/python3 resources/model/train.py \
        --corpus resources/model/corpus.txt \
        --tokenizer resources/model/cache/tok \
        --out resources/model/default

CPU only, two threads (the machine is shared), fixed seeds.  Normally run via
build_default_model.sh, which also regenerates the corpus and tokenizer.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
import gpt2_torch  # noqa: E402

SEP = bpe_train.SPECIAL


def encode_stories(tok, stories):
    """One flat id stream, <|endoftext|> after every story (GPT-2 style), so a
    random window sees story boundaries the way generation will."""
    eot = tok.vocab[SEP]
    out = []
    for s in stories:
        out.extend(tok.encode(s))
        out.append(eot)
    return np.array(out, dtype=np.int64)


def unigram_entropy(ids, vocab_size):
    """Entropy (nats/token) of the token frequency distribution: the loss of
    the best model that ignores context."""
    counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    floor = args.lr * args.min_lr_frac
    return floor + (args.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


@torch.no_grad()
def evaluate(model, windows, batch):
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = windows[i:i + batch]
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                               reduction="sum")
        total += float(loss)
        count += w[:, 1:].numel()
    model.train()
    return total / count


def export(model, tok_dir, out_dir, config):
    os.makedirs(out_dir, exist_ok=True)
    gpt2_torch.write_config(os.path.join(out_dir, "config.json"), config)
    W = model.hf_state()
    gpt2_torch.write_safetensors(os.path.join(out_dir, "model.safetensors"), W, "F32")
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(tok_dir, name), os.path.join(out_dir, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True, help="directory with vocab.json, merges.txt")
    ap.add_argument("--out", required=True, help="export directory")
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"),
                    help="encoded corpus and partial exports")
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--batch", type=int, default=4, help="1024-token windows per step")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--val-every", type=int, default=300)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-percent", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", help="exported model directory to start from (a second "
                    "stage with a fresh warmup + cosine schedule); its log is kept")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t_start = time.time()
    log_lines = []

    def log(msg):
        print(msg, flush=True)
        log_lines.append(msg)

    tok = bpe_train.Tokenizer.load(args.tokenizer)
    V = len(tok.vocab)
    with open(args.corpus, encoding="utf-8") as f:
        stories = f.read().split(SEP)
    # Every k-th story is held out: deterministic and spread over the corpus.
    k = 100 // args.val_percent
    val_stories = [s for i, s in enumerate(stories) if i % k == k - 1]
    train_stories = [s for i, s in enumerate(stories) if i % k != k - 1]
    os.makedirs(args.cache, exist_ok=True)
    train_ids = encode_stories(tok, train_stories)
    val_ids = encode_stories(tok, val_stories)
    np.save(os.path.join(args.cache, "val_ids.npy"), val_ids)
    H_uni = unigram_entropy(train_ids, V)
    H_uni_val = unigram_entropy(val_ids, V)
    log("corpus: %d train stories (%d tokens), %d val stories (%d tokens), %.2f chars/token"
        % (len(train_stories), len(train_ids), len(val_stories), len(val_ids),
           sum(map(len, train_stories)) / (len(train_ids) - len(train_stories))))
    log("unigram entropy: %.4f nats/token (train), %.4f (val)" % (H_uni, H_uni_val))
    log("encoding took %.1f s" % (time.time() - t_start))

    config = gpt2_torch.hf_config(n_layer=4, n_head=4, n_embd=64, n_positions=1024,
                                  vocab_size=V, eos_token_id=tok.vocab[SEP])
    T = config["n_positions"]
    model = gpt2_torch.GPT2(config)
    prior_log, prior_minutes = "", 0.0
    if args.init:
        # Read back the exported file, so a stage starts from exactly what
        # the C++ app would have loaded.
        model.load_state_dict(gpt2_torch.load_weights(args.init), strict=True)
        with open(os.path.join(args.init, "training_log.txt")) as f:
            prior_log = f.read()
        with open(os.path.join(args.init, "training_summary.json")) as f:
            prior_minutes = json.load(f)["train_minutes"]
        log("initialised from %s (%.1f min of earlier training)" % (args.init, prior_minutes))
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %d parameters (%.2f MB float32); batch %d x %d tokens, %d steps, lr %g"
        % (n_params, n_params * 4 / 1e6, args.batch, T, args.steps, args.lr))

    # Decay only matrices: decaying gains, biases and embeddings towards zero
    # just fights the layer norms.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() == 2 and name.startswith("h.") else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    train_t = torch.from_numpy(train_ids)
    n_val = len(val_ids) // (T + 1)
    val_windows = torch.from_numpy(val_ids[:n_val * (T + 1)].reshape(n_val, T + 1))

    t_train = time.time()
    running, running_n = 0.0, 0
    val_loss = float("nan")
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        # Random offsets, so every position embedding sees every kind of
        # context and stories start anywhere in the window.
        starts = rng.integers(0, len(train_ids) - T - 1, size=args.batch)
        batch = torch.stack([train_t[s:s + T + 1] for s in starts])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += float(loss)
        running_n += 1
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            el = time.time() - t_train
            log("step %5d  lr %.2e  train loss %.4f  %.0f tok/s  %.1f min"
                % (done, lr_at(step, args), running / running_n,
                   done * args.batch * T / el, el / 60))
            running, running_n = 0.0, 0
        if done % args.val_every == 0 or done == args.steps:
            val_loss = evaluate(model, val_windows, args.batch)
            log("step %5d  val loss %.4f nats/token" % (done, val_loss))
            # A partial export lets the C++ side be tried while training runs.
            export(model, args.tokenizer, os.path.join(args.cache, "partial"), config)

    train_secs = time.time() - t_train
    final_train = evaluate(model, torch.stack(
        [train_t[s:s + T + 1] for s in np.random.default_rng(99).integers(
            0, len(train_ids) - T - 1, size=n_val)]), args.batch)
    export(model, args.tokenizer, args.out, config)
    log("final: train loss %.4f, val loss %.4f nats/token, unigram entropy %.4f"
        % (final_train, val_loss, H_uni))
    log("wall time: training %.1f min, total %.1f min; all stages %.1f min of training"
        % (train_secs / 60, (time.time() - t_start) / 60, prior_minutes + train_secs / 60))
    with open(os.path.join(args.out, "training_log.txt"), "w") as f:
        f.write(prior_log)
        f.write("# resources/model/train.py %s\n" % " ".join(
            "--%s %s" % (k.replace("_", "-"), v) for k, v in sorted(vars(args).items())
            if k not in ("corpus", "tokenizer", "out", "cache", "init")))
        f.write("\n".join(log_lines) + "\n")
    with open(os.path.join(args.out, "training_summary.json"), "w") as f:
        json.dump({"train_loss": round(final_train, 4), "val_loss": round(val_loss, 4),
                   "unigram_entropy": round(H_uni, 4), "steps": args.steps,
                   "batch": args.batch,
                   "train_minutes": round(prior_minutes + train_secs / 60, 1),
                   "parameters": n_params}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
