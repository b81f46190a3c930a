"""LayerNormalization (NormOptions axis / epsilon) with its optional Mean and
InvStdDev outputs."""

from __future__ import annotations

import numpy as np

from . import ImportContext, register


def outputs_with_temps(ctx: ImportContext, shapes: list) -> list[str]:
    """The node's outputs up to the last one used, with temporaries standing
    in for omitted ones before it (the runtime's outputs are positional)."""
    outs = list(ctx.outputs)
    while outs and not outs[-1]:
        outs.pop()
    if not outs:
        outs = [""]
    return [o or ctx.temp(f"unused{k}", np.float32, shapes[k] if k < len(shapes) else None)
            for k, o in enumerate(outs)]


@register("LayerNormalization")
def layer_norm(ctx: ImportContext) -> None:
    for i in range(3):
        dt = ctx.dtype(i) if ctx.input(i) else None
        if dt is not None and dt != np.float32:
            ctx.unsupported(f"input {i} has type {dt}; only float32 is supported")
    axis = int(ctx.attr("axis", -1))
    shape = ctx.shape(0)
    stat_shape = None
    if shape is not None:
        a = axis + len(shape) if axis < 0 else axis
        stat_shape = tuple(d if k < a else 1 for k, d in enumerate(shape))
    inputs = [ctx.input(0), ctx.input(1)] + ([ctx.input(2)] if ctx.input(2) else [])
    outs = outputs_with_temps(ctx, [shape, stat_shape, stat_shape])
    ctx.emit("LayerNormalization", inputs, outs, axis=axis, epsilon=float(ctx.attr("epsilon", 1e-5)))
