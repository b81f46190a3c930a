"""Conv taps that read only padding (converter/passes/conv_taps.py): cut from
the kernel when the input's size is known, the results against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

RNG = np.random.default_rng(3)


def conv_model(size, kernel, dilation, pads, stride=1, channels=(6, 5)):
    w = RNG.standard_normal((channels[1], channels[0], *kernel)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=dilation, pads=pads, strides=[stride, stride])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                          [1, channels[0], *size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("size,kernel,dilation,pads,stride,kept", [
    ((16, 16), (3, 3), [24, 24], [24, 24, 24, 24], 1, [1, 1]),    # ASPP at dilation 24: a 1x1 conv
    ((16, 16), (3, 3), [36, 36], [36, 36, 36, 36], 1, [1, 1]),
    ((16, 16), (3, 3), [12, 12], [12, 12, 12, 12], 1, [3, 3]),    # each tap reads the map somewhere
    ((5, 16), (3, 3), [6, 2], [6, 2, 6, 2], 1, [1, 3]),           # one axis only
    ((9, 9), (3, 3), [8, 8], [8, 0, 0, 8], 1, [2, 2]),            # asymmetric pads: one side each
    ((8, 8), (5, 5), [10, 10], [20, 20, 20, 20], 2, [1, 1]),      # strided
])
def test_trimmed_conv_matches_onnxruntime(size, kernel, dilation, pads, stride, kept):
    model = conv_model(size, kernel, dilation, pads, stride)
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    (conv,) = [n for n in graph.nodes if n.op == "Conv"]
    assert list(graph.const(conv.inputs[1]).shape[1:3]) == kept  # (W is [O, kh, kw, I] after layout)
    x = RNG.standard_normal((1, 6, *size)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with nanort.Model(serialize(graph)) as m:
        np.testing.assert_allclose(m.run(None, {"x": x})[0], want, rtol=1e-5, atol=1e-5)


def test_dynamic_size_keeps_the_kernel():
    model = conv_model((16, 16), (3, 3), [24, 24], [24, 24, 24, 24])
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "h"
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    (conv,) = [n for n in graph.nodes if n.op == "Conv"]
    assert graph.const(conv.inputs[1]).shape[1:3] == (3, 3)
