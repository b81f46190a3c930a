"""A zero Pad of the spatial axes folded into the Conv's padding
(converter/passes/pad_into_conv.py), and the Pads that must stay: results
against onnxruntime. (TFLite's form, the Pad reaching the Conv through the
NHWC -> NCHW Transpose, is in test_tflite_ops.py.)"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

RNG = np.random.default_rng(5)


def pad_conv_model(pads, value=None, mode="constant", also_relu=False):
    """x[1, 4, 7, 8] -> Pad -> Conv 3x3 (5 filters) (stride 2, its own pads 1, 0, 0, 1) -> y (and Relu of the Pad)."""
    w = RNG.standard_normal((5, 4 + pads[1] + pads[5], 3, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(pads, np.int64), "pads")]
    pad_inputs = ["x", "pads"]
    if value is not None:
        inits.append(numpy_helper.from_array(np.array(value, np.float32), "value"))
        pad_inputs.append("value")
    nodes = [helper.make_node("Pad", pad_inputs, ["xp"], mode=mode),
             helper.make_node("Conv", ["xp", "w"], ["y"], pads=[1, 0, 0, 1], strides=[2, 2])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if also_relu:
        nodes.append(helper.make_node("Relu", ["xp"], ["r"]))
        outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 7, 8])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("pads,value,mode,also_relu,folds", [
    ([0, 0, 1, 2, 0, 0, 2, 0], None, "constant", False, True),    # asymmetric spatial zero padding
    ([0, 0, 1, 1, 0, 0, 1, 1], 0.0, "constant", False, True),     # an explicit zero
    ([0, 0, 1, 1, 0, 0, 1, 1], 0.5, "constant", False, False),    # not zero: the Conv pads with zeros
    ([0, 1, 1, 1, 0, 0, 1, 1], None, "constant", False, False),   # channels padded
    ([0, 0, 1, 1, 0, 0, 1, 1], None, "reflect", False, False),
    ([0, 0, 1, 1, 0, 0, 1, 1], None, "constant", True, False),    # the padded map is read elsewhere too
])
def test_pad_folds_only_when_the_conv_pads_the_same(pads, value, mode, also_relu, folds):
    model = pad_conv_model(pads, value, mode, also_relu)
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    assert ("Pad" not in graph.op_histogram()) == folds
    x = RNG.standard_normal((1, 4, 7, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with nanort.Model(serialize(graph)) as m:
        got = m.run(None, {"x": x})
        for g, r in zip(got, want):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
