"""onnxruntime's com.microsoft operators, rewritten into standard ONNX nodes
before anything else runs (so shape inference, folding, the pattern fusions
and the QDQ pass treat them like any exported model).

These are the ops onnxruntime's own transformer optimizer and quantizer
write into files people ship. Every rewrite is the op's definition in
standard ops, with one exception: DynamicQuantizeLSTM quantizes its input
and hidden state at every step inside onnxruntime, which no composition of
ONNX ops reproduces; it becomes an LSTM marked for the runtime's dynamic int8
LSTM (its int8 weights behind a DequantizeLinear), or an fp32 LSTM on its
dequantized weights when they are not int8 with one scale per direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nanort.runtime.errors import ConversionError

DOMAIN = "com.microsoft"


class _Rewriter:
    """Builds the replacement nodes of one contrib node."""

    def __init__(self, node: onnx.NodeProto, opset: int, inits: dict[str, np.ndarray], taken: set[str],
                 ranks: dict[str, int]):
        self.node = node
        self.ranks = ranks
        self.opset = opset
        self.inits = inits
        self.taken = taken
        self.nodes: list[onnx.NodeProto] = []
        self.new_inits: list[onnx.TensorProto] = []
        self.base = node.name or node.output[0]
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def name(self, hint: str) -> str:
        i = 0
        while f"{self.base}/{hint}{i}" in self.taken:
            i += 1
        n = f"{self.base}/{hint}{i}"
        self.taken.add(n)
        return n

    def input(self, i: int) -> str:
        return self.node.input[i] if i < len(self.node.input) else ""

    def output(self, i: int) -> str:
        return self.node.output[i] if i < len(self.node.output) else ""

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        name = self.name(hint)
        self.new_inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type), **attrs))
        return out

    def value(self, i: int) -> np.ndarray:
        name = self.input(i)
        if name not in self.inits:
            raise ConversionError(f"{self.node.op_type} node {self.base!r}: input {i} ({name!r}) must be a constant")
        return self.inits[name]

    # -- compositions ---------------------------------------------------
    def reduce_mean_last(self, x: str) -> str:
        if self.opset >= 18:
            return self.op("ReduceMean", [x, self.const([-1], "axes", np.int64)], keepdims=1)
        return self.op("ReduceMean", [x], axes=[-1], keepdims=1)

    def layer_norm(self, x: str, gamma: str, beta: str, eps: float, out: str | None, simplified: bool = False) -> str:
        """Over the last axis; simplified = RMS normalization (no mean, no beta)."""
        if not simplified and self.opset >= 17:
            inputs = [x, gamma] + ([beta] if beta else [])
            return self.op("LayerNormalization", inputs, out, axis=-1, epsilon=eps)
        centered = x if simplified else self.op("Sub", [x, self.reduce_mean_last(x)])
        var = self.reduce_mean_last(self.op("Mul", [centered, centered]))
        std = self.op("Sqrt", [self.op("Add", [var, self.const(eps, "eps")])])
        y = self.op("Mul", [self.op("Div", [centered, std]), gamma], None if beta else out)
        return self.op("Add", [y, beta], out) if beta else y

    def gelu(self, x: str, out: str, tanh: bool) -> str:
        if tanh:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            cube = self.op("Mul", [self.op("Mul", [x, x]), x])
            inner = self.op("Add", [x, self.op("Mul", [cube, self.const(0.044715)])])
            t = self.op("Tanh", [self.op("Mul", [inner, self.const(math.sqrt(2 / math.pi))])])
        else:  # 0.5 x (1 + erf(x / sqrt(2)))
            t = self.op("Erf", [self.op("Div", [x, self.const(math.sqrt(2))])])
        half_x = self.op("Mul", [x, self.const(0.5)])
        return self.op("Mul", [half_x, self.op("Add", [t, self.const(1.0)])], out)

    def unsqueeze(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.const(axes, "axes", np.int64)])
        return self.op("Unsqueeze", [x], axes=axes)

    def reduce_sum(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.op("ReduceSum", [x, self.const(axes, "axes", np.int64)], keepdims=0)
        return self.op("ReduceSum", [x], axes=axes, keepdims=0)

    def dequantize(self, q: str, scale: str, zero_point: str, axis: int | None = None) -> str:
        attrs = {} if axis is None else {"axis": axis}
        return self.op("DequantizeLinear", [q, scale] + ([zero_point] if zero_point else []), **attrs)

    def quantize(self, x: str, scale: str, zero_point: str, out: str) -> str:
        return self.op("QuantizeLinear", [x, scale] + ([zero_point] if zero_point else []), out)


# ------------------------------------------------------------ the rewrites

def _gelu(r: _Rewriter) -> None:
    x = r.input(0)
    if r.node.op_type in ("BiasGelu", "FastGelu") and r.input(1):
        x = r.op("Add", [x, r.input(1)])
    r.gelu(x, r.output(0), tanh=r.node.op_type == "FastGelu")


def _quick_gelu(r: _Rewriter) -> None:
    alpha = float(r.attrs.get("alpha", 1.702))
    r.op("Mul", [r.input(0), r.op("Sigmoid", [r.op("Mul", [r.input(0), r.const(alpha)])])], r.output(0))


def _layer_norm(r: _Rewriter) -> None:
    if int(r.attrs.get("axis", -1)) not in (-1,) and r.node.op_type == "LayerNormalization":
        raise ConversionError(f"LayerNormalization node {r.base!r} (com.microsoft): only axis -1 is supported")
    simplified = r.node.op_type == "SimplifiedLayerNormalization"
    r.layer_norm(r.input(0), r.input(1), "" if simplified else r.input(2), float(r.attrs.get("epsilon", 1e-5)),
                 r.output(0), simplified)


def _skip_layer_norm(r: _Rewriter) -> None:
    simplified = r.node.op_type == "SkipSimplifiedLayerNormalization"
    s = r.op("Add", [r.input(0), r.input(1)])
    bias = r.input(3) if simplified else r.input(4)
    if bias:
        s = r.op("Add", [s, bias])
    if r.output(3):
        r.op("Identity", [s], r.output(3))
    if r.output(1) or r.output(2):
        raise ConversionError(f"{r.node.op_type} node {r.base!r}: the mean / inv_std_var outputs are not supported")
    r.layer_norm(s, r.input(2), "" if simplified else r.input(3), float(r.attrs.get("epsilon", 1e-12)),
                 r.output(0), simplified)


def _fused_matmul(r: _Rewriter) -> None:
    if r.attrs.get("transBatchA", 0) or r.attrs.get("transBatchB", 0):
        raise ConversionError(f"FusedMatMul node {r.base!r}: transBatchA / transBatchB are not supported")
    operands = []
    for i, key in ((0, "transA"), (1, "transB")):
        x = r.input(i)
        if r.attrs.get(key, 0):
            x = r.op("Transpose", [x], perm=_last_two_swapped(r, i))
        operands.append(x)
    alpha = float(r.attrs.get("alpha", 1.0))
    if alpha == 1.0:
        r.op("MatMul", operands, r.output(0))
    else:
        r.op("Mul", [r.op("MatMul", operands), r.const(alpha)], r.output(0))


def _last_two_swapped(r: _Rewriter, i: int) -> list[int]:
    rank = r.ranks.get(r.input(i))
    if rank is None or rank < 2:
        raise ConversionError(f"{r.node.op_type} node {r.base!r}: transposed operand {i} needs a known rank")
    return list(range(rank - 2)) + [rank - 1, rank - 2]


_ACTIVATIONS: dict[str, Callable[[_Rewriter, str, str, list[float]], str]] = {
    "Relu": lambda r, x, out, p: r.op("Relu", [x], out),
    "Sigmoid": lambda r, x, out, p: r.op("Sigmoid", [x], out),
    "Tanh": lambda r, x, out, p: r.op("Tanh", [x], out),
    "LeakyRelu": lambda r, x, out, p: r.op("LeakyRelu", [x], out, alpha=p[0] if p else 0.01),
    "HardSigmoid": lambda r, x, out, p: r.op("HardSigmoid", [x], out, alpha=p[0] if p else 0.2,
                                             beta=p[1] if len(p) > 1 else 0.5),
    "Clip": lambda r, x, out, p: r.op("Clip", [x, r.const(p[0]), r.const(p[1])], out),
}


def _fused_conv(r: _Rewriter) -> None:
    conv_attrs = {k: v for k, v in r.attrs.items() if k not in ("activation", "activation_params")}
    activation = r.attrs.get("activation", b"")
    activation = activation.decode() if isinstance(activation, bytes) else str(activation)
    y = r.op("Conv", [i for i in (r.input(0), r.input(1), r.input(2)) if i], None, **conv_attrs)
    if r.input(3):  # Z: added before the activation
        y = r.op("Add", [y, r.input(3)])
    if not activation:
        r.op("Identity", [y], r.output(0))
        return
    if activation not in _ACTIVATIONS:
        raise ConversionError(f"FusedConv node {r.base!r}: activation {activation!r} is not supported")
    _ACTIVATIONS[activation](r, y, r.output(0), [float(v) for v in r.attrs.get("activation_params", [])])


def _dynamic_quantize_matmul(r: _Rewriter) -> None:
    """A quantized dynamically (uint8, per tensor) as onnxruntime does, B dequantized."""
    q, scale, zp = r.name("a_q"), r.name("a_scale"), r.name("a_zp")
    r.nodes.append(helper.make_node("DynamicQuantizeLinear", [r.input(0)], [q, scale, zp], name=r.name("dql")))
    a = r.dequantize(q, scale, zp)
    b = _dequantize_weight(r, 1, 2, 3)
    bias = r.input(4)
    r.op("MatMul", [a, b], None if bias else r.output(0))
    if bias:
        r.op("Add", [r.nodes[-1].output[0], bias], r.output(0))


def _dequantize_weight(r: _Rewriter, q: int, scale: int, zp: int) -> str:
    """A constant quantized matrix [K, N] with per-tensor or per-column (N) scales, as a float constant."""
    w = r.value(q).astype(np.float32)
    s = r.value(scale).astype(np.float32)
    z = r.value(zp).astype(np.float32) if r.input(zp) else np.zeros_like(s)
    return r.const((w - z) * s, "w")


def _matmul_integer_to_float(r: _Rewriter) -> None:
    a = r.dequantize(r.input(0), r.input(2), r.input(4))
    per_column = r.inits.get(r.input(3), np.zeros(1)).size > 1
    b = r.dequantize(r.input(1), r.input(3), r.input(5), axis=1 if per_column else None)
    bias = r.input(6)
    y = r.op("MatMul", [a, b], None if bias else r.output(0))
    if bias:
        r.op("Add", [y, bias], r.output(0))


def _matmul_nbits(r: _Rewriter) -> None:
    """Blockwise 4/8-bit weights ([N, blocks, blob]; scales [N, blocks]; packed zero points) as a float [K, N]."""
    k, n, bits, block = (int(r.attrs[key]) for key in ("K", "N", "bits", "block_size"))
    if bits not in (4, 8) or r.input(4):
        raise ConversionError(f"MatMulNBits node {r.base!r}: only 4- and 8-bit weights without g_idx are supported")
    packed = r.value(1).reshape(n, -1)
    if bits == 4:
        q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, -1)
    else:
        q = packed.reshape(n, -1)
    blocks = -(-k // block)
    q = q[:, :blocks * block].reshape(n, blocks, block).astype(np.float32)
    scales = r.value(2).astype(np.float32).reshape(n, blocks)
    if r.input(3):
        zp = r.value(3)
        if zp.dtype == np.uint8:
            zp = zp.reshape(n, -1)
            if bits == 4:
                zp = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)
            zp = zp[:, :blocks].astype(np.float32)
        else:
            zp = zp.astype(np.float32).reshape(n, blocks)
    else:
        zp = np.full((n, blocks), float(1 << (bits - 1)), np.float32)
    w = ((q - zp[:, :, None]) * scales[:, :, None]).reshape(n, blocks * block)[:, :k]
    y = r.op("MatMul", [r.input(0), r.const(np.ascontiguousarray(w.T), "w")], None if r.input(5) else r.output(0))
    if r.input(5):
        r.op("Add", [y, r.input(5)], r.output(0))


def _int8_per_direction(r: _Rewriter, q: int, scale: int, zp: int) -> bool:
    """Weights the runtime's dynamic LSTM takes: int8, one scale per direction, zero point 0."""
    w, s = r.value(q), r.value(scale)
    return w.dtype == np.int8 and s.ndim == 1 and s.size == w.shape[0] and not (r.input(zp) and np.any(r.value(zp)))


def _dynamic_quantize_lstm(r: _Rewriter) -> None:
    """An LSTM on the weights ([dirs, in, 4H] -> ONNX's [dirs, 4H, in]). int8 ones with one scale
    per direction stay int8 behind a DequantizeLinear and the LSTM is marked nanort_dynamic_int8:
    the runtime's dynamic LSTM quantizes x and h at run time as onnxruntime does
    (passes/dynamic_lstm.py). Others become an fp32 LSTM on the dequantized weights."""
    operands = ((1, 8, 9), (2, 10, 11))
    dynamic = all(_int8_per_direction(r, *operand) for operand in operands)
    weights = []
    for q, scale, zp in operands:
        w, s = r.value(q), r.value(scale).astype(np.float32)
        if dynamic:
            weights.append(r.op("DequantizeLinear", [r.const(np.ascontiguousarray(w.transpose(0, 2, 1)), "wq", np.int8),
                                                     r.const(s, "scale")], axis=0))
            continue
        w = w.astype(np.float32)
        s = s.reshape(-1, 1, 1) if s.ndim == 1 else s
        z = r.value(zp).astype(np.float32).reshape(s.shape) if r.input(zp) else 0.0
        if np.ndim(s) == 2:  # per direction and output column
            s = s[:, None, :]
            z = z[:, None, :] if not np.isscalar(z) else z
        weights.append(r.const(np.ascontiguousarray(((w - z) * s).transpose(0, 2, 1)), "w"))
    inputs = [r.input(0), weights[0], weights[1]] + [r.input(i) for i in range(3, 8)]
    while inputs and not inputs[-1]:
        inputs.pop()
    marker = {"nanort_dynamic_int8": 1} if dynamic else {}
    r.nodes.append(helper.make_node("LSTM", inputs, list(r.node.output), name=r.name("LSTM"),
                                    **{k: v for k, v in r.attrs.items()}, **marker))


def _qlinear_binary(r: _Rewriter) -> None:
    a = r.dequantize(r.input(0), r.input(1), r.input(2))
    b = r.dequantize(r.input(3), r.input(4), r.input(5))
    y = r.op(r.node.op_type[len("QLinear"):], [a, b])
    r.quantize(y, r.input(6), r.input(7), r.output(0))


def _qlinear_unary(r: _Rewriter) -> None:
    x = r.dequantize(r.input(0), r.input(1), r.input(2))
    op = r.node.op_type[len("QLinear"):]
    attrs = {k: v for k, v in r.attrs.items() if k != "channels_last"}
    if r.attrs.get("channels_last", 0):
        raise ConversionError(f"{r.node.op_type} node {r.base!r}: channels_last is not supported")
    r.quantize(r.op(op, [x], **attrs), r.input(3), r.input(4), r.output(0))


def _qlinear_concat(r: _Rewriter) -> None:
    parts = [r.dequantize(r.input(i), r.input(i + 1), r.input(i + 2)) for i in range(2, len(r.node.input), 3)]
    r.quantize(r.op("Concat", parts, axis=int(r.attrs["axis"])), r.input(0), r.input(1), r.output(0))


def _qgemm(r: _Rewriter) -> None:
    a = r.dequantize(r.input(0), r.input(1), r.input(2))
    b_scale = r.inits.get(r.input(4))
    axis = None
    if b_scale is not None and b_scale.size > 1:
        axis = 0 if r.attrs.get("transB", 0) else 1
    b = r.dequantize(r.input(3), r.input(4), r.input(5), axis)
    bias = r.input(6)
    if bias and r.inits.get(bias) is not None and r.inits[bias].dtype == np.int32:
        # an int32 bias at scale a_scale * b_scale (per column)
        bias = r.const(r.value(6).astype(np.float32) * r.value(1).astype(np.float32) * r.value(4).astype(np.float32),
                       "bias")
    inputs = [a, b] + ([bias] if bias else [])
    gemm_attrs = {k: r.attrs[k] for k in ("alpha", "transA", "transB") if k in r.attrs}
    if r.input(7):
        r.quantize(r.op("Gemm", inputs, **gemm_attrs), r.input(7), r.input(8), r.output(0))
    else:
        r.op("Gemm", inputs, r.output(0), **gemm_attrs)


def _attention(r: _Rewriter) -> None:
    """Attention (the BERT / GPT-2 optimizer's): QKV = x W + b, per-head scaled
    dot products with the mask (2-D raw 0/1 mask, or 1-D key lengths) and, when
    unidirectional, the causal mask; softmax; context."""
    if any(r.input(i) for i in range(4, len(r.node.input))) or len(r.node.output) > 1:
        raise ConversionError(f"Attention node {r.base!r}: past state / extra inputs and outputs are not supported")
    heads = int(r.attrs["num_heads"])
    w = r.value(1)
    hidden = w.shape[1] // 3
    sizes = r.attrs.get("qkv_hidden_sizes")
    if sizes and len(set(sizes)) != 1:
        raise ConversionError(f"Attention node {r.base!r}: unequal qkv_hidden_sizes are not supported")
    head = hidden // heads
    qkv = r.op("Add", [r.op("MatMul", [r.input(0), r.input(1)]), r.input(2)])
    q, k, v = (r.name(n) for n in "qkv")
    if r.opset >= 13:
        r.nodes.append(helper.make_node("Split", [qkv, r.const([hidden] * 3, "split", np.int64)], [q, k, v], axis=2,
                                        name=r.name("Split")))
    else:
        r.nodes.append(helper.make_node("Split", [qkv], [q, k, v], axis=2, split=[hidden] * 3, name=r.name("Split")))
    shape = r.const([0, 0, heads, head], "shape", np.int64)
    qh, kh, vh = (r.op("Transpose", [r.op("Reshape", [t, shape])], perm=[0, 2, 1, 3]) for t in (q, k, v))
    kt = r.op("Transpose", [kh], perm=[0, 1, 3, 2])
    scale = float(r.attrs.get("scale", 1.0 / math.sqrt(head)))
    scores = r.op("Mul", [r.op("MatMul", [qh, kt]), r.const(scale)])
    filler = float(r.attrs.get("mask_filter_value", -10000.0))
    if r.input(3):
        mask = r.op("Cast", [r.input(3)], to=TensorProto.FLOAT)
        rank = r.ranks.get(r.input(3))
        if rank != 2:
            raise ConversionError(f"Attention node {r.base!r}: only a 2-D [batch, sequence] mask is supported")
        # (1 - mask) * filler, broadcast over heads and query positions
        bias = r.op("Mul", [r.op("Sub", [r.const(1.0), mask]), r.const(filler)])
        scores = r.op("Add", [scores, r.unsqueeze(bias, [1, 2])])
    if r.attrs.get("unidirectional", 0):
        if r.opset < 14:
            raise ConversionError(f"Attention node {r.base!r}: unidirectional needs opset 14 (Trilu)")
        ones = r.op("ConstantOfShape", [r.op("Shape", [scores])], value=numpy_helper.from_array(np.ones(1, np.float32)))
        upper = r.op("Trilu", [ones, r.const(1, "k", np.int64)], upper=1)
        scores = r.op("Add", [scores, r.op("Mul", [upper, r.const(filler)])])
    probs = r.op("Softmax", [scores], axis=-1)
    context = r.op("Transpose", [r.op("MatMul", [probs, vh])], perm=[0, 2, 1, 3])
    r.op("Reshape", [context, r.const([0, 0, hidden], "shape", np.int64)], r.output(0))


def _embed_layer_norm(r: _Rewriter) -> None:
    """EmbedLayerNormalization: word + position (+ segment) embeddings, layer norm;
    mask_index = the number of ones per row of the mask (int32)."""
    ids = r.input(0)
    emb = r.op("Gather", [r.input(2), ids], axis=0)
    positions = r.input(8)
    if not positions:
        length = r.op("Gather", [r.op("Shape", [ids]), r.const(1, "one", np.int64)], axis=0)
        positions = r.unsqueeze(r.op("Range", [r.const(0, "zero", np.int64), length, r.const(1, "one", np.int64)]),
                                [0])
    emb = r.op("Add", [emb, r.op("Gather", [r.input(3), positions], axis=0)])
    if r.input(1) and r.input(4):
        emb = r.op("Add", [emb, r.op("Gather", [r.input(4), r.input(1)], axis=0)])
    if r.output(2):
        r.op("Identity", [emb], r.output(2))
    r.layer_norm(emb, r.input(5), r.input(6), float(r.attrs.get("epsilon", 1e-12)), r.output(0))
    if r.output(1):
        if r.input(7):
            r.op("Identity", [r.reduce_sum(r.op("Cast", [r.input(7)], to=TensorProto.INT32), [1])], r.output(1))
        else:
            raise ConversionError(f"EmbedLayerNormalization node {r.base!r}: mask_index without a mask")


REWRITES: dict[str, Callable[[_Rewriter], None]] = {
    "Gelu": _gelu, "BiasGelu": _gelu, "FastGelu": _gelu, "QuickGelu": _quick_gelu,
    "LayerNormalization": _layer_norm, "SimplifiedLayerNormalization": _layer_norm,
    "SkipLayerNormalization": _skip_layer_norm, "SkipSimplifiedLayerNormalization": _skip_layer_norm,
    "FusedMatMul": _fused_matmul, "FusedConv": _fused_conv,
    "DynamicQuantizeMatMul": _dynamic_quantize_matmul, "MatMulIntegerToFloat": _matmul_integer_to_float,
    "MatMulNBits": _matmul_nbits, "DynamicQuantizeLSTM": _dynamic_quantize_lstm,
    "QLinearAdd": _qlinear_binary, "QLinearMul": _qlinear_binary,
    "QLinearSigmoid": _qlinear_unary, "QLinearLeakyRelu": _qlinear_unary,
    "QLinearGlobalAveragePool": _qlinear_unary, "QLinearAveragePool": _qlinear_unary,
    "QLinearConcat": _qlinear_concat, "QGemm": _qgemm,
    "Attention": _attention, "EmbedLayerNormalization": _embed_layer_norm,
}

# Contrib ops the importer registry reports as supported (`nanort ops`).
SUPPORTED = sorted(f"{DOMAIN}:{op}" for op in REWRITES)


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    g = model.graph
    out = {i.name: len(i.dims) for i in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.tensor_type.HasField("shape"):
            out[vi.name] = len(vi.type.tensor_type.shape.dim)
    return out


def rewrite(model: onnx.ModelProto) -> bool:
    """Replaces every com.microsoft node this module knows by standard nodes
    (in place). Returns whether any was replaced."""
    g = model.graph
    if not any(n.domain == DOMAIN and n.op_type in REWRITES for n in g.node):
        return False
    opset = next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), 1)
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:  # constants feeding contrib ops (scales, packed weights) are read as values
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    ranks = _ranks(_inferred(model))
    taken = {o for n in g.node for o in n.output} | set(inits) | {i.name for i in g.input}
    nodes: list[onnx.NodeProto] = []
    for n in g.node:
        if n.domain != DOMAIN or n.op_type not in REWRITES:
            nodes.append(n)
            continue
        r = _Rewriter(n, opset, inits, taken, ranks)
        REWRITES[n.op_type](r)
        nodes.extend(r.nodes)
        g.initializer.extend(r.new_inits)
    del g.node[:]
    g.node.extend(nodes)
    if not any(n.domain == DOMAIN for n in g.node):
        kept = [i for i in model.opset_import if i.domain != DOMAIN]
        del model.opset_import[:]
        model.opset_import.extend(kept)
    return True


def _inferred(model: onnx.ModelProto) -> onnx.ModelProto:
    """Ranks for the rewrites that need them (best effort: contrib ops stop inference at them)."""
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception:
        return model
