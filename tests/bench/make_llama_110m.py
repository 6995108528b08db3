#!/usr/bin/python3
"""Writes a 110M-parameter Llama with random weights in llama2.c's legacy checkpoint format, for
the benchmarks.

Shapes are those of llama2.c's stories110M (dim 768, hidden_dim 2048, 12 layers, 12 heads, 12 KV
heads, vocabulary 32000, seq_len 1024, tied classifier), so the engine does the work of the real
checkpoint; the text it produces is noise. Use it with llama2.c's 32000-piece tokenizer.bin
(Llama 2's SentencePiece vocabulary) beside it. ~440 MB, not committed:

    /usr/bin/python3 tests/bench/make_llama_110m.py /work/bench/llama110m.bin
"""

import struct
import sys

import numpy as np

DIM, HIDDEN, N_LAYERS, N_HEADS, N_KV_HEADS, VOCAB, SEQ_LEN = 768, 2048, 12, 12, 12, 32000, 1024
ROPE_THETA = 10000.0
STD = 0.02  # the usual Llama/GPT-2 initialisation scale


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rng = np.random.default_rng(110)
    head_dim = DIM // N_HEADS
    kv_dim = head_dim * N_KV_HEADS
    written = 0

    def matrix(f, rows, cols):
        nonlocal written
        a = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(STD)
        f.write(a.astype("<f4").tobytes())
        written += a.size

    def ones(f, n):
        nonlocal written
        f.write(np.ones(n, "<f4").tobytes())
        written += n

    with open(sys.argv[1], "wb") as f:
        # Legacy header: a positive vocab_size means the classifier is the embedding.
        f.write(struct.pack("<7i", DIM, HIDDEN, N_LAYERS, N_HEADS, N_KV_HEADS, VOCAB, SEQ_LEN))
        matrix(f, VOCAB, DIM)  # token embedding (vocab, dim)
        # Each kind stacked over the layers, in llama2.c's order.
        for rows, cols in [(None, DIM), (DIM, DIM), (kv_dim, DIM), (kv_dim, DIM), (DIM, DIM),
                           (None, DIM), (HIDDEN, DIM), (DIM, HIDDEN), (HIDDEN, DIM)]:
            for _ in range(N_LAYERS):
                if rows is None:
                    ones(f, cols)  # RMSNorm gain (dim,)
                else:
                    matrix(f, rows, cols)
        ones(f, DIM)  # final RMSNorm
        # The freq_cis tables run.c skips: cos then sin of pos * theta^(-2i/head_dim).
        i = np.arange(head_dim // 2, dtype=np.float64)
        angles = np.outer(np.arange(SEQ_LEN), ROPE_THETA ** (-2.0 * i / head_dim))
        f.write(np.cos(angles).astype("<f4").tobytes())
        f.write(np.sin(angles).astype("<f4").tobytes())
    print("wrote %s: %d parameters" % (sys.argv[1], written))


if __name__ == "__main__":
    main()
