"""Folds the Quantize/Dequantize steps of pre-quantized (QDQ) models into
annotations, so the int8 quantizer reuses the model's own parameters:

* DequantizeLinear of a constant (weights, biases) becomes the float
  constant, annotated with the quantization it had;
* QuantizeLinear -> DequantizeLinear on an activation (the fake-quant pair a
  QDQ exporter writes) is removed and the activation annotated with its
  scale and zero point.

Annotations are QuantParams on float32 tensors, with zero points moved to the
int8 domain (uint8 z becomes z - 128: the same real values). Q/DQ nodes that
do not form such pairs stay and run as ops."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams
from .patterns import Matcher


def _int8_domain(zp: np.ndarray, dtype: np.dtype) -> np.ndarray:
    zp = zp.astype(np.int64)
    return zp - 128 if np.dtype(dtype) == np.uint8 else zp


def _params(graph: Graph, node: Node, quantized: str) -> QuantParams | None:
    scale = graph.const(node.input(1))
    zp = graph.const(node.input(2))
    qtype = graph.tensors[quantized].dtype
    if scale is None or (node.input(2) and zp is None) or node.attrs.get("block_size"):
        return None
    if np.dtype(qtype) not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    zp = np.zeros(scale.shape, np.int64) if zp is None else zp
    axis = node.attrs.get("axis", 1) if scale.size > 1 else None
    return QuantParams(scale.reshape(-1), _int8_domain(zp.reshape(-1), qtype), axis)


def _dequantize_constant(graph: Graph, node: Node) -> np.ndarray | None:
    q = graph.const(node.inputs[0])
    scale = graph.const(node.input(1))
    zp = graph.const(node.input(2))
    if q is None or scale is None or (node.input(2) and zp is None) or node.attrs.get("block_size"):
        return None
    zp = np.zeros_like(scale) if zp is None else zp
    if scale.size > 1:
        axis = node.attrs.get("axis", 1) % q.ndim
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q.astype(np.float64) - zp.astype(np.float64)) * scale.astype(np.float64)).astype(np.float32)


def fold_qdq(graph: Graph) -> None:
    m = Matcher(graph)
    for node in list(graph.nodes):
        if node.op != "DequantizeLinear" or graph.const(node.inputs[0]) is None:
            continue
        value = _dequantize_constant(graph, node)
        params = _params(graph, node, node.inputs[0])
        if value is None:
            continue
        name = graph.add_const(value, f"{node.outputs[0]}_dq")
        if params is not None and params.axis is not None:
            params.axis %= value.ndim
        graph.tensors[name].quant = params
        graph.replace_input(node.outputs[0], name)
        graph.nodes.remove(node)
    m.refresh()
    for node in list(graph.nodes):
        if node.op != "QuantizeLinear" or node not in graph.nodes:
            continue
        y = node.outputs[0]
        readers = m.consumers.get(y, [])
        if not readers or y in m.graph_outputs or any(r.op != "DequantizeLinear" for r in readers):
            continue
        params = _params(graph, node, y)
        same = all(_same_params(graph, node, r) for r in readers)
        x = node.inputs[0]
        if params is None or not same or params.scale.size != 1:
            continue
        graph.tensors[x].quant = params
        kept = next((r.outputs[0] for r in readers if r.outputs[0] in graph.outputs), None)
        for r in readers:
            graph.replace_input(r.outputs[0], x)
            graph.nodes.remove(r)
        graph.nodes.remove(node)
        if kept is not None and x not in graph.inputs and graph.outputs.count(x) == 1:
            _rename(graph, x, kept)  # the graph output keeps its name
        m.refresh()


def _rename(graph: Graph, old: str, new: str) -> None:
    t = graph.tensors.pop(old)
    graph.tensors.pop(new, None)
    t.name = new
    graph.tensors[new] = t
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
        n.outputs = [new if o == old else o for o in n.outputs]
    graph.outputs = [new if o == old else o for o in graph.outputs]


def _same_params(graph: Graph, q: Node, dq: Node) -> bool:
    for i in (1, 2):
        a, b = graph.const(q.input(i)), graph.const(dq.input(i))
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
            return False
    return True
