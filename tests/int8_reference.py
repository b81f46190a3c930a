"""An independent numpy model of nanort's int8 arithmetic, written from the
contract in native/src/kernels/requant.h (not from the C kernels).

Every function returns exactly what the contract defines, so the tests can
compare the runtime's int8 results bit for bit. Float steps are done in
numpy float32 (IEEE single, round to nearest even, one rounding per
operation), multipliers as float32(float64 expression), accumulators in int64
and then wrapped to int32 (the contract's modulo-2^32 accumulator).
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32


# ---- the contract's primitives -------------------------------------------------

def wrap32(acc: np.ndarray) -> np.ndarray:
    """int64 sums modulo 2^32 as int32 (two's complement)."""
    return ((np.asarray(acc, np.int64) + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)


def multiplier(num: float, den: float) -> np.float32:
    """m = (float)(double num / double den); num is already a double product."""
    return F32(np.float64(num) / np.float64(den))


def bounds(act: str | None, s_y: float, z_y: int, lo: float = 0.0, hi: float = 6.0) -> tuple[int, int]:
    """qmin, qmax for a fused activation: None, 'relu', or 'clip' with [lo, hi] (double arithmetic)."""
    if act is None:
        return -128, 127
    lo_r = 0.0 if act == "relu" else lo
    a = z_y + np.rint(np.float64(lo_r) / np.float64(s_y))
    b = 127.0 if act == "relu" else z_y + np.rint(np.float64(hi) / np.float64(s_y))
    return int(np.clip(a, -128, 127)), int(np.clip(b, -128, 127))


def requantize_float(v: np.ndarray, z_y: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    v = np.asarray(v, F32)
    v = np.minimum(np.maximum(v, F32(qmin - z_y)), F32(qmax - z_y))
    return (np.rint(v).astype(np.int32) + z_y).astype(np.int8)


def requantize(acc: np.ndarray, m, z_y: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """v = (float)acc * m (m broadcast along the last axis when per channel)."""
    v = wrap32(acc).astype(F32) * np.asarray(m, F32)
    return requantize_float(v, z_y, qmin, qmax)


# ---- quantization ops ---------------------------------------------------------------

QRANGE = {np.int8: (-128, 127), np.uint8: (0, 255), np.int16: (-32768, 32767),
          np.int32: (-2 ** 31, 2 ** 31 - 1)}


def quantize(x: np.ndarray, s: np.ndarray, z: np.ndarray, dtype) -> np.ndarray:
    """q = clamp(rint(x / s) + z): float32 division and rint, then + z and clamp in double; NaN -> z.
    s and z broadcast against x."""
    r = np.rint(np.asarray(x, F32) / np.asarray(s, F32)).astype(np.float64)
    z = np.broadcast_to(np.asarray(z, np.float64), r.shape)
    lo, hi = QRANGE[np.dtype(dtype).type]
    with np.errstate(invalid="ignore"):
        v = np.where(np.isnan(r), z, np.clip(r + z, lo, hi))
    return v.astype(dtype)


def dequantize(q: np.ndarray, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    d = (q.astype(np.int64) - np.asarray(z, np.int64)).astype(F32)
    return d * np.asarray(s, F32)


def lut(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table[x.astype(np.int32) + 128]


# ---- elementwise ------------------------------------------------------------------------

def add(a, qa, b, qb, qy, sub: bool = False, act=None, lo=0.0, hi=6.0):
    """q* = (scale, zero point). v = m_a * (a - z_a) + m_b * (b - z_b)."""
    ma = multiplier(qa[0], qy[0])
    mb = multiplier(-np.float64(qb[0]) if sub else qb[0], qy[0])
    da = (a.astype(np.int32) - qa[1]).astype(F32)
    db = (b.astype(np.int32) - qb[1]).astype(F32)
    v = (ma * da) + (mb * db)
    return requantize_float(v, qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def mul(a, qa, b, qb, qy, act=None, lo=0.0, hi=6.0):
    m = multiplier(np.float64(qa[0]) * np.float64(qb[0]), qy[0])
    d = (a.astype(np.int32) - qa[1]) * (b.astype(np.int32) - qb[1])
    return requantize_float(m * d.astype(F32), qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def rescale(x, qx, qy):
    m = multiplier(qx[0], qy[0])
    return requantize_float((x.astype(np.int32) - qx[1]).astype(F32) * m, qy[1])


def concat(xs, qxs, qy, axis):
    return np.concatenate([rescale(x, q, qy) for x, q in zip(xs, qxs)], axis=axis)


# ---- conv / gemm --------------------------------------------------------------------------

def fold_bias(b: np.ndarray, s_x: float, s_w: np.ndarray, z_x: int, w: np.ndarray, axis: int = 0) -> np.ndarray:
    """The converter's folded bias: round(b / (s_x s_w)) - z_x * sum W (int32)."""
    bq = np.rint(b.astype(np.float64) / (np.float64(s_x) * s_w.astype(np.float64)))
    sums = np.moveaxis(w.astype(np.int64), axis, 0).reshape(w.shape[axis], -1).sum(axis=1)
    return (bq - z_x * sums).astype(np.int32)


def weight_multipliers(s_x: float, s_w: np.ndarray, s_y: float, channels: int) -> np.ndarray:
    s_w = np.resize(np.asarray(s_w, F32), channels)
    return np.array([multiplier(np.float64(s_x) * np.float64(s), s_y) for s in s_w], F32)


def conv2d(x, qx, w, s_w, bias, qy, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0), group=1, act=None,
           lo=0.0, hi=6.0):
    """x NHWC int8, w OHWI int8 (s_w per output channel or one), bias folded int32; pads t, l, b, r.
    Padding taps read x = z_x."""
    n, ih, iw, cin = x.shape
    cout, kh, kw, cpg = w.shape
    pt, pl, pb, pr = pads
    xp = np.full((n, ih + pt + pb, iw + pl + pr, cin), qx[1], np.int64)
    xp[:, pt:pt + ih, pl:pl + iw, :] = x
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh = (xp.shape[1] - eh) // stride[0] + 1
    ow = (xp.shape[2] - ew) // stride[1] + 1
    opg = cout // group
    acc = np.zeros((n, oh, ow, cout), np.int64) + bias.astype(np.int64)
    w64 = w.astype(np.int64)
    for i in range(kh):
        for j in range(kw):
            h0, w0 = i * dilation[0], j * dilation[1]
            patch = xp[:, h0:h0 + (oh - 1) * stride[0] + 1:stride[0], w0:w0 + (ow - 1) * stride[1] + 1:stride[1], :]
            for g in range(group):
                xs = patch[..., g * cpg:(g + 1) * cpg]
                acc[..., g * opg:(g + 1) * opg] += xs @ w64[g * opg:(g + 1) * opg, i, j, :].T
    m = weight_multipliers(qx[0], s_w, qy[0], cout)
    return requantize(acc, m, qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def conv_transpose2d(x, qx, w, s_w, bias, qy, stride=(1, 1), dilation=(1, 1), pads=(0, 0), out_hw=None, group=1,
                     act=None, lo=0.0, hi=6.0):
    """x NHWC, w [Cin, KH, KW, Cout/group]; bias = round(b / (s_x s_w)) (not folded); pads = (top, left);
    out_hw the output size. acc = B + sum (x - z_x) * W over the taps that reach each output."""
    n, ih, iw, cin = x.shape
    _, kh, kw, opg = w.shape
    cout, cpg = opg * group, cin // group
    oh, ow = out_hw
    acc = np.zeros((n, oh, ow, cout), np.int64) + bias.astype(np.int64)
    d = x.astype(np.int64) - qx[1]
    w64 = w.astype(np.int64)
    for i in range(kh):
        for j in range(kw):
            for y in range(ih):
                o_h = y * stride[0] - pads[0] + i * dilation[0]
                if not 0 <= o_h < oh:
                    continue
                for xx in range(iw):
                    o_w = xx * stride[1] - pads[1] + j * dilation[1]
                    if not 0 <= o_w < ow:
                        continue
                    for g in range(group):
                        acc[:, o_h, o_w, g * opg:(g + 1) * opg] += (
                            d[:, y, xx, g * cpg:(g + 1) * cpg] @ w64[g * cpg:(g + 1) * cpg, i, j, :])
    m = weight_multipliers(qx[0], s_w, qy[0], cout)  # channel c uses s_w[c % (Cout / group)]
    return requantize(acc, m, qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def fully_connected(x, qx, w, s_w, bias, qy, act=None, lo=0.0, hi=6.0):
    """x [..., K] int8, w [N, K], folded bias [N]."""
    acc = x.astype(np.int64) @ w.astype(np.int64).T + bias.astype(np.int64)
    m = weight_multipliers(qx[0], s_w, qy[0], w.shape[0])
    return requantize(acc, m, qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def matmul(a, qa, b, qb, qy, act=None, lo=0.0, hi=6.0):
    """numpy matmul semantics (batch broadcasting) on (a - z_a) @ (b - z_b)."""
    acc = np.matmul(a.astype(np.int64) - qa[1], b.astype(np.int64) - qb[1])
    m = multiplier(np.float64(qa[0]) * np.float64(qb[0]), qy[0])
    return requantize(acc, m, qy[1], *bounds(act, qy[0], qy[1], lo, hi))


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dynamic row quantization: q [M, K] int8, scale [M] float32, zero point [M], bad rows [M]."""
    x = np.asarray(x, F32)
    bad = ~np.isfinite(x).all(axis=1)
    xs = np.where(np.isfinite(x), x, F32(0))
    lo = np.minimum(xs.min(axis=1, initial=F32(0)), F32(0)).astype(F32)
    hi = np.maximum(xs.max(axis=1, initial=F32(0)), F32(0)).astype(F32)
    with np.errstate(over="ignore", invalid="ignore"):
        span = (hi - lo).astype(F32)
        bad |= ~np.isfinite(span)
        s = (span / F32(255)).astype(F32)
        zero = s == 0
        s = np.where(zero, F32(1), s).astype(F32)
        z = np.clip(np.rint(F32(-128) - (lo / s).astype(F32)), -128, 127)
        z = np.where(zero, 0, z).astype(np.int32)
        inv = (F32(1) / s).astype(F32)  # a multiply by the reciprocal; the division where it overflows
        r = np.where(np.isfinite(inv)[:, None], x * inv[:, None], x / s[:, None]).astype(F32)
        q = np.clip(np.rint(r).astype(np.float64) + z[:, None], -128, 127)
        q = np.where(np.isnan(q), z[:, None], q).astype(np.int32)
    return q, s, z, bad


def dynamic_fully_connected(x, w, s_w, bias=None, act=None):
    """float x [..., K], int8 w [N, K], s_w [N] or [1], float bias -> float y."""
    lead = x.shape[:-1]
    q, s, z, bad = quantize_rows(x.reshape(-1, x.shape[-1]))
    acc = wrap32((q.astype(np.int64) - z[:, None]) @ w.astype(np.int64).T)
    ms = (s[:, None] * np.resize(np.asarray(s_w, F32), w.shape[0])[None, :]).astype(F32)
    with np.errstate(invalid="ignore"):
        y = acc.astype(F32) * ms
    if bias is not None:
        y = y + np.asarray(bias, F32)
    if act == "relu":
        y = np.where(y > 0, y, F32(0)).astype(F32)
    y[bad] = np.nan
    return y.reshape(*lead, w.shape[0])


# ---- pooling / softmax / resize / pad ------------------------------------------------------

def avg_pool(x, qx, qy, kernel, stride=(1, 1), pads=(0, 0, 0, 0), count_include_pad=False, out_hw=None,
             dilation=(1, 1), act=None, lo=0.0, hi=6.0):
    """x NHWC. acc = sum over the window of (x - z_x); m = s_x / (s_y * count) per window.
    count: taps inside the input, or (count_include_pad) inside the padded input."""
    n, ih, iw, c = x.shape
    pt, pl, pb, pr = pads
    oh, ow = out_hw
    d = x.astype(np.int64) - qx[1]
    out = np.zeros((n, oh, ow, c), np.int8)
    qmin, qmax = bounds(act, qy[0], qy[1], lo, hi)
    for y in range(oh):
        for xx in range(ow):
            acc = np.zeros((n, c), np.int64)
            count = 0
            for i in range(kernel[0]):
                h = y * stride[0] - pt + i * dilation[0]
                for j in range(kernel[1]):
                    w = xx * stride[1] - pl + j * dilation[1]
                    inside = 0 <= h < ih and 0 <= w < iw
                    padded = -pt <= h < ih + pb and -pl <= w < iw + pr
                    if inside:
                        acc += d[:, h, w, :]
                    if inside or (count_include_pad and padded):
                        count += 1
            m = F32(np.float64(qx[0]) / (np.float64(qy[0]) * np.float64(max(count, 1))))  # count 0: sum 0
            out[:, y, xx, :] = requantize(acc, m, qy[1], qmin, qmax)
    return out


def global_avg_pool(x, qx, qy):
    n, h, w, c = x.shape
    acc = (x.astype(np.int64) - qx[1]).sum(axis=(1, 2), keepdims=True)
    m = F32(np.float64(qx[0]) / (np.float64(qy[0]) * np.float64(h * w)))
    return requantize(acc, m, qy[1])


def softmax_table(s_x: float) -> np.ndarray:
    d = np.arange(256, dtype=np.float64)
    return np.array([np.rint(65536.0 * math.exp(-np.float64(F32(s_x)) * k)) for k in d], np.uint64)


def softmax(x, qx, axis=-1):
    """Integer-only: e = T[max - x], S = sum e, y = min(127, (256 e + S // 2) // S - 128)."""
    t = softmax_table(qx[0])
    x = x.astype(np.int64)
    e = t[x.max(axis=axis, keepdims=True) - x].astype(np.int64)
    s = e.sum(axis=axis, keepdims=True)
    y = (e * 256 + s // 2) // s - 128
    return np.minimum(y, 127).astype(np.int8)


def pad(x, qx, pads):
    """Constant pad with z_x; pads = begins + ends per axis, negative crops."""
    r = x.ndim
    begins, ends = pads[:r], pads[r:]
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    return np.pad(x[crop], [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)], constant_values=qx[1])


def _linear_taps(in_len: int, out_len: int, coord: str) -> tuple[np.ndarray, np.ndarray]:
    """ONNX's linear taps of one axis (double coordinates, float32 weights);
    an integer source coordinate v is taken as tap v with weight 1 (and tap v - 1 with weight 0)."""
    s = out_len / in_len
    out_w = s * in_len
    idx = np.zeros((out_len, 2), np.int64)
    w = np.zeros((out_len, 2), F32)
    for o in range(out_len):
        if coord == "half_pixel":
            v = (o + 0.5) / s - 0.5
        elif coord == "asymmetric":
            v = o / s
        elif coord == "align_corners":
            v = 0.0 if out_w == 1 else o * (in_len - 1) / (out_w - 1)
        else:  # pytorch_half_pixel
            v = -0.5 if out_w == 1 else (o + 0.5) / s - 0.5
        fl = math.floor(v)
        r = v - fl
        if r == 0:
            fl, r = fl - 1, 1.0
        idx[o] = np.clip([fl, fl + 1], 0, in_len - 1)
        w[o] = [F32(1.0 - r), F32(r)]
    return idx, w


def resize_linear(x, qx, qy, out_shape, coord="half_pixel"):
    """f = x - z_x in float32; separable passes over the resized axes, shrinking
    ones first (stable by out / in), each y = w0 * f[i0] + w1 * f[i1] in float32;
    then requantize(t * s_x / s_y)."""
    t = (x.astype(np.int32) - qx[1]).astype(F32)
    axes = [a for a in range(x.ndim) if out_shape[a] != x.shape[a]]
    for a in sorted(axes, key=lambda a: out_shape[a] / x.shape[a]):
        idx, w = _linear_taps(x.shape[a], out_shape[a], coord)
        shape = [1] * x.ndim
        shape[a] = -1
        t0 = np.take(t, idx[:, 0], axis=a) * w[:, 0].reshape(shape)
        t1 = np.take(t, idx[:, 1], axis=a) * w[:, 1].reshape(shape)
        t = (t0.astype(F32) + t1.astype(F32)).astype(F32)
    m = multiplier(qx[0], qy[0])
    return requantize_float(t * m, qy[1])


def resize_nearest_asymmetric_floor(x, qx, qy, factors):
    """Integer upsampling factors (asymmetric, floor): repeat, then rescale."""
    y = x
    for a, f in enumerate(factors):
        y = np.repeat(y, f, axis=a)
    return rescale(y, qx, qy)
