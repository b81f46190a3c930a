"""LSTM and GRU (RnnOptions). The runtime implements ONNX's default
activations only (LSTM: Sigmoid, Tanh, Tanh; GRU: Sigmoid, Tanh)."""

from __future__ import annotations

import numpy as np

from nanort.schema.RnnDirection import RnnDirection

from . import ImportContext, register
from .layer_norm import outputs_with_temps

DIRECTIONS = {"forward": RnnDirection.FORWARD, "reverse": RnnDirection.REVERSE,
              "bidirectional": RnnDirection.BIDIRECTIONAL}
DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}


def _hidden_size(ctx: ImportContext) -> int:
    if ctx.has_attr("hidden_size"):
        return int(ctx.attr("hidden_size"))
    r = ctx.shape(2)
    if r is None or len(r) != 3 or not isinstance(r[2], int):
        ctx.unsupported("hidden_size is not given and R's shape is unknown")
    return int(r[2])


def _output_shapes(ctx: ImportContext, dirs: int, hidden: int, batch_first: bool) -> list:
    x = ctx.shape(0)
    if x is None or len(x) != 3:
        return [None, None, None]
    seq, batch = (x[1], x[0]) if batch_first else (x[0], x[1])
    y = (batch, seq, dirs, hidden) if batch_first else (seq, dirs, batch, hidden)
    h = (batch, dirs, hidden) if batch_first else (dirs, batch, hidden)
    return [y, h, h]


@register("LSTM", "GRU")
def rnn(ctx: ImportContext) -> None:
    op = ctx.op_type
    for i in (0, 1, 2, 3, 5, 6, 7):
        dt = ctx.dtype(i) if ctx.input(i) else None
        if dt is not None and dt != np.float32:
            ctx.unsupported(f"input {i} has type {dt}; only float32 is supported")
    direction = ctx.attr("direction", "forward")
    if direction not in DIRECTIONS:
        ctx.unsupported(f"direction {direction!r}")
    dirs = 2 if direction == "bidirectional" else 1
    acts = ctx.attr("activations")
    if acts and [a.lower() for a in acts] != DEFAULT_ACTIVATIONS[op] * dirs:
        ctx.unsupported(f"activations {acts} (only the defaults {DEFAULT_ACTIVATIONS[op]} are supported)")
    hidden = _hidden_size(ctx)
    batch_first = bool(ctx.attr("layout", 0))
    inputs = list(ctx.node.input[:8 if op == "LSTM" else 6])
    while inputs and not inputs[-1]:
        inputs.pop()
    outs = outputs_with_temps(ctx, _output_shapes(ctx, dirs, hidden, batch_first))
    attrs = {"direction": DIRECTIONS[direction], "hidden_size": hidden, "batch_first": batch_first,
             "clip": float(ctx.attr("clip", 0.0))}
    if op == "LSTM":
        attrs["input_forget"] = bool(ctx.attr("input_forget", 0))
        if ctx.attr("nanort_dynamic_int8", 0):  # (contrib_ops.py's DynamicQuantizeLSTM: passes/dynamic_lstm.py)
            attrs["dynamic_int8"] = True
    else:
        attrs["linear_before_reset"] = bool(ctx.attr("linear_before_reset", 0))
    ctx.emit(op, inputs, outs, **attrs)
