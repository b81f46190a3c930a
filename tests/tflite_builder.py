"""Builds one-operator .tflite files with TFLite's own schema code (the
object API in ai-edge-litert's schema_py_generated), for operator tests
that run the same file through TFLite and nanort."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s

TYPES = {np.dtype(np.float32): s.TensorType.FLOAT32, np.dtype(np.int32): s.TensorType.INT32,
         np.dtype(np.int8): s.TensorType.INT8, np.dtype(np.uint8): s.TensorType.UINT8,
         np.dtype(np.int64): s.TensorType.INT64, np.dtype(np.bool_): s.TensorType.BOOL}


@dataclass
class Var:
    """An activation (graph input, or an operator's output)."""
    shape: tuple[int, ...]
    dtype: Any = np.float32
    quant: tuple[Any, Any, int] | None = None   # scale(s), zero point(s), axis


@dataclass
class Const:
    value: np.ndarray
    quant: tuple[Any, Any, int] | None = None


@dataclass
class Op:
    code: str                      # BuiltinOperator name
    inputs: list[str]              # tensor names ("" = omitted)
    outputs: list[str]
    options: str | None = None     # BuiltinOptions name
    fields: dict[str, Any] = field(default_factory=dict)


def build(tensors: dict[str, Var | Const], ops: list[Op], inputs: list[str], outputs: list[str],
          signature: dict[str, str] | None = None) -> bytes:
    """A model of `ops` in order; `signature` maps I/O tensor names to signature names."""
    m = s.ModelT()
    m.version = 3
    m.buffers = [s.BufferT()]
    index, sub_tensors = {}, []
    for name, spec in tensors.items():
        t = s.TensorT()
        t.name = name
        if isinstance(spec, Const):
            value = np.ascontiguousarray(spec.value)
            t.shape, t.type, t.buffer = list(value.shape), TYPES[value.dtype], len(m.buffers)
            b = s.BufferT()
            b.data = np.frombuffer(value.tobytes(), np.uint8)
            m.buffers.append(b)
        else:
            t.shape, t.type = list(spec.shape), TYPES[np.dtype(spec.dtype)]
        if spec.quant is not None:
            q = s.QuantizationParametersT()
            q.scale = np.atleast_1d(np.asarray(spec.quant[0], np.float32)).tolist()
            q.zeroPoint = np.atleast_1d(np.asarray(spec.quant[1], np.int64)).tolist()
            q.quantizedDimension = spec.quant[2]
            t.quantization = q
        index[name] = len(sub_tensors)
        sub_tensors.append(t)
    codes: list[str] = []
    g = s.SubGraphT()
    g.tensors, g.operators = sub_tensors, []
    for op in ops:
        if op.code not in codes:
            codes.append(op.code)
        o = s.OperatorT()
        o.opcodeIndex = codes.index(op.code)
        o.inputs = [index[i] if i else -1 for i in op.inputs]
        o.outputs = [index[i] for i in op.outputs]
        if op.options:
            o.builtinOptionsType = getattr(s.BuiltinOptions, op.options)
            opts = getattr(s, f"{op.options}T")()
            for k, v in op.fields.items():
                setattr(opts, k, v)
            o.builtinOptions = opts
        g.operators.append(o)
    g.inputs, g.outputs = [index[i] for i in inputs], [index[o] for o in outputs]
    m.subgraphs = [g]
    m.operatorCodes = []
    for code in codes:
        oc = s.OperatorCodeT()
        oc.builtinCode = getattr(s.BuiltinOperator, code)
        oc.deprecatedBuiltinCode = min(oc.builtinCode, 127)
        oc.version = 1
        m.operatorCodes.append(oc)
    if signature:
        sig = s.SignatureDefT()
        sig.signatureKey, sig.subgraphIndex = "serving_default", 0
        sig.inputs = [_tensor_map(signature[i], index[i]) for i in inputs]
        sig.outputs = [_tensor_map(signature[o], index[o]) for o in outputs]
        m.signatureDefs = [sig]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tensor_map(name: str, tensor: int) -> s.TensorMapT:
    t = s.TensorMapT()
    t.name, t.tensorIndex = name, tensor
    return t


def single(code: str, inputs: list[Var | Const], outputs: list[Var], options: str | None = None,
           **fields: Any) -> bytes:
    """A model of one operator: its Var inputs are the graph inputs x0, x1...; outputs y0, y1..."""
    tensors: dict[str, Var | Const] = {}
    names = []
    for k, spec in enumerate(inputs):
        if spec is None:
            names.append("")
            continue
        name = f"x{k}" if isinstance(spec, Var) else f"c{k}"
        tensors[name] = spec
        names.append(name)
    outs = [f"y{k}" for k in range(len(outputs))]
    tensors.update(zip(outs, outputs))
    return build(tensors, [Op(code, names, outs, options, fields)],
                 [n for n in names if n.startswith("x")], outs)
