"""Read the contents of a .nrt file for inspection (names, shapes, ops,
quantization, metadata). The runtime verifies a file before this reads it,
so malformed files are reported by the C verifier, not by Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nanort.schema.DataType import DataType
from nanort.schema.Model import Model as FbModel
from nanort.schema.OpType import OpType
from nanort.schema.SparseFormat import SparseFormat

from . import errors

DTYPE_NAMES = {v: k.lower() for k, v in vars(DataType).items() if not k.startswith("_")}
DTYPE_BITS = {DataType.FLOAT32: 32, DataType.FLOAT16: 16, DataType.FLOAT64: 64, DataType.INT8: 8, DataType.UINT8: 8,
              DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64, DataType.BOOL: 8, DataType.INT4: 4}


def _constant_bytes(t, buffers: list[tuple[int, int]]) -> int:
    """Bytes of a constant's data: a Buffer's size, or (Tensor.data_offset)
    the type's size x the element count; 0 for activations."""
    if t.DataOffset() and t.Sparsity() is not None and t.Sparsity().Format() != SparseFormat.DENSE:
        return 0  # (sparse: counted by _sparse_info)
    if t.DataOffset():
        n = int(np.prod([t.Shape(d) for d in range(t.ShapeLength())], dtype=np.int64))
        return (n * DTYPE_BITS.get(t.Type(), 8) + 7) // 8
    return buffers[t.Buffer()][1] if 0 < t.Buffer() < len(buffers) else 0
OP_NAMES = {v: k for k, v in vars(OpType).items() if not k.startswith("_")}
SPARSE_FORMAT_NAMES = {SparseFormat.DENSE: "dense", SparseFormat.BITMASK: "bitmask",
                       SparseFormat.BLOCK_CSR: "block-csr", SparseFormat.N_M: "n:m"}


@dataclass
class SparseInfo:
    """A sparse weight: its format, the kept fraction, and its bytes stored vs dense."""

    format: str
    block_shape: tuple[int, ...]
    density: float
    stored_bytes: int
    dense_bytes: int


def _array(data: bytes, buffers: list[tuple[int, int]], buffer: int, offset: int, size: int) -> bytes:
    if buffer and 0 < buffer < len(buffers):
        offset = buffers[buffer][0]
    return data[offset:offset + size]


def _sparse_info(t, data: bytes, buffers: list[tuple[int, int]]) -> SparseInfo | None:
    """Reads a sparse constant's index arrays (the runtime verified them) for its stored size."""
    sp = t.Sparsity()
    if sp is None or sp.Format() == SparseFormat.DENSE:
        return None
    shape = [int(t.Shape(d)) for d in range(t.ShapeLength())]
    rows, numel = shape[0], int(np.prod(shape, dtype=np.int64))
    block = tuple(int(sp.BlockShape(i)) for i in range(sp.BlockShapeLength())) or (1, 1)
    elem = DTYPE_BITS.get(t.Type(), 8) // 8
    if sp.Format() == SparseFormat.N_M:
        n, m = block
        kept_values = numel // m * n
        index_bytes = (kept_values * max(1, (m - 1).bit_length()) + 7) // 8
        density = n / m
    else:
        blocks = (rows // block[0]) * (numel // rows // block[1])
        if sp.Format() == SparseFormat.BITMASK:
            mask = np.frombuffer(_array(data, buffers, sp.MaskBuffer(), sp.MaskOffset(), (blocks + 7) // 8), np.uint8)
            kept = int(np.unpackbits(mask).sum())
            index_bytes = mask.nbytes
        else:
            count = rows // block[0] + 1
            indptr = np.frombuffer(_array(data, buffers, sp.IndptrBuffer(), sp.IndptrOffset(), 4 * count), "<i4")
            kept = int(indptr[-1])
            index_bytes = indptr.nbytes + kept * sp.IndexWidth()
        kept_values = kept * block[0] * block[1]
        density = kept / blocks if blocks else 0.0
    return SparseInfo(SPARSE_FORMAT_NAMES.get(sp.Format(), "?"), block, density,
                      kept_values * elem + index_bytes, numel * elem)


@dataclass
class TensorEntry:
    index: int
    name: str
    dtype: str
    shape: tuple[int | str, ...]
    constant_bytes: int
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    quant_axis: int = -1
    logical_perm: tuple[int, ...] | None = None
    sparse: SparseInfo | None = None


@dataclass
class OpEntry:
    op: str
    name: str
    inputs: list[int]
    outputs: list[int]


@dataclass
class NrtFile:
    path: str
    size: int
    format_version: int
    producer: str
    producer_version: str
    source_sha256: str
    tensors: list[TensorEntry]
    ops: list[OpEntry]
    inputs: list[int]
    outputs: list[int]
    metadata: dict[str, str] = field(default_factory=dict)
    quant_scheme: str = ""
    calibration_method: str = ""
    calibration_samples: int = 0
    float_nodes: list[str] = field(default_factory=list)
    quant_summary: str = ""

    @property
    def weight_bytes(self) -> int:
        return sum(t.constant_bytes for t in self.tensors)

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for o in self.ops:
            hist[o.op] = hist.get(o.op, 0) + 1
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


def _s(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


def read(path: str | Path) -> NrtFile:
    data = Path(path).read_bytes()
    if len(data) < 8 or not FbModel.ModelBufferHasIdentifier(data, 0):
        raise errors.InvalidModelError(f"{path} is not a nanort model")
    m = FbModel.GetRootAs(data, 0)
    g = m.Graphs(0)
    buffers = [(m.Buffers(i).Offset(), m.Buffers(i).Size()) for i in range(m.BuffersLength())]
    tensors = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        names = [_s(t.DimNames(d)) for d in range(t.DimNamesLength())]
        shape = tuple((names[d] if d < len(names) and names[d] else "?") if t.Shape(d) < 0 else int(t.Shape(d))
                      for d in range(t.ShapeLength()))
        q = t.Quant()
        entry = TensorEntry(i, _s(t.Name()), DTYPE_NAMES.get(t.Type(), "?"), shape, _constant_bytes(t, buffers))
        entry.sparse = _sparse_info(t, data, buffers)
        if entry.sparse is not None:
            entry.constant_bytes = entry.sparse.stored_bytes
        if q is not None and (q.ScaleLength() or q.ScaleBf16Length()):
            entry.scale = (q.ScaleAsNumpy().copy() if q.ScaleLength()
                           else (q.ScaleBf16AsNumpy().astype(np.uint32) << 16).view(np.float32))
            entry.zero_point = q.ZeroPointAsNumpy().copy() if q.ZeroPointLength() else np.zeros_like(entry.scale)
            entry.quant_axis = q.Axis()
        if t.LogicalPermLength():
            entry.logical_perm = tuple(int(x) for x in t.LogicalPermAsNumpy())
        tensors.append(entry)
    ops = [OpEntry(OP_NAMES.get(g.Operators(i).Op(), f"op{g.Operators(i).Op()}"), _s(g.Operators(i).Name()),
                   list(g.Operators(i).InputsAsNumpy()) if g.Operators(i).InputsLength() else [],
                   list(g.Operators(i).OutputsAsNumpy()) if g.Operators(i).OutputsLength() else [])
           for i in range(g.OperatorsLength())]
    meta = {_s(m.Metadata(i).Key()): _s(m.Metadata(i).Value()) for i in range(m.MetadataLength())}
    q = m.Quantization()
    return NrtFile(
        path=str(path), size=len(data), format_version=m.FormatVersion(), producer=_s(m.Producer()),
        producer_version=_s(m.ProducerVersion()), source_sha256=_s(m.SourceSha256()), tensors=tensors, ops=ops,
        inputs=list(g.InputsAsNumpy()) if g.InputsLength() else [],
        outputs=list(g.OutputsAsNumpy()) if g.OutputsLength() else [], metadata=meta,
        quant_scheme=_s(q.Scheme()) if q else "", calibration_method=_s(q.CalibrationMethod()) if q else "",
        calibration_samples=q.CalibrationSamples() if q else 0,
        float_nodes=[_s(q.FloatNodes(i)) for i in range(q.FloatNodesLength())] if q else [],
        quant_summary=_s(q.Summary()) if q else "",
    )
