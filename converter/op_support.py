"""What nanort supports, for `nanort ops`: the ONNX operators the converter
imports, and the runtime's operators with the element types each accepts
and whether it has int8 kernels.

The runtime's answers are probed, not declared: each op is built into a
one-node model per element type (and once with quantized int8 tensors) and
run; what loads, prepares and runs is supported. Ops whose inputs need more
than a generic template (weights, boxes, subgraphs) are listed with the
types their kernels are written for, marked "declared".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Graph, Node, QuantParams
from .schema_map import OPTIONS_TABLE

PROBE_DTYPES = [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_]
_COMPARE = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"}
_BOOL_OUT = _COMPARE | {"IsNaN", "IsInf"}
_SHAPE = (2, 3)

# Runtime ops whose probe would need real weights or structured inputs: the element
# types their kernels handle, and whether they have int8 kernels.
DECLARED: dict[str, tuple[str, bool]] = {
    "Conv": ("float32, int8, dynamic int8 (float32 x, int8 W)", True), "ConvTranspose": ("float32, int8", True),
    "FullyConnected": ("float32, int8", True), "MatMul": ("float32, int8", True),
    "MaxPool": ("float32, int8", True), "AveragePool": ("float32, int8", True),
    "GlobalAveragePool": ("float32, int8", True), "GlobalMaxPool": ("float32, int8", True),
    "BatchNormalization": ("float32", False), "InstanceNormalization": ("float32", False),
    "LayerNormalization": ("float32", False), "LpNormalization": ("float32", False),
    "LSTM": ("float32, dynamic int8 (float32 x, int8 W and R)", True), "GRU": ("float32", False),
    "Resize": ("float32, int8", True),
    "Pad": ("any", True), "DepthToSpace": ("any", True), "SpaceToDepth": ("any", True),
    "QuantizeLinear": ("float32 -> int8/uint8", True), "DequantizeLinear": ("int8/uint8 -> float32", True),
    "DynamicQuantizeLinear": ("float32 -> uint8", True),
    "Lut": ("int8, uint8 (a 256-entry table); int8 -> float32", True),
    "If": ("any (subgraphs)", False), "Loop": ("any (subgraphs)", False), "Scan": ("any (subgraphs)", False),
    "NonMaxSuppression": ("float32 boxes and scores", False), "Range": ("float32, int32, int64", False),
    "ConstantOfShape": ("any", False), "OneHot": ("any", False), "CumSum": ("float32, float64, int32, int64", False),
    "GatherElements": ("any", False), "Shape": ("any", False), "Size": ("any", False), "Trilu": ("any", False),
    "Split": ("any", True), "Squeeze": ("any", True), "Unsqueeze": ("any", True), "Expand": ("any", True),
    "Tile": ("any", True), "Slice": ("any", True), "Gather": ("any", True), "TopK": ("all but bool", False),
    "Cast": ("all to all", False), "Where": ("any (bool condition)", False), "Clip": ("float32, int8", True),
    "Hardmax": ("float32", False), "BitShift": ("uint8 .. uint64 (uint8 here)", False),
    "CumProd": ("float32, float64, int32, int64", False),
    "ScatterElements": ("any; reductions: float32, float64, int32, int64", False),
    "ScatterND": ("any; reductions: float32, float64, int32, int64", False), "GatherND": ("any", False),
    "GridSample": ("float32 (2-D and 3-D images)", False),
}


@dataclass
class RuntimeOp:
    op: str
    dtypes: list[str]
    int8: bool
    how: str  # "probed" or "declared"


def _graph(op: str, dtype, quant: str) -> Graph:
    g = Graph()
    dt = np.dtype(dtype)
    n_in = 2 if OPTIONS_TABLE.get(op) == "BinaryOptions" else 1
    out_dt = np.bool_ if op in _BOOL_OUT else (np.int64 if op in ("ArgMax", "ArgMin") else dt)
    inputs = [f"x{i}" for i in range(n_in)]
    for name in inputs:
        g.add_tensor(name, dt, _SHAPE)
        if quant:
            g.tensors[name].quant = QuantParams(np.float32(0.05), np.int64(3))
    attrs: dict = {}
    out_shape = _SHAPE
    table = OPTIONS_TABLE.get(op)
    if table == "UnaryOptions":
        attrs = {"alpha": 1.0, "beta": 0.5}  # (Celu refuses alpha 0)
    elif table == "ReduceOptions":
        attrs = {"axes": [1], "keepdims": True}
        out_shape = (2, 1)
    elif op in ("Softmax", "LogSoftmax"):
        attrs = {"axis": -1}
    elif op == "Transpose":
        attrs, out_shape = {"perm": [1, 0]}, (3, 2)
    elif op == "Concat":
        g.nodes.append(Node(op, inputs * 2, ["y"], {"axis": 0}, "probe"))
        out_shape = (4, 3)
    elif op == "Flatten":
        attrs = {"axis": 1}
    elif op == "Reshape":
        inputs = inputs + [g.add_const(np.array([3, 2], np.int64), "shape")]
        out_shape = (3, 2)
    g.add_tensor("y", out_dt, out_shape)
    if quant and np.dtype(out_dt) == np.int8:  # the input's scale (movement ops keep it), or another one
        g.tensors["y"].quant = QuantParams(np.float32(0.05 if quant == "same" else 0.07), np.int64(3 if quant == "same"
                                                                                                   else -2))
    if not g.nodes:
        g.nodes.append(Node(op, inputs, ["y"], attrs, "probe"))
    g.inputs, g.outputs = [n for n in inputs if g.tensors[n].data is None], ["y"]
    return g


def _runs(op: str, dtype, quant: str = "") -> bool:
    import nanort
    from nanort.converter.serialize import serialize

    try:
        g = _graph(op, dtype, quant)
        feeds = {name: np.ones(g.tensors[name].shape, g.tensors[name].dtype) for name in g.inputs}
        with nanort.Model(serialize(g), check_finite=False) as m:
            m.run(feeds)
        return True
    except (nanort.Error, ValueError, TypeError):
        return False


PROBED_FAMILIES = {"UnaryOptions", "BinaryOptions", "ReduceOptions"}
PROBED_OPS = {"Softmax", "LogSoftmax", "Transpose", "Concat", "Flatten", "Reshape"}


def runtime_ops() -> list[RuntimeOp]:
    out = []
    for op in sorted(OPTIONS_TABLE):
        if OPTIONS_TABLE[op] in PROBED_FAMILIES or op in PROBED_OPS:
            dtypes = [np.dtype(d).name for d in PROBE_DTYPES if _runs(op, d)]
            int8 = _runs(op, np.int8, "same") or _runs(op, np.int8, "rescaled")
            out.append(RuntimeOp(op, dtypes, int8, "probed"))
        elif op in DECLARED:
            types, int8 = DECLARED[op]
            out.append(RuntimeOp(op, [types], int8, "declared"))
    return out


def onnx_ops() -> list[str]:
    """ONNX operators the converter takes (default domain plain, others "domain:Op")."""
    from .contrib_ops import SUPPORTED
    from .importers import FOLDED_ONLY, IMPORTERS

    return sorted(set(IMPORTERS) | FOLDED_ONLY | set(SUPPORTED))
