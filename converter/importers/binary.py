"""Elementwise binary ops with numpy broadcasting (BinaryOptions), and the
variadic Sum / Mean / Min / Max as chains of binary nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..ir import Dim, Shape
from ..schema_map import NP_TO_DTYPE
from . import ImportContext, register

PLAIN = ["Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And",
         "Or", "Xor", "PRelu"]


def check_types(ctx: ImportContext, names: Iterable[str]) -> None:
    """Rejects tensors whose element type nanort lacks (uint16/32/64, ...)."""
    for name in names:
        dt = ctx.dtype(name) if name else None
        if dt is not None and np.dtype(dt) not in NP_TO_DTYPE:
            ctx.unsupported(f"tensor {name!r} has type {np.dtype(dt).name}, which nanort does not support")


def _bcast_dim(dims: list[Dim]) -> Dim:
    ints = {d for d in dims if isinstance(d, int) and d != 1}
    others = {d for d in dims if not isinstance(d, int)}
    if len(ints) == 1:
        return ints.pop()
    if not ints and not others:
        return 1
    if not ints and len(others) == 1 and None not in others:
        return others.pop()
    return None


def broadcast_shape(shapes: Sequence[Shape | None]) -> Shape | None:
    """Numpy broadcast of shapes with symbolic dims; None where unknown."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)  # type: ignore[arg-type]
    out: list[Dim] = []
    for d in range(rank):
        out.append(_bcast_dim([s[d - rank + len(s)] for s in shapes if d - rank + len(s) >= 0]))  # type: ignore
    return tuple(out)


@register(*PLAIN)
def plain(ctx: ImportContext) -> None:
    check_types(ctx, [ctx.input(0), ctx.input(1), ctx.output(0)])
    ctx.emit(ctx.op_type, [ctx.input(0), ctx.input(1)], [ctx.output(0)])


@register("Mod")
def mod(ctx: ImportContext) -> None:
    check_types(ctx, [ctx.input(0), ctx.input(1), ctx.output(0)])
    ctx.emit("Mod", [ctx.input(0), ctx.input(1)], [ctx.output(0)], fmod=bool(ctx.attr("fmod", 0)))


@register("BitShift")
def bitshift(ctx: ImportContext) -> None:
    check_types(ctx, [ctx.input(0), ctx.input(1), ctx.output(0)])
    direction = ctx.attr("direction")
    if direction not in ("LEFT", "RIGHT"):
        ctx.unsupported(f"direction={direction!r} (must be LEFT or RIGHT)")
    ctx.emit("BitShift", [ctx.input(0), ctx.input(1)], [ctx.output(0)], shift_left=direction == "LEFT")


@register("Sum", "Mean", "Min", "Max")
def variadic(ctx: ImportContext) -> None:
    """Sum/Mean/Min/Max of n inputs: a chain of n-1 binary nodes (Mean then divides by n)."""
    inputs = [i for i in ctx.node.input if i]
    out = ctx.output(0)
    check_types(ctx, inputs + [out])
    if not inputs:
        ctx.unsupported("needs at least one input")
    if len(inputs) == 1:
        ctx.emit("Identity", inputs, [out])
        return
    op = "Add" if ctx.op_type in ("Sum", "Mean") else ctx.op_type
    dtype = ctx.dtype(out) or ctx.dtype(inputs[0]) or np.float32
    acc, shapes = inputs[0], [ctx.shape(inputs[0])]
    for k, name in enumerate(inputs[1:], 1):
        shapes.append(ctx.shape(name))
        last = k == len(inputs) - 1 and ctx.op_type != "Mean"
        dst = out if last else ctx.temp(op.lower(), dtype, broadcast_shape(shapes))
        ctx.emit(op, [acc, name], [dst])
        acc = dst
    if ctx.op_type == "Mean":
        count = ctx.add_const(np.array(len(inputs), dtype=dtype), "count")
        ctx.emit("Div", [acc, count], [out])
