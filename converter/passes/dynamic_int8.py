"""onnxruntime's dynamic int8 MatMul onto the runtime's dynamic FullyConnected.

onnxruntime's `quantize_dynamic` writes each MatMul of a constant weight as

    DynamicQuantizeLinear(x) -> q, s, z
    MatMulInteger(q, W_int8, z) -> int32 -> Cast(float) -> Mul(s * w_scale) [-> Add(bias)]

which imports (importers/quantization.py) as an fp32 emulation: q dequantized
with unit scale, a float FullyConnected on W as exact integers, two Casts and
the scale Mul, each a pass over the activations. The runtime's dynamic
FullyConnected with `dynamic_per_tensor` computes exactly this (x quantized
as one tensor with DynamicQuantizeLinear's scale and zero point, the int32
sum of (q - z) * W, times s * w_scale: kernels/requant.h) on its int8
kernels, so the chain becomes that one node. The pass runs after the float
folds, which would treat W's int8 values as floats, and after activation
fusion: an activation after the chain stays with the bias Add it was fused into,
on the vector kernels (the dynamic kernel's epilogue applies it one value at a
time, as the reference does).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams
from .patterns import Matcher, is_scalar, other_input


def _int8_weight(graph: Graph, name: str) -> tuple[np.ndarray, int] | None:
    """The constant float W [N, K] of integers as int8 W - shift: shift 0 when every value is
    in -127..127; else, when the values span at most 255 (onnxruntime's uint8 weights minus
    their zero point), the shift that brings the largest to 127."""
    w = graph.const(name)
    if w is None or w.dtype != np.float32 or w.ndim != 2 or not w.size or not np.array_equal(w, np.rint(w)):
        return None
    if np.all(np.abs(w) <= 127):
        return w.astype(np.int8), 0
    shift = int(w.max()) - 127
    return ((w - shift).astype(np.int8), shift) if w.min() - shift >= -128 else None


def _match(m: Matcher, g: Graph, fc: Node) -> tuple[Node, tuple[np.ndarray, int], np.ndarray, list[Node]] | None:
    """(DynamicQuantizeLinear, (int8 W, shift), w_scale, nodes replaced: the last one's output is the
    result, a bias Add last when there is one) of the chain around `fc`, or None."""
    if len(fc.inputs) > 2 and fc.inputs[2] or fc.attrs.get("activation") or fc.attrs.get("dynamic_per_tensor"):
        return None
    dq = m.prod(fc.inputs[0], "DequantizeLinear")
    if dq is None or len(dq.inputs) < 3 or not is_scalar(g, dq.inputs[1], 1.0, 0.0) or m.only_consumer(dq.outputs[0]) \
            is not fc:
        return None
    dql = m.prod(dq.inputs[0], "DynamicQuantizeLinear")
    if dql is None or dq.inputs[0] != dql.outputs[0] or dq.inputs[2] != dql.outputs[2]:
        return None
    weight = _int8_weight(g, fc.inputs[1])
    to_int = m.only_consumer(fc.outputs[0])
    if weight is None or to_int is None or to_int.op != "Cast" or g.tensors[to_int.outputs[0]].dtype != np.int32:
        return None
    to_float = m.only_consumer(to_int.outputs[0])
    if to_float is None or to_float.op != "Cast" or g.tensors[to_float.outputs[0]].dtype != np.float32:
        return None
    mul = m.only_consumer(to_float.outputs[0])
    if mul is None or mul.op != "Mul" or mul.attrs.get("activation") \
            or g.tensors[mul.outputs[0]].shape != g.tensors[fc.outputs[0]].shape:
        return None
    scales = m.prod(other_input(mul, to_float.outputs[0]), "Mul")
    if scales is None:
        return None
    w, shift = weight
    w_scale = g.const(other_input(scales, dql.outputs[1]) or "")
    if w_scale is None or w_scale.dtype != np.float32 or w_scale.size not in (1, w.shape[0] if not shift else 1) \
            or w_scale.ndim > 1 or not np.all(w_scale > 0):
        return None
    replaced = [dq, fc, to_int, to_float, mul]
    add = m.only_consumer(mul.outputs[0])
    bias = g.const(other_input(add, mul.outputs[0]) or "") if add is not None and add.op == "Add" else None
    if bias is not None and bias.dtype == np.float32 and bias.shape == (w.shape[0],) \
            and not add.attrs.get("activation") and g.tensors[add.outputs[0]].shape == g.tensors[mul.outputs[0]].shape:
        replaced.append(add)
    return dql, weight, w_scale.reshape(-1), replaced


def _shifted_sum(graph: Graph, fc: Node, shift: int, y: str) -> list[Node]:
    """y = fc[..., :N] + shift * fc[..., N]: the products with W - shift, plus shift times
    the sum of (q - z) that W's extra row of ones gives (the kernels' float arithmetic: within
    a few ulp of onnxruntime's single rounding)."""
    n = graph.tensors[y].shape[-1]
    full = graph.fresh_name(f"{y}_with_row_sums")
    graph.add_tensor(full, np.float32, (*graph.tensors[y].shape[:-1], n + 1))
    fc.outputs = [full]
    part, sums, scaled = (graph.fresh_name(f"{y}_{what}") for what in ("products", "row_sums", "shifted"))
    graph.add_tensor(part, np.float32, graph.tensors[y].shape)
    for name in (sums, scaled):
        graph.add_tensor(name, np.float32, (*graph.tensors[y].shape[:-1], 1))
    const = lambda v, hint: graph.add_const(np.array(v, np.int64), hint)  # noqa: E731
    return [fc, Node("Slice", [full, const([0], "starts"), const([n], "ends"), const([-1], "axes")], [part], {},
                     f"{fc.name}_products"),
            Node("Slice", [full, const([n], "starts"), const([n + 1], "ends"), const([-1], "axes")], [sums], {},
                 f"{fc.name}_row_sums"),
            Node("Mul", [sums, graph.add_const(np.float32(shift), "shift")], [scaled], {}, f"{fc.name}_shift"),
            Node("Add", [part, scaled], [y], {}, f"{fc.name}_shifted")]


def fold_dynamic_matmul(graph: Graph) -> None:
    m = Matcher(graph)
    for fc in [n for n in graph.nodes if n.op == "FullyConnected"]:
        found = _match(m, graph, fc)
        if found is None:
            continue
        dql, (w, shift), w_scale, replaced = found
        bias = other_input(replaced[-1], replaced[-2].outputs[0]) if replaced[-1].op == "Add" else ""
        if shift:  # one more output channel: W's row of ones, bias 0
            w = np.concatenate([w, np.ones((1, w.shape[1]), np.int8)])
            bias = graph.add_const(np.append(graph.const(bias), np.float32(0)), "bias") if bias else ""
        wq = graph.add_const(w, f"{fc.name}_wq")
        graph.tensors[wq].quant = QuantParams(w_scale, np.zeros(w_scale.size, np.int64),
                                              0 if w_scale.size > 1 else None)
        y = replaced[-1].outputs[0]
        node = Node("FullyConnected", [dql.inputs[0], wq] + ([bias] if bias else []), [y],
                    {"keep_dims": fc.attrs.get("keep_dims", True), "dynamic_per_tensor": True}, fc.name)
        at = graph.nodes.index(replaced[-1])
        graph.nodes[at:at + 1] = _shifted_sum(graph, node, shift, y) if shift else [node]
        for n in replaced[:-1]:
            graph.nodes.remove(n)
        m.refresh()
    graph.remove_unused()


def _integer_valued(g: Graph, m: Matcher, name: str) -> bool:
    """`name` is the float emulation of an integer product (importers/quantization.py): a
    Conv / FullyConnected / MatMul of operands dequantized with unit scale or constant
    integers, whose sums stay inside int32. Every float such a product can give is an integer."""
    node = m.prod(name, ("Conv", "FullyConnected", "MatMul"))
    if node is None or node.attrs.get("activation") or len(node.inputs) > 2 and node.inputs[2]:
        return False
    for operand in node.inputs[:2]:
        value = g.const(operand)
        if value is not None:
            if not np.array_equal(value, np.rint(value)) or np.abs(value).max(initial=0) > 255:
                return False
            continue
        dq = m.prod(operand, "DequantizeLinear")
        if dq is None or not np.all(g.const(dq.inputs[1]) == 1.0) or g.tensors[dq.inputs[0]].dtype.itemsize != 1:
            return False
    w_shape, x_shape = g.tensors[node.inputs[1]].shape, g.tensors[node.inputs[0]].shape
    depth = (int(np.prod(w_shape[1:])) if node.op == "Conv" and w_shape else w_shape[1] if node.op ==
             "FullyConnected" and w_shape else x_shape[-1] if x_shape else None)  # products summed per output
    return isinstance(depth, int) and depth * 255 * 255 < 2**31


def _as_float(g: Graph, m: Matcher, name: str) -> str | None:
    """An exact float32 copy of the int32 tensor `name`: a constant within 2^24, or the float a
    Cast made it from (through a Reshape); None otherwise."""
    value = g.const(name)
    if value is not None:
        return g.add_const(value.astype(np.float32), "bias_float") if np.abs(value).max(initial=0) <= 2**24 else None
    reshape = m.prod(name, "Reshape")
    cast = m.prod(reshape.inputs[0] if reshape else name, "Cast")
    if cast is None or g.tensors[cast.inputs[0]].dtype != np.float32:
        return None
    if reshape is None:
        return cast.inputs[0]
    out = g.fresh_name(f"{reshape.outputs[0]}_float")
    g.add_tensor(out, np.float32, g.tensors[reshape.outputs[0]].shape)
    g.nodes.insert(g.nodes.index(reshape) + 1, Node("Reshape", [cast.inputs[0], *reshape.inputs[1:]], [out],
                                                    dict(reshape.attrs), f"{reshape.name}_float"))
    return out


def drop_integer_casts(graph: Graph) -> None:
    """Cast(int32) [-> Add(int32 b)] -> Cast(float) after the float emulation of MatMulInteger /
    ConvInteger is the identity [an Add of float(b)]: the product is an integer in int32's range,
    and float(x + b) rounds the same exact sum as x + float(b)."""
    m = Matcher(graph)
    for to_int in [n for n in graph.nodes if n.op == "Cast"]:
        if graph.tensors[to_int.outputs[0]].dtype != np.int32 or not _integer_valued(graph, m, to_int.inputs[0]):
            continue
        user = m.only_consumer(to_int.outputs[0])
        if user is not None and user.op == "Cast" and graph.tensors[user.outputs[0]].dtype == np.float32:
            user.op, user.inputs, user.attrs = "Identity", [to_int.inputs[0]], {}
        elif user is not None and user.op == "Add" and not user.attrs.get("activation"):
            to_float = m.only_consumer(user.outputs[0])
            if to_float is None or to_float.op != "Cast" or graph.tensors[to_float.outputs[0]].dtype != np.float32:
                continue
            bias = _as_float(graph, m, other_input(user, to_int.outputs[0]) or "")
            if bias is None:
                continue
            to_float.op, to_float.inputs, to_float.attrs = "Add", [to_int.inputs[0], bias], {}
        else:
            continue
        m.refresh()
    graph.remove_unused()


def merge_shared_input(graph: Graph) -> None:
    """Dynamic FullyConnecteds of one input (attention's Q, K and V) become one over the
    concatenated weights, split after: x is quantized once, and the kernel runs one wide
    product. Each column keeps its own scale and bias, so every result is the same."""
    groups: dict[tuple, list[Node]] = {}
    for node in graph.nodes:
        if node.op == "FullyConnected" and node.attrs.get("dynamic_per_tensor") and not node.attrs.get("activation"):
            groups.setdefault((node.inputs[0], node.attrs.get("keep_dims", True)), []).append(node)
    for (x, keep_dims), nodes in groups.items():
        if len(nodes) < 2 or not all(graph.tensors[n.outputs[0]].shape for n in nodes):
            continue
        weights = [graph.const(n.inputs[1]) for n in nodes]
        scales = np.concatenate([np.broadcast_to(graph.tensors[n.inputs[1]].quant.scale.astype(np.float32),
                                                 (w.shape[0],)) for n, w in zip(nodes, weights)])
        biases = [graph.const(n.input(2)) if n.input(2) else np.zeros(w.shape[0], np.float32)
                  for n, w in zip(nodes, weights)]
        wq = graph.add_const(np.concatenate(weights), f"{nodes[0].name}_merged_wq")
        graph.tensors[wq].quant = QuantParams(scales, np.zeros(scales.size, np.int64), 0)
        bias = graph.add_const(np.concatenate(biases).astype(np.float32), f"{nodes[0].name}_merged_bias")
        shape = graph.tensors[nodes[0].outputs[0]].shape
        merged = graph.fresh_name(f"{nodes[0].outputs[0]}_merged")
        graph.add_tensor(merged, np.float32, (*shape[:-1], scales.size))
        split = graph.add_const(np.array([w.shape[0] for w in weights], np.int64), "split")
        first = min(graph.nodes.index(n) for n in nodes)
        for n in nodes:
            graph.nodes.remove(n)
        graph.nodes[first:first] = [
            Node("FullyConnected", [x, wq, bias], [merged], {"keep_dims": keep_dims, "dynamic_per_tensor": True},
                 f"{nodes[0].name}_merged"),
            Node("Split", [merged, split], [n.outputs[0] for n in nodes], {"axis": -1}, f"{nodes[0].name}_split")]
    graph.remove_unused()
