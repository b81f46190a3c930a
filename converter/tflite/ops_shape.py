"""Shape and data-movement ops, reductions and batched matmul. Shapes come
from the file (TFLite stores every tensor's shape), so reshapes take the
output tensor's shape as a constant."""

from __future__ import annotations

import numpy as np

from .context import OpContext, register

INT64_MAX = np.iinfo(np.int64).max
REDUCE = {"SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax", "REDUCE_MIN": "ReduceMin", "REDUCE_PROD": "ReduceProd"}


def _reshape_to_output(ctx: OpContext, x: str) -> None:
    out = ctx.output(0)
    ctx.emit("Reshape", [x, ctx.add_const(np.array(ctx.shape(out), np.int64), "shape")], [out])


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(ctx: OpContext) -> None:
    _reshape_to_output(ctx, ctx.input(0))


@register("CONCATENATION")
def concatenation(ctx: OpContext) -> None:
    # (its options' fused activation is not applied: TFLite's kernels ignore it too)
    ctx.emit("Concat", [ctx.input(i) for i in range(ctx.num_inputs)], [ctx.output(0)], axis=int(ctx.options.Axis()))


@register("PAD", "PADV2", "MIRROR_PAD")
def pad(ctx: OpContext) -> None:
    """paddings [rank, 2] -> the IR's [begins..., ends...]; PADV2's value is input 2."""
    from nanort.schema.PadMode import PadMode

    paddings = ctx.require_const(1, "paddings").astype(np.int64)
    rank = len(ctx.tensor(0).shape)
    if paddings.shape != (rank, 2):
        ctx.unsupported(f"paddings of shape {list(paddings.shape)} for a rank-{rank} input")
    inputs = [ctx.input(0), ctx.add_const(np.concatenate([paddings[:, 0], paddings[:, 1]]), "pads")]
    mode = PadMode.CONSTANT
    if ctx.code == "PADV2" and ctx.has_input(2):
        inputs.append(ctx.input(2))
    elif ctx.code == "MIRROR_PAD":
        symmetric = ctx.options is not None and ctx.options.Mode() == 1
        if symmetric:
            ctx.unsupported("SYMMETRIC mirror padding is not supported (REFLECT is)")
        mode = PadMode.REFLECT
    ctx.emit("Pad", inputs, [ctx.output(0)], mode=mode)


@register("TRANSPOSE")
def transpose(ctx: OpContext) -> None:
    perm = [int(p) for p in ctx.require_const(1, "perm").reshape(-1)]
    ctx.emit("Transpose", [ctx.input(0)], [ctx.output(0)], perm=perm)


def _slice(ctx: OpContext, starts: list[int], ends: list[int], steps: list[int], out: str) -> None:
    rank = len(starts)
    ctx.emit("Slice", [ctx.input(0), ctx.add_const(np.array(starts, np.int64), "starts"),
                       ctx.add_const(np.array(ends, np.int64), "ends"),
                       ctx.add_const(np.arange(rank, dtype=np.int64), "axes"),
                       ctx.add_const(np.array(steps, np.int64), "steps")], [out])


@register("SLICE")
def slice_(ctx: OpContext) -> None:
    begin = [int(v) for v in ctx.require_const(1, "begin").reshape(-1)]
    size = [int(v) for v in ctx.require_const(2, "size").reshape(-1)]
    shape = ctx.tensor(0).shape
    ends = [d if s < 0 else b + s for b, s, d in zip(begin, size, shape)]
    _slice(ctx, begin, ends, [1] * len(begin), ctx.output(0))


@register("STRIDED_SLICE")
def strided_slice(ctx: OpContext) -> None:
    """Masks resolved against the static input shape; shrunk axes are removed by a Reshape."""
    o = ctx.options
    if o.EllipsisMask() or o.NewAxisMask() or (hasattr(o, "Offset") and o.Offset()):
        ctx.unsupported("ellipsis, new-axis masks and offset=true are not supported")
    shape = ctx.tensor(0).shape
    begin, end, strides = (ctx.require_const(i, what).reshape(-1).astype(np.int64)
                           for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(strides) == len(shape) or np.any(strides == 0):
        ctx.unsupported(f"begin/end/strides do not fit the input's shape {list(shape)}")
    starts, ends = [], []
    for k, dim in enumerate(shape):
        step = int(strides[k])
        b, e = int(begin[k]), int(end[k])
        if o.BeginMask() >> k & 1:
            b = 0 if step > 0 else dim - 1
        if o.EndMask() >> k & 1:
            e = dim if step > 0 else -INT64_MAX
        if o.ShrinkAxisMask() >> k & 1:
            b = b + dim if b < 0 else b
            e = b + 1
        starts.append(b)
        ends.append(e)
    out = ctx.output(0)
    if o.ShrinkAxisMask():
        kept = [len(range(*slice(s, e if e != -INT64_MAX else None, int(st)).indices(d)))
                for s, e, st, d in zip(starts, ends, strides, shape)]
        sliced = ctx.temp("sliced", out, kept)
        _slice(ctx, starts, ends, [int(s) for s in strides], sliced)
        _reshape_to_output(ctx, sliced)
    else:
        _slice(ctx, starts, ends, [int(s) for s in strides], out)


@register("SPLIT", "SPLIT_V")
def split(ctx: OpContext) -> None:
    """SPLIT: axis, x (equal parts); SPLIT_V: x, sizes, axis."""
    if ctx.code == "SPLIT":
        axis, x, sizes = ctx.require_const(0, "axis"), ctx.input(1), None
    else:
        axis, x = ctx.require_const(2, "axis"), ctx.input(0)
        sizes = [ctx.graph.tensors[ctx.output(i)].shape[int(axis.reshape(-1)[0])] for i in range(len(ctx.op.outputs))]
    outs = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    attrs = {"axis": int(axis.reshape(-1)[0])}
    inputs = [x]
    if sizes is None:
        attrs["num_outputs"] = len(outs)
    else:
        inputs.append(ctx.add_const(np.array(sizes, np.int64), "sizes"))
    ctx.emit("Split", inputs, outs, **attrs)


@register("GATHER")
def gather(ctx: OpContext) -> None:
    if ctx.options is not None and ctx.options.BatchDims():
        ctx.unsupported("batch_dims is not supported")
    axis = int(ctx.options.Axis()) if ctx.options is not None else 0
    ctx.emit("Gather", [ctx.input(0), ctx.input(1)], [ctx.output(0)], axis=axis)


@register(*REDUCE)
def reduce(ctx: OpContext) -> None:
    axes = [int(a) for a in ctx.require_const(1, "axes").reshape(-1)]
    keep = bool(ctx.options.KeepDims()) if ctx.options is not None else False
    ctx.emit(REDUCE[ctx.code], [ctx.input(0)], [ctx.output(0)], axes=axes, keepdims=keep)


@register("ARG_MAX", "ARG_MIN")
def arg_max(ctx: OpContext) -> None:
    axis = int(ctx.require_const(1, "axis").reshape(-1)[0])
    out_type = ctx.out_tensor(0).dtype
    out = ctx.output(0)
    y = out
    if out_type != np.int64:
        y = ctx.graph.fresh_name(f"{ctx.name}/index64")
        ctx.graph.add_tensor(y, np.int64, ctx.shape(out))
    ctx.emit("ArgMax" if ctx.code == "ARG_MAX" else "ArgMin", [ctx.input(0)], [y], axes=[axis], keepdims=False)
    if y != out:
        from ..schema_map import dtype_code

        ctx.emit("Cast", [y], [out], to=dtype_code(out_type))


@register("BATCH_MATMUL")
def batch_matmul(ctx: OpContext) -> None:
    o = ctx.options
    inputs = []
    for i, adjoint in ((0, bool(o.AdjX()) if o else False), (1, bool(o.AdjY()) if o else False)):
        name = ctx.input(i)
        if adjoint:
            shape = list(ctx.shape(name))
            perm = list(range(len(shape)))
            perm[-2:] = perm[-1], perm[-2]
            t = ctx.temp(f"adjoint{i}", name, [shape[p] for p in perm])
            ctx.emit("Transpose", [name], [t], perm=perm)
            name = t
        inputs.append(name)
    ctx.emit("MatMul", inputs, [ctx.output(0)])
