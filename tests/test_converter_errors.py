"""Bad converter input: one clear nanort.ConversionError (a one-line CLI
error, non-zero exit), never a traceback, and no partial output file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort

F = TensorProto.FLOAT


def _model(nodes, inits=(), inputs=None, outputs=None, opset=17):
    inputs = inputs or [helper.make_tensor_value_info("x", F, [1, 4])]
    outputs = outputs or [helper.make_tensor_value_info("y", F, None)]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                             opset_imports=[helper.make_opsetid("", opset)])


@pytest.fixture
def good(tmp_path):
    m = _model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
               [numpy_helper.from_array(np.ones((4, 3), np.float32), "w")])
    path = tmp_path / "good.onnx"
    onnx.save(m, path)
    return path


def _convert_fails(src, dst, match: str | None, cls=nanort.ConversionError):
    with pytest.raises(cls, match=match):
        nanort.convert(src, dst)
    assert not dst.exists()
    assert not list(dst.parent.glob(f".{dst.name}.*")), "temporary file left behind"


def test_truncated_file(good, tmp_path):
    data = good.read_bytes()
    for cut in (1, len(data) // 3, len(data) - 7):
        bad = tmp_path / f"cut{cut}.onnx"
        bad.write_bytes(data[:cut])
        with pytest.raises(nanort.ConversionError):
            nanort.convert(bad, tmp_path / "out.nrt")
        assert not (tmp_path / "out.nrt").exists()


def test_garbage_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not protobuf at all" * 10)
    _convert_fails(bad, tmp_path / "o.nrt", None)


def test_missing_initializer(tmp_path):
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])])
    onnx.save(m, tmp_path / "m.onnx")
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", "reads 'w'")


def test_unsupported_op_names_op_node_and_opset(tmp_path):
    m = _model([helper.make_node("Det", ["x"], ["y"], name="e1")], opset=13)
    onnx.save(m, tmp_path / "m.onnx")
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", r"\(opset 13\): Det x1 \(node 'e1'\)",
                   nanort.UnsupportedOpError)


def test_inconsistent_shapes(tmp_path):
    m = _model([helper.make_node("Add", ["x", "b"], ["y"])],
               [numpy_helper.from_array(np.ones((3, 5), np.float32), "b")])
    onnx.save(m, tmp_path / "m.onnx")
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", "inconsistent")


def test_missing_external_data(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])
    onnx.save(m, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", "weights.bin")


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    """A location such as ../secret is a path traversal (ONNX's CVE-2022-25882 class)."""
    (tmp_path / "secret.bin").write_bytes(np.ones(12, np.float32).tobytes())
    sub = tmp_path / "model"
    sub.mkdir()
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])
    onnx.save(m, sub / "m.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    m = onnx.load(sub / "m.onnx", load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "../secret.bin"
    onnx.save(m, sub / "m.onnx")
    _convert_fails(sub / "m.onnx", sub / "o.nrt", "outside the model's folder")


@pytest.mark.parametrize("edit", ["raw_short", "typed_long", "negative_dim", "undefined_type", "unknown_type"])
def test_initializer_data_does_not_match_dims(tmp_path, edit):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    if edit == "raw_short":
        w.raw_data = w.raw_data[:-4]
    elif edit == "typed_long":
        w.ClearField("raw_data")
        w.float_data.extend([1.0] * 13)
    elif edit == "undefined_type":  # Hypothesis found these two crashing constant folding
        w.data_type = 0
    elif edit == "unknown_type":
        w.data_type = 99
    else:
        w.dims[0] = -4
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])
    (tmp_path / "m.onnx").write_bytes(m.SerializeToString())
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", "initializer 'w'")


def test_external_data_loads(tmp_path):
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])
    onnx.save(m, tmp_path / "m.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")
    x = np.ones((1, 4), np.float32)
    with nanort.Model(tmp_path / "m.nrt") as model:
        np.testing.assert_allclose(model.run({"x": x})["y"], x @ np.arange(12, dtype=np.float32).reshape(4, 3))


@pytest.mark.parametrize("domain, op", [("", "Relu"), ("com.example", "Swizzle")])
def test_opset_version_past_a_c_int_is_refused(domain, op, tmp_path):
    """A flipped byte made a version of 2^40: ONNX's schema lookup raised TypeError out of convert."""
    m = _model([helper.make_node(op, ["x"], ["y"], domain=domain)])
    if domain:
        m.opset_import.append(helper.make_opsetid(domain, 1))
    m.opset_import[-1].version = 2**40
    onnx.save(m, tmp_path / "m.onnx")
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt",
                   f"opset_import of domain '{domain or 'ai.onnx'}' has version {2**40}, which is not an opset version")


def test_op_type_that_is_not_utf8_is_refused(tmp_path):
    """A flipped byte made "MatMul" "\\x80atMul": protobuf hands the field over as bytes and ONNX's
    schema lookup raised TypeError out of convert."""
    data = _model([helper.make_node("Relu", ["x"], ["y"])]).SerializeToString()
    (tmp_path / "m.onnx").write_bytes(data.replace(b"Relu", b"\x80elu"))
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", r"node #0 of graph 'g': its op type or domain is not UTF-8")


def test_old_opset_is_refused(tmp_path):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], opset=5)
    onnx.save(m, tmp_path / "m.onnx")
    _convert_fails(tmp_path / "m.onnx", tmp_path / "o.nrt", "opset 5")


def test_existing_output_survives_a_failed_conversion(tmp_path, good):
    out = tmp_path / "model.nrt"
    nanort.convert(good, out)
    before = out.read_bytes()
    m = _model([helper.make_node("Det", ["x"], ["y"])], opset=13)
    onnx.save(m, tmp_path / "bad.onnx")
    with pytest.raises(nanort.UnsupportedOpError):
        nanort.convert(tmp_path / "bad.onnx", out)
    assert out.read_bytes() == before


def test_output_gets_the_umask_permissions_not_the_temporary_files(tmp_path, good):
    umask = os.umask(0o022)
    try:
        nanort.convert(good, tmp_path / "model.nrt")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "model.nrt").stat().st_mode) == 0o644


def test_cli_prints_one_line_and_exits_nonzero(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    r = subprocess.run([sys.executable, "-m", "nanort.cli", "convert", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nanort convert: error:"), r.stderr
    assert "Traceback" not in r.stderr
