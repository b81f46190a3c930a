"""What the importer forgives and what it reports at once, checked against
onnxruntime: declared shapes that contradict inference (dropped with one
warning, refused under strict), every unsupported operator of a model in one
error, inputs frozen to values (--input-value) and `If` nodes folded once
their condition is a constant."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import ConversionWarning

F = TensorProto.FLOAT


def _save(tmp_path, nodes, inputs, outputs, inits=(), opset=17, name="m.onnx"):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _ort(path, feeds):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def _nanort(path, feeds, **convert_kw):
    out = path.with_suffix(".nrt")
    nanort.convert(path, out, **convert_kw)
    with nanort.Model(out) as m:
        return list(m.run(feeds).values())


def _wrong_output_rank(tmp_path):
    # y really is [1, 4, 3]; the file says rank 2 (as a widely used captcha model does)
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((1, 4, 3)).astype(np.float32), "w")
    return _save(tmp_path, [helper.make_node("Mul", ["x", "w"], ["y"])],
                 [helper.make_tensor_value_info("x", F, [1, 4, 1])],
                 [helper.make_tensor_value_info("y", F, [1, 12])], [w])


def test_contradicting_declared_shape_is_dropped_with_one_warning(tmp_path):
    path = _wrong_output_rank(tmp_path)
    x = np.random.default_rng(1).standard_normal((1, 4, 1)).astype(np.float32)
    with pytest.warns(ConversionWarning, match=r"y float\[1,12\] -> float\[1,4,3\]"):
        got = _nanort(path, {"x": x})
    want = _ort(path, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


def test_strict_refuses_contradicting_declared_shape(tmp_path):
    path = _wrong_output_rank(tmp_path)
    with pytest.raises(nanort.ConversionError, match="inconsistent"):
        nanort.convert(path, tmp_path / "o.nrt", strict=True)
    assert not (tmp_path / "o.nrt").exists()


def test_cli_prints_the_warning_once_and_strict_fails(tmp_path):
    path = _wrong_output_rank(tmp_path)
    cli = [sys.executable, "-m", "nanort.cli", "convert", str(path), "-o", str(tmp_path / "o.nrt"), "-q"]
    ok = subprocess.run(cli, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.count("warning:") == 1 and "re-inferred" in ok.stderr
    strict = subprocess.run(cli + ["--strict"], capture_output=True, text=True)
    assert strict.returncode != 0 and "inconsistent" in strict.stderr


def test_every_unsupported_op_in_one_error(tmp_path):
    nodes = [helper.make_node("Det", ["x"], ["d1"], name="det_a"),
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Det", ["r"], ["d2"], name="det_b"),
             helper.make_node("Foo", ["r"], ["f"], name="foo", domain="com.example")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [3, 3])],
                 [helper.make_tensor_value_info(n, F, None) for n in ("d1", "d2", "f")],
                 opset=17)
    model = onnx.load(path)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(model, path)
    with pytest.raises(nanort.UnsupportedOpError) as e:
        nanort.convert(path, tmp_path / "o.nrt")
    msg = str(e.value)
    assert "3 nodes of 2 operator types" in msg
    assert "Det x2 (nodes 'det_a', 'det_b')" in msg and "com.example:Foo x1 (node 'foo')" in msg


def _if_on_input(tmp_path):
    """y = x * 2 if rate == 16000 else x - 1; the branches read x from the outer scope."""
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, None)],
                               [numpy_helper.from_array(np.float32(2), "two")])
    else_g = helper.make_graph([helper.make_node("Sub", ["x", "one"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, None)],
                               [numpy_helper.from_array(np.float32(1), "one")])
    nodes = [helper.make_node("Equal", ["rate", "k16000"], ["is16k"]),
             helper.make_node("If", ["is16k"], ["y"], name="pick", then_branch=then_g, else_branch=else_g)]
    return _save(tmp_path, nodes,
                 [helper.make_tensor_value_info("x", F, [2, 3]),
                  helper.make_tensor_value_info("rate", TensorProto.INT64, [])],
                 [helper.make_tensor_value_info("y", F, [2, 3])],
                 [numpy_helper.from_array(np.int64(16000), "k16000")])


@pytest.mark.parametrize("rate", [16000, 8000])
def test_input_value_freezes_input_and_folds_if(tmp_path, rate):
    path = _if_on_input(tmp_path)
    x = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    report = nanort.convert(path, tmp_path / "o.nrt", input_values={"rate": rate})
    assert "If" not in report.op_histogram and [n for n, _ in report.inputs] == ["x"]
    with nanort.Model(tmp_path / "o.nrt") as m:
        got = m.run({"x": x})["y"]
    want = _ort(path, {"x": x, "rate": np.array(rate, np.int64)})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_input_value_errors_name_the_problem(tmp_path):
    path = _if_on_input(tmp_path)
    with pytest.raises(nanort.ConversionError, match="inputs are x, rate"):
        nanort.convert(path, tmp_path / "o.nrt", input_values={"sr": 1})
    with pytest.raises(nanort.ConversionError, match=r"shape \[2,3\]"):
        nanort.convert(path, tmp_path / "o.nrt", input_values={"x": [1.0, 2.0]})


def test_cli_input_value(tmp_path):
    path = _if_on_input(tmp_path)
    r = subprocess.run([sys.executable, "-m", "nanort.cli", "convert", str(path), "-o", str(tmp_path / "o.nrt"),
                        "--input-value", "rate=8000", "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with nanort.Model(tmp_path / "o.nrt") as m:
        assert [t.name for t in m.inputs] == ["x"]
