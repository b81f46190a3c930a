"""A DequantizeLinear of an int8 tensor and the float unary op that alone reads
it become one table lookup (runs last, on the final int8 graph).

The int8 input takes 256 values, so f(scale * (q - zero_point)) is a 256-entry
float32 table: the runtime's Lut with a float32 table (native/src/ops/quantize.c)
reads it in one pass instead of a dequantize pass and a float pass (PP-OCR
det's Sigmoid after the DB head's last ConvTranspose, say). The table is not
computed here: the pass writes the 256 codes as an int8 constant with the
input's parameters, then the same DequantizeLinear and unary op on it, whose
inputs are all constant, so the runtime evaluates them once at load with its
own kernels at the model's level. Every output is then bit-identical to the
two ops run on the whole tensor, whatever the float function's vector code
does (the activation kernels compute each lane alone, tails included).

Applies when the DequantizeLinear has one input (per-tensor parameters from
the int8 tensor's QuantParams, the form quantize writes) and its float output
is read only by that unary op and is no graph output.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams
from ..schema_map import UNARY_OPS

# The runtime's float32 -> float32 unary ops (Identity has nothing to compute; the
# others left out give bool).
FLOAT_UNARY = frozenset(UNARY_OPS) - {"Identity", "Not", "IsNaN", "IsInf"}


def _per_tensor_int8(graph: Graph, name: str) -> QuantParams | None:
    t = graph.tensors.get(name)
    if t is None or t.dtype != np.int8 or t.quant is None:
        return None
    q = t.quant
    if q.axis is not None or q.block_size or q.bits != 8 or q.scale.size != 1 or q.zero_point.size != 1:
        return None
    return q


def fuse_dequantize_unary(graph: Graph) -> None:
    consumers = graph.consumers()
    producers = graph.producers()
    outputs = set(graph.outputs)
    for unary in list(graph.nodes):
        if unary.op not in FLOAT_UNARY or len(unary.inputs) != 1 or len(unary.outputs) != 1:
            continue
        f = unary.inputs[0]
        deq = producers.get(f)
        if deq is None or deq.op != "DequantizeLinear" or len(deq.inputs) != 1 or f in outputs:
            continue
        if len(consumers.get(f, [])) != 1 or graph.tensors[unary.outputs[0]].dtype != np.float32:
            continue
        q = _per_tensor_int8(graph, deq.inputs[0])
        if q is None:
            continue
        codes = graph.add_const(np.arange(-128, 128, dtype=np.int8), f"{f}/lut_codes")
        graph.tensors[codes].quant = QuantParams(q.scale.copy(), q.zero_point.copy())
        levels = graph.fresh_name(f"{f}/lut_levels")
        table = graph.fresh_name(f"{unary.outputs[0]}/lut_table")
        graph.add_tensor(levels, np.float32, (256,))
        graph.add_tensor(table, np.float32, (256,))
        at = graph.nodes.index(deq)
        graph.nodes[at:at + 1] = [Node("DequantizeLinear", [codes], [levels], dict(deq.attrs), f"{levels}/dequantize"),
                                  Node(unary.op, [levels], [table], dict(unary.attrs), f"{table}/{unary.op}")]
        graph.nodes[graph.nodes.index(unary)] = Node("Lut", [deq.inputs[0], table], list(unary.outputs), {},
                                                     unary.name)
        del graph.tensors[f]
