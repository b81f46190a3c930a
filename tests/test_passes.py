"""Each converter pass on a small hand-made model: the pass must fire (the op
histogram changes as intended) and the converted model must still agree with
onnxruntime on the original ONNX model."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

RNG = np.random.default_rng(0)
F = TensorProto.FLOAT


def const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def make(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m


def check(model: onnx.ModelProto, feeds: dict, **kwargs) -> dict[str, int]:
    """Converts, compares with onnxruntime, returns the converted op histogram."""
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()), **kwargs)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    with nanort.Model(serialize(graph)) as m:
        got = m.run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    return graph.op_histogram()


def without_layout(hist: dict[str, int]) -> dict[str, int]:
    """The histogram without the NCHW <-> NHWC transposes at the graph's edges."""
    return {k: v for k, v in hist.items() if k != "Transpose"}


def conv_node(x, w, b, y, **attrs):
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], **attrs)


def x_input(shape=(1, 8, 12, 12)):
    return helper.make_tensor_value_info("x", F, list(shape)), {"x": RNG.standard_normal(shape).astype(np.float32)}


def test_batchnorm_folds_into_conv():
    xi, feeds = x_input()
    inits = [const("w", RNG.standard_normal((16, 8, 3, 3)) * 0.2), const("b", RNG.standard_normal(16)),
             const("s", RNG.uniform(0.5, 2, 16)), const("bb", RNG.standard_normal(16)),
             const("m", RNG.standard_normal(16)), const("v", RNG.uniform(0.1, 3, 16))]
    nodes = [conv_node("x", "w", "b", "c", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["y"], epsilon=1e-3)]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits), feeds)
    assert "BatchNormalization" not in hist and hist["Conv"] == 1


def test_scale_shift_and_relu_fold_into_conv():
    xi, feeds = x_input()
    inits = [const("w", RNG.standard_normal((4, 8, 1, 1))), const("k", RNG.standard_normal((1, 4, 1, 1))),
             const("a", [0.25]), const("one", [1.0])]
    nodes = [conv_node("x", "w", None, "c"), helper.make_node("Mul", ["c", "k"], ["d"]),
             helper.make_node("Add", ["a", "d"], ["e"]), helper.make_node("Mul", ["e", "one"], ["f"]),
             helper.make_node("Relu", ["f"], ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits), feeds)
    assert without_layout(hist) == {"Conv": 1}


def test_hardswish_paddle_form_and_clip_fusion():
    xi, feeds = x_input()
    inits = [const("w", RNG.standard_normal((8, 8, 3, 3)) * 0.3), const("three", 3.0), const("zero", 0.0),
             const("six", 6.0)]
    nodes = [conv_node("x", "w", None, "c", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "three"], ["t"]), helper.make_node("Clip", ["t", "zero", "six"], ["r"]),
             helper.make_node("Mul", ["c", "r"], ["m"]), helper.make_node("Div", ["m", "six"], ["h"]),
             conv_node("h", "w", None, "c2", pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c2", "zero", "six"],
                                                                                   ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits), feeds)
    assert "Clip" not in hist and "Div" not in hist and hist["Conv"] == 2


def test_silu_and_hardsigmoid_swish():
    shape = (2, 5, 7)
    xi = helper.make_tensor_value_info("x", F, list(shape))
    feeds = {"x": RNG.standard_normal(shape).astype(np.float32) * 4}
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["a"]),
             helper.make_node("HardSigmoid", ["a"], ["hs"], alpha=1 / 6, beta=0.5),
             helper.make_node("Mul", ["hs", "a"], ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)]), feeds)
    assert hist == {"Silu": 1, "HardSwish": 1}


@pytest.mark.parametrize("swap", [False, True])
def test_residual_scale_becomes_one_multiply(swap):
    """x + x * hardsigmoid(conv(pool(x))) (squeeze-excite residual) -> x * (s + 1): one full-size op."""
    xi, feeds = x_input()
    inits = [const("w", RNG.standard_normal((8, 8, 1, 1)) * 0.5)]
    mul = helper.make_node("Mul", ["s", "x"] if swap else ["x", "s"], ["xs"])
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Conv", ["p", "w"], ["c"]),
             helper.make_node("HardSigmoid", ["c"], ["s"], alpha=0.2, beta=0.5), mul,
             helper.make_node("Add", ["xs", "x"] if swap else ["x", "xs"], ["y"])]
    model = make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits)
    assert check(model, feeds).get("Add") == 1
    graph = convert_graph(model)
    (add,) = graph.iter_nodes("Add")
    assert np.prod(graph.tensors[add.outputs[0]].shape) == 8, "the Add should act on the 8 scales, not on x"


def test_residual_scale_needs_a_smaller_scale():
    """x + x * t with t as large as x is left alone (nothing to gain)."""
    shape = (2, 5, 7)
    xi, ti = (helper.make_tensor_value_info(n, F, list(shape)) for n in "xt")
    feeds = {n: RNG.standard_normal(shape).astype(np.float32) for n in "xt"}
    nodes = [helper.make_node("Mul", ["x", "t"], ["xt"]), helper.make_node("Add", ["x", "xt"], ["y"])]
    assert check(make(nodes, [xi, ti], [helper.make_tensor_value_info("y", F, None)]), feeds) == {"Mul": 1, "Add": 1}


def test_gelu_erf_form():
    xi = helper.make_tensor_value_info("x", F, [3, 10])
    feeds = {"x": RNG.standard_normal((3, 10)).astype(np.float32) * 3}
    inits = [const("sq2", np.sqrt(2.0)), const("one", 1.0), const("half", 0.5)]
    nodes = [helper.make_node("Div", ["x", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["p"]), helper.make_node("Mul", ["x", "p"], ["m"]),
             helper.make_node("Mul", ["m", "half"], ["y"])]
    assert check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits), feeds) == {"Gelu": 1}


def test_layernorm_decomposed_form():
    shape = (2, 6, 32)
    xi = helper.make_tensor_value_info("x", F, list(shape))
    feeds = {"x": RNG.standard_normal(shape).astype(np.float32) * 2 + 1}
    inits = [const("two", 2.0), const("eps", 1e-5), const("g", RNG.standard_normal(32)),
             const("b", RNG.standard_normal(32))]
    nodes = [helper.make_node("ReduceMean", ["x"], ["mu"], axes=[-1]), helper.make_node("Sub", ["x", "mu"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["p"]), helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
             helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["sd"]),
             helper.make_node("Div", ["d", "sd"], ["n"]), helper.make_node("Mul", ["n", "g"], ["ng"]),
             helper.make_node("Add", ["ng", "b"], ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits, opset=13), feeds)
    assert hist == {"LayerNormalization": 1}


def test_matmul_add_becomes_fully_connected():
    xi = helper.make_tensor_value_info("x", F, [2, 7, 16])
    feeds = {"x": RNG.standard_normal((2, 7, 16)).astype(np.float32)}
    inits = [const("B", RNG.standard_normal((16, 24))), const("bias", RNG.standard_normal(24))]
    nodes = [helper.make_node("MatMul", ["x", "B"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"]),
             helper.make_node("Relu", ["a"], ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits), feeds)
    assert hist == {"FullyConnected": 1}


def _reshape_model(dims):
    xi = helper.make_tensor_value_info("x", F, dims)
    inits = [numpy_helper.from_array(np.array([0], np.int64), "i0"),
             numpy_helper.from_array(np.array([-1], np.int64), "m1")]
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Concat", ["n", "m1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    return make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)], inits)


def test_shape_arithmetic_folds_when_static():
    feeds = {"x": RNG.standard_normal((2, 3, 4)).astype(np.float32)}
    hist = check(_reshape_model([2, 3, 4]), feeds)
    assert hist == {"Reshape": 1}


@pytest.mark.parametrize("shape", [(2, 3, 4), (5, 1, 7)])
def test_shape_arithmetic_stays_dynamic(shape):
    hist = check(_reshape_model(["N", "C", "L"]), {"x": RNG.standard_normal(shape).astype(np.float32)})
    assert hist.get("Shape") == 1


def test_input_shape_override_makes_it_static():
    hist = check(_reshape_model(["N", "C", "L"]), {"x": RNG.standard_normal((2, 3, 4)).astype(np.float32)},
                 input_shapes={"x": [2, 3, 4]})
    assert "Shape" not in hist


def test_nhwc_io():
    xi, feeds = x_input((1, 3, 9, 9))
    inits = [const("w", RNG.standard_normal((4, 3, 3, 3)))]
    m = make([conv_node("x", "w", None, "y", strides=[2, 2])], [xi], [helper.make_tensor_value_info("y", F, None)],
             inits)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    graph = convert_graph(m, nhwc_io=True)
    with nanort.Model(serialize(graph)) as model:
        assert model.inputs[0].shape == (1, 9, 9, 3)
        got = model.run(None, {"x": feeds["x"].transpose(0, 2, 3, 1).copy()})[0]
    np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    assert "Transpose" not in graph.op_histogram()


def test_dead_branches_are_removed():
    xi = helper.make_tensor_value_info("x", F, [4])
    nodes = [helper.make_node("Exp", ["x"], ["unused"]), helper.make_node("Relu", ["x"], ["y"])]
    hist = check(make(nodes, [xi], [helper.make_tensor_value_info("y", F, None)]),
                 {"x": RNG.standard_normal(4).astype(np.float32)})
    assert hist == {"Relu": 1}


def test_nhwc_to_nchw_transpose_before_a_conv_moves_nothing():
    """A TensorFlow-style NHWC graph (Transpose to NCHW, Conv, Transpose back) keeps no Transpose:
    the layout pass sees the bytes are already in the runtime's NHWC order."""
    shape = (1, 9, 9, 3)
    xi = helper.make_tensor_value_info("x", F, list(shape))
    feeds = {"x": RNG.standard_normal(shape).astype(np.float32)}
    m = make([helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
              conv_node("x_nchw", "w", None, "c", pads=[1, 1, 1, 1]),
              helper.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1])],
             [xi], [helper.make_tensor_value_info("y", F, None)], [const("w", RNG.standard_normal((4, 3, 3, 3)))])
    assert check(m, feeds) == {"Conv": 1}


def test_transpose_of_an_nhwc_result_takes_every_permutation():
    """A Transpose reading a tensor the layout pass made NHWC (a Conv's output) must compose its
    permutation with the inverse of the tensor's: every permutation of the 4 axes, against
    onnxruntime (the permutation itself in place of its inverse gives wrong shapes and values)."""
    xi, feeds = x_input((1, 8, 6, 7))
    perms = list(itertools.permutations(range(4)))
    nodes = [conv_node("x", "w", "b", "c", pads=[1, 1, 1, 1])]
    nodes += [helper.make_node("Transpose", ["c"], [f"y{i}"], perm=list(p)) for i, p in enumerate(perms)]
    outputs = [helper.make_tensor_value_info(f"y{i}", F, None) for i in range(len(perms))]
    inits = [const("w", RNG.standard_normal((5, 8, 3, 3)) * 0.2), const("b", RNG.standard_normal(5))]
    m = make(nodes, [xi], outputs, inits)
    check(m, feeds)
