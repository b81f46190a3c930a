"""Folds per-channel linear steps into the weights of the Conv /
ConvTranspose / FullyConnected that feeds them: BatchNormalization with
constant statistics, and Mul / Add / Sub / Div by per-channel constants
(PaddlePaddle exports scale-and-shift after many convolutions). Also drops
arithmetic that does nothing (x * 1, x + 0, x / 1, x - 0)."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .patterns import Matcher, channel_vector, is_scalar

FOLD_INTO = ("Conv", "ConvTranspose", "FullyConnected")


def _out_channels(graph: Graph, node: Node) -> int | None:
    w = graph.const(node.inputs[1])
    if w is None:
        return None
    if node.op == "Conv":
        return w.shape[0]
    if node.op == "ConvTranspose":
        return w.shape[1] * node.attrs.get("group", 1)
    return w.shape[0]  # FullyConnected: W[N, K]


def _channel_axis(graph: Graph, node: Node) -> tuple[int, int] | None:
    """(axis, rank) of the output channel dimension of `node`'s output."""
    rank = graph.tensors[node.outputs[0]].rank
    if rank is None:
        return None
    return (1, rank) if node.op in ("Conv", "ConvTranspose") else (rank - 1, rank)


def _scale_weights(graph: Graph, node: Node, s: np.ndarray) -> None:
    w = graph.const(node.inputs[1]).astype(np.float32)
    if node.op == "ConvTranspose":
        group = node.attrs.get("group", 1)
        cin, cout_g = w.shape[0], w.shape[1]
        w = w.reshape(group, cin // group, cout_g, *w.shape[2:])
        w = w * s.reshape(group, 1, cout_g, *([1] * (w.ndim - 3)))
        w = w.reshape(cin, cout_g, *w.shape[3:])
    else:
        w = w * s.reshape(-1, *([1] * (w.ndim - 1)))
    node.inputs[1] = graph.add_const(w.astype(np.float32), f"{node.name}_w")


def _bias(graph: Graph, node: Node, channels: int) -> np.ndarray:
    b = graph.const(node.input(2))
    return np.zeros(channels, np.float32) if b is None else b.astype(np.float32).reshape(-1)


def _set_bias(graph: Graph, node: Node, b: np.ndarray) -> None:
    name = graph.add_const(b.astype(np.float32), f"{node.name}_b")
    node.inputs = node.inputs[:2] + [name]


def _affine(graph: Graph, step: Node, x: str, channels: int, axis: int, rank: int
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) with step(x) = x * scale + shift per channel, if it is one."""
    if step.op == "BatchNormalization":
        if step.attrs.get("axis", 1) != axis or len(step.inputs) != 5 or step.inputs[0] != x:
            return None
        vals = [graph.const(i) for i in step.inputs[1:]]
        if any(v is None or v.size != channels for v in vals):
            return None
        gamma, beta, mean, var = (v.astype(np.float64).reshape(-1) for v in vals)
        s = gamma / np.sqrt(var + step.attrs.get("epsilon", 1e-5))
        return s.astype(np.float32), (beta - mean * s).astype(np.float32)
    if step.op not in ("Mul", "Add", "Sub", "Div") or len(step.inputs) != 2 or step.attrs:
        return None
    if step.inputs[0] == x:
        c = channel_vector(graph, step.inputs[1], channels, axis, rank)
    elif step.op in ("Mul", "Add"):
        c = channel_vector(graph, step.inputs[0], channels, axis, rank)
    else:
        return None
    if c is None:
        return None
    one, zero = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    if step.op == "Mul":
        return c, zero
    if step.op == "Div":
        return (None, None) if np.any(c == 0) else (1.0 / c, zero)
    return (one, c) if step.op == "Add" else (one, -c)


def fold_linear_steps(graph: Graph) -> None:
    m = Matcher(graph)
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node.op not in FOLD_INTO or node.attrs.get("activation") or graph.const(node.input(1)) is None:
                continue
            out = node.outputs[0]
            step = m.only_consumer(out)
            channels, where = _out_channels(graph, node), _channel_axis(graph, node)
            if step is None or channels is None or where is None:
                continue
            affine = _affine(graph, step, out, channels, *where)
            if affine is None or affine[0] is None:
                continue
            scale, shift = affine
            if graph.tensors[step.outputs[0]].shape != graph.tensors[out].shape:
                continue  # the constant broadcast the result to a larger shape
            _scale_weights(graph, node, scale)
            _set_bias(graph, node, _bias(graph, node, channels) * scale + shift)
            node.outputs = [step.outputs[0]]
            graph.nodes.remove(step)
            m.refresh()
            changed = True


def drop_neutral_arithmetic(graph: Graph) -> None:
    """x*1, 1*x, x/1, x+0, 0+x, x-0 -> x (when the constant doesn't broadcast x larger)."""
    neutral = {"Mul": 1.0, "Div": 1.0, "Add": 0.0, "Sub": 0.0}
    for node in list(graph.nodes):
        if node.op not in neutral or len(node.inputs) != 2 or node.attrs:
            continue
        x, c = node.inputs
        if not is_scalar(graph, c, neutral[node.op], 0) and node.op in ("Mul", "Add"):
            x, c = c, x
        if not is_scalar(graph, c, neutral[node.op], 0):
            continue
        tx, ty = graph.tensors.get(x), graph.tensors[node.outputs[0]]
        if tx is None or tx.shape is None or tx.shape != ty.shape or tx.dtype != ty.dtype:
            continue
        node.op, node.inputs, node.attrs = "Identity", [x], {}
