"""Structured pruning: whole channels go, so the model gets smaller and
faster with the dense kernels.

A "channel space" is a set of tensors whose channel j is the same channel
(union-find over the graph, NHWC: the last axis): an op that maps channels
one to one ties its input and output (elementwise unary ops, pooling,
Resize, depthwise convs, and binary ops of two activations such as residual
Adds and squeeze-excitation Muls, which tie their operands too). BatchNorm
is already folded into the convs when this runs. A space can lose channels
when every tensor in it is made by a prunable layer (a Conv with group 1 or
a FullyConnected: the space's "roots", whose output channels are removed)
or by a tying op, and every reader is a tying op, a layer that reads it as
its input (a "consumer", whose input channels are removed), or a Concat
whose output only such consumers read (the channels move by the Concat's
offset). Per-channel constants on the way (a Mul by a [C] scale) are
sliced; a graph output in the space, a Reshape, a Softmax ... keep it whole.

Which channels go: magnitude, the roots' filter norms; wanda / sparsegpt,
the share of each consumer's output energy that the channel carries
(E[x_j^2] ||W[:, j]||^2 summed over its taps, from the calibration inputs).
Each consumer is then refitted by least squares on the calibration inputs:
the kept weights and the bias change by the ridge solution of
min ||X_k dW^T + 1 db^T - X_r W_r^T||^2 + lambda ||dW||^2 (X_k, X_r: the kept
and removed inputs), which is exactly zero when the removed channels are
all zero, so then the outputs do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, Node
from .calibration import InputStats
from .layers import Layer

ONE_TO_ONE = {"Identity", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
              "Silu", "Mish", "Tanh", "Gelu", "Erf", "Softplus", "Softsign", "Clip", "MaxPool",
              "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Resize", "Neg", "Abs"}
BINARY = {"Add", "Sub", "Mul", "Div", "Min", "Max", "PRelu"}
SHAPE_INPUTS = {"Clip": (1, 2), "Resize": (1, 2)}  # constant inputs that do not name channels (Resize: roi, scales)
RIDGE = 1e-3  # lambda, as a fraction of the mean diagonal of the kept inputs' moments
CHANNEL_MULTIPLE = 4  # kept channel counts are rounded up to a multiple of this (the kernels' lanes)


@dataclass
class Space:
    tensors: set[str]
    width: int
    roots: list[Layer] = field(default_factory=list)
    depthwise: list[Node] = field(default_factory=list)
    constants: list[tuple[Node, int]] = field(default_factory=list)  # (node, input index) of per-channel constants
    consumers: list[tuple[Layer, int]] = field(default_factory=list)  # (layer, channel offset in its input)
    concats: list[str] = field(default_factory=list)                  # Concat outputs that get narrower
    why_not: str = ""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _channels(graph: Graph, name: str) -> int | None:
    shape = graph.tensors[name].shape
    return shape[-1] if shape and isinstance(shape[-1], int) else None


def _is_depthwise(graph: Graph, node: Node) -> bool:
    w = graph.const(node.input(1))
    c = _channels(graph, node.inputs[0])
    return (node.op == "Conv" and w is not None and w.ndim == 4 and w.shape[3] == 1 and c is not None
            and node.attrs.get("group", 1) == c == w.shape[0])


def _per_channel(graph: Graph, name: str, width: int) -> str | None:
    """'scalar', 'channel' (a constant of `width` values along the last axis) or None."""
    c = graph.const(name)
    if c is None:
        return None
    if c.size == 1:
        return "scalar"
    return "channel" if c.ndim >= 1 and c.shape[-1] == width and c.size == width else None


def _tie_edges(graph: Graph, node: Node) -> list[tuple[str, str]]:
    """Tensor pairs an op ties channel for channel."""
    out = node.outputs[0] if node.outputs else ""
    if node.op in ONE_TO_ONE or _is_depthwise(graph, node):
        return [(node.inputs[0], out)]
    if node.op in BINARY:
        width = _channels(graph, out)
        return [(i, out) for i in node.inputs if i and graph.const(i) is None and _channels(graph, i) == width]
    return []


def _spaces(graph: Graph) -> tuple[dict[str, Space], _UnionFind]:
    uf = _UnionFind()
    for node in graph.nodes:
        for a, b in _tie_edges(graph, node):
            uf.union(a, b)
    spaces: dict[str, Space] = {}
    for name, t in graph.tensors.items():
        if t.data is None and t.shape:
            root = uf.find(name)
            space = spaces.setdefault(root, Space(set(), _channels(graph, name) or 0))
            space.tensors.add(name)
    return spaces, uf


def _concat_offset(graph: Graph, node: Node, index: int) -> int | None:
    """Channel offset of input `index` in a channel Concat's output, None for other axes."""
    rank = len(graph.tensors[node.outputs[0]].shape or ())
    if node.attrs.get("axis", 0) not in (rank - 1, -1) or node.attrs.get("upsample"):
        return None
    widths = [_channels(graph, i) for i in node.inputs]
    if any(w is None for w in widths):
        return None
    return int(sum(widths[:index]))


def _analyze(graph: Graph, space: Space, uf: _UnionFind, layers: dict[str, Layer], consumers_of: dict,
             producers: dict) -> None:
    """Fills roots / depthwise / constants / consumers, or why_not."""
    outputs = set(graph.outputs)

    def fail(why: str) -> None:
        space.why_not = space.why_not or why

    for name in sorted(space.tensors):
        if name in outputs:
            fail(f"{name} is a graph output")
        node = producers.get(name)
        if node is None:
            fail(f"{name} is a graph input")
        elif node.op in ("Conv", "FullyConnected") and node.name in layers and not _is_depthwise(graph, node):
            space.roots.append(layers[node.name])
        elif _is_depthwise(graph, node):
            space.depthwise.append(node)
        elif not (node.op in ONE_TO_ONE or node.op in BINARY):
            fail(f"{name} comes from {node.op} {node.name}")
        for reader in consumers_of.get(name, []):
            _reader(graph, space, uf, reader, name, layers, consumers_of, fail)
    if not space.roots and not space.why_not:
        fail("no prunable layer makes these channels")


def _reader(graph, space, uf, reader: Node, name: str, layers: dict, consumers_of: dict, fail) -> None:
    if reader.op in ("Conv", "FullyConnected") and reader.inputs[0] == name and not _is_depthwise(graph, reader):
        layer = layers.get(reader.name)
        if layer is None or name in reader.inputs[1:]:
            fail(f"read by {reader.op} {reader.name}, which cannot be refitted")
        else:
            space.consumers.append((layer, 0))
        return
    if reader.op == "Concat":
        out = reader.outputs[0]
        readers = consumers_of.get(out, [])
        offsets = [_concat_offset(graph, reader, k) for k, i in enumerate(reader.inputs) if i == name]
        if any(o is None for o in offsets) or out in graph.outputs or not readers:
            fail(f"read by Concat {reader.name} along another axis or into a graph output")
            return
        for r in readers:
            layer = layers.get(r.name)
            if r.op not in ("Conv", "FullyConnected") or layer is None or r.inputs[0] != out or _is_depthwise(graph, r):
                fail(f"Concat {reader.name} is read by {r.op} {r.name}")
                return
            space.consumers += [(layer, o) for o in offsets]
        space.concats.append(out)
        return
    if _is_depthwise(graph, reader):
        return  # its output is in the space (tied)
    if reader.op in ONE_TO_ONE:
        for k, i in enumerate(reader.inputs[1:], start=1):
            if i and (k not in SHAPE_INPUTS.get(reader.op, ()) or graph.const(i) is None):
                fail(f"{reader.op} {reader.name} has an input ({i}) that may name channels")
        return  # its output is in the space (tied)
    if reader.op in BINARY:
        for k, i in enumerate(reader.inputs):
            if not i or i == name or uf.find(i) == uf.find(name):
                continue
            kind = _per_channel(graph, i, space.width)
            if kind == "channel":
                space.constants.append((reader, k))
            elif kind is None and _channels(graph, i) != 1:  # (one value for every channel is fine)
                fail(f"{reader.op} {reader.name} combines it with {i}, which does not map channel to channel")
        return
    fail(f"read by {reader.op} {reader.name}")


def _scores(graph: Graph, space: Space, stats: dict[str, InputStats], method: str) -> np.ndarray:
    """Importance of each channel of the space (higher = keep)."""
    score = np.zeros(space.width)
    if method == "magnitude":
        for layer in space.roots:
            w = layer.matrix(graph)
            score += (w ** 2).sum(axis=1) / max(float((w ** 2).sum()), 1e-30)
        return score
    for layer, offset in space.consumers:
        w = layer.matrix(graph)
        c_in = layer.shape[-1]
        energy = (w ** 2).sum(axis=0) * np.maximum(np.diag(stats[layer.name].mean_hessian), 0.0)
        per_channel = energy.reshape(-1, c_in).sum(axis=0)[offset:offset + space.width]
        score += per_channel / max(float(energy.sum()), 1e-30)
    return score


def _kept(width: int, sparsity: float, score: np.ndarray) -> np.ndarray:
    keep = max(1, width - int(round(sparsity * width)))
    if width % CHANNEL_MULTIPLE == 0:
        keep = min(width, -(-keep // CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE)
    return np.sort(np.argsort(-score, kind="stable")[:keep])


def refit(w: np.ndarray, bias: np.ndarray, stats: InputStats, keep_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W restricted to keep_cols and refitted, bias refitted): the ridge least-squares change of the
    kept weights and the bias that best replaces the removed inputs' contribution."""
    k = w.shape[1]
    removed = np.setdiff1d(np.arange(k), keep_cols)
    h = stats.augmented
    kept_aug = np.concatenate([keep_cols, [k]])  # the kept inputs and the constant 1 (the bias)
    a = h[np.ix_(kept_aug, kept_aug)].copy()
    ridge = RIDGE * max(float(np.mean(np.diag(a)[:-1])) if len(keep_cols) else 1.0, 1e-12)
    a[np.arange(len(keep_cols)), np.arange(len(keep_cols))] += ridge
    rhs = h[np.ix_(kept_aug, removed)] @ w[:, removed].T
    delta = np.linalg.solve(a, rhs)  # [len(kept) + 1, N]
    return w[:, keep_cols] + delta[:-1].T, bias + delta[-1]


def _relative_error(w_old: np.ndarray, b_old: np.ndarray, w_new_full: np.ndarray, b_new: np.ndarray,
                    stats: InputStats) -> float:
    h = stats.augmented
    old = np.concatenate([w_old, b_old[:, None]], axis=1)
    d = np.concatenate([w_new_full, b_new[:, None]], axis=1) - old
    den = float(((old @ h) * old).sum())
    return float(((d @ h) * d).sum()) / den if den > 0 else 0.0


def _slice_last(graph: Graph, name: str, keep: np.ndarray) -> None:
    t = graph.tensors[name]
    if t.data is not None:
        t.data = np.ascontiguousarray(t.data[..., keep])
        t.shape = t.data.shape
    elif t.shape:
        t.shape = tuple(t.shape[:-1]) + (len(keep),)


def _apply_consumer(graph: Graph, layer: Layer, removed_channels: set[int], stats: InputStats) -> float:
    """Removes input channels of a consumer, refits it; returns its relative output error."""
    c_in = layer.shape[-1]
    keep_ch = np.array(sorted(set(range(c_in)) - removed_channels))
    taps = layer.k // c_in
    keep_cols = (np.arange(taps)[:, None] * c_in + keep_ch[None, :]).reshape(-1)
    w = layer.matrix(graph)
    b = layer.bias(graph)
    w_new, b_new = refit(w, b, stats, keep_cols)
    full = np.zeros_like(w)
    full[:, keep_cols] = w_new
    error = _relative_error(w, b, full, b_new, stats)
    layer.shape = tuple(layer.shape[:-1]) + (len(keep_ch),)
    graph.tensors[layer.weight].data = np.ascontiguousarray(w_new.reshape(layer.shape), np.float32)
    graph.tensors[layer.weight].shape = layer.shape
    layer.set_bias(graph, b_new)
    return error


def _apply_space(graph: Graph, space: Space, keep: np.ndarray) -> None:
    for layer in space.roots:
        w = graph.tensors[layer.weight].data[keep]
        layer.shape = tuple(w.shape)
        graph.tensors[layer.weight].data = np.ascontiguousarray(w)
        graph.tensors[layer.weight].shape = layer.shape
        b = graph.const(layer.node.input(2))
        if b is not None:
            graph.tensors[layer.node.input(2)].data = np.ascontiguousarray(b.reshape(-1)[keep])
            graph.tensors[layer.node.input(2)].shape = (len(keep),)
    for node in space.depthwise:
        for name in node.inputs[1:3]:
            if name:
                t = graph.tensors[name]
                t.data = np.ascontiguousarray(t.data[keep])
                t.shape = t.data.shape
        node.attrs["group"] = len(keep)
    for node, k in space.constants:
        _slice_last(graph, node.inputs[k], keep)
    for name in space.tensors:
        _slice_last(graph, name, keep)


def prune_channels(graph: Graph, layers: list[Layer], stats: dict[str, InputStats], sparsity: float,
                   method: str, consumer_layers: list[Layer] | None = None) -> list:
    """Removes `sparsity` of the channels of every prunable space whose roots are all in `layers`;
    `consumer_layers` (default: `layers`) are the layers that may be refitted."""
    from . import LayerResult

    roots = {layer.name: layer for layer in layers}
    refittable = {layer.name: layer for layer in (consumer_layers or layers)}
    producers = graph.producers()
    consumers_of = graph.consumers()
    spaces, uf = _spaces(graph)
    decisions, rows = [], []
    for space in spaces.values():
        made = {producers[t].name for t in space.tensors if t in producers}
        if not made & set(roots) or space.width < 2:
            continue
        _analyze(graph, space, uf, {**refittable, **roots}, consumers_of, producers)
        if any(layer.name not in roots for layer in space.roots):
            space.why_not = space.why_not or "a layer making these channels is excluded"
        if space.why_not:
            rows += [LayerResult(layer.name, layer.node.op, layer.shape, "kept dense", 0.0, None, space.why_not)
                     for layer in space.roots]
            continue
        keep = _kept(space.width, sparsity, _scores(graph, space, stats, method))
        decisions.append((space, keep))
    removed_inputs: dict[str, set[int]] = {}
    consumer_of: dict[str, Layer] = {}
    for space, keep in decisions:
        gone = set(range(space.width)) - set(keep.tolist())
        for layer, offset in space.consumers:
            removed_inputs.setdefault(layer.name, set()).update(offset + c for c in gone)
            consumer_of[layer.name] = layer
    errors = {name: _apply_consumer(graph, consumer_of[name], gone, stats[name])
              for name, gone in removed_inputs.items()}
    for space, keep in decisions:
        concat_shift = {}
        for out in space.concats:
            concat_shift[out] = space.width - len(keep)
        _apply_space(graph, space, keep)
        for out, fewer in concat_shift.items():
            t = graph.tensors[out]
            t.shape = tuple(t.shape[:-1]) + (t.shape[-1] - fewer,)
        for layer in space.roots:
            rows.append(LayerResult(layer.name, layer.node.op, layer.shape, f"channels {space.width} -> {len(keep)}",
                                    1 - len(keep) / space.width, errors.get(layer.name)))
    for name, err in errors.items():
        if not any(r.node == name for r in rows):
            layer = consumer_of[name]
            rows.append(LayerResult(name, layer.node.op, layer.shape, "input channels refitted", 0.0, err))
    return rows
