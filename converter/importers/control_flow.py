"""If, Loop, Scan: each body is converted as a model of its own (folding,
import, passes) and becomes a further graph of the .nrt file.

ONNX bodies read values of the enclosing graphs by name; nanort's bodies
are closed: constants they read are copied into them, every other value
becomes an explicit input ("capture"), appended to the op's inputs and to
the body's inputs in the same order. (An `If` whose condition folds never
gets here: onnx_loader inlines the branch it takes.)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nanort.runtime.errors import ConversionError

from ..control_flow import outer_references
from ..ir import Graph, Shape
from . import ImportContext, register


def _value_info(name: str, dtype: np.dtype, shape: Shape | None) -> onnx.ValueInfoProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    if shape is None:
        return helper.make_tensor_value_info(name, elem, None)
    dims = [d if isinstance(d, int) else (d or f"{name}_dim{i}") for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, elem, dims)


def _captures(ctx: ImportContext, bodies: list[onnx.GraphProto], own: set[str]) -> list[str]:
    """Non-constant values of the enclosing graph the bodies read, in a fixed order."""
    names: dict[str, None] = {}
    for body in bodies:
        for name in sorted(outer_references(body)):
            if name not in own and ctx.graph.const(name) is None:
                names[name] = None
    for name in names:
        if name not in ctx.graph.tensors:
            ctx.unsupported(f"a subgraph reads {name!r}, which the enclosing graph does not define")
        if ctx.graph.tensors[name].shape is None:
            ctx.unsupported(f"a subgraph reads {name!r}, whose rank is unknown here; fix the input shapes "
                            "(--input-shape) so that the shape tests deciding it fold")
    return list(names)


def _convert_body(ctx: ImportContext, body: onnx.GraphProto, leading: list[onnx.ValueInfoProto],
                  captures: list[str]) -> Graph:
    """The body as a standalone model: its own inputs first, then the captures;
    constants of the enclosing graph it reads become its initializers."""
    from .. import convert_graph  # (the converter's entry point; imported late: it imports this package)

    inputs = leading + [_value_info(n, ctx.graph.tensors[n].dtype, ctx.graph.tensors[n].shape) for n in captures]
    own = {vi.name for vi in leading} | {i.name for i in body.initializer}
    consts = [numpy_helper.from_array(np.asarray(ctx.graph.const(n)), n) for n in sorted(outer_references(body))
              if n not in own and ctx.graph.const(n) is not None]
    graph = helper.make_graph(list(body.node), body.name or "body", inputs, list(body.output),
                              list(body.initializer) + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in ctx.graph.opsets.items()])
    sub = convert_graph(model)
    if len(sub.inputs) != len(inputs):
        ctx.unsupported("a subgraph input was folded away")  # (inputs never fold; kept as a check)
    return sub


def _graph_attr(ctx: ImportContext, name: str) -> onnx.GraphProto:
    body = ctx.attr(name)
    if not isinstance(body, onnx.GraphProto):
        ctx.unsupported(f"attribute {name!r} (a graph) is missing")
    return body


def _declare_outputs(ctx: ImportContext, body: Graph, first: int) -> None:
    """Op outputs take their body outputs' types where inference left them untyped."""
    for k, out in enumerate(ctx.outputs):
        src = body.tensors[body.outputs[first + k]]
        t = ctx.graph.tensors.get(out)
        if out and (t is None or t.dtype != src.dtype):
            ctx.graph.add_tensor(out, src.dtype, None if t is None else t.shape)


@register("If")
def _if(ctx: ImportContext) -> None:
    branches = [_graph_attr(ctx, "then_branch"), _graph_attr(ctx, "else_branch")]
    captures = _captures(ctx, branches, set())
    converted = []
    for name, branch in zip(("then_branch", "else_branch"), branches):
        try:
            converted.append(_convert_body(ctx, branch, [], captures))
        except ConversionError as e:
            ctx.unsupported(f"its {name} cannot be converted for these input shapes ({e}); if the condition "
                            "depends on an input, freeze it with --input-value NAME=VALUE")
    for g in converted:
        if len(g.outputs) != len(ctx.outputs):
            ctx.unsupported(f"a branch has {len(g.outputs)} outputs, the node {len(ctx.outputs)}")
    _declare_outputs(ctx, converted[0], 0)
    ctx.emit("If", [ctx.input(0)] + captures, ctx.outputs, graphs=converted, num_captures=len(captures))


@register("Loop")
def _loop(ctx: ImportContext) -> None:
    body = _graph_attr(ctx, "body")
    carried = [ctx.input(i) for i in range(2, ctx.num_inputs)]
    if len(body.input) != 2 + len(carried):
        ctx.unsupported(f"the body has {len(body.input)} inputs for {len(carried)} loop-carried values")
    leading = [helper.make_tensor_value_info(body.input[0].name, TensorProto.INT64, []),
               helper.make_tensor_value_info(body.input[1].name, TensorProto.BOOL, [])]
    for j, name in enumerate(carried):
        t = ctx.graph.tensors[name]
        # loop-carried shapes may change between iterations: rank only
        shape = None if t.shape is None else [None] * len(t.shape)
        leading.append(_value_info(body.input[2 + j].name, t.dtype, shape))
    captures = _captures(ctx, [body], {vi.name for vi in body.input})
    sub = _convert_body(ctx, body, leading, captures)
    _declare_outputs(ctx, sub, 1)
    ctx.emit("Loop", [ctx.input(0), ctx.input(1)] + carried + captures, ctx.outputs, graphs=[sub],
             num_captures=len(captures))


@register("Scan")
def _scan(ctx: ImportContext) -> None:
    if ctx.opset < 9:
        ctx.unsupported("Scan before opset 9 (with a batch axis and sequence_lens) is not supported")
    body = _graph_attr(ctx, "body")
    n_scan = ctx.attr("num_scan_inputs")
    if not isinstance(n_scan, int) or not 0 < n_scan <= ctx.num_inputs:
        ctx.unsupported(f"num_scan_inputs {n_scan!r} does not fit {ctx.num_inputs} inputs")
    n_state = ctx.num_inputs - n_scan
    axes = list(ctx.attr("scan_input_axes", [0] * n_scan))
    leading = []
    for j in range(ctx.num_inputs):
        t = ctx.graph.tensors[ctx.input(j)]
        if t.shape is None:
            ctx.unsupported(f"input {ctx.input(j)!r} has unknown rank")
        shape = list(t.shape)
        if j >= n_state:
            del shape[axes[j - n_state] % len(shape)]
        leading.append(_value_info(body.input[j].name, t.dtype, shape))
    captures = _captures(ctx, [body], {vi.name for vi in body.input})
    sub = _convert_body(ctx, body, leading, captures)
    _declare_outputs(ctx, sub, 0)
    n_out = len(ctx.outputs) - n_state
    ctx.emit("Scan", [ctx.input(i) for i in range(ctx.num_inputs)] + captures, ctx.outputs, graphs=[sub],
             num_scan_inputs=n_scan, num_captures=len(captures), scan_input_axes=axes,
             scan_input_directions=list(ctx.attr("scan_input_directions", [0] * n_scan)),
             scan_output_axes=list(ctx.attr("scan_output_axes", [0] * n_out)),
             scan_output_directions=list(ctx.attr("scan_output_directions", [0] * n_out)))
