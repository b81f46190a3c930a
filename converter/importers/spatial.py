"""Convolutions, pools, depth/space rearrangements and channel normalizations.

Importers emit the source model's NCHW semantics (OIHW / IOHW weights); the
layout pass makes the spatial ops NHWC. The runtime implements 2-D windows:
1-D ones (input rank 3) are lifted to 2-D here (Unsqueeze the input at axis
2, reshape constant weights, Squeeze the result), 3-D ones are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanort.schema.AutoPad import AutoPad
from nanort.schema.DepthSpaceMode import DepthSpaceMode

from . import ImportContext, register

AUTO_PAD = {"NOTSET": AutoPad.NOTSET, "SAME_UPPER": AutoPad.SAME_UPPER, "SAME_LOWER": AutoPad.SAME_LOWER,
            "VALID": AutoPad.VALID}


def _spatial_rank(ctx: ImportContext, what: str, x: str | None = None, w: str | None = None) -> int:
    """Number of spatial dims of the input (1 or 2); refuses 3-D and unknown ranks."""
    x = ctx.input(0) if x is None else x
    w = (ctx.input(1) if ctx.num_inputs > 1 else "") if w is None else w
    shape = ctx.shape(x)
    rank = None if shape is None else len(shape)
    if rank is None and w:
        c = ctx.graph.const(w)
        wshape = ctx.shape(w)
        rank = c.ndim if c is not None else (None if wshape is None else len(wshape))
    if rank is None:
        ctx.unsupported(f"the rank of input {x!r} is unknown")
    if rank == 5:
        ctx.unsupported(f"3-D {what} is not supported")
    if rank not in (3, 4):
        ctx.unsupported(f"{what} of a rank-{rank} input is not supported (2-D and 1-D only)")
    return rank - 2


def _float32_only(ctx: ImportContext, allowed: tuple[Any, ...] = (np.float32,), x: str | None = None) -> None:
    dt = ctx.dtype(ctx.input(0) if x is None else x)
    if dt is not None and dt not in [np.dtype(a) for a in allowed]:
        ctx.unsupported(f"input type {dt} is not supported")


def _ints(ctx: ImportContext, name: str, n: int, default: int) -> list[int]:
    v = ctx.attr(name)
    if v is None:
        return [default] * n
    v = [int(a) for a in v]
    if len(v) != n:
        ctx.unsupported(f"attribute {name}={v} does not have {n} values")
    return v


def _window_attrs(ctx: ImportContext, spatial: int, kernel_required: bool) -> dict[str, Any]:
    """kernel_shape / strides / dilations / pads / auto_pad in 2-D form."""
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PAD:
        ctx.unsupported(f"auto_pad={auto_pad!r}")
    kernel = ctx.attr("kernel_shape")
    if kernel is None and kernel_required:
        ctx.unsupported("kernel_shape is required")
    attrs: dict[str, Any] = {
        "strides": _ints(ctx, "strides", spatial, 1),
        "dilations": _ints(ctx, "dilations", spatial, 1),
        "pads": _ints(ctx, "pads", 2 * spatial, 0),
        "auto_pad": AUTO_PAD[auto_pad],
    }
    if kernel is not None:
        attrs["kernel_shape"] = _ints(ctx, "kernel_shape", spatial, 1)
    if spatial == 1:  # lift: a height-1 window
        for key in ("strides", "dilations", "kernel_shape"):
            if key in attrs:
                attrs[key] = [1] + attrs[key]
        attrs["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
    return attrs


# -- 1-D lifting -------------------------------------------------------------

def _unsqueezed(ctx: ImportContext, name: str, hint: str) -> str:
    """`name` ([N, C, L] or a 3-D weight) with a unit axis inserted at 2."""
    c = ctx.graph.const(name)
    if c is not None:
        return ctx.add_const(np.expand_dims(c, 2), hint)
    shape = ctx.shape(name)
    out = ctx.temp(hint, ctx.dtype(name), None if shape is None else (*shape[:2], 1, *shape[2:]))
    ctx.emit("Unsqueeze", [name], [out], axes=[2])
    return out


def _emit_lifted(ctx: ImportContext, op: str, inputs: list[str], lift_inputs: int, output: str,
                 **attrs: Any) -> None:
    """Emits `op` on inputs whose first `lift_inputs` are lifted to 2-D, then squeezes the output."""
    ins = [_unsqueezed(ctx, n, f"in{i}_2d") if i < lift_inputs and n else n for i, n in enumerate(inputs)]
    shape = ctx.shape(output)
    y = ctx.temp("out_2d", ctx.dtype(inputs[0]), None if shape is None else (*shape[:2], 1, *shape[2:]))
    ctx.emit(op, ins, [y], **attrs)
    ctx.emit("Squeeze", [y], [output], axes=[2])


def _emit_spatial(ctx: ImportContext, op: str, spatial: int, inputs: list[str], lift_inputs: int,
                  output: str | None = None, **attrs: Any) -> None:
    output = output or ctx.output(0)
    while inputs and not inputs[-1]:
        inputs = inputs[:-1]
    if spatial == 1:
        _emit_lifted(ctx, op, inputs, lift_inputs, output, **attrs)
    else:
        ctx.emit(op, inputs, [output], **attrs)


# -- convolutions ------------------------------------------------------------

@register("Conv")
def conv(ctx: ImportContext, inputs: list[str] | None = None, output: str | None = None) -> None:
    """Also emits the float Conv of QLinearConv / ConvInteger, which pass their
    own (dequantized) `inputs` [x, W, B] and `output` and share Conv's attributes."""
    inputs = inputs or [ctx.input(0), ctx.input(1), ctx.input(2)]
    spatial = _spatial_rank(ctx, "convolution", inputs[0], inputs[1])
    _float32_only(ctx, x=inputs[0])
    attrs = _window_attrs(ctx, spatial, kernel_required=False)
    group = int(ctx.attr("group", 1))
    if group < 1:
        ctx.unsupported(f"group={group}")
    attrs["group"] = group
    _emit_spatial(ctx, "Conv", spatial, list(inputs), 2, output, **attrs)


@register("ConvTranspose")
def conv_transpose(ctx: ImportContext) -> None:
    spatial = _spatial_rank(ctx, "convolution")
    _float32_only(ctx)
    attrs = _window_attrs(ctx, spatial, kernel_required=False)
    group = int(ctx.attr("group", 1))
    if group < 1:
        ctx.unsupported(f"group={group}")
    attrs["group"] = group
    out_pad = ctx.attr("output_padding")
    if out_pad is not None:
        out_pad = [int(v) for v in out_pad]
        if len(out_pad) != spatial:
            ctx.unsupported(f"output_padding={out_pad}")
        attrs["output_padding"] = [0] + out_pad if spatial == 1 else out_pad
    out_shape = ctx.attr("output_shape")
    if out_shape is not None:
        out_shape = [int(v) for v in out_shape][-spatial:]  # may carry N, C in front
        attrs["output_shape"] = [1] + out_shape if spatial == 1 else out_shape
    _emit_spatial(ctx, "ConvTranspose", spatial, [ctx.input(0), ctx.input(1), ctx.input(2)], 2, **attrs)


# -- pools -------------------------------------------------------------------

@register("MaxPool", "AveragePool")
def pool(ctx: ImportContext) -> None:
    spatial = _spatial_rank(ctx, "pooling")
    if len(ctx.outputs) > 1 and ctx.output(1):
        ctx.unsupported("the Indices output of MaxPool is not supported")
    _float32_only(ctx, (np.float32, np.int8, np.uint8) if ctx.op_type == "MaxPool" else (np.float32,))
    attrs = _window_attrs(ctx, spatial, kernel_required=True)
    attrs["ceil_mode"] = bool(ctx.attr("ceil_mode", 0))
    if ctx.op_type == "AveragePool":
        attrs["count_include_pad"] = bool(ctx.attr("count_include_pad", 0))
    _emit_spatial(ctx, ctx.op_type, spatial, [ctx.input(0)], 1, **attrs)


@register("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: ImportContext) -> None:
    spatial = _spatial_rank(ctx, "pooling")
    _float32_only(ctx)
    _emit_spatial(ctx, ctx.op_type, spatial, [ctx.input(0)], 1)


# -- depth / space -----------------------------------------------------------

def _depth_space(ctx: ImportContext, mode: int) -> None:
    if ctx.rank(0) != 4:
        ctx.unsupported(f"input rank {ctx.rank(0)} (4-D only)")
    block = int(ctx.attr("blocksize", 0))
    if block < 1:
        ctx.unsupported(f"blocksize={block}")
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)], block_size=block, mode=mode)


@register("DepthToSpace")
def depth_to_space(ctx: ImportContext) -> None:
    mode = ctx.attr("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        ctx.unsupported(f"mode={mode!r}")
    _depth_space(ctx, DepthSpaceMode.CRD if mode == "CRD" else DepthSpaceMode.DCR)


@register("SpaceToDepth")
def space_to_depth(ctx: ImportContext) -> None:
    _depth_space(ctx, DepthSpaceMode.DCR)


# -- channel normalizations ----------------------------------------------------

@register("BatchNormalization")
def batch_norm(ctx: ImportContext) -> None:
    if int(ctx.attr("training_mode", 0)):
        ctx.unsupported("training_mode=1 is not supported (inference only)")
    if any(ctx.outputs[1:]):
        ctx.unsupported("the running mean / variance outputs are not supported (inference only)")
    if not int(ctx.attr("spatial", 1)):
        ctx.unsupported("spatial=0 is not supported")
    _float32_only(ctx)
    ctx.emit("BatchNormalization", [ctx.input(i) for i in range(5)], [ctx.output(0)], axis=1,
             epsilon=float(ctx.attr("epsilon", 1e-5)))


@register("InstanceNormalization")
def instance_norm(ctx: ImportContext) -> None:
    _float32_only(ctx)
    ctx.emit("InstanceNormalization", [ctx.input(i) for i in range(3)], [ctx.output(0)], axis=1,
             epsilon=float(ctx.attr("epsilon", 1e-5)))


@register("LpNormalization")
def lp_norm(ctx: ImportContext) -> None:
    _float32_only(ctx)
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        ctx.unsupported(f"p={p} (1 or 2 only)")
    ctx.emit("LpNormalization", [ctx.input(0)], [ctx.output(0)], axis=int(ctx.attr("axis", -1)), p=p)
