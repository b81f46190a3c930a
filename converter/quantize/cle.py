"""Cross-layer equalization: rescale the channels between two consecutive
layers so that one int8 scale fits all of them, without changing what the
float model computes.

A pair is a Conv / FullyConnected A whose output channel c feeds, through
functions that commute with a positive per-channel scale, the input channel
c of a Conv / FullyConnected B. Dividing A's weights and bias of channel c by
s_c and multiplying B's weights that read channel c by s_c leaves B's output
unchanged (up to float rounding) and divides the tensor between them,
channel c, by s_c.

Only positively homogeneous functions f(x / s) = f(x) / s (s > 0) may sit
between A and B: none, Relu, LeakyRelu, PRelu, a Clip with no upper bound,
max and average pooling. HardSwish, SiLU, Clip(0, 6), Sigmoid... are not (HardSwish's bends
at -3 and 3 do not move with the scale), so a pair joined through one is left
alone: rescaling it would change the fp32 model's outputs.

The scales come from the calibration data (a few samples): with a_c the
largest |value| of channel c between A and B,
  * B depthwise (each output channel reads one input channel): B's weights
    are quantized per output channel, so their scaling costs nothing, and
    s_c = a_c equalizes the tensor's channels completely;
  * otherwise B's weights are quantized per output channel across all input
    channels, so both sides count: with r_c the largest |weight| of B that
    reads channel c, s_c = sqrt(a_c / r_c) gives a_c / s_c and r_c * s_c the
    same proportions (Nagel et al. 2019, "Data-free quantization through
    weight equalization and bias correction", with the measured activation
    range in place of A's weight range: A's weights are per channel here).
Scales are normalized to a geometric mean of 1 and bounded to MAX_RATIO
either way. Pairs are taken last to first, so that B's weights are final
(a later pair rescales them as its A) when a pair measures them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nanort.schema.ActivationKind import ActivationKind

from ..ir import Graph, Node
from .calibrate import run_all_tensors

EQUALIZED_OPS = ("Conv", "FullyConnected")
# positively homogeneous, channel by channel
THROUGH_OPS = ("PRelu", "Relu", "LeakyRelu", "MaxPool", "GlobalMaxPool", "AveragePool", "GlobalAveragePool")
MAX_RATIO = 256.0  # scales stay within [1/MAX_RATIO, MAX_RATIO]
SAMPLES = 4        # calibration samples that measure the channel ranges


def _homogeneous(node: Node) -> bool:
    kind, lo, hi = (tuple(node.attrs.get("activation", (0, 0.0, 0.0))) + (0.0, 0.0))[:3]
    if kind in (ActivationKind.NONE, ActivationKind.RELU, ActivationKind.LEAKY_RELU):
        return True
    return kind == ActivationKind.CLIP and lo in (0.0, -math.inf) and hi == math.inf


def _float_const(graph: Graph, name: str) -> bool:
    t = graph.tensors.get(name) if name else None
    return t is not None and t.data is not None and t.data.dtype == np.float32 and t.quant is None


def _layer(graph: Graph, node: Node) -> bool:
    return node.op in EQUALIZED_OPS and len(node.inputs) >= 2 and _float_const(graph, node.inputs[1]) \
        and (node.op == "Conv" or graph.tensors[node.inputs[1]].data.ndim == 2) \
        and (not node.input(2) or _float_const(graph, node.inputs[2]))


def _reads_channels(graph: Graph, node: Node, tensor: str, channels: int) -> bool:
    """True when `node` is a layer reading `tensor` as its data input, channel by channel."""
    if not _layer(graph, node) or node.inputs[0] != tensor or tensor in node.inputs[1:]:
        return False
    w = graph.tensors[node.inputs[1]].data
    if node.op == "FullyConnected":
        return w.shape[1] == channels
    return w.shape[3] * int(node.attrs.get("group", 1)) == channels


def pairs(graph: Graph) -> list[tuple[Node, list[str], Node]]:
    """(A, the tensors from A's output to B's input, B) for every equalizable pair."""
    consumers = graph.consumers()
    outputs = set(graph.outputs)
    found = []
    for a in graph.nodes:
        if not _layer(graph, a) or not _homogeneous(a):
            continue
        channels = graph.tensors[a.inputs[1]].data.shape[0]
        chain = [a.outputs[0]]
        while True:
            t = chain[-1]
            readers = consumers.get(t, [])
            if t in outputs or len(readers) != 1:
                break
            r = readers[0]
            if r.op in THROUGH_OPS and r.inputs[0] == t and (r.op != "PRelu" or _float_const(graph, r.input(1))) \
                    and not (r.op == "MaxPool" and len(r.outputs) > 1 and r.outputs[1]):
                chain.append(r.outputs[0])
                continue
            if _reads_channels(graph, r, t, channels):
                found.append((a, chain, r))
            break
    return found


def _scale_const(graph: Graph, node: Node, index: int, factor: np.ndarray, counts: dict[str, int]) -> None:
    """Multiplies the node's constant input by factor (broadcast), copying it first if
    another node reads it too."""
    name = node.inputs[index]
    value = (graph.tensors[name].data * factor).astype(np.float32)
    if counts.get(name, 0) > 1:
        counts[name] -= 1
        name = graph.add_const(value, f"{node.name}_equalized")
        node.inputs[index] = name
        counts[name] = 1
    else:
        graph.tensors[name].data = value


def _scales(graph: Graph, b: Node, reach: np.ndarray) -> np.ndarray:
    w = graph.tensors[b.inputs[1]].data
    channels = reach.size
    group = int(b.attrs.get("group", 1)) if b.op == "Conv" else 1
    if b.op == "Conv" and group == channels:  # depthwise: B's per-channel weight scales absorb s for free
        s = reach.astype(np.float64)
    else:
        if b.op == "FullyConnected":
            r = np.abs(w).max(axis=0)
        else:  # OHWI, input channel c = group g * (I) + i, read by group g's output channels
            per_group = np.abs(w).reshape(group, w.shape[0] // group, -1, w.shape[3]).max(axis=(1, 2))
            r = per_group.reshape(-1)
        s = np.sqrt(reach.astype(np.float64) / np.maximum(r.astype(np.float64), 1e-30))
    live = (reach > 0) & np.isfinite(s) & (s > 0)
    if not live.any():
        return np.ones(channels)
    s = np.where(live, s, 1.0)
    s /= math.exp(float(np.mean(np.log(s[live]))))
    return np.clip(np.where(live, s, 1.0), 1.0 / MAX_RATIO, MAX_RATIO)


def _apply(graph: Graph, a: Node, b: Node, s: np.ndarray, counts: dict[str, int]) -> None:
    wa = graph.tensors[a.inputs[1]].data
    _scale_const(graph, a, 1, 1.0 / s.reshape((-1,) + (1,) * (wa.ndim - 1)), counts)
    if a.input(2):
        _scale_const(graph, a, 2, 1.0 / s.reshape(graph.tensors[a.inputs[2]].data.shape), counts)
    wb = graph.tensors[b.inputs[1]].data
    if b.op == "FullyConnected":
        factor = s[None, :]
    else:  # OHWI: output channels of group g read input channels g * I .. g * I + I - 1
        group = int(b.attrs.get("group", 1))
        per_out = np.repeat(s.reshape(group, 1, wb.shape[3]), wb.shape[0] // group, axis=1)
        factor = per_out.reshape(wb.shape[0], 1, 1, wb.shape[3])
    _scale_const(graph, b, 1, factor, counts)


def equalize(graph: Graph, channel_reach: Callable[[Sequence[str]], dict[str, np.ndarray]]) -> int:
    """Equalizes every pair in place; channel_reach(tensors) gives each tensor's largest
    |value| per channel (last axis) on calibration data. Returns the number of pairs."""
    found = pairs(graph)
    if not found:
        return 0
    reach = channel_reach([chain[-1] for _, chain, _ in found])
    counts: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            if i:
                counts[i] = counts.get(i, 0) + 1
    done = 0
    for a, chain, b in reversed(found):
        r = reach.get(chain[-1])
        if r is None or r.size != graph.tensors[a.inputs[1]].data.shape[0]:
            continue
        _apply(graph, a, b, _scales(graph, b, r), counts)
        done += 1
    return done


def channel_reach_on(graph: Graph, samples: Sequence[dict]) -> Callable[[Sequence[str]], dict[str, np.ndarray]]:
    """channel_reach for equalize, measured by running the float graph on samples."""
    def reach(names: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for feeds in samples:
            values = run_all_tensors(graph, feeds, set(names))
            for name, v in values.items():
                m = np.abs(v.reshape(-1, v.shape[-1]).astype(np.float64)).max(axis=0)
                out[name] = np.maximum(out[name], m) if name in out else m
        return out
    return reach
