"""onnxruntime's dynamic int8 Conv (DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul
[-> Add bias], or the older run-time bias Floor(b / scale) added before the Cast) converted
onto the runtime's dynamic Conv (converter/passes/dynamic_conv.py, ops/conv_dynamic.c):
against onnxruntime running the same file, and against a numpy model of the integer
arithmetic (kernels/requant.h, DynamicConv), on every kernel level."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

import nanort
from nanort.converter import convert_graph
from nanort.converter.ir import QuantParams
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

RNG = np.random.default_rng(11)
LEVELS = cpu_levels()


def float_conv_model(cin, cout, hw, *, kernel=3, stride=1, pads=1, dilation=1, group=1, relu=True):
    """Conv [-> Relu] -> Conv 1x1: what quantize_dynamic is given."""
    w = (RNG.standard_normal((cout, cin // group, kernel, kernel)) * 0.3).astype(np.float32)
    w2 = (RNG.standard_normal((5, cout, 1, 1)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[pads] * 4, strides=[stride] * 2,
                              dilations=[dilation] * 2, group=group),
             helper.make_node("Relu" if relu else "Identity", ["c"], ["r"]),
             helper.make_node("Conv", ["r", "W2"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, *hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "W"), numpy_helper.from_array(w2, "W2"),
                               numpy_helper.from_array(RNG.standard_normal(cout).astype(np.float32), "B")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def quantized(model, tmp_path, weight_type):
    src, dst = tmp_path / "float.onnx", tmp_path / "dynamic.onnx"
    onnx.save(model, src)
    quantize_dynamic(src, dst, weight_type=weight_type)
    return onnx.load(dst)


def run_ort(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def run_nanort(graph, x, isa):
    with nanort.Model(serialize(graph), isa=isa) as runtime:
        return runtime.run(None, {"x": x})[0]


def convert(model):
    return convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))


GEOMETRIES = {  # cin, cout, hw, conv options
    "3x3 stride 2": (3, 8, (16, 20), {"stride": 2}),
    "3x3 wide": (24, 40, (9, 13), {}),
    "1x1": (16, 24, (6, 7), {"kernel": 1, "pads": 0}),
    "5x5 dilated": (6, 10, (12, 12), {"kernel": 5, "pads": 3, "dilation": 2, "relu": False}),
}


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("weight_type", [QuantType.QInt8, QuantType.QUInt8], ids=["int8", "uint8"])
def test_matches_onnxruntime(tmp_path, geometry, weight_type):
    cin, cout, hw, options = GEOMETRIES[geometry]
    model = quantized(float_conv_model(cin, cout, hw, **options), tmp_path, weight_type)
    graph = convert(model)
    assert sorted({n.op for n in graph.nodes}) == ["Conv", "Transpose"]
    assert all(graph.tensors[n.inputs[1]].dtype == np.int8 for n in graph.nodes if n.op == "Conv")
    x = (RNG.standard_normal((1, cin, *hw)) * 2 + 0.3).astype(np.float32)
    want = run_ort(model, x)
    for isa in LEVELS:
        got = run_nanort(graph, x, isa)
        if weight_type == QuantType.QInt8:  # the same float operations in the same order
            np.testing.assert_array_equal(got, want, err_msg=isa)
        else:  # W - shift and shift x the tap sums: two roundings instead of one
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.ptp(want), err_msg=isa)


def test_grouped_conv_stays_emulated(tmp_path):
    model = quantized(float_conv_model(8, 8, (6, 6), group=4), tmp_path, QuantType.QUInt8)
    graph = convert(model)
    grouped = [n for n in graph.nodes if n.op == "Conv" and n.attrs.get("group", 1) == 4]
    assert grouped and graph.tensors[grouped[0].inputs[1]].dtype == np.float32
    x = RNG.standard_normal((1, 8, 6, 6)).astype(np.float32)
    want = run_ort(model, x)
    np.testing.assert_allclose(run_nanort(graph, x, LEVELS[-1]), want, rtol=0, atol=1e-5 * np.ptp(want))


def test_residual_add_and_prelu_after_a_dynamic_conv(tmp_path):
    """A float Add or PRelu reading a conv's output is taken over by a float32 conv (the engine's
    fuse_residuals / fuse_prelus); the dynamic int8 Conv has its own state and takes over neither."""
    c = 8
    w = (RNG.standard_normal((c, c, 3, 3)) * 0.3).astype(np.float32)
    slope = RNG.uniform(0.05, 0.3, (c, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W"], ["conv"], pads=[1] * 4),
             helper.make_node("Add", ["conv", "x"], ["sum"]),
             helper.make_node("Conv", ["sum", "W"], ["conv2"], pads=[1] * 4),
             helper.make_node("PRelu", ["conv2", "slope"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 7, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "W"), numpy_helper.from_array(slope, "slope")])
    model = quantized(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8),
                      tmp_path, QuantType.QInt8)
    converted = convert(model)
    assert sum(n.op == "Conv" and converted.tensors[n.inputs[1]].dtype == np.int8 for n in converted.nodes) == 2
    x = RNG.standard_normal((1, c, 7, 9)).astype(np.float32)
    want = run_ort(model, x)
    for isa in LEVELS:
        np.testing.assert_allclose(run_nanort(converted, x, isa), want, rtol=0, atol=1e-5 * np.ptp(want),
                                   err_msg=isa)


def run_time_bias_model(w_uint8, w_zero, w_scale, bias, stride):
    """onnxruntime's older quantize_dynamic output (ddddocr's model): the bias quantized at run time
    as int32(Floor(b / (s * w_scale))) and added to the ConvInteger result before the Cast."""
    cout = w_uint8.shape[0]
    inits = {"W": w_uint8, "wz": np.array(w_zero, np.uint8), "ws": np.array(w_scale, np.float32), "b": bias,
             "shape": np.array([1, cout, 1, 1], np.int64)}
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
             helper.make_node("Mul", ["s", "ws"], ["bias_scale"]),
             helper.make_node("Div", ["b", "bias_scale"], ["bias_div"]),
             helper.make_node("Floor", ["bias_div"], ["bias_floor"]),
             helper.make_node("Cast", ["bias_floor"], ["bias_int"], to=TensorProto.INT32),
             helper.make_node("ConvInteger", ["q", "W", "z", "wz"], ["acc"], pads=[1, 1, 1, 1],
                              strides=[stride, stride]),
             helper.make_node("Reshape", ["bias_int", "shape"], ["bias_4d"]),
             helper.make_node("Add", ["acc", "bias_4d"], ["acc_bias"]),
             helper.make_node("Cast", ["acc_bias"], ["acc_float"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["s", "ws"], ["scales"]),
             helper.make_node("Mul", ["acc_float", "scales"], ["y"])]
    cin = w_uint8.shape[1]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 10, 14])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def dynamic_quantize(x):
    """ONNX DynamicQuantizeLinear: uint8 q and its scale and zero point, in float32."""
    lo, hi = np.float32(min(x.min(), 0)), np.float32(max(x.max(), 0))
    s = np.float32((hi - lo) / np.float32(255))
    z = np.clip(np.rint(np.float32(0) - lo / s), 0, 255)
    return np.clip(np.rint(x / s) + z, 0, 255).astype(np.int64), s, int(z)


def numpy_dynamic_conv(x, w_int8, w_zero, w_scale, bias, stride):
    """requant.h DynamicConv, 3x3 with padding 1, on NCHW x (int8 W - shift, z_w = -shift)."""
    q, s, z = dynamic_quantize(x)
    padded = np.pad(q[0], ((0, 0), (1, 1), (1, 1)), constant_values=z) - z
    cout, cin, kh, kw = w_int8.shape
    oh, ow = (padded.shape[1] - kh) // stride + 1, (padded.shape[2] - kw) // stride + 1
    taps = np.stack([padded[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
                     for ky in range(kh) for kx in range(kw)], 1)  # [cin, taps, oh, ow]
    acc = np.einsum("ctyx,oct->oyx", taps, w_int8.reshape(cout, cin, -1).astype(np.int64))
    ms = (s * np.float32(w_scale)).astype(np.float32)
    v = acc.astype(np.float32) * ms + bias[:, None, None]
    r = taps.sum((0, 1))
    return (v + (-w_zero * r).astype(np.float32) * ms)[None]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("w_range, w_zero, shift", [
    ((0, 256), 90, 38),      # W - w_zero spans -90..165: int8 W - 38, zero point -38
    ((0, 56), 255, -127),    # -255..-200: int8 W + 127, zero point 127 (the int8 nearest)
    ((0, 200), 100, 0)])     # -100..99: int8 as it is
def test_run_time_bias_form_and_the_integer_arithmetic(stride, w_range, w_zero, shift):
    cout, cin = 12, 7
    w_uint8 = RNG.integers(*w_range, (cout, cin, 3, 3)).astype(np.uint8)
    w_scale = 0.004
    bias = RNG.standard_normal(cout).astype(np.float32)
    model = run_time_bias_model(w_uint8, w_zero, w_scale, bias, stride)
    graph = convert(model)
    assert sorted({n.op for n in graph.nodes}) == ["Conv", "Transpose"]
    (conv,) = [n for n in graph.nodes if n.op == "Conv"]
    assert graph.tensors[conv.inputs[1]].quant.zero_point.tolist() == [-shift]
    x = (RNG.standard_normal((1, cin, 10, 14)) + 0.5).astype(np.float32)
    want = numpy_dynamic_conv(x, (w_uint8.astype(np.int64) - w_zero - shift).astype(np.int8), -shift, w_scale, bias,
                              stride)
    ort_y = run_ort(model, x)
    _, s, _ = dynamic_quantize(x)
    # onnxruntime's bias is Floor(b / step) steps: below b by less than one step s * w_scale
    assert np.abs(ort_y - want).max() <= np.float32(s * w_scale) * 1.01 + 1e-6 * np.ptp(want)
    for isa in LEVELS:
        np.testing.assert_array_equal(run_nanort(graph, x, isa), want, err_msg=isa)


@pytest.mark.parametrize("change, message", [
    (lambda g, conv: conv.attrs.update(group=2), "takes group 1 only"),
    (lambda g, conv: setattr(g.tensors[conv.inputs[1]], "quant", QuantParams(
        np.full(8, 0.01, np.float32), np.arange(8), 0)), "zero points that differ"),
])
def test_a_dynamic_conv_the_runtime_cannot_run_is_refused_in_one_line(tmp_path, change, message):
    model = quantized(float_conv_model(4, 8, (6, 6), relu=False), tmp_path, QuantType.QUInt8)
    graph = convert(model)
    change(graph, next(n for n in graph.nodes if n.op == "Conv"))
    with pytest.raises(nanort.Error, match=message):
        run_nanort(graph, np.zeros((1, 4, 6, 6), np.float32), "auto")


def test_static_int8_keeps_the_dynamic_convs(tmp_path):
    """--quantize int8 of an onnxruntime dynamic int8 model leaves its dynamic Convs as they are
    (their int8 weights were taken for float ones before)."""
    model = quantized(float_conv_model(3, 8, (12, 12)), tmp_path, QuantType.QUInt8)
    onnx.save(model, tmp_path / "m.onnx")
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    calibration = [{"x": RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)} for _ in range(4)]
    report = nanort.convert(tmp_path / "m.onnx", tmp_path / "int8.nrt", quantize="int8", calibration=calibration,
                            fix_accuracy=False)  # (no fixer to put a broken layer back in fp32)
    kept = [why for _, op, why in report.quantization.result.float_nodes if op == "Conv"]
    assert kept == ["int8 weights of a dynamic int8 op: x quantized at run time"] * 2
    with nanort.Model(tmp_path / "int8.nrt") as runtime:
        got = runtime.run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, run_nanort(convert(model), x, "auto"))
