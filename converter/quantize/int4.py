"""--weights int4: group-wise int4 weight-only quantization of FullyConnected layers
(MatMul / Gemm with constant weights become FullyConnected in the passes).

W [N, K] is stored as symmetric int4 (-8..7), one fp16 scale per output channel and
group of `group` consecutive k; the runtime quantizes the activations per row to int8
at run time (native/src/kernels/ref/qd8_qb4w_ref.h).

Rounding: round-to-nearest, or GPTQ (Frantar et al. 2022, the default): layer-wise,
with H = 2 X^T X of the layer's inputs on the calibration samples (plus damping),
columns are rounded one at a time and each one's rounding error is spread over the
columns not yet rounded through the Cholesky factor of H^-1, with the updates of a
block of columns applied lazily to the rest. Each layer's reconstruction error
||X W^T - X Q^T|| / ||X W^T|| on the calibration inputs is reported for both.

The rest of the large float constants shrink too: embedding tables (Gather rows) share
a tied projection's int4 copy or become int8 rows, and constants only added to
activations (position tables, attention masks) become int8 rows read through a
DequantizeLinear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node, QuantParams

GROUPS = (32, 64, 128)
METHODS = ("gptq", "rtn")
QMIN, QMAX = -8, 7
BLOCK = 128  # GPTQ's lazy-update block: a multiple of every group size
STORED_NOTES = ("embedding", "added constant")  # notes on what was stored otherwise, not kept float32
F16_MIN_NORMAL = 2.0 ** -14


def group_scales(w: np.ndarray, group: int) -> np.ndarray:
    """fp16-representable scales [N, ceil(K / group)]: absmax / 7 of each group."""
    n, k = w.shape
    groups = -(-k // group)
    padded = np.zeros((n, groups * group))
    padded[:, :k] = np.abs(w)
    absmax = padded.reshape(n, groups, group).max(axis=2)
    return _f16_scale(absmax / QMAX)


def _f16_scale(s: np.ndarray) -> np.ndarray:
    s = np.clip(np.where(s > 0, s, 1.0), F16_MIN_NORMAL, 65504.0)
    return s.astype(np.float16).astype(np.float64)


def _round(w: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(w / scale), QMIN, QMAX)


def quantize_rtn(w: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
    """(int4 codes [N, K] as int8, scales [N, groups]) by round-to-nearest."""
    scale = group_scales(w, group)
    per_column = np.repeat(scale, group, axis=1)[:, :w.shape[1]]
    return _round(w, per_column).astype(np.int8), scale


def quantize_gptq(w: np.ndarray, hessian: np.ndarray, group: int, damp: float = 0.01,
                  act_order: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(int4 codes [N, K], scales [N, groups]) by GPTQ on H = `hessian` (X^T X; the
    factor 2 cancels). act_order rounds the columns of largest H[k, k] first (the
    groups' scales are then fixed from W before rounding: static groups)."""
    w = np.array(w, np.float64)
    n, k = w.shape
    h = np.array(hessian, np.float64)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices(k)] += damp * np.mean(np.diag(h))
    groups = -(-k // group)
    scale = group_scales(w, group) if act_order else np.ones((n, groups))
    perm = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(k)
    w, h = w[:, perm], h[np.ix_(perm, perm)]
    hinv = _upper_cholesky_of_inverse(h)
    codes = np.zeros((n, k))
    for i1 in range(0, k, BLOCK):
        i2 = min(i1 + BLOCK, k)
        w1, err1, hinv1 = w[:, i1:i2].copy(), np.zeros((n, i2 - i1)), hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = int(perm[i1 + i])
            if not act_order and col % group == 0:  # (a group never straddles a block: BLOCK % group == 0)
                scale[:, col // group] = group_scales(w1[:, i:i + group], group)[:, 0]
            s = scale[:, col // group]
            q = _round(w1[:, i], s)
            codes[:, col] = q
            e = (w1[:, i] - q * s) / hinv1[i, i]
            w1[:, i:] -= np.outer(e, hinv1[i, i:])
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    return codes.astype(np.int8), scale


def _upper_cholesky_of_inverse(h: np.ndarray) -> np.ndarray:
    """U upper triangular with H^-1 = U^T U, adding damping until H is positive definite."""
    extra = 0.0
    for _ in range(8):
        try:
            hd = h + extra * np.eye(len(h))
            return np.linalg.cholesky(np.linalg.inv(hd)).T
        except np.linalg.LinAlgError:
            extra = max(extra * 10, 1e-6 * float(np.mean(np.diag(h))) or 1e-6)
    raise ValueError("the layer's input moments are not positive definite even after damping")


def dequantize(codes: np.ndarray, scale: np.ndarray, group: int) -> np.ndarray:
    per_column = np.repeat(scale, group, axis=1)[:, :codes.shape[1]]
    return codes.astype(np.float64) * per_column


def reconstruction_error(w: np.ndarray, approx: np.ndarray, hessian: np.ndarray) -> float:
    """||X W^T - X A^T||_F / ||X W^T||_F from H = X^T X."""
    d = np.asarray(w, np.float64) - approx
    num = float(np.einsum("nk,kl,nl->", d, hessian, d))
    den = float(np.einsum("nk,kl,nl->", w, hessian, w))
    return float(np.sqrt(max(num, 0.0) / den)) if den > 0 else 0.0


@dataclass
class Int4Layer:
    name: str
    shape: tuple[int, int]
    rtn_error: float | None   # relative reconstruction errors on the calibration inputs
    gptq_error: float | None  # (None: not computed, no calibration data)


@dataclass
class Int4Outcome:
    group: int
    method: str
    layers: list[Int4Layer]
    skipped: dict[str, str]

    def table(self) -> str:
        lines = [f"int4 weights (group {self.group}, {self.method}): ||XW^T - XQ^T|| / ||XW^T|| per layer",
                 f"{'layer':40s} {'shape':>12s} {'rtn':>9s} {'gptq':>9s}"]
        for r in self.layers:
            def f(v):
                return "-" if v is None else f"{v:.5f}"
            lines.append(f"{r.name[:40]:40s} {str(r.shape[0]) + 'x' + str(r.shape[1]):>12s} "
                         f"{f(r.rtn_error):>9s} {f(r.gptq_error):>9s}")
        lines += [f"{name}: {why}" if why.startswith(STORED_NOTES) else f"{name}: kept float32 ({why})"
                  for name, why in self.skipped.items()]
        return "\n".join(lines)


def quantize_weights_int4(graph: Graph, group: int = 128, method: str = "gptq", calibration=None,
                          act_order: bool = False,
                          progress: Callable[[str, int, int], None] | None = None) -> Int4Outcome:
    """Stores the constant float32 weights of FullyConnected layers as group-wise int4 in place."""
    from ..prune import calibration as moments
    from ..prune.layers import find_layers

    if group not in GROUPS:
        raise ValueError(f"int4 group size {group} is not one of {', '.join(map(str, GROUPS))}")
    if method not in METHODS:
        raise ValueError(f"int4 method {method!r} is not one of {', '.join(METHODS)}")
    layers, skipped = find_layers(graph)
    ops = {n.name: n.op for n in graph.nodes}
    skipped = {n: why for n, why in skipped.items() if ops.get(n) == "FullyConnected"}
    layers = [la for la in layers if la.node.op == "FullyConnected"]
    stats = None
    if calibration is not None and layers:
        samples = list(calibration)
        stats = moments.collect(graph, layers, samples,
                                (lambda i, n: progress("calibrating for int4", i, n)) if progress else None)
    elif method == "gptq":
        raise ValueError("int4 GPTQ needs calibration data (or choose round-to-nearest: int4 method 'rtn')")
    rows, stored = [], []  # stored: (float matrix, its int4 tensor, layer name)
    tables = [graph.const(n.inputs[0]) for n in graph.nodes if _embedding_table(graph, n) is not None]
    for i, layer in enumerate(layers):
        if progress:
            progress("int4 weights", i, len(layers))
        w = layer.matrix(graph)
        h = stats[layer.name].hessian if stats else None
        tied = any(t.shape == w.shape and np.array_equal(t, w) for t in tables)
        g = TIED_GROUP if tied else group
        codes, scale = quantize_rtn(w, g)
        rtn = reconstruction_error(w, dequantize(codes, scale, g), h) if h is not None else None
        gptq = None
        if method == "gptq":
            codes, scale = quantize_gptq(w, h, g, act_order=act_order)
            gptq = reconstruction_error(w, dequantize(codes, scale, g), h)
        stored.append((w, _store(graph, layer, codes, scale, g), layer.name))
        rows.append(Int4Layer(layer.name, tuple(w.shape), rtn, gptq))
    from .quantize import int8_embedding

    for node in graph.nodes:  # embedding tables (Gather of constant rows), dequantized as gathered:
        tied = _tied_int4(graph, node, stored)  # the int4 copy of a tied output projection, else int8 rows
        if tied:
            node.inputs[0] = tied[0]
            skipped[node.name] = f"embedding table: shares the int4 weights of {tied[1]} (groups of {TIED_GROUP})"
        elif int8_embedding(graph, node):
            skipped[node.name] = "embedding table: int8 rows"
    for name in int8_added_constants(graph):
        skipped[name] = "added constant: int8 rows (read through a DequantizeLinear)"
    return Int4Outcome(group, method, rows, skipped)


# A tied output projection's table is also read row by row as the embedding, where the
# round-off of a whole 64-wide row in one group cost the trained decoder its next-token
# agreement (0.8996 at 128, >= 0.90 at 32): its groups are 32 k whatever the group size.
TIED_GROUP = 32


def _embedding_table(graph: Graph, node) -> np.ndarray | None:
    """The constant float matrix an embedding Gather (axis 0, run-time indices) reads, or None."""
    if node.op != "Gather" or node.attrs.get("axis", 0) != 0 or len(node.inputs) < 2 \
            or graph.tensors[node.inputs[1]].is_const:
        return None
    table = graph.const(node.inputs[0])
    return table if table is not None and table.dtype == np.float32 and table.ndim == 2 else None


def _tied_int4(graph: Graph, node, stored: list) -> tuple[str, str] | None:
    """(int4 tensor, layer) whose float weights [N, K] equal the constant table of this
    embedding Gather: a tied embedding, read from that copy."""
    table = _embedding_table(graph, node)
    if table is None:
        return None
    return next(((name, layer) for w, name, layer in stored if w.shape == table.shape and np.array_equal(w, table)),
                None)


def _store(graph: Graph, layer, codes: np.ndarray, scale: np.ndarray, group: int) -> str:
    name = graph.add_const(codes, f"{layer.name}_w4")
    graph.tensors[name].quant = QuantParams(scale.astype(np.float32), np.zeros(scale.size, np.int64), 0,
                                            block_size=group, bits=4)
    layer.node.inputs[1] = name
    return name


# Float constants added to activations (a position-embedding table added whole, an
# attention mask) are the largest float left once the weights are int4: 8 KB of the
# trained decoder's 123 KB. At this many elements or more they are stored as int8 rows.
ADDED_CONSTANT_MIN_ELEMENTS = 1024
_ADDING_OPS = {"Add", "Sub"}


def int8_added_constants(graph: Graph) -> list[str]:
    """Stores each large float32 constant that only Add / Sub read (with a float operand
    computed at run time) as int8, symmetric per row (axis -2: one scale for each row of
    the last axis), read through a DequantizeLinear: every value within half its row's
    step, absmax / 127. Its inputs all constant, the runtime evaluates it once at load
    when its float output fits STATIC_EVAL_MAX_BYTES (64 KB, native/src/engine/prepare.c),
    else on each run (one pass over the constant). Returns the names of those stored so."""
    readers: dict[str, list] = {}
    for node in graph.nodes:
        for name in node.inputs:
            if name:
                readers.setdefault(name, []).append(node)
    outputs, done, dequantizers = set(graph.outputs), [], []
    for name, nodes in readers.items():
        t = graph.tensors[name]
        if (t.is_const and t.data.dtype == np.float32 and t.data.ndim >= 2
                and t.data.size >= ADDED_CONSTANT_MIN_ELEMENTS and t.quant is None and t.perm is None
                and name not in outputs and np.isfinite(t.data).all()
                and all(n.op in _ADDING_OPS and _other_operand_is_float_activation(graph, n, name) for n in nodes)):
            dequantizers.append(_int8_rows_dequantized(graph, name, nodes))
            done.append(name)
    graph.nodes[:0] = dequantizers  # (constant inputs only: first in the order is always in order)
    return done


def _other_operand_is_float_activation(graph: Graph, node, name: str) -> bool:
    if len(node.inputs) != 2 or node.inputs.count(name) != 1:
        return False
    other = graph.tensors[node.inputs[1 - node.inputs.index(name)]]
    return not other.is_const and other.dtype == np.float32 and other.quant is None


def int8_rows_of(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scale per index of axis -2): symmetric, absmax / 127."""
    axis = value.ndim - 2
    others = tuple(d for d in range(value.ndim) if d != axis)
    absmax = np.abs(value).max(axis=others)
    scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
    shape = [1] * value.ndim
    shape[axis] = -1
    codes = np.clip(np.rint(value / scale.reshape(shape)), -127, 127).astype(np.int8)
    return codes, scale


def _int8_rows_dequantized(graph: Graph, name: str, readers: list) -> Node:
    value = graph.tensors[name].data
    codes, scale = int8_rows_of(value)
    q = graph.add_const(codes, f"{name}_q")
    graph.tensors[q].quant = QuantParams(scale, np.zeros(scale.size, np.int64), value.ndim - 2)
    out = graph.fresh_name(f"{name}_dequantized")
    graph.add_tensor(out, np.float32, value.shape)
    for node in readers:
        node.inputs[node.inputs.index(name)] = out
    return Node("DequantizeLinear", [q], [out], {}, f"{out}/dequantize")
