"""Stronger post-training quantization (converter/quantize/cle.py, adaround.py,
concat_slices.py): each technique against onnxruntime fp32 on a constructed
model where it must matter, and the float function it must leave unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from test_quant_defaults import _model
from test_quantize_e2e import Net

import nanort
from nanort.converter import convert_graph
from nanort.converter.quantize import cle
from nanort.converter.serialize import serialize


def _session(m: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])


def _int8_error(m: onnx.ModelProto, tmp_path: Path, calib: list[dict], test: list[dict], **kw) -> float:
    """Relative RMS error of nanort's int8 output against onnxruntime fp32 on `test`."""
    src, dst = tmp_path / "m.onnx", tmp_path / f"m{len(list(tmp_path.iterdir()))}.nrt"
    onnx.save(m, str(src))
    nanort.convert(src, dst, quantize="int8", calibration=calib, fix_accuracy=False, **kw)
    sess = _session(m)
    with nanort.Model(dst) as model:
        err = [model.run(f)["y"] - sess.run(None, f)[0] for f in test]
        ref = [sess.run(None, f)[0] for f in test]
    return float(np.sqrt(sum(np.sum(e ** 2) for e in err) / sum(np.sum(r ** 2) for r in ref)))


def _uneven_channels(seed: int) -> onnx.ModelProto:
    """Conv -> Relu -> depthwise Conv -> Relu -> Conv -> PRelu -> MaxPool -> Conv: the first
    conv's 8 output channels span 1000x in range (its weights scaled by 20 ... 0.02), and the
    depthwise conv scales them back, so every channel matters at the output while one int8
    scale on the tensor between them leaves the small channels a level or two."""
    n = Net(seed)
    gain = np.geomspace(20.0, 0.02, 8).astype(np.float32)
    w1 = n.rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32) * gain[:, None, None, None]
    b1 = (n.rng.normal(0, 0.1, 8) * gain).astype(np.float32)
    wd = n.rng.normal(0, 0.3, (8, 1, 3, 3)).astype(np.float32) / gain[:, None, None, None]
    h = n("Conv", ["x", n.c("w1", w1), n.c("b1", b1)], "c1", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r1")
    h = n("Conv", [h, n.c("wd", wd), n.b("bd", 8)], "dw", pads=[1, 1, 1, 1], group=8)
    h = n("Relu", [h], "r2")
    gain2 = np.geomspace(8.0, 0.125, 16).astype(np.float32)
    w3 = n.rng.normal(0, 0.3, (16, 8, 1, 1)).astype(np.float32) * gain2[:, None, None, None]
    h = n("Conv", [h, n.c("w3", w3), n.b("b3", 16)], "c3")
    h = n("PRelu", [h, n.c("slope", np.full((16, 1, 1), 0.1, np.float32))], "p3")
    h = n("MaxPool", [h], "mp", kernel_shape=[2, 2], strides=[2, 2])
    w4 = n.rng.normal(0, 0.3, (8, 16, 3, 3)).astype(np.float32) / gain2[None, :, None, None]
    n("Conv", [h, n.c("w4", w4), n.b("b4", 8)], "y", pads=[1, 1, 1, 1])
    return _model(n, [("x", [1, 3, 16, 16])], [("y", [1, 8, 8, 8])])


def _inputs(seed: int, count: int, shape=(1, 3, 16, 16)) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(count)]


def test_equalization_keeps_the_float_function(tmp_path: Path):
    """Equalized weights compute onnxruntime's fp32 outputs (up to float rounding), and the
    tensors between the pairs end with channel ranges within a few x of each other."""
    m = _uneven_channels(1)
    graph = convert_graph(m, fuse_only_clamps=True)
    calib = _inputs(2, 4)
    reach = cle.channel_reach_on(graph, calib)
    names = [chain[-1] for _, chain, _ in cle.pairs(graph)]
    before = reach(names)
    assert cle.equalize(graph, reach) == 3  # c1 -> dw, dw -> c3, c3 -> PRelu -> MaxPool -> y
    after = cle.channel_reach_on(graph, calib)(names)
    spread = lambda r: float(r.max() / r[r > 0].min())  # noqa: E731
    assert spread(before[names[0]]) > 100 and spread(after[names[0]]) < 4
    sess = _session(m)
    with nanort.Model(serialize(graph)) as model:
        for f in _inputs(3, 3):
            ref = sess.run(None, f)[0]
            np.testing.assert_allclose(model.run(f)["y"], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_equalization_cuts_the_int8_error(tmp_path: Path):
    m = _uneven_channels(1)
    calib, test = _inputs(2, 16), _inputs(3, 3)
    plain = _int8_error(m, tmp_path, calib, test)
    equalized = _int8_error(m, tmp_path, calib, test, equalization=True)
    assert equalized < 0.3 * plain, (plain, equalized)


def test_equalization_leaves_non_homogeneous_pairs_alone():
    """HardSwish(x / s) != HardSwish(x) / s: a pair joined through it is not rescaled."""
    n = Net(4)
    h = n("Conv", ["x", n.w("w1", 8, 3, 3, 3), n.b("b1", 8)], "c1", pads=[1, 1, 1, 1])
    h = n("HardSwish", [h], "hs")
    n("Conv", [h, n.w("w2", 8, 1, 3, 3), n.b("b2", 8)], "y", pads=[1, 1, 1, 1], group=8)
    graph = convert_graph(_model(n, [("x", [1, 3, 16, 16])], [("y", [1, 8, 16, 16])]), fuse_only_clamps=True)
    assert cle.pairs(graph) == []
