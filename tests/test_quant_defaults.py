"""`--quantize int8` with no other option on the classic int8 collapses, with
small hand-made models against onnxruntime fp32: a detector's pixel boxes
concatenated with 0..1 scores, attention scores with a -10000 mask, a
probability tail feeding decoding; the island rule; the per-layer report and
its HTML page; a QDQ model written by onnxruntime's own quantizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from test_quantize_e2e import Net, sqnr_db

import nanort


def _model(n: Net, inputs, outputs) -> onnx.ModelProto:
    g = helper.make_graph(n.nodes, "m", [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in inputs],
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in outputs],
                          initializer=n.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


def _convert(m: onnx.ModelProto, tmp_path: Path, feeds: list[dict], **kw):
    src, dst = tmp_path / "m.onnx", tmp_path / "m.nrt"
    onnx.save(m, str(src))
    return nanort.convert(src, dst, quantize="int8", calibration=feeds, **kw), dst


def _ort(m: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _images(seed: int, count: int, shape=(1, 3, 32, 32)) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(count)]


def test_boxes_concatenated_with_scores_stay_fp32(tmp_path: Path):
    """A detector's end: pixel boxes (0..640) and 0..1 scores in one output tensor."""
    n = Net(11)
    h = n("Conv", ["x", n.w("w1", 16, 3, 3, 3), n.b("b1", 16)], "c1", pads=[1, 1, 1, 1], strides=[2, 2])
    h = n("Relu", [h], "r1")
    box = n("Conv", [h, n.w("wb", 4, 16, 1, 1), n.b("bb", 4)], "cb")
    box = n("Sigmoid", [box], "sbox")
    box = n("Mul", [box, n.c("img", np.array(640.0, np.float32))], "pixels")
    score = n("Conv", [h, n.w("ws", 2, 16, 1, 1), n.b("bs", 2)], "cs")
    score = n("Sigmoid", [score], "score")
    n("Concat", [box, score], "y", axis=1)
    m = _model(n, [("x", [1, 3, 32, 32])], [("y", [1, 6, 16, 16])])
    report, dst = _convert(m, tmp_path, _images(1, 8))
    assert any("Concat" in f for f in report.float_fallbacks), report.float_fallbacks
    feeds = _images(2, 1)[0]
    want = _ort(m, feeds)[0]
    with nanort.Model(dst) as model:
        got = model.run(feeds)["y"]
    # the scores keep their own resolution: an int8 scale over 0..640 would give them steps of 2.5
    assert np.abs(got[:, 4:] - want[:, 4:]).max() < 0.02
    assert np.abs(got[:, :4] - want[:, :4]).max() < 640 * 0.02


def _attention(mask_fraction: float, t: int = 64) -> onnx.ModelProto:
    n = Net(12)
    q = n("MatMul", ["x", n.w("wq", 32, 32, scale=0.2)], "q")
    k = n("MatMul", ["x", n.w("wk", 32, 32, scale=0.2)], "k")
    v = n("MatMul", ["x", n.w("wv", 32, 32, scale=0.2)], "v")
    kt = n("Transpose", [k], "kt", perm=[0, 2, 1])
    s = n("MatMul", [q, kt], "scores")
    rng = np.random.default_rng(0)
    mask = np.where(rng.random((1, t, t)) < mask_fraction, -10000.0, 0.0).astype(np.float32)
    np.fill_diagonal(mask[0], 0.0)
    s = n("Add", [s, n.c("mask", mask)], "masked")
    a = n("Softmax", [s], "att", axis=-1)
    o = n("MatMul", [a, v], "o")
    n("MatMul", [o, n.w("wo", 32, 8, scale=0.2)], "y")
    return _model(n, [("x", [1, t, 32])], [("y", [1, t, 8])])


@pytest.mark.parametrize("mask_fraction", [0.0005, 0.4])
def test_attention_mask_stays_fp32(tmp_path: Path, mask_fraction: float):
    """-10000 on a few scores (rare outliers) or on many (two populations): either way the masked
    scores are not squeezed into one int8 scale."""
    m = _attention(mask_fraction)
    feeds = _images(3, 8, (1, 64, 32))
    report, dst = _convert(m, tmp_path, feeds)
    assert any("mixed-range" in f for f in report.float_fallbacks), report.float_fallbacks
    x = _images(4, 1, (1, 64, 32))[0]
    with nanort.Model(dst) as model:
        assert sqnr_db(_ort(m, x)[0], model.run(x)["y"]) > 25.0


def test_probability_tail_feeding_decoding_stays_fp32(tmp_path: Path):
    """Conv -> Sigmoid -> output and FullyConnected -> Softmax -> output: decoding reads the
    probabilities (thresholds, argmax) at full precision."""
    n = Net(13)
    h = n("Conv", ["x", n.w("w1", 8, 3, 3, 3), n.b("b1", 8)], "c1", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r1")
    p = n("Conv", [h, n.w("w2", 1, 8, 3, 3), n.b("b2", 1)], "c2", pads=[1, 1, 1, 1])
    n("Sigmoid", [p], "prob")
    g = n("GlobalAveragePool", [h], "gap")
    g = n("Flatten", [g], "flat")
    g = n("Gemm", [g, n.w("wfc", 5, 8, scale=2.0), n.b("bfc", 5)], "fc", transB=1)
    n("Softmax", [g], "cls", axis=1)
    m = _model(n, [("x", [1, 3, 32, 32])], [("prob", [1, 1, 32, 32]), ("cls", [1, 5])])
    report, dst = _convert(m, tmp_path, _images(5, 8))
    text = " ".join(report.float_fallbacks)
    assert "Sigmoid" in text and "probability tail" in text, report.float_fallbacks
    assert "Softmax" in text and "fp32 activations (int8 weights)" in text, report.float_fallbacks
    assert report.op_histogram.get("Sigmoid") == 1 and report.op_histogram.get("Softmax") == 1
    feeds = _images(6, 1)[0]
    want = _ort(m, feeds)
    with nanort.Model(dst) as model:
        got = model.run(feeds)
    assert np.abs(got["prob"] - want[0]).max() < 0.02
    assert np.abs(got["cls"] - want[1]).max() < 0.02


def test_no_int8_islands(tmp_path: Path):
    """A lone int8-capable op between float ops (LayerNormalization has no int8 kernel), and a
    Transpose right before the output, run in fp32: quantizing and dequantizing around them
    would cost more than int8 saves. The big convolution stays int8."""
    n = Net(14)
    h = n("Conv", ["x", n.w("w1", 32, 3, 3, 3), n.b("b1", 32)], "c1", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r1")
    h = n("Conv", [h, n.w("w2", 32, 32, 3, 3), n.b("b2", 32)], "c2", pads=[1, 1, 1, 1])
    h = n("Reshape", [h, n.c("s", np.array([1, 32, 256], np.int64))], "flat")
    h = n("LayerNormalization", [h, n.c("g1", np.ones(256, np.float32)), n.c("be1", np.zeros(256, np.float32))], "ln1")
    h = n("Add", [h, n.c("one", np.array(1.0, np.float32))], "lone_add")
    h = n("LayerNormalization", [h, n.c("g2", np.ones(256, np.float32)), n.c("be2", np.zeros(256, np.float32))], "ln2")
    n("Transpose", [h], "y", perm=[0, 2, 1])
    m = _model(n, [("x", [1, 3, 16, 16])], [("y", [1, 256, 32])])
    report, dst = _convert(m, tmp_path, _images(7, 8, (1, 3, 16, 16)))
    islands = [f for f in report.float_fallbacks if "int8 island" in f]
    assert any(f.startswith("lone_add ") for f in islands), report.float_fallbacks
    assert any(f.startswith("y ") for f in islands), report.float_fallbacks
    assert "c2" in report.quantization.result.int8_nodes
    feeds = _images(8, 1, (1, 3, 16, 16))[0]
    with nanort.Model(dst) as model:
        assert sqnr_db(_ort(m, feeds)[0], model.run(feeds)["y"]) > 25.0


def test_report_table_and_html(tmp_path: Path):
    from test_quantize_e2e import conv_net

    report, _ = _convert(conv_net(), tmp_path, _images(9, 8), report=tmp_path / "r.html")
    rows = report.quantization.rows
    conv = [r for r in rows if r.op == "Conv" and r.precision == "int8"]
    assert conv and all(r.sqnr_db is not None and r.scale > 0 and 0 <= r.clipped <= 1 for r in conv)
    assert "SQNR dB" in report.quantization.table()
    page = (tmp_path / "r.html").read_text()
    assert "<svg" in page and "<rect" in page and conv[0].node in page


def _qdq_net() -> onnx.ModelProto:
    n = Net(15)
    h = n("Conv", ["x", n.w("w1", 16, 3, 3, 3), n.b("b1", 16)], "c1", pads=[1, 1, 1, 1])
    h = n("Relu", [h], "r1")
    h = n("Conv", [h, n.w("w2", 16, 16, 3, 3), n.b("b2", 16)], "c2", pads=[1, 1, 1, 1], strides=[2, 2])
    h = n("Relu", [h], "r2")
    a = n("Conv", [h, n.w("w3", 16, 16, 1, 1), n.b("b3", 16)], "c3")
    h = n("Add", [a, h], "res")
    h = n("MaxPool", [h], "mp", kernel_shape=[2, 2], strides=[2, 2])
    n("Conv", [h, n.w("w4", 8, 16, 3, 3), n.b("b4", 8)], "y", pads=[1, 1, 1, 1])
    return n.model([1, 3, 32, 32], [1, 8, 8, 8])


def test_onnxruntime_qdq_model_agrees_within_one_lsb(tmp_path: Path):
    """A model written by onnxruntime.quantization.quantize_static (QDQ, per-channel int8
    weights, uint8 activations) imports with its own scales; nanort's output agrees with
    onnxruntime running that QDQ model within one step of the output's scale on >= 99 %."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    src, qdq = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(_qdq_net(), str(src))
    calib = iter(_images(10, 16))

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(calib, None)

    quantize_static(str(src), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    m = onnx.load(str(qdq))
    out_dq = next(nd for nd in m.graph.node if nd.output[0] == "y")
    assert out_dq.op_type == "DequantizeLinear"
    scale = float(onnx.numpy_helper.to_array(next(i for i in m.graph.initializer if i.name == out_dq.input[1])))
    report = nanort.convert(qdq, tmp_path / "q.nrt")
    assert report.float_fallbacks == [], report.float_fallbacks
    sess = ort.InferenceSession(str(qdq), providers=["CPUExecutionProvider"])
    with nanort.Model(tmp_path / "q.nrt") as model:
        for feeds in _images(11, 4):
            want = sess.run(None, feeds)[0]
            got = model.run(feeds)["y"]  # the output keeps its name
            steps = np.abs(got - want) / scale
            assert (steps <= 1.0 + 1e-3).mean() >= 0.99, np.percentile(steps, [50, 99, 100])
