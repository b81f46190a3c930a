"""Nearest-neighbour upsampling fused into its reader (runs last, on the final
float or int8 graph, after layout and quantization).

A feature-pyramid neck upsamples coarse maps by integer factors (nearest
Resize) only to add them to, or concatenate them with, a full-size map: the
Resize writes the large tensor and its reader reads it back. A Concat on the
channel axis, or an Add / Sub / Mul with equal shapes, can read the coarse
map directly (option `upsample`, two factors per input for axes 1 and 2 of a
4-D tensor: NHWC's H and W; native/src/ops/upsample.h), which moves the same
bytes to the same places, so results are bit-identical.

A Resize is fused only when
  * it is nearest, its axes 0 and 3 are unchanged and axes 1 and 2 grow by
    integer factors f, and the index map the runtime would build
    (native/src/kernels/ref/resize_ref.c, replicated here in float64) is exactly
    out[y] = in[y // f] for its coordinate transform and nearest mode (half_pixel
    family with round_prefer_*, asymmetric / tf_half_pixel_for_nn with floor);
  * its output is read only by that one node (and is no graph output);
  * int8: the reader computes the same numbers from the coarse input. A Binary
    reads it with the Resize's own parameters (the Resize must not rescale); a
    Concat rescales each input to its output's parameters, which is the Resize's
    rescale when the Resize already produced the Concat's parameters (quantize's
    _resize_into_concat): the same multiplier and rounding on the same values.
"""

from __future__ import annotations

import numpy as np

from nanort.schema.CoordinateTransform import CoordinateTransform as CT
from nanort.schema.KeepAspectRatio import KeepAspectRatio
from nanort.schema.NearestMode import NearestMode
from nanort.schema.ResizeMode import ResizeMode

from ..ir import Graph, Node, QuantParams

BINARY = ("Add", "Sub", "Mul")
MAX_INPUTS = 32      # native/src/ops/upsample.h: NRT_UPSAMPLE_MAX_INPUTS
MAX_FACTOR = 4096    # NRT_UPSAMPLE_MAX_FACTOR


def nearest_map(coord: int, nearest: int, n_in: int, n_out: int, scale: float) -> np.ndarray | None:
    """Source index of each output index, as nrt_resize_nearest_map computes it
    (float64, the same operations); None for transforms never fused."""
    if coord in (CT.ALIGN_CORNERS, CT.TF_CROP_AND_RESIZE):
        return None
    x, n, s = np.arange(n_out, dtype=np.float64), float(n_in), float(scale)
    out_w = s * n
    if coord == CT.ASYMMETRIC:
        v = x / s
    elif coord == CT.PYTORCH_HALF_PIXEL:
        v = np.full_like(x, -0.5) if out_w == 1.0 else (x + 0.5) / s - 0.5
    elif coord == CT.HALF_PIXEL_SYMMETRIC:
        v = (n / 2.0) * (1.0 - n_out / out_w) + (x + 0.5) / s - 0.5
    elif coord == CT.TF_HALF_PIXEL_FOR_NN:
        v = (x + 0.5) / s
    else:
        v = (x + 0.5) / s - 0.5
    v = np.clip(v, -4.0, n + 4.0)
    fl = np.floor(v)
    r = v - fl
    i = fl.astype(np.int64)
    if nearest == NearestMode.ROUND_PREFER_CEIL:
        i += (r >= 0.5) & (r != 0.0)
    elif nearest == NearestMode.CEIL:
        i += r != 0.0
    elif nearest != NearestMode.FLOOR:
        i += r > 0.5
    return np.clip(i, 0, n_in - 1)


def _axis_entries(node: Node, rank: int) -> list[int] | None:
    axes = node.attrs.get("axes")
    if axes:
        entry = [-1] * rank
        for i, a in enumerate(axes):
            entry[a + rank if a < 0 else a] = i
        return entry
    perm = node.attrs.get("perm")
    return list(perm) if perm else list(range(rank))


def _axis_scales(g: Graph, node: Node, n_in: tuple, n_out: tuple) -> list[float] | None:
    """The scale the runtime uses on each stored axis (resize.c's resolve_axes)."""
    scales, sizes = g.const(node.input(2)), g.const(node.input(3))
    scales = scales if scales is not None and scales.size else None
    sizes = sizes if sizes is not None and sizes.size else None
    if (scales is None) == (sizes is None) or node.input(2) and scales is None or node.input(3) and sizes is None:
        return None
    if sizes is not None and node.attrs.get("keep_aspect_ratio", 0) != KeepAspectRatio.STRETCH:
        return None
    entry = _axis_entries(node, len(n_in))
    out = []
    for j, e in enumerate(entry):
        if e < 0:
            out.append(1.0)
        elif scales is not None:
            out.append(float(scales.reshape(-1)[e]))
        else:
            out.append(n_out[j] / n_in[j] if n_in[j] else 1.0)
    return out


def replication_factors(g: Graph, node: Node) -> tuple[int, int] | None:
    """(fh, fw) when this Resize copies in[n][y // fh][x // fw][c] to out[n][y][x][c]."""
    if node.op != "Resize" or node.attrs.get("mode", 0) != ResizeMode.NEAREST:
        return None
    x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
    n_in, n_out = x.static_shape, y.static_shape
    if n_in is None or n_out is None or len(n_in) != 4 or len(n_out) != 4 or x.dtype != y.dtype:
        return None
    scale = _axis_scales(g, node, n_in, n_out)
    if scale is None or 0 in n_in:
        return None
    for j in (0, 3):  # unchanged: resize.c's is_identity
        if n_out[j] != n_in[j] or abs(scale[j] - 1.0) > 1e-9:
            return None
    factors = []
    for j in (1, 2):
        f = n_out[j] // n_in[j]
        if f < 1 or f > MAX_FACTOR or f * n_in[j] != n_out[j] or not np.isfinite(scale[j]) or \
                np.floor(n_in[j] * scale[j]) != n_out[j]:
            return None
        m = nearest_map(node.attrs.get("coordinate_transform", 0), node.attrs.get("nearest_mode", 0), n_in[j],
                        n_out[j], scale[j])
        if m is None or not np.array_equal(m, np.arange(n_out[j]) // f):
            return None
        factors.append(f)
    return (factors[0], factors[1]) if factors != [1, 1] else None


def _same_quant(a: QuantParams | None, b: QuantParams | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.axis == b.axis and np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point)


def _per_tensor(q: QuantParams | None) -> bool:
    return q is None or (q.scale.size == 1 and q.axis is None)


def _reader_accepts(g: Graph, reader: Node, resize: Node) -> bool:
    x, r = g.tensors[resize.inputs[0]], g.tensors[resize.outputs[0]]
    y = g.tensors[reader.outputs[0]]
    if reader.op in BINARY:
        if len(reader.inputs) != 2 or not _same_quant(x.quant, r.quant):
            return False
        return all(g.tensors[i].static_shape == y.static_shape for i in reader.inputs)
    if reader.op == "Concat":
        if len(reader.inputs) > MAX_INPUTS or reader.attrs.get("axis", 0) not in (3, -1) or y.rank != 4:
            return False
        return _same_quant(x.quant, r.quant) or (_same_quant(r.quant, y.quant) and _per_tensor(x.quant))
    return False


def fuse_upsample(graph: Graph) -> int:
    """Fuses integer nearest upsampling into Concat / Add / Sub / Mul readers; returns how many."""
    producers, consumers = graph.producers(), graph.consumers()
    outputs, fused = set(graph.outputs), set()
    for reader in list(graph.nodes):
        if reader.op not in BINARY and reader.op != "Concat":
            continue
        factors = list(reader.attrs.get("upsample", [])) or None
        for k, name in enumerate(reader.inputs):
            resize = producers.get(name) if name else None
            if resize is None or name in outputs or any(c is not reader for c in consumers.get(name, [])):
                continue
            f = replication_factors(graph, resize)
            if f is None or not _reader_accepts(graph, reader, resize):
                continue
            factors = factors or [1] * (2 * len(reader.inputs))
            factors[2 * k:2 * k + 2] = f
            reader.inputs[k] = resize.inputs[0]
            fused.add(id(resize))
        if factors:
            reader.attrs["upsample"] = factors
    graph.nodes = [n for n in graph.nodes if id(n) not in fused]
    graph.remove_unused()
    return len(fused)
