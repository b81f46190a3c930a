"""TFLite model (reader records) -> IR graph, and the one error that lists
every operator nanort cannot convert."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nanort.runtime.errors import ConversionError, UnsupportedOpError

from ..ir import Graph, Node
from . import ops_elementwise, ops_nn, ops_shape  # noqa: F401 (they register their importers)
from .context import IMPORTERS, ImportState, OpContext, int8_domain, is_quantized_activation
from .reader import Model


class UnsupportedOperators:
    """The operators a conversion refused, by op code, reported together."""

    def __init__(self, path: str):
        self.path = path
        self.by_code: dict[str, list[tuple[str, str]]] = {}

    def add(self, code: str, name: str, reason: str = "") -> None:
        self.by_code.setdefault(code, []).append((name, reason))

    def __bool__(self) -> bool:
        return bool(self.by_code)

    def error(self) -> UnsupportedOpError:
        parts = []
        for code, nodes in sorted(self.by_code.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            shown = ", ".join(repr(name) + (f" ({reason})" if reason else "") for name, reason in nodes[:3])
            more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
            parts.append(f"{code} x{len(nodes)} (operator{'s' if len(nodes) > 1 else ''} {shown}{more})")
        count = sum(len(v) for v in self.by_code.values())
        return UnsupportedOpError(
            f"{self.path}: {count} operator{'s' if count > 1 else ''} of {len(self.by_code)} type"
            f"{'s' if len(self.by_code) > 1 else ''} cannot be converted: " + "; ".join(parts))


def has_fp16_weights(model: Model) -> bool:
    """True when the model ships float16 constants (weights DEQUANTIZEd to float32 at run time)."""
    return any(t.is_const and t.data.dtype == np.float16 for t in model.tensors)


def is_pre_quantized(model: Model) -> bool:
    """True when the model computes in int8 / uint8 (its activations carry quantization)."""
    return any(is_quantized_activation(t) for t in model.tensors)


def _declare_inputs(state: ImportState) -> None:
    """Graph inputs keep their TFLite names, types and NHWC shapes; a quantized one is dequantized
    once into the float tensor the importers read."""
    graph = state.graph
    for index in state.model.inputs:
        t = state.model.tensors[index]
        if t.is_const:
            raise ConversionError(f"graph input {t.name!r} is a constant")
        if is_quantized_activation(t):
            graph.add_tensor(t.name, t.dtype, t.shape)
            q = t.quant
            scale = graph.add_const(q.scale.reshape(()).astype(np.float32), f"{t.name}/scale")
            zp = graph.add_const(q.zero_point.reshape(()).astype(t.dtype), f"{t.name}/zero_point")
            float_name = state.declare(index)
            graph.nodes.append(_node("DequantizeLinear", [t.name, scale, zp], [float_name], f"{t.name}/dequantize"))
        else:
            float_name = state.declare(index)
            if float_name != t.name:
                raise ConversionError(f"two graph inputs are named {t.name!r}")
        graph.inputs.append(t.name)


def _node(op: str, inputs: list[str], outputs: list[str], name: str, **attrs) -> Node:
    return Node(op, inputs, outputs, attrs, name)


def _declare_outputs(state: ImportState) -> None:
    """Graph outputs under their TFLite names and types: a quantized one is quantized from the float
    tensor the graph computes, one the import merged into another tensor is copied out."""
    graph = state.graph
    for index in state.model.outputs:
        t = state.model.tensors[index]
        if index not in state.names and not t.is_const:
            raise ConversionError(f"graph output {t.name!r} is never produced")
        src = state.declare(index)
        if is_quantized_activation(t):
            q = int8_domain(t)
            if t.name in graph.tensors:
                raise ConversionError(f"two graph outputs are named {t.name!r}")
            graph.add_tensor(t.name, t.dtype, t.shape)
            scale = graph.add_const(q.scale.reshape(()).astype(np.float32), f"{t.name}/scale")
            zp = graph.add_const(t.quant.zero_point.reshape(()).astype(t.dtype), f"{t.name}/zero_point")
            graph.nodes.append(_node("QuantizeLinear", [src, scale, zp], [t.name], f"{t.name}/quantize", axis=1))
        elif src != t.name:
            if t.name in graph.tensors:
                raise ConversionError(f"graph output {t.name!r} has the name of another graph input or output")
            graph.add_tensor(t.name, graph.tensors[src].dtype, graph.tensors[src].shape).quant = \
                graph.tensors[src].quant
            graph.nodes.append(_node("Identity", [src], [t.name], f"{t.name}/output"))
        graph.outputs.append(t.name)


def import_model(model: Model, progress: Callable[[int, int], None] | None = None) -> Graph:
    graph = Graph()
    state = ImportState(model, graph)
    refused = UnsupportedOperators(model.path)
    missing: set[int] = set()  # tensors a refused operator would have produced
    _declare_inputs(state)
    total = len(model.operators)
    for k, op in enumerate(model.operators):
        ctx = OpContext(state, op)
        if op.code not in IMPORTERS:
            refused.add(op.code, ctx.name)
            missing.update(op.outputs)
        elif any(i in missing for i in op.inputs):
            missing.update(op.outputs)  # (refused upstream: its own support is unknown)
        else:
            try:
                IMPORTERS[op.code](ctx)
            except UnsupportedOpError as e:
                refused.add(op.code, ctx.name, getattr(e, "reason", str(e)))
                missing.update(op.outputs)
            except (IndexError, KeyError, ValueError, TypeError, AttributeError, ZeroDivisionError) as e:
                # (operands that contradict each other: a malformed file)
                raise ConversionError(f"{model.path}: {op.code} operator {ctx.name!r} cannot be imported "
                                      f"({type(e).__name__}: {e})") from None
        if progress:
            progress(k + 1, total)
    if refused:
        raise refused.error()
    _declare_outputs(state)
    graph.metadata = {"source_format": "tflite"}
    if model.description:
        graph.metadata["tflite_description"] = model.description
    if model.signature_key:
        graph.signature_key = model.signature_key
        graph.signature_names = {model.tensors[i].name: n for i, n in model.signature_names.items()}
    return graph
