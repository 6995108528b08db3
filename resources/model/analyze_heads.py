#!/usr/bin/python3
"""Look for copying (induction) heads in the exported default model.

For every position that holds a token of a character name which already
appeared earlier in the story, take the attention weight that goes to the
position right after the corresponding token of that name's most recent
earlier occurrence: the token a copying head needs in order to predict
what comes next.  Average per layer and head, next to the uniform baseline
1/(i+1) at the same positions.

The stories are fresh ones from make_corpus.py with a seed the training never
saw (default 2), so the names are new to the model and can only be copied.

    /usr/bin/python3 resources/model/analyze_heads.py --model resources/model/default
"""

import argparse
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
import gpt2_torch  # noqa: E402
import make_corpus  # noqa: E402

# How the grammar introduces a character (see make_corpus.Story.opening and
# newcomer); anything matched here is a name, not an ordinary capitalised word.
INTRO = [r"named (\w+)", r"called (\w+)", r"name was (\w+)", r"knew (\w+),",
         r"^(\w+) was an? "]


def story_names(text):
    names = set()
    for pat in INTRO:
        names.update(re.findall(pat, text, flags=re.M))
    return names


def tokens_with_words(tok, text):
    """Token ids of <|endoftext|> + text, and for each pre-token (word) its
    stripped text and token span; the leading separator mirrors how stories
    appear in the training stream."""
    ids = [tok.vocab[bpe_train.SPECIAL]]
    words = []
    for w in bpe_train.pretokenize(text):
        start = len(ids)
        ids.extend(tok.vocab[s] for s in tok.bpe(w))
        words.append((w.strip(), start, len(ids)))
    return ids, words


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--stories", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2, help="make_corpus seed (training used 1)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    config = gpt2_torch.load_config(args.model)
    tok = bpe_train.Tokenizer.load(args.model)
    model = gpt2_torch.GPT2(config)
    model.load_state_dict(gpt2_torch.load_weights(args.model), strict=True)
    model.eval()
    L, H, T = config["n_layer"], config["n_head"], config["n_positions"]

    rng = make_corpus.Rng(args.seed)
    total = torch.zeros(L, H, dtype=torch.float64)
    uniform = 0.0
    events = 0
    for _ in range(args.stories):
        text = make_corpus.story(rng)
        names = story_names(text)
        ids, words = tokens_with_words(tok, text)
        ids, words = ids[:T], [w for w in words if w[2] <= T]
        queries, targets = [], []
        last_seen = {}
        for word, a, b in words:
            if word not in names:
                continue
            if word in last_seen:
                pa = last_seen[word]
                # Same name, same tokens: token m of this occurrence should
                # look at the token after token m of the earlier one.
                for m in range(b - a):
                    if pa + m + 1 < a:
                        queries.append(a + m)
                        targets.append(pa + m + 1)
            last_seen[word] = a
        if not queries:
            continue
        with torch.no_grad():
            _, atts = model(torch.tensor([ids]), return_attention=True)
        q = torch.tensor(queries)
        t = torch.tensor(targets)
        for layer in range(L):
            total[layer] += atts[layer][0][:, q, t].double().sum(dim=1)
        uniform += float((1.0 / (q.double() + 1.0)).sum())
        events += len(queries)

    mean = total / events
    base = uniform / events
    print("%d stories (make_corpus seed %d), %d repeated-name token positions"
          % (args.stories, args.seed, events))
    print("uniform baseline 1/(i+1), averaged over the same positions: %.4f\n" % base)
    print("| layer | head | mean attention to token after earlier occurrence | x uniform |")
    print("| --- | --- | --- | --- |")
    for layer in range(L):
        for head in range(H):
            print("| %d | %d | %.4f | %.1f |" % (layer, head, mean[layer, head], mean[layer, head] / base))
    best = int(torch.argmax(mean))
    bl, bh = divmod(best, H)
    print("\nbest: layer %d head %d, %.4f vs uniform %.4f (%.1fx)"
          % (bl, bh, mean[bl, bh], base, mean[bl, bh] / base))


if __name__ == "__main__":
    main()
