#!/usr/bin/python3
"""The ggml weight types in numpy, written from the format definitions (ggml-common.h's block
structs, ggml-quants.c's reference dequantizers), independent of kvscope's C++ code.

Importable: `import ggml_quants as gq` with tests/tensor on sys.path.

    gq.TYPES["Q4_K"]                    -> TypeInfo(name, type_id, block_size, block_bytes)
    gq.quantize("Q4_K", x)              -> bytes (x: float32 values, a multiple of the block size)
    gq.dequantize("Q4_K", data, n)      -> float32 array, bit for bit what ggml's dequantize_row_*
                                           computes (float32 arithmetic in ggml's operation order)
    gq.random_blocks("Q4_K", k, rng)    -> bytes of k valid blocks with random bits and finite scales
    gq.quantize_q8_0_activation(x)      -> bytes of Q8_0 blocks as llama.cpp's x86 code quantizes
                                           an activation vector (scale max|x|/127, round half even)
    gq.quantize_q8_K(x)                 -> bytes of Q8_K blocks (float d, int8 values, int16 sums
                                           per 16) as ggml's quantize_row_q8_K_ref
    gq.dot_q8_exact("Q4_K", data, x)    -> float64 dot of the row with x quantized the way the
                                           type's llama.cpp dot product expects (Q8_0 or Q8_K)
    gq.unpack("Q4_K", data)             -> the integers of each block (quants, sub-block scales and
                                           mins) and its float scales

Quantization here is simple (per-block min/max); it produces valid blocks, not llama.cpp's scales.
Needs numpy only.
"""

from typing import NamedTuple

import numpy as np

QK_K = 256
F32 = np.float32


class TypeInfo(NamedTuple):
    name: str
    type_id: int  # ggml_type, as stored in GGUF tensor infos
    block_size: int  # values per block
    block_bytes: int  # bytes per block


# Block layouts as packed numpy records, field order and widths as in ggml-common.h; every
# multi-byte field is little-endian. f16 fields are kept as their uint16 bits.
BLOCK_DTYPES = {
    # d (f16) | 16 bytes: byte j = value j (low nibble), value j+16 (high nibble); q - 8
    "Q4_0": np.dtype([("d", "<u2"), ("qs", "u1", 16)]),
    # d, m (f16) | nibbles as Q4_0; q*d + m
    "Q4_1": np.dtype([("d", "<u2"), ("m", "<u2"), ("qs", "u1", 16)]),
    # d | qh: bit j is the fifth bit of value j | nibbles as Q4_0; q - 16
    "Q5_0": np.dtype([("d", "<u2"), ("qh", "<u4"), ("qs", "u1", 16)]),
    "Q5_1": np.dtype([("d", "<u2"), ("m", "<u2"), ("qh", "<u4"), ("qs", "u1", 16)]),
    "Q8_0": np.dtype([("d", "<u2"), ("qs", "i1", 32)]),
    # 16 bytes: sub-block scale (low nibble) and min (high nibble) | 2-bit quants | d, dmin
    "Q2_K": np.dtype([("scales", "u1", 16), ("qs", "u1", 64), ("d", "<u2"), ("dmin", "<u2")]),
    # high bits | low 2 bits | 16 6-bit scales in 12 bytes | d
    "Q3_K": np.dtype([("hmask", "u1", 32), ("qs", "u1", 64), ("scales", "u1", 12), ("d", "<u2")]),
    # d, dmin | 8 6-bit scales and 8 6-bit mins in 12 bytes | nibbles
    "Q4_K": np.dtype([("d", "<u2"), ("dmin", "<u2"), ("scales", "u1", 12), ("qs", "u1", 128)]),
    "Q5_K": np.dtype([("d", "<u2"), ("dmin", "<u2"), ("scales", "u1", 12), ("qh", "u1", 32),
                      ("qs", "u1", 128)]),
    # low 4 bits | high 2 bits | 16 int8 scales | d
    "Q6_K": np.dtype([("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<u2")]),
    # activation type of the K-quant dot products: float d, int8 values, int16 sums per 16
    "Q8_K": np.dtype([("d", "<f4"), ("qs", "i1", 256), ("bsums", "<i2", 16)]),
}

TYPES = {t.name: t for t in [
    TypeInfo("F32", 0, 1, 4),
    TypeInfo("F16", 1, 1, 2),
    TypeInfo("Q4_0", 2, 32, 18),
    TypeInfo("Q4_1", 3, 32, 20),
    TypeInfo("Q5_0", 6, 32, 22),
    TypeInfo("Q5_1", 7, 32, 24),
    TypeInfo("Q8_0", 8, 32, 34),
    TypeInfo("Q2_K", 10, QK_K, 84),
    TypeInfo("Q3_K", 11, QK_K, 110),
    TypeInfo("Q4_K", 12, QK_K, 144),
    TypeInfo("Q5_K", 13, QK_K, 176),
    TypeInfo("Q6_K", 14, QK_K, 210),
    TypeInfo("Q8_K", 15, QK_K, 292),
    TypeInfo("BF16", 30, 1, 2),
]}
for _name, _dt in BLOCK_DTYPES.items():
    assert _dt.itemsize == TYPES[_name].block_bytes, _name

# The weight types kvscope computes with (Q8_K only serves as the activation type).
WEIGHT_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

# The activation type each quantized weight type's dot product takes (ggml's vec_dot_type; Q4_1
# and Q5_1 use Q8_1 there, whose sum term kvscope computes from the int8 values instead).
ACTIVATION_TYPE = {"Q4_0": "Q8_0", "Q4_1": "Q8_0", "Q5_0": "Q8_0", "Q5_1": "Q8_0",
                   "Q8_0": "Q8_0", "Q2_K": "Q8_K", "Q3_K": "Q8_K", "Q4_K": "Q8_K",
                   "Q5_K": "Q8_K", "Q6_K": "Q8_K"}


# ---------------------------------------------------------------------------------------------
# Half and bfloat16 by their bits

def f16_bits_to_f32(h):
    """IEEE binary16 bits -> float32, exactly, keeping NaN payloads (no hardware conversion)."""
    h = np.asarray(h, dtype=np.uint16).astype(np.uint32)
    sign = (h & 0x8000) << 16
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    bits = sign | ((exp + 112) << 23) | (mant << 13)  # normal numbers
    bits = np.where(exp == 0x1F, sign | 0x7F800000 | (mant << 13), bits)  # inf, NaN
    # zero and subnormals: mant * 2^-24 is exact in float32 (and normal there)
    sub = (mant.astype(F32) * F32(2.0 ** -24)).view(np.uint32)
    bits = np.where(exp == 0, sign | sub, bits)
    return bits.astype(np.uint32).view(F32)


def f32_to_f16_bits(x):
    """float32 -> binary16 bits, round to nearest even (numpy's conversion)."""
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=F32).astype(np.float16).view(np.uint16)


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(F32)


def f32_to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN (as ggml does)."""
    u = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(is_nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# Where each value of a block lives. For value e of a block: which byte holds its low bits, at
# which shift, which bit holds its high bit, which sub-block (scale) it belongs to.

_E32 = np.arange(32)
# Q4_0/Q4_1/Q5_0/Q5_1: byte e % 16, low nibble for e < 16, high nibble otherwise; high bit e.
_NIB32_BYTE = _E32 % 16
_NIB32_SHIFT = 4 * (_E32 // 16)

_E = np.arange(QK_K)
# Q2_K/Q3_K: each 128 values use 32 bytes; value 128*h + 32*j + l is bits 2j..2j+1 of byte
# 32*h + l. Q3_K's high bit of that value is bit 4*h + j of hmask[l].
_Q2_BYTE = (_E // 128) * 32 + _E % 32
_Q2_SHIFT = 2 * ((_E % 128) // 32)
_Q3_HBIT = (_E // 128) * 4 + (_E % 128) // 32
_Q3_HBYTE = _E % 32
# Q4_K/Q5_K: each 64 values use 32 bytes; value 64*g + 32*hi + l is nibble hi of byte 32*g + l;
# Q5_K's fifth bit of it is bit 2*g + hi of qh[l].
_Q4_BYTE = (_E // 64) * 32 + _E % 32
_Q4_SHIFT = 4 * ((_E % 64) // 32)
_Q5_HBIT = 2 * (_E // 64) + (_E % 64) // 32
_Q5_HBYTE = _E % 32
# Q6_K: each 128 values use 64 ql bytes and 32 qh bytes; value 128*h + 32*k + l takes its low
# nibble from ql[64*h + l + 32*(k odd)] (high nibble when k >= 2) and its bits 4-5 from bits
# 2k..2k+1 of qh[32*h + l].
_k6 = (_E % 128) // 32
_Q6_LBYTE = (_E // 128) * 64 + _E % 32 + 32 * (_k6 % 2)
_Q6_LSHIFT = 4 * (_k6 // 2)
_Q6_HBYTE = (_E // 128) * 32 + _E % 32
_Q6_HSHIFT = 2 * _k6


def _k4_scales_mins(sc):
    """The 8 6-bit scales and 8 6-bit mins of Q4_K/Q5_K from their 12 bytes (n, 12) -> (n, 8)
    each: sub-block j < 4 keeps the low 6 bits of bytes j (scale) and j + 4 (min); j >= 4 takes
    its low 4 bits from byte j + 4 (low nibble: scale, high nibble: min) and its top 2 bits from
    the top 2 bits of byte j - 4 (scale) or byte j (min)."""
    sc = sc.astype(np.int32)
    scales = np.empty((sc.shape[0], 8), np.int32)
    mins = np.empty((sc.shape[0], 8), np.int32)
    for j in range(8):
        if j < 4:
            scales[:, j] = sc[:, j] & 63
            mins[:, j] = sc[:, j + 4] & 63
        else:
            scales[:, j] = (sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4)
            mins[:, j] = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
    return scales, mins


def _k4_pack_scales_mins(scales, mins):
    """Inverse of _k4_scales_mins: (n, 8) values in 0..63 each -> (n, 12) bytes."""
    out = np.zeros((scales.shape[0], 12), np.int32)
    for j in range(8):
        if j < 4:
            out[:, j] |= scales[:, j] & 63
            out[:, j + 4] |= mins[:, j] & 63
        else:
            out[:, j + 4] |= (scales[:, j] & 0xF) | ((mins[:, j] & 0xF) << 4)
            out[:, j - 4] |= (scales[:, j] >> 4) << 6
            out[:, j] |= (mins[:, j] >> 4) << 6
    return out.astype(np.uint8)


def _q3_scales(sc):
    """Q3_K's 16 6-bit scales (stored + 32) from 12 bytes (n, 12) -> (n, 16) in -32..31: the
    low 4 bits of scale k are the low (k < 8) or high (k >= 8) nibble of byte k % 8, its top 2
    bits are bits 2*(k // 4) .. +1 of byte 8 + k % 4."""
    sc = sc.astype(np.int32)
    out = np.empty((sc.shape[0], 16), np.int32)
    for k in range(16):
        low = (sc[:, k] & 0xF) if k < 8 else (sc[:, k - 8] >> 4)
        high = (sc[:, 8 + k % 4] >> (2 * (k // 4))) & 3
        out[:, k] = (low | (high << 4)) - 32
    return out


def _q3_pack_scales(scales):
    """Inverse of _q3_scales: (n, 16) values in -32..31 -> (n, 12) bytes."""
    u = (scales + 32).astype(np.int32)
    out = np.zeros((u.shape[0], 12), np.int32)
    for k in range(16):
        if k < 8:
            out[:, k] |= u[:, k] & 0xF
        else:
            out[:, k - 8] |= (u[:, k] & 0xF) << 4
        out[:, 8 + k % 4] |= ((u[:, k] >> 4) & 3) << (2 * (k // 4))
    return out.astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Blocks <-> integers

def blocks(name, data):
    return np.frombuffer(bytes(data), dtype=BLOCK_DTYPES[name])


def unpack(name, data):
    """Integers of each block. Returns a dict: q (nblocks, block_size) int32 values as the
    format centres them, scale and min (nblocks, sub-blocks) int32 per sub-block (1 and 0 for the
    32-value types), d and dmin (nblocks,) float32 (dmin: the min `m` of Q4_1/Q5_1, the
    super-block min scale of Q2_K/Q4_K/Q5_K, 0 otherwise), sub (block_size,) the sub-block of
    each value.

    Value i of block b is, in ggml's float32 operation order:
      Q4_0, Q5_0, Q8_0:    q*d
      Q4_1, Q5_1:          q*d + dmin
      Q2_K, Q4_K, Q5_K:    (d*scale)*q - (dmin*min)
      Q3_K, Q6_K:          (d*scale)*q
    """
    b = blocks(name, data)
    n = len(b)
    d = f16_bits_to_f32(b["d"]) if name != "Q8_K" else b["d"].astype(F32)
    dmin = np.zeros(n, F32)
    one = np.ones((n, 1), np.int32)
    zero = np.zeros((n, 1), np.int32)
    if name in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
        qs = b["qs"].astype(np.int32)
        q = (qs[:, _NIB32_BYTE] >> _NIB32_SHIFT) & 0xF
        if name in ("Q5_0", "Q5_1"):
            qh = b["qh"].astype(np.int64)
            q = q | (((qh[:, None] >> _E32) & 1) << 4).astype(np.int32)
        if name == "Q4_0":
            q = q - 8
        if name == "Q5_0":
            q = q - 16
        if name in ("Q4_1", "Q5_1"):
            dmin = f16_bits_to_f32(b["m"])
        return dict(q=q, scale=one, min=zero, d=d, dmin=dmin, sub=np.zeros(32, int))
    if name == "Q8_0":
        return dict(q=b["qs"].astype(np.int32), scale=one, min=zero, d=d, dmin=dmin,
                    sub=np.zeros(32, int))
    if name == "Q8_K":
        return dict(q=b["qs"].astype(np.int32), scale=one, min=zero, d=d, dmin=dmin,
                    sub=np.zeros(QK_K, int))
    if name == "Q2_K":
        q = (b["qs"].astype(np.int32)[:, _Q2_BYTE] >> _Q2_SHIFT) & 3
        sc = b["scales"].astype(np.int32)
        return dict(q=q, scale=sc & 0xF, min=sc >> 4, d=d, dmin=f16_bits_to_f32(b["dmin"]),
                    sub=_E // 16)
    if name == "Q3_K":
        low = (b["qs"].astype(np.int32)[:, _Q2_BYTE] >> _Q2_SHIFT) & 3
        high = (b["hmask"].astype(np.int32)[:, _Q3_HBYTE] >> _Q3_HBIT) & 1
        q = low - np.where(high == 1, 0, 4)
        return dict(q=q, scale=_q3_scales(b["scales"]), min=np.zeros((n, 16), np.int32), d=d,
                    dmin=dmin, sub=_E // 16)
    if name in ("Q4_K", "Q5_K"):
        q = (b["qs"].astype(np.int32)[:, _Q4_BYTE] >> _Q4_SHIFT) & 0xF
        if name == "Q5_K":
            q = q + 16 * ((b["qh"].astype(np.int32)[:, _Q5_HBYTE] >> _Q5_HBIT) & 1)
        scales, mins = _k4_scales_mins(b["scales"])
        return dict(q=q, scale=scales, min=mins, d=d, dmin=f16_bits_to_f32(b["dmin"]),
                    sub=_E // 32)
    if name == "Q6_K":
        low = (b["ql"].astype(np.int32)[:, _Q6_LBYTE] >> _Q6_LSHIFT) & 0xF
        high = (b["qh"].astype(np.int32)[:, _Q6_HBYTE] >> _Q6_HSHIFT) & 3
        return dict(q=(low | (high << 4)) - 32, scale=b["scales"].astype(np.int32),
                    min=np.zeros((n, 16), np.int32), d=d, dmin=dmin, sub=_E // 16)
    raise ValueError(f"unpack: no block layout for {name}")


def dequantize(name, data, n):
    """float32 values of n elements stored as `name`, bit for bit as ggml's dequantize_row_*."""
    data = bytes(data)
    info = TYPES[name]
    if n % info.block_size or len(data) != n // info.block_size * info.block_bytes:
        raise ValueError(f"dequantize {name}: {n} values do not match {len(data)} bytes")
    if name == "F32":
        return np.frombuffer(data, dtype="<u4").view(F32).copy()
    if name == "F16":
        return f16_bits_to_f32(np.frombuffer(data, dtype="<u2"))
    if name == "BF16":
        return bf16_bits_to_f32(np.frombuffer(data, dtype="<u2"))
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf scales are data too
        return _dequantize_blocks(name, unpack(name, data))


def _dequantize_blocks(name, u):
    q = u["q"].astype(F32)
    d = u["d"][:, None]
    if name in ("Q4_0", "Q5_0", "Q8_0", "Q8_K"):
        y = q * d
    elif name in ("Q4_1", "Q5_1"):
        y = q * d + u["dmin"][:, None]
    else:
        sub = u["sub"]
        dl = d * u["scale"].astype(F32)[:, sub]  # d*scale, one float32 product per sub-block
        y = dl * q
        if name in ("Q2_K", "Q4_K", "Q5_K"):
            ml = u["dmin"][:, None] * u["min"].astype(F32)[:, sub]
            y = y - ml
    assert y.dtype == F32
    return y.reshape(-1)


# ---------------------------------------------------------------------------------------------
# Quantizers (simple and valid; not llama.cpp's scale search)

def _rint_clip(v, lo, hi):
    return np.clip(np.rint(v), lo, hi).astype(np.int32)


def _safe_div(a, b):
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _signed_absmax(x):
    """Per row the value of largest magnitude, with its sign (first one on ties)."""
    idx = np.argmax(np.abs(x), axis=-1)
    return np.take_along_axis(x, idx[..., None], axis=-1)[..., 0]


def _pack_nibbles32(q):
    """(n, 32) values 0..15 -> (n, 16) bytes: value j low nibble, value j+16 high nibble."""
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def _pack_bits(values, byte_index, shift, nbytes):
    """(n, k) small unsigned values -> (n, nbytes) bytes, value e OR-ed into byte_index[e] at
    shift[e]."""
    out = np.zeros((values.shape[0], nbytes), np.int64)
    for e in range(values.shape[1]):
        out[:, byte_index[e]] |= values[:, e].astype(np.int64) << shift[e]
    return out.astype(np.uint8)


def _quantize_blocks(name, x):
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    b = np.zeros(n, dtype=BLOCK_DTYPES[name])
    if name in ("Q8_0", "Q4_0", "Q5_0"):
        if name == "Q8_0":
            d = np.max(np.abs(x), axis=1) / 127.0
        else:
            d = _signed_absmax(x) / (-8.0 if name == "Q4_0" else -16.0)
        b["d"] = f32_to_f16_bits(d)
        d = f16_bits_to_f32(b["d"]).astype(np.float64)
        v = _safe_div(x, d[:, None])
        if name == "Q8_0":
            b["qs"] = _rint_clip(v, -127, 127)
        elif name == "Q4_0":
            b["qs"] = _pack_nibbles32(_rint_clip(v + 8, 0, 15))
        else:
            q = _rint_clip(v + 16, 0, 31)
            b["qs"] = _pack_nibbles32(q & 0xF)
            b["qh"] = np.sum((q >> 4).astype(np.uint64) << np.arange(32, dtype=np.uint64),
                             axis=1).astype(np.uint32)
        return b
    if name in ("Q4_1", "Q5_1"):
        nmax = 15 if name == "Q4_1" else 31
        lo, hi = x.min(axis=1), x.max(axis=1)
        b["d"] = f32_to_f16_bits((hi - lo) / nmax)
        b["m"] = f32_to_f16_bits(lo)
        d = f16_bits_to_f32(b["d"]).astype(np.float64)[:, None]
        m = f16_bits_to_f32(b["m"]).astype(np.float64)[:, None]
        q = _rint_clip(_safe_div(x - m, d), 0, nmax)
        b["qs"] = _pack_nibbles32(q & 0xF)
        if name == "Q5_1":
            b["qh"] = np.sum((q >> 4).astype(np.uint64) << np.arange(32, dtype=np.uint64),
                             axis=1).astype(np.uint32)
        return b
    if name in ("Q2_K", "Q4_K", "Q5_K"):
        sub_size, nmax, smax = {"Q2_K": (16, 3, 15), "Q4_K": (32, 15, 63),
                                "Q5_K": (32, 31, 63)}[name]
        xs = x.reshape(n, -1, sub_size)
        lo = np.minimum(xs.min(axis=2), 0.0)  # the offset is -dmin*min <= 0
        scale = (xs.max(axis=2) - lo) / nmax
        b["d"] = f32_to_f16_bits(scale.max(axis=1) / smax)
        b["dmin"] = f32_to_f16_bits((-lo).max(axis=1) / smax)
        d = f16_bits_to_f32(b["d"]).astype(np.float64)[:, None]
        dmin = f16_bits_to_f32(b["dmin"]).astype(np.float64)[:, None]
        sc = _rint_clip(_safe_div(scale, d), 0, smax)
        mn = _rint_clip(_safe_div(-lo, dmin), 0, smax)
        step = (d * sc)[:, :, None]
        q = _rint_clip(_safe_div(xs + (dmin * mn)[:, :, None], step), 0, nmax).reshape(n, -1)
        if name == "Q2_K":
            b["scales"] = (sc | (mn << 4)).astype(np.uint8)
            b["qs"] = _pack_bits(q, _Q2_BYTE, _Q2_SHIFT, 64)
        else:
            b["scales"] = _k4_pack_scales_mins(sc, mn)
            b["qs"] = _pack_bits(q & 0xF, _Q4_BYTE, _Q4_SHIFT, 128)
            if name == "Q5_K":
                b["qh"] = _pack_bits(q >> 4, _Q5_HBYTE, _Q5_HBIT, 32)
        return b
    if name in ("Q3_K", "Q6_K"):
        qmin, qmax, smin, smax = {"Q3_K": (-4, 3, -32, 31), "Q6_K": (-32, 31, -128, 127)}[name]
        xs = x.reshape(n, 16, 16)
        scale = _signed_absmax(xs) / qmin  # the largest magnitude maps to qmin exactly
        b["d"] = f32_to_f16_bits(np.abs(scale).max(axis=1) / smax)
        d = f16_bits_to_f32(b["d"]).astype(np.float64)[:, None]
        sc = _rint_clip(_safe_div(scale, d), smin, smax)
        q = _rint_clip(_safe_div(xs, (d * sc)[:, :, None]), qmin, qmax).reshape(n, -1)
        if name == "Q3_K":
            u = q + 4
            b["scales"] = _q3_pack_scales(sc)
            b["qs"] = _pack_bits(u & 3, _Q2_BYTE, _Q2_SHIFT, 64)
            b["hmask"] = _pack_bits(u >> 2, _Q3_HBYTE, _Q3_HBIT, 32)
        else:
            u = q + 32
            b["scales"] = sc.astype(np.int8)
            b["ql"] = _pack_bits(u & 0xF, _Q6_LBYTE, _Q6_LSHIFT, 128)
            b["qh"] = _pack_bits(u >> 4, _Q6_HBYTE, _Q6_HSHIFT, 64)
        return b
    raise ValueError(f"quantize: no quantizer for {name}")


def quantize(name, x):
    """float values (any shape, size a multiple of the block size) -> bytes of `name`, row-major.
    Weight rows are quantized independently when each row's length is a multiple of the block
    size, which GGUF requires anyway."""
    x = np.asarray(x, dtype=F32).reshape(-1)
    info = TYPES[name]
    if x.size % info.block_size:
        raise ValueError(f"quantize {name}: {x.size} values, not a multiple of "
                         f"{info.block_size}")
    if name == "F32":
        return x.astype("<f4").tobytes()
    if name == "F16":
        return f32_to_f16_bits(x).astype("<u2").tobytes()
    if name == "BF16":
        return f32_to_bf16_bits(x).astype("<u2").tobytes()
    return _quantize_blocks(name, x.reshape(-1, info.block_size)).tobytes()


def random_blocks(name, count, rng, scale=0.02):
    """`count` blocks with every quant and sub-scale bit random and finite, normal f16 scales of
    random sign near `scale` (the K-quants' dmin positive, as quantizers write it)."""
    info = TYPES[name]
    raw = rng.integers(0, 256, size=count * info.block_bytes, dtype=np.uint8)
    if name in ("F32", "F16", "BF16"):
        return quantize(name, rng.standard_normal(count).astype(F32) * scale)
    b = np.frombuffer(raw.tobytes(), dtype=BLOCK_DTYPES[name]).copy()

    def f16(sign):
        v = scale * np.exp(rng.uniform(-1, 1, count)) * sign
        return f32_to_f16_bits(v.astype(F32))
    signs = rng.choice([-1.0, 1.0], count)
    if name == "Q8_K":
        b["d"] = (scale * signs).astype(F32)
    else:
        b["d"] = f16(signs)
    if "dmin" in b.dtype.names:
        b["dmin"] = f16(1.0)
    if "m" in b.dtype.names:
        b["m"] = f16(rng.choice([-1.0, 1.0], count))
    return b.tobytes()


# ---------------------------------------------------------------------------------------------
# Activation quantization (what llama.cpp does to the vector a quantized row is multiplied with)

def quantize_q8_0_activation(x):
    """Q8_0 blocks of x as llama.cpp's x86 quantize_row_q8_0 makes them: per 32 values
    amax = max|x|, d = amax/127 stored as f16, q = round-half-even(x * (127/amax)) computed in
    float32 (0 when amax is 0)."""
    x = np.asarray(x, dtype=F32).reshape(-1, 32)
    amax = np.max(np.abs(x), axis=1)
    b = np.zeros(x.shape[0], dtype=BLOCK_DTYPES["Q8_0"])
    b["d"] = f32_to_f16_bits(amax / F32(127))
    with np.errstate(divide="ignore"):
        inv = np.where(amax != 0, F32(127) / amax, F32(0)).astype(F32)
    b["qs"] = np.clip(np.rint(x * inv[:, None]), -127, 127).astype(np.int8)
    return b.tobytes()


def quantize_q8_K(x):
    """Q8_K blocks of x as ggml's quantize_row_q8_K_ref: per 256 values take the value of
    largest magnitude `max` (signed, first on ties), iscale = -127/max, q = min(127,
    round-half-even(iscale*x)) in float32, d = 1/iscale (so d < 0 when max > 0), bsums[j] = sum
    of q over values 16j..16j+15. An all-zero block has d = 0 and zero quants."""
    x = np.asarray(x, dtype=F32).reshape(-1, QK_K)
    b = np.zeros(x.shape[0], dtype=BLOCK_DTYPES["Q8_K"])
    mx = _signed_absmax(x).astype(F32)
    nz = mx != 0
    with np.errstate(divide="ignore"):
        iscale = np.where(nz, F32(-127) / mx, F32(0)).astype(F32)
        q = np.minimum(np.rint(iscale[:, None] * x), 127).astype(np.int32)
        b["d"] = np.where(nz, F32(1) / iscale, F32(0))
    q[~nz] = 0
    b["qs"] = q.astype(np.int8)
    b["bsums"] = q.reshape(-1, 16, 16).sum(axis=2).astype(np.int16)
    return b.tobytes()


def quantize_activation(weight_type, x):
    act = ACTIVATION_TYPE[weight_type]
    return act, (quantize_q8_0_activation(x) if act == "Q8_0" else quantize_q8_K(x))


def exact_parts(name, data):
    """float64 values of the blocks split as scaled part + offset part, every product exact (no
    float32 rounding): value = d*scale*q + offset, offset = m (Q4_1, Q5_1), -dmin*min (Q2_K,
    Q4_K, Q5_K) or 0."""
    u = unpack(name, data)
    q = u["q"].astype(np.float64)
    d = u["d"].astype(np.float64)[:, None]
    dmin = u["dmin"].astype(np.float64)[:, None]
    sub = u["sub"]
    scaled = d * u["scale"].astype(np.float64)[:, sub] * q
    offset = np.zeros_like(scaled)
    if name in ("Q4_1", "Q5_1"):
        offset = offset + dmin
    elif name in ("Q2_K", "Q4_K", "Q5_K"):
        offset = -dmin * u["min"].astype(np.float64)[:, sub]
    return scaled.reshape(-1), offset.reshape(-1)


def exact_values(name, data):
    """float64 values of the blocks, for the integer dot products' references."""
    scaled, offset = exact_parts(name, data)
    return scaled + offset


def dot_q8_exact(weight_type, data, x):
    """Dot of a quantized row with x quantized as its dot product expects, in float64 over the
    integer values (exact up to the final sum's rounding), and its magnitude
    sum_i (|scaled_i| + |offset_i|) * |a_i|, the scale against which float32 rounding of the
    block scales is measured."""
    act, xq = quantize_activation(weight_type, x)
    scaled, offset = exact_parts(weight_type, data)
    a = exact_values(act, xq)
    dot = float(np.sum((scaled + offset) * a, dtype=np.float64))
    magnitude = float(np.sum((np.abs(scaled) + np.abs(offset)) * np.abs(a), dtype=np.float64))
    return dot, magnitude
