"""A careless user loses nothing and reads one clear line: the converter's
output file (never over the source or another file, checked by the runtime
before it is renamed into place, no temporary files left by a killed run)
and the command line as a newcomer meets it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import output_file

F = TensorProto.FLOAT


def small_model(path: Path, dims=(1, 3, 8, 8)) -> Path:
    """Conv + Relu on an NCHW input (dims may be names)."""
    x = helper.make_tensor_value_info("x", F, list(dims))
    y = helper.make_tensor_value_info("y", F, None)
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]),
                                opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nanort", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def one_error_line(r: subprocess.CompletedProcess, command: str) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"nanort {command}: error:"), r.stderr
    return lines[0]


# ------------------------------------------------------------ the output file --
def test_refuses_to_write_over_the_source_model(tmp_path):
    src = small_model(tmp_path / "model.onnx")
    before = src.read_bytes()
    line = one_error_line(cli("convert", str(src), "-o", str(src)), "convert")
    assert "refusing to write over the source model" in line
    assert src.read_bytes() == before
    with pytest.raises(nanort.ConversionError, match="source model"):
        nanort.convert(src, tmp_path / "." / "model.onnx", force=True)


def test_refuses_to_replace_a_file_that_is_not_a_model_unless_forced(tmp_path):
    src = small_model(tmp_path / "model.onnx")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    line = one_error_line(cli("convert", str(src), "-o", str(notes)), "convert")
    assert "is not a nanort model" in line and "--force" in line
    assert notes.read_text() == "my notes"
    assert cli("convert", str(src), "-o", str(notes), "--force", "-q").returncode == 0
    nanort.Model(notes).close()
    nanort.convert(src, notes)  # a .nrt model now: replaced without force


@pytest.mark.parametrize("spelling", ["existing", "existing/", "new/"])
def test_a_folder_destination_gets_model_nrt_inside(tmp_path, spelling):
    src = small_model(tmp_path / "model.onnx")
    (tmp_path / "existing").mkdir()
    report = nanort.convert(src, f"{tmp_path}/{spelling}")
    assert report.output == str(tmp_path / spelling.rstrip("/") / "model.nrt")
    nanort.Model(report.output).close()


def test_the_destination_is_checked_before_converting(tmp_path):
    """-o into a place that cannot be written fails at once, not after the conversion ran."""
    src = tmp_path / "broken.onnx"
    src.write_bytes(b"not onnx at all")  # converting it would fail: the destination's error must come first
    (tmp_path / "file").write_text("x")
    with pytest.raises(nanort.ConversionError, match="is not a writable folder"):
        nanort.convert(src, tmp_path / "file" / "model.nrt")


def two_writers(path: Path, graph_input: bool) -> Path:
    x = helper.make_tensor_value_info("x", F, [1, 4])
    y = helper.make_tensor_value_info("y", F, None)
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="a"),
             helper.make_node("Sigmoid", ["x"], ["x" if graph_input else "y"], name="b")]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]),
              path)
    return path


@pytest.mark.parametrize("graph_input", [False, True], ids=["two producers", "writes a graph input"])
def test_models_the_runtime_would_refuse_are_not_written(tmp_path, graph_input):
    """The converter wrote files nanort.Model then refused."""
    src = two_writers(tmp_path / "m.onnx", graph_input)
    with pytest.raises(nanort.ConversionError, match="already defines"):
        nanort.convert(src, tmp_path / "m.nrt")
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_every_file_is_verified_by_the_runtime_before_the_rename(tmp_path, monkeypatch):
    """Whatever the converter gets wrong, a file nanort.Model refuses is never renamed into place."""
    import nanort.converter as conv

    serialize = conv.serialize
    monkeypatch.setattr(conv, "serialize", lambda graph, info=None: serialize(graph, info)[:-64])
    src = small_model(tmp_path / "m.onnx")
    with pytest.raises(nanort.ConversionError, match="would not load in the runtime"):
        nanort.convert(src, tmp_path / "m.nrt")
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_a_model_over_the_runtimes_file_limit_is_not_written(tmp_path, monkeypatch):
    """Constants folded by the converter can grow a small model past the 2 GiB
    the runtime loads: refused before writing (a stand-in reports that size)."""
    import nanort.converter as conv

    class OverTheLimit(bytes):
        def __len__(self):
            return (2 << 30) + 1

    serialize = conv.serialize
    monkeypatch.setattr(conv, "serialize", lambda graph, info=None: OverTheLimit(serialize(graph, info)))
    src = small_model(tmp_path / "m.onnx")
    with pytest.raises(nanort.ConversionError, match="over the runtime's 2 GiB file limit"):
        nanort.convert(src, tmp_path / "m.nrt")
    assert os.listdir(tmp_path) == ["m.onnx"]


KILLED_CONVERSION = """
import os, time, sys
import nanort.converter.output_file as of
def hang(*args):
    print("verifying", flush=True)
    time.sleep(600)
of.runtime_accepts = hang
import nanort.converter as conv
conv.runtime_accepts = hang
conv.convert(sys.argv[1], sys.argv[2])
"""


def test_a_killed_conversion_leaves_no_temporary_file_behind(tmp_path):
    """kill -9 after the file is written, before its rename: the next conversion to that folder cleans up."""
    src = small_model(tmp_path / "model.onnx")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-c", KILLED_CONVERSION, str(src), str(out / "a.nrt")],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "verifying"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = [f for f in os.listdir(out) if f.endswith(output_file.TEMP_SUFFIX)]
    assert len(left) == 1  # what kill -9 leaves
    someone_elses = out / f".b.nrt.other-host.{p.pid}.x{output_file.TEMP_SUFFIX}"
    ours_running = out / f".c.nrt.{output_file._host()}.{os.getpid()}.x{output_file.TEMP_SUFFIX}"
    someone_elses.write_bytes(b"")
    ours_running.write_bytes(b"")
    nanort.convert(src, out / "b.nrt")
    assert sorted(os.listdir(out)) == sorted(["b.nrt", someone_elses.name, ours_running.name])


# ------------------------------------------------------------- the options --
@pytest.mark.parametrize("args, match", [
    (["--calibration", "x.npz"], "calibration applies to int8 or dynamic quantization only"),
    (["--report", "r.html"], "report applies to int8 or dynamic quantization only"),
    (["--quantize", "dynamic", "--keep-float", "conv"], "keep_float applies to int8 quantization only"),
    (["--quantize", "int8", "--keep-float", "cnov"], "no node named 'cnov'; did you mean 'conv'"),
    (["--quantize", "int8", "--int16", "cnov"], "int16_activations: the model has no node named 'cnov'"),
    (["--int16", "conv"], "int16_activations applies to int8 quantization only"),
    (["--quantize", "int8", "--mean", "1,2"], "mean has 2 values"),
])
def test_options_that_would_do_nothing_or_break_get_one_line(tmp_path, args, match):
    src = small_model(tmp_path / "model.onnx")
    (tmp_path / "img").mkdir()
    if "--mean" in args:
        from PIL import Image

        Image.new("RGB", (8, 8), (10, 200, 30)).save(tmp_path / "img" / "a.png")
        args = args + ["--calibration", str(tmp_path / "img")]
    line = one_error_line(cli("convert", str(src), "-o", str(tmp_path / "m.nrt"), *args), "convert")
    assert match in line
    assert not (tmp_path / "m.nrt").exists()


def test_image_calibration_without_pillow_names_the_extra(tmp_path):
    src = small_model(tmp_path / "model.onnx")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"\x89PNG")
    code = ("import sys; sys.modules['PIL'] = None\n"
            "from nanort.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "convert", str(src), "-o", str(tmp_path / "m.nrt"), "--quantize",
                        "int8", "--calibration", str(tmp_path / "img")], capture_output=True, text=True)
    assert "pip install 'nanort[images]'" in one_error_line(r, "convert")


def test_run_refuses_a_file_that_is_not_npy_in_one_line(tmp_path):
    src = small_model(tmp_path / "model.onnx")
    nanort.convert(src, tmp_path / "m.nrt")
    (tmp_path / "x.txt").write_text("1 2 3")
    line = one_error_line(cli("run", str(tmp_path / "m.nrt"), "--input", str(tmp_path / "x.txt")), "run")
    assert "is not a .npy file (write inputs with numpy.save)" in line


def test_random_calibration_warning_is_one_line(tmp_path):
    src = small_model(tmp_path / "model.onnx")
    r = cli("convert", str(src), "-o", str(tmp_path / "m.nrt"), "--quantize", "int8")
    assert r.returncode == 0, r.stderr
    warning = [ln for ln in r.stderr.splitlines() if "RANDOM" in ln]
    assert len(warning) == 1 and warning[0].startswith("nanort convert: warning: calibrating on RANDOM data")
    assert "UserWarning" not in r.stderr and "warnings.warn" not in r.stderr


def test_batch_stacked_npz_is_split_into_samples(tmp_path):
    """x of shape 16x3x8x8 for a model taking 1x3x8x8: 16 samples, not one wrong-shaped one."""
    from nanort.converter.quantize.calibration_data import from_spec

    x = np.random.default_rng(0).standard_normal((16, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    samples = list(from_spec(tmp_path / "calib.npz", [("x", (1, 3, 8, 8), np.dtype(np.float32))]))
    assert len(samples) == 16 and all(s["x"].shape == (1, 3, 8, 8) for s in samples)
    np.testing.assert_array_equal(samples[5]["x"][0], x[5])
    src = small_model(tmp_path / "model.onnx")
    nanort.convert(src, tmp_path / "m.nrt", quantize="int8", calibration=tmp_path / "calib.npz")


# ---------------------------------------------------------- what one sees --
def test_named_dimensions_show_in_convert_and_inspect(tmp_path):
    """[batch,3,h,w] vanished: the table library read it as markup."""
    src = small_model(tmp_path / "model.onnx", dims=("batch", 3, "h", "w"))
    r = cli("convert", str(src), "-o", str(tmp_path / "m.nrt"))
    assert r.returncode == 0 and "x [batch,3,h,w]" in r.stdout, r.stdout + r.stderr
    r = cli("inspect", str(tmp_path / "m.nrt"))
    assert r.returncode == 0 and "[batch,3,h,w]" in r.stdout, r.stdout + r.stderr


def test_per_layer_error_measurement_reports_progress(tmp_path):
    """int8 conversion showed a frozen 'measuring per-layer error 0/12' for seconds."""
    src = small_model(tmp_path / "model.onnx")
    seen = []
    nanort.convert(src, tmp_path / "m.nrt", quantize="int8",
                   calibration=[{"x": np.ones((1, 3, 8, 8), np.float32) * i} for i in range(4)],
                   progress=lambda msg, done, total: seen.append((msg, done, total)))
    measuring = [(d, t) for m, d, t in seen if m == "measuring per-layer error"]
    assert measuring[-1][0] == measuring[-1][1] > 0 and len({d for d, _ in measuring}) > 2, measuring


def test_python_dash_m_nanort_and_help_examples():
    for command in ("convert", "inspect", "run", "bench"):
        r = cli(command, "--help")
        assert r.returncode == 0 and "examples:" in r.stdout and f"nanort {command} " in r.stdout, r.stdout
    assert "examples:" in cli("--help").stdout


def test_default_test_output_lists_failures_not_skips():
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    flags = config["tool"]["pytest"]["ini_options"]["addopts"]
    assert "-rfE" in flags.split() and "-ra" not in flags.split()
