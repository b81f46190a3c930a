"""Pruning and low-rank factorization at convert time (converter/prune).

The methods' errors are measured directly on the calibration inputs X
(||X W^T - X W'^T|| / ||X W^T||, numpy), not through the pruner's own
Hessian arithmetic; converted models are compared with onnxruntime on the
unpruned ONNX model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_quantize_e2e import Net

import nanort
from nanort.converter import convert_graph
from nanort.converter.prune import PruneSpec, prune_graph
from nanort.converter.prune.calibration import InputStats
from nanort.converter.prune.layers import find_layers
from nanort.converter.prune.lowrank import factors
from nanort.converter.prune.methods import PRUNERS
from nanort.converter.prune.patterns import Pattern
from nanort.runtime import nrt_file

RNG = np.random.default_rng(11)


def layer_data(rows=48, k=64, samples=2000):
    """A weight and inputs with correlated features of very different scales (as real activations)."""
    mix = RNG.standard_normal((k, k)) * np.exp(RNG.normal(0, 1, k))[None, :]
    x = RNG.standard_normal((samples, k)) @ mix
    w = RNG.standard_normal((rows, k))
    stats = InputStats(k)
    stats.add(x)
    return w, x, stats


def output_error(x, w, pruned) -> float:
    return float(np.linalg.norm(x @ (w - pruned).T) / np.linalg.norm(x @ w.T))


@pytest.mark.parametrize("pattern", ["unstructured", "2:4", "1x4", "4x1"])
def test_sparsegpt_error_is_below_magnitude_and_wanda(pattern):
    w, x, stats = layer_data()
    p = Pattern.parse(pattern)
    errors = {m: output_error(x, w, PRUNERS[m](w, stats, p, 0.5)) for m in ("magnitude", "wanda", "sparsegpt")}
    assert errors["sparsegpt"] < errors["wanda"] < errors["magnitude"], errors


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("pattern,sparsity", [("unstructured", 0.7), ("2:4", 0.5), ("1:4", 0.75), ("4:8", 0.5),
                                              ("1x4", 0.6), ("4x1", 0.5), ("2x2", 0.5)])
def test_patterns_are_respected(method, pattern, sparsity):
    w, _, stats = layer_data(rows=32, k=64, samples=300)
    p = Pattern.parse(pattern)
    out = PRUNERS[method](w, stats, p, sparsity)
    zero = out == 0
    assert abs(zero.mean() - sparsity) < 0.03  # (wanda rounds per row: 9.6 of 16 blocks -> 10)
    if p.kind == "n:m":
        assert (zero.reshape(-1, p.m).sum(axis=1) == p.m - p.n).all()
    elif p.kind == "block":
        bn, bk = p.block
        blocks = zero.reshape(32 // bn, bn, 64 // bk, bk)
        whole = blocks.all(axis=(1, 3)) | ~blocks.any(axis=(1, 3))
        assert whole.all(), "a block is partly pruned"


def conv_net(seed=0) -> onnx.ModelProto:
    """Conv + Relu, depthwise, residual Add, SE (GlobalAveragePool, 1x1 convs, HardSigmoid, Mul), a 3x3 branch
    into a channel Concat, 1x1 conv, global pool, Gemm."""
    n = Net(seed)
    x = n("Relu", [n("Conv", ["x", n.w("w0", 16, 3, 3, 3), n.b("b0", 16)], "c0", pads=[1, 1, 1, 1], strides=[2, 2])],
          "r0")
    a = n("Relu", [n("Conv", [x, n.w("w1", 32, 16, 1, 1), n.b("b1", 32)], "c1")], "r1")
    d = n("Conv", [a, n.w("wd", 32, 1, 3, 3), n.b("bd", 32)], "dw", pads=[1, 1, 1, 1], group=32)
    s = n("Add", [a, n("Conv", [d, n.w("w2", 32, 32, 1, 1), n.b("b2", 32)], "c2")], "res")
    p = n("Relu", [n("Conv", [n("GlobalAveragePool", [s], "gap"), n.w("w3", 8, 32, 1, 1), n.b("b3", 8)], "se1")],
          "se1r")
    s = n("Mul", [s, n("HardSigmoid", [n("Conv", [p, n.w("w4", 32, 8, 1, 1), n.b("b4", 32)], "se2")], "se2h")], "sem")
    br = n("Relu", [n("Conv", [s, n.w("w5", 16, 32, 3, 3), n.b("b5", 16)], "c5", pads=[1, 1, 1, 1])], "r5")
    f = n("Relu", [n("Conv", [n("Concat", [s, br], "cat", axis=1), n.w("w6", 24, 48, 1, 1), n.b("b6", 24)], "c6")],
          "r6")
    n("Gemm", [n("Flatten", [n("GlobalAveragePool", [f], "gap2")], "fl"), n.w("w7", 10, 24), n.b("b7", 10)], "y",
      transB=1)
    return n.model([1, 3, 32, 32], [1, 10])


def samples(count, seed=1):
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in range(count)]


def convert_and_compare(tmp_path, model, **options) -> tuple[float, nanort.ConversionReport]:
    """Relative output error of the converted (pruned) model against onnxruntime on the original one."""
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    report = nanort.convert(src, tmp_path / "m.nrt", calibration=samples(16), **options)
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    errors = []
    with nanort.Model(tmp_path / "m.nrt") as m:
        for feeds in samples(6, seed=99):
            want = sess.run(None, feeds)[0]
            errors.append(np.linalg.norm(m.run(feeds)["y"] - want) / np.linalg.norm(want))
    return float(np.mean(errors)), report


def test_prune_graph_layers_follow_spec_and_methods_rank(tmp_path):
    errors = {}
    for method in ("magnitude", "wanda", "sparsegpt"):
        errors[method], report = convert_and_compare(tmp_path, conv_net(), prune=0.5, prune_method=method)
        rows = {r.node: r for r in report.pruning.rows}
        assert rows["c0"].action == "kept dense" and rows["y"].action == "kept dense"  # first and last
        assert rows["dw"].note == "depthwise conv"
        for name in ("c1", "c2", "se1", "se2", "c5", "c6"):
            assert abs(rows[name].sparsity - 0.5) < 0.02
    assert errors["sparsegpt"] < errors["magnitude"], errors


def test_pruned_layer_keeps_its_mean_output(tmp_path):
    """A 1x1 conv (no bias) after a ReLU, pruned by magnitude: its outputs' per-channel means on the
    calibration inputs stay onnxruntime's on the unpruned model (the bias absorbs what the pruned
    weights contributed to them: a ReLU's output has a large mean, so without the correction every
    channel's mean moves)."""
    n = Net(3)
    r = n("Relu", [n("Conv", ["x", n.w("w0", 16, 3, 3, 3), n.b("b0", 16)], "c0", pads=[1, 1, 1, 1])], "r0")
    n("Conv", [r, n.w("w1", 32, 16, 1, 1)], "y")
    src = tmp_path / "m.onnx"
    onnx.save(n.model([1, 3, 16, 16], [1, 32, 16, 16]), src)
    rng = np.random.default_rng(5)
    calib = [{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)]
    report = nanort.convert(src, tmp_path / "m.nrt", calibration=calib, prune=0.5, prune_method="magnitude",
                            prune_exclude=["c0"])
    assert {r.node: r.sparsity for r in report.pruning.rows}["y"] == 0.5
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    want = np.stack([sess.run(None, f)[0] for f in calib])
    with nanort.Model(tmp_path / "m.nrt") as m:
        got = np.stack([m.run(f)["y"] for f in calib])
    shift = np.abs(got.mean(axis=(0, 1, 3, 4)) - want.mean(axis=(0, 1, 3, 4)))
    assert shift.max() < 1e-3 * want.std(), (shift.max(), want.std())


def test_global_scope_spreads_the_target(tmp_path):
    _, report = convert_and_compare(tmp_path, conv_net(), prune=0.6, prune_scope="global")
    pruned = [r for r in report.pruning.rows if r.error is not None]
    sizes = {r.node: int(np.prod(r.shape)) for r in pruned}
    overall = sum(r.sparsity * sizes[r.node] for r in pruned) / sum(sizes.values())
    assert abs(overall - 0.6) < 0.02
    assert max(r.sparsity for r in pruned) - min(r.sparsity for r in pruned) > 0.1


def test_int8_keeps_the_pattern_and_stores_it_sparse(tmp_path):
    err, report = convert_and_compare(tmp_path, conv_net(), quantize="int8", prune_pattern="2:4")
    assert err < 0.3
    f = nrt_file.read(tmp_path / "m.nrt")
    stored = [t.sparse for t in f.tensors if t.sparse is not None]
    assert len(stored) >= 5 and all(sp.density <= 0.5 for sp in stored)


def zero_channels(model: onnx.ModelProto, weights: dict[str, list[int]]) -> onnx.ModelProto:
    """Sets the given output channels of weight/bias initializers to zero."""
    for init in model.graph.initializer:
        for name, channels in weights.items():
            if init.name in (name, name.replace("w", "b", 1)):
                a = onnx.numpy_helper.to_array(init).copy()
                a[channels] = 0
                init.CopyFrom(onnx.numpy_helper.from_array(a, init.name))
    return model


def test_channel_pruning_preserves_outputs_when_removed_channels_are_zero(tmp_path):
    """Half the channels of the residual space (c1 -> depthwise -> c2 -> Add -> SE Mul -> c5, Concat -> c6, and
    the SE's expand conv) are zero in every layer that makes them: removing them changes no output."""
    gone = sorted(RNG.choice(32, 16, replace=False).tolist())
    model = zero_channels(conv_net(), {"w1": gone, "wd": gone, "w2": gone, "w4": gone})
    err, report = convert_and_compare(tmp_path, model, prune=0.5, prune_pattern="channel",
                                      prune_exclude=["c0", "se1", "c5", "c6", "y"])
    assert err < 1e-5
    rows = {r.node: r for r in report.pruning.rows}
    for name in ("c1", "c2", "se2"):
        assert rows[name].action == "channels 32 -> 16"
    f = nrt_file.read(tmp_path / "m.nrt")
    shapes = sorted(t.shape for t in f.tensors if t.constant_bytes and len(t.shape) == 4)
    assert (16, 1, 1, 16) in shapes and (16, 3, 3, 1) in shapes and (16, 3, 3, 16) in shapes  # c2, dw, c5
    assert (24, 1, 1, 32) in shapes  # c6 reads 16 + 16 channels


@pytest.mark.parametrize("method", ["magnitude", "sparsegpt"])
def test_channel_pruning_runs_through_residuals_concat_and_se(tmp_path, method):
    err, report = convert_and_compare(tmp_path, conv_net(), prune=0.5, prune_pattern="channel", prune_method=method)
    assert err < 0.2
    actions = {r.node: r.action for r in report.pruning.rows}
    assert actions["c1"] == actions["c2"] == actions["se2"] == "channels 32 -> 16"  # one space, tied
    assert actions["c5"] == "channels 16 -> 8"
    assert actions["c6"] == "kept dense"  # read through a Flatten


def test_whitened_low_rank_beats_plain_svd_on_the_outputs():
    w, x, stats = layer_data(rows=64, k=48)
    a, b = factors(w, stats, 12)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    plain = (u[:, :12] * s[:12]) @ vt[:12]
    assert a.shape == (12, 48) and b.shape == (64, 12)
    assert output_error(x, w, b @ a) < 0.8 * output_error(x, w, plain)


def low_rank_net() -> onnx.ModelProto:
    """An FC whose weight is nearly rank 8, and a small one low rank cannot help."""
    n = Net(4)
    u, v = RNG.standard_normal((96, 8)), RNG.standard_normal((8, 128))
    w = (u @ v + 0.01 * RNG.standard_normal((96, 128))).astype(np.float32)
    n.inits.append(onnx.numpy_helper.from_array(w, "w1"))
    h = n("Relu", [n("Gemm", ["x", "w1", n.b("b1", 96)], "fc1", transB=1)], "r1")
    n("Gemm", [h, n.w("w2", 4, 96), n.b("b2", 4)], "y", transB=1)
    return n.model([5, 128], [5, 4])


def test_low_rank_splits_only_where_macs_drop(tmp_path):
    src = tmp_path / "lr.onnx"
    onnx.save(low_rank_net(), src)
    feeds = [{"x": RNG.standard_normal((5, 128)).astype(np.float32)} for _ in range(8)]
    report = nanort.convert(src, tmp_path / "lr.nrt", calibration=feeds, low_rank=0.999)
    actions = {r.node: r.action for r in report.pruning.rows}
    assert actions["fc1"] == "low rank 8"
    assert report.op_histogram["FullyConnected"] == 3
    want = ort.InferenceSession(str(src)).run(None, feeds[0])[0]
    with nanort.Model(tmp_path / "lr.nrt") as m:
        got = m.run(feeds[0])["y"]
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.01


@pytest.mark.parametrize("options,message", [
    ({"prune": 0.5, "prune_method": "random"}, "prune method must be one of"),
    ({"prune": 1.5}, "prune sparsity must be in"),
    ({"prune": 0.3, "prune_pattern": "2:4"}, "pattern 2:4 prunes 0.5"),
    ({"prune": 0.5, "prune_pattern": "3x"}, "prune pattern must be"),
    ({"prune": 0.5, "prune_pattern": "4:2"}, "N:M needs 0 < N < M"),
    ({"prune_pattern": "2:4", "prune_scope": "global"}, "scope 'global' does not apply"),
    ({"prune": 0.5, "prune_exclude": ["nope"]}, "prune exclude names no node: nope"),
    ({"low_rank": 1.5}, "low rank must be"),
])
def test_bad_options_fail_with_one_line(tmp_path, options, message):
    src = tmp_path / "m.onnx"
    onnx.save(conv_net(), src)
    with pytest.raises(nanort.ConversionError, match=message):
        nanort.convert(src, tmp_path / "m.nrt", calibration=samples(2), **options)
    assert not (tmp_path / "m.nrt").exists()


def test_cli_prunes(tmp_path):
    from nanort.cli import main

    src = tmp_path / "m.onnx"
    onnx.save(conv_net(), src)
    np.save(tmp_path / "calib.npy", np.stack([s["x"] for s in samples(4)]))
    assert main(["convert", str(src), "-o", str(tmp_path / "m.nrt"), "-q", "--calibration", str(tmp_path / "calib.npy"),
                 "--prune", "0.6", "--prune-method", "wanda", "--prune-pattern", "1x4"]) == 0
    f = nrt_file.read(tmp_path / "m.nrt")
    assert sum(t.sparse is not None for t in f.tensors) >= 5
    assert '"pattern": "1x4"' in f.metadata["nanort.pruning"]


def test_layers_of_a_graph():
    g = convert_graph(conv_net())
    layers, skipped = find_layers(g)
    assert [layer.name for layer in layers] == ["c0", "c1", "c2", "se1", "se2", "c5", "c6", "y"]
    assert skipped == {"dw": "depthwise conv"}
    c0 = layers[0]
    assert (c0.rows, c0.k, c0.strides, c0.pads) == (16, 27, (2, 2), (1, 1, 1, 1))


def test_prune_graph_without_pruning_changes_nothing():
    g = convert_graph(conv_net())
    before = {n: t.data.copy() for n, t in g.tensors.items() if t.data is not None}
    outcome = prune_graph(g, PruneSpec(), samples(2))
    assert outcome.rows == []
    assert all(np.array_equal(g.tensors[n].data, v) for n, v in before.items())
