"""Quantization ops of pre-quantized models (onnxruntime QDQ / QOperator,
PyTorch QAT, NNCF).

QuantizeLinear / DequantizeLinear import as runtime ops (scale and zero
point inputs, ONNX semantics). The QLinear* / *Integer ops are expressed as
DequantizeLinear -> float op -> QuantizeLinear, which the qdq pass then folds
into annotations that the int8 quantizer uses as given parameters, so the
model's own scales and zero points are kept."""

from __future__ import annotations

import numpy as np

from . import ImportContext, register

_INT_TYPES = (np.int8, np.uint8, np.int32, np.int16)


def _axis_attrs(ctx: ImportContext) -> dict:
    attrs = {"axis": int(ctx.attr("axis", 1))}
    if ctx.attr("block_size", 0):
        attrs["block_size"] = int(ctx.attr("block_size"))
    return attrs


@register("QuantizeLinear")
def quantize_linear(ctx: ImportContext) -> None:
    out_type = ctx.dtype(ctx.output(0))
    if ctx.input(2):
        out_type = ctx.dtype(2)
    if out_type is None or np.dtype(out_type).type not in _INT_TYPES:
        ctx.unsupported(f"quantizing to {out_type} is not supported (int8, uint8, int16, int32 are)")
    # output_dtype without a zero point: the output tensor's type (shape inference) carries it, zero point 0
    ctx.emit("QuantizeLinear", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)], **_axis_attrs(ctx))


@register("DequantizeLinear")
def dequantize_linear(ctx: ImportContext) -> None:
    in_type = ctx.dtype(0)
    if in_type is None or np.dtype(in_type).type not in _INT_TYPES:
        ctx.unsupported(f"dequantizing {in_type} is not supported")
    ctx.emit("DequantizeLinear", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)],
             **_axis_attrs(ctx))


def _dequantize(ctx: ImportContext, x: int, scale: int, zp: int, hint: str, axis: int = 1) -> str:
    name = ctx.temp(hint, np.float32, ctx.shape(x))
    ctx.emit("DequantizeLinear", [ctx.input(x), ctx.input(scale), ctx.input(zp)], [name], axis=axis)
    return name


def _quantize(ctx: ImportContext, src: str, scale: int, zp: int) -> None:
    ctx.emit("QuantizeLinear", [src, ctx.input(scale), ctx.input(zp)], [ctx.output(0)], axis=1)


@register("QLinearConv")
def qlinear_conv(ctx: ImportContext) -> None:
    """x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?"""
    from .spatial import conv as import_conv  # the float Conv importer defines the attributes

    x = _dequantize(ctx, 0, 1, 2, "x_float")
    w = _dequantize(ctx, 3, 4, 5, "w_float", axis=0)
    bias = ""
    if ctx.input(8):
        b = ctx.const(8)
        xs, ws = ctx.const(1), ctx.const(4)
        if b is None or xs is None or ws is None:
            ctx.unsupported("QLinearConv bias and scales must be constants")
        bias = ctx.add_const((b.astype(np.float64) * xs.astype(np.float64) * ws.astype(np.float64))
                             .astype(np.float32), "bias_float")
    y = ctx.temp("y_float", np.float32, ctx.shape(ctx.output(0)))
    import_conv(ctx, inputs=[x, w, bias], output=y)
    _quantize(ctx, y, 6, 7)


@register("QLinearMatMul")
def qlinear_matmul(ctx: ImportContext) -> None:
    """a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp"""
    a = _dequantize(ctx, 0, 1, 2, "a_float", axis=-1)
    b = _dequantize(ctx, 3, 4, 5, "b_float", axis=-1)
    y = ctx.temp("y_float", np.float32, ctx.shape(ctx.output(0)))
    ctx.emit("MatMul", [a, b], [y])
    _quantize(ctx, y, 6, 7)


def _integer_operand(ctx: ImportContext, i: int, zp: int, hint: str, axis: int) -> str:
    """An integer operand minus its zero point, as float (exact for int8/uint8). The unit
    scale takes the zero point's shape (DequantizeLinear wants them alike)."""
    zp_shape = ctx.shape(zp) if ctx.input(zp) else ()
    if zp_shape is None or not all(isinstance(d, int) for d in zp_shape):
        ctx.unsupported("the zero point's shape must be static")
    one = ctx.add_const(np.ones(zp_shape, np.float32), "one")
    zero = ctx.input(zp) or ctx.add_const(np.zeros((), ctx.dtype(i)), "zp")
    name = ctx.temp(hint, np.float32, ctx.shape(i))
    ctx.emit("DequantizeLinear", [ctx.input(i), one, zero], [name], axis=axis)
    return name


def _to_int32(ctx: ImportContext, y: str) -> None:
    ctx.emit("Cast", [y], [ctx.output(0)], to=6)  # DataType.INT32


@register("MatMulInteger")
def matmul_integer(ctx: ImportContext) -> None:
    """int32 result of (a - a_zp) @ (b - b_zp); exact while partial sums stay below 2^24."""
    a = _integer_operand(ctx, 0, 2, "a_float", axis=-2)  # a per-row zero point runs along M
    b = _integer_operand(ctx, 1, 3, "b_float", axis=-1)
    y = ctx.temp("y_float", np.float32, ctx.shape(ctx.output(0)))
    ctx.emit("MatMul", [a, b], [y])
    _to_int32(ctx, y)


@register("ConvInteger")
def conv_integer(ctx: ImportContext) -> None:
    from .spatial import conv as import_conv

    x = _integer_operand(ctx, 0, 2, "x_float", axis=1)
    w = _integer_operand(ctx, 1, 3, "w_float", axis=0)
    y = ctx.temp("y_float", np.float32, ctx.shape(ctx.output(0)))
    import_conv(ctx, inputs=[x, w, ""], output=y)
    _to_int32(ctx, y)


@register("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: ImportContext) -> None:
    ctx.emit("DynamicQuantizeLinear", [ctx.input(0)], ctx.outputs)
