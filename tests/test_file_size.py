"""What keeps .nrt files small, each checked on the file's bytes and on the
model still running right (against onnxruntime or numpy):

* equal strings, scalar vectors and tables are written once;
* equal constants share their bytes; constants under 1 KiB are 16-byte
  aligned, larger ones 64-byte aligned (Tensor.data_offset, format 2);
* the quantizer's per-channel weight scales are bfloat16 values (rounded up)
  stored in 2 bytes each;
* constants' made-up names are left out; graph inputs and outputs keep theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from nrt_edit import SLOTS, TENSOR, FbView, graph_bytes
from test_quantize_e2e import Net

import nanort
from nanort.converter.ir import Graph, Node
from nanort.converter.quantize.quantize import bfloat16_ceil
from nanort.runtime.nrt_file import read
from nanort.schema.Model import Model as FbModel

F32 = np.float32


def add_chain(constants: list[np.ndarray]) -> Graph:
    """x + c0 + c1 + ... (float32, the constants' shape)."""
    g = Graph()
    shape = constants[0].shape
    g.add_tensor("x", F32, shape)
    prev = "x"
    for i, c in enumerate(constants):
        g.add_tensor(f"c{i}", F32, shape, c)
        g.add_tensor(f"y{i}", F32, shape)
        g.nodes.append(Node("Add", [prev, f"c{i}"], [f"y{i}"], name=f"add{i}"))
        prev = f"y{i}"
    g.inputs, g.outputs = ["x"], [prev]
    return g


def _offsets(data: bytes) -> dict[str, int]:
    g = FbModel.GetRootAs(data, 0).Graphs(0)
    return {g.Tensors(i).Name().decode(): g.Tensors(i).DataOffset() for i in range(g.TensorsLength())
            if g.Tensors(i).DataOffset()}


def test_equal_constants_share_bytes():
    a, b = np.arange(300, dtype=F32), np.arange(300, dtype=F32) * 2
    one = graph_bytes(add_chain([a, b]))
    two = graph_bytes(add_chain([a, b, a.copy(), b.copy()]))
    off = _offsets(two)
    assert off["c0"] == off["c2"] and off["c1"] == off["c3"] and off["c0"] != off["c1"]
    assert len(two) - len(one) < 300  # the two extra Add records, not 2 x 1200 bytes
    with nanort.Model(two) as m:
        x = np.ones(300, F32)
        np.testing.assert_array_equal(m.run({"x": x})["y3"], x + 2 * a + 2 * b)


@pytest.mark.parametrize("elements, align", [(4, 16), (255, 16), (256, 64), (1000, 64)])
def test_constant_alignment_follows_size(elements, align):
    consts = [np.full(elements, i + 1, F32) for i in range(3)]
    data = graph_bytes(add_chain(consts))
    offs = sorted(_offsets(data).values())
    assert all(off % align == 0 for off in offs), offs
    if elements == 4:  # 16-byte constants: back to back, not a cache line apart
        assert offs[1] - offs[0] == offs[2] - offs[1] == 16
    with nanort.Model(data) as m:
        np.testing.assert_array_equal(m.run({"x": np.zeros(elements, F32)})[f"y{len(consts) - 1}"],
                                      np.full(elements, 6, F32))


def test_repeated_records_are_written_once():
    """50 Adds of one shape: each adds its own tensor and operator records, but
    the shape vector, options and strings shared by all are not repeated."""
    small = graph_bytes(add_chain([np.full((2, 3), i, F32) for i in range(5)]))
    large = graph_bytes(add_chain([np.full((2, 3), i, F32) for i in range(55)]))
    per_layer = (len(large) - len(small)) / 50
    assert per_layer < 160, per_layer  # 24 (+8 padding) bytes of data, 2 tensors, 1 operator (~300 before)


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory) -> tuple[Path, Path, list[np.ndarray]]:
    """Conv, depthwise Conv, 1x1 Conv (per-channel int8 weights) converted to int8."""
    tmp_path = tmp_path_factory.mktemp("conv")
    n = Net(3)
    y = n("Conv", ["x", n.w("w1", 24, 3, 3, 3), n.b("b1", 24)], "c1", pads=[1, 1, 1, 1])
    y = n("Relu", [y], "r1")
    y = n("Conv", [y, n.w("w2", 24, 1, 3, 3), n.b("b2", 24)], "c2", pads=[1, 1, 1, 1], group=24)
    n("Conv", [y, n.w("w3", 8, 24, 1, 1), n.b("b3", 8)], "y")
    src = tmp_path / "net.onnx"
    onnx.save(n.model([1, 3, 12, 12], [1, 8, 12, 12]), src)
    rng = np.random.default_rng(0)
    xs = [rng.normal(0, 1, (1, 3, 12, 12)).astype(F32) for _ in range(8)]
    dst = tmp_path / "net.nrt"
    nanort.convert(src, dst, quantize="int8", calibration=[{"x": x} for x in xs])
    return src, dst, xs


def test_int8_weight_scales_are_bfloat16(conv_model):
    src, dst, xs = conv_model
    data = dst.read_bytes()
    v = FbView(data)
    f = read(dst)
    per_channel = [t for t in f.tensors if t.scale is not None and t.scale.size > 1]
    assert len(per_channel) == 3
    for t in per_channel:
        assert not (t.scale.view(np.uint32) & 0xFFFF).any()  # exactly bfloat16
        q = v.deref(v.field(v.tensor(t.index), TENSOR["quant"]))
        assert v.field(q, SLOTS["QuantParams"]["scale_bf16"]) and not v.field(q, SLOTS["QuantParams"]["scale"])
    with nanort.Model(dst) as m:  # the scales widened at load are the same numbers
        infos = dict(enumerate(m.tensor_infos()))
        for t in per_channel:
            np.testing.assert_array_equal(np.asarray(infos[t.index].scale, F32), t.scale)
        peer = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
        for x in xs[:3]:
            want, got = peer.run(None, {"x": x})[0], m.run({"x": x})["y"]
            assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


def test_weight_scales_round_up_to_bfloat16():
    s = np.array([1e-3, 0.1, 1.0, 1e-30, 2.0**-126, 3.0e36], F32)
    r = bfloat16_ceil(s)
    assert (r >= s).all() and not (r.view(np.uint32) & 0xFFFF).any()
    assert (r <= s * (1 + 2.0**-7)).all()  # at most one bfloat16 step up
    np.testing.assert_array_equal(bfloat16_ceil(r), r)  # bfloat16 values stay


def test_made_up_constant_names_are_left_out(conv_model):
    _, dst, _ = conv_model
    f = read(dst)
    consts = [t for t in f.tensors if t.constant_bytes]
    assert consts and all(t.name == "" for t in consts)  # weights the quantizer made ("c1_wq__3")
    names = {t.name for t in f.tensors}
    assert {"x", "y", "r1"} <= names  # graph input / output and the source model's activations
    with nanort.Model(dst) as m:
        assert [t.name for t in m.inputs] == ["x"] and [t.name for t in m.outputs] == ["y"]


def test_source_constant_names_are_kept():
    data = graph_bytes(add_chain([np.ones(3, F32)]))
    assert "c0" in _offsets(data)


def test_options_keep_default_values():
    """Options tables are written with every field: an op reading an absent
    field uses its own default (Flatten: axis 1), not the schema's (0)."""
    g = Graph()
    g.add_tensor("x", F32, (2, 3, 4))
    g.add_tensor("y", F32, (1, 24))
    g.nodes.append(Node("Flatten", ["x"], ["y"], {"axis": 0}, name="flat"))
    g.inputs, g.outputs = ["x"], ["y"]
    x = np.arange(24, dtype=F32).reshape(2, 3, 4)
    with nanort.Model(graph_bytes(g)) as m:
        np.testing.assert_array_equal(m.run({"x": x})["y"], x.reshape(1, 24))
