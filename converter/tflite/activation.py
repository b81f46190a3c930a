"""TFLite's fused activation functions, applied as the IR's own ops right
after the op that carries them (the fuse pass folds them into convolutions,
fully connected layers and additions)."""

from __future__ import annotations

import tflite

from .context import OpContext

Act = tflite.ActivationFunctionType
CLAMPS = {Act.RELU, Act.RELU6, Act.RELU_N1_TO_1}


def fused_activation(ctx: OpContext) -> int:
    options = ctx.options
    return int(options.FusedActivationFunction()) if options is not None and \
        hasattr(options, "FusedActivationFunction") else Act.NONE


def apply(ctx: OpContext, kind: int, x: str, out: str) -> None:
    """Emits out = activation(x) ("x" is the op's raw result)."""
    if kind == Act.RELU:
        ctx.emit("Relu", [x], [out])
    elif kind == Act.RELU6:
        ctx.emit("Clip", [x], [out], min=0.0, max=6.0)
    elif kind == Act.RELU_N1_TO_1:
        ctx.emit("Clip", [x], [out], min=-1.0, max=1.0)
    elif kind == Act.TANH:
        ctx.emit("Tanh", [x], [out])
    else:
        ctx.unsupported(f"fused activation {kind} (SIGN_BIT) is not supported")


def raw_result(ctx: OpContext, out: str, kind: int, hint: str = "raw") -> str:
    """Where the op writes before its fused activation: `out` itself without one. A clamp
    keeps the output's quantization (TFLite clamps on the output's int8 grid)."""
    if kind == Act.NONE:
        return out
    name = ctx.temp(hint, out)
    if kind not in CLAMPS:
        ctx.graph.tensors[name].quant = None
    return name


def finish(ctx: OpContext, raw: str, out: str, kind: int) -> None:
    if kind != Act.NONE:
        apply(ctx, kind, raw, out)
