"""Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9): one runtime form,
Resize(x, roi?, scales?, sizes?) with opset-19 attribute semantics.

Opset 10 Resize and Upsample have no coordinate transform attribute: they
are asymmetric, and nearest picks floor(x) when upsampling and ceil(x)
when downsampling (what onnxruntime does); with constant scales the
importer picks the matching nearest mode, and refuses a mix of the two.
"""

from __future__ import annotations

import numpy as np

from nanort.schema.CoordinateTransform import CoordinateTransform
from nanort.schema.KeepAspectRatio import KeepAspectRatio
from nanort.schema.NearestMode import NearestMode
from nanort.schema.ResizeMode import ResizeMode

from . import ImportContext, register

MODES = {"nearest": ResizeMode.NEAREST, "linear": ResizeMode.LINEAR, "cubic": ResizeMode.CUBIC}
COORDS = {
    "half_pixel": CoordinateTransform.HALF_PIXEL,
    "asymmetric": CoordinateTransform.ASYMMETRIC,
    "pytorch_half_pixel": CoordinateTransform.PYTORCH_HALF_PIXEL,
    "align_corners": CoordinateTransform.ALIGN_CORNERS,
    "tf_crop_and_resize": CoordinateTransform.TF_CROP_AND_RESIZE,
    "half_pixel_symmetric": CoordinateTransform.HALF_PIXEL_SYMMETRIC,
    "tf_half_pixel_for_nn": CoordinateTransform.TF_HALF_PIXEL_FOR_NN,
}
NEAREST = {"round_prefer_floor": NearestMode.ROUND_PREFER_FLOOR, "round_prefer_ceil": NearestMode.ROUND_PREFER_CEIL,
           "floor": NearestMode.FLOOR, "ceil": NearestMode.CEIL}
KEEP = {"stretch": KeepAspectRatio.STRETCH, "not_larger": KeepAspectRatio.NOT_LARGER,
        "not_smaller": KeepAspectRatio.NOT_SMALLER}


def _lookup(ctx: ImportContext, table: dict[str, int], name: str, default: str) -> int:
    value = ctx.attr(name, default)
    if value not in table:
        ctx.unsupported(f"{name}={value!r}")
    return table[value]


def _present(ctx: ImportContext, i: int) -> str:
    """Input i, or "" when omitted or a constant empty tensor (ONNX's "absent")."""
    name = ctx.input(i)
    value = ctx.const(i)
    return "" if not name or (value is not None and value.size == 0) else name


def _legacy(ctx: ImportContext, scales: str) -> None:
    """Opset 10 Resize / Upsample: asymmetric, nearest floor (up) or ceil (down)."""
    mode = _lookup(ctx, MODES, "mode", "nearest")
    attrs = {"mode": mode, "coordinate_transform": CoordinateTransform.ASYMMETRIC,
             "nearest_mode": NearestMode.FLOOR}
    values = ctx.graph.const(scales)
    if mode == ResizeMode.CUBIC:
        ctx.unsupported("mode='cubic' does not exist before opset 11")
    if mode == ResizeMode.NEAREST and values is not None:
        changed = [float(s) for s in values.reshape(-1) if float(s) != 1.0]
        if changed and all(s < 1.0 for s in changed):
            attrs["nearest_mode"] = NearestMode.CEIL
        elif any(s < 1.0 for s in changed):
            ctx.unsupported("nearest resize that enlarges some axes and shrinks others (opset 10 semantics)")
    ctx.emit("Resize", [ctx.input(0), "", scales], [ctx.output(0)], **attrs)


@register("Upsample")
def upsample(ctx: ImportContext) -> None:
    if ctx.opset < 9:
        scales = ctx.attr("scales")
        if scales is None:
            ctx.unsupported("the scales attribute is missing")
        _legacy(ctx, ctx.add_const(np.array(scales, np.float32), "scales"))
    else:
        _legacy(ctx, ctx.input(1))


@register("Resize")
def resize(ctx: ImportContext) -> None:
    if ctx.opset < 11:
        _legacy(ctx, ctx.input(1))
        return
    coord = _lookup(ctx, COORDS, "coordinate_transformation_mode", "half_pixel")
    attrs = {
        "mode": _lookup(ctx, MODES, "mode", "nearest"),
        "coordinate_transform": coord,
        "nearest_mode": _lookup(ctx, NEAREST, "nearest_mode", "round_prefer_floor"),
        "cubic_coeff_a": float(ctx.attr("cubic_coeff_a", -0.75)),
        "exclude_outside": bool(ctx.attr("exclude_outside", 0)),
        "extrapolation_value": float(ctx.attr("extrapolation_value", 0.0)),
        "keep_aspect_ratio": _lookup(ctx, KEEP, "keep_aspect_ratio_policy", "stretch"),
        "antialias": bool(ctx.attr("antialias", 0)),
    }
    axes = ctx.attr("axes")
    if axes is not None:
        attrs["axes"] = [int(a) for a in axes]
    # roi only matters to tf_crop_and_resize; elsewhere it is dropped.
    roi = _present(ctx, 1) if coord == CoordinateTransform.TF_CROP_AND_RESIZE else ""
    inputs = [ctx.input(0), roi, _present(ctx, 2), _present(ctx, 3)]
    while not inputs[-1]:
        inputs.pop()
    ctx.emit("Resize", inputs, [ctx.output(0)], **attrs)
