"""Rounding int8 weights to minimize each layer's output error on calibration
data, instead of rounding each weight to its nearest level.

The error a layer's rounding adds to its output row o is dw_o . x over the
layer's inputs x, so its mean square over the calibration inputs is
dw_o H dw_o^T with H = E[x x^T] (the layer's input Hessian, one K x K matrix
per convolution group, K = kernel height x width x input channels of the
group). Weights that round in directions the inputs cancel cost nothing;
nearest rounding ignores that.

AdaRound (Nagel et al. 2020) learns a soft up/down choice per weight by
gradient descent with an annealed regularizer; on this quadratic objective
each step costs O(out x K^2), hundreds of steps per layer, too slow in numpy
for a converter. This uses the cheaper, well-founded sequential solution of
the same objective (Optimal Brain Quantization / GPTQ, Frantar et al. 2022):
the weights of a row are rounded one input at a time, largest H diagonal
first, and the not-yet-rounded weights move to cancel each rounding's error
as the inverse Hessian says (one Cholesky factorization per group, one pass
over the weights). The result stays on the layer's int8 grid (same scales,
[-127, 127]); a row keeps nearest rounding where that measures lower on H.

H comes from the float model's inputs to the layer on a few calibration
samples, at most ROWS_PER_SAMPLE positions each, damped by DAMPING x its
mean diagonal (the samples do not span every direction); a layer seen at
fewer than ROWS_PER_INPUT x K positions keeps nearest rounding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nanort.schema.AutoPad import AutoPad

from ..ir import Graph, Node
from .calibrate import run_all_tensors

SAMPLES = 8
ROWS_PER_SAMPLE = 1024
ROWS_PER_INPUT = 4  # a layer with fewer calibration rows than this x K keeps nearest rounding (H would be
                    # estimated from too few inputs to generalize: PP-OCR rec's 40-position layers lost accuracy)
DAMPING = 0.01
BLOCK = 128  # columns rounded between updates of the rest (the same result, fewer numpy calls)


def _layers(graph: Graph, params: dict | None) -> list[Node]:
    """Conv / FullyConnected with constant weights: float ones, or (params given: an int8 graph)
    those reading an int8 input."""
    out = []
    for n in graph.nodes:
        w = graph.const(n.input(1))
        if n.op not in ("Conv", "FullyConnected") or w is None or (n.op != "Conv" and w.ndim != 2):
            continue
        if n.inputs[0] in params if params is not None else \
                (w.dtype == np.float32 and graph.tensors[n.inputs[1]].quant is None):
            out.append(n)
    return out


def _pad_begin(size: int, kernel: int, stride: int, dilation: int, auto_pad: int, begin: int) -> int:
    """The leading padding of one axis, as the runtime resolves it (spatial_common.h)."""
    if auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
        out = -(-size // stride)
        total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return total // 2 if auto_pad == AutoPad.SAME_UPPER else total - total // 2
    return 0 if auto_pad == AutoPad.VALID else begin


def conv_patches(node: Node, x: np.ndarray, w_shape: tuple, rows: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Up to `rows` input patches of an NHWC Conv at random output positions, each
    (group, kernel height x width x channels of the group), ordered like the OHWI
    weights' rows: shape (groups, positions, K); and the positions (batch, y, x)."""
    n, h, w, c = x.shape
    kh, kw = w_shape[1], w_shape[2]
    group = int(node.attrs.get("group", 1))
    sh, sw = node.attrs.get("strides", [1, 1])
    dh, dw = node.attrs.get("dilations", [1, 1])
    pads = node.attrs.get("pads", [0, 0, 0, 0])
    auto = int(node.attrs.get("auto_pad", 0))
    top = _pad_begin(h, kh, sh, dh, auto, pads[0])
    left = _pad_begin(w, kw, sw, dw, auto, pads[1])
    if auto in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
        oh, ow = -(-h // sh), -(-w // sw)
    else:
        ph, pw = (0, 0) if auto == AutoPad.VALID else (pads[0] + pads[2], pads[1] + pads[3])
        oh = (h + ph - (kh - 1) * dh - 1) // sh + 1
        ow = (w + pw - (kw - 1) * dw - 1) // sw + 1
    count = n * oh * ow
    pick = rng.choice(count, rows, replace=False) if count > rows else np.arange(count)
    b, rest = np.divmod(pick, oh * ow)
    oy, ox = np.divmod(rest, ow)
    ys = (oy * sh - top)[:, None] + np.arange(kh) * dh  # (P, kh)
    xs = (ox * sw - left)[:, None] + np.arange(kw) * dw  # (P, kw)
    inside = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    patches = x[b[:, None, None], np.clip(ys, 0, h - 1)[:, :, None], np.clip(xs, 0, w - 1)[:, None, :]]
    patches = np.where(inside[..., None], patches, 0.0)  # (P, kh, kw, C): zero padding
    cg = c // group
    return patches.reshape(len(pick), kh, kw, group, cg).transpose(3, 0, 1, 2, 4).reshape(group, len(pick), -1), \
        (b, oy, ox)


class LayerRounding:
    """Each layer's input Hessians, measured once; rounds a layer's weights on demand
    (the quantizer calls it with the scales it chose; the accuracy fixer's trials reuse
    the results)."""

    def __init__(self, graph: Graph, samples: Sequence[dict], params: dict[str, tuple[float, int]] | None = None,
                 seed: int = 0):
        """graph: the float graph, or an int8 one with its tensors' (scale, zero point) in params:
        then H is measured on the inputs each layer reads in int8, dequantized."""
        self.hessians: dict[str, np.ndarray] = {}
        self._cache: dict[tuple[str, bytes], np.ndarray] = {}
        layers = _layers(graph, params)
        inputs = {n.inputs[0] for n in layers}
        rng = np.random.default_rng(seed)
        counts: dict[str, int] = {}
        for feeds in samples:
            values = run_all_tensors(graph, feeds, inputs)
            for node in layers:
                x = values.get(node.inputs[0])
                w = graph.const(node.inputs[1])
                if x is None:
                    continue
                if params is not None:
                    scale, zp = params[node.inputs[0]]
                    x = (x.astype(np.float32) - zp) * np.float32(scale)
                if node.op == "FullyConnected":
                    rows = x.reshape(-1, x.shape[-1])
                    if rows.shape[0] > ROWS_PER_SAMPLE:
                        rows = rows[rng.choice(rows.shape[0], ROWS_PER_SAMPLE, replace=False)]
                    patches = rows[None]
                else:
                    patches = conv_patches(node, x, w.shape, ROWS_PER_SAMPLE, rng)[0]
                p = patches.astype(np.float32)
                h = np.matmul(p.transpose(0, 2, 1), p)
                self.hessians[node.name] = self.hessians.get(node.name, 0) + h
                counts[node.name] = counts.get(node.name, 0) + p.shape[1]
        for name, c in counts.items():
            if c < ROWS_PER_INPUT * self.hessians[name].shape[-1]:
                del self.hessians[name]
            else:
                self.hessians[name] = self.hessians[name] / c

    def __deepcopy__(self, memo) -> LayerRounding:  # shared by every trial's copy of the options
        return self

    def __call__(self, node: Node, w: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
        """int8 weights of `node` (w: float, output channels on axis 0, per-row scales), or None
        for a layer without a Hessian."""
        h = self.hessians.get(node.name)
        if h is None:
            return None
        key = (node.name, np.asarray(scale, np.float32).tobytes())
        if key not in self._cache:
            self._cache[key] = round_weights(w, np.asarray(scale, np.float64), h).reshape(w.shape)
        return self._cache[key]


def _row_errors(dw: np.ndarray, h: np.ndarray) -> np.ndarray:
    """dw_o H dw_o^T per row; dw: (groups, rows, K), h: (groups, K, K)."""
    return np.einsum("gok,gkl,gol->go", dw, h, dw)


def round_weights(w: np.ndarray, scale: np.ndarray, h: np.ndarray) -> np.ndarray:
    """int8 weights (output channels on axis 0, groups of h.shape[0]) minimizing the rows'
    output error on H; scale: per output channel."""
    groups, k = h.shape[0], h.shape[1]
    rows = w.shape[0] // groups
    wg = w.reshape(groups, rows, k).astype(np.float64) / scale.reshape(groups, rows, 1)  # in steps
    h = h.astype(np.float64)
    nearest = np.clip(np.rint(wg), -127, 127)
    pruned = wg == 0  # pruned weights stay zero (their error moves to the rest, as in SparseGPT)
    q = (np.stack([_sequential(wg[g], h[g], pruned[g]) for g in range(groups)]) if groups < 8
         else _sequential_batched(wg, h, pruned))
    better = _row_errors(q - wg, h) < _row_errors(nearest - wg, h)
    return np.where(better[..., None], q, nearest).astype(np.int8).reshape(w.shape[0], -1)


def _inverse_factor(h: np.ndarray) -> np.ndarray:
    """Upper U with U^T U = (H + damping)^-1, H's zero-diagonal inputs made harmless."""
    h = h.copy()
    diag = np.diagonal(h, axis1=-2, axis2=-1)
    dead = diag <= 0
    k = h.shape[-1]
    idx = np.arange(k)
    damp = DAMPING * np.maximum(np.where(dead, 0, diag).mean(axis=-1, keepdims=True), 1e-12)
    h[..., idx, idx] = np.where(dead, 1.0, diag) + damp
    inv = np.linalg.inv(h)
    return np.swapaxes(np.linalg.cholesky((inv + np.swapaxes(inv, -1, -2)) / 2), -1, -2)


def _sequential(wg: np.ndarray, h: np.ndarray, pruned: np.ndarray) -> np.ndarray:
    """One group: rows (O, K) in grid steps, H (K, K); inputs rounded largest H diagonal first,
    the pruned ones to zero."""
    order = np.argsort(-np.diagonal(h))
    w = wg[:, order].copy()
    pruned = pruned[:, order]
    u = _inverse_factor(h[np.ix_(order, order)])
    q = np.zeros_like(w)
    k = w.shape[1]
    for start in range(0, k, BLOCK):
        end = min(start + BLOCK, k)
        err = np.zeros((w.shape[0], end - start))
        for j in range(start, end):
            q[:, j] = np.where(pruned[:, j], 0, np.clip(np.rint(w[:, j]), -127, 127))
            e = (w[:, j] - q[:, j]) / u[j, j]
            w[:, j:end] -= np.outer(e, u[j, j:end])
            err[:, j - start] = e
        w[:, end:] -= err @ u[start:end, end:]
    out = np.empty_like(q)
    out[:, order] = q
    return out


def _sequential_batched(wg: np.ndarray, h: np.ndarray, pruned: np.ndarray) -> np.ndarray:
    """Many small groups at once (depthwise: K = kernel height x width)."""
    order = np.argsort(-np.diagonal(h, axis1=1, axis2=2), axis=1)
    w = np.take_along_axis(wg, order[:, None, :], axis=2).copy()
    pruned = np.take_along_axis(pruned, order[:, None, :], axis=2)
    hp = np.take_along_axis(np.take_along_axis(h, order[:, :, None], axis=1), order[:, None, :], axis=2)
    u = _inverse_factor(hp)
    q = np.zeros_like(w)
    for j in range(w.shape[2]):
        q[:, :, j] = np.where(pruned[:, :, j], 0, np.clip(np.rint(w[:, :, j]), -127, 127))
        e = (w[:, :, j] - q[:, :, j]) / u[:, j, j][:, None]
        w[:, :, j:] -= e[:, :, None] * u[:, None, j, j:]
    out = np.empty_like(q)
    np.put_along_axis(out, order[:, None, :], q, axis=2)
    return out
