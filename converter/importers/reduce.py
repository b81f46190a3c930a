"""Reductions and ArgMax / ArgMin (ReduceOptions).

ONNX moved the reduce axes from an attribute to an optional input (ReduceSum
in opset 13, every other reduce in opset 18). A constant axes input becomes
the `axes` attribute; a computed one stays the node's input 1, which the
runtime reads when it prepares the node at invoke (the output's shape then
depends on its values, like Reshape's on a computed shape).
"""

from __future__ import annotations

import numpy as np

from . import ImportContext, register

REDUCE_OPS = [
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
    "ReduceLogSum", "ReduceLogSumExp",
]
INT_OK = {"ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin"}
BOOL_OK = {"ReduceMax", "ReduceMin"}
INT_TYPES = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.int32, np.int64)}


def _check_dtype(ctx: ImportContext, allow_int: bool, allow_bool: bool) -> None:
    dt = ctx.dtype(0)
    if dt is None or dt == np.float32 or (allow_int and dt in INT_TYPES) or (allow_bool and dt == np.bool_):
        return
    ctx.unsupported(f"input type {dt} is not supported")


def _axes(ctx: ImportContext) -> tuple[list[int], str]:
    """The constant axes, or [] and the name of the tensor that computes them."""
    axes_as_input = ctx.opset >= 18 or (ctx.op_type == "ReduceSum" and ctx.opset >= 13)
    if ctx.has_attr("axes") or not axes_as_input:
        return [int(a) for a in ctx.attr("axes", [])], ""
    if not ctx.input(1):
        return [], ""
    value = ctx.const(1)
    if value is None:
        if ctx.dtype(1) != np.int64:
            ctx.unsupported(f"axes (input 1, {ctx.input(1)!r}) has type {ctx.dtype(1)}; ONNX requires int64")
        return [], ctx.input(1)
    return [int(a) for a in np.asarray(value).reshape(-1)], ""


@register(*REDUCE_OPS)
def reduce(ctx: ImportContext) -> None:
    _check_dtype(ctx, ctx.op_type in INT_OK, ctx.op_type in BOOL_OK)
    axes, computed_axes = _axes(ctx)
    inputs = [ctx.input(0), computed_axes] if computed_axes else [ctx.input(0)]
    ctx.emit(ctx.op_type, inputs, [ctx.output(0)], axes=axes,
             keepdims=bool(ctx.attr("keepdims", 1)),
             noop_with_empty_axes=bool(ctx.attr("noop_with_empty_axes", 0)))


@register("ArgMax", "ArgMin")
def argminmax(ctx: ImportContext) -> None:
    _check_dtype(ctx, True, True)
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)], axes=[int(ctx.attr("axis", 0))],
             keepdims=bool(ctx.attr("keepdims", 1)), select_last_index=bool(ctx.attr("select_last_index", 0)))
