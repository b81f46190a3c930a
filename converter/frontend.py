"""ONNX (simplified, shape-inferred) -> IR graph."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nanort.runtime.errors import ConversionError, UnsupportedOpError

from .importers import IMPORTERS, UnsupportedNodes, import_node, op_key
from .ir import Graph, Shape
from .onnx_loader import default_opset
from .schema_map import NP_TO_DTYPE


def _elem_dtype(elem_type: int) -> np.dtype | None:
    """The numpy dtype of an ONNX element type nanort has, else None."""
    try:
        dt = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None
    return dt if dt in NP_TO_DTYPE else None


def _type_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type).lower() if elem_type in onnx.TensorProto.DataType.values() \
        else str(elem_type)


def _shape_of(tt: onnx.TypeProto.Tensor) -> Shape | None:
    if not tt.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _declare_values(graph: Graph, g: onnx.GraphProto) -> None:
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if _elem_dtype(init.data_type) is None:
            raise UnsupportedOpError(
                f"initializer {init.name!r} has type {_type_name(init.data_type)}, "
                "which nanort does not support")
        graph.add_tensor(init.name, arr.dtype, arr.shape, np.require(arr, requirements="C"))
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.name in graph.tensors or not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        dtype = _elem_dtype(tt.elem_type) if tt.elem_type else None
        if dtype is None:
            continue
        graph.add_tensor(vi.name, dtype, _shape_of(tt))


def _check_inputs(graph: Graph, g: onnx.GraphProto) -> None:
    for vi in g.input:
        t = graph.tensors.get(vi.name)
        if t is None:
            elem = vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0
            kind = f"type {_type_name(elem)}" if elem else "a non-tensor type"
            raise UnsupportedOpError(f"graph input {vi.name!r} has {kind}, which nanort does not support")
        if t.shape is None:
            raise ConversionError(f"graph input {vi.name!r} has unknown rank; give its shape with --input-shape")
        graph.inputs.append(vi.name)


def _fill_missing_outputs(graph: Graph, first_new: int) -> None:
    """Outputs shape inference could not type take their first input's type."""
    for node in graph.nodes[first_new:]:
        for o in node.outputs:
            if o and o not in graph.tensors:
                src = next((graph.tensors[i] for i in node.inputs if i in graph.tensors), None)
                graph.add_tensor(o, src.dtype if src is not None else np.float32, None)


def import_model(model: onnx.ModelProto, progress: Callable[[int, int], None] | None = None) -> Graph:
    graph = Graph()
    graph.opsets = {i.domain or "": i.version for i in model.opset_import}
    g = model.graph
    opset = default_opset(model)
    _declare_values(graph, g)
    _check_inputs(graph, g)
    total = len(g.node)
    refused = UnsupportedNodes(opset)
    for i, node in enumerate(g.node):
        start = len(graph.nodes)
        try:
            import_node(graph, node, opset)
        except UnsupportedOpError as e:
            refused.add(node, "" if op_key(node) not in IMPORTERS else getattr(e, "reason", str(e)))
        except ConversionError:
            if not refused:
                raise
            # (a node after a refused one may fail only for lack of its inputs' shapes)
        _fill_missing_outputs(graph, start)
        if progress:
            progress(i + 1, total)
    if refused:
        raise refused.error()
    for o in g.output:
        if o.name not in graph.tensors:
            raise ConversionError(f"graph output {o.name!r} is never produced")
        graph.outputs.append(o.name)
    graph.metadata = {p.key: p.value for p in model.metadata_props}
    return graph
