"""TopK, NonMaxSuppression, NonZero."""

from __future__ import annotations

import numpy as np

from . import ImportContext, register


@register("TopK")
def _topk(ctx: ImportContext) -> None:
    # (sorted=0 allows any order; nanort always gives the sorted one)
    k = ctx.input(1) if ctx.opset >= 10 else ctx.add_const(np.array([ctx.attr("k")], np.int64), "k")
    ctx.emit("TopK", [ctx.input(0), k], ctx.outputs, axis=int(ctx.attr("axis", -1)),
             largest=bool(ctx.attr("largest", 1)))


@register("NonMaxSuppression")
def _nms(ctx: ImportContext) -> None:
    ctx.emit("NonMaxSuppression", [ctx.input(i) for i in range(ctx.num_inputs)], ctx.outputs,
             center_point_box=bool(ctx.attr("center_point_box", 0)))


@register("NonZero")
def _nonzero(ctx: ImportContext) -> None:
    ctx.emit("NonZero", [ctx.input(0)], ctx.outputs)
