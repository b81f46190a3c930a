"""TopK, NonMaxSuppression, NonZero against onnxruntime (the ONNX backend
node tests cover them too), including what runs after them on outputs
whose shapes depend on the data."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _run_both(tmp_path, nodes, inputs, outputs, feeds_list, inits=(), opset=17):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    nanort.convert(src, tmp_path / "m.nrt")
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    with nanort.Model(tmp_path / "m.nrt") as m:
        for feeds in feeds_list:
            got = m.run(feeds)
            for (name, g), w in zip(got.items(), sess.run(None, feeds)):
                assert g.shape == w.shape and g.dtype == w.dtype, name
                np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("axis, largest", [(-1, 1), (0, 1), (1, 0)])
def test_topk_with_ties(tmp_path, axis, largest):
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.integers(-3, 4, (4, 9, 5)).astype(np.float32), "k": np.array([k], np.int64)}
             for k in (1, 3, 4)]
    _run_both(tmp_path, [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)],
              [helper.make_tensor_value_info("x", F, [4, 9, 5]), helper.make_tensor_value_info("k", I64, [1])],
              [helper.make_tensor_value_info("v", F, None), helper.make_tensor_value_info("i", I64, None)], feeds)


def test_topk_int64_constant_k(tmp_path):
    rng = np.random.default_rng(1)
    _run_both(tmp_path, [helper.make_node("TopK", ["x", "k"], ["v", "i"])],
              [helper.make_tensor_value_info("x", I64, [3, 100])],
              [helper.make_tensor_value_info("v", I64, None), helper.make_tensor_value_info("i", I64, None)],
              [{"x": rng.integers(-1000, 1000, (3, 100))}], [numpy_helper.from_array(np.array([7], np.int64), "k")])


def _boxes(rng, batches, n):
    corners = rng.uniform(0, 100, (batches, n, 2)).astype(np.float32)
    sizes = rng.uniform(5, 40, (batches, n, 2)).astype(np.float32)
    return np.concatenate([corners, corners + sizes], axis=2)


@pytest.mark.parametrize("center", [0, 1])
def test_nms_then_gather_of_the_selection(tmp_path, center):
    """Detector post-processing: NMS, then the selected boxes' indices gathered
    and their scores looked up (every node after NMS runs on a data-dependent shape)."""
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_min"], ["sel"],
                              center_point_box=center),
             helper.make_node("Gather", ["sel", "two"], ["box_idx"], axis=1),
             helper.make_node("Gather", ["boxes", "box_idx"], ["picked"], axis=1),
             helper.make_node("Shape", ["sel"], ["count"])]
    inits = [numpy_helper.from_array(np.array([5], np.int64), "max_out"),
             numpy_helper.from_array(np.array([0.4], np.float32), "iou"),
             numpy_helper.from_array(np.array([0.2], np.float32), "score_min"),
             numpy_helper.from_array(np.array(2, np.int64), "two")]
    rng = np.random.default_rng(2)
    feeds = [{"boxes": _boxes(rng, 2, n), "scores": rng.uniform(0, 1, (2, 3, n)).astype(np.float32)}
             for n in (40, 40, 3)]
    _run_both(tmp_path, nodes, [helper.make_tensor_value_info("boxes", F, [2, "n", 4]),
                                helper.make_tensor_value_info("scores", F, [2, 3, "n"])],
              [helper.make_tensor_value_info(n, t, None) for n, t in
               (("sel", I64), ("picked", F), ("count", I64))], feeds, inits)


def test_nonzero_then_gather(tmp_path):
    nodes = [helper.make_node("Greater", ["x", "zero"], ["pos"]),
             helper.make_node("NonZero", ["pos"], ["where"]),
             helper.make_node("Transpose", ["where"], ["coords"]),
             helper.make_node("ReduceSum", ["where"], ["s"], keepdims=0)]
    rng = np.random.default_rng(3)
    feeds = [{"x": rng.standard_normal((3, 4)).astype(np.float32)} for _ in range(3)]
    feeds.append({"x": -np.ones((3, 4), np.float32)})  # nothing selected: [2, 0]
    _run_both(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [3, 4])],
              [helper.make_tensor_value_info("where", I64, None), helper.make_tensor_value_info("coords", I64, None),
               helper.make_tensor_value_info("s", I64, None)], feeds,
              [numpy_helper.from_array(np.float32(0), "zero")])
