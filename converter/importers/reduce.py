"""Reductions and ArgMax / ArgMin (ReduceOptions).

ONNX moved the reduce axes from an attribute to an optional input (ReduceSum
in opset 13, every other reduce in opset 18); the runtime takes them as the
`axes` attribute only, so a constant axes input becomes the attribute and a
computed one is unsupported.
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


def _axes(ctx: ImportContext) -> list[int]:
    axes_as_input = ctx.opset >= 18 or (ctx.op_type == "ReduceSum" and ctx.opset >= 13)
    if ctx.has_attr("axes") or not axes_as_input:
        return [int(a) for a in ctx.attr("axes", [])]
    if not ctx.input(1):
        return []
    value = ctx.const(1)
    if value is None:
        ctx.unsupported(f"axes (input 1, {ctx.input(1)!r}) must be a constant")
    return [int(a) for a in np.asarray(value).reshape(-1)]


@register(*REDUCE_OPS)
def reduce(ctx: ImportContext) -> None:
    _check_dtype(ctx, ctx.op_type in INT_OK, ctx.op_type in BOOL_OK)
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)], axes=_axes(ctx),
             keepdims=bool(ctx.attr("keepdims", 1)),
             noop_with_empty_axes=bool(ctx.attr("noop_with_empty_axes", 0)))


@register("ArgMax", "ArgMin")
def argminmax(ctx: ImportContext) -> None:
    _check_dtype(ctx, True, True)
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)], axes=[int(ctx.attr("axis", 0))],
             keepdims=bool(ctx.attr("keepdims", 1)), select_last_index=bool(ctx.attr("select_last_index", 0)))
