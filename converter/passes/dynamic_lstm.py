"""onnxruntime's DynamicQuantizeLSTM onto the runtime's dynamic int8 LSTM.

contrib_ops.py rewrites DynamicQuantizeLSTM as an LSTM marked `dynamic_int8`
whose W and R are int8 constants behind a DequantizeLinear (one scale per
direction, zero point 0); the QDQ fold makes them float constants annotated
with that quantization. Here they become the int8 constants again: an LSTM
with int8 W and R quantizes X (all steps at once) and h (at each step) as one
tensor at run time, as onnxruntime's DynamicQuantizeLSTM does (ops/rnn.c,
kernels/requant.h DynamicLSTM). Weights that are not exactly such int8 values
leave an fp32 LSTM on the float ones.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, QuantParams


def _int8(graph: Graph, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(int8 values, scale per direction) of a float [dirs, G, K] constant annotated as int8
    with one scale per direction (or per tensor) and zero point 0, when it holds exactly them."""
    w, q = graph.const(name), graph.tensors[name].quant
    if w is None or w.ndim != 3 or q is None or q.bits != 8 or q.block_size or np.any(q.zero_point):
        return None
    if q.scale.size not in (1, w.shape[0]) or (q.scale.size > 1 and q.axis != 0) or not np.all(q.scale > 0):
        return None
    scale = np.broadcast_to(q.scale.astype(np.float64).reshape(-1, 1, 1), (w.shape[0], 1, 1))
    values = np.rint(w / scale)
    if np.abs(values).max(initial=0) > 127 or not np.array_equal((values * scale).astype(np.float32), w):
        return None
    return values.astype(np.int8), scale.reshape(-1).astype(np.float32)


def int8_lstm_weights(graph: Graph) -> None:
    for node in graph.nodes:
        if node.op != "LSTM" or not node.attrs.pop("dynamic_int8", False):
            continue
        found = [_int8(graph, node.inputs[i]) for i in (1, 2)]
        if any(f is None for f in found):
            continue
        for i, (values, scale) in zip((1, 2), found):
            name = graph.add_const(values, f"{node.name}_{'wr'[i - 1]}q")
            graph.tensors[name].quant = QuantParams(scale, np.zeros(scale.size, np.int64), 0)
            node.inputs[i] = name
    graph.remove_unused()
