"""onnxruntime's com.microsoft ops (converter/contrib_ops.py rewrites them
into standard ONNX) against onnxruntime itself, which runs them natively."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort

F = TensorProto.FLOAT
MS = "com.microsoft"
RNG = np.random.default_rng(0)


def _check(tmp_path, nodes, inputs, outputs, feeds, inits=(), opset=17, atol=1e-5, rtol=1e-5):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    want = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, feeds)
    nanort.convert(src, tmp_path / "m.nrt")
    with nanort.Model(tmp_path / "m.nrt") as m:
        got = list(m.run(feeds).values())
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=atol, rtol=rtol)


def _vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def _f(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _c(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


@pytest.mark.parametrize("op, with_bias", [("Gelu", False), ("BiasGelu", True), ("FastGelu", True),
                                           ("FastGelu", False), ("QuickGelu", False)])
def test_gelu_family(tmp_path, op, with_bias):
    inputs = ["x"] + (["b"] if with_bias else [])
    _check(tmp_path, [helper.make_node(op, inputs, ["y"], domain=MS)], [_vi("x", [2, 5, 8])], [_vi("y", None)],
           {"x": _f(2, 5, 8)}, [_c("b", _f(8))] if with_bias else [])


@pytest.mark.parametrize("opset", [13, 17])
def test_skip_layer_normalization(tmp_path, opset):
    nodes = [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], ["y", "", "", "sum"],
                              domain=MS, epsilon=1e-5)]
    _check(tmp_path, nodes, [_vi("x", [2, 4, 16]), _vi("skip", [2, 4, 16])], [_vi("y", None), _vi("sum", None)],
           {"x": _f(2, 4, 16), "skip": _f(2, 4, 16)},
           [_c("gamma", _f(16)), _c("beta", _f(16)), _c("bias", _f(16))], opset=opset)


def test_simplified_layer_normalization(tmp_path):
    nodes = [helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["y"], domain=MS,
                              epsilon=1e-6)]
    _check(tmp_path, nodes, [_vi("x", [1, 3, 32]), _vi("skip", [1, 3, 32])], [_vi("y", None)],
           {"x": _f(1, 3, 32), "skip": _f(1, 3, 32)}, [_c("gamma", _f(32))])


def test_fused_matmul(tmp_path):
    nodes = [helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, transA=1, transB=1, alpha=0.5)]
    _check(tmp_path, nodes, [_vi("a", [2, 6, 3]), _vi("b", [2, 5, 6])], [_vi("y", None)],
           {"a": _f(2, 6, 3), "b": _f(2, 5, 6)})


@pytest.mark.parametrize("activation, params", [("Relu", None), ("LeakyRelu", [0.1]), ("Clip", [-1.0, 1.0]),
                                                ("HardSigmoid", [0.3, 0.4]), ("", None)])
def test_fused_conv(tmp_path, activation, params):
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    if activation:
        attrs["activation"] = activation
    if params:
        attrs["activation_params"] = params
    nodes = [helper.make_node("FusedConv", ["x", "w", "b"], ["y"], domain=MS, **attrs)]
    _check(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], {"x": _f(1, 3, 8, 8)},
           [_c("w", _f(4, 3, 3, 3)), _c("b", _f(4))], atol=1e-4)


@pytest.mark.parametrize("unidirectional", [0, 1])
def test_attention(tmp_path, unidirectional):
    hidden, heads, seq = 16, 2, 5
    nodes = [helper.make_node("Attention", ["x", "w", "b", "mask"], ["y"], domain=MS, num_heads=heads,
                              unidirectional=unidirectional)]
    mask = np.ones((2, seq), np.int32)
    mask[1, 3:] = 0
    _check(tmp_path, nodes, [_vi("x", [2, seq, hidden]), _vi("mask", [2, seq], TensorProto.INT32)], [_vi("y", None)],
           {"x": _f(2, seq, hidden), "mask": mask}, [_c("w", _f(hidden, 3 * hidden)), _c("b", _f(3 * hidden))],
           atol=1e-4)


def test_embed_layer_normalization(tmp_path):
    nodes = [helper.make_node("EmbedLayerNormalization",
                              ["ids", "segments", "word", "pos", "seg", "gamma", "beta", "mask"], ["y", "mask_index"],
                              domain=MS, epsilon=1e-12)]
    ids = RNG.integers(0, 50, (2, 7)).astype(np.int32)
    seg = RNG.integers(0, 2, (2, 7)).astype(np.int32)
    mask = np.ones((2, 7), np.int32)
    mask[0, 5:] = 0
    _check(tmp_path, nodes, [_vi("ids", [2, 7], TensorProto.INT32), _vi("segments", [2, 7], TensorProto.INT32),
                             _vi("mask", [2, 7], TensorProto.INT32)],
           [_vi("y", None), _vi("mask_index", None, TensorProto.INT32)], {"ids": ids, "segments": seg, "mask": mask},
           [_c("word", _f(50, 16)), _c("pos", _f(16, 16)), _c("seg", _f(2, 16)), _c("gamma", _f(16)),
            _c("beta", _f(16))], atol=1e-4)


def test_matmul_nbits(tmp_path):
    k, n, block = 64, 8, 32
    blocks = k // block
    packed = RNG.integers(0, 256, (n, blocks, block // 2)).astype(np.uint8)
    scales = RNG.uniform(0.01, 0.1, (n * blocks,)).astype(np.float32)
    zero_points = RNG.integers(0, 256, (n * ((blocks + 1) // 2),)).astype(np.uint8)
    nodes = [helper.make_node("MatMulNBits", ["a", "w", "s", "z"], ["y"], domain=MS, K=k, N=n, bits=4,
                              block_size=block)]
    _check(tmp_path, nodes, [_vi("a", [3, k])], [_vi("y", None)], {"a": _f(3, k)},
           [_c("w", packed), _c("s", scales), _c("z", zero_points)], atol=1e-4)


def test_dynamic_quantize_matmul(tmp_path):
    w = RNG.integers(-127, 128, (16, 8)).astype(np.int8)
    nodes = [helper.make_node("DynamicQuantizeMatMul", ["a", "w", "s", "z", "bias"], ["y"], domain=MS)]
    _check(tmp_path, nodes, [_vi("a", [4, 16])], [_vi("y", None)], {"a": _f(4, 16)},
           [_c("w", w), _c("s", np.array([0.02], np.float32)), _c("z", np.array([0], np.int8)), _c("bias", _f(8))],
           atol=1e-4)


def test_qlinear_ops_and_qgemm(tmp_path):
    """QLinearAdd -> QLinearSigmoid -> QLinearGlobalAveragePool -> QGemm (uint8 activations)."""
    u8 = TensorProto.UINT8
    inits = [_c("s", np.float32(0.05)), _c("z", np.uint8(128)), _c("so", np.float32(0.004)), _c("zo", np.uint8(0)),
             _c("w", RNG.integers(-100, 100, (6, 4)).astype(np.int8)), _c("ws", np.float32(0.01)),
             _c("wz", np.int8(0)), _c("ys", np.float32(0.02)), _c("yz", np.uint8(120))]
    nodes = [helper.make_node("QLinearAdd", ["a", "s", "z", "b", "s", "z", "s", "z"], ["sum"], domain=MS),
             helper.make_node("QLinearSigmoid", ["sum", "s", "z", "so", "zo"], ["sig"], domain=MS),
             helper.make_node("QLinearGlobalAveragePool", ["sig", "so", "zo", "so", "zo"], ["pooled"], domain=MS),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("QGemm", ["flat", "so", "zo", "w", "ws", "wz", "", "ys", "yz"], ["y"], domain=MS,
                              transB=1)]
    feeds = {"a": RNG.integers(0, 256, (1, 4, 5, 5)).astype(np.uint8),
             "b": RNG.integers(0, 256, (1, 4, 5, 5)).astype(np.uint8)}
    # quantized arithmetic: one step of the output scale apart at most
    _check(tmp_path, nodes, [_vi("a", [1, 4, 5, 5], u8), _vi("b", [1, 4, 5, 5], u8)], [_vi("y", None, u8)], feeds,
           inits, atol=1.01)
