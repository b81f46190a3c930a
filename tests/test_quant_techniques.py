"""Stronger post-training quantization (converter/quantize/cle.py, adaround.py,
concat_slices.py): each technique against onnxruntime fp32 on a constructed
model where it must matter, and the float function it must leave unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_quant_defaults import _model
from test_quantize_e2e import Net

import nanort
from nanort.converter import convert_graph
from nanort.converter.quantize import adaround, cle
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


@pytest.mark.parametrize("attrs,groups", [
    ({"pads": [1, 0, 2, 1], "strides": [2, 1]}, 1),
    ({"auto_pad": "SAME_LOWER", "strides": [2, 2]}, 2),
    ({"pads": [2, 1, 0, 1], "dilations": [2, 1]}, 3),
    ({"pads": [1, 1, 1, 1]}, 6),
])
def test_conv_patches_give_the_convolution(attrs, groups):
    """Input patches times the OHWI weights give onnxruntime's convolution at the positions
    they were sampled at (padding, strides, dilation, groups as the runtime resolves them)."""
    n = Net(5)
    w = n.w("w", 12, 6 // groups, 3, 3)
    n("Conv", ["x", w], "y", group=groups, **attrs)
    m = _model(n, [("x", [2, 6, 9, 8])], [("y", ["n", "c", "h", "w"])])
    graph = convert_graph(m, fuse_only_clamps=True)
    node = next(nd for nd in graph.nodes if nd.op == "Conv")
    x = np.random.default_rng(6).normal(size=(2, 6, 9, 8)).astype(np.float32)
    ref = _session(m).run(None, {"x": x})[0].transpose(0, 2, 3, 1)  # NHWC
    wt = graph.const(node.inputs[1])
    patches, (b, oy, ox) = adaround.conv_patches(node, x.transpose(0, 2, 3, 1), wt.shape, 40,
                                                 np.random.default_rng(0))
    rows = wt.reshape(groups, wt.shape[0] // groups, -1)
    got = np.concatenate([patches[g] @ rows[g].T for g in range(groups)], axis=1)
    assert got.shape == (40, 12) and len(set(zip(b, oy, ox))) == 40
    np.testing.assert_allclose(got, ref[b, oy, ox], rtol=1e-4, atol=1e-4)


def _correlated_inputs(seed: int, count: int) -> list[dict]:
    """64 channels carrying one shared signal plus a little of their own."""
    rng = np.random.default_rng(seed)
    return [{"x": (rng.uniform(-1, 1, (1, 1, 8, 8)) + rng.normal(0, 0.02, (1, 64, 8, 8))).astype(np.float32)}
            for _ in range(count)]


def _correlated_conv() -> onnx.ModelProto:
    n = Net(7)
    w = n.rng.normal(0, 0.02, (16, 64, 1, 1)).astype(np.float32)
    w[np.arange(16), np.arange(16) * 4] = 1.0
    n("Conv", ["x", n.c("w", w), n.b("b", 16)], "y")
    return _model(n, [("x", [1, 64, 8, 8])], [("y", [1, 16, 8, 8])])


def test_adaround_cuts_the_int8_error(tmp_path: Path):
    """A 1x1 conv whose rows each hold one large weight (it sets the row's int8 step) and
    63 small ones, over 64 channels carrying one shared signal: nearest rounding's errors of
    the small weights add up on the shared signal; rounding to the layer's calibration
    inputs makes them cancel."""
    m = _correlated_conv()
    calib, test = _correlated_inputs(8, 16), _correlated_inputs(9, 3)
    nearest = _int8_error(m, tmp_path, calib, test, auto_fallback=False)  # (one small conv: int8 anyway)
    rounded = _int8_error(m, tmp_path, calib, test, auto_fallback=False, adaround=True)
    assert rounded < 0.5 * nearest, (nearest, rounded)


def test_fixer_switches_weight_rounding_on_where_the_target_is_missed(tmp_path: Path):
    """With no flag, the accuracy fixer tries the whole-model techniques first: on the model
    above, nearest rounding misses cosine 0.9999 and rounding to the layer's inputs meets it,
    measured against onnxruntime too."""
    m = _correlated_conv()
    calib, test = _correlated_inputs(8, 16), _correlated_inputs(9, 3)
    src, dst = tmp_path / "m.onnx", tmp_path / "m.nrt"
    onnx.save(m, str(src))
    report = nanort.convert(src, dst, quantize="int8", calibration=calib, auto_fallback=False,
                            accuracy_target=["cosine=0.9999"])
    fixed = report.quantization.fixed
    assert [s.fix for s in fixed.steps][:1] == ["weights rounded to each layer's calibration inputs"]
    assert fixed.verdict.met and fixed.steps[0].before > 1 >= fixed.steps[0].after
    sess = _session(m)
    with nanort.Model(dst) as model:
        cos = [np.dot(a.ravel(), b.ravel()) / np.linalg.norm(a) / np.linalg.norm(b)
               for a, b in ((model.run(f)["y"], sess.run(None, f)[0]) for f in test)]
    assert min(cos) > 0.9999


def test_adaround_rounding_stays_on_the_grid():
    """Each weight moves to one of the int8 levels, within a few steps of nearest, and no
    row's error on H exceeds nearest rounding's."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(4096, 1)) + 0.1 * rng.normal(size=(4096, 48))
    h = (x.T @ x / len(x))[None]
    w = rng.normal(0, 0.05, (32, 48)).astype(np.float32)
    scale = np.abs(w).max(1) / 127
    q = adaround.round_weights(w, scale, h).astype(np.float64)
    steps = w / scale[:, None]
    nearest = np.clip(np.rint(steps), -127, 127)
    assert np.abs(q).max() <= 127 and np.abs(q - steps).max() < 8
    err = lambda d: np.einsum("ok,kl,ol->o", d, h[0], d)  # noqa: E731
    assert np.all(err(q - steps) <= err(nearest - steps) + 1e-9)
    assert err(q - steps).sum() < 0.2 * err(nearest - steps).sum()


@pytest.mark.parametrize("groups, k", [(1, 48), (16, 9)])  # one group (sequential); many (batched, depthwise)
def test_adaround_keeps_pruned_weights_zero(groups, k):
    """A pruned weight is zero in the int8 file too (the rounding moved error onto it, undoing the
    pruning), and the rounding still beats nearest on H."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4096, 1)) + 0.1 * rng.normal(size=(4096, k))
    h = np.repeat((x.T @ x / len(x))[None], groups, axis=0)
    w = rng.normal(0, 0.05, (32, k)).astype(np.float32)
    w[rng.random(w.shape) < 0.7] = 0
    w[:, 0] = 0.05  # (no all-zero row)
    scale = np.abs(w).max(1) / 127
    q = adaround.round_weights(w, scale, h).astype(np.float64)
    assert np.all(q[w == 0] == 0)
    steps = w / scale[:, None]
    err = lambda d: np.einsum("gok,gkl,gol->", d, h, d)  # noqa: E731
    assert err((q - steps).reshape(groups, -1, k)) <= err((np.rint(steps) - steps).reshape(groups, -1, k)) + 1e-9


def test_slice_scales_keep_each_part_of_an_output_concat(tmp_path: Path):
    """Two convs whose int8 arithmetic is exact (integer inputs at scale 1, weights on their
    per-channel power-of-two grids), one giving values in the hundreds, the other 16x smaller,
    concatenated into the output through a Reshape and a Transpose. Calibrated on the input
    it is tested on (no clipping), each part's requantization is the only rounding: with each
    part's own scale every slice agrees with onnxruntime within 1 LSB of that part's scale;
    one scale for the concatenation costs the small part 16x more."""
    n = Net(12)
    rng = n.rng
    big = rng.integers(-40, 41, (4, 16, 3, 3)).astype(np.float32)
    big[:, 0, 0, 0] = 127
    small = rng.integers(-40, 41, (2, 16, 3, 3)).astype(np.float32)
    small[:, 0, 0, 0] = 127
    a = n("Conv", ["x", n.c("wa", big * 2.0 ** -6)], "a", pads=[1, 1, 1, 1])
    b = n("Conv", ["x", n.c("wb", small * 2.0 ** -10)], "b", pads=[1, 1, 1, 1])
    h = n("Concat", [a, b], "cat", axis=1)
    h = n("Reshape", [h, n.c("shape", np.array([1, 6, 256], np.int64))], "flat")
    n("Transpose", [h], "y", perm=[0, 2, 1])
    m = _model(n, [("x", [1, 16, 16, 16])], [("y", [1, 256, 6])])
    data = np.random.default_rng(13)
    x = data.integers(-128, 128, (1, 16, 16, 16)).astype(np.float32)
    x[0, 0, 0, :2] = (-128, 127)  # the full int8 range: scale 1, zero point 0
    calib = [{"x": x}] * 8
    src = tmp_path / "m.onnx"
    onnx.save(m, str(src))
    sess = _session(m)
    ref = [sess.run(None, f)[0] for f in calib]
    # each part's own LSB: its range on this data / 255
    lsb = [(np.ptp(np.stack([r[..., s] for r in ref])) / 255) for s in (slice(0, 4), slice(4, 6))]
    worst = {}
    for split in (False, True):
        dst = tmp_path / f"m{split}.nrt"
        report = nanort.convert(src, dst, quantize="int8", calibration=calib, calibration_method="minmax",
                                fix_accuracy=False, slice_scales=split)
        with nanort.Model(dst) as model:
            err = np.stack([np.abs(model.run(f)["y"] - r) for f, r in zip(calib, ref)])
        worst[split] = [float(err[..., :4].max()) / lsb[0], float(err[..., 4:].max()) / lsb[1]]
        if split:
            assert any("own int8 scale" in f for f in report.float_fallbacks)
    assert worst[True][0] <= 1.0 and worst[True][1] <= 1.0, worst
    assert worst[False][1] > 4, worst
    # an int8 output hands out one int8 tensor: one scale for the whole concatenation
    dst = tmp_path / "m_int8_out.nrt"
    nanort.convert(src, dst, quantize="int8", calibration=calib, calibration_method="minmax",
                   fix_accuracy=False, output_dtype="int8")
    with nanort.Model(dst) as model:
        assert model.run(calib[0])["y"].dtype == np.int8


def test_cli_switches_reach_convert(monkeypatch, tmp_path: Path):
    from nanort import cli

    seen = {}
    monkeypatch.setattr(nanort, "convert", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(cli, "_print_report", lambda r: None)
    base = ["convert", str(tmp_path / "m.onnx"), "--quantize", "int8", "-q"]
    cli.main(base)
    assert (seen["adaround"], seen["bias_correction"], seen["equalization"], seen["slice_scales"]) == \
        (None, False, False, True)
    cli.main(base + ["--adaround", "on", "--bias-correction", "--equalization", "--no-slice-scales"])
    assert (seen["adaround"], seen["bias_correction"], seen["equalization"], seen["slice_scales"]) == \
        (True, True, True, False)
    cli.main(base + ["--adaround", "off"])
    assert seen["adaround"] is False
