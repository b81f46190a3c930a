"""float16 weights (converter/fp16_weights.py, native/src/engine/fp16_weights.c):
`--weights fp16` on real models against onnxruntime fp32, a TFLite model's own
fp16 weights kept fp16, the load-time widening rule, and hostile files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import ppocr
import pytest
from assets import ppocr_model
from nrt_edit import Editable, graph_bytes

import nanort
from nanort import peers
from nanort.converter.fp16_weights import store_fp16
from nanort.converter.ir import Graph, Node
from nanort.runtime import nrt_file

RNG = np.random.default_rng(5)


def _fc_graph(x_dtype=np.float32) -> Graph:
    """y = x @ W.T + b, and z = W @ v (MatMul, the constant on the left), W shared."""
    g = Graph()
    g.add_tensor("x", x_dtype, (3, 8))
    g.add_tensor("v", x_dtype, (8, 2))
    g.add_tensor("w", np.float32, (5, 8), RNG.standard_normal((5, 8)).astype(np.float32))
    g.add_tensor("b", np.float32, (5,), RNG.standard_normal(5).astype(np.float32))
    g.add_tensor("y", x_dtype, (3, 5))
    g.add_tensor("z", x_dtype, (5, 2))
    g.nodes += [Node("FullyConnected", ["x", "w", "b"], ["y"], {"keep_dims": True}, "fc"),
                Node("MatMul", ["w", "v"], ["z"], {}, "mm")]
    g.inputs, g.outputs = ["x", "v"], ["y", "z"]
    return g


def _dtypes(data: bytes, tmp_path) -> dict[str, str]:
    (tmp_path / "m.nrt").write_bytes(data)
    return {t.name: t.dtype for t in nrt_file.read(tmp_path / "m.nrt").tensors if t.constant_bytes}


def test_weights_stored_half_and_widened_exactly_at_load(tmp_path):
    g = _fc_graph()
    w, b = g.tensors["w"].data.copy(), g.tensors["b"].data.copy()
    assert store_fp16(g) == 1
    data = graph_bytes(g)
    assert _dtypes(data, tmp_path) == {"w": "float16", "b": "float32"}  # biases stay float32
    x, v = RNG.standard_normal((3, 8)).astype(np.float32), RNG.standard_normal((8, 2)).astype(np.float32)
    w16 = w.astype(np.float16).astype(np.float64)
    with nanort.Model(data) as m:
        out = m.run({"x": x, "v": v})
    np.testing.assert_allclose(out["y"], x.astype(np.float64) @ w16.T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["z"], w16 @ v, rtol=1e-5, atol=1e-5)
    assert np.abs(out["y"] - (x @ w.T + b)).max() > 1e-5  # (the rounding to half is real)


def test_a_weight_also_read_by_another_op_stays_float32():
    g = _fc_graph()
    g.add_tensor("s", np.float32, (5, 8))
    g.nodes.append(Node("Add", ["w", "w"], ["s"], {}, "add"))
    g.outputs.append("s")
    assert store_fp16(g) == 0


def test_lossless_keeps_only_exact_half_values():
    g = _fc_graph()
    assert store_fp16(g, lossless=True) == 0
    g.tensors["w"].data = g.tensors["w"].data.astype(np.float16).astype(np.float32)
    assert store_fp16(g, lossless=True) == 1


def test_fp16_weight_of_a_float16_op_is_not_widened():
    """The rule widens weights of float32 ops only: a float16 graph keeps its types (and
    float16 FullyConnected is not a kernel nanort has, so it is refused, not misread)."""
    g = _fc_graph(np.float16)
    for name in ("w", "b"):
        g.tensors[name].data = g.tensors[name].data.astype(np.float16)
        g.tensors[name].dtype = np.dtype(np.float16)
    with pytest.raises(nanort.Error, match="fc|float16"):
        with nanort.Model(graph_bytes(g)) as m:
            m.run({"x": np.zeros((3, 8), np.float16), "v": np.zeros((8, 2), np.float16)})


def test_pruned_weight_is_stored_sparse_in_half_and_widened_at_load(tmp_path):
    """A pruned weight keeps its sparse storage and gets float16 values (smaller than either
    alone); the runtime expands and widens it, so the FullyConnected computes with the
    half-rounded weights."""
    g = Graph()
    w = RNG.standard_normal((32, 64)).astype(np.float32)
    w.reshape(32, 16, 4)[RNG.random((32, 16)) < 0.8] = 0  # 80 % of the 1x4 blocks zero
    g.add_tensor("x", np.float32, (3, 64))
    g.add_tensor("w", np.float32, w.shape, w)
    g.add_tensor("y", np.float32, (3, 32))
    g.nodes.append(Node("FullyConnected", ["x", "w"], ["y"], {"keep_dims": True}, "fc"))
    g.inputs, g.outputs = ["x"], ["y"]
    dense_half = w.size * 2
    assert store_fp16(g) == 1
    data = graph_bytes(g)
    (tmp_path / "m.nrt").write_bytes(data)
    entry = next(t for t in nrt_file.read(tmp_path / "m.nrt").tensors if t.name == "w")
    assert entry.dtype == "float16" and entry.sparse is not None
    assert entry.constant_bytes < 0.5 * dense_half
    x = RNG.standard_normal((3, 64)).astype(np.float32)
    with nanort.Model(data) as m:
        got = m.run({"x": x})["y"]
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.astype(np.float16).astype(np.float64).T,
                               rtol=1e-5, atol=1e-5)


def test_fp16_weight_with_wrong_byte_length_is_refused():
    g = _fc_graph()
    store_fp16(g)
    e = Editable(graph_bytes(g))
    e.blobs[e.tensor("w").buffer] = bytes(5 * 8 * 4)  # float32-sized bytes under a FLOAT16 tensor
    with pytest.raises(nanort.InvalidModelError,
                       match="constant tensor w: buffer holds 160 bytes but float16 x 40 elements need 80"):
        nanort.Model(e.to_bytes())


def test_ppocr_rec_fp16_halves_the_file_and_agrees_with_onnxruntime_fp32(tmp_path):
    src = ppocr_model("rec")
    fp32 = nanort.convert(src, tmp_path / "fp32.nrt")
    fp16 = nanort.convert(src, tmp_path / "fp16.nrt", weights="fp16")
    assert 0.45 < fp16.output_bytes / fp32.output_bytes < 0.55
    x = ppocr.rec_input("nanort 2026")
    session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    print(f"rec: file {fp16.output_bytes / fp32.output_bytes:.3f}x of fp32", end=" ")
    feeds = {session.get_inputs()[0].name: x}
    with nanort.Model(tmp_path / "fp16.nrt") as m, nanort.Model(tmp_path / "fp32.nrt") as m32:
        got, got32 = next(iter(m.run(feeds).values())), next(iter(m32.run(feeds).values()))
    err, err32 = np.abs(got - want).max(), np.abs(got32 - want).max()
    assert err < 0.02  # probabilities: fp16 weight rounding (2^-11 relative) through ~100 layers
    assert err > 10 * err32  # and the file's weights were really rounded
    assert (got.argmax(-1) == want.argmax(-1)).all()
    assert peers.nanort_precision(tmp_path / "fp16.nrt") == "fp32 (fp16 weights)"  # (how bench tables name it)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nanort.cli", *args], capture_output=True, text=True)


def test_cli_lists_weights_and_refuses_a_mistyped_value(tmp_path):
    help_text = " ".join(_cli("convert", "--help").stdout.split())
    assert "--weights {fp16,int4}" in help_text and "IEEE half" in help_text
    bad = _cli("convert", str(tmp_path / "m.onnx"), "--weights", "fp61")
    assert bad.returncode != 0
    assert "argument --weights: invalid choice: 'fp61' (choose from" in bad.stderr
    with pytest.raises(nanort.ConversionError, match="weights='fp61' is not a weight format; choose one of fp16"):
        nanort.convert(tmp_path / "m.onnx", weights="fp61")


@pytest.mark.parametrize("name, size_ratio", [("face_detection_short_range", 1.05),
                                              ("face_detection_full_range_sparse", 0.8)])
def test_tflite_fp16_weights_stay_fp16_and_agree_with_tflite(name, size_ratio, tmp_path):
    """MediaPipe's face detectors ship fp16 weights behind DEQUANTIZE (the sparse variant's
    behind DENSIFY too): the .nrt keeps them half, the pruned ones sparse with half values
    (the file was 1.83x / 1.16x the .tflite when they were widened), and runs like TFLite."""
    from ai_edge_litert.interpreter import Interpreter
    from tflite_assets import TEST_MODELS

    src = TEST_MODELS[name][0]()
    report = nanort.convert(src, tmp_path / "m.nrt")
    assert report.output_bytes < size_ratio * src.stat().st_size
    constants = [t for t in nrt_file.read(tmp_path / "m.nrt").tensors if t.constant_bytes]
    assert [t.dtype for t in constants].count("float16") > 20
    if "sparse" in name:
        assert sum(t.dtype == "float16" and t.sparse is not None for t in constants) > 20
    interp = Interpreter(model_path=str(src))
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    x = RNG.uniform(-1, 1, detail["shape"]).astype(np.float32)
    interp.set_tensor(detail["index"], x)
    interp.invoke()
    with nanort.Model(tmp_path / "m.nrt") as m:
        got = m.run({detail["name"]: x})
    for d in interp.get_output_details():
        want = interp.get_tensor(d["index"])
        np.testing.assert_allclose(got[d["name"]], want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
