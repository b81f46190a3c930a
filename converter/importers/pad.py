"""Pad: one runtime form (data, pads[, constant_value][, axes]) for every opset.

Opset 2-10 carry pads / value as attributes; 11+ as inputs; 18 adds the
optional axes input, which is folded into full-rank pads when it is constant
(so the layout pass can permute them with the data).
"""

from __future__ import annotations

import numpy as np

from nanort.schema.PadMode import PadMode

from . import ImportContext, register

MODES = {"constant": PadMode.CONSTANT, "reflect": PadMode.REFLECT, "edge": PadMode.EDGE, "wrap": PadMode.WRAP}


def _mode(ctx: ImportContext) -> int:
    mode = ctx.attr("mode", "constant")
    if mode not in MODES or (mode == "wrap" and ctx.opset < 19):
        ctx.unsupported(f"mode={mode!r}")
    return MODES[mode]


@register("Pad")
def pad(ctx: ImportContext) -> None:
    mode = _mode(ctx)
    x = ctx.input(0)
    if ctx.opset < 11:
        pads = ctx.attr("pads", ctx.attr("paddings"))
        if pads is None:
            ctx.unsupported("the pads attribute is missing")
        dtype = ctx.dtype(0) or np.float32
        value = ctx.add_const(np.array(ctx.attr("value", 0.0)).astype(dtype), "value")
        ctx.emit("Pad", [x, ctx.add_const(np.array(pads, np.int64), "pads"), value], [ctx.output(0)], mode=mode)
        return
    inputs = [x, ctx.input(1), ctx.input(2), ctx.input(3)]
    axes = ctx.const(3)
    pads = ctx.const(1)
    rank = ctx.rank(0)
    if inputs[3] and axes is not None and pads is not None and rank is not None:
        full = np.zeros(2 * rank, np.int64)
        n = len(axes)
        if len(pads) != 2 * n:
            ctx.unsupported(f"pads has {len(pads)} values for {n} axes")
        for i, a in enumerate(int(v) for v in axes.reshape(-1)):
            a = a + rank if a < 0 else a
            if not 0 <= a < rank:
                ctx.unsupported(f"axis {a} is out of range")
            full[a], full[rank + a] = pads[i], pads[n + i]
        inputs[1] = ctx.add_const(full, "pads")
        inputs[3] = ""
    value = ctx.const(2)
    if inputs[2] and value is not None and value.size == 0:
        inputs[2] = ""
    while not inputs[-1]:
        inputs.pop()
    ctx.emit("Pad", inputs, [ctx.output(0)], mode=mode)
