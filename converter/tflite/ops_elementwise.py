"""Elementwise ops (binary with broadcasting, unary functions), softmax, and
the quantization bookkeeping ops QUANTIZE / DEQUANTIZE / DENSIFY."""

from __future__ import annotations

import numpy as np

from . import activation
from .context import OpContext, int8_domain, is_quantized_activation, register

BINARY = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div", "MAXIMUM": "Max", "MINIMUM": "Min",
          "POW": "Pow", "PRELU": "PRelu", "LESS": "Less", "GREATER": "Greater", "EQUAL": "Equal",
          "LESS_EQUAL": "LessOrEqual", "GREATER_EQUAL": "GreaterOrEqual"}
UNARY = {"LOGISTIC": "Sigmoid", "TANH": "Tanh", "RELU": "Relu", "HARD_SWISH": "HardSwish", "EXP": "Exp",
         "LOG": "Log", "SQRT": "Sqrt", "ABS": "Abs", "NEG": "Neg", "SIN": "Sin", "COS": "Cos", "FLOOR": "Floor",
         "CEIL": "Ceil", "ROUND": "Round", "LOGICAL_NOT": "Not"}


@register(*BINARY)
def binary(ctx: OpContext) -> None:
    kind = activation.fused_activation(ctx)
    out = ctx.output(0)
    raw = activation.raw_result(ctx, out, kind)
    ctx.emit(BINARY[ctx.code], [ctx.input(0), ctx.input(1)], [raw])
    activation.finish(ctx, raw, out, kind)


@register("SQUARED_DIFFERENCE")
def squared_difference(ctx: OpContext) -> None:
    out = ctx.output(0)
    diff = ctx.temp("diff", out)
    ctx.graph.tensors[diff].quant = None
    ctx.emit("Sub", [ctx.input(0), ctx.input(1)], [diff])
    ctx.emit("Mul", [diff, diff], [out])


@register(*UNARY)
def unary(ctx: OpContext) -> None:
    ctx.emit(UNARY[ctx.code], [ctx.input(0)], [ctx.output(0)])


@register("RSQRT")
def rsqrt(ctx: OpContext) -> None:
    out = ctx.output(0)
    root = ctx.temp("sqrt", out)
    ctx.graph.tensors[root].quant = None
    ctx.emit("Sqrt", [ctx.input(0)], [root])
    ctx.emit("Reciprocal", [root], [out])


@register("SQUARE")
def square(ctx: OpContext) -> None:
    x = ctx.input(0)
    ctx.emit("Mul", [x, x], [ctx.output(0)])


@register("RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")
def clamp(ctx: OpContext) -> None:
    lo, hi = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}[ctx.code]
    ctx.emit("Clip", [ctx.input(0)], [ctx.output(0)], min=lo, max=hi)


@register("ELU")
def elu(ctx: OpContext) -> None:
    ctx.emit("Elu", [ctx.input(0)], [ctx.output(0)], alpha=1.0)


@register("LEAKY_RELU")
def leaky_relu(ctx: OpContext) -> None:
    ctx.emit("LeakyRelu", [ctx.input(0)], [ctx.output(0)], alpha=float(ctx.options.Alpha()))


@register("GELU")
def gelu(ctx: OpContext) -> None:
    approximate = bool(ctx.options.Approximate()) if ctx.options is not None else False
    ctx.emit("Gelu", [ctx.input(0)], [ctx.output(0)], approximate_tanh=approximate)


@register("SOFTMAX", "LOG_SOFTMAX")
def softmax(ctx: OpContext) -> None:
    """Over the last axis; SOFTMAX's beta scales the logits first."""
    x, out = ctx.input(0), ctx.output(0)
    beta = float(ctx.options.Beta()) if ctx.code == "SOFTMAX" and ctx.options is not None else 1.0
    if beta != 1.0:
        scaled = ctx.temp("scaled", x)
        ctx.graph.tensors[scaled].quant = None
        ctx.emit("Mul", [x, ctx.add_const(np.float32(beta), "beta")], [scaled])
        x = scaled
    ctx.emit("Softmax" if ctx.code == "SOFTMAX" else "LogSoftmax", [x], [out], axis=-1)


@register("CAST")
def cast(ctx: OpContext) -> None:
    from ..schema_map import dtype_code

    target = ctx.out_tensor(0).dtype
    ctx.emit("Cast", [ctx.input(0)], [ctx.output(0)], to=dtype_code(target))


# -- quantization bookkeeping ---------------------------------------------------

def _same_grid(a, b) -> bool:
    qa, qb = int8_domain(a), int8_domain(b)
    return qa.scale.size == qb.scale.size == 1 and np.array_equal(qa.scale, qb.scale) and \
        np.array_equal(qa.zero_point, qb.zero_point)


@register("QUANTIZE")
def quantize(ctx: OpContext) -> None:
    """float -> int8: the float tensor takes the output's parameters (nanort's int8 readers quantize
    it with them). int8 <-> uint8 on the same real grid changes nothing the IR holds."""
    src, dst = ctx.tensor(0), ctx.out_tensor(0)
    if not is_quantized_activation(dst) or not dst.quant.per_tensor:
        ctx.unsupported(f"quantizing to {dst.type_name} (per-tensor int8 / uint8 only)")
    x = ctx.input(0)
    if is_quantized_activation(src):
        if not _same_grid(src, dst):
            ctx.unsupported("requantizing between two different int8 grids is not supported")
        ctx.alias(0, x)
        return
    if ctx.graph.tensors[x].quant is not None and not _same_grid_ir(ctx, x, dst):
        ctx.unsupported(f"{src.name!r} is quantized twice with different parameters")
    ctx.graph.tensors[x].quant = int8_domain(dst)
    ctx.alias(0, x)


def _same_grid_ir(ctx: OpContext, name: str, t) -> bool:
    q, want = ctx.graph.tensors[name].quant, int8_domain(t)
    return np.array_equal(q.scale, want.scale) and np.array_equal(q.zero_point, want.zero_point)


@register("DEQUANTIZE", "DENSIFY")
def dequantize(ctx: OpContext) -> None:
    """The IR already holds the real values: constants are dequantized (fp16 widened, int8
    scaled) and densified when read, quantized activations are annotated float tensors."""
    src = ctx.tensor(0)
    if ctx.const(0) is None and not is_quantized_activation(src):
        ctx.unsupported(f"{ctx.code.lower()} of a {src.type_name} tensor computed at run time")
    ctx.alias(0, ctx.input(0))
