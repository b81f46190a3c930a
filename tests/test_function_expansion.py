"""Ops nanort has no importer for, converted through the function body their
ONNX schema defines (converter/function_expansion.py), against onnxruntime,
which runs them natively."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def _f(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _check(tmp_path, nodes, inputs, outputs, feeds, inits=(), opset=23):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    want = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, feeds)
    nanort.convert(src, tmp_path / "m.nrt")
    with nanort.Model(tmp_path / "m.nrt") as m:
        got = list(m.run(feeds).values())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("is_causal, with_mask", [(0, True), (1, False)])
def test_attention_then_rms_normalization(tmp_path, is_causal, with_mask):
    """4-D Attention on computed values (their types come from inference), then
    RMSNormalization with its default epsilon (a default the node omits)."""
    nodes = [helper.make_node("Relu", ["q0"], ["q"]),
             helper.make_node("Attention", ["q", "k", "v", "mask" if with_mask else ""], ["y"],
                              is_causal=is_causal),
             helper.make_node("RMSNormalization", ["y", "scale"], ["z"], axis=-1)]
    inputs = [_vi("q0", [2, 4, 6, 8]), _vi("k", [2, 4, 5, 8]), _vi("v", [2, 4, 5, 8])]
    feeds = {"q0": _f(2, 4, 6, 8), "k": _f(2, 4, 5, 8), "v": _f(2, 4, 5, 8)}
    if with_mask:
        inputs.append(_vi("mask", [6, 5]))
        feeds["mask"] = _f(6, 5)
    _check(tmp_path, nodes, inputs, [_vi("z", [2, 4, 6, 8])], feeds,
           [numpy_helper.from_array(_f(8), "scale")])


def test_grouped_query_attention_3d_with_omitted_inputs(tmp_path):
    """3-D Attention with 4 query heads sharing 2 key/value heads, an omitted
    mask before the past key and value, and the present key and value out."""
    nodes = [helper.make_node("Attention", ["q", "k", "v", "", "past_k", "past_v"], ["y", "present_k", "present_v"],
                              q_num_heads=4, kv_num_heads=2)]
    inputs = [_vi("q", [1, 3, 32]), _vi("k", [1, 3, 16]), _vi("v", [1, 3, 16]),
              _vi("past_k", [1, 2, 5, 8]), _vi("past_v", [1, 2, 5, 8])]
    outputs = [_vi("y", [1, 3, 32]), _vi("present_k", [1, 2, 8, 8]), _vi("present_v", [1, 2, 8, 8])]
    feeds = {"q": _f(1, 3, 32), "k": _f(1, 3, 16), "v": _f(1, 3, 16), "past_k": _f(1, 2, 5, 8),
             "past_v": _f(1, 2, 5, 8)}
    _check(tmp_path, nodes, inputs, outputs, feeds)


def test_op_without_a_body_for_its_opset_stays_unsupported(tmp_path):
    """Shrink's body is defined from opset 18: at opset 9 it is reported, in one line."""
    model = helper.make_model(helper.make_graph([helper.make_node("Shrink", ["x"], ["y"], lambd=0.5)], "g",
                                                [_vi("x", [4])], [_vi("y", [4])]),
                              opset_imports=[helper.make_opsetid("", 9)])
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    with pytest.raises(nanort.UnsupportedOpError, match=r"Shrink x1 \(node 'y'\)") as e:
        nanort.convert(src, tmp_path / "m.nrt")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "m.nrt").exists()


@pytest.mark.parametrize("take_then", [True, False])
def test_expansion_inside_a_branch(tmp_path, take_then):
    """An RMSNormalization inside an If branch that runs (the condition is an input)."""
    then_branch = helper.make_graph([helper.make_node("RMSNormalization", ["x", "scale"], ["t"], axis=-1,
                                                      epsilon=1e-3)], "then", [], [_vi("t", [3, 8])])
    else_branch = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [_vi("e", [3, 8])])
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then_branch, else_branch=else_branch)]
    feeds = {"cond": np.array(take_then), "x": _f(3, 8)}
    _check(tmp_path, nodes, [helper.make_tensor_value_info("cond", TensorProto.BOOL, []), _vi("x", [3, 8])],
           [_vi("y", [3, 8])], feeds, [numpy_helper.from_array(_f(8), "scale")])
