"""The benchmark's measuring loop and `nanort bench` end to end on a small model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tflite_builder import Const, Var, single

import nanort
from nanort.runtime.benchmark import block_for, interleaved


def _counting(log: list[str], name: str):
    return lambda: log.append(name)


def test_interleaved_alternates_every_run_at_one_thread():
    log: list[str] = []
    t = interleaved({"a": _counting(log, "a"), "b": _counting(log, "b")}, runs=3, warmup=1, block=block_for(1))
    assert log == ["a", "b"] + ["a", "b"] * 3
    assert t["a"].runs == t["b"].runs == 3


def test_interleaved_blocks_lead_with_an_untimed_run():
    log: list[str] = []
    t = interleaved({"a": _counting(log, "a"), "b": _counting(log, "b")}, runs=7, warmup=1, block=block_for(2))
    assert log == ["a", "b"] + ["a"] * 6 + ["b"] * 6 + ["a"] * 3 + ["b"] * 3
    assert t["a"].runs == t["b"].runs == 7


def test_cli_bench_against_onnxruntime(tmp_path):
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["c"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")
    for threads in ("1", "2"):
        r = subprocess.run([sys.executable, "-m", "nanort.cli", "bench", str(tmp_path / "m.nrt"), "--vs",
                            str(tmp_path / "m.onnx"), "--runs", "6", "--threads", threads, "--no-memory"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert "onnxruntime" in r.stdout and "x" in r.stdout and "6 interleaved runs" in r.stdout, r.stdout
        assert "fp32" in r.stdout and "max err" in r.stdout, r.stdout  # each side's precision, their agreement


def test_cli_bench_against_tflite_names_precisions_and_agreement(tmp_path):
    rng = np.random.default_rng(0)
    w, b = (Const(rng.standard_normal(shape).astype(np.float32)) for shape in ((8, 3, 3, 4), (8,)))
    (tmp_path / "m.tflite").write_bytes(single("CONV_2D", [Var((1, 16, 16, 4)), w, b], [Var((1, 16, 16, 8))],
                                               "Conv2DOptions", padding=0, strideH=1, strideW=1,
                                               dilationHFactor=1, dilationWFactor=1))
    nanort.convert(tmp_path / "m.tflite", tmp_path / "m.nrt")
    r = subprocess.run([sys.executable, "-m", "nanort.cli", "bench", str(tmp_path / "m.nrt"), "--vs",
                        str(tmp_path / "m.tflite"), "--runs", "6", "--no-memory"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "tflite (xnnpack)" in r.stdout and "precision" in r.stdout and "fp32" in r.stdout, r.stdout
    assert "max err" in r.stdout and "of range" in r.stdout, r.stdout
