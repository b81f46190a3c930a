"""onnxruntime's DynamicQuantizeLSTM (com.microsoft) converted onto the runtime's dynamic
int8 LSTM (contrib_ops.py, passes/dynamic_lstm.py, ops/rnn.c): X and h quantized as one
tensor at run time, int8 W and R with one scale per direction. Against onnxruntime running
the same file and against a numpy model of the arithmetic (kernels/requant.h DynamicLSTM)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

RNG = np.random.default_rng(5)
SEQ, BATCH, IN, H = 6, 2, 24, 16


def lstm_model(dirs, *, per_column_scales=False):
    """DynamicQuantizeLSTM: W [dirs, in, 4H] and R [dirs, H, 4H] int8, scales per direction
    (or per direction and column), zero points 0, bias, initial h and c."""
    shape = (dirs, 4 * H) if per_column_scales else (dirs,)
    inits = {"W": RNG.integers(-127, 128, (dirs, IN, 4 * H)).astype(np.int8),
             "R": RNG.integers(-127, 128, (dirs, H, 4 * H)).astype(np.int8),
             "B": (RNG.standard_normal((dirs, 8 * H)) * 0.3).astype(np.float32),
             "h0": (RNG.standard_normal((dirs, BATCH, H)) * 0.5).astype(np.float32),
             "c0": (RNG.standard_normal((dirs, BATCH, H)) * 0.5).astype(np.float32),
             "ws": np.full(shape, 0.02, np.float32) * RNG.uniform(0.5, 1.5, shape).astype(np.float32),
             "wz": np.zeros(shape, np.int8),
             "rs": np.full(shape, 0.02, np.float32) * RNG.uniform(0.5, 1.5, shape).astype(np.float32),
             "rz": np.zeros(shape, np.int8)}
    node = helper.make_node("DynamicQuantizeLSTM", ["x", "W", "R", "B", "", "h0", "c0", "", "ws", "wz", "rs", "rz"],
                            ["y", "y_h", "y_c"], domain="com.microsoft", hidden_size=H,
                            direction="bidirectional" if dirs == 2 else "forward")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [SEQ, BATCH, IN])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "y_h", "y_c")],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", 14), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    return model, inits


def run_ort(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})


def run_nanort(graph, x, isa="auto"):
    with nanort.Model(serialize(graph), isa=isa) as runtime:
        return runtime.run(None, {"x": x})


def dynamic_quantize(a):
    """DynamicQuantizeLinear's q - z (exact integers) and scale, in float32."""
    lo, hi = np.float32(min(a.min(), 0)), np.float32(max(a.max(), 0))
    s = np.float32((hi - lo) / np.float32(255))
    z = np.clip(np.rint(np.float32(0) - lo / s), 0, 255)
    return (np.clip(np.rint(a / s) + z, 0, 255) - z).astype(np.int64), s


def quantize_rows(a):
    """requant.h DynamicFullyConnected's row rule (each row its own scale): q - z and scales."""
    lo, hi = np.minimum(a.min(1), 0).astype(np.float32), np.maximum(a.max(1), 0).astype(np.float32)
    s = ((hi - lo) / np.float32(255)).astype(np.float32)
    z = np.where(s == 0, 0, np.clip(np.rint(np.float32(-128) - lo / np.where(s == 0, 1, s)), -128, 127))
    s = np.where(s == 0, np.float32(1), s).astype(np.float32)
    q = np.clip(np.rint(a * (np.float32(1) / s)[:, None]) + z[:, None], -128, 127)
    return (q - z[:, None]).astype(np.int64), s


def sigmoid(v):
    return (1 / (1 + np.exp(-v.astype(np.float64)))).astype(np.float32)


def numpy_lstm(inits, x, dirs):
    """requant.h DynamicLSTM: per direction, q(X) . W^T * (s_x s_w) + (Wb + Rb) for all steps (X
    quantized as one tensor), then at each step q(h) . R^T * (s_h s_r) + those (each row of h
    quantized on its own), gates i, o, f, c."""
    ys, hs, cs = [], [], []
    for d in range(dirs):
        w, r = inits["W"][d].T.astype(np.int64), inits["R"][d].T.astype(np.int64)  # [4H, in], [4H, H]
        bias = inits["B"][d][:4 * H] + inits["B"][d][4 * H:]
        qx, sx = dynamic_quantize(x.reshape(-1, IN))
        gx = ((qx @ w.T).astype(np.float32) * np.float32(sx * inits["ws"][d]) + bias).reshape(SEQ, BATCH, 4 * H)
        h, c, y = inits["h0"][d].copy(), inits["c0"][d].copy(), np.zeros((SEQ, BATCH, H), np.float32)
        for t in (range(SEQ) if d == 0 else reversed(range(SEQ))):
            qh, sh = quantize_rows(h)
            g = (qh @ r.T).astype(np.float32) * (sh * inits["rs"][d])[:, None] + gx[t]
            i, o, f, cand = sigmoid(g[:, :H]), sigmoid(g[:, H:2 * H]), sigmoid(g[:, 2 * H:3 * H]), np.tanh(g[:, 3 * H:])
            c = f * c + i * cand
            h = o * np.tanh(c)
            y[t] = h
        ys.append(y), hs.append(h), cs.append(c)
    return [np.stack(ys, 1), np.stack(hs), np.stack(cs)]


@pytest.mark.parametrize("dirs", [1, 2])
def test_int8_lstm_follows_the_integer_arithmetic(dirs):
    model, inits = lstm_model(dirs)
    graph = convert_graph(model)
    (lstm,) = [n for n in graph.nodes if n.op == "LSTM"]
    assert [graph.tensors[i].dtype for i in lstm.inputs[1:3]] == [np.int8, np.int8]
    x = RNG.standard_normal((SEQ, BATCH, IN)).astype(np.float32)
    want = numpy_lstm(inits, x, dirs)
    for isa in cpu_levels():
        for got, w in zip(run_nanort(graph, x, isa), want):
            np.testing.assert_allclose(got, w, rtol=0, atol=2e-5, err_msg=isa)


def test_int8_lstm_is_onnxruntimes_arithmetic():
    """Closer to onnxruntime's DynamicQuantizeLSTM than an fp32 LSTM on the same weights is."""
    model, inits = lstm_model(2)
    x = RNG.standard_normal((SEQ, BATCH, IN)).astype(np.float32)
    want = run_ort(model, x)
    got = run_nanort(convert_graph(model), x)
    fp32 = ort.InferenceSession(float_lstm(inits).SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    for g, w, f in zip(got, want, fp32):
        assert np.abs(g - w).max() < np.abs(f - w).max() / 4
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-5)


def float_lstm(inits):
    """The same LSTM in fp32 on the dequantized weights (ONNX layout)."""
    def dequantized(q, scale):  # scale per direction, or per direction and column of [dirs, k, 4H]
        per_column = scale[:, None, :] if scale.ndim == 2 else scale[:, None, None]
        return (q.astype(np.float32) * per_column).transpose(0, 2, 1)

    w, r = dequantized(inits["W"], inits["ws"]), dequantized(inits["R"], inits["rs"])
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["y", "y_h", "y_c"], hidden_size=H,
                            direction="bidirectional" if len(w) == 2 else "forward")
    values = {"W": np.ascontiguousarray(w), "R": np.ascontiguousarray(r), **{k: inits[k] for k in ("B", "h0", "c0")}}
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [SEQ, BATCH, IN])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "y_h", "y_c")],
                              [numpy_helper.from_array(v, k) for k, v in values.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


def test_per_column_scales_give_an_fp32_lstm():
    """Scales per direction and column: an fp32 LSTM on the dequantized weights."""
    model, inits = lstm_model(1, per_column_scales=True)
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    (lstm,) = [n for n in graph.nodes if n.op == "LSTM"]
    assert graph.tensors[lstm.inputs[1]].dtype == np.float32 and "dynamic_int8" not in lstm.attrs
    x = RNG.standard_normal((SEQ, BATCH, IN)).astype(np.float32)
    want = ort.InferenceSession(float_lstm(inits).SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    for got, w in zip(run_nanort(graph, x), want):
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-5)


def test_int8_weights_the_dynamic_lstm_cannot_take_are_refused_in_one_line():
    model, _ = lstm_model(1)
    graph = convert_graph(model)
    (lstm,) = [n for n in graph.nodes if n.op == "LSTM"]
    graph.tensors[lstm.inputs[2]].quant.zero_point = np.array([3])  # (R with a zero point)
    with pytest.raises(nanort.Error, match="has type int8; only float32 is supported"):
        run_nanort(graph, np.zeros((SEQ, BATCH, IN), np.float32))


def test_bench_names_both_sides_dynamic_int8(tmp_path):
    from nanort import peers

    model, _ = lstm_model(1)
    onnx.save(model, tmp_path / "m.onnx")
    nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")
    assert peers.nanort_precision(tmp_path / "m.nrt") == peers.onnx_precision(tmp_path / "m.onnx") == \
        "int8 weights, fp32 activations"
