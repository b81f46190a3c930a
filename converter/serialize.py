"""IR -> .nrt file.

Layout: the FlatBuffer (root table Model) first, then the data section with
every distinct constant's bytes at an aligned absolute offset (see
buffer_alignment), so the runtime uses weights in place from the mapped file.
Offsets depend on the FlatBuffer's size, so the FlatBuffer is built twice; the
first pass already gives every buffer a nonzero offset, so both passes write
the same fields (default values are left out, but for options tables) and the
size does not change.

The file is written to a temporary name and renamed into place: a failed
conversion never leaves a partial .nrt behind.
"""

from __future__ import annotations

import struct
from typing import Any

import flatbuffers
import numpy as np

from nanort.schema import Operator as O  # noqa: N812 (generated module of table functions)
from nanort.schema import OpOptions as _union_module
from nanort.schema import Tensor as T  # noqa: N812
from nanort.schema.FusedActivation import FusedActivationT
from nanort.schema.Graph import GraphT
from nanort.schema.Metadata import MetadataT
from nanort.schema.Model import ModelT
from nanort.schema.Operator import OperatorT
from nanort.schema.QuantizationRecipe import QuantizationRecipeT
from nanort.schema.QuantParams import QuantParamsT
from nanort.schema.Signature import SignatureT
from nanort.schema.SignatureTensor import SignatureTensorT
from nanort.schema.Sparsity import SparsityT
from nanort.schema.Tensor import TensorT

from . import sparse as sparse_storage
from .ir import Graph, Node, Tensor
from .schema_map import OP_CODES, OPTIONS_TABLE, dtype_code

FORMAT_VERSION = 2
ALIGN = 64
SMALL_ALIGN = 16
SMALL_BUFFER = 1024
FILE_IDENTIFIER = b"NRT0"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def subgraphs_of(graph: Graph) -> list[Graph]:
    """The graph and every subgraph it holds (If / Loop / Scan bodies, the
    nodes' "graphs" attribute), depth first: their order in the file."""
    out = [graph]
    for n in graph.nodes:
        for g in n.attrs.get("graphs", ()):
            out += subgraphs_of(g)
    return out


def _options(node: Node, graph_index: dict[int, int]) -> tuple[int, Any]:
    if node.op not in OPTIONS_TABLE:
        raise ValueError(f"op {node.op!r} of node {node.name!r} is not in the schema")
    table = OPTIONS_TABLE[node.op]
    if table is None:
        if node.attrs:
            raise ValueError(f"{node.op} takes no options, node {node.name!r} has {sorted(node.attrs)}")
        return 0, None
    module = __import__(f"nanort.schema.{table}", fromlist=[table])
    obj = getattr(module, f"{table}T")()
    for key, value in node.attrs.items():
        if key == "graphs":
            value = [graph_index[id(g)] for g in value]
        field = _camel(key)
        if not hasattr(obj, field):
            raise ValueError(f"{table} has no field {key!r} (node {node.name!r}, op {node.op})")
        if key == "activation":
            kind, alpha, beta = value
            value = FusedActivationT(int(kind), float(alpha), float(beta))
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, (bytes, bytearray)):
            value = list(value)
        setattr(obj, field, value)
    return getattr(_union_module.OpOptions, table), obj


def tensor_order(graph: Graph) -> list[str]:
    """Tensor names in the order of their indices in the file."""
    order: dict[str, None] = {}
    for name in graph.inputs:
        order[name] = None
    for n in graph.nodes:
        for name in n.inputs + n.outputs:
            if name:
                order[name] = None
    for name in graph.outputs:
        order[name] = None
    return list(order)


def _shape_fields(t: Tensor) -> tuple[list[int], list[str] | None]:
    if t.shape is None:
        return [], None
    dims = [d if isinstance(d, int) else -1 for d in t.shape]
    names = [d if isinstance(d, str) else "" for d in t.shape]
    return dims, names if any(names) else None


def buffer_alignment(size: int) -> int:
    """File-offset alignment of a constant's bytes: a cache line (and
    AVX-512 vector) for buffers of SMALL_BUFFER bytes or more, 16 bytes (the
    widest element, a 128-bit vector) for smaller ones: padding every bias
    and lookup table to 64 bytes cost small models ~1 % of their size."""
    return ALIGN if size >= SMALL_BUFFER else SMALL_ALIGN


class _Layout:
    """Byte placement of the data section."""

    def __init__(self, blobs: list[bytes]):
        self.blobs = blobs

    def offsets(self, start: int) -> list[tuple[int, int]]:
        out, pos = [], start
        for b in self.blobs:
            align = buffer_alignment(len(b))
            pos = (pos + align - 1) // align * align
            out.append((pos, len(b)))
            pos += len(b)
        return out


class _SharingBuilder(flatbuffers.Builder):
    """A Builder that writes each distinct string and scalar vector once and
    lets every table that holds an equal one point at the same bytes (the
    format allows it: a reference is just an offset). Conv nets repeat the
    same shapes, layout permutations and kernel/stride/pad lists on every
    layer, so this removes a large part of the per-tensor records."""

    def __init__(self, size: int):
        super().__init__(size)
        self._vectors: dict[tuple[int, int, bytes], int] = {}
        self._strings: dict[str, int] = {}
        self._tables: dict[tuple, int] = {}
        self._start: tuple[int, int, int, int] | None = None
        self._holds_offsets = False

    def CreateString(self, s, encoding="utf-8", errors="strict"):  # noqa: N802 (flatbuffers' API)
        if s not in self._strings:
            self._strings[s] = super().CreateString(s, encoding, errors)
        return self._strings[s]

    def StartVector(self, elemSize, numElems, alignment):  # noqa: N802, N803
        # Offset(), not `head`: growing the buffer moves the head
        self._start = (self.Offset(), elemSize, numElems, alignment)
        self._holds_offsets = False
        return super().StartVector(elemSize, numElems, alignment)

    def PrependUOffsetTRelative(self, off):  # noqa: N802
        if self.nested:  # inside a vector (tables' fields come through here too, before any vector starts)
            self._holds_offsets = True  # offsets are relative to their position: such vectors are never shared
        super().PrependUOffsetTRelative(off)

    def EndVector(self, numElems=None):  # noqa: N802, N803
        start, self._start = self._start, None
        end = super().EndVector(numElems)
        if start is None or self._holds_offsets:
            return end
        before, elem_size, count, alignment = start
        key = (alignment, elem_size, bytes(self.Bytes[self.head:self.head + 4 + elem_size * count]))
        if key in self._vectors:  # drop the copy just written (and its alignment padding)
            self.head = len(self.Bytes) - before
            return self._vectors[key]
        self._vectors[key] = end
        return end

    def shared_table(self, key: tuple, obj: Any, force_defaults: bool) -> int:
        if key not in self._tables:
            self.ForceDefaults(force_defaults)
            self._tables[key] = obj.Pack(self)
            self.ForceDefaults(False)
        return self._tables[key]


def _value_key(v: Any) -> Any:
    """A hashable key equal only for values that serialize identically
    (floats by bit pattern: 0.0 and -0.0 differ, NaN equals itself)."""
    if isinstance(v, (float, np.floating)):
        return struct.pack("<d", float(v))
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_value_key(x) for x in v)
    if hasattr(v, "__dict__"):
        return (type(v).__name__, tuple((k, _value_key(x)) for k, x in sorted(vars(v).items())))
    return (type(v).__name__, v)


class _Shared:
    """Packs an object-API table as the one copy of equal tables: operators
    share their options tables (every 1x1 stride-1 conv has the same ones),
    tensors their quantization records. Options tables keep every field,
    defaults included, so the file states each value (the runtime reads an
    absent field as the schema's default, as any FlatBuffers reader does)."""

    def __init__(self, obj: Any, force_defaults: bool = False):
        self.obj = obj
        self.key = (force_defaults, _value_key(obj))
        self.force_defaults = force_defaults

    def Pack(self, builder: _SharingBuilder) -> int:  # noqa: N802 (object-API name)
        return builder.shared_table(self.key, self.obj, self.force_defaults)


class _Ordered:
    """Packs a Tensor or Operator with its fields added widest first: the
    object API adds them in schema order, which pads the 1- and 2-byte
    fields (type, op) between 4-byte references, a few bytes per record."""

    def __init__(self, obj: TensorT | OperatorT):
        self.obj = obj

    def Pack(self, b: _SharingBuilder) -> int:  # noqa: N802 (object-API name)
        return _pack_tensor(b, self.obj) if isinstance(self.obj, TensorT) else _pack_operator(b, self.obj)


def _pack_tensor(b: _SharingBuilder, t: TensorT) -> int:
    name = b.CreateString(t.name) if t.name is not None else None
    shape = b.CreateNumpyVector(np.asarray(t.shape, np.int64))
    dim_names = None
    if t.dimNames is not None:
        items = [b.CreateString(n) for n in t.dimNames]
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        dim_names = b.EndVector()
    quant = t.quant.Pack(b) if t.quant is not None else None
    perm = b.CreateNumpyVector(np.asarray(t.logicalPerm, np.int32)) if t.logicalPerm is not None else None
    sparsity = t.sparsity.Pack(b) if t.sparsity is not None else None
    T.TensorStart(b)
    if t.dataOffset:
        T.TensorAddDataOffset(b, t.dataOffset)
    if name is not None:
        T.TensorAddName(b, name)
    T.TensorAddShape(b, shape)
    if dim_names is not None:
        T.TensorAddDimNames(b, dim_names)
    if quant is not None:
        T.TensorAddQuant(b, quant)
    if perm is not None:
        T.TensorAddLogicalPerm(b, perm)
    if sparsity is not None:
        T.TensorAddSparsity(b, sparsity)
    T.TensorAddType(b, t.type)
    return T.TensorEnd(b)


def _pack_operator(b: _SharingBuilder, o: OperatorT) -> int:
    name = b.CreateString(o.name)
    inputs = b.CreateNumpyVector(np.asarray(o.inputs, np.int32))
    outputs = b.CreateNumpyVector(np.asarray(o.outputs, np.int32))
    options = o.options.Pack(b) if o.options is not None else None
    O.OperatorStart(b)
    O.OperatorAddName(b, name)
    O.OperatorAddInputs(b, inputs)
    O.OperatorAddOutputs(b, outputs)
    if options is not None:
        O.OperatorAddOptions(b, options)
    O.OperatorAddOp(b, o.op)
    O.OperatorAddOptionsType(b, o.optionsType)
    return O.OperatorEnd(b)


def _sparsity(enc: sparse_storage.SparseEncoding, offsets: dict[str, int]) -> SparsityT:
    s = SparsityT()
    s.format = enc.format
    s.blockShape = list(enc.block_shape)
    s.maskOffset = offsets.get("mask", 0)
    s.indptrOffset = offsets.get("indptr", 0)
    s.indicesOffset = offsets.get("indices", 0)
    s.indexWidth = enc.index_width
    return s


INT4_CODE = 9  # DataType.INT4


def _is_int4(t: Tensor) -> bool:
    return t.quant is not None and t.quant.bits == 4


def pack_int4(values: np.ndarray) -> bytes:
    """int4 values (-8..7) two per byte, low nibble first, in flat row-major order."""
    flat = np.ravel(values).astype(np.int8).view(np.uint8) & 0x0F
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()


SparseFields = dict[str, tuple[sparse_storage.SparseEncoding, dict[str, int]]]  # weight -> encoding, array offsets


def _graph_table(graph: Graph, order: list[str], offsets: dict[str, int], graph_index: dict[int, int],
                 name: str, sparse: SparseFields) -> GraphT:
    index = {name: i for i, name in enumerate(order)}
    io = set(graph.inputs) | set(graph.outputs)
    tensors = []
    for name in order:
        t = graph.tensors[name]
        tt = TensorT()
        # A constant's made-up name ("Conv@3_wq__17") is dropped: ~20 bytes a
        # weight, bias or table, 1.5 % of a small int8 model. Graph inputs and
        # outputs keep theirs (callers use them).
        if t.data is None or name not in graph.made_up or name in io:
            tt.name = name
        tt.type = INT4_CODE if _is_int4(t) else dtype_code(t.dtype)
        dims, dim_names = _shape_fields(t)
        if t.data is not None:
            dims = list(t.data.shape)
            dim_names = None
        tt.shape = dims
        tt.dimNames = dim_names
        tt.dataOffset = offsets.get(name, 0)
        if name in sparse:
            tt.sparsity = _sparsity(*sparse[name])
        if t.quant is not None and t.dtype.kind in "iu":  # float tensors' annotations stay in the converter
            q = QuantParamsT()
            scale = np.ascontiguousarray(t.quant.scale, np.float32).ravel()
            bits = scale.view(np.uint32)
            if t.quant.block_size:  # group-wise weights: scales already fp16 values
                q.scaleF16 = scale.ravel().astype(np.float16).view(np.uint16)
                q.blockAxis, q.blockSize = 1, int(t.quant.block_size)
            elif scale.size > 1 and not (bits & 0xFFFF).any():  # all bfloat16 values: 2 bytes each
                q.scaleBf16 = (bits >> 16).astype(np.uint16)
            else:
                q.scale = scale
            if t.data is None or t.quant.zero_point.any():  # all-zero (symmetric weights): omitted, 8 bytes a channel
                q.zeroPoint = np.ascontiguousarray(t.quant.zero_point, np.int64)
            q.axis = -1 if t.quant.axis is None else int(t.quant.axis)
            tt.quant = _Shared(q)
        if t.perm is not None:
            tt.logicalPerm = list(t.perm)
        tensors.append(_Ordered(tt))
    ops = []
    for n in graph.nodes:
        o = OperatorT()
        o.op = OP_CODES[n.op]
        o.name = n.name
        o.inputs = [index[i] if i else -1 for i in n.inputs]
        o.outputs = [index[i] for i in n.outputs]
        o.optionsType, options = _options(n, graph_index)
        o.options = None if options is None else _Shared(options, force_defaults=True)
        ops.append(_Ordered(o))
    g = GraphT()
    g.name = name
    g.tensors = tensors
    g.operators = ops
    g.inputs = [index[i] for i in graph.inputs]
    g.outputs = [index[o] for o in graph.outputs]
    return g


def _build(graphs: list[Graph], orders: list[list[str]], offsets: list[dict[str, int]], info: dict[str, Any],
           sparse: list[SparseFields]) -> bytes:
    graph_index = {id(g): i for i, g in enumerate(graphs)}
    tables = [_graph_table(g, order, offs, graph_index, info.get("graph_name", "main") if i == 0 else f"subgraph{i}",
                           sp)
              for i, (g, order, offs, sp) in enumerate(zip(graphs, orders, offsets, sparse))]
    graph = graphs[0]
    index = {name: i for i, name in enumerate(orders[0])}

    sig = SignatureT()
    sig.key = graph.signature_key
    sig.graph = 0
    sig.inputs = [SignatureTensorT(name=graph.signature_names.get(i, i), tensor=index[i]) for i in graph.inputs]
    sig.outputs = [SignatureTensorT(name=graph.signature_names.get(o, o), tensor=index[o]) for o in graph.outputs]

    m = ModelT()
    m.formatVersion = FORMAT_VERSION
    m.producer = "nanort"
    m.producerVersion = info.get("producer_version", "")
    m.sourceSha256 = info.get("source_sha256", "")
    m.graphs = tables
    m.signatures = [sig]
    m.metadata = [MetadataT(key=k, value=v) for k, v in graph.metadata.items()]
    recipe = QuantizationRecipeT()
    recipe.scheme = info.get("scheme", "float32")
    recipe.calibrationMethod = info.get("calibration_method", "")
    recipe.calibrationSamples = int(info.get("calibration_samples", 0))
    recipe.floatNodes = list(info.get("float_nodes", []))
    recipe.summary = info.get("quant_summary", "")
    m.quantization = recipe

    builder = _SharingBuilder(1 << 16)
    builder.Finish(m.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def serialize(graph: Graph, info: dict[str, Any] | None = None, sparse: bool = True) -> bytes:
    """The .nrt bytes; `sparse`: weights full of zeros stored sparse where smaller (converter/sparse.py)."""
    info = info or {}
    graphs = subgraphs_of(graph)
    orders = [tensor_order(g) for g in graphs]
    for g, order in zip(graphs, orders):
        missing = [n for n in order if n not in g.tensors]
        if missing:
            raise ValueError(f"tensor {missing[0]!r} is used but not defined")
    blobs: list[bytes] = []
    seen: dict[bytes, int] = {}  # equal constants (lookup tables of equal scales, ...) share one buffer
    blob_index: list[dict[str, int]] = []  # per graph: constant name (or name\0index array) -> blob
    encodings: list[dict[str, sparse_storage.SparseEncoding]] = []  # per graph: its weights stored sparse

    def add_blob(key: str, blob: bytes) -> None:
        if blob not in seen:
            seen[blob] = len(blobs)
            blobs.append(blob)
        blob_index[-1][key] = seen[blob]

    for g, order in zip(graphs, orders):
        blob_index.append({})
        encodings.append({})
        weights = sparse_storage.weight_names(g.nodes) if sparse else set()
        for name in order:
            t = g.tensors[name]
            if t.data is None:
                continue
            if _is_int4(t):
                add_blob(name, pack_int4(t.data))
                continue
            data = np.require(t.data.astype(t.dtype, copy=False), requirements="C")
            enc = sparse_storage.encode(data) if name in weights else None
            if enc is None:
                add_blob(name, data.tobytes())
                continue
            encodings[-1][name] = enc
            add_blob(name, enc.values.tobytes())
            for kind, array in enc.arrays().items():
                add_blob(f"{name}\0{kind}", array.tobytes())
    layout = _Layout(blobs)

    def offsets(placements: list[tuple[int, int]]) -> list[dict[str, int]]:
        return [{key: placements[i][0] for key, i in per_graph.items()} for per_graph in blob_index]

    def sparse_fields(offs: list[dict[str, int]]) -> list[SparseFields]:
        return [{name: (enc, {kind: off[f"{name}\0{kind}"] for kind in enc.arrays()})
                 for name, enc in per_graph.items()} for per_graph, off in zip(encodings, offs)]

    off = offsets(layout.offsets(ALIGN))
    first = _build(graphs, orders, off, info, sparse_fields(off))
    start = (len(first) + ALIGN - 1) // ALIGN * ALIGN
    placements = layout.offsets(start)
    off = offsets(placements)
    fb = _build(graphs, orders, off, info, sparse_fields(off))
    if len(fb) != len(first):
        raise AssertionError("FlatBuffer size changed between passes")
    out = bytearray(fb)
    for (offset, size), blob in zip(placements, blobs):
        if size:
            out.extend(b"\0" * (offset - len(out)))
            out.extend(blob)
    return bytes(out)
