"""The converter meets an end-to-end accuracy target by itself
(converter/quantize/accuracy.py, fixer.py): the held-out split, the output
kinds and their metrics against numpy, target parsing, and a model where one
layer's int8 ruins the output, fixed without flags (checked against
onnxruntime fp32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_quant_defaults import _model
from test_quantize_e2e import Net

import nanort
from nanort.converter.quantize import accuracy
from nanort.converter.quantize.calibration_data import CalibrationSource
from nanort.runtime.errors import ConversionError


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_holdout_split_is_disjoint_and_every_eighth():
    data = CalibrationSource([{"x": np.full(1, i, np.float32)} for i in range(33)], 33, "33 samples")
    calib, held, disjoint = accuracy.split_holdout(data)
    assert disjoint and len(calib) == 29 and len(held) == 4
    seen = [int(f["x"][0]) for f in calib]
    assert seen == [i for i in range(33) if i % 8 != 7]
    assert [int(f["x"][0]) for f in held] == [7, 15, 23, 31]
    few = CalibrationSource([{"x": np.zeros(1, np.float32)}] * 7, 7, "7")
    assert accuracy.split_holdout(few)[2] is False  # too few to hold any out: the verdict says so


def test_output_kinds_and_metrics():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 1, 40, 30))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert accuracy.output_kind(probs) == ("probabilities", 3)
    noisy = probs + rng.normal(0, 0.02, probs.shape)
    m = accuracy.measure("p", probs, noisy, [])
    same = probs.argmax(3) == noisy.argmax(3)
    top = np.sort(probs, 3)
    decided = top[..., -1] - top[..., -2] >= 0.1
    assert 0 < decided.mean() < 1
    assert m.top1_all == pytest.approx(same.mean()) and m.top1 == pytest.approx(same[decided].mean())
    assert m.targets == [accuracy.DEFAULT_TARGETS["probabilities"]]
    maps = rng.uniform(0, 1, (2, 1, 1, 16, 16))
    assert accuracy.output_kind(maps)[0] == "map"
    shifted = np.clip(maps + 0.1, 0, 1)
    a, b = maps > 0.5, shifted > 0.5
    assert accuracy.measure("m", maps, shifted, []).iou == pytest.approx((a & b).sum() / (a | b).sum())
    # boxes in pixels next to small offsets: the worst field's cosine, not the whole tensor's
    boxes = np.concatenate([rng.uniform(0, 320, (3, 1, 50, 4)), rng.normal(0, 0.02, (3, 1, 50, 2))], -1)
    bad = boxes.copy()
    bad[..., 5] = rng.normal(0, 0.02, bad[..., 5].shape)
    m = accuracy.measure("boxes", boxes, bad, [])
    assert m.kind == "values" and m.worst_field == 5
    assert m.cosine == pytest.approx(_cos(boxes[..., 5], bad[..., 5]))
    assert _cos(boxes, bad) > 0.999 and m.misses()


def test_parse_target():
    assert accuracy.parse_target("cosine=0.995") == accuracy.Target("cosine", 0.995)
    assert accuracy.parse_target("out:1:top1=0.9") == accuracy.Target("top1", 0.9, "out:1")
    assert accuracy.parse_target("sqnr=30").value == 30
    for bad in ("cosine", "mAP=0.5", "cosine=1.5", "top1=abc"):
        with pytest.raises(ConversionError, match="accuracy target"):
            accuracy.parse_target(bad)


def one_ruinous_layer() -> onnx.ModelProto:
    """mid's channel 0 spans +-500 and nothing reads it; its other channels, +-0.1, carry
    the output. One int8 scale for mid rounds them all to the zero point: no range rule
    sees it (one continuous population) and mid's own SQNR stays high (channel 0
    dominates its power), so only the end-to-end measurement finds it."""
    n = Net(5)
    h = n("Conv", ["x", n.w("w0", 32, 3, 3, 3), n.b("b0", 32)], "c0", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r0")
    w1 = n.rng.normal(0, 0.02, (8, 32, 3, 3)).astype(np.float32)
    w1[0] *= 2e4  # channel 0: +-500
    n.inits.append(onnx.numpy_helper.from_array(w1, "w1"))
    mid = n("Conv", [h, "w1", n.c("b1", np.zeros(8, np.float32))], "mid", pads=[1, 1, 1, 1])
    w2 = n.rng.normal(0, 1.0, (8, 8, 3, 3)).astype(np.float32)
    w2[:, 0] = 0  # channel 0 is not read
    n.inits.append(onnx.numpy_helper.from_array(w2, "w2"))
    h = n("Conv", [mid, "w2", n.b("b2", 8)], "c2", pads=[1, 1, 1, 1])
    n("Conv", [h, n.w("w3", 4, 8, 3, 3), n.b("b3", 4)], "y", pads=[1, 1, 1, 1])
    return _model(n, [("x", [1, 3, 24, 24])], [("y", [1, 4, 24, 24])])


def _images(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, (1, 3, 24, 24)).astype(np.float32)} for _ in range(count)]


def test_one_ruinous_layer_is_fixed_without_flags(tmp_path: Path):
    m = one_ruinous_layer()
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    feeds = _images(7, 3)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    want = [sess.run(None, f)[0] for f in feeds]

    plain = nanort.convert(src, tmp_path / "plain.nrt", quantize="int8", calibration=_images(1, 16),
                           fix_accuracy=False)
    with nanort.Model(tmp_path / "plain.nrt") as model:  # the failure this mechanism exists for
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) < 0.5
    assert not plain.quantization.verdict.met

    report = nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 16),
                            report=tmp_path / "r.html")
    q = report.quantization
    assert q.verdict.met and q.verdict.held_out and q.verdict.samples == 2
    assert q.fixed.steps[0].node == "mid", q.verdict_lines()
    assert q.fixed.steps[0].fix == "fp32" and q.fixed.steps[0].cost_ms is not None
    # the measured-collapse rule had kept c2 and y (where the damage shows) in fp32: y goes back to
    # int8; c2 stays fp32 (int8 c2 would quantize its input, mid's ruinous tensor, again)
    assert [s.node for s in q.fixed.steps[1:]] == ["y"]
    assert sorted(f.split(" ")[0] for f in report.float_fallbacks) == ["c2", "mid"]
    assert q.fixed.sensitivity[0].node == "mid"  # the most sensitive layer is the culprit
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert min(_cos(w, model.run(f)["y"]) for w, f in zip(want, feeds)) > 0.99
    page = (tmp_path / "r.html").read_text()
    assert page.index("meets the accuracy target") < page.index("Per-layer detail")
    assert "mid (Conv)" in page and "SQNR, dB" in page


def test_target_option_and_unknown_output(tmp_path: Path):
    m = one_ruinous_layer()
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    with pytest.raises(ConversionError, match="no output 'z'"):
        nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 6),
                       accuracy_target=["z:cosine=0.9"])
    report = nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=_images(1, 6),
                            accuracy_target=["y:sqnr=-100"], fix_accuracy=True)
    out = report.quantization.verdict.outputs[0]
    assert out.targets == [accuracy.Target("sqnr", -100.0, "y")] and report.quantization.verdict.met
    assert not report.quantization.fixed.steps  # a target the int8 result already meets changes nothing


def test_dynamic_gets_a_verdict_and_report(tmp_path: Path):
    n = Net(3)
    h = n("Gemm", ["x", n.w("w", 16, 32), n.b("b", 16)], "fc", transB=1)
    n("Relu", [h], "y")
    m = _model(n, [("x", [4, 32])], [("y", [4, 16])])
    src = tmp_path / "d.onnx"
    onnx.save(m, str(src))
    report = nanort.convert(src, tmp_path / "d.nrt", quantize="dynamic", report=tmp_path / "d.html")
    v = report.quantization.verdict
    assert v is not None and v.outputs[0].cosine > 0.99 and v.met
    page = (tmp_path / "d.html").read_text()
    assert "meets the accuracy target" in page and "int8 weights" in page


def test_bias_correction_removes_a_rounding_shift(tmp_path: Path):
    """Per-tensor weights: channel 0's weights (all 0.4 of a step) round to 0, so its output
    loses their mean contribution (inputs average 0.5). Bias correction folds the measured
    shift into the int32 bias; measured against onnxruntime on other inputs."""
    n = Net(9)
    w = n.rng.normal(0, 0.3, (8, 8, 3, 3)).astype(np.float32)
    step = np.abs(w).max() / 127
    w[0] = 0.4 * step
    n.inits.append(onnx.numpy_helper.from_array(w, "w"))
    n("Conv", ["x", "w", n.c("b", np.zeros(8, np.float32))], "y", pads=[1, 1, 1, 1])
    m = _model(n, [("x", [1, 8, 16, 16])], [("y", [1, 8, 16, 16])])
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    rng = np.random.default_rng(3)
    calib = [{"x": rng.uniform(0, 1, (1, 8, 16, 16)).astype(np.float32)} for _ in range(16)]
    test = [{"x": rng.uniform(0, 1, (1, 8, 16, 16)).astype(np.float32)} for _ in range(3)]
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    shift = {}
    for corrected in (False, True):
        dst = tmp_path / f"m{corrected}.nrt"
        nanort.convert(src, dst, quantize="int8", calibration=calib, per_channel=False, bias_correction=corrected)
        with nanort.Model(dst) as model:
            err = np.stack([model.run(f)["y"] - sess.run(None, f)[0] for f in test])
        shift[corrected] = abs(float(err[:, :, 0].mean()))
    assert shift[False] > 0.2 * 72 * step * 0.5  # the shift is real: 72 taps x 0.4 step x mean input 0.5
    assert shift[True] < 0.2 * shift[False]


def test_bias_correction_counts_each_layer_own_error_once(tmp_path: Path):
    """The rounding shift of the first conv's channel 0 reaches the second conv's input: the
    second conv must not correct it again (each layer's own error, not its output against fp32:
    corrected twice, the output's shift comes back with the opposite sign)."""
    n = Net(9)
    w = n.rng.normal(0, 0.3, (8, 8, 3, 3)).astype(np.float32)
    step = np.abs(w).max() / 127
    w[0] = 0.4 * step
    h = n("Conv", ["x", n.c("w", w), n.c("b", np.zeros(8, np.float32))], "c1", pads=[1, 1, 1, 1])
    eye = np.eye(8, dtype=np.float32)[:, :, None, None]
    n("Conv", [h, n.c("w2", eye), n.c("b2", np.zeros(8, np.float32))], "y")
    m = _model(n, [("x", [1, 8, 16, 16])], [("y", [1, 8, 16, 16])])
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    rng = np.random.default_rng(3)
    calib = [{"x": rng.uniform(0, 1, (1, 8, 16, 16)).astype(np.float32)} for _ in range(16)]
    test = [{"x": rng.uniform(0, 1, (1, 8, 16, 16)).astype(np.float32)} for _ in range(3)]
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    shift = {}
    for corrected in (False, True):
        dst = tmp_path / f"m{corrected}.nrt"
        nanort.convert(src, dst, quantize="int8", calibration=calib, per_channel=False, bias_correction=corrected,
                       auto_fallback=False, fix_accuracy=False)
        with nanort.Model(dst) as model:
            err = np.stack([model.run(f)["y"] - sess.run(None, f)[0] for f in test])
        shift[corrected] = float(err[:, :, 0].mean())
    assert abs(shift[False]) > 0.2 * 72 * step * 0.5
    assert abs(shift[True]) < 0.2 * abs(shift[False]), shift


def test_a_tensor_no_int8_scale_holds_is_kept_float(tmp_path: Path):
    """Conv -> HardSwish -> depthwise Conv whose channels span 1000x (the first conv's weights
    scaled 20 ... 0.02, the depthwise conv scaling them back): whichever of the three stays
    int8 rounds the small channels away, so no single layer's fix helps; the fixer keeps the
    tensor float (the three layers fp32) and the output meets the target, checked against
    onnxruntime."""
    n = Net(1)
    gain = np.geomspace(20.0, 0.02, 8).astype(np.float32)
    w1 = (n.rng.normal(0, 0.3, (8, 3, 3, 3)) * gain[:, None, None, None]).astype(np.float32)
    wd = (n.rng.normal(0, 0.3, (8, 1, 3, 3)) / gain[:, None, None, None]).astype(np.float32)
    h = n("Conv", ["x", n.c("w1", w1), n.c("b1", (n.rng.normal(0, 0.1, 8) * gain).astype(np.float32))], "c1",
          pads=[1, 1, 1, 1])
    h = n("HardSwish", [h], "hs")
    h = n("Conv", [h, n.c("wd", wd), n.b("bd", 8)], "dw", pads=[1, 1, 1, 1], group=8)
    h = n("Relu", [h], "r2")
    n("Conv", [h, n.w("w3", 8, 8, 3, 3), n.b("b3", 8)], "y", pads=[1, 1, 1, 1])
    m = _model(n, [("x", [1, 3, 32, 32])], [("y", [1, 8, 32, 32])])
    src, dst = tmp_path / "m.onnx", tmp_path / "m.nrt"
    onnx.save(m, str(src))
    rng = np.random.default_rng(2)
    calib = [{"x": rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)} for _ in range(16)]
    report = nanort.convert(src, dst, quantize="int8", calibration=calib, adaround=False)
    fixed = report.quantization.fixed
    assert any("c1" in s.node and "hs, dw" in s.fix and "tensor stays float" in s.fix for s in fixed.steps), \
        [s.text() for s in fixed.steps]
    assert fixed.verdict.met
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    with nanort.Model(dst) as model:
        for f in [{"x": rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)} for _ in range(3)]:
            assert _cos(model.run(f)["y"], sess.run(None, f)[0]) > 0.99
