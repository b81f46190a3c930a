"""The layers pruning and factorization work on, seen as matrices.

A layer is a Conv (NHWC input, OHWI weights) or a FullyConnected (W[N, K])
with a constant float32 weight read by no other node. Its weight is the
matrix W [rows, K] = [output channels, KH * KW * C_in] (OHWI flattened;
FullyConnected: W itself), and its input, the matrix X [pixels, K] of the
patches each output pixel reads (im2col in OHWI order, zeros in the
padding), so that the layer computes X W^T + b. Pruning statistics are
second moments of X (calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node


@dataclass
class Layer:
    node: Node
    weight: str                     # the weight tensor's name
    shape: tuple[int, ...]          # the weight's shape (OHWI or [N, K])
    kernel: tuple[int, int] = (1, 1)
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right (resolved)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def input(self) -> str:
        return self.node.inputs[0]

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def k(self) -> int:
        return int(np.prod(self.shape[1:]))

    @property
    def pointwise(self) -> bool:
        return self.node.op == "FullyConnected" or (self.kernel == (1, 1) and self.pads == (0, 0, 0, 0))

    def matrix(self, graph: Graph) -> np.ndarray:
        return graph.tensors[self.weight].data.reshape(self.rows, -1).astype(np.float64)

    def set_matrix(self, graph: Graph, w: np.ndarray) -> None:
        t = graph.tensors[self.weight]
        t.data = np.ascontiguousarray(w.reshape(self.shape), np.float32)

    def bias(self, graph: Graph) -> np.ndarray:
        """The bias [rows] (float64; zeros where the node has none)."""
        b = graph.const(self.node.input(2))
        return np.zeros(self.rows) if b is None else b.astype(np.float64).reshape(-1)

    def set_bias(self, graph: Graph, b: np.ndarray) -> None:
        name = self.node.input(2)
        if name:
            graph.tensors[name].data = b.astype(np.float32)
            graph.tensors[name].shape = (len(b),)
        else:
            new = graph.add_const(b.astype(np.float32), f"{self.weight}_bias")
            self.node.inputs = self.node.inputs[:2] + [new]

    def patches(self, x: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        """X [P, K] from this layer's input value x: every output pixel, or the
        flat output pixel indices `pixels` (n, oy, ox row-major)."""
        if self.node.op == "FullyConnected":
            rows = x.reshape(-1, x.shape[-1])
            return rows if pixels is None else rows[pixels]
        n, h, w, c = x.shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        pt, pl, pb, pr = self.pads
        oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
        ow = (w + pl + pr - (kw - 1) * dw - 1) // sw + 1
        padded = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        if pixels is None:
            pixels = np.arange(n * oh * ow)
        b, rem = np.divmod(pixels, oh * ow)
        oy, ox = np.divmod(rem, ow)
        ky, kx = np.divmod(np.arange(kh * kw), kw)
        iy = oy[:, None] * sh + ky[None, :] * dh
        ix = ox[:, None] * sw + kx[None, :] * dw
        return padded[b[:, None], iy, ix, :].reshape(len(pixels), kh * kw * c)

    def output_pixels(self, x_shape: tuple[int, ...]) -> int:
        if self.node.op == "FullyConnected":
            return int(np.prod(x_shape[:-1]))
        n, h, w, _ = x_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        pt, pl, pb, pr = self.pads
        return n * ((h + pt + pb - (kh - 1) * dh - 1) // sh + 1) * ((w + pl + pr - (kw - 1) * dw - 1) // sw + 1)


def _same_pads(size: int, k: int, s: int, d: int, upper: bool) -> tuple[int, int]:
    out = -(-size // s)
    total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def _conv_layer(graph: Graph, node: Node) -> Layer | None:
    w = graph.tensors[node.inputs[1]]
    x = graph.tensors[node.inputs[0]]
    if w.data is None or w.data.ndim != 4 or node.attrs.get("group", 1) != 1 or x.static_shape is None:
        return None
    kh, kw = w.data.shape[1:3]
    strides = tuple(node.attrs.get("strides", (1, 1)))
    dilations = tuple(node.attrs.get("dilations", (1, 1)))
    pads = tuple(node.attrs.get("pads", (0, 0, 0, 0))) or (0, 0, 0, 0)
    auto = int(node.attrs.get("auto_pad", 0))
    if auto in (1, 2):  # SAME_UPPER, SAME_LOWER
        (t, b), (left, r) = (_same_pads(x.static_shape[i + 1], k, s, d, auto == 1)
                             for i, (k, s, d) in enumerate(zip((kh, kw), strides, dilations)))
        pads = (t, left, b, r)
    elif auto == 3:  # VALID
        pads = (0, 0, 0, 0)
    return Layer(node, node.inputs[1], tuple(w.data.shape), (kh, kw), strides, dilations, pads)


def find_layers(graph: Graph) -> tuple[list[Layer], dict[str, str]]:
    """(layers in execution order, {node: why it is not one}) for Conv / FullyConnected nodes."""
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            if i:
                readers[i] = readers.get(i, 0) + 1
    layers, skipped = [], {}
    for node in graph.nodes:
        if node.op not in ("Conv", "FullyConnected") or len(node.inputs) < 2:
            continue
        w = graph.tensors[node.inputs[1]]
        if w.data is None or w.dtype != np.float32:
            skipped[node.name] = "weights computed at run time or not float32"
        elif readers.get(node.inputs[1], 0) != 1:
            skipped[node.name] = "weights shared with another node"
        elif node.op == "FullyConnected":
            if w.data.ndim == 2:
                layers.append(Layer(node, node.inputs[1], tuple(w.data.shape)))
        elif node.attrs.get("group", 1) != 1:
            depthwise = w.data.shape[3] == 1
            skipped[node.name] = "depthwise conv" if depthwise else "grouped conv"
        else:
            layer = _conv_layer(graph, node)
            if layer is None:
                skipped[node.name] = "input shape not static"
            else:
                layers.append(layer)
    return layers, skipped
