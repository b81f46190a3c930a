"""Where, Clip (attribute and input forms) and Cast / CastLike."""

from __future__ import annotations

import numpy as np
from onnx import helper

from ..schema_map import NP_TO_DTYPE, dtype_code
from . import ImportContext, register
from .binary import check_types


@register("Where")
def where(ctx: ImportContext) -> None:
    check_types(ctx, [ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)])
    ctx.emit("Where", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)])


def _scalar(value: np.ndarray, what: str, ctx: ImportContext) -> np.ndarray:
    if value.size != 1:
        ctx.unsupported(f"{what} must be a single value, it has shape {list(value.shape)}")
    return value.reshape(())


@register("Clip")
def clip(ctx: ImportContext) -> None:
    """Constant bounds of a float32 clip go into ClipOptions; constant bounds of
    other types stay inputs (as constants of x's type, exact), and so do
    bounds computed at run time."""
    x, out = ctx.input(0), ctx.output(0)
    check_types(ctx, [x, out])
    dt = np.dtype(ctx.dtype(0) or np.float32)
    attrs: dict[str, float] = {}
    inputs = [x, "", ""]
    for k, field in ((1, "min"), (2, "max")):
        if ctx.opset < 11:
            value = ctx.attr(field)
            value = None if value is None else np.array(value, dtype=np.float64)
        elif ctx.input(k):
            value = ctx.const(k)
            if value is None:
                check_types(ctx, [ctx.input(k)])
                inputs[k] = ctx.input(k)
                continue
        else:
            continue
        if value is None:
            continue
        value = _scalar(np.asarray(value), field, ctx)
        if dt == np.float32 and not np.isnan(value):
            attrs[field] = float(value)
        else:
            inputs[k] = ctx.add_const(value.astype(dt), field)
    while inputs[-1] == "":
        inputs.pop()
    ctx.emit("Clip", inputs, [out], **attrs)


_UNSUPPORTED_TARGETS = "nanort tensors are float32/16/64, int8/16/32/64, uint8 or bool"


def _emit_cast(ctx: ImportContext, target: np.dtype) -> None:
    src = ctx.dtype(0)
    check_types(ctx, [ctx.input(0)])
    if src is not None and np.dtype(src) == target:
        ctx.emit("Identity", [ctx.input(0)], [ctx.output(0)])
    else:
        ctx.emit("Cast", [ctx.input(0)], [ctx.output(0)], to=dtype_code(target))


def _np_target(elem_type: int) -> np.dtype | None:
    try:
        dt = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None
    return dt if dt in NP_TO_DTYPE else None


@register("Cast")
def cast(ctx: ImportContext) -> None:
    to = int(ctx.attr("to", 0))
    target = _np_target(to)
    if target is None:
        try:
            name = helper.tensor_dtype_to_string(to).replace("TensorProto.", "")
        except Exception:
            name = f"type code {to}"
        ctx.unsupported(f"Cast to {name} is not supported ({_UNSUPPORTED_TARGETS})")
    _emit_cast(ctx, target)


@register("CastLike")
def cast_like(ctx: ImportContext) -> None:
    target = ctx.dtype(1)
    if target is None or np.dtype(target) not in NP_TO_DTYPE:
        what = "unknown" if target is None else np.dtype(target).name
        ctx.unsupported(f"CastLike to the type of {ctx.input(1)!r} ({what}) is not supported "
                        f"({_UNSUPPORTED_TARGETS})")
    _emit_cast(ctx, np.dtype(target))
