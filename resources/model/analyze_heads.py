#!/usr/bin/python3
"""Look for copying heads in an exported embedded model (the GPT-2 or the Llama).

Every character name is one token in both vocabularies.  For every position whose next token is
a name that already occurred earlier in the story (spelled with the same token), take the
attention weight that goes to the name's most recent earlier occurrence: the token a copying head
has to fetch to predict what comes next.  Average per layer and head, next to the uniform
baseline 1/(i+1) at the same positions.

The stories are fresh ones from make_corpus.py with a seed the training never saw (default 2)
and the training's name pool, so which names a story has can only be known by looking back.

    /usr/bin/python3 resources/model/analyze_heads.py --arch gpt2 --model resources/model/default
    /usr/bin/python3 resources/model/analyze_heads.py --arch llama --model resources/model/llama
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
import llama_torch  # noqa: E402
import make_corpus  # noqa: E402
import sp_tokenizer  # noqa: E402

# How the grammar introduces a character (see make_corpus.Story.opening and
# newcomer); anything matched here is a name, not an ordinary capitalised word.
INTRO = [r"named (\w+)", r"called (\w+)", r"name was (\w+)", r"knew (\w+),",
         r"^(\w+) was an? "]


def story_names(text):
    names = set()
    for pat in INTRO:
        names.update(re.findall(pat, text, flags=re.M))
    return names


class Gpt2:
    def __init__(self, directory):
        config = gpt2_torch.load_config(directory)
        self.tok = bpe_train.Tokenizer.load(directory)
        self.model = gpt2_torch.GPT2(config)
        self.model.load_state_dict(gpt2_torch.load_weights(directory), strict=True)
        self.layers, self.heads, self.context = (config["n_layer"], config["n_head"],
                                                 config["n_positions"])

    def story_ids(self, text):  # as in the training stream
        return [self.tok.vocab[bpe_train.SPECIAL]] + self.tok.encode(text)

    def word_ids(self, word):
        return self.tok.encode(word)


class Llama:
    def __init__(self, directory):
        meta, W = llama_torch.read_gguf(os.path.join(directory, "model.gguf"))
        c = llama_torch.config_from_meta(meta)
        self.tok = sp_tokenizer.Tokenizer(directory)
        self.model = llama_torch.Llama(c)
        self.model.load_state(W)
        self.layers, self.heads, self.context = c["n_layer"], c["n_head"], c["context"]

    def story_ids(self, text):
        return [self.tok.bos] + self.tok.encode(text)

    def word_ids(self, word):
        return self.tok.sp.encode(word)  # exactly these characters, no dummy space


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--stories", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2, help="make_corpus seed (training used 1)")
    ap.add_argument("--name-pool", type=int, default=60, help="as the training corpus")
    args = ap.parse_args()
    torch.set_num_threads(1)

    m = (Gpt2 if args.arch == "gpt2" else Llama)(args.model)
    m.model.eval()
    L, H, T = m.layers, m.heads, m.context
    make_corpus.INVENTED_POOL = make_corpus.invented_pool(args.name_pool)
    make_corpus.NO_REPEATS = True  # as the training corpus (--no-repeats)
    rng = make_corpus.Rng(args.seed)
    total = torch.zeros(L, H, dtype=torch.float64)
    uniform = 0.0
    events = 0
    for _ in range(args.stories):
        text = make_corpus.story(rng)
        ids = m.story_ids(text)[:T]
        name_ids = set()
        for name in story_names(text):
            for spelling in (" " + name, name):
                w = m.word_ids(spelling)
                if len(w) == 1:
                    name_ids.add(w[0])
        queries, targets, last_seen = [], [], {}
        for p, t in enumerate(ids):
            if t in name_ids:
                if t in last_seen and last_seen[t] < p - 1:
                    queries.append(p - 1)
                    targets.append(last_seen[t])
                last_seen[t] = p
        if not queries:
            continue
        with torch.no_grad():
            _, atts = m.model(torch.tensor([ids]), return_attention=True)
        q = torch.tensor(queries)
        t = torch.tensor(targets)
        for layer in range(L):
            total[layer] += atts[layer][0][:, q, t].double().sum(dim=1)
        uniform += float((1.0 / (q.double() + 1.0)).sum())
        events += len(queries)

    mean = total / events
    base = uniform / events
    print("%s: %d stories (make_corpus seed %d, name pool %d), %d positions before a repeated name"
          % (args.arch, args.stories, args.seed, args.name_pool, events))
    print("uniform baseline 1/(i+1), averaged over the same positions: %.4f\n" % base)
    print("| layer | head | mean attention to the name's earlier occurrence | x uniform |")
    print("| --- | --- | --- | --- |")
    for layer in range(L):
        for head in range(H):
            print("| %d | %d | %.4f | %.1f |" % (layer, head, mean[layer, head],
                                                mean[layer, head] / base))
    best = int(torch.argmax(mean))
    bl, bh = divmod(best, H)
    print("\nbest: layer %d head %d, %.4f vs uniform %.4f (%.1fx)"
          % (bl, bh, mean[bl, bh], base, mean[bl, bh] / base))


if __name__ == "__main__":
    main()
