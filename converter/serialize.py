"""IR -> .nrt file.

Layout: the FlatBuffer (root table Model) first, then the data section with
every constant tensor's bytes at a 64-byte aligned absolute offset, so the
runtime uses weights in place from the mapped file. Offsets depend on the
FlatBuffer's size, so the FlatBuffer is built twice with defaults forced
(which makes its size independent of the offset values).

The file is written to a temporary name and renamed into place: a failed
conversion never leaves a partial .nrt behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from nanort.schema import OpOptions as _union_module
from nanort.schema.Buffer import BufferT
from nanort.schema.FusedActivation import FusedActivationT
from nanort.schema.Graph import GraphT
from nanort.schema.Metadata import MetadataT
from nanort.schema.Model import ModelT
from nanort.schema.Operator import OperatorT
from nanort.schema.QuantizationRecipe import QuantizationRecipeT
from nanort.schema.QuantParams import QuantParamsT
from nanort.schema.Signature import SignatureT
from nanort.schema.SignatureTensor import SignatureTensorT
from nanort.schema.Tensor import TensorT

from .ir import Graph, Node, Tensor
from .schema_map import OP_CODES, OPTIONS_TABLE, dtype_code

FORMAT_VERSION = 1
ALIGN = 64
FILE_IDENTIFIER = b"NRT0"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _options(node: Node) -> tuple[int, Any]:
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


class _Layout:
    """Byte placement of the data section."""

    def __init__(self, blobs: list[bytes]):
        self.blobs = blobs
        self.start = 0

    def offsets(self, start: int) -> list[tuple[int, int]]:
        out, pos = [], start
        for b in self.blobs:
            if not b:
                out.append((0, 0))
                continue
            pos = (pos + ALIGN - 1) // ALIGN * ALIGN
            out.append((pos, len(b)))
            pos += len(b)
        return out


def _build(graph: Graph, order: list[str], blob_index: dict[str, int], placements: list[tuple[int, int]],
           info: dict[str, Any]) -> bytes:
    index = {name: i for i, name in enumerate(order)}
    tensors = []
    for name in order:
        t = graph.tensors[name]
        tt = TensorT()
        tt.name = name
        tt.type = dtype_code(t.dtype)
        dims, dim_names = _shape_fields(t)
        if t.data is not None:
            dims = list(t.data.shape)
            dim_names = None
        tt.shape = dims
        tt.dimNames = dim_names
        tt.buffer = blob_index.get(name, 0)
        if t.quant is not None and t.dtype.kind in "iu":  # float tensors' annotations stay in the converter
            q = QuantParamsT()
            q.scale = np.ascontiguousarray(t.quant.scale, np.float32)
            if t.data is None or t.quant.zero_point.any():  # all-zero (symmetric weights): omitted, 8 bytes a channel
                q.zeroPoint = np.ascontiguousarray(t.quant.zero_point, np.int64)
            q.axis = -1 if t.quant.axis is None else int(t.quant.axis)
            tt.quant = q
        if t.perm is not None:
            tt.logicalPerm = list(t.perm)
        tensors.append(tt)
    ops = []
    for n in graph.nodes:
        o = OperatorT()
        o.op = OP_CODES[n.op]
        o.name = n.name
        o.inputs = [index[i] if i else -1 for i in n.inputs]
        o.outputs = [index[i] for i in n.outputs]
        o.optionsType, o.options = _options(n)
        ops.append(o)
    g = GraphT()
    g.name = info.get("graph_name", "main")
    g.tensors = tensors
    g.operators = ops
    g.inputs = [index[i] for i in graph.inputs]
    g.outputs = [index[o] for o in graph.outputs]

    sig = SignatureT()
    sig.key = "serving_default"
    sig.graph = 0
    sig.inputs = [SignatureTensorT(name=i, tensor=index[i]) for i in graph.inputs]
    sig.outputs = [SignatureTensorT(name=o, tensor=index[o]) for o in graph.outputs]

    m = ModelT()
    m.formatVersion = FORMAT_VERSION
    m.producer = "nanort"
    m.producerVersion = info.get("producer_version", "")
    m.sourceSha256 = info.get("source_sha256", "")
    m.graphs = [g]
    m.buffers = [BufferT(offset=off, size=size) for off, size in placements]
    m.signatures = [sig]
    m.metadata = [MetadataT(key=k, value=v) for k, v in graph.metadata.items()]
    recipe = QuantizationRecipeT()
    recipe.scheme = info.get("scheme", "float32")
    recipe.calibrationMethod = info.get("calibration_method", "")
    recipe.calibrationSamples = int(info.get("calibration_samples", 0))
    recipe.floatNodes = list(info.get("float_nodes", []))
    recipe.summary = info.get("quant_summary", "")
    m.quantization = recipe

    builder = flatbuffers.Builder(1 << 16)
    builder.ForceDefaults(True)
    builder.Finish(m.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def serialize(graph: Graph, info: dict[str, Any] | None = None) -> bytes:
    info = info or {}
    order = tensor_order(graph)
    missing = [n for n in order if n not in graph.tensors]
    if missing:
        raise ValueError(f"tensor {missing[0]!r} is used but not defined")
    blobs: list[bytes] = [b""]  # buffer 0: "no data"
    blob_index: dict[str, int] = {}
    for name in order:
        t = graph.tensors[name]
        if t.data is not None:
            blob_index[name] = len(blobs)
            data = np.require(t.data.astype(t.dtype, copy=False), requirements="C")
            blobs.append(data.tobytes())
    layout = _Layout(blobs)
    first = _build(graph, order, blob_index, layout.offsets(0), info)
    start = (len(first) + ALIGN - 1) // ALIGN * ALIGN
    placements = layout.offsets(start)
    fb = _build(graph, order, blob_index, placements, info)
    if len(fb) != len(first):
        raise AssertionError("FlatBuffer size changed between passes")
    out = bytearray(fb)
    for (offset, size), blob in zip(placements, blobs):
        if size:
            out.extend(b"\0" * (offset - len(out)))
            out.extend(blob)
    return bytes(out)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` via a temporary file and a rename, with the
    permissions a plain open() would give (mkstemp makes the file 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
