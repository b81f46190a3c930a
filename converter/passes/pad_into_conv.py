"""Folds a zero Pad of the spatial axes into the convolutions that read it.

TensorFlow models pad explicitly before a stride-2 convolution
(ZeroPadding2D, then a VALID Conv: MediaPipe's pose models, Keras
MobileNets); the Pad is a full copy of the feature map that the
convolution's own padding does for free. With zero padding (the Pad's
constant 0, or an int8 Pad's zero point, both real zero as a convolution
pads) the Conv's pads grow by the Pad's and the Pad goes away. The Pad's
output may reach the Conv through the NHWC -> NCHW Transpose a TFLite
import puts in front of every convolution.
"""

from __future__ import annotations

import numpy as np

from nanort.schema.AutoPad import AutoPad
from nanort.schema.PadMode import PadMode

from ..ir import Graph, Node

NHWC_TO_NCHW = [0, 3, 1, 2]


def _zero_constant_pads(graph: Graph, pad: Node) -> np.ndarray | None:
    """The Pad's [begins..., ends...] of a rank-4 zero padding, else None."""
    pads = graph.const(pad.input(1))
    if pad.attrs.get("mode", PadMode.CONSTANT) != PadMode.CONSTANT or pad.input(3) or pads is None \
            or pads.size != 8 or (pads < 0).any():
        return None
    if pad.input(2):
        value = graph.const(pad.input(2))
        if value is None or value.size > 1 or (value.size == 1 and float(value.reshape(-1)[0]) != 0.0):
            return None
    return pads.reshape(-1).astype(np.int64)


def _foldable_conv(graph: Graph, conv: Node, x: str) -> bool:
    w = graph.const(conv.input(1))
    return conv.op == "Conv" and conv.inputs[0] == x and conv.inputs.count(x) == 1 and w is not None \
        and w.ndim == 4 and conv.attrs.get("auto_pad", AutoPad.NOTSET) in (AutoPad.NOTSET, AutoPad.VALID)


def _readers(graph: Graph, pad: Node, consumers: dict[str, list[Node]]) -> list[tuple[Node | None, Node]] | None:
    """(the Transpose between, or None; the Conv) for every reader of the Pad's output, or None when one
    of them is something else (or the output is a graph output)."""
    y = pad.outputs[0]
    if y in graph.outputs:
        return None
    found: list[tuple[Node | None, Node]] = []
    for reader in consumers.get(y, []):
        if reader.op == "Transpose" and list(reader.attrs.get("perm", [])) == NHWC_TO_NCHW:
            t = reader.outputs[0]
            convs = consumers.get(t, [])
            if t in graph.outputs or not convs or not all(_foldable_conv(graph, c, t) for c in convs):
                return None
            found += [(reader, c) for c in convs]
        elif _foldable_conv(graph, reader, y):
            found.append((None, reader))
        else:
            return None
    return found or None


def _fold(graph: Graph, pad: Node, consumers: dict[str, list[Node]]) -> bool:
    pads = _zero_constant_pads(graph, pad)
    readers = _readers(graph, pad, consumers) if pads is not None else None
    if readers is None:
        return False
    perms = {id(c): NHWC_TO_NCHW if t is not None else [0, 1, 2, 3] for t, c in readers}
    # every Conv must see zero padding of batch and channels (its axes 0 and 1)
    if any(pads[perms[id(c)][a]] or pads[4 + perms[id(c)][a]] for _, c in readers for a in (0, 1)):
        return False
    x = pad.inputs[0]
    x_shape = graph.tensors[x].shape
    for transpose, conv in readers:
        p = perms[id(conv)]
        old = list(conv.attrs.get("pads", [0, 0, 0, 0])) if conv.attrs.get("auto_pad") != AutoPad.VALID else [0] * 4
        conv.attrs["pads"] = [old[0] + int(pads[p[2]]), old[1] + int(pads[p[3]]),
                              old[2] + int(pads[4 + p[2]]), old[3] + int(pads[4 + p[3]])]
        conv.attrs["auto_pad"] = AutoPad.NOTSET
        if transpose is None:
            conv.inputs[0] = x
        elif transpose.inputs[0] != x:
            transpose.inputs[0] = x
            t = graph.tensors[transpose.outputs[0]]
            t.shape = None if x_shape is None else tuple(x_shape[a] for a in NHWC_TO_NCHW)
    return True


def fold_pads_into_convs(graph: Graph) -> None:
    changed = False
    for pad in graph.iter_nodes("Pad"):
        changed |= _fold(graph, pad, graph.consumers())
    if changed:
        graph.remove_unused()
