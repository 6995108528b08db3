#!/usr/bin/python3
"""Write tests/tensor/quant_vectors.json: test vectors for kvscope's dequantizers, activation
quantizers and quantized dot products, computed by ggml_quants.py (numpy, from the format
definitions), independent of the C++ code.

    /usr/bin/python3 tests/tensor/make_quant_vectors.py

Deterministic (a fixed numpy Generator seed). Every byte string in the JSON is base64 of the
little-endian bytes; float32 values are stored by their bits so NaN payloads survive.
"""

import base64
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ggml_quants as gq  # noqa: E402

OUT = os.path.join(HERE, "quant_vectors.json")
SEED = 20261202
ACT_LEN = 512  # two Q8_K blocks, sixteen Q8_0 blocks

F16_POS_ZERO, F16_NEG_ZERO, F16_NEG_ONE = 0x0000, 0x8000, 0xBC00
F16_MIN_SUB, F16_MAX_SUB, F16_MAX = 0x0001, 0x03FF, 0x7BFF
F16_INF, F16_NEG_INF, F16_QNAN, F16_SNAN = 0x7C00, 0xFC00, 0x7E00, 0x7C01


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def f32_bytes(values):
    return np.asarray(values, dtype=np.float32).astype("<f4").tobytes()


def float_type_values(name, rng):
    """Ordinary values and every special kind: signed zeros, subnormals, extremes, infinities,
    quiet and signalling NaNs with payloads."""
    if name == "F32":
        special = np.array([0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000,
                            0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
                            0xFFC12345, 0x7F800001, 0x3F800000, 0xBF800000, 0x3EAAAAAB,
                            0x4B400001], dtype=np.uint32)
        normal = rng.standard_normal(48).astype(np.float32).view(np.uint32)
        return np.concatenate([special, normal]).astype("<u4").tobytes()
    special = {
        "F16": [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
                0x7E00, 0xFE00, 0x7C01, 0x7FFF, 0x3C00, 0xBC00, 0x3555, 0x0200],
        "BF16": [0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0,
                 0xFFC1, 0x7F81, 0x3F80, 0xBF80, 0x3EAB, 0x4049, 0x0040, 0x7FFF],
    }[name]
    normal = rng.integers(0, 1 << 16, size=64 - len(special), dtype=np.uint16)
    if name == "F16":
        normal = np.where((normal & 0x7C00) == 0x7C00, normal & 0xBFFF, normal)  # finite
    else:
        normal = np.where((normal & 0x7F80) == 0x7F80, normal & 0xBFFF, normal)
    return np.concatenate([np.array(special, np.uint16), normal]).astype("<u2").tobytes()


def edge_blocks(name, rng):
    """Random blocks with their scales set to edge values and some quant bytes at extremes.
    Returns (bytes, notes)."""
    dt = gq.BLOCK_DTYPES[name]
    fields = dt.names
    k_min = "dmin" in fields  # Q2_K, Q4_K, Q5_K
    if name in ("Q4_0", "Q5_0", "Q8_0", "Q4_1", "Q5_1"):
        cases = [  # (d, m, fill of the quants or None, note)
            (F16_POS_ZERO, 0x3C00, None, "d = +0"),
            (F16_NEG_ZERO, 0xB800, None, "d = -0"),
            (F16_NEG_ONE, 0x0001, 0xFF, "d = -1, every quant byte 0xFF; m subnormal"),
            (0x3800, F16_NEG_ZERO, 0x00, "d = 0.5, every quant byte 0x00; m = -0"),
            (F16_MIN_SUB, F16_MAX_SUB, None, "d = smallest f16 subnormal; m largest subnormal"),
            (F16_MAX_SUB, F16_MAX, 0x80, "d = largest f16 subnormal, quant bytes 0x80; m max"),
            (F16_MAX, 0xFBFF, 0x7F, "d = 65504, quant bytes 0x7F; m = -65504"),
            (F16_INF, F16_NEG_INF, None, "d = +inf; m = -inf"),
            (F16_NEG_INF, 0x3C00, None, "d = -inf"),
            (F16_QNAN, 0x3C00, None, "d = quiet NaN"),
            (0x3C00, F16_SNAN, None, "d = 1; m = signalling NaN (payload 1)"),
            (F16_SNAN, F16_QNAN, None, "d = signalling NaN (payload 1); m = quiet NaN"),
        ]
    elif k_min:
        cases = [  # (d, dmin, quant fill, scale fill, note)
            (F16_NEG_ONE, F16_POS_ZERO, 0xFF, 0xFF, "d = -1, dmin = +0, quants and scales 0xFF"),
            (F16_MIN_SUB, F16_MAX, 0x00, None, "d = smallest subnormal, dmin = 65504, quants 0x00"),
            (F16_INF, F16_QNAN, None, 0x00, "d = +inf, dmin = quiet NaN, scales 0x00"),
            (F16_NEG_ZERO, F16_NEG_INF, 0x55, None, "d = -0, dmin = -inf, quants 0x55"),
        ]
    else:  # Q3_K, Q6_K
        cases = [  # (d, quant fill, scale fill, note)
            (F16_NEG_ONE, 0xFF, 0x00, "d = -1, quants 0xFF, scale bytes 0x00"),
            (F16_MIN_SUB, 0x00, 0xFF, "d = smallest subnormal, quants 0x00, scale bytes 0xFF"),
            (F16_MAX, 0xAA, 0x80, "d = 65504, quants 0xAA, scale bytes 0x80"),
            (F16_SNAN, None, None, "d = signalling NaN (payload 1)"),
        ]
    b = np.frombuffer(gq.random_blocks(name, len(cases), rng), dtype=dt).copy()
    quant_fields = [f for f in ("qs", "qh", "ql", "hmask") if f in fields]
    notes = []
    for i, case in enumerate(cases):
        if name in ("Q4_0", "Q5_0", "Q8_0", "Q4_1", "Q5_1"):
            d, m, fill, note = case
            scale_fill = None
            if "m" in fields:
                b["m"][i] = m
            else:
                note = note.split(";")[0]
        elif k_min:
            d, dmin, fill, scale_fill, note = case
            b["dmin"][i] = dmin
        else:
            d, fill, scale_fill, note = case
        b["d"][i] = d
        if fill is not None:
            for f in quant_fields:
                b[f][i] = np.frombuffer(bytes([fill]) * b[f][i].nbytes,
                                        dtype=b[f][i].dtype).reshape(b[f][i].shape)
        if scale_fill is not None:
            b["scales"][i] = np.frombuffer(bytes([scale_fill]) * b["scales"][i].nbytes,
                                           dtype=b["scales"][i].dtype)
        notes.append(note)
    return b.tobytes(), notes


def activation_vectors(rng):
    gaussian = rng.standard_normal(ACT_LEN).astype(np.float32)
    # Small values with a few large channels (as transformer activations have), and a zero
    # Q8_K block (so zero Q8_0 blocks too).
    outliers = (0.1 * rng.standard_normal(ACT_LEN)).astype(np.float32)
    outliers[[3, 40, 77, 200]] = [35.0, -61.5, 20.25, -44.0]
    outliers[256:] = 0.0
    outliers[300] = 1e-30  # one tiny value: a block whose f16 scale underflows to zero
    # Exact rounding ties: each block's largest magnitude is 127, so Q8_0's multiplier 127/amax
    # and Q8_K's -127/max are +-1 and x.5 must round half to even.
    ties = (rng.integers(-126, 126, ACT_LEN) + 0.5).astype(np.float32)
    for blk in range(ACT_LEN // 32):
        ties[32 * blk + (blk * 7) % 32] = 127.0 if blk % 2 else -127.0
    ties[5], ties[9] = -127.0, 127.0  # Q8_K block 0: the first largest magnitude (-127) wins
    return {"gaussian": gaussian, "outliers": outliers, "ties": ties}


def main():
    rng = np.random.default_rng(SEED)
    out = {
        "about": "made by tests/tensor/make_quant_vectors.py with ggml_quants.py; bytes are "
                 "base64, little-endian; float32 values by their bits",
        "types": [],
        "activations": [],
        "dots": [],
    }
    for name in gq.WEIGHT_TYPES:
        info = gq.TYPES[name]
        if info.block_size == 1:
            data, notes = float_type_values(name, rng), ["ordinary and special values"]
        else:
            n_random = 1 if info.block_size == gq.QK_K else 4
            edges, edge_notes = edge_blocks(name, rng)
            data = gq.random_blocks(name, n_random, rng) + edges
            notes = [f"blocks 0..{n_random - 1}: random bits"] + [
                f"block {n_random + i}: {note}" for i, note in enumerate(edge_notes)]
        n = len(data) // info.block_bytes * info.block_size
        values = gq.dequantize(name, data, n)
        out["types"].append({"name": name, "id": info.type_id, "block_size": info.block_size,
                             "block_bytes": info.block_bytes, "n": n, "blocks": b64(data),
                             "values": b64(f32_bytes(values)), "notes": notes})
        print(f"{name:5s} {n:5d} values, {np.isnan(values).sum():4d} NaN, "
              f"{np.isinf(values).sum():4d} inf")

    acts = activation_vectors(rng)
    for key, x in acts.items():
        out["activations"].append({"name": key, "x": b64(f32_bytes(x)),
                                   "q8_0": b64(gq.quantize_q8_0_activation(x)),
                                   "q8_K": b64(gq.quantize_q8_K(x))})

    # Integer dot products: one random row per quantized type against each activation vector.
    for name in gq.ACTIVATION_TYPE:
        info = gq.TYPES[name]
        row = gq.random_blocks(name, ACT_LEN // info.block_size, rng)
        exact = [gq.dot_q8_exact(name, row, x) for x in acts.values()]
        out["dots"].append({"type": name, "n": ACT_LEN, "row": b64(row), "x": list(acts),
                            "dot_q8_exact": [e[0] for e in exact],
                            "dot_q8_magnitude": [e[1] for e in exact]})

    # Sanity of the Python quantizers (not part of the fixture): round trip error per type.
    x = rng.standard_normal(4 * gq.QK_K).astype(np.float32)
    for name in gq.WEIGHT_TYPES:
        y = gq.dequantize(name, gq.quantize(name, x), x.size)
        rel = np.linalg.norm(y - x) / np.linalg.norm(x)
        print(f"round trip {name:5s}: relative L2 error {rel:.2e}")

    text = json.dumps(out, indent=1) + "\n"
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT}: {len(text)} bytes")


if __name__ == "__main__":
    main()
