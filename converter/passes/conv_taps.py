"""Drops the kernel rows / columns of a convolution that read only padding.

A dilated convolution on a small map (DeepLab's ASPP: 3x3 at dilation 24 or
36 on a 16x16 map, padded by the dilation) reads, through its outer taps,
nothing but the zero padding at every output position: those taps add zero.
With the input's spatial size known at convert time they are cut from the
weights and the padding is reduced to match, so the output shape and values
stay the same (a sum without zero terms) for a fraction of the work.
"""

from __future__ import annotations

from ..ir import Graph, Node

NOTSET = 0  # auto_pad: explicit pads


def _live_taps(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int) -> tuple[int, int]:
    """First and last kernel tap that reads an input element at some output position."""
    out = (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1
    live = [i for i in range(kernel)
            if any(0 <= o * stride - pad_begin + i * dilation < size for o in range(out))]
    return (live[0], live[-1]) if live else (0, kernel - 1)


def _trim(graph: Graph, node: Node) -> bool:
    w = graph.const(node.inputs[1]) if len(node.inputs) > 1 else None
    shape = graph.tensors[node.inputs[0]].shape
    if w is None or w.ndim != 4 or node.attrs.get("auto_pad", NOTSET) != NOTSET or shape is None \
            or len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[2:]):
        return False
    strides, dilations, pads = node.attrs.get("strides", [1, 1]), node.attrs.get("dilations", [1, 1]), \
        list(node.attrs.get("pads", [0, 0, 0, 0]))
    keep = []
    for axis in range(2):
        k = w.shape[2 + axis]
        first, last = _live_taps(shape[2 + axis], k, strides[axis], dilations[axis], pads[axis], pads[axis + 2])
        pads[axis] -= first * dilations[axis]
        pads[axis + 2] -= (k - 1 - last) * dilations[axis]
        keep.append(slice(first, last + 1))
    if min(pads) < 0 or all(s.stop - s.start == k for s, k in zip(keep, w.shape[2:])):
        return False
    trimmed = w[:, :, keep[0], keep[1]]
    quant = graph.tensors[node.inputs[1]].quant  # (per output channel: axis 0 stays)
    node.inputs[1] = graph.add_const(trimmed, f"{node.name}_w_trimmed")
    graph.tensors[node.inputs[1]].quant = quant
    node.attrs["pads"] = pads
    node.attrs["kernel_shape"] = list(trimmed.shape[2:])
    return True


def trim_padding_taps(graph: Graph) -> None:
    changed = False
    for node in graph.nodes:
        if node.op == "Conv":
            changed |= _trim(graph, node)
    if changed:
        graph.remove_unused()
