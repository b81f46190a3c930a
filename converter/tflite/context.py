"""The state of one TFLite import and what an op importer sees of it.

TFLite tensors are NHWC; the IR's convolutions, pools and depth/space ops
take the source-model NCHW form that the layout pass turns into the
runtime's NHWC. Importers keep every tensor in TFLite's own layout and
wrap each such op in a pair of Transposes (NHWC -> NCHW before, back
after); the layout pass recognises both as free (the bytes are already
NHWC), so no data moves (see layout.py).

Quantized (int8 / uint8) activations become float32 IR tensors annotated
with their scale and zero point, and quantized constants become float
constants annotated likewise: the form the qdq pass gives an ONNX QDQ model,
so the int8 quantizer keeps the model's own parameters. Zero points move to
the int8 domain (uint8 z is z - 128: the same real values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nanort.runtime.errors import UnsupportedOpError

from ..ir import Graph, Node, QuantParams
from .reader import Model, Operator, Tensor

NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
QUANTIZED_TYPES = (np.dtype(np.int8), np.dtype(np.uint8))

Importer = Callable[["OpContext"], None]
IMPORTERS: dict[str, Importer] = {}


def register(*codes: str) -> Callable[[Importer], Importer]:
    def deco(fn: Importer) -> Importer:
        for code in codes:
            IMPORTERS[code] = fn
        return fn

    return deco


def is_quantized_activation(t: Tensor) -> bool:
    return t.quant is not None and t.dtype in QUANTIZED_TYPES and not t.is_const


def int8_domain(t: Tensor) -> QuantParams:
    """The tensor's parameters with uint8 zero points moved to int8 (z - 128)."""
    q = t.quant
    zp = q.zero_point - 128 if t.dtype == np.uint8 else q.zero_point
    return QuantParams(q.scale, zp, None if q.per_tensor else q.axis)


def dequantized(t: Tensor) -> np.ndarray:
    """A constant's real values as float32 (fp16 widened; quantized ints times their scales)."""
    data = t.data
    if t.quant is None or data.dtype.kind not in "iu":
        return data.astype(np.float32) if data.dtype.kind == "f" else data
    scale, zp = t.quant.scale.astype(np.float64), t.quant.zero_point.astype(np.float64)
    if not t.quant.per_tensor:
        shape = [1] * data.ndim
        shape[t.quant.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((data.astype(np.float64) - zp) * scale).astype(np.float32)


class ImportState:
    """TFLite tensor index -> IR tensor name, declared when first used."""

    def __init__(self, model: Model, graph: Graph):
        self.model = model
        self.graph = graph
        self.names: dict[int, str] = {}
        self.nchw: dict[str, str] = {}
        self.io = set(model.inputs + model.outputs)
        self.taken: set[str] = {model.tensors[i].name for i in self.io}

    def unique(self, name: str) -> str:
        candidate, k = name, 1
        while candidate in self.taken or candidate in self.graph.tensors:
            candidate, k = f"{name}_{k}", k + 1
        self.taken.add(candidate)
        return candidate

    def declare(self, index: int) -> str:
        """The IR tensor holding TFLite tensor `index` (float for quantized values)."""
        if index in self.names:
            return self.names[index]
        t = self.model.tensors[index]
        graph = self.graph
        if t.is_const:
            value = dequantized(t)
            name = graph.add_const(value, t.name)
            if t.quant is not None and t.data.dtype in QUANTIZED_TYPES:
                graph.tensors[name].quant = int8_domain(t)
        else:
            if t.dtype is None:
                raise UnsupportedOpError(f"tensor {t.name!r} has type {t.type_name}, which nanort does not support")
            quantized = is_quantized_activation(t)
            if t.quant is not None and not quantized and t.dtype.kind in "iu":
                raise UnsupportedOpError(f"tensor {t.name!r} is quantized as {t.type_name}; nanort takes "
                                         "int8 and uint8 quantized activations")
            if index in self.io and not quantized and t.name not in graph.tensors:
                name = t.name  # a graph input or output keeps its name
            else:  # (a quantized one's name is the int8 tensor's, outside)
                name = self.unique(f"{t.name}/float" if index in self.io else t.name)
            graph.add_tensor(name, np.float32 if quantized else t.dtype, t.shape)
            if quantized:
                graph.tensors[name].quant = int8_domain(t)
        self.names[index] = name
        return name


class OpContext:
    def __init__(self, state: ImportState, op: Operator):
        self.state = state
        self.graph = state.graph
        self.op = op
        self.code = op.code
        self.options = op.options
        self.name = self._node_name()
        self._emitted = 0

    def _node_name(self) -> str:
        outs = [self.state.model.tensors[i].name for i in self.op.outputs]
        return outs[0] if outs else f"{self.code}#{self.op.index}"

    # -- inputs / outputs -------------------------------------------------
    @property
    def num_inputs(self) -> int:
        return len(self.op.inputs)

    def has_input(self, i: int) -> bool:
        return i < len(self.op.inputs) and self.op.inputs[i] >= 0

    def tensor(self, i: int) -> Tensor:
        if not self.has_input(i):
            self.unsupported(f"input {i} is missing")
        return self.state.model.tensors[self.op.inputs[i]]

    def out_tensor(self, i: int = 0) -> Tensor:
        if i >= len(self.op.outputs):
            self.unsupported(f"output {i} is missing")
        return self.state.model.tensors[self.op.outputs[i]]

    def input(self, i: int) -> str:
        """IR name of input i ("" when omitted)."""
        return self.state.declare(self.op.inputs[i]) if self.has_input(i) else ""

    def output(self, i: int = 0) -> str:
        self.out_tensor(i)
        return self.state.declare(self.op.outputs[i])

    def const(self, i: int) -> np.ndarray | None:
        """The value of input i if it is constant (real values: fp16 widened, quantized ints
        dequantized, sparse densified), else None."""
        return self.graph.const(self.input(i)) if self.has_input(i) else None

    def require_const(self, i: int, what: str) -> np.ndarray:
        value = self.const(i)
        if value is None:
            self.unsupported(f"{what} (input {i}) must be a constant")
        return value

    def alias(self, out: int, name: str) -> None:
        """Output `out` is the IR tensor `name` (an op that changes nothing the IR represents)."""
        self.state.names[self.op.outputs[out]] = name

    def shape(self, name: str) -> tuple:
        return self.graph.tensors[name].shape

    # -- emitting ---------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> Node:
        name = self.name if self._emitted == 0 else f"{self.name}/{op}{self._emitted}"
        self._emitted += 1
        node = Node(op, list(inputs), list(outputs), attrs, name)
        self.graph.nodes.append(node)
        return node

    def temp(self, hint: str, like: str, shape: Sequence | None = None) -> str:
        """A new intermediate tensor of `like`'s type and quantization (and shape unless given)."""
        src = self.graph.tensors[like]
        name = self.graph.fresh_name(f"{self.name}/{hint}")
        t = self.graph.add_tensor(name, src.dtype, src.shape if shape is None else tuple(shape))
        t.quant = src.quant
        return name

    def add_const(self, value: Any, hint: str, dtype: Any = None) -> str:
        return self.graph.add_const(value, f"{self.name}/{hint}", dtype)

    def unsupported(self, msg: str) -> None:
        error = UnsupportedOpError(f"{self.code} operator {self.name!r}: {msg}")
        error.reason = msg
        raise error

    # -- layout -----------------------------------------------------------
    def to_nchw(self, name: str) -> str:
        """The NCHW view of a 4-D NHWC tensor (free after the layout pass)."""
        cached = self.state.nchw.get(name)
        if cached is not None:
            return cached
        shape = self.shape(name)
        if shape is None or len(shape) != 4:
            self.unsupported(f"input {name!r} must be 4-D (NHWC), it has shape {shape}")
        t = self.temp("nchw", name, [shape[a] for a in NHWC_TO_NCHW])
        self.emit("Transpose", [name], [t], perm=NHWC_TO_NCHW)
        self.state.nchw[name] = t
        return t

    def from_nchw(self, name: str, out: str) -> None:
        self.emit("Transpose", [name], [out], perm=NCHW_TO_NHWC)

    def nchw_temp(self, hint: str, out: str) -> str:
        """An NCHW intermediate for NHWC output `out`."""
        shape = self.shape(out)
        return self.temp(hint, out, [shape[a] for a in NHWC_TO_NCHW])
