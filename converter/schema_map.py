"""How IR nodes and tensors map onto the .nrt schema (schemas/nanort.fbs)."""

from __future__ import annotations

import numpy as np

from nanort.schema.DataType import DataType
from nanort.schema.OpType import OpType

OP_CODES: dict[str, int] = {k: v for k, v in vars(OpType).items() if not k.startswith("_")}
OP_NAMES: dict[int, str] = {v: k for k, v in OP_CODES.items()}

UNARY_OPS = [  # the runtime's unary ops (native/src/kernels/ref/unary_ref.h, NRT_UNARY_OPS)
    "Identity", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Silu", "Mish",
    "Tanh", "Gelu", "Erf", "Softplus", "Softsign", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Floor",
    "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
    "Atanh", "Not", "IsNaN", "IsInf", "ThresholdedRelu",
]
_BINARY = [
    "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Mod", "Equal", "Greater", "GreaterOrEqual", "Less",
    "LessOrEqual", "And", "Or", "Xor", "PRelu", "BitShift",
]
_REDUCE = [
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
    "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin",
]

# op type -> options table (None: the op takes no options)
OPTIONS_TABLE: dict[str, str | None] = {
    **{op: "UnaryOptions" for op in UNARY_OPS},
    **{op: "BinaryOptions" for op in _BINARY},
    **{op: "ReduceOptions" for op in _REDUCE},
    "Clip": "ClipOptions",
    "Cast": "CastOptions",
    "Where": None,
    "Conv": "ConvOptions",
    "ConvTranspose": "ConvOptions",
    "MaxPool": "PoolOptions",
    "AveragePool": "PoolOptions",
    "GlobalAveragePool": "PoolOptions",
    "GlobalMaxPool": "PoolOptions",
    "FullyConnected": "FullyConnectedOptions",
    "MatMul": "MatMulOptions",
    "BatchNormalization": "NormOptions",
    "LayerNormalization": "NormOptions",
    "InstanceNormalization": "NormOptions",
    "Softmax": "AxisOptions",
    "LogSoftmax": "AxisOptions",
    "Hardmax": "AxisOptions",
    "LSTM": "RnnOptions",
    "GRU": "RnnOptions",
    "Resize": "ResizeOptions",
    "Pad": "PadOptions",
    "DepthToSpace": "DepthSpaceOptions",
    "SpaceToDepth": "DepthSpaceOptions",
    "LpNormalization": "AxisOptions",
    "Reshape": "ReshapeOptions",
    "Flatten": "AxisOptions",
    "Squeeze": "AxesOptions",
    "Unsqueeze": "AxesOptions",
    "Transpose": "TransposeOptions",
    "Concat": "AxisOptions",
    "Split": "SplitOptions",
    "Slice": None,
    "Gather": "AxisOptions",
    "GatherElements": "AxisOptions",
    "Shape": "ShapeOptions",
    "Size": None,
    "ConstantOfShape": "ConstantOfShapeOptions",
    "Expand": None,
    "Range": None,
    "Tile": None,
    "CumSum": "AxisOptions",
    "Trilu": "TriluOptions",
    "OneHot": "AxisOptions",
    "QuantizeLinear": "QuantizeOptions",
    "DequantizeLinear": "QuantizeOptions",
    "Lut": None,
    "DynamicQuantizeLinear": None,
    "If": "ControlFlowOptions",
    "Loop": "ControlFlowOptions",
    "Scan": "ControlFlowOptions",
    "TopK": "TopKOptions",
    "NonMaxSuppression": "NmsOptions",
    "NonZero": None,
    "ScatterElements": "ScatterOptions",
    "ScatterND": "ScatterOptions",
    "GatherND": "ScatterOptions",
    "CumProd": "AxisOptions",
    "GridSample": "GridSampleOptions",
}

NP_TO_DTYPE: dict[np.dtype, int] = {
    np.dtype(np.float32): DataType.FLOAT32,
    np.dtype(np.float16): DataType.FLOAT16,
    np.dtype(np.float64): DataType.FLOAT64,
    np.dtype(np.int8): DataType.INT8,
    np.dtype(np.uint8): DataType.UINT8,
    np.dtype(np.int16): DataType.INT16,
    np.dtype(np.int32): DataType.INT32,
    np.dtype(np.int64): DataType.INT64,
    np.dtype(np.bool_): DataType.BOOL,
}
DTYPE_TO_NP: dict[int, np.dtype] = {v: k for k, v in NP_TO_DTYPE.items()}


def dtype_code(dtype: np.dtype) -> int:
    try:
        return NP_TO_DTYPE[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"nanort has no tensor type for {dtype}") from None
