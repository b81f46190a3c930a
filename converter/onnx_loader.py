"""Read an ONNX model and simplify it at the ONNX level before import:
user shape overrides, constant folding (including the Shape -> Gather ->
Concat -> Reshape arithmetic of exported models once shapes are static) and
shape inference.

Folding evaluates nodes with ONNX's own reference implementation
(onnx.reference), so folded values follow the ONNX specification rather
than nanort's kernels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nanort.runtime.errors import ConversionError

from . import control_flow

# Newest opset = what the installed onnx knows (its shape inference must understand the model).
MIN_OPSET, MAX_OPSET = 7, onnx.defs.onnx_opset_version()
# Ops whose result is not a function of their inputs, or that hold subgraphs.
NOT_FOLDABLE = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
                "Bernoulli", "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "Optional"}
# A folded value this much larger than the node's inputs stays a node
# (Expand, Tile, ConstantOfShape would otherwise bloat the file).
FOLD_GROWTH_LIMIT = 1 << 16


def load(path: str | os.PathLike) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError and friends
        raise ConversionError(f"{path} is not a valid ONNX file (truncated or corrupt): {e}") from None
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise ConversionError(f"{path} holds no ONNX graph")
    _load_external_data(model, path.parent)
    check_initializers(model.graph)
    return model


# Element types whose data is one value per element (raw bytes or a typed field).
_PLAIN_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT8,
                TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16, TensorProto.INT32, TensorProto.UINT32,
                TensorProto.INT64, TensorProto.UINT64, TensorProto.BOOL}


# Element types this onnx version knows (not UNDEFINED, not an unknown number).
_KNOWN_TYPES = set(helper.get_all_tensor_dtypes())


def check_initializers(g: onnx.GraphProto) -> None:
    """Every initializer's data holds exactly dims' element count (a corrupt
    or hand-edited file otherwise fails later with a numpy message that
    names nothing)."""
    for init in g.initializer:
        dims = list(init.dims)
        if any(d < 0 for d in dims):
            raise ConversionError(f"initializer {init.name!r} has a negative dimension: {dims}")
        if init.data_type not in _KNOWN_TYPES:
            raise ConversionError(f"initializer {init.name!r} has no valid element type "
                                  f"(data_type {init.data_type})")
        if init.data_type not in _PLAIN_TYPES:
            continue  # strings, packed 4-bit, float8...: checked where they are read, or unsupported
        count = math.prod(dims)
        if init.raw_data:
            have = len(init.raw_data)
            want = count * np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type)).itemsize
        else:
            have = len(getattr(init, helper.tensor_dtype_to_field(init.data_type)))
            want = count
        if have != want:
            raise ConversionError(f"initializer {init.name!r} ({TensorProto.DataType.Name(init.data_type).lower()}, "
                                  f"dims {dims}) "
                                  f"holds {have} {'bytes' if init.raw_data else 'values'} of data, "
                                  f"its dims need {want}")


def _load_external_data(model: onnx.ModelProto, base: Path) -> None:
    for tensor in onnx.external_data_helper._get_all_tensors(model):
        if not onnx.external_data_helper.uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        file = (base / location).resolve()
        if location and not file.is_relative_to(base.resolve()):
            raise ConversionError(f"initializer {tensor.name!r} keeps its data in {location!r}, outside the "
                                  f"model's folder {base}: refused")
        if not location or not file.is_file():
            raise ConversionError(
                f"initializer {tensor.name!r} keeps its data in external file {location!r}, "
                f"which is missing (looked in {base})")
        try:
            onnx.external_data_helper.load_external_data_for_tensor(tensor, str(base))
        except Exception as e:
            raise ConversionError(f"cannot read external data of initializer {tensor.name!r} "
                                  f"from {location!r}: {e}") from None
        tensor.data_location = TensorProto.DEFAULT
        del tensor.external_data[:]


def default_opset(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return 1


def check_opset(model: onnx.ModelProto) -> None:
    """Run before anything reads the model's ops: ONNX's schema lookups take a C int and raise
    TypeError (not a conversion error) on a version past it."""
    for imp in model.opset_import:
        if not 0 <= imp.version < 2**31:
            raise ConversionError(f"opset_import of domain {imp.domain or 'ai.onnx'!r} has version {imp.version}, "
                                  "which is not an opset version (a corrupt file?)")
    v = default_opset(model)
    if not MIN_OPSET <= v <= MAX_OPSET:
        raise ConversionError(f"ONNX opset {v} is not supported (nanort converts opsets {MIN_OPSET}..{MAX_OPSET}; "
                              "use onnx.version_converter to upgrade old models)")


def _graphs(graph: onnx.GraphProto):
    yield graph
    for n in graph.node:
        for a in n.attribute:
            if a.HasField("g"):
                yield from _graphs(a.g)
            for g in a.graphs:
                yield from _graphs(g)


def check_op_names(model: onnx.ModelProto) -> None:
    """Run before anything looks an op up: protobuf hands a string field that is not UTF-8
    over as bytes, which ONNX's schema lookups reject with a TypeError."""
    for g in _graphs(model.graph):
        for i, n in enumerate(g.node):
            if not isinstance(n.op_type, str) or not isinstance(n.domain, str):
                raise ConversionError(f"node #{i} of graph {g.name!r}: its op type or domain is not UTF-8 text "
                                      f"({n.op_type!r}, domain {n.domain!r}; a corrupt file?)")


def sanitize_declared_shapes(model: onnx.ModelProto) -> None:
    """Exporters write -1 or 0 for unknown dims (PaddlePaddle does); those are
    dynamic. Declared intermediate shapes are dropped: inference recomputes
    them, and stale ones would only conflict."""
    g = model.graph
    for vi in list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            for d in tt.shape.dim:
                if d.HasField("dim_value") and d.dim_value <= 0:
                    d.Clear()
    del g.value_info[:]


def set_input_shapes(model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]]) -> None:
    """Fixes the dims of graph inputs (the --input-shape override)."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = {i.name: i for i in model.graph.input if i.name not in initializers}
    for name, dims in shapes.items():
        if name not in inputs:
            raise ConversionError(f"--input-shape names {name!r}, but the model's inputs are "
                                  f"{', '.join(inputs) or '(none)'}")
        tshape = inputs[name].type.tensor_type.shape
        if len(tshape.dim) and len(tshape.dim) != len(dims):
            raise ConversionError(f"input {name!r} has rank {len(tshape.dim)}, --input-shape gives {len(dims)} dims")
        for d, (old, new) in enumerate(zip(tshape.dim, dims)):
            if old.HasField("dim_value") and old.dim_value > 0 and old.dim_value != new:
                raise ConversionError(f"input {name!r}: dimension {d} is {old.dim_value} in the model, "
                                      f"--input-shape gives {new}")
        del tshape.dim[:]
        for v in dims:
            tshape.dim.add().dim_value = int(v)


def freeze_inputs(model: onnx.ModelProto, values: Mapping[str, object]) -> None:
    """Makes graph inputs constants (the --input-value option): folding then
    removes what depends only on them, `If` nodes on them included."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = {i.name: i for i in model.graph.input if i.name not in initializers}
    for name, value in values.items():
        vi = inputs.get(name)
        if vi is None:
            raise ConversionError(f"--input-value names {name!r}, but the model's inputs are "
                                  f"{', '.join(inputs) or '(none)'}")
        tt = vi.type.tensor_type
        try:
            arr = np.asarray(value, dtype=helper.tensor_dtype_to_np_dtype(tt.elem_type))
        except (ValueError, TypeError, KeyError) as e:
            raise ConversionError(f"--input-value {name}: {e}") from None
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
            if arr.ndim != len(dims) and arr.size == 1:
                arr = arr.reshape([1] * len(dims))
            if arr.ndim != len(dims) or any(d is not None and d != a for d, a in zip(dims, arr.shape)):
                shown = ",".join("?" if d is None else str(d) for d in dims)
                raise ConversionError(f"--input-value {name}: the input has shape [{shown}], the value has shape "
                                      f"{list(arr.shape)}")
        model.graph.initializer.append(numpy_helper.from_array(arr, name))
        model.graph.input.remove(vi)


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference in strict mode: contradictory shapes or types are
    an error here rather than a surprise in the runtime."""
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConversionError(f"the model's shapes or types are inconsistent: {msg}") from None


def _declared(vi: onnx.ValueInfoProto) -> str:
    tt = vi.type.tensor_type
    dims = ",".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim)
    kind = TensorProto.DataType.Name(tt.elem_type).lower() if tt.elem_type else "?"
    return f"{kind}[{dims}]" if tt.HasField("shape") else kind


def _forget_declarations(g: onnx.GraphProto, types: bool) -> None:
    """Drops the declared output shapes (and types) of a graph and its subgraphs."""
    for vi in g.output:
        vi.type.tensor_type.ClearField("shape")
        if types:
            vi.type.tensor_type.elem_type = 0
    del g.value_info[:]
    for n in g.node:
        for sub in control_flow.subgraphs(n):
            _forget_declarations(sub, types)


def infer_shapes_lenient(model: onnx.ModelProto, strict: bool, warn: Callable[[str], None] | None
                         ) -> onnx.ModelProto:
    """Shape inference that, unless strict, drops declared output shapes (then
    types) that contradict inference and re-infers them, as onnxruntime does,
    with one warning line naming what was dropped."""
    try:
        return infer_shapes(model)
    except ConversionError as first:
        if strict:
            raise
        declared = {vi.name: _declared(vi) for vi in model.graph.output}
        for types in (False, True):
            retry = onnx.ModelProto()
            retry.CopyFrom(model)
            _forget_declarations(retry.graph, types)
            try:
                inferred = infer_shapes(retry)
            except ConversionError:
                continue
            now = {vi.name: _declared(vi) for vi in inferred.graph.output}
            changed = [f"{name} {old} -> {now.get(name, '?')}" for name, old in declared.items()
                       if now.get(name) != old]
            if warn:
                warn(f"declared {'types and ' if types else ''}shapes contradict shape inference ({first.args[0]}); "
                     f"dropped and re-inferred: {', '.join(changed) or 'subgraph declarations'} "
                     "(strict=True / --strict refuses such models)")
            return inferred
        raise first from None


def check_structure(model: onnx.ModelProto) -> None:
    """Every value a node reads is defined before it; every output is produced.
    (A truncated or hand-edited file typically fails here.)"""
    g = model.graph
    defined = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    for k, node in enumerate(g.node):
        for name in node.input:
            if name not in defined:
                raise ConversionError(
                    f"{node.op_type} node {node.name or k!r} reads {name!r}, which no graph input, initializer "
                    "or earlier node defines (missing initializer, or nodes out of order)")
        for name in node.output:
            if name and name in defined:
                raise ConversionError(
                    f"{node.op_type} node {node.name or k!r} writes {name!r}, which a graph input, an initializer "
                    "or another node already defines (ONNX values are written once)")
        defined.update(node.output)
    for o in g.output:
        if o.name not in defined:
            raise ConversionError(f"graph output {o.name!r} is not produced by any node")


def constant_value(node: onnx.NodeProto) -> np.ndarray:
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name == "sparse_value":
        sparse = attr.sparse_tensor
        dense = np.zeros(tuple(sparse.dims), dtype=helper.tensor_dtype_to_np_dtype(sparse.values.data_type))
        vals, idx = numpy_helper.to_array(sparse.values), numpy_helper.to_array(sparse.indices)
        if idx.ndim == 1:
            dense.reshape(-1)[idx] = vals
        else:
            dense[tuple(idx.T)] = vals
        return dense
    kinds = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}
    if attr.name in kinds:
        return np.array(helper.get_attribute_value(attr), dtype=kinds[attr.name])
    if attr.name in ("value_string", "value_strings"):
        raise ConversionError(f"Constant node {node.name!r}: string tensors are not supported")
    raise ConversionError(f"Constant node {node.name!r} has no value")


def evaluate_node(node: onnx.NodeProto, inputs: list[np.ndarray | None], opsets: Mapping[str, int]
                  ) -> list[np.ndarray]:
    """Runs one node with ONNX's reference implementation."""
    from onnx.reference import ReferenceEvaluator

    graph_inputs, feeds = [], {}
    for name, value in zip(node.input, inputs):
        if name and name not in feeds:
            elem = helper.np_dtype_to_tensor_dtype(value.dtype)
            graph_inputs.append(helper.make_tensor_value_info(name, elem, value.shape))
            feeds[name] = value
    outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in node.output if o]
    g = helper.make_graph([node], "fold", graph_inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    results = ReferenceEvaluator(m).run(None, feeds)
    return [np.asarray(r) for r in results]


def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    out = {}
    g = model.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            out[vi.name] = tuple(d.dim_value for d in tt.shape.dim)
    return out


def _shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)


def _fold_once(model: onnx.ModelProto) -> bool:
    g = model.graph
    opsets = {i.domain or "": i.version for i in model.opset_import}
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    shapes = _static_shapes(model)
    kept, changed = [], False
    for node in g.node:
        if node.op_type == "If" and node.domain in ("", "ai.onnx") and node.input[0] in consts:
            taken = control_flow.defined_names(g) | control_flow.outer_references(g)
            nodes, branch_consts = control_flow.inline_branch(node, consts[node.input[0]], taken)
            kept.extend(nodes)
            consts.update(branch_consts)
            changed = True
            continue
        value = _fold_node(node, consts, shapes, opsets)
        if value is None:
            kept.append(node)
            continue
        consts.update(value)
        changed = True
    if changed:
        used = ({i for n in kept for i in n.input} | {o.name for o in g.output}
                | control_flow.nested_references(kept))
        del g.node[:]
        g.node.extend(kept)
        del g.initializer[:]
        g.initializer.extend(numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items() if k in used)
        _drop_constant_inputs(g)
    return changed


def _drop_constant_inputs(g: onnx.GraphProto) -> None:
    """Inputs backed by an initializer (pre-IR-4 style defaults) are constants."""
    initializers = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in initializers]
    del g.input[:]
    g.input.extend(inputs)


def _fold_node(node: onnx.NodeProto, consts: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]],
               opsets: Mapping[str, int]) -> dict[str, np.ndarray] | None:
    if node.domain not in ("", "ai.onnx") or node.op_type in NOT_FOLDABLE:
        return None
    if node.op_type == "Constant":
        return {node.output[0]: constant_value(node)}
    if node.op_type == "Shape" and node.input[0] in shapes:
        return {node.output[0]: _shape_value(node, shapes[node.input[0]])}
    if node.op_type == "Size" and node.input[0] in shapes:
        return {node.output[0]: np.array(int(np.prod(shapes[node.input[0]])), dtype=np.int64)}
    if not all(i == "" or i in consts for i in node.input):
        return None
    inputs = [consts[i] if i else None for i in node.input]
    try:
        outputs = evaluate_node(node, inputs, opsets)
    except Exception:
        return None  # leave it to the runtime; the importer reports real problems
    in_bytes = sum(a.nbytes for a in inputs if a is not None)
    if sum(o.nbytes for o in outputs) > in_bytes + FOLD_GROWTH_LIMIT:
        return None
    return dict(zip([o for o in node.output if o], outputs))


STEP_LIMIT = 2 ** 31 - 1


def clamp_slice_steps(model: onnx.ModelProto) -> None:
    """Constant Slice steps beyond +-(2^31 - 1) become +-(2^31 - 1): the same
    result for any tensor nanort can hold, and ONNX's own shape inference
    crashes (onnx 1.23: segfault, or unbounded memory) on steps near 2^63."""
    g = model.graph
    steps = {n.input[4] for n in g.node if n.op_type == "Slice" and len(n.input) > 4 and n.input[4]}
    for init in g.initializer:
        if init.name in steps:
            v = numpy_helper.to_array(init)
            if v.dtype.kind == "i" and np.abs(v.astype(np.float64)).max(initial=0) > STEP_LIMIT:
                init.CopyFrom(numpy_helper.from_array(np.clip(v, -STEP_LIMIT, STEP_LIMIT).astype(v.dtype), init.name))
    for node in g.node:
        if node.op_type == "Constant" and node.output[0] in steps and node.attribute[0].name == "value":
            v = numpy_helper.to_array(node.attribute[0].t)
            if v.dtype.kind == "i" and np.abs(v.astype(np.float64)).max(initial=0) > STEP_LIMIT:
                node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.clip(v, -STEP_LIMIT, STEP_LIMIT)
                                                                     .astype(v.dtype)))


def _known_ranks(model: onnx.ModelProto) -> dict[str, int]:
    g = model.graph
    out = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            out[vi.name] = len(tt.shape.dim)
    for init in g.initializer:
        out[init.name] = len(init.dims)
    return out


def _shape_length(model: onnx.ModelProto, name: str) -> int | None:
    """Static length of a 1-D shape tensor."""
    for vi in list(model.graph.value_info) + list(model.graph.input):
        if vi.name == name:
            dims = vi.type.tensor_type.shape.dim
            return dims[0].dim_value if len(dims) == 1 and dims[0].HasField("dim_value") else None
    for init in model.graph.initializer:
        if init.name == name:
            return init.dims[0] if len(init.dims) == 1 else None
    return None


def repair_ranks(model: onnx.ModelProto) -> bool:
    """ONNX shape inference drops the rank of a Reshape / Expand / ConstantOfShape
    output when the shape tensor's values are partly dynamic, although its length
    fixes the rank; importers need ranks (opset < 13 Softmax, layouts), so state
    them (dims unknown) and let inference carry them on. True if anything changed."""
    ranks = _known_ranks(model)
    changed = False
    for node in model.graph.node:
        out = node.output[0] if node.output else ""
        if not out or out in ranks:
            continue
        rank = None
        if node.op_type == "Reshape" and len(node.input) == 2:
            rank = _shape_length(model, node.input[1])
        elif node.op_type == "ConstantOfShape":
            rank = _shape_length(model, node.input[0])
        elif node.op_type == "Expand" and node.input[0] in ranks:
            n = _shape_length(model, node.input[1])
            rank = None if n is None else max(n, ranks[node.input[0]])
        if rank is not None:
            vi = model.graph.value_info.add()
            vi.name = out
            vi.type.tensor_type.elem_type = _elem_type_of(model, node.input[0]) if node.op_type != "ConstantOfShape" \
                else onnx.TensorProto.FLOAT
            for _ in range(rank):
                vi.type.tensor_type.shape.dim.add()
            changed = True
    return changed


def _elem_type_of(model: onnx.ModelProto, name: str) -> int:
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        if vi.name == name and vi.type.tensor_type.elem_type:
            return vi.type.tensor_type.elem_type
    for init in model.graph.initializer:
        if init.name == name:
            return init.data_type
    return 0


def simplify(model: onnx.ModelProto, progress: Callable[[str], None] | None = None, strict: bool = False,
             warn: Callable[[str], None] | None = None) -> onnx.ModelProto:
    """Checks the graph, then constant-folds to a fixed point, re-running shape inference in between.
    strict refuses declared shapes or types that contradict inference (else: dropped, one warning)."""
    check_opset(model)
    check_structure(model)
    sanitize_declared_shapes(model)
    clamp_slice_steps(model)
    _drop_constant_inputs(model.graph)
    model = infer_shapes_lenient(model, strict, warn)
    for _ in range(16):
        if progress:
            progress("folding constants")
        if not _fold_once(model):
            break
        model = infer_shapes_lenient(model, strict, warn)  # (folding can reveal a contradiction)
    for _ in range(8):
        if not repair_ranks(model):
            break
        model = infer_shapes_lenient(model, strict, warn)
    return model
