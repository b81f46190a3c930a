"""Ops that address data by computed indices: ScatterElements (and its
opset-9 name Scatter), ScatterND, GatherND. The indices may be run-time
data: the runtime checks every one before it writes or reads.
"""

from __future__ import annotations

from nanort.schema.ScatterReduction import ScatterReduction

from . import ImportContext, register

REDUCTIONS = {"none": ScatterReduction.NONE, "add": ScatterReduction.ADD, "mul": ScatterReduction.MUL,
              "min": ScatterReduction.MIN, "max": ScatterReduction.MAX}


def _reduction(ctx: ImportContext) -> int:
    name = ctx.attr("reduction", "none")
    if name not in REDUCTIONS:
        ctx.unsupported(f"reduction={name!r} (none, add, mul, min, max are supported)")
    return REDUCTIONS[name]


@register("ScatterElements", "Scatter")
def scatter_elements(ctx: ImportContext) -> None:
    ctx.emit("ScatterElements", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)],
             axis=int(ctx.attr("axis", 0)), reduction=_reduction(ctx))


@register("ScatterND")
def scatter_nd(ctx: ImportContext) -> None:
    ctx.emit("ScatterND", [ctx.input(0), ctx.input(1), ctx.input(2)], [ctx.output(0)], reduction=_reduction(ctx))


@register("GatherND")
def gather_nd(ctx: ImportContext) -> None:
    ctx.emit("GatherND", [ctx.input(0), ctx.input(1)], [ctx.output(0)], batch_dims=int(ctx.attr("batch_dims", 0)))
