"""An independent numpy model of nanort's 16x8 arithmetic (int16 activations with
zero point 0, int8 weights, int64 bias), written from kernels/requant.h's 16x8
section, not from the C kernels: an exact int64 sum, one float32 rounding of it,
a float32 multiply by m = float32(s_x * s_w / s_y), the clamp to [qmin, qmax],
rint (nearest even)."""

from __future__ import annotations

import numpy as np

F32 = np.float32


def multipliers(s_x: float, s_w: np.ndarray, s_y: float, channels: int) -> np.ndarray:
    s_w = np.resize(np.asarray(s_w, F32), channels)
    return np.array([F32(np.float64(s_x) * np.float64(s) / np.float64(s_y)) for s in s_w], F32)


def bounds(act: str | None, s_y: float, lo: float = 0.0, hi: float = 6.0) -> tuple[int, int]:
    if act is None:
        return -32768, 32767
    a = np.rint(np.float64(0.0 if act == "relu" else lo) / np.float64(s_y))
    b = 32767.0 if act == "relu" else np.rint(np.float64(hi) / np.float64(s_y))
    return int(np.clip(a, -32768, 32767)), int(np.clip(b, -32768, 32767))


def requantize(acc: np.ndarray, m: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    v = np.asarray(acc, np.int64).astype(F32) * m
    v = np.minimum(np.maximum(v, F32(qmin)), F32(qmax))
    return np.rint(v).astype(np.int16)


def conv2d(x, s_x, w, s_w, bias, s_y, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0), group=1, act=None):
    """x NHWC int16, w OHWI int8, bias int64 [cout]; padding taps read 0."""
    n, ih, iw, cin = x.shape
    cout, kh, kw, cpg = w.shape
    pt, pl, pb, pr = pads
    xp = np.zeros((n, ih + pt + pb, iw + pl + pr, cin), np.int64)
    xp[:, pt:pt + ih, pl:pl + iw, :] = x
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    opg = cout // group
    acc = np.zeros((n, oh, ow, cout), np.int64) + bias.astype(np.int64)
    w64 = w.astype(np.int64)
    for i in range(kh):
        for j in range(kw):
            h0, w0 = i * dilation[0], j * dilation[1]
            patch = xp[:, h0:h0 + (oh - 1) * stride[0] + 1:stride[0], w0:w0 + (ow - 1) * stride[1] + 1:stride[1], :]
            for g in range(group):
                wg = w64[g * opg:(g + 1) * opg, i, j]
                acc[..., g * opg:(g + 1) * opg] += patch[..., g * cpg:(g + 1) * cpg] @ wg.T
    return requantize(acc, multipliers(s_x, s_w, s_y, cout), *bounds(act, s_y))


def fully_connected(x, s_x, w, s_w, bias, s_y, act=None):
    acc = x.astype(np.int64) @ w.astype(np.int64).T + bias.astype(np.int64)
    return requantize(acc, multipliers(s_x, s_w, s_y, w.shape[0]), *bounds(act, s_y))


def _finish(v: np.ndarray, act: str | None, s_y: float, lo: float, hi: float) -> np.ndarray:
    qmin, qmax = bounds(act, s_y, lo, hi)
    v = np.minimum(np.maximum(np.asarray(v, F32), F32(qmin)), F32(qmax))
    return np.rint(v).astype(np.int16)


def add(a, s_a, b, s_b, s_y, sub: bool = False, act=None, lo=0.0, hi=6.0):
    """int16 Add / Sub (zero points 0): v = m_a * a + m_b * b, each product rounded to float32,
    then one float32 addition; m_a = f32(s_a / s_y), m_b = f32(+-s_b / s_y)."""
    ma = F32(np.float64(s_a) / np.float64(s_y))
    mb = F32((-np.float64(s_b) if sub else np.float64(s_b)) / np.float64(s_y))
    v = ma * a.astype(np.int32).astype(F32) + mb * b.astype(np.int32).astype(F32)
    return _finish(v, act, s_y, lo, hi)


def mul(a, s_a, b, s_b, s_y, act=None, lo=0.0, hi=6.0):
    """int16 Mul: v = m * f32(a * b) (the int32 product exact), m = f32(s_a * s_b / s_y)."""
    m = F32(np.float64(s_a) * np.float64(s_b) / np.float64(s_y))
    return _finish(m * (a.astype(np.int32) * b.astype(np.int32)).astype(F32), act, s_y, lo, hi)


def lut(x, table):
    return table[x.astype(np.int32) + 32768]


def rescale(x, s_x: float, z_x: int, s_y: float, z_y: int, dtype):
    """QuantizeLinear between int8 / int16 codes (requant.h's Rescale with the output type's range):
    v = f32(x - z_x) * m, m = f32(s_x / s_y), clamped to [lo - z_y, hi - z_y] in float, rint, + z_y."""
    lo, hi = (-128, 127) if dtype == np.int8 else (-32768, 32767)
    m = F32(np.float64(s_x) / np.float64(s_y))
    v = (x.astype(np.int32) - z_x).astype(F32) * m
    v = np.minimum(np.maximum(v, F32(lo - z_y)), F32(hi - z_y))
    return (np.rint(v).astype(np.int32) + z_y).astype(dtype)
