"""Nearest upsampling fused into Concat / Add (converter/passes/upsample.py,
native/src/ops/upsample.h): the pass fires only where the Resize is exact
integer replication read by one node; the fused model gives exactly the bytes
of the unfused one (int8 and fp32) and agrees with onnxruntime; a malformed
`upsample` option is a clean error."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_int8_kernels import G, q8, same

import nanort
from nanort.converter import convert_graph
from nanort.converter.passes import upsample as upsample_pass
from nanort.converter.serialize import serialize
from nanort.runtime import nrt_file

RNG = np.random.default_rng(7)
F = TensorProto.FLOAT


def _w(rng, name, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)


def _resize(x, y, scales, coord="asymmetric", nearest="floor", mode="nearest"):
    return helper.make_node("Resize", [x, "", scales], [y], mode=mode, coordinate_transformation_mode=coord,
                            nearest_mode=nearest)


def neck(c=12, h=16, w=20, coord="asymmetric", nearest="floor", mode="nearest", extra_reader=False):
    """An FPN-like neck: coarse maps upsampled x2 / x4 into an Add and a channel Concat."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["c1r"]),
        helper.make_node("Conv", ["c1r", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        _resize("c1r", "r1", "s2", coord, nearest, mode),
        helper.make_node("Add", ["c0", "r1"], ["a"]),
        _resize("c2", "r2", "s4", coord, nearest, mode),
        _resize("c1", "r3", "s2", coord, nearest, mode),
        helper.make_node("Concat", ["r2", "r3", "a"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", F, None)]
    if extra_reader:  # r3 is read twice: not fused
        nodes.append(helper.make_node("Sigmoid", ["r3"], ["z"]))
        outputs.append(helper.make_tensor_value_info("z", F, None))
    rng = np.random.default_rng(c * 1000 + h)  # the same model whatever ran before
    inits = [_w(rng, "w0", (c, 8, 3, 3)), _w(rng, "w1", (c, 8, 3, 3)), _w(rng, "w2", (c, c, 3, 3)),
             _w(rng, "w3", (4, 3 * c, 1, 1)),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s2"),
             numpy_helper.from_array(np.array([1, 1, 4, 4], np.float32), "s4")]
    g = helper.make_graph(nodes, "neck", [helper.make_tensor_value_info("x", F, [1, 8, h, w])], outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def feeds(h=16, w=20, n=1, seed=0):
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, h, w)).astype(np.float32)} for _ in range(n)]


def convert(tmp_path, model, name, fuse=True, monkeypatch=None, **kw):
    src, dst = tmp_path / f"{name}.onnx", tmp_path / f"{name}.nrt"
    onnx.save(model, src)
    if not fuse:
        monkeypatch.setattr(upsample_pass, "fuse_upsample", lambda g: 0)
    try:
        nanort.convert(src, dst, **kw)
    finally:
        if not fuse:
            monkeypatch.undo()
    return dst


def ops(path) -> list[str]:
    return [o.op for o in nrt_file.read(path).ops]


def run(path, feed, threads=1):
    with nanort.Model(str(path), threads=threads) as m:
        return m.run(None, feed)


def ort_run(model, feed):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)


# ---- the pass ---------------------------------------------------------------------------------

@pytest.mark.parametrize("coord,nearest,fused", [
    ("asymmetric", "floor", 3), ("half_pixel", "round_prefer_floor", 3), ("half_pixel", "round_prefer_ceil", 3),
    ("pytorch_half_pixel", "round_prefer_floor", 3), ("tf_half_pixel_for_nn", "floor", 3),
    ("asymmetric", "round_prefer_floor", 2),  # x2: ties round down; x4: 0.75 rounds up
    ("asymmetric", "ceil", 0), ("half_pixel", "floor", 0),
    ("align_corners", "round_prefer_floor", 0),
])
def test_fuses_only_exact_replication(coord, nearest, fused):
    model = neck(coord=coord, nearest=nearest)
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    before = graph.op_histogram().get("Resize", 0)
    assert upsample_pass.fuse_upsample(graph) == fused
    assert graph.op_histogram().get("Resize", 0) == before - fused
    feed = feeds()[0]
    with nanort.Model(serialize(graph)) as m:
        (got,) = m.run(None, feed)
    np.testing.assert_allclose(got, ort_run(model, feed)[0], rtol=1e-4, atol=1e-4)


def test_not_fused_linear_or_with_other_readers():
    g = convert_graph(neck(mode="linear"))
    assert upsample_pass.fuse_upsample(g) == 0
    g = convert_graph(neck(extra_reader=True))
    assert upsample_pass.fuse_upsample(g) == 2  # r1 (Add) and r2 (Concat); r3 also feeds a Sigmoid
    up = next(n for n in g.nodes if n.op == "Concat").attrs["upsample"]
    assert up == [4, 4, 1, 1, 1, 1]


def test_factors_recorded_per_input():
    g = convert_graph(neck())
    upsample_pass.fuse_upsample(g)
    assert next(n for n in g.nodes if n.op == "Concat").attrs["upsample"] == [4, 4, 2, 2, 1, 1]
    assert next(n for n in g.nodes if n.op == "Add").attrs["upsample"] == [1, 1, 2, 2]


# ---- fused == unfused, bit for bit; and close to onnxruntime -------------------------------------

# left: calibration may give r1 other parameters than its input, so that Resize
# rescales and stays (an Add cannot take over its rounding); the other two fuse.
@pytest.mark.parametrize("c,h,w,left", [(12, 16, 20, 1), (24, 16, 16, 0), (40, 8, 12, 1), (3, 8, 8, 1)])
def test_int8_fused_is_bit_identical(tmp_path, monkeypatch, c, h, w, left):
    model = neck(c, h, w)
    cal = feeds(h, w, 4)
    fused = convert(tmp_path, model, "fused", quantize="int8", calibration=cal)
    plain = convert(tmp_path, model, "plain", fuse=False, monkeypatch=monkeypatch, quantize="int8", calibration=cal)
    assert ops(fused).count("Resize") == left and ops(plain).count("Resize") == 3
    for feed in feeds(h, w, 2, seed=1):
        want = run(plain, feed)[0]
        for threads in (1, 3):
            same(run(fused, feed, threads)[0], want)
        ref = ort_run(model, feed)[0]  # fp32: int8's noise stays well below the signal
        sqnr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((want - ref).astype(np.float64) ** 2))
        assert sqnr > 15, sqnr


def test_fp32_fused_is_bit_identical(tmp_path, monkeypatch):
    model = neck(24, 16, 20, coord="half_pixel", nearest="round_prefer_floor")
    fused = convert(tmp_path, model, "fused")
    plain = convert(tmp_path, model, "plain", fuse=False, monkeypatch=monkeypatch)
    assert "Resize" not in ops(fused)
    for feed in feeds(16, 20, 2, seed=1):
        want = run(plain, feed)[0]
        for threads in (1, 3):
            same(run(fused, feed, threads)[0], want)
        np.testing.assert_allclose(want, ort_run(model, feed)[0], rtol=1e-4, atol=1e-4)


# ---- the runtime on hand-made graphs: every ISA level, and malformed options ----------------------

def _upsampled(x, f):
    return np.repeat(np.repeat(x, f[0], axis=1), f[1], axis=2)


@pytest.mark.parametrize("a_shape,f,qa", [
    ((2, 3, 5, 20), (2, 3), (0.05, 3)),      # copied (the output's parameters)
    ((2, 3, 5, 20), (2, 3), (0.02, -9)),     # rescaled, the source row kept for the next output row
    ((1, 3, 60, 100), (3, 1), (0.02, -9)),   # rescaled rows too wide to keep: in chunks
    ((1, 2, 2, 4100), (2, 3), (0.02, -9)),   # pixels wider than the chunk buffer
])
def test_int8_concat_levels_match_unfused(a_shape, f, qa):
    """Concat copying / rescaling upsampled inputs gives the bytes of the plain Concat of
    the upsampled tensors, on every level and thread count."""
    from test_int8_levels import LEVELS
    q = (0.05, 3)
    n, h, w, ca = a_shape
    big = (n, h * f[0], w * f[1])
    shapes = {"a": a_shape, "b": big + (20,), "c": big + (4,)}
    quants = {"a": qa, "b": (0.07, -5), "c": q}
    feeds_ = {k: q8(v) for k, v in shapes.items()}

    def graph(fused):
        g = G()
        for k in shapes:
            g.t(k, np.int8, shapes[k] if fused or k != "a" else big + (ca,), quants[k])
        g.t("y", np.int8, big + (ca + 24,), q)
        g.node("Concat", ["a", "b", "c"], ["y"], axis=3, **({"upsample": [*f, 1, 1, 1, 1]} if fused else {}))
        g.g.inputs, g.g.outputs = ["a", "b", "c"], ["y"]
        return serialize(g.g)

    up = dict(feeds_, a=_upsampled(feeds_["a"], f))
    for isa in LEVELS:
        with nanort.Model(graph(False), isa=isa) as m:
            (want,) = m.run(None, up)
        for threads in (1, 2):
            with nanort.Model(graph(True), isa=isa, threads=threads) as m:
                (got,) = m.run(None, feeds_)
            same(got, want)


@pytest.mark.parametrize("op", ["Add", "Mul", "Sub"])
def test_binary_levels_match_unfused(op):
    from test_int8_levels import LEVELS
    for dtype, q in ((np.int8, True), (np.float32, False)):
        x = q8((1, 4, 6, 200)) if q else RNG.standard_normal((1, 4, 6, 200)).astype(np.float32)
        z = q8((1, 8, 24, 200)) if q else RNG.standard_normal((1, 8, 24, 200)).astype(np.float32)
        qa, qz, qy = ((0.04, 2), (0.03, -7), (0.06, 1)) if q else (None, None, None)

        def graph(fused, dtype=dtype, qa=qa, qz=qz, qy=qy):
            g = G()
            g.t("x", dtype, (1, 4, 6, 200) if fused else (1, 8, 24, 200), qa)
            g.t("z", dtype, (1, 8, 24, 200), qz)
            g.t("y", dtype, (1, 8, 24, 200), qy)
            g.node(op, ["z", "x"], ["y"], **({"upsample": [1, 1, 2, 4]} if fused else {}))
            g.g.inputs, g.g.outputs = ["x", "z"], ["y"]
            return serialize(g.g)

        for isa in LEVELS:
            with nanort.Model(graph(False), isa=isa) as m:
                (want,) = m.run(None, {"x": _upsampled(x, (2, 4)), "z": z})
            for threads in (1, 3):
                with nanort.Model(graph(True), isa=isa, threads=threads) as m:
                    (got,) = m.run(None, {"x": x, "z": z})
                same(got, want)


def _bad_concat(upsample, axis=3, shape_a=(1, 2, 2, 4), rank3=False):
    g = G()
    g.t("a", np.float32, shape_a[1:] if rank3 else shape_a)
    g.t("b", np.float32, (1, 4, 4, 4))
    g.t("y", np.float32, (1, 4, 4, 8))
    g.node("Concat", ["a", "b"], ["y"], axis=axis, upsample=upsample)
    g.g.inputs, g.g.outputs = ["a", "b"], ["y"]
    return serialize(g.g), {"a": np.zeros(shape_a[1:] if rank3 else shape_a, np.float32),
                            "b": np.zeros((1, 4, 4, 4), np.float32)}


@pytest.mark.parametrize("kw", [
    {"upsample": [2, 2]},                    # two factors for two inputs
    {"upsample": [0, 2, 1, 1]},              # zero
    {"upsample": [-2, 2, 1, 1]},             # negative
    {"upsample": [2, 100000, 1, 1]},         # beyond the limit
    {"upsample": [2, 1, 1, 1]},              # shapes disagree once upsampled: 4x2 vs 4x4
    {"upsample": [3, 3, 1, 1]},              # 6x6 vs 4x4
    {"upsample": [2, 2, 1, 1], "axis": 1},   # not the channel axis
    {"upsample": [2, 2, 1, 1], "rank3": True},
])
def test_malformed_concat_upsample_is_a_clean_error(kw):
    data, feed = _bad_concat(**kw)
    with pytest.raises(nanort.Error):
        with nanort.Model(data) as m:
            m.run(None, feed)


@pytest.mark.parametrize("op,upsample,shape", [
    ("Add", [1, 1, 2], (1, 2, 2, 4)), ("Add", [1, 1, 0, 2], (1, 2, 2, 4)), ("Add", [1, 1, 2, 3], (1, 2, 2, 4)),
    ("Add", [1, 1, 2, 2], (1, 4, 4, 4)), ("Div", [1, 1, 2, 2], (1, 2, 2, 4)), ("Add", [1, 1, 2, 2], (2, 2, 4)),
])
def test_malformed_binary_upsample_is_a_clean_error(op, upsample, shape):
    g = G()
    g.t("z", np.float32, (1, 4, 4, 4))
    g.t("x", np.float32, shape)
    g.t("y", np.float32, (1, 4, 4, 4))
    g.node(op, ["z", "x"], ["y"], upsample=upsample)
    g.g.inputs, g.g.outputs = ["z", "x"], ["y"]
    with pytest.raises(nanort.Error):
        with nanort.Model(serialize(g.g)) as m:
            m.run(None, {"z": np.zeros((1, 4, 4, 4), np.float32), "x": np.zeros(shape, np.float32)})
