"""MatMul, Gemm -> MatMul / FullyConnected.

FullyConnected computes y[..., N] = x[..., K] . W[N, K]^T + b[N] (W is the
ONNX Gemm transB / PyTorch Linear layout). Gemm with a constant B becomes one
FullyConnected with W = alpha * B (transposed as needed) and, when C is a
per-column vector or a scalar, bias = beta * C. Everything else is expressed
with the generic ops: Transpose for transA, MatMul / FullyConnected for a
computed B, Mul for alpha, Add for beta * C.
"""

from __future__ import annotations

import numpy as np

from . import ImportContext, register


def _check_float(ctx: ImportContext, *inputs: int) -> None:
    for i in inputs:
        dt = ctx.dtype(i) if ctx.input(i) else None
        if dt is not None and dt != np.float32:
            ctx.unsupported(f"input {i} has type {dt}; only float32 is supported")


@register("MatMul")
def matmul(ctx: ImportContext) -> None:
    _check_float(ctx, 0, 1)
    ctx.emit("MatMul", [ctx.input(0), ctx.input(1)], [ctx.output(0)])


class _Gemm:
    """Emits the nodes of one Gemm: product -> * alpha -> + beta * C."""

    def __init__(self, ctx: ImportContext):
        self.ctx = ctx
        self.alpha = float(ctx.attr("alpha", 1.0))
        self.beta = float(ctx.attr("beta", 1.0))
        self.trans_a = bool(ctx.attr("transA", 0))
        self.trans_b = bool(ctx.attr("transB", 0))
        self.out_shape = ctx.shape(ctx.output(0))
        b_shape = ctx.shape(1)
        self.n = None if b_shape is None or len(b_shape) != 2 else b_shape[0 if self.trans_b else 1]

    def temp(self, hint: str) -> str:
        return self.ctx.temp(hint, np.float32, self.out_shape)

    def operand_a(self) -> str:
        ctx = self.ctx
        a = ctx.const(0)
        if a is not None:
            a = a.T if self.trans_a else a
            if ctx.const(1) is None and self.alpha != 1.0:  # alpha goes into the constant operand
                a, self.alpha = a * np.float32(self.alpha), 1.0
            return ctx.add_const(np.ascontiguousarray(a, np.float32), "A")
        if not self.trans_a:
            return ctx.input(0)
        shape = ctx.shape(0)
        at = ctx.temp("A_t", np.float32, None if shape is None else tuple(reversed(shape)))
        ctx.emit("Transpose", [ctx.input(0)], [at], perm=[1, 0])
        return at

    def bias_and_addend(self, allow_bias: bool) -> tuple[np.ndarray | None, str | None]:
        """beta * C as a FullyConnected bias vector when possible, else a tensor to add."""
        ctx = self.ctx
        if not ctx.input(2) or self.beta == 0.0:
            return None, None
        c = ctx.const(2)
        if c is None:
            if self.beta == 1.0:
                return None, ctx.input(2)
            scaled = ctx.temp("beta_C", np.float32, ctx.shape(2))
            ctx.emit("Mul", [ctx.input(2), ctx.add_const(np.float32(self.beta), "beta")], [scaled])
            return None, scaled
        c = (np.float32(self.beta) * c).astype(np.float32)
        per_column = c.ndim <= 1 or c.shape[0] == 1
        if allow_bias and per_column and isinstance(self.n, int) and c.size in (1, self.n) and self.alpha == 1.0:
            return np.ascontiguousarray(np.broadcast_to(c.reshape(-1), (self.n,))), None
        return None, ctx.add_const(c, "beta_C")

    def run(self) -> None:
        ctx = self.ctx
        a = self.operand_a()
        b = ctx.const(1)
        if b is not None:  # W[N, K] = alpha * B^T (or alpha * B with transB)
            w = (b if self.trans_b else b.T) * np.float32(self.alpha)
            self.alpha = 1.0
            weights = ctx.add_const(np.ascontiguousarray(w, np.float32), "W")
        else:
            weights = ctx.input(1)
        fc = b is not None or self.trans_b
        bias, addend = self.bias_and_addend(allow_bias=fc)
        post = self.alpha != 1.0 or addend is not None
        y = self.temp("product") if post else ctx.output(0)
        if fc:
            ins = [a, weights] + ([ctx.add_const(bias, "bias")] if bias is not None else [])
            ctx.emit("FullyConnected", ins, [y], keep_dims=True)
        else:
            ctx.emit("MatMul", [a, weights], [y])
        self.finish(y, addend)

    def finish(self, y: str, addend: str | None) -> None:
        ctx = self.ctx
        if self.alpha != 1.0:
            scaled = self.temp("scaled") if addend is not None else ctx.output(0)
            ctx.emit("Mul", [y, ctx.add_const(np.float32(self.alpha), "alpha")], [scaled])
            y = scaled
        if addend is not None:
            ctx.emit("Add", [y, addend], [ctx.output(0)])


@register("Gemm")
def gemm(ctx: ImportContext) -> None:
    _check_float(ctx, 0, 1, 2)
    for i in (0, 1):
        shape = ctx.shape(i)
        if shape is not None and len(shape) != 2:
            ctx.unsupported(f"input {i} must be 2-D, has rank {len(shape)}")
    _Gemm(ctx).run()
