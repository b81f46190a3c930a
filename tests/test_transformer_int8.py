"""int8 transformers with no flag but --quantize int8 (converter/quantize/transformer.py):
a trained sentence embedder (all-MiniLM-L6-v2 from a PyPI wheel) against onnxruntime fp32
on held-out real sentences, and the attention detector that gates the transformer mix."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import text_models as tm
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.quantize.transformer import has_attention, projection_share

CALIBRATION, HELD_OUT = 48, 100


@pytest.fixture(scope="module")
def minilm():
    return tm.minilm_onnx(), tm.minilm_tokenizer()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.slow
def test_minilm_int8_keeps_every_sentence_embedding(minilm, tmp_path):
    """Static int8 alone reached a worst cosine of 0.85 on these sentences (the -10000 mask,
    outlier channels): the converter must choose a mix that keeps >= 0.99 on every one."""
    path, tok = minilm
    calibration, held_out = tm.split_sentences(CALIBRATION, HELD_OUT)
    out = tmp_path / "minilm-int8.nrt"
    report = nanort.convert(path, out, quantize="int8", calibration=[tok.encode(s) for s in calibration])
    assert "transformer mix" in " ".join(report.quantization.result.notes), report.summary()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = nanort.Model(out)
    feeds = [tok.encode(s) for s in held_out]
    fp32 = np.concatenate([session.run(None, f)[0] for f in feeds])
    int8 = np.concatenate([model.run(f)["sentence_embedding"] for f in feeds])
    cos = _cosines(fp32, int8)
    assert cos.min() >= 0.99, (cos.min(), held_out[int(cos.argmin())])
    assert out.stat().st_size < 0.7 * path.stat().st_size  # int8 projection weights


def _attention_graph(masked: bool) -> onnx.ModelProto:
    """q k^T / sqrt(d) (+ mask) -> Softmax -> @ v on a [1, 4, 8] input."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), n) for n in ("wq", "wk", "wv")]
    inits += [numpy_helper.from_array(np.array([0, 2, 1]), "perm_shape"),
              numpy_helper.from_array(np.float32(np.sqrt(8.0)), "scale"),
              numpy_helper.from_array(np.zeros((1, 4, 4), np.float32), "mask")]
    nodes = [helper.make_node("MatMul", ["x", w], [w + "_out"]) for w in ("wq", "wk", "wv")]
    nodes += [helper.make_node("Transpose", ["wk_out"], ["kt"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["wq_out", "kt"], ["scores"]),
              helper.make_node("Div", ["scores", "scale"], ["scaled"])]
    last = "scaled"
    if masked:
        nodes.append(helper.make_node("Add", ["scaled", "mask"], ["masked"]))
        last = "masked"
    nodes += [helper.make_node("Softmax", [last], ["probs"], axis=-1),
              helper.make_node("MatMul", ["probs", "wv_out"], ["y"])]
    graph = helper.make_graph(nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _classifier_graph() -> onnx.ModelProto:
    """Gemm -> Softmax: probabilities, no attention."""
    w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"]), helper.make_node("Softmax", ["logits"], ["p"])]
    graph = helper.make_graph(nodes, "classifier", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 3])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("masked", [False, True])
def test_attention_is_recognized(masked):
    graph = convert_graph(_attention_graph(masked), fuse_only_clamps=True)
    assert has_attention(graph)
    assert projection_share(graph) == 1.0  # q, k, v projections; no convolution


def test_softmax_over_weights_is_not_attention():
    assert not has_attention(convert_graph(_classifier_graph(), fuse_only_clamps=True))


def test_dynamic_summary_lists_only_multiply_accumulate_layers(tmp_path):
    """--quantize dynamic: the projections get int8 weights; the attention products are the only
    fp32 fallbacks named (Softmax, Div, Transpose are fp32 by design, not fallbacks)."""
    src = tmp_path / "attention.onnx"
    onnx.save(_attention_graph(masked=True), src)
    report = nanort.convert(src, tmp_path / "attention.nrt", quantize="dynamic")
    assert len(report.quantization.result.int8_nodes) == 3, report.summary()
    named = [f.split(" ")[1] for f in report.float_fallbacks]
    assert named == ["(MatMul:", "(MatMul:"], report.float_fallbacks


@pytest.mark.slow
def test_trained_decoder_int8_agrees_on_next_tokens(tmp_path):
    """A GPT-2-style decoder trained on real text (tests/tiny_gpt.py): int8 picks fp32's next
    token on >= 95 % of held-out positions, in a file <= 0.3x the fp32 ONNX."""
    import tiny_gpt

    src = tiny_gpt.trained_decoder()
    _, train_tokens, held_tokens = tiny_gpt.corpus()
    seq = tiny_gpt.SEQ
    windows = [held_tokens[i:i + seq][None] for i in range(0, len(held_tokens) - seq, seq)]
    calibration = [{"input_ids": train_tokens[i:i + seq][None]} for i in range(0, 24 * 3 * seq, 3 * seq)]
    out = tmp_path / "decoder-int8.nrt"
    nanort.convert(src, out, quantize="int8", calibration=calibration)
    session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    fp32 = np.concatenate([session.run(None, {"input_ids": w})[0][0].argmax(-1) for w in windows])
    model = nanort.Model(out)
    int8 = np.concatenate([model.run({"input_ids": w})["logits"][0].argmax(-1) for w in windows])
    truth = np.concatenate([w[0, 1:] for w in windows])
    assert np.mean(fp32.reshape(len(windows), seq)[:, :-1].reshape(-1) == truth) > 0.1  # trained: chance is 0.1 %
    assert np.mean(int8 == fp32) >= 0.95, np.mean(int8 == fp32)
    assert out.stat().st_size <= 0.3 * src.stat().st_size, out.stat().st_size / src.stat().st_size
