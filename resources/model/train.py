#!/usr/bin/python3
"""Train kvscope's embedded default model: a tiny GPT-2 on the project's story corpus.

Debian's python3-torch on the CPU, 2 threads, fixed seeds. Trains on 1024-token windows so every
position embedding is trained, reports training and validation loss, and exports a Hugging Face
GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt) that kvscope loads.

    /usr/bin/python3 train.py --corpus corpus.txt --out default --steps 1400
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
from gpt2_torch import layer_names, write_safetensors  # noqa: E402

CONFIG = {
    "model_type": "gpt2",
    "architectures": ["GPT2LMHeadModel"],
    "n_layer": 4,
    "n_head": 4,
    "n_embd": 64,
    "n_positions": 1024,
    "n_ctx": 1024,
    "vocab_size": 1024,
    "layer_norm_epsilon": 1e-5,
    "activation_function": "gelu_new",
    "torch_dtype": "float32",
}


class Gpt2(torch.nn.Module):
    """GPT-2 whose parameters carry their Hugging Face names (dots become '__')."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        d, L = c["n_embd"], c["n_layer"]
        shapes = {"wte.weight": [c["vocab_size"], d], "wpe.weight": [c["n_positions"], d],
                  "ln_f.weight": [d], "ln_f.bias": [d]}
        per_layer = {"ln_1.weight": [d], "ln_1.bias": [d], "attn.c_attn.weight": [d, 3 * d],
                     "attn.c_attn.bias": [3 * d], "attn.c_proj.weight": [d, d],
                     "attn.c_proj.bias": [d], "ln_2.weight": [d], "ln_2.bias": [d],
                     "mlp.c_fc.weight": [d, 4 * d], "mlp.c_fc.bias": [4 * d],
                     "mlp.c_proj.weight": [4 * d, d], "mlp.c_proj.bias": [d]}
        for i in range(L):
            for name in layer_names(i):
                shapes[name] = per_layer[name.split(".", 2)[2]]
        for name, shape in shapes.items():
            p = torch.nn.Parameter(torch.empty(shape))
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                torch.nn.init.ones_(p)
            elif name.endswith("bias"):
                torch.nn.init.zeros_(p)
            else:
                # GPT-2's init: residual projections shrink with depth so the stream stays O(1).
                std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
                torch.nn.init.normal_(p, 0.0, std)
            self.register_parameter(name.replace(".", "__"), p)
        self.register_buffer("causal", torch.ones(c["n_positions"], c["n_positions"]).tril().bool(),
                             persistent=False)

    def w(self, name):
        return getattr(self, name.replace(".", "__"))

    def hf_state(self):
        return {n.replace("__", "."): p.detach().clone().float() for n, p in self.named_parameters()}

    def forward(self, idx, return_attention=False):
        c, w = self.c, self.w
        B, T = idx.shape
        d, H = c["n_embd"], c["n_head"]
        hd, eps = d // H, c["layer_norm_epsilon"]
        x = F.embedding(idx, w("wte.weight")) + w("wpe.weight")[:T]
        mask = self.causal[:T, :T]
        attentions = []
        for i in range(c["n_layer"]):
            p = "h.%d." % i
            h = F.layer_norm(x, (d,), w(p + "ln_1.weight"), w(p + "ln_1.bias"), eps)
            qkv = h @ w(p + "attn.c_attn.weight") + w(p + "attn.c_attn.bias")
            q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in qkv.split(d, dim=2))
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
            if return_attention:
                attentions.append(att)
            y = (att @ v).transpose(1, 2).reshape(B, T, d)
            x = x + y @ w(p + "attn.c_proj.weight") + w(p + "attn.c_proj.bias")
            h = F.layer_norm(x, (d,), w(p + "ln_2.weight"), w(p + "ln_2.bias"), eps)
            m = F.gelu(h @ w(p + "mlp.c_fc.weight") + w(p + "mlp.c_fc.bias"), approximate="tanh")
            x = x + m @ w(p + "mlp.c_proj.weight") + w(p + "mlp.c_proj.bias")
        x = F.layer_norm(x, (d,), w("ln_f.weight"), w("ln_f.bias"), eps)
        logits = x @ w("wte.weight").T
        return (logits, attentions) if return_attention else logits


def tokenize_corpus(corpus, tok_dir, vocab_size, val_fraction, seed, log):
    with open(corpus, encoding="utf-8") as f:
        text = f.read()
    stories = text.split(bpe_train.SPECIAL)
    if not os.path.exists(os.path.join(tok_dir, "vocab.json")):
        t0 = time.time()
        tok = bpe_train.train_tokenizer(text, vocab_size)
        tok.save(tok_dir)
        log("tokenizer: %d ids trained in %.1f s" % (len(tok.vocab), time.time() - t0))
    tok = bpe_train.Tokenizer.load(tok_dir)
    rng = random.Random(seed)
    order = list(range(len(stories)))
    rng.shuffle(order)
    n_val = max(1, int(len(stories) * val_fraction))
    eot = tok.vocab[bpe_train.SPECIAL]

    def ids_of(indices):
        out = []
        for i in sorted(indices):
            out.extend(tok.encode(stories[i]))
            out.append(eot)
        return np.array(out, dtype=np.int64)

    val, train = ids_of(order[:n_val]), ids_of(order[n_val:])
    log("corpus: %d stories, %d characters; train %d tokens, validation %d tokens (%d stories)"
        % (len(stories), len(text), len(train), len(val), n_val))
    return tok, train, val


def unigram_entropy(ids, vocab):
    counts = np.bincount(ids, minlength=vocab).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def batches(data, T, B, gen):
    starts = torch.randint(0, len(data) - T - 1, (B,), generator=gen)
    x = torch.stack([torch.from_numpy(data[s:s + T]) for s in starts.tolist()])
    y = torch.stack([torch.from_numpy(data[s + 1:s + T + 1]) for s in starts.tolist()])
    return x, y


@torch.no_grad()
def evaluate(model, data, T, windows=24):
    model.eval()
    total, count = 0.0, 0
    step = max(1, (len(data) - T - 1) // windows)
    for s in range(0, len(data) - T - 1, step)[:windows]:
        x = torch.from_numpy(data[s:s + T]).unsqueeze(0)
        y = torch.from_numpy(data[s + 1:s + T + 1]).unsqueeze(0)
        loss = F.cross_entropy(model(x).view(-1, model.c["vocab_size"]), y.view(-1), reduction="sum")
        total += float(loss)
        count += y.numel()
    model.train()
    return total / count


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def export(model, tok, out):
    os.makedirs(out, exist_ok=True)
    cfg = dict(CONFIG)
    eot = tok.vocab[bpe_train.SPECIAL]
    cfg["bos_token_id"] = cfg["eos_token_id"] = eot
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), model.hf_state(), "F32")
    tok.save(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True, help="folder for the exported model")
    ap.add_argument("--tokenizer-dir", help="reuse or write the tokenizer here (default: --out)")
    ap.add_argument("--steps", type=int, default=1400)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-every", type=int, default=100)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "training_log.txt")
    log_file = open(log_path, "w")

    def log(msg):
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    t_start = time.time()
    tok, train, val = tokenize_corpus(args.corpus, args.tokenizer_dir or args.out,
                                      CONFIG["vocab_size"], 0.02, args.seed, log)
    assert len(tok.vocab) <= CONFIG["vocab_size"], len(tok.vocab)
    log("unigram entropy of the validation tokens: %.4f nats/token"
        % unigram_entropy(val, CONFIG["vocab_size"]))
    model = Gpt2(CONFIG)
    log("parameters: %d" % sum(p.numel() for p in model.parameters()))
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    T = CONFIG["n_positions"]
    t_train = time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        x, y = batches(train, T, args.batch, gen)
        loss = F.cross_entropy(model(x).view(-1, CONFIG["vocab_size"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0:
            log("step %5d  train loss %.4f  lr %.2e  %.1f s" % (step, float(loss),
                                                                opt.param_groups[0]["lr"],
                                                                time.time() - t_train))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            log("step %5d  validation loss %.4f nats/token" % (step + 1, evaluate(model, val, T)))
    log("training wall time: %.1f min (%d steps of %d x %d tokens)"
        % ((time.time() - t_train) / 60, args.steps, args.batch, T))
    export(model, tok, args.out)
    log("final validation loss: %.4f nats/token" % evaluate(model, val, T, windows=64))
    log("total wall time including tokenization and export: %.1f min" % ((time.time() - t_start) / 60))


if __name__ == "__main__":
    main()
