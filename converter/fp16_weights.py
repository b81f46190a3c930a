"""float16 weights (`--weights fp16`): the constant weights of Conv /
ConvTranspose / FullyConnected / MatMul stored as IEEE half, halving the
file; the runtime widens them to float32 once at load (native/src/engine/
fp16_weights.c) and runs the float32 kernels, so the rest of the graph,
biases included, stays float32.

The rule both sides follow: a FLOAT16 constant is widened when every reader
reads it as the weight of one of those ops whose activation operand is
float32. A pruned weight is stored sparse with float16 values where that is
smaller (converter/sparse.py, at serialization); the runtime expands it and
widens the dense copy. `lossless` keeps only weights whose values are all exactly float16
values (what a TFLite model's fp16 weights are after import): the file
shrinks and the results do not change.
"""

from __future__ import annotations

import numpy as np

from .ir import Graph, Node

_WEIGHT_OPS = {"Conv", "ConvTranspose", "FullyConnected", "MatMul"}


def _is_float32_weight_slot(graph: Graph, node: Node, k: int) -> bool:
    if node.op not in _WEIGHT_OPS or k > 1 or (node.op != "MatMul" and k != 1):
        return False
    activation = graph.tensors.get(node.input(1 - k))
    return (activation is not None and not activation.is_const and activation.dtype == np.float32
            and activation.quant is None)


def store_fp16(graph: Graph, lossless: bool = False) -> int:
    """Makes the eligible float32 weights float16 constants; returns how many."""
    slots: dict[str, list[bool]] = {}
    for node in graph.nodes:
        for k, name in enumerate(node.inputs):
            if name:
                slots.setdefault(name, []).append(_is_float32_weight_slot(graph, node, k))
    outputs, changed = set(graph.outputs), 0
    for name, weight_uses in slots.items():
        t = graph.tensors[name]
        if (not t.is_const or t.data.dtype != np.float32 or t.quant is not None or name in outputs
                or not all(weight_uses)):
            continue
        with np.errstate(over="ignore"):
            half = t.data.astype(np.float16)
        if not np.isfinite(half).all() and np.isfinite(t.data).all():
            continue  # beyond float16's range (65504): float32 keeps it
        if lossless and not np.array_equal(half.astype(np.float32), t.data):
            continue
        t.data, t.dtype = half, np.dtype(np.float16)
        changed += 1
    return changed
