"""onnxruntime's dynamic int8 MatMul (DynamicQuantizeLinear -> MatMulInteger ->
Cast -> Mul by the scales [-> Add bias]) converted onto the runtime's dynamic
FullyConnected that quantizes x as one tensor (converter/passes/dynamic_int8.py):
its results against onnxruntime running the same file, on every kernel level."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

RNG = np.random.default_rng(7)


def dynamic_matmul_model(m, k, n, *, w_scale, bias=False, gelu=False, w_zero_point=0, w_type=np.int8):
    """What onnxruntime.quantization.quantize_dynamic writes for x [1, m, k] @ W [k, n]."""
    info = np.iinfo(w_type)
    w = RNG.integers(max(info.min, -127), info.max + 1, (k, n)).astype(w_type)
    inits = {"W": w, "ws": np.asarray(w_scale, np.float32), "wz": np.full(np.shape(w_scale), w_zero_point, w_type)}
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
             helper.make_node("Mul", ["s", "ws"], ["scales"]),
             helper.make_node("MatMulInteger", ["q", "W", "z", "wz"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["acc_float"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["acc_float", "scales"], ["y0" if bias or gelu else "y"])]
    last = "y0"
    if bias:
        inits["b"] = RNG.standard_normal(n).astype(np.float32)
        nodes.append(helper.make_node("Add", ["b", last], ["y1" if gelu else "y"]))
        last = "y1"
    if gelu:
        inits.update(sqrt2=np.array(np.sqrt(2), np.float32), one=np.array(1, np.float32),
                     half=np.array(0.5, np.float32))
        nodes += [helper.make_node("Div", [last, "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                  helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", [last, "e1"], ["g"]),
                  helper.make_node("Mul", ["g", "half"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, name) for name, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def convert(model):
    return convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))


def run_ort(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("isa", cpu_levels())
@pytest.mark.parametrize("m,k,n,w_scale,bias", [
    (5, 32, 16, 0.01, False),                                           # per-tensor weight scale
    (37, 100, 70, np.linspace(0.001, 0.02, 70), True),                  # per column, odd sizes, bias
    (64, 256, 96, 0.003, True)])
def test_matches_onnxruntime_exactly(isa, m, k, n, w_scale, bias):
    model = dynamic_matmul_model(m, k, n, w_scale=w_scale, bias=bias)
    graph = convert(model)
    assert [(node.op, node.attrs.get("dynamic_per_tensor")) for node in graph.nodes] == [("FullyConnected", True)]
    x = (RNG.standard_normal((1, m, k)) * 3 + 0.5).astype(np.float32)
    x[0, 0, :3] = [0.0, -0.0, 40.0]  # an outlier widens the one tensor-wide range
    with nanort.Model(serialize(graph), isa=isa) as runtime:
        got = runtime.run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, run_ort(model, x))


def test_activation_after_the_bias_stays_on_the_vector_kernels():
    model = dynamic_matmul_model(16, 64, 128, w_scale=0.01, bias=True, gelu=True)
    graph = convert(model)
    assert [node.op for node in graph.nodes] == ["FullyConnected", "Add"]
    assert graph.nodes[1].attrs.get("activation")  # the Gelu, fused into the bias Add
    x = RNG.standard_normal((1, 16, 64)).astype(np.float32)
    with nanort.Model(serialize(graph)) as runtime:
        np.testing.assert_allclose(runtime.run(None, {"x": x})[0], run_ort(model, x), rtol=1e-5, atol=1e-5)


def test_all_zero_input():
    model = dynamic_matmul_model(4, 16, 8, w_scale=0.01)
    x = np.zeros((1, 4, 16), np.float32)
    with nanort.Model(serialize(convert(model))) as runtime:
        np.testing.assert_array_equal(runtime.run(None, {"x": x})[0], run_ort(model, x))


def test_uint8_weights_with_a_zero_point_run_shifted():
    """uint8 W minus its zero point (-119..136) is int8 W - 9 and 9 times the sum of (q - z),
    which an extra output channel of ones gives: the kernels' float arithmetic, within a few ulp."""
    model = dynamic_matmul_model(20, 96, 40, w_scale=0.002, bias=True, w_zero_point=119, w_type=np.uint8)
    graph = convert(model)
    (fc,) = [node for node in graph.nodes if node.op == "FullyConnected"]
    assert fc.attrs.get("dynamic_per_tensor") and graph.const(fc.inputs[1]).shape == (41, 96)
    x = RNG.standard_normal((1, 20, 96)).astype(np.float32)
    want = run_ort(model, x)
    with nanort.Model(serialize(graph)) as runtime:
        got = runtime.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * float(want.max() - want.min()))


def test_weight_zero_point_with_per_column_scales_keeps_the_float_emulation():
    """(W - 3) needs the shift, which takes one weight scale: per-column scales stay the exact float emulation."""
    model = dynamic_matmul_model(6, 24, 10, w_scale=np.linspace(0.01, 0.02, 10), w_zero_point=3)
    graph = convert(model)
    assert not any(node.attrs.get("dynamic_per_tensor") for node in graph.nodes)
    x = RNG.standard_normal((1, 6, 24)).astype(np.float32)
    with nanort.Model(serialize(graph)) as runtime:
        np.testing.assert_array_equal(runtime.run(None, {"x": x})[0], run_ort(model, x))


def test_weight_only_dequantize_is_not_static_quantization(tmp_path):
    """A DequantizeLinear of a constant (onnxruntime's quantized embedding tables) gives no
    activation scales: the model converts as a float one, not as a pre-quantized int8 one."""
    model = dynamic_matmul_model(4, 16, 8, w_scale=0.01)
    table = RNG.integers(0, 255, (10, 16)).astype(np.uint8)
    graph = model.graph
    graph.initializer.extend([numpy_helper.from_array(table, "table"),
                              numpy_helper.from_array(np.array(0.05, np.float32), "table_scale"),
                              numpy_helper.from_array(np.array(128, np.uint8), "table_zp")])
    graph.node.insert(0, helper.make_node("Gather", ["table", "ids"], ["rows_q"]))
    graph.node.insert(1, helper.make_node("DequantizeLinear", ["rows_q", "table_scale", "table_zp"], ["rows"]))
    graph.node.insert(2, helper.make_node("Add", ["rows", "x0"], ["x"]))
    del graph.input[:]
    graph.input.extend([helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4]),
                        helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, 4, 16])])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    report = nanort.convert(path, tmp_path / "m.nrt")
    assert report.quantization is None
    feeds = {"ids": RNG.integers(0, 10, (1, 4)).astype(np.int64),
             "x0": RNG.standard_normal((1, 4, 16)).astype(np.float32)}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    with nanort.Model(tmp_path / "m.nrt") as runtime:
        np.testing.assert_array_equal(runtime.run(None, feeds)[0], want)


def conv_integer_model(layers=1, group=1):
    """onnxruntime's dynamic ConvInteger as in ddddocr's common_old.onnx: uint8 W with a zero point,
    the bias quantized at run time (Floor of b / (s_x * s_w), Cast to int32) and added in int32."""
    inits, nodes = {"b_shape": np.array([1, 4, 1, 1], np.int64)}, []
    for i in range(layers):
        x, y = f"x{i}" if i else "x", f"x{i + 1}" if i + 1 < layers else "y"
        inits.update({f"W{i}": RNG.integers(0, 256, (4, 4 // group, 3, 3)).astype(np.uint8),
                      f"wz{i}": np.array(117, np.uint8),
                      f"ws{i}": np.array(0.004, np.float32), f"b{i}": RNG.standard_normal(4).astype(np.float32)})
        nodes += [helper.make_node("DynamicQuantizeLinear", [x], [f"q{i}", f"s{i}", f"z{i}"]),
                  helper.make_node("Mul", [f"s{i}", f"ws{i}"], [f"scales{i}"]),
                  helper.make_node("Div", [f"b{i}", f"scales{i}"], [f"b_div{i}"]),
                  helper.make_node("Floor", [f"b_div{i}"], [f"b_floor{i}"]),
                  helper.make_node("Cast", [f"b_floor{i}"], [f"b_int{i}"], to=TensorProto.INT32),
                  helper.make_node("ConvInteger", [f"q{i}", f"W{i}", f"z{i}", f"wz{i}"], [f"acc{i}"],
                                   pads=[1, 1, 1, 1], group=group),
                  helper.make_node("Reshape", [f"b_int{i}", "b_shape"], [f"b_4d{i}"]),
                  helper.make_node("Add", [f"acc{i}", f"b_4d{i}"], [f"acc_b{i}"]),
                  helper.make_node("Cast", [f"acc_b{i}"], [f"acc_float{i}"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", [f"acc_float{i}", f"scales{i}"], [y])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 12, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, name) for name, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("model", [conv_integer_model(layers=2, group=2),  # (group 1: the dynamic Conv instead)
                                   dynamic_matmul_model(6, 24, 10, w_scale=np.linspace(0.01, 0.02, 10),
                                                        w_zero_point=3)],
                         ids=["conv_integer", "matmul_integer"])
def test_integer_casts_are_dropped(model):
    """The int32 round trip after the float emulation is the identity (and an int32 bias
    Add a float one): no Cast is left and the results stay exact."""
    graph = convert(model)
    assert "Cast" not in [node.op for node in graph.nodes]
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = (RNG.standard_normal(shape) * 2).astype(np.float32)
    with nanort.Model(serialize(graph)) as runtime:
        np.testing.assert_array_equal(runtime.run(None, {"x": x})[0], run_ort(model, x))


def test_dynamic_quantization_keeps_the_channels_last_layout():
    """DynamicQuantizeLinear and the unit-scale DequantizeLinear between two ConvIntegers are
    elementwise: no Transpose between the convs (only the model's input and output change layout)."""
    graph = convert(conv_integer_model(layers=2))
    transposes = [n for n in graph.nodes if n.op == "Transpose" and np.prod(graph.tensors[n.inputs[0]].shape) > 4]
    assert len(transposes) == 2, [n.name for n in transposes]  # (per-channel biases and scales move too: tiny)


def test_matmuls_of_one_input_become_one():
    """Q, K and V of one DynamicQuantizeLinear (own scales, a bias or none, a uint8 W with a zero
    point among them): one FullyConnected and a Split; the results stay onnxruntime's."""
    k = 32
    w = [RNG.integers(-127, 128, (k, 24)).astype(np.int8), RNG.integers(-127, 128, (k, 16)).astype(np.int8),
         RNG.integers(0, 256, (k, 8)).astype(np.uint8)]
    inits = {"W0": w[0], "W1": w[1], "W2": w[2], "ws0": np.array(0.01, np.float32), "ws1": np.array(0.03, np.float32),
             "ws2": np.array(0.002, np.float32), "wz0": np.array(0, np.int8), "wz1": np.array(0, np.int8),
             "wz2": np.array(120, np.uint8), "b1": RNG.standard_normal(16).astype(np.float32)}
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"])]
    for i in range(3):
        nodes += [helper.make_node("Mul", ["s", f"ws{i}"], [f"scales{i}"]),
                  helper.make_node("MatMulInteger", ["q", f"W{i}", "z", f"wz{i}"], [f"acc{i}"]),
                  helper.make_node("Cast", [f"acc{i}"], [f"acc_float{i}"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", [f"acc_float{i}", f"scales{i}"], [f"y{i}" if i != 1 else "p1"])]
    nodes.append(helper.make_node("Add", ["p1", "b1"], ["y1"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10, k])],
                              [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(3)],
                              [numpy_helper.from_array(v, name) for name, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    converted = convert(model)
    assert [n.op for n in converted.nodes].count("FullyConnected") == 1
    x = RNG.standard_normal((1, 10, k)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with nanort.Model(serialize(converted)) as runtime:
        got = runtime.run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=0, atol=1e-5 * float(want[2].max() - want[2].min()))
