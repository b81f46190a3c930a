"""DequantizeLinear -> float unary op as one int8 -> float32 table (converter/passes/dequantize_lut.py, the
float-table Lut of native/src/ops/quantize.c, the qs8_f32_lut kernels): on every level the fused graph gives
the bits the two ops give unfused, and both agree with numpy's float64 function within its tolerance."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nanort
from nanort.converter import convert
from nanort.converter.ir import Graph, Node, QuantParams
from nanort.converter.passes import dequantize_lut
from nanort.converter.serialize import serialize
from nanort.runtime.errors import DTypeError
from nanort.runtime.model import cpu_levels

LEVELS = cpu_levels()
RNG = np.random.default_rng(19)
SHAPE = (1, 3, 32, 32)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# op, attrs, numpy float64 model, tolerance (the level kernels' documented ulps, as absolute + relative)
CASES = {
    "Sigmoid": ({}, _sigmoid),
    "Tanh": ({}, np.tanh),
    "Exp": ({}, np.exp),
    "Relu": ({}, lambda v: np.maximum(v, 0.0)),
    "LeakyRelu": ({"alpha": 0.1}, lambda v: np.where(v < 0, 0.1 * v, v)),
    "HardSigmoid": ({"alpha": 0.2, "beta": 0.5}, lambda v: np.clip(0.2 * v + 0.5, 0.0, 1.0)),
    "HardSwish": ({}, lambda v: v * np.clip(v / 6.0 + 0.5, 0.0, 1.0)),
    "Silu": ({}, lambda v: v * _sigmoid(v)),
}


def chain_graph(op: str, attrs: dict, shape: tuple, scale: float, zp: int) -> Graph:
    g = Graph()
    g.add_tensor("x", np.int8, shape).quant = QuantParams(scale, zp)
    g.add_tensor("f", np.float32, shape)
    g.add_tensor("y", np.float32, shape)
    g.nodes = [Node("DequantizeLinear", ["x"], ["f"], {}, "dequantize"), Node(op, ["f"], ["y"], dict(attrs), op)]
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def run(data: bytes, x: np.ndarray, isa: str, threads: int = 1) -> tuple[np.ndarray, dict]:
    with nanort.Model(data, isa=isa, threads=threads, check_finite=False) as m:
        m.set_profiling(True)
        (y,) = m.run(None, {"x": x})
        return y, {p["op"]: p["calls"] for p in m.profile()}


@pytest.mark.parametrize("op", sorted(CASES))
def test_fused_table_is_the_chain_bit_for_bit(op):
    """Sizes around every level's vector width (tails included); the fused graph runs one Lut and no float op."""
    attrs, model = CASES[op]
    for n in (1, 7, 8, 15, 16, 17, 31, 33, 100, 20001):
        scale, zp = float(np.float32(RNG.uniform(0.01, 0.2))), int(RNG.integers(-128, 128))
        x = RNG.integers(-128, 128, size=(1, n), dtype=np.int8)
        x[0, : min(n, 256)] = np.arange(-128, 128, dtype=np.int8)[: min(n, 256)]  # every code where it fits
        unfused = serialize(chain_graph(op, attrs, (1, n), scale, zp))
        g = chain_graph(op, attrs, (1, n), scale, zp)
        dequantize_lut.fuse_dequantize_unary(g)
        assert [nd.op for nd in g.nodes] == ["DequantizeLinear", op, "Lut"]
        fused = serialize(g)
        want64 = model(np.float64(np.float32(scale)) * (x.astype(np.float64) - zp))
        for isa in LEVELS:
            y_chain, _ = run(unfused, x, isa)
            y, calls = run(fused, x, isa, threads=2)
            assert calls.get("Lut") == 1 and not calls.get(op) and not calls.get("DequantizeLinear"), (isa, calls)
            assert y.dtype == np.float32 and y.shape == x.shape
            np.testing.assert_array_equal(y.view(np.uint32), y_chain.view(np.uint32), err_msg=f"{isa} n={n}")
            np.testing.assert_allclose(y, want64, rtol=2e-6, atol=1e-7, err_msg=f"{isa} n={n}")


@pytest.mark.parametrize("n", [1, 5, 8, 16, 23, 64, 255, 256, 257, 4099, 70001])
def test_float_table_kernels_against_numpy(n):
    """The qs8_f32_lut kernel of every level: any 256 float32 bit patterns (NaN, infinities, subnormals
    included), copied exactly, at sizes around the vector widths and over the threading grain."""
    table = RNG.integers(0, 2**32, size=256, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = RNG.integers(-128, 128, size=(n,), dtype=np.int8)
    g = Graph()
    g.add_tensor("x", np.int8, (n,))
    g.add_tensor("table", np.float32, (256,), table)
    g.add_tensor("y", np.float32, (n,))
    g.nodes = [Node("Lut", ["x", "table"], ["y"], {}, "lut")]
    g.inputs, g.outputs = ["x"], ["y"]
    want = table[x.astype(np.int64) + 128]
    for isa in LEVELS:
        for threads in (1, 3):
            y, _ = run(serialize(g), x, isa, threads)
            np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32), err_msg=f"{isa} {threads}")


def test_not_fused_when_the_dequantized_tensor_is_read_elsewhere():
    g = chain_graph("Sigmoid", {}, (4,), 0.05, 3)
    g.outputs = ["y", "f"]
    dequantize_lut.fuse_dequantize_unary(g)
    assert [nd.op for nd in g.nodes] == ["DequantizeLinear", "Sigmoid"]


def test_float_table_needs_an_int8_input():
    g = Graph()
    g.add_tensor("x", np.uint8, (4,))
    g.add_tensor("table", np.float32, (256,), np.zeros(256, np.float32))
    g.add_tensor("y", np.float32, (4,))
    g.nodes = [Node("Lut", ["x", "table"], ["y"], {}, "lut")]
    g.inputs, g.outputs = ["x"], ["y"]
    with nanort.Model(serialize(g)) as m, pytest.raises(DTypeError, match=r"a float32 table \(table\) needs an int8"):
        m.run(None, {"x": np.zeros(4, np.uint8)})


def test_table_against_onnxruntime_dequantize_sigmoid(tmp_path):
    """onnxruntime's DequantizeLinear -> Sigmoid on every int8 code: the fused graph within float32 Sigmoid's
    ulps on every level."""
    scale, zp = 0.07, -5
    init = [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
            helper.make_tensor("z", TensorProto.INT8, [], [zp])]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["f"]), helper.make_node("Sigmoid", ["f"], ["y"])]
    graph = helper.make_graph(nodes, "dq_sigmoid", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])], init)
    src = tmp_path / "dq_sigmoid.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(src))
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    (want,) = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    g = chain_graph("Sigmoid", {}, (1, 256), scale, zp)
    dequantize_lut.fuse_dequantize_unary(g)
    for isa in LEVELS:
        y, _ = run(serialize(g), x, isa)
        np.testing.assert_allclose(y, want, rtol=2e-6, atol=1e-7, err_msg=isa)


def _conv_sigmoid_onnx(path) -> None:
    """Two convs (enough work to run in int8) and a Sigmoid at the output."""
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [16, 3, 3, 3], RNG.normal(0, 0.5, 16 * 27).astype(np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [4, 16, 3, 3], RNG.normal(0, 0.2, 4 * 144).astype(np.float32))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h1"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["h2"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["h2"], ["y"])]
    graph = helper.make_graph(nodes, "conv_sigmoid", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 32, 32])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_converted_int8_model_with_and_without_the_pass(tmp_path, monkeypatch):
    """An int8 Conv -> Sigmoid at the output (the Sigmoid stays float32: a probability tail) converted with
    and without the pass: bit-identical on every level, and the fused file runs no Sigmoid."""
    src = tmp_path / "m.onnx"
    _conv_sigmoid_onnx(str(src))
    calibration = [{"x": RNG.normal(0, 1, SHAPE).astype(np.float32)} for _ in range(4)]
    x = RNG.normal(0, 1, SHAPE).astype(np.float32)
    convert(src, tmp_path / "fused.nrt", quantize="int8", calibration=calibration)
    monkeypatch.setattr(dequantize_lut, "fuse_dequantize_unary", lambda graph: None)
    convert(src, tmp_path / "chain.nrt", quantize="int8", calibration=calibration)
    for isa in LEVELS:
        with nanort.Model(str(tmp_path / "fused.nrt"), isa=isa) as m:
            m.set_profiling(True)
            (y,) = m.run(None, {"x": x})
            ran = {p["op"] for p in m.profile() if p["calls"]}
            assert "Lut" in ran and "Sigmoid" not in ran, (isa, ran)
        with nanort.Model(str(tmp_path / "chain.nrt"), isa=isa) as m:
            m.set_profiling(True)
            (y_chain,) = m.run(None, {"x": x})
            assert "Sigmoid" in {p["op"] for p in m.profile() if p["calls"]}
        np.testing.assert_array_equal(y.view(np.uint32), y_chain.view(np.uint32), err_msg=isa)
