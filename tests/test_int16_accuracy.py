"""16-bit activations in the converter (quantize.py's int16_nodes, fixer.py's step 2):
a layer whose output range no int8 scale holds keeps its small channels in 16 bits
(checked against onnxruntime fp32), asked for by name or chosen by the accuracy fixer
without flags where int8 ruins the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from test_quant_defaults import _model
from test_quantize_e2e import Net

import nanort


def _images(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, (1, 3, 24, 24)).astype(np.float32)} for _ in range(count)]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _ort(m: onnx.ModelProto, feeds: list[dict]) -> list[np.ndarray]:
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return [sess.run(None, f)[0] for f in feeds]


def wide_channels(ratio: float = 300.0) -> onnx.ModelProto:
    """mid's channel 0 spans `ratio` times its other channels and nothing reads it; the
    others carry the output. An int8 scale for mid rounds them to a few levels (the int8
    failure of one_ruinous_layer in test_accuracy_target.py, milder); 16 bits hold them."""
    n = Net(7)
    h = n("Conv", ["x", n.w("w0", 16, 3, 3, 3), n.b("b0", 16)], "c0", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r0")
    w1 = n.rng.normal(0, 0.02, (8, 16, 3, 3)).astype(np.float32)
    w1[0] *= ratio
    n.inits.append(onnx.numpy_helper.from_array(w1, "w1"))
    mid = n("Conv", [h, "w1", n.c("b1", np.zeros(8, np.float32))], "mid", pads=[1, 1, 1, 1])
    w2 = n.rng.normal(0, 1.0, (8, 8, 3, 3)).astype(np.float32)
    w2[:, 0] = 0
    n.inits.append(onnx.numpy_helper.from_array(w2, "w2"))
    h = n("Conv", [mid, "w2", n.b("b2", 8)], "c2", pads=[1, 1, 1, 1])
    n("Conv", [h, n.w("w3", 4, 8, 3, 3), n.b("b3", 4)], "y", pads=[1, 1, 1, 1])
    return _model(n, [("x", [1, 3, 24, 24])], [("y", [1, 4, 24, 24])])


def test_asked_16_bit_layer_is_much_closer_to_fp32(tmp_path: Path):
    """One conv, outputs of very different ranges: int16 activations (asked by name) cut the
    error against onnxruntime fp32 far below int8's."""
    n = Net(3)
    w = n.rng.normal(0, 0.1, (8, 3, 3, 3)).astype(np.float32)
    w[0] *= 500.0
    n.inits.append(onnx.numpy_helper.from_array(w, "w"))
    n("Conv", ["x", "w", n.b("b", 8)], "y", pads=[1, 1, 1, 1])
    m = _model(n, [("x", [1, 3, 24, 24])], [("y", [1, 8, 24, 24])])
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(2, 3)
    want = _ort(m, feeds)
    errors = {}
    for name, kw in (("int8", {}), ("int16", {"int16_activations": ["y"]})):
        r = nanort.convert(src, tmp_path / f"{name}.nrt", quantize="int8", calibration=_images(1, 16),
                           fix_accuracy=False, **kw)
        with nanort.Model(tmp_path / f"{name}.nrt") as model:
            got = [model.run(f)["y"] for f in feeds]
        small = np.s_[:, 1:]  # the narrow channels
        errors[name] = max(np.abs(g[small] - w_[small]).max() / np.abs(w_[small]).max() for g, w_ in zip(got, want))
        assert ("y: 16-bit activations with int8 weights (asked)" in r.notes) == (name == "int16")
    assert errors["int16"] < errors["int8"] / 50, errors


def test_fixer_picks_16_bit_without_flags(tmp_path: Path):
    m = wide_channels()
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(7, 3)
    want = _ort(m, feeds)
    plain = nanort.convert(src, tmp_path / "plain.nrt", quantize="int8", calibration=_images(1, 16),
                           fix_accuracy=False)
    assert not plain.quantization.verdict.met
    with nanort.Model(tmp_path / "plain.nrt") as model:
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) < 0.97
    report = nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 16))
    q = report.quantization
    assert q.verdict.met, q.verdict_lines()
    step = next(s for s in q.fixed.steps if s.node == "mid")
    assert step.fix.startswith("int16 activations") and step.cost_ms is not None, q.verdict_lines()
    assert "mid" in [n for n, _, _ in q.result.int16_nodes]
    assert not any(f.startswith("mid ") for f in report.float_fallbacks), report.float_fallbacks
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) > 0.99


def wide_elementwise(hardswish: bool) -> onnx.ModelProto:
    """conv -> Relu -> Mul by per-channel constants (channel 0 by -300) [-> HardSwish] -> a conv
    that ignores channel 0 -> Relu -> conv: an int8 scale for the product rounds channels 1..15
    to a few levels (HardSwish flattens channel 0 below -3, and an int8 table is blind to that
    below its own input's steps); 16 bits hold them."""
    n = Net(11)
    h = n("Conv", ["x", n.w("w0", 16, 3, 3, 3), n.b("b0", 16)], "c0", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r0")
    scale = np.ones((16, 1, 1), np.float32)
    scale[0] = -300.0
    h = n("Mul", [h, n.c("scale", scale)], "s")
    if hardswish:
        h = n("HardSwish", [h], "hs")
    w = n.rng.normal(0, 0.3, (8, 16, 3, 3)).astype(np.float32)
    w[:, 0] = 0
    n.inits.append(onnx.numpy_helper.from_array(w, "w2"))
    h = n("Conv", [h, "w2", n.b("b2", 8)], "c2", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r2")
    n("Conv", [h, n.w("w3", 4, 8, 3, 3), n.b("b3", 4)], "y", pads=[1, 1, 1, 1])
    return _model(n, [("x", [1, 3, 24, 24])], [("y", [1, 4, 24, 24])])


def test_asked_16_bit_elementwise_is_much_closer_to_fp32(tmp_path: Path):
    """Mul by constants, HardSwish (a 65536-entry int16 table) and the conv reading them, asked in
    16 bits by name: the error against onnxruntime fp32 falls far below int8's, and the file holds
    the int16 Mul and Lut."""
    m = wide_elementwise(hardswish=True)
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(2, 3)
    want = _ort(m, feeds)
    errors = {}
    for name, kw in (("int8", {}), ("int16", {"int16_activations": ["s", "hs", "c2"]})):
        r = nanort.convert(src, tmp_path / f"{name}.nrt", quantize="int8", calibration=_images(1, 16),
                           fix_accuracy=False, **kw)
        with nanort.Model(tmp_path / f"{name}.nrt") as model:
            got = [model.run(f)["y"] for f in feeds]
        errors[name] = max(np.abs(g - w_).mean() / np.abs(w_).mean() for g, w_ in zip(got, want))
        if name == "int16":
            assert sorted(n for n, _, _ in r.quantization.result.int16_nodes) == ["c2", "hs", "s"], r.notes
            assert {"Mul", "Lut"} <= set(r.op_histogram), r.op_histogram
    assert errors["int16"] < errors["int8"] / 5, errors  # (16 bits leave channels 1..15 ~100 levels)


def test_fixer_picks_16_bit_mul_without_flags(tmp_path: Path):
    """The Mul's int8 output ruins the result: the fixer moves it (with the conv reading its codes)
    to 16 bits, and the output meets the target against onnxruntime fp32."""
    m = wide_elementwise(hardswish=False)
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(7, 3)
    want = _ort(m, feeds)
    report = nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 16))
    q = report.quantization
    assert q.verdict.met, q.verdict_lines()
    step = next(s for s in q.fixed.steps if s.node == "s")
    assert step.fix.startswith("int16 activations"), q.verdict_lines()
    assert "s" in [n for n, _, _ in q.result.int16_nodes]
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) > 0.99


def test_every_node_in_16_bits(tmp_path: Path):
    """int16_activations=["*"]: every node with a 16-bit form runs in 16 bits (the convs, the Mul,
    HardSwish's table), none left int8, and the result stays close to onnxruntime fp32."""
    m = wide_elementwise(hardswish=True)
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(2, 3)
    want = _ort(m, feeds)
    r = nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 16), fix_accuracy=False,
                       int16_activations=["*"])
    q = r.quantization.result
    assert sorted(n for n, _, _ in q.int16_nodes) == ["c0", "c2", "hs", "s", "y"] and not q.int8_nodes, r.notes
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) > 0.999
