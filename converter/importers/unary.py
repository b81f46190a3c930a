"""Elementwise unary ops (UnaryOptions)."""

from __future__ import annotations

import numpy as np

from . import ImportContext, register

SIMPLE = [
    "Identity", "Relu", "Sigmoid", "HardSwish", "Mish", "Tanh", "Erf", "Softplus", "Softsign", "Sqrt", "Exp",
    "Log", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "IsNaN",
]
# op -> (attribute defaults for alpha, beta) per the ONNX spec
WITH_PARAMS = {
    "LeakyRelu": (0.01, None),
    "Elu": (1.0, None),
    "Celu": (1.0, None),
    "ThresholdedRelu": (1.0, None),
    "HardSigmoid": (0.2, 0.5),
}


@register(*SIMPLE)
def simple(ctx: ImportContext) -> None:
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)])


@register(*WITH_PARAMS)
def with_params(ctx: ImportContext) -> None:
    alpha_default, beta_default = WITH_PARAMS[ctx.op_type]
    attrs = {"alpha": float(ctx.attr("alpha", alpha_default))}
    if beta_default is not None:
        attrs["beta"] = float(ctx.attr("beta", beta_default))
    ctx.emit(ctx.op_type, [ctx.input(0)], [ctx.output(0)], **attrs)


@register("Selu")
def selu(ctx: ImportContext) -> None:
    # UnaryOptions: alpha = alpha, beta = gamma
    ctx.emit("Selu", [ctx.input(0)], [ctx.output(0)], alpha=float(ctx.attr("alpha", 1.67326319217681884765625)),
             beta=float(ctx.attr("gamma", 1.05070102214813232421875)))


@register("Gelu")
def gelu(ctx: ImportContext) -> None:
    approx = ctx.attr("approximate", "none")
    if approx not in ("none", "tanh"):
        ctx.unsupported(f"approximate={approx!r}")
    ctx.emit("Gelu", [ctx.input(0)], [ctx.output(0)], approximate_tanh=approx == "tanh")


@register("IsInf")
def isinf(ctx: ImportContext) -> None:
    ctx.emit("IsInf", [ctx.input(0)], [ctx.output(0)], detect_positive=bool(ctx.attr("detect_positive", 1)),
             detect_negative=bool(ctx.attr("detect_negative", 1)))


@register("Dropout")
def dropout(ctx: ImportContext) -> None:
    """Inference-mode Dropout is the identity; training mode is refused."""
    if len(ctx.outputs) > 1 and ctx.output(1):
        ctx.unsupported("the mask output of Dropout is not supported")
    training = ctx.const(2) if ctx.input(2) else np.array(False)
    if training is None or bool(training):
        ctx.unsupported("training_mode=True (random dropout) is not supported; nanort runs inference")
    ctx.emit("Identity", [ctx.input(0)], [ctx.output(0)])
