"""ONNX -> IR import: one importer function per ONNX op type.

An importer reads its ONNX node through an ImportContext and emits one or
more IR nodes (nanort op types, attributes named like the options table's
fields). Spatial ops are emitted in the source model's NCHW terms; the layout
pass turns them into the runtime's NHWC. Every module in this package
registers its importers on import.

An importer that meets something it cannot express calls ctx.unsupported(),
which raises UnsupportedOpError naming the op, the node and the opset.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper

from nanort.runtime.errors import UnsupportedOpError

from ..ir import Graph, Node, Shape

Importer = Callable[["ImportContext"], None]
# Keyed by op type for the default ONNX domain, "domain:OpType" for others.
IMPORTERS: dict[str, Importer] = {}
DEFAULT_DOMAINS = ("", "ai.onnx")


def register(*op_types: str) -> Callable[[Importer], Importer]:
    def deco(fn: Importer) -> Importer:
        for op in op_types:
            IMPORTERS[op] = fn
        return fn

    return deco


# Ops that constant folding always removes (onnx_loader), so no importer sees them.
FOLDED_ONLY = {"Constant"}


def op_key(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in DEFAULT_DOMAINS else f"{node.domain}:{node.op_type}"


def node_label(node: onnx.NodeProto) -> str:
    return node.name or (node.output[0] if node.output else node.op_type)


class ImportContext:
    def __init__(self, graph: Graph, node: onnx.NodeProto, opset: int):
        self.graph = graph
        self.node = node
        self.opset = opset
        self.op_type = node.op_type
        self.name = node.name or (node.output[0] if node.output else node.op_type)
        self._attrs = {a.name: a for a in node.attribute}
        self._emitted = 0

    # -- attributes -------------------------------------------------------
    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = None) -> Any:
        a = self._attrs.get(name)
        if a is None:
            return default
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, list) and v and isinstance(v[0], bytes):
            return [x.decode() for x in v]
        if isinstance(v, onnx.TensorProto):
            return onnx.numpy_helper.to_array(v)
        return v

    # -- inputs / outputs -------------------------------------------------
    @property
    def num_inputs(self) -> int:
        return len(self.node.input)

    def input(self, i: int) -> str:
        """Input name; "" when omitted."""
        return self.node.input[i] if i < len(self.node.input) else ""

    def output(self, i: int = 0) -> str:
        return self.node.output[i] if i < len(self.node.output) else ""

    @property
    def outputs(self) -> list[str]:
        return list(self.node.output)

    def const(self, i: int) -> np.ndarray | None:
        """Value of input i if it is a constant, else None."""
        return self.graph.const(self.input(i))

    def require_const(self, i: int, what: str) -> np.ndarray:
        v = self.const(i)
        if v is None:
            if not self.input(i):
                self.unsupported(f"{what} (input {i}) is required")
            self.unsupported(f"{what} (input {i}, {self.input(i)!r}) must be a constant")
        return v

    def shape(self, name_or_index: str | int) -> Shape | None:
        name = self.input(name_or_index) if isinstance(name_or_index, int) else name_or_index
        t = self.graph.tensors.get(name)
        return None if t is None else t.shape

    def rank(self, i: int) -> int | None:
        s = self.shape(i)
        return None if s is None else len(s)

    def dtype(self, name_or_index: str | int) -> np.dtype | None:
        name = self.input(name_or_index) if isinstance(name_or_index, int) else name_or_index
        t = self.graph.tensors.get(name)
        return None if t is None else t.dtype

    # -- emitting ---------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> Node:
        name = self.name if self._emitted == 0 else f"{self.name}/{op}{self._emitted}"
        self._emitted += 1
        node = Node(op, list(inputs), list(outputs), attrs, name)
        self.graph.nodes.append(node)
        return node

    def temp(self, hint: str, dtype: Any, shape: Shape | None) -> str:
        """A new intermediate tensor."""
        name = self.graph.fresh_name(f"{self.name}/{hint}")
        self.graph.add_tensor(name, dtype, shape)
        return name

    def add_const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        return self.graph.add_const(value, f"{self.name}/{hint}", dtype)

    def unsupported(self, msg: str) -> None:
        error = UnsupportedOpError(f"{self.op_type} node {self.name!r} (opset {self.opset}): {msg}")
        error.reason = msg  # what UnsupportedNodes reports beside the node's name
        raise error


def import_node(graph: Graph, node: onnx.NodeProto, opset: int) -> None:
    ctx = ImportContext(graph, node, opset)
    fn = IMPORTERS.get(op_key(node))
    if fn is None:
        ctx.unsupported("this operator is not supported by nanort")
    fn(ctx)


class UnsupportedNodes:
    """The nodes a model's conversion refused, reported together in one error."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.by_op: dict[str, list[tuple[str, str]]] = {}

    def add(self, node: onnx.NodeProto, reason: str = "") -> None:
        self.by_op.setdefault(op_key(node), []).append((node_label(node), reason))

    def add_unknown(self, nodes: Sequence[onnx.NodeProto]) -> None:
        """Nodes of op types without an importer (subgraphs included)."""
        from ..control_flow import subgraphs

        for n in nodes:
            if op_key(n) not in IMPORTERS and op_key(n) not in FOLDED_ONLY:
                self.add(n)
            for g in subgraphs(n):
                self.add_unknown(g.node)

    def __bool__(self) -> bool:
        return bool(self.by_op)

    def message(self) -> str:
        parts = []
        # (str: an op_type that is not valid UTF-8 comes from protobuf as bytes)
        for op, nodes in sorted(self.by_op.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
            shown = ", ".join(repr(name) + (f" ({reason})" if reason else "") for name, reason in nodes[:3])
            more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
            parts.append(f"{op} x{len(nodes)} (node{'s' if len(nodes) > 1 else ''} {shown}{more})")
        count = sum(len(v) for v in self.by_op.values())
        return (f"{count} node{'s' if count > 1 else ''} of {len(self.by_op)} operator type"
                f"{'s' if len(self.by_op) > 1 else ''} cannot be converted (opset {self.opset}): " + "; ".join(parts)
                + " (`nanort ops` lists what nanort supports)")

    def error(self) -> UnsupportedOpError:
        return UnsupportedOpError(self.message())


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


_load_all()
