"""Reads a .tflite file (TFLite's FlatBuffers schema, through the `tflite`
package's generated accessors) into plain records: the main subgraph's
tensors with their constant values, quantization and shapes, its operators
with their options, and the model's signature.

Constants come out dense and in their stored type: sparse tensors (TFLite's
SparsityParameters, as in TF-MOT-pruned and MediaPipe's "_sparse" models) are
densified here, and stored sparse again in nanort's own format by the
serializer (converter/sparse.py), which finds the zeros of every weight.
Every index, length and size is checked; a malformed file raises
ConversionError naming what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite

from nanort.runtime.errors import ConversionError

from .sparse import densify

FILE_IDENTIFIER = b"TFL3"
MAX_ELEMENTS = 1 << 31  # a dense constant larger than this is refused (a corrupt shape, or not a phone model)

# TFLite TensorType -> numpy; the others (string, resource, variant, complex, int4...) have no nanort form
DTYPES: dict[int, np.dtype] = {
    tflite.TensorType.FLOAT32: np.dtype(np.float32),
    tflite.TensorType.FLOAT16: np.dtype(np.float16),
    tflite.TensorType.FLOAT64: np.dtype(np.float64),
    tflite.TensorType.INT8: np.dtype(np.int8),
    tflite.TensorType.UINT8: np.dtype(np.uint8),
    tflite.TensorType.INT16: np.dtype(np.int16),
    tflite.TensorType.INT32: np.dtype(np.int32),
    tflite.TensorType.INT64: np.dtype(np.int64),
    tflite.TensorType.BOOL: np.dtype(np.bool_),
}
TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
OPTION_CLASSES = {v: getattr(tflite, k) for k, v in vars(tflite.BuiltinOptions).items()
                  if not k.startswith("_") and hasattr(tflite, k)}
CUSTOM = tflite.BuiltinOperator.CUSTOM


@dataclass
class Quantization:
    """real = scale * (q - zero_point), per tensor or along `axis` (TFLite's quantized_dimension)."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1


@dataclass
class Tensor:
    index: int
    name: str
    type_name: str
    dtype: np.dtype | None
    shape: tuple[int, ...]
    data: np.ndarray | None = None
    quant: Quantization | None = None
    sparse: bool = False
    variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None


@dataclass
class Operator:
    index: int
    code: str                  # builtin name (CONV_2D), CUSTOM:<name>, or BUILTIN_<n> for codes the schema lacks
    options: Any               # the builtin options table, or None
    custom_options: bytes
    inputs: list[int]          # -1: an omitted optional input
    outputs: list[int]

    @property
    def name(self) -> str:
        return f"#{self.index}"


@dataclass
class Model:
    path: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    subgraphs: int
    description: str = ""
    signature_key: str = ""
    signature_names: dict[int, str] = field(default_factory=dict)   # tensor index -> signature name

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for op in self.operators:
            hist[op.code] = hist.get(op.code, 0) + 1
        return hist


def is_tflite(path: str | Path) -> bool:
    """A TFLite FlatBuffer: its file identifier, or (files written without one) the .tflite suffix."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError:
        return path.suffix.lower() == ".tflite"
    return head[4:8] == FILE_IDENTIFIER or path.suffix.lower() == ".tflite"


def read(path: str | Path) -> Model:
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise ConversionError(f"cannot read {path}: {e.strerror or e}") from None
    if len(buf) < 8:
        raise ConversionError(f"{path} is not a TFLite model: the file has {len(buf)} bytes")
    try:
        return _Reader(buf, str(path)).model()
    except ConversionError:
        raise
    except (IndexError, struct.error, ValueError, TypeError, AttributeError, UnicodeDecodeError, OverflowError) as e:
        raise ConversionError(f"{path} is not a valid TFLite model (its FlatBuffer is corrupt: "
                              f"{type(e).__name__}: {e})") from None


def _ints(value: Any) -> list[int]:
    """A FlatBuffers int vector accessor's result (0 when the vector is absent) as a list."""
    return [] if isinstance(value, int) else [int(v) for v in value]


class _Reader:
    def __init__(self, buf: bytes, path: str):
        self.buf = buf
        self.path = path
        root = int.from_bytes(buf[:4], "little")
        if root + 4 > len(buf):
            raise ConversionError(f"{path} is not a TFLite model: its root offset points past the end")
        self.m = tflite.Model.GetRootAs(buf, 0)

    def fail(self, what: str) -> ConversionError:
        return ConversionError(f"{self.path}: {what}")

    def model(self) -> Model:
        m = self.m
        if m.SubgraphsLength() < 1:
            raise self.fail("the model has no subgraph")
        g = m.Subgraphs(0)
        tensors = [self.tensor(g.Tensors(i), i) for i in range(g.TensorsLength())]
        ops = [self.operator(g.Operators(i), i, len(tensors)) for i in range(g.OperatorsLength())]
        inputs, outputs = _ints(g.InputsAsNumpy()), _ints(g.OutputsAsNumpy())
        for kind, lst in (("input", inputs), ("output", outputs)):
            if any(not 0 <= i < len(tensors) for i in lst):
                raise self.fail(f"a graph {kind} names tensor index out of range (0..{len(tensors) - 1})")
        model = Model(self.path, tensors, ops, inputs, outputs, m.SubgraphsLength(),
                      (m.Description() or b"").decode("utf-8", "replace"))
        self.signature(model)
        return model

    # -- tensors ------------------------------------------------------------
    def tensor(self, t: tflite.Tensor, index: int) -> Tensor:
        type_code = t.Type()
        name = (t.Name() or b"").decode("utf-8", "replace") or f"tensor_{index}"
        shape = tuple(_ints(t.ShapeAsNumpy()))
        if any(d < 0 for d in shape):
            raise self.fail(f"tensor {name!r} has a negative dimension {list(shape)}")
        out = Tensor(index, name, TYPE_NAMES.get(type_code, f"type {type_code}"), DTYPES.get(type_code), shape,
                     variable=bool(t.IsVariable()))
        out.quant = self.quantization(t, out)
        data = self.buffer_bytes(t.Buffer(), name)
        if data is not None:
            if out.dtype is None:
                raise self.fail(f"constant tensor {name!r} has type {out.type_name}, which nanort does not support")
            sparsity = t.Sparsity()
            if sparsity is not None:
                out.data, out.sparse = self.densified(sparsity, data, out), True
            else:
                out.data = self.dense(data, out)
        return out

    def quantization(self, t: tflite.Tensor, out: Tensor) -> Quantization | None:
        q = t.Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        scale = np.asarray(q.ScaleAsNumpy(), np.float32).reshape(-1)
        zp = np.asarray(q.ZeroPointAsNumpy(), np.int64).reshape(-1) if q.ZeroPointLength() else \
            np.zeros(scale.size, np.int64)
        axis = int(q.QuantizedDimension())
        if zp.size != scale.size or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise self.fail(f"tensor {out.name!r} has invalid quantization ({scale.size} scales, {zp.size} zero "
                            "points; scales must be finite and positive)")
        if scale.size > 1 and not (0 <= axis < len(out.shape) and out.shape[axis] == scale.size):
            raise self.fail(f"tensor {out.name!r} has {scale.size} scales along axis {axis} of shape "
                            f"{list(out.shape)}")
        return Quantization(scale, zp, axis)

    def buffer_bytes(self, index: int, name: str) -> np.ndarray | None:
        if index == 0:
            return None
        if not 0 < index < self.m.BuffersLength():
            raise self.fail(f"tensor {name!r} names buffer {index} of {self.m.BuffersLength()}")
        b = self.m.Buffers(index)
        offset, size = int(b.Offset()), int(b.Size())
        if offset > 1:  # stored after the FlatBuffer (models over 2 GB)
            if offset + size > len(self.buf):
                raise self.fail(f"the data of tensor {name!r} lies past the end of the file")
            return np.frombuffer(self.buf, np.uint8, size, offset)
        data = b.DataAsNumpy()
        return None if isinstance(data, int) else data

    def dense(self, data: np.ndarray, t: Tensor) -> np.ndarray:
        count = int(np.prod(t.shape, dtype=np.int64))
        if data.size != count * t.dtype.itemsize:
            raise self.fail(f"constant tensor {t.name!r} ({t.type_name} {list(t.shape)}) has {data.size} bytes, "
                            f"expected {count * t.dtype.itemsize}")
        return np.frombuffer(data.tobytes(), t.dtype).reshape(t.shape)

    def densified(self, sparsity: tflite.SparsityParameters, data: np.ndarray, t: Tensor) -> np.ndarray:
        count = int(np.prod(t.shape, dtype=np.int64))
        if count > MAX_ELEMENTS or data.size % t.dtype.itemsize:
            raise self.fail(f"sparse tensor {t.name!r} has a bad size")
        values = np.frombuffer(data.tobytes(), t.dtype)
        levels = []
        for j in range(sparsity.DimMetadataLength()):
            d = sparsity.DimMetadata(j)
            if d.Format() == tflite.DimensionType.DENSE:
                levels.append((int(d.DenseSize()), None, None))
            else:
                levels.append((0, self.index_vector(d.ArraySegmentsType(), d.ArraySegments()),
                               self.index_vector(d.ArrayIndicesType(), d.ArrayIndices())))
        try:
            return densify(values, t.shape, _ints(sparsity.TraversalOrderAsNumpy()),
                           _ints(sparsity.BlockMapAsNumpy()), levels)
        except ValueError as e:
            raise self.fail(f"sparse tensor {t.name!r}: {e}") from None

    def index_vector(self, kind: int, table: Any) -> np.ndarray:
        classes = {tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
                   tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
                   tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector}
        if kind not in classes or table is None:
            raise self.fail("a sparse tensor's index vector is missing or of an unknown type")
        vec = classes[kind]()
        vec.Init(table.Bytes, table.Pos)
        values = vec.ValuesAsNumpy()
        return np.zeros(0, np.int64) if isinstance(values, int) else values.astype(np.int64)

    # -- operators ----------------------------------------------------------
    def operator(self, op: tflite.Operator, index: int, n_tensors: int) -> Operator:
        codes = self.m.OperatorCodesLength()
        k = op.OpcodeIndex()
        if not 0 <= k < codes:
            raise self.fail(f"operator #{index} names operator code {k} of {codes}")
        oc = self.m.OperatorCodes(k)
        builtin = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if builtin == CUSTOM:
            code = "CUSTOM:" + (oc.CustomCode() or b"").decode("utf-8", "replace")
        else:
            code = tflite.BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}")
        inputs, outputs = _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy())
        if any(not -1 <= i < n_tensors for i in inputs) or any(not 0 <= i < n_tensors for i in outputs):
            raise self.fail(f"operator #{index} ({code}) names a tensor index out of range (0..{n_tensors - 1})")
        custom = op.CustomOptionsAsNumpy()
        return Operator(index, code, self.options(op), b"" if isinstance(custom, int) else custom.tobytes(),
                        inputs, outputs)

    @staticmethod
    def options(op: tflite.Operator) -> Any:
        cls = OPTION_CLASSES.get(op.BuiltinOptionsType())
        table = op.BuiltinOptions()
        if cls is None or table is None:
            return None
        obj = cls()
        obj.Init(table.Bytes, table.Pos)
        return obj

    # -- signature ----------------------------------------------------------
    def signature(self, model: Model) -> None:
        """The first signature of the main subgraph: its key and the names it gives the I/O tensors."""
        for s in range(self.m.SignatureDefsLength()):
            sig = self.m.SignatureDefs(s)
            if sig.SubgraphIndex() != 0:
                continue
            model.signature_key = (sig.SignatureKey() or b"").decode("utf-8", "replace")
            for getter, count in ((sig.Inputs, sig.InputsLength()), (sig.Outputs, sig.OutputsLength())):
                for j in range(count):
                    tm = getter(j)
                    if 0 <= tm.TensorIndex() < len(model.tensors):
                        model.signature_names[int(tm.TensorIndex())] = (tm.Name() or b"").decode("utf-8", "replace")
            return
