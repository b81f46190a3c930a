"""onnxruntime's dynamic int8 Conv onto the runtime's dynamic int8 Conv.

onnxruntime's `quantize_dynamic` writes each Conv as

    DynamicQuantizeLinear(x) -> q, s, z
    ConvInteger(q, W_uint8 or W_int8, z, w_zero) -> Cast(float) -> Mul(s * w_scale) [-> Add(bias)]

and its older releases quantize the bias at run time instead (ddddocr's model):

    ConvInteger(...) -> Add(int32(Floor(b / (s * w_scale)))) -> Cast(float) -> Mul(s * w_scale)

which imports (importers/quantization.py, then dynamic_int8.drop_integer_casts) as
an fp32 emulation: q dequantized with unit scale, a float Conv on W - w_zero as
exact integers, the scale Mul and the bias Add. A Conv whose x is float32 and W
int8 is the runtime's dynamic Conv (ops/conv_dynamic.h, kernels/requant.h
DynamicConv): x quantized as one tensor with DynamicQuantizeLinear's scale and
zero point, the int32 sum of (q - z) * (W - w_zero) times s * w_scale, plus the
float bias; so the chain becomes that one node. W - w_zero of uint8 weights spans
up to 255, beyond int8: it is stored as int8 W - w_zero - shift with zero point
-shift. The run-time bias Floor(b / (s * w_scale)) * s * w_scale becomes b: they
differ by less than one step s * w_scale of the product, far below the
quantization's own error.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams
from .patterns import Matcher, channel_vector, is_scalar, other_input


def _int8_weight(graph: Graph, name: str) -> tuple[np.ndarray, int] | None:
    """The constant float 4-D W of integers as (int8 W - shift, shift): shift 0 when every
    value is in -128..127; else, when they span at most 255, the shift nearest 0 that brings
    them there (within -127..128: the zero point -shift is an int8)."""
    w = graph.const(name)
    if w is None or w.dtype != np.float32 or w.ndim != 4 or not w.size or not np.array_equal(w, np.rint(w)):
        return None
    low, high = int(w.max()) - 127, int(w.min()) + 128  # the shifts that fit
    if low > high or low > 128 or high < -127:
        return None
    shift = min(max(0, low), high)
    return (w - shift).astype(np.int8), shift


def _dequantized_input(m: Matcher, g: Graph, conv: Node) -> Node | None:
    """The DynamicQuantizeLinear whose q, dequantized with unit scale and its z, the Conv alone reads."""
    dq = m.prod(conv.inputs[0], "DequantizeLinear")
    if dq is None or len(dq.inputs) < 3 or not is_scalar(g, dq.inputs[1], 1.0, 0.0) or m.only_consumer(
            dq.outputs[0]) is not conv:
        return None
    dql = m.prod(dq.inputs[0], "DynamicQuantizeLinear")
    return dql if dql is not None and dq.inputs[0] == dql.outputs[0] and dq.inputs[2] == dql.outputs[2] else None


def _weight_scale(m: Matcher, g: Graph, scales: str, dql: Node, channels: int) -> np.ndarray | None:
    """w_scale of `scales` = Mul(s, w_scale) (one or one per output channel), positive."""
    node = m.prod(scales, "Mul")
    other = other_input(node, dql.outputs[1]) if node is not None else None
    w_scale = channel_vector(g, other, channels, 1, 4) if other else None
    if w_scale is None or not np.all(w_scale > 0) or not np.all(np.isfinite(w_scale)):
        return None
    return w_scale[:1] if np.all(w_scale == w_scale[0]) else w_scale


def _floor_bias(m: Matcher, g: Graph, name: str, dql: Node, channels: int) -> np.ndarray | None:
    """b of Reshape(Floor(Div(b, Mul(s, w_scale)))), onnxruntime's run-time bias quantization."""
    reshape = m.prod(name, "Reshape")
    floor = m.prod(reshape.inputs[0], "Floor") if reshape is not None else None
    div = m.prod(floor.inputs[0], "Div") if floor is not None else None
    if div is None or _weight_scale(m, g, div.inputs[1], dql, channels) is None:
        return None
    bias = g.const(div.inputs[0])
    return bias.astype(np.float32) if bias is not None and bias.shape == (channels,) else None


def _match(m: Matcher, g: Graph, conv: Node):
    """(DynamicQuantizeLinear, w_scale, float bias or None, the nodes replaced: the last one's
    output is the result) of the chain after `conv`, or None."""
    if len(conv.inputs) > 2 and conv.inputs[2] or conv.attrs.get("activation") or conv.attrs.get("group", 1) != 1:
        return None
    dql = _dequantized_input(m, g, conv)
    channels = g.tensors[conv.outputs[0]].shape[1] if g.tensors[conv.outputs[0]].shape else None
    if dql is None or not isinstance(channels, int):
        return None
    bias, replaced, last = None, [conv], conv.outputs[0]
    add = m.only_consumer(last)
    if add is not None and add.op == "Add" and not add.attrs.get("activation"):  # the run-time bias
        bias = _floor_bias(m, g, other_input(add, last) or "", dql, channels)
        if bias is None:
            return None
        replaced.append(add)
        last = add.outputs[0]
    mul = m.only_consumer(last)
    if mul is None or mul.op != "Mul" or g.tensors[mul.outputs[0]].shape != g.tensors[conv.outputs[0]].shape:
        return None
    w_scale = _weight_scale(m, g, other_input(mul, last) or "", dql, channels)
    if w_scale is None:
        return None
    replaced.append(mul)
    add = m.only_consumer(mul.outputs[0]) if bias is None and not mul.attrs.get("activation") else None
    after = channel_vector(g, other_input(add, mul.outputs[0]) or "", channels, 1, 4) \
        if add is not None and add.op == "Add" else None
    if after is not None and g.tensors[add.outputs[0]].shape == g.tensors[mul.outputs[0]].shape:
        bias = after
        replaced.append(add)
    return dql, w_scale, bias, replaced


def fold_dynamic_conv(graph: Graph) -> None:
    m = Matcher(graph)
    for conv in [n for n in graph.nodes if n.op == "Conv"]:
        found = _match(m, graph, conv)
        weight = _int8_weight(graph, conv.inputs[1]) if found else None
        if weight is None:
            continue
        dql, w_scale, bias, replaced = found
        w, shift = weight
        wq = graph.add_const(w, f"{conv.name}_wq")
        graph.tensors[wq].quant = QuantParams(w_scale, np.full(w_scale.size, -shift, np.int64),
                                              0 if w_scale.size > 1 else None)
        attrs = {k: v for k, v in conv.attrs.items() if k != "activation"}
        if replaced[-1].attrs.get("activation"):
            attrs["activation"] = replaced[-1].attrs["activation"]
        inputs = [dql.inputs[0], wq] + ([graph.add_const(bias, f"{conv.name}_bias")] if bias is not None else [])
        at = graph.nodes.index(replaced[-1])
        graph.nodes[at] = Node("Conv", inputs, list(replaced[-1].outputs), attrs, conv.name)
        for n in replaced[:-1]:
            graph.nodes.remove(n)
        m.refresh()
    graph.remove_unused()
