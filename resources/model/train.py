#!/usr/bin/python3
"""Train one of kvscope's embedded models and export it where the C++ engine loads it: the
GPT-2 (--arch gpt2) as a Hugging Face folder, the Llama (--arch llama) as an F32 GGUF file.

    /usr/bin/python3 resources/model/train.py --arch gpt2 \
        --corpus resources/model/corpus.txt --tokenizer resources/model/cache/tok \
        --out resources/model/default

CPU only, fixed seeds.  Normally run by build_default_model.sh, which also makes the corpus and
the tokenizers and trains both models side by side, one core each.
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
import llama_torch  # noqa: E402
import make_corpus  # noqa: E402
import sp_tokenizer  # noqa: E402

SEP = bpe_train.SPECIAL


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


def split_stories(corpus_path, val_percent):
    """(train, validation) stories of the corpus: every k-th story is held out, deterministic
    and spread over the corpus."""
    with open(corpus_path, encoding="utf-8") as f:
        stories = [s for s in f.read().split(SEP) if s]
    k = 100 // val_percent
    return ([s for i, s in enumerate(stories) if i % k != k - 1],
            [s for i, s in enumerate(stories) if i % k == k - 1])


def encode_with_bos_eos(tok, stories):
    """The Llama's stream: <s>, the story, </s>, for every story."""
    out = []
    for s in stories:
        out.append(tok.bos)
        out.extend(tok.encode(s))
        out.append(tok.eos)
    return np.array(out, dtype=np.int64)


class Gpt2Recipe:
    """The GPT-2: byte-level BPE, <|endoftext|> after every story, a Hugging Face folder."""

    def __init__(self, args):
        self.tok = bpe_train.Tokenizer.load(args.tokenizer)
        self.vocab_size = len(self.tok.vocab)
        self.config = gpt2_torch.hf_config(n_layer=args.layers, n_head=args.heads,
                                           n_embd=args.dim, n_positions=args.context,
                                           vocab_size=self.vocab_size,
                                           eos_token_id=self.tok.vocab[SEP])

    def encode(self, stories):
        """One flat id stream, so a random window sees story boundaries the way generation
        will."""
        eot = self.tok.vocab[SEP]
        out = []
        for s in stories:
            out.extend(self.tok.encode(s))
            out.append(eot)
        return np.array(out, dtype=np.int64)

    def model(self):
        return gpt2_torch.GPT2(self.config)

    def decayed(self, model, name):
        return dict(model.named_parameters())[name].dim() == 2 and name.startswith("h.")

    def export(self, model, args, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        gpt2_torch.write_config(os.path.join(out_dir, "config.json"), self.config)
        gpt2_torch.write_safetensors(os.path.join(out_dir, "model.safetensors"),
                                     model.hf_state(), "F32")
        for name in ("vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(args.tokenizer, name), os.path.join(out_dir, name))


class LlamaRecipe:
    """The Llama: SentencePiece BPE, <s> before and </s> after every story (the engine puts <s>
    before a prompt), one GGUF file holding weights and vocabulary."""

    def __init__(self, args):
        self.tok = sp_tokenizer.Tokenizer(args.tokenizer)
        self.vocab_size = self.tok.n_vocab
        self.config = llama_torch.config(args.layers, args.heads, args.kv_heads, args.dim,
                                         args.hidden, self.vocab_size, args.context)

    def encode(self, stories):
        return encode_with_bos_eos(self.tok, stories)

    def word_starts(self, ids):
        """Positions in `ids` where a word begins inside a story: a piece with the space marker,
        or the first piece after a newline; not the <s> and </s> themselves."""
        marked = np.array([self.tok.sp.id_to_piece(i).startswith("\u2581")
                           for i in range(self.vocab_size)])
        newline = self.tok.sp.piece_to_id("<0x0A>")
        after_newline = np.zeros(len(ids), dtype=bool)
        after_newline[1:] = ids[:-1] == newline
        special = (ids == self.tok.bos) | (ids == self.tok.eos) | (ids == newline)
        return np.flatnonzero((marked[ids] | after_newline) & ~special)

    def model(self):
        return llama_torch.Llama(self.config)

    def decayed(self, model, name):
        return model.decayed(name.split(".", 1)[1].replace("__", "."))

    def export(self, model, args, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        llama_torch.write_gguf(os.path.join(out_dir, "model.gguf"), model.state(), self.config,
                               self.tok.gguf_vocab(), "kvscope-tiny-llama")
        shutil.copyfile(os.path.join(args.tokenizer, "sp.model"),
                        os.path.join(out_dir, "sp.model"))


def with_odd_openings(stories, percent, seed=7):
    """`percent`% of the stories preceded by an opening the grammar never writes
    (make_corpus.odd_opening), a space or a blank line between: a prompt like "Dog" is then
    something a story can follow. Only the training stories; validation stays the corpus."""
    if percent <= 0:
        return stories
    rng = make_corpus.Rng(seed)
    out = []
    for s in stories:
        if rng.below(100) < percent:
            s = make_corpus.odd_opening(rng) + rng.pick([" ", "\n\n"]) + s
        out.append(s)
    return out


def mid_story_starts(batch, train_t, word_starts, percent, bos, rng):
    """Rewrites `percent`% of the rows of `batch` (b, w + 1) in place as <s> followed by the
    stream from a random word start inside a story. The engine puts <s> before every prompt, and
    in the plain stream <s> is only ever followed by a story's first words, so a prompt unlike an
    opening ("Dog", an unknown name) was a context the model never saw; here it learns that
    after <s> the text can begin anywhere and goes on from there."""
    w = batch.shape[1] - 1
    for row in range(batch.shape[0]):
        if rng.integers(0, 100) >= percent:
            continue
        s = int(word_starts[rng.integers(0, len(word_starts))])
        s = min(s, len(train_t) - w)
        batch[row, 0] = bos
        batch[row, 1:] = train_t[s:s + w]


def recent_unlikelihood(logits, x, y, window):
    """Token-level unlikelihood (Welleck et al., 2019) over the last `window` input tokens:
    -log(1 - p(c)) for each distinct token c among x[t-window+1 .. t] that is not the target
    y[t], averaged over positions. Greedy loops are a recent token predicted again and again;
    this puts a price on exactly that, while names copied from further back cost nothing.
    logits [B, T, V], x and y [B, T] int64."""
    probs = F.softmax(logits.float(), dim=-1)  # [B, T, V]
    B, T = x.shape
    total = logits.new_zeros(())
    shifted = []
    for k in range(window):
        # xk[t] = x[t-k], -1 where t-k < 0
        xk = torch.full_like(x, -1)
        xk[:, k:] = x[:, :T - k]
        ok = (xk >= 0) & (xk != y)
        for prev in shifted:  # count each distinct recent token once
            ok &= xk != prev
        shifted.append(xk)
        p = probs.gather(-1, xk.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [B, T]
        total = total - (torch.log((1 - p).clamp(min=1e-5)) * ok).sum()
    return total / (B * T)


def window_at(step, args):
    """(window, batch) of a step: most steps take short windows, which cost far less attention
    per token; every long_every-th step takes full-context windows with the same token count,
    so every position is trained throughout."""
    if args.long_every and step % args.long_every == args.long_every - 1:
        return args.context, args.batch
    return args.short_window, args.batch * (args.context // args.short_window)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True,
                    help="directory with vocab.json and merges.txt (gpt2) or sp.model (llama)")
    ap.add_argument("--out", required=True, help="export directory")
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"),
                    help="encoded corpus and partial exports")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2, help="llama only")
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--hidden", type=int, default=336, help="llama only: SwiGLU width")
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=4, help="full-context windows per step")
    ap.add_argument("--short-window", type=int, default=256)
    ap.add_argument("--long-every", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-percent", type=int, default=2)
    ap.add_argument("--odd-openings", type=int, default=0,
                    help="percent of training stories after an opening the grammar never writes")
    ap.add_argument("--bos-starts", type=int, default=0,
                    help="llama only: percent of training windows that open with <s> and go on "
                         "from a word start in the middle of a story")
    ap.add_argument("--bos-starts-from", type=int, default=0,
                    help="first step of --bos-starts; the steps before it train on the plain "
                         "stream, in the same window order as a run without --bos-starts")
    ap.add_argument("--unlikelihood", type=float, default=0.0,
                    help="weight of the token-level unlikelihood loss on recent tokens (0: off)")
    ap.add_argument("--ul-window", type=int, default=16,
                    help="how many of the latest input tokens --unlikelihood penalises")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    # Its own generator, so that --bos-starts leaves the order of the random windows unchanged.
    bos_rng = np.random.default_rng(args.seed + 1)
    t_start = time.time()
    log_lines = []

    def log(msg):
        print(msg, flush=True)
        log_lines.append(msg)

    recipe = (Gpt2Recipe if args.arch == "gpt2" else LlamaRecipe)(args)
    V = recipe.vocab_size
    train_stories, val_stories = split_stories(args.corpus, args.val_percent)
    cache = os.path.join(args.cache, args.arch)
    os.makedirs(cache, exist_ok=True)
    train_ids = recipe.encode(with_odd_openings(train_stories, args.odd_openings))
    val_ids = recipe.encode(val_stories)
    np.save(os.path.join(cache, "val_ids.npy"), val_ids)
    H_uni = unigram_entropy(train_ids, V)
    H_uni_val = unigram_entropy(val_ids, V)
    log("corpus: %d train stories (%d tokens), %d val stories (%d tokens), %.2f chars/token"
        % (len(train_stories), len(train_ids), len(val_stories), len(val_ids),
           sum(map(len, train_stories)) / (len(train_ids) - len(train_stories))))
    log("unigram entropy: %.4f nats/token (train), %.4f (val)" % (H_uni, H_uni_val))
    log("encoding took %.1f s" % (time.time() - t_start))

    T = args.context
    model = recipe.model()
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %s %s, %d parameters (%.2f MB float32); %d steps of %d tokens, lr %g"
        % (args.arch, json.dumps(recipe.config, sort_keys=True), n_params, n_params * 4 / 1e6,
           args.steps, args.batch * T, args.lr))

    # Decay only the block matrices: decaying gains and embeddings towards zero just fights
    # the norms.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if recipe.decayed(model, name) else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    train_t = torch.from_numpy(train_ids)
    word_starts = recipe.word_starts(train_ids) if args.bos_starts else None
    if args.bos_starts:
        log("%d%% of windows from step %d open with <s> at one of %d word starts inside stories"
            % (args.bos_starts, args.bos_starts_from, len(word_starts)))
    n_val = len(val_ids) // (T + 1)
    val_windows = torch.from_numpy(val_ids[:n_val * (T + 1)].reshape(n_val, T + 1))

    t_train = time.time()
    running, running_n, running_ul = 0.0, 0, 0.0
    val_loss = float("nan")
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        # Random offsets, so stories start anywhere in the window.
        w, b = window_at(step, args)
        starts = rng.integers(0, len(train_ids) - w - 1, size=b)
        batch = torch.stack([train_t[s:s + w + 1] for s in starts])
        if args.bos_starts and step >= args.bos_starts_from:
            mid_story_starts(batch, train_t, word_starts, args.bos_starts, recipe.tok.bos,
                             bos_rng)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
        if args.unlikelihood:
            ul = recent_unlikelihood(logits, batch[:, :-1], batch[:, 1:], args.ul_window)
            running_ul += float(ul)
            loss_total = loss + args.unlikelihood * ul
        else:
            loss_total = loss
        opt.zero_grad(set_to_none=True)
        loss_total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += float(loss)
        running_n += 1
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            el = time.time() - t_train
            ul_text = ("  unlikelihood %.4f" % (running_ul / running_n)
                       if args.unlikelihood else "")
            log("step %5d  lr %.2e  train loss %.4f%s  %.0f tok/s  %.1f min"
                % (done, lr_at(step, args), running / running_n, ul_text,
                   done * args.batch * T / el, el / 60))
            running, running_n, running_ul = 0.0, 0, 0.0
        if done % args.val_every == 0 or done == args.steps:
            val_loss = evaluate(model, val_windows, args.batch)
            log("step %5d  val loss %.4f nats/token" % (done, val_loss))
            # A partial export lets the C++ side be tried while training runs.
            recipe.export(model, args, os.path.join(cache, "partial"))

    train_secs = time.time() - t_train
    final_train = evaluate(model, torch.stack(
        [train_t[s:s + T + 1] for s in np.random.default_rng(99).integers(
            0, len(train_ids) - T - 1, size=n_val)]), args.batch)
    recipe.export(model, args, args.out)
    log("final: train loss %.4f, val loss %.4f nats/token, unigram entropy %.4f"
        % (final_train, val_loss, H_uni))
    log("wall time: training %.1f min, total %.1f min (%d thread%s)"
        % (train_secs / 60, (time.time() - t_start) / 60, args.threads,
           "" if args.threads == 1 else "s"))
    with open(os.path.join(args.out, "training_log.txt"), "w") as f:
        f.write("# resources/model/train.py %s\n" % " ".join(
            "--%s %s" % (k.replace("_", "-"), v) for k, v in sorted(vars(args).items())
            if k not in ("corpus", "tokenizer", "out", "cache")))
        f.write("\n".join(log_lines) + "\n")
    with open(os.path.join(args.out, "training_summary.json"), "w") as f:
        json.dump({"arch": args.arch, "train_loss": round(final_train, 4),
                   "val_loss": round(val_loss, 4), "unigram_entropy": round(H_uni, 4),
                   "unigram_entropy_val": round(H_uni_val, 4), "steps": args.steps,
                   "tokens_seen": args.steps * args.batch * T, "threads": args.threads,
                   "train_minutes": round(train_secs / 60, 1), "parameters": n_params}, f,
                  indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
