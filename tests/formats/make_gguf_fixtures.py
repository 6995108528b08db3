#!/usr/bin/env python3
"""Writes the small GGUF files core.gguf reads (tests/formats/gguf/, committed), each with a
<name>.gguf.json manifest of exactly what was written (gguf_writer.GgufWriter.manifest()).

    /usr/bin/python3 tests/formats/make_gguf_fixtures.py

- all_types_v3.gguf: version 3, general.alignment 64 (first key), a value of every metadata type
  (the edges of each integer range, a subnormal, negative zero, UTF-8 text, an empty string), an
  array of each type, an empty array, arrays of arrays two and three deep, and six tensors of
  five ggml types in 1 to 4 dimensions (quantized ones as random blocks: the reader only locates
  bytes).
- default_alignment_v2.gguf: version 2, no general.alignment (so 32), tensors laid out with
  padding between them and the second in the file placed before the first.
- vocab_only_v3.gguf: no tensors, a SentencePiece-style vocabulary as llama.cpp writes one.
"""

import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gguf_writer import GGML, Array, GgufWriter, T, tensor_nbytes  # noqa: E402

OUT = HERE / "gguf"


def random_bytes(rng, ggml_type, dims):
    return rng.integers(0, 256, tensor_nbytes(ggml_type, dims), dtype=np.uint8).tobytes()


def all_types():
    rng = np.random.default_rng(11)
    w = GgufWriter(version=3, alignment=64)
    w.add("general.architecture", T.STRING, "llama")
    w.add("general.name", T.STRING, "kvscope test fixture: h\u00e9llo \u2581world \U0001f642")
    w.add("test.empty_string", T.STRING, "")
    w.add("test.uint8", T.UINT8, 255)
    w.add("test.int8", T.INT8, -128)
    w.add("test.uint16", T.UINT16, 65535)
    w.add("test.int16", T.INT16, -32768)
    w.add("test.uint32", T.UINT32, 2**32 - 1)
    w.add("test.int32", T.INT32, -2**31)
    w.add("test.int32_small", T.INT32, 4096)
    w.add("test.uint64", T.UINT64, 2**64 - 1)
    w.add("test.uint64_small", T.UINT64, 2048)
    w.add("test.int64", T.INT64, -2**63)
    w.add("test.float32", T.FLOAT32, -1.5)
    w.add("test.float32_subnormal", T.FLOAT32, float(np.float32(1e-45)))
    w.add("test.float32_negative_zero", T.FLOAT32, -0.0)
    w.add("test.float64", T.FLOAT64, np.pi)
    w.add("test.bool_true", T.BOOL, True)
    w.add("test.bool_false", T.BOOL, False)
    w.add("llama.context_length", T.UINT32, 128)
    w.add("llama.attention.layer_norm_rms_epsilon", T.FLOAT32, 1e-5)
    w.add("test.array.uint8", T.ARRAY, Array(T.UINT8, [0, 1, 255]))
    w.add("test.array.int8", T.ARRAY, Array(T.INT8, [-128, 0, 127]))
    w.add("test.array.uint16", T.ARRAY, Array(T.UINT16, [0, 65535]))
    w.add("test.array.int16", T.ARRAY, Array(T.INT16, [-32768, 32767]))
    w.add("test.array.uint32", T.ARRAY, Array(T.UINT32, [0, 7, 2**32 - 1]))
    w.add("test.array.int32", T.ARRAY, Array(T.INT32, [-2**31, -1, 2**31 - 1]))
    w.add("test.array.float32", T.ARRAY, Array(T.FLOAT32, [0.5, -2.25, 3.4028234663852886e38]))
    w.add("test.array.bool", T.ARRAY, Array(T.BOOL, [True, False, True]))
    w.add("test.array.string", T.ARRAY, Array(T.STRING, ["a", "", "\u2581the", "<0x0A>"]))
    w.add("test.array.uint64", T.ARRAY, Array(T.UINT64, [2**64 - 1, 0]))
    w.add("test.array.int64", T.ARRAY, Array(T.INT64, [-2**63, 2**63 - 1]))
    w.add("test.array.float64", T.ARRAY, Array(T.FLOAT64, [1e-300, -np.e]))
    w.add("test.array.empty", T.ARRAY, Array(T.INT32, []))
    w.add("test.array.nested", T.ARRAY, Array(T.ARRAY, [
        Array(T.INT32, [1, 2]), Array(T.INT32, [3]), Array(T.STRING, ["x"]), Array(T.UINT8, [])]))
    w.add("test.array.nested3", T.ARRAY, Array(T.ARRAY, [
        Array(T.ARRAY, [Array(T.STRING, ["deep"]), Array(T.FLOAT32, [0.25])])]))
    tensors = [
        ("token_embd.weight", GGML.F32, [8, 4]),
        ("blk.0.attn_q.weight", GGML.Q8_0, [64, 3]),
        ("blk.0.ffn_down.weight", GGML.Q4_K, [256, 2]),
        ("output_norm.weight", GGML.F16, [8]),
        ("blk.0.attn_k.weight", GGML.BF16, [2, 3, 2]),
        ("test.four_dims", GGML.F32, [2, 1, 3, 1]),
    ]
    for name, ggml_type, dims in tensors:
        w.add_tensor(name, ggml_type, dims, random_bytes(rng, ggml_type, dims))
    return w


def default_alignment():
    rng = np.random.default_rng(12)
    w = GgufWriter(version=2)
    w.add("general.architecture", T.STRING, "gpt2")
    w.add("gpt2.block_count", T.UINT32, 1)
    w.add("gpt2.attention.layer_norm_epsilon", T.FLOAT32, 1e-5)
    # Offsets given by hand: the first tensor in the table sits after the second in the data
    # section, with gaps (multiples of 32) before and between them.
    w.add_tensor("wte", GGML.F32, [3, 5], rng.standard_normal((5, 3)).astype("<f4"), offset=128)
    w.add_tensor("blk.0.attn_v.weight", GGML.Q4_0, [32, 2],
                 random_bytes(rng, GGML.Q4_0, [32, 2]), offset=32)
    return w


def vocab_only():
    w = GgufWriter(version=3)
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + [
        "\u2581", "\u2581the", "\u2581a", "s", "\u2581\u4e16\u754c"]
    w.add("general.architecture", T.STRING, "llama")
    w.add("tokenizer.ggml.model", T.STRING, "llama")
    w.add("tokenizer.ggml.tokens", T.ARRAY, Array(T.STRING, pieces))
    w.add("tokenizer.ggml.scores", T.ARRAY,
          Array(T.FLOAT32, [0.0] * 259 + [-1.0, -2.0, -3.5, -4.0, -1000.0]))
    w.add("tokenizer.ggml.token_type", T.ARRAY,
          Array(T.INT32, [2, 3, 3] + [6] * 256 + [1] * 5))
    w.add("tokenizer.ggml.bos_token_id", T.UINT32, 1)
    w.add("tokenizer.ggml.eos_token_id", T.UINT32, 2)
    w.add("tokenizer.ggml.add_bos_token", T.BOOL, True)
    return w


def main():
    OUT.mkdir(exist_ok=True)
    for name, make in [("all_types_v3.gguf", all_types),
                       ("default_alignment_v2.gguf", default_alignment),
                       ("vocab_only_v3.gguf", vocab_only)]:
        make().write_with_manifest(OUT / name)
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
