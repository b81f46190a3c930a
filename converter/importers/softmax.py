"""Softmax, LogSoftmax, Hardmax (AxisOptions.axis, one axis).

Before opset 13 these ops flattened the input to 2-D at `axis` and worked on
the whole second part; the runtime implements the opset-13 single-axis form,
so older models become Flatten(axis) -> op(axis=1) -> Reshape(input shape)
unless the two meanings coincide (axis is the last non-trivial dim).
"""

from __future__ import annotations

import math

import numpy as np

from . import ImportContext, register


@register("Softmax", "LogSoftmax", "Hardmax")
def softmax(ctx: ImportContext) -> None:
    x, y = ctx.input(0), ctx.output(0)
    dt = ctx.dtype(0)
    if dt is not None and dt != np.float32:
        ctx.unsupported(f"input type {dt} is not supported")
    if ctx.opset >= 13:
        ctx.emit(ctx.op_type, [x], [y], axis=int(ctx.attr("axis", -1)))
        return
    shape = ctx.shape(0)
    if shape is None:
        ctx.unsupported("opset < 13 needs the input's rank to express the flattening axis")
    rank = len(shape)
    axis = int(ctx.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        ctx.unsupported(f"axis {axis} is out of range for rank {rank}")
    tail = shape[axis + 1:]
    if axis < rank and all(d == 1 for d in tail):
        ctx.emit(ctx.op_type, [x], [y], axis=axis)
        return
    _flattened(ctx, shape, axis)


def _prod(dims) -> int | None:
    return math.prod(dims) if all(isinstance(d, int) for d in dims) else None


def _flattened(ctx: ImportContext, shape, axis: int) -> None:
    x, y = ctx.input(0), ctx.output(0)
    flat = ctx.temp("flat", np.float32, (_prod(shape[:axis]), _prod(shape[axis:])))
    ctx.emit("Flatten", [x], [flat], axis=axis)
    out2 = ctx.temp(ctx.op_type.lower(), np.float32, ctx.shape(flat))
    ctx.emit(ctx.op_type, [flat], [out2], axis=1)
    if all(isinstance(d, int) for d in shape):
        target = ctx.add_const(np.array(shape, np.int64), "shape")
    else:
        target = ctx.temp("shape", np.int64, (len(shape),))
        ctx.emit("Shape", [x], [target])
    ctx.emit("Reshape", [out2, target], [y])
