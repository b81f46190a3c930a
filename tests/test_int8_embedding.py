"""int8 embedding tables: Gather of an int8 table into a float32 output dequantizes the rows
it picks (native/src/kernels/ref/gather_rows_ref.c), against a numpy model of the exact
arithmetic; the converter stores embedding tables as int8 rows, one copy shared with a tied
output projection (a GPT-2-style decoder's int8 file is a quarter of its fp32 ONNX)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import text_models as tm
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.ir import QuantParams
from nanort.converter.quantize.quantize import quantize_dynamic
from nanort.converter.serialize import serialize

VOCAB, WIDTH = 300, 24


def _embedding_model(seq: int = 7) -> onnx.ModelProto:
    table = np.random.default_rng(0).standard_normal((VOCAB, WIDTH)).astype(np.float32)
    table[5] *= 40.0  # one row far larger than the rest: per-row scales keep the others' resolution
    graph = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)], "embedding",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, WIDTH])],
                              [numpy_helper.from_array(table, "table")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _int8_graph():
    graph = convert_graph(_embedding_model())
    result = quantize_dynamic(graph)
    assert result.int8_nodes == [graph.nodes[0].name]
    return graph


def _dequantized_rows(table: np.ndarray, quant: QuantParams, ids: np.ndarray) -> np.ndarray:
    """The kernel's arithmetic: (float)(q - z) * s per row (s, z the row's or the table's)."""
    rows = ids.reshape(-1)
    pick = rows if quant.scale.size > 1 else np.zeros_like(rows)
    q = table[rows].astype(np.int32) - quant.zero_point[pick].astype(np.int32)[:, None]
    return (q.astype(np.float32) * quant.scale[pick][:, None]).reshape(*ids.shape, table.shape[1])


@pytest.mark.parametrize("per_row", [True, False])
def test_int8_gather_is_the_numpy_model(per_row):
    graph = _int8_graph()
    t = graph.tensors[graph.nodes[0].inputs[0]]
    assert t.dtype == np.int8 and t.quant.axis == 0 and t.quant.scale.size == VOCAB
    if not per_row:  # one scale and a zero point for the whole table
        t.quant = QuantParams(t.quant.scale.max(), 3)
    ids = np.array([[5, 0, VOCAB - 1, 5, -1, 17, 42]], np.int64)  # (-1: the last row, as ONNX counts)
    got = nanort.Model(serialize(graph)).run({"ids": ids})["y"]
    expect = _dequantized_rows(graph.const(t.name), t.quant, ids % VOCAB)
    np.testing.assert_array_equal(got, expect)


def test_int8_rows_are_within_half_a_step_of_the_float_table():
    model = _embedding_model()
    ids = np.arange(7, dtype=np.int64)[None] * 40 % VOCAB
    ids[0, 0] = 5
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    fp32 = session.run(None, {"ids": ids})[0]
    graph = _int8_graph()
    got = nanort.Model(serialize(graph)).run({"ids": ids})["y"]
    step = graph.tensors[graph.nodes[0].inputs[0]].quant.scale[ids.reshape(-1)].reshape(1, -1, 1)
    assert np.all(np.abs(got - fp32) <= step / 2 + 1e-7)


def test_int8_gather_with_scales_not_per_row_is_refused():
    graph = _int8_graph()
    t = graph.tensors[graph.nodes[0].inputs[0]]
    t.quant = QuantParams(t.quant.scale[:WIDTH], np.zeros(WIDTH, np.int64), 1)  # per column: not a row lookup
    with pytest.raises(nanort.Error, match="one per row of axis 0"):
        nanort.Model(serialize(graph)).run({"ids": np.zeros((1, 7), np.int64)})


@pytest.mark.parametrize("mode", ["int8", "dynamic"])
def test_tied_decoder_int8_file_is_a_quarter_of_fp32(mode, tmp_path):
    """The tied token embedding is stored once, as int8, for the Gather and the output
    projection: before, it stayed fp32 for the Gather and got an int8 copy for the projection,
    and the int8 file was larger than the fp32 ONNX."""
    seq, vocab = 32, 4096
    src = tmp_path / "gpt2.onnx"
    onnx.save(tm.gpt2_decoder(tm.gpt2_weights(vocab, 64, 2, seq), heads=4, seq=seq), src)
    rng = np.random.default_rng(1)
    feeds = [{"input_ids": rng.integers(0, vocab, (1, seq))} for _ in range(9)]
    out = tmp_path / f"gpt2-{mode}.nrt"
    report = nanort.convert(src, out, quantize=mode, calibration=feeds)
    assert out.stat().st_size <= 0.3 * src.stat().st_size, out.stat().st_size / src.stat().st_size
    assert not any("(Gather" in f for f in report.float_fallbacks), report.float_fallbacks
    fp32 = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, feeds[0])[0]
    got = nanort.Model(out).run(feeds[0])["logits"]
    cos = np.sum(fp32 * got) / (np.linalg.norm(fp32) * np.linalg.norm(got))
    assert cos > 0.99, cos
