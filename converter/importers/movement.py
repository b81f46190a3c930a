"""Shape and data-movement ops: Reshape, Flatten, Squeeze, Unsqueeze,
Transpose, Concat, Split, Slice, Gather, GatherElements, Shape, Size,
ConstantOfShape, Expand, Range, Tile, CumSum, CumProd, Trilu, OneHot.

Opset differences are resolved here so the runtime sees one form: values
that ONNX moved from attributes to inputs (Slice's starts/ends/axes before
opset 10, Split's sizes before 13) become constant inputs; Squeeze/Unsqueeze
axes given as a constant input (opset 13+) become the `axes` option, and stay
input 1 when they are computed. CumSum's and CumProd's axis becomes the `axis` option when
constant (else input 1, read at run time).
"""

from __future__ import annotations

import numpy as np

from ..schema_map import NP_TO_DTYPE
from . import ImportContext, register

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _ints(value: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(value).reshape(-1)]


def _clamp_i32(v: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, int(v)))


@register("Reshape")
def reshape(ctx: ImportContext) -> None:
    # (opsets < 5, where the shape was an attribute, are below the converter's minimum)
    ctx.emit("Reshape", [ctx.input(0), ctx.input(1)], [ctx.output(0)], allowzero=bool(ctx.attr("allowzero", 0)))


@register("Flatten")
def flatten(ctx: ImportContext) -> None:
    ctx.emit("Flatten", [ctx.input(0)], [ctx.output(0)], axis=int(ctx.attr("axis", 1)))


@register("Squeeze", "Unsqueeze")
def squeeze(ctx: ImportContext) -> None:
    inputs = [ctx.input(0)]
    attrs = {}
    if ctx.opset < 13:
        if ctx.has_attr("axes"):
            attrs["axes"] = [int(a) for a in ctx.attr("axes")]
        elif ctx.op_type == "Unsqueeze":
            ctx.unsupported("Unsqueeze needs axes")
    elif ctx.input(1):
        axes = ctx.const(1)
        if axes is None:
            inputs.append(ctx.input(1))  # computed: the runtime reads it once it is static
        else:
            attrs["axes"] = _ints(axes)
    elif ctx.op_type == "Unsqueeze":
        ctx.unsupported("Unsqueeze needs axes (input 1)")
    ctx.emit(ctx.op_type, inputs, [ctx.output(0)], **attrs)


@register("Transpose")
def transpose(ctx: ImportContext) -> None:
    attrs = {}
    if ctx.has_attr("perm"):
        attrs["perm"] = [int(a) for a in ctx.attr("perm")]
    ctx.emit("Transpose", [ctx.input(0)], [ctx.output(0)], **attrs)


@register("Concat")
def concat(ctx: ImportContext) -> None:
    ctx.emit("Concat", list(ctx.node.input), [ctx.output(0)], axis=int(ctx.attr("axis", 0)))


@register("Split")
def split(ctx: ImportContext) -> None:
    outputs = ctx.outputs
    if any(not o for o in outputs):
        ctx.unsupported("omitted Split outputs")
    inputs = [ctx.input(0)]
    if ctx.opset < 13:
        if ctx.has_attr("split"):
            inputs.append(ctx.add_const(np.array(ctx.attr("split"), np.int64), "split"))
    elif ctx.input(1):
        inputs.append(ctx.input(1))
    attrs = {"axis": int(ctx.attr("axis", 0))}
    if len(inputs) == 1:
        num = int(ctx.attr("num_outputs", len(outputs)))
        if num != len(outputs):
            ctx.unsupported(f"num_outputs={num} with {len(outputs)} outputs")
        attrs["num_outputs"] = num
    ctx.emit("Split", inputs, outputs, **attrs)


@register("Slice")
def slice_(ctx: ImportContext) -> None:
    if ctx.opset >= 10:
        inputs = list(ctx.node.input)
    else:
        inputs = [ctx.input(0)] + [ctx.add_const(np.array(ctx.attr(name), np.int64), name)
                                   for name in ("starts", "ends")]
        if ctx.has_attr("axes"):
            inputs.append(ctx.add_const(np.array(ctx.attr("axes"), np.int64), "axes"))
    ctx.emit("Slice", inputs, [ctx.output(0)])


@register("Gather", "GatherElements")
def gather(ctx: ImportContext) -> None:
    ctx.emit(ctx.op_type, [ctx.input(0), ctx.input(1)], [ctx.output(0)], axis=int(ctx.attr("axis", 0)))


@register("Shape")
def shape(ctx: ImportContext) -> None:
    attrs = {}
    if ctx.has_attr("start"):
        attrs["start"] = _clamp_i32(ctx.attr("start"))
    if ctx.has_attr("end"):
        attrs["end"] = _clamp_i32(ctx.attr("end"))
    ctx.emit("Shape", [ctx.input(0)], [ctx.output(0)], **attrs)


@register("Size", "Expand", "Range", "Tile")
def no_options(ctx: ImportContext) -> None:
    ctx.emit(ctx.op_type, list(ctx.node.input), [ctx.output(0)])


@register("ConstantOfShape")
def constant_of_shape(ctx: ImportContext) -> None:
    attrs = {}
    if ctx.has_attr("value"):
        value = np.asarray(ctx.attr("value"))
        if value.size != 1:
            ctx.unsupported(f"value has {value.size} elements (one expected)")
        if value.dtype not in NP_TO_DTYPE:
            ctx.unsupported(f"value of type {value.dtype}")
        attrs["value"] = value.reshape(-1).astype(value.dtype.newbyteorder("<")).tobytes()
    ctx.emit("ConstantOfShape", [ctx.input(0)], [ctx.output(0)], **attrs)


@register("CumSum", "CumProd")
def cumulative(ctx: ImportContext) -> None:
    attrs = {"exclusive": bool(ctx.attr("exclusive", 0)), "reverse": bool(ctx.attr("reverse", 0))}
    axis = ctx.const(1)
    inputs = [ctx.input(0)]
    if axis is None:
        inputs.append(ctx.input(1))  # run-time axis: read at eval
    elif axis.size != 1:
        ctx.unsupported("axis must be a scalar")
    else:
        attrs["axis"] = int(axis.reshape(-1)[0])
    ctx.emit(ctx.op_type, inputs, [ctx.output(0)], **attrs)


@register("Trilu")
def trilu(ctx: ImportContext) -> None:
    inputs = [ctx.input(0)] + ([ctx.input(1)] if ctx.input(1) else [])
    ctx.emit("Trilu", inputs, [ctx.output(0)], upper=bool(ctx.attr("upper", 1)))


@register("OneHot")
def onehot(ctx: ImportContext) -> None:
    ctx.emit("OneHot", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)], axis=int(ctx.attr("axis", -1)))
