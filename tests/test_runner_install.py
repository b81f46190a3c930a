"""The C library as people ship it, and nanort-run:

* `cmake --install` gives the header, libnanort.a / .so, nanort-run, a CMake
  package (find_package(nanort) -> nanort::nanort, nanort::nanort_static)
  and a pkg-config file; programs built against each run;
* nanort-run on the host gives the Python binding's outputs bit for bit
  (.npy in, .npy out) and says what is wrong with bad arguments in one line;
* nanort-run built statically for aarch64 gives, under qemu (dotprod and
  NEON-only CPUs), the host's int8 outputs bit for bit: the level models and
  PP-OCR's direction classifier converted all-int8 with uint8 input and output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from native_build import ROOT, cmake_build, have

import nanort
from nanort.runtime.model import ISAS

LEVELS = [name for name, number in ISAS.items() if number >= 0]  # the library's, in its order

pytestmark = pytest.mark.skipif(not have("cmake"), reason="needs cmake")

CONSUMER_C = r"""
#include <stdio.h>
#include "nanort.h"
int main(int argc, char** argv) {
    nrt_model* m;
    if (argc < 2 || nrt_model_create(NULL, &m) != NRT_OK) return 2;
    if (nrt_model_load_file(m, argv[1]) != NRT_OK) { printf("%s\n", nrt_model_error(m)); return 1; }
    printf("nanort %s, format %u, %d input(s)\n", nrt_version(), nrt_model_format_version(m), nrt_model_num_inputs(m));
    nrt_model_free(m);
    return 0;
}
"""


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("install")
    build = cmake_build(root / "build", "gcc" if have("gcc") else "cc", "-DNANORT_BUILD_TESTS=OFF",
                        f"-DCMAKE_INSTALL_PREFIX={root / 'prefix'}")
    subprocess.run(["cmake", "--install", str(build)], check=True, capture_output=True)
    return root / "prefix"


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    from onnx import TensorProto, helper, save

    d = tmp_path_factory.mktemp("runner_models")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Tanh", ["s"], ["y"])]
    save(helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]),
         d / "m.onnx")
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return d / "m.nrt"


def _lib(prefix: Path) -> Path:
    return next(p for p in (prefix / "lib", prefix / "lib64") if (p / "libnanort.a").exists())


def test_install_layout(prefix):
    lib = _lib(prefix)
    package = lib / "cmake" / "nanort"
    for path in (prefix / "include" / "nanort.h", lib / "libnanort.a", lib / "libnanort.so",
                 package / "nanortConfig.cmake", package / "nanortConfigVersion.cmake",
                 lib / "pkgconfig" / "nanort.pc", prefix / "bin" / "nanort-run"):
        assert path.exists(), path


@pytest.mark.parametrize("target", ["nanort::nanort", "nanort::nanort_static"])
def test_find_package_consumer(prefix, small_model, tmp_path, target):
    (tmp_path / "main.c").write_text(CONSUMER_C)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(consumer C)\n"
        "find_package(nanort 0.1 REQUIRED)\nadd_executable(consumer main.c)\n"
        f"target_link_libraries(consumer PRIVATE {target})\n")
    env = {**os.environ, "CMAKE_PREFIX_PATH": str(prefix)}
    for cmd in (["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b")], ["cmake", "--build", str(tmp_path / "b")]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run([str(tmp_path / "b" / "consumer"), str(small_model)], capture_output=True, text=True)
    assert r.returncode == 0 and "nanort 0.1.0, format 2, 1 input(s)" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not have("pkg-config"), reason="needs pkg-config")
@pytest.mark.parametrize("static", [False, True])
def test_pkg_config_consumer(prefix, small_model, tmp_path, static):
    env = {**os.environ, "PKG_CONFIG_PATH": str(_lib(prefix) / "pkgconfig")}
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *(["--static"] if static else []), "nanort"],
                           capture_output=True, text=True, env=env, check=True).stdout.split()
    (tmp_path / "main.c").write_text(CONSUMER_C)
    link = ["-static"] if static else [f"-Wl,-rpath,{_lib(prefix)}"]
    r = subprocess.run(["cc", str(tmp_path / "main.c"), "-o", str(tmp_path / "consumer"), *flags, *link],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(tmp_path / "consumer"), str(small_model)], capture_output=True, text=True)
    assert r.returncode == 0 and "format 2" in r.stdout, r.stdout + r.stderr


def _run(runner: list[str] | Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(runner)] if isinstance(runner, Path) else runner
    r = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_runner_gives_the_python_bindings_outputs(prefix, small_model, tmp_path):
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = _run(prefix / "bin" / "nanort-run", small_model, "--input", f"x={tmp_path / 'x.npy'}", "--runs", "3",
             "--profile", "--output-dir", tmp_path / "out")
    got = np.load(tmp_path / "out" / "y.npy")
    with nanort.Model(small_model) as m:
        want = m.run({"x": x})["y"]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    for line in ("input  x", "from .npy", "latency  median", "output y", "per-operator profile", "Sigmoid"):
        assert line in r.stdout, r.stdout
    assert re.search(rf"kernel level ({'|'.join(LEVELS)})\b", r.stdout), r.stdout


@pytest.mark.parametrize("args, message", [
    ([], "input x has dynamic dimension 0 N: give --shape x=... or --input x=FILE.npy"),
    (["--shape", "y=1,6"], "the model has no input y"),
    (["--input", "x=/nonexistent.npy"], "cannot open /nonexistent.npy: No such file or directory"),
    (["--runs", "0"], "--runs 0: expected a number in range"),
    (["--isa", "sse"], f"--isa sse: one of {', '.join(LEVELS)}, auto"),
    (["--bogus"], "unknown option --bogus (see --help)"),
])
def test_runner_bad_arguments_get_one_line(prefix, small_model, args, message):
    r = _run(prefix / "bin" / "nanort-run", small_model, *args, check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [f"nanort-run: {message}"], r.stderr


def test_runner_refuses_a_bad_npy_file(prefix, small_model, tmp_path):
    np.save(tmp_path / "x64.npy", np.zeros((2, 6), np.float64))
    r = _run(prefix / "bin" / "nanort-run", small_model, "--input", f"x={tmp_path / 'x64.npy'}", check=False)
    assert r.returncode == 2 and "holds float64, input x takes float32" in r.stderr, r.stderr
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
    r = _run(prefix / "bin" / "nanort-run", small_model, "--input", f"x={tmp_path / 'junk.npy'}", check=False)
    assert r.returncode == 2 and "junk.npy" in r.stderr, r.stderr


# ------------------------------------------------------ aarch64 under qemu --
needs_arm = pytest.mark.skipif(not (have("aarch64-linux-gnu-gcc") and have("qemu-aarch64")),
                               reason="needs gcc-aarch64-linux-gnu and qemu-user (apt-get install)")


@pytest.fixture(scope="module")
def arm_runner(tmp_path_factory) -> Path:
    build = cmake_build(tmp_path_factory.mktemp("arm_runner"), "aarch64-linux-gnu-gcc", "-DNANORT_BUILD_TESTS=OFF",
                        f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'native' / 'cmake' / 'aarch64-linux-gnu.cmake'}",
                        targets=("nanort-run",))
    return build / "nanort-run"


@pytest.fixture(scope="module")
def int8_models(tmp_path_factory) -> list[Path]:
    """The level models' int8 versions, and PP-OCR's classifier all-int8 with uint8 input and output."""
    sys.path.insert(0, str(ROOT / "tests"))
    import ppocr
    from assets import PPOCR_MODELS, ppocr_model
    from level_models import write_all

    d = tmp_path_factory.mktemp("int8_runner_models")
    models = [p for p in write_all(d, int8=True) if p.stem.endswith("_int8")]
    calibration = [{"x": ppocr.cls_sample(30_000 + s)[0]} for s in range(8)]
    report = nanort.convert(ppocr_model("cls"), d / "cls_u8.nrt", input_shapes={"x": list(PPOCR_MODELS["cls"][1])},
                            quantize="int8", calibration=calibration, auto_fallback=False, input_dtype="uint8",
                            output_dtype="uint8")
    assert not report.float_fallbacks
    return [*models, d / "cls_u8.nrt"]


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.npy"))}


@needs_arm
@pytest.mark.slow
def test_aarch64_runner_matches_the_host_bit_for_bit(prefix, arm_runner, int8_models, tmp_path):
    if have("file"):
        assert "statically linked" in subprocess.run(["file", str(arm_runner)], capture_output=True, text=True).stdout
    for model in int8_models:
        shape = ["--shape", "x=3,37"] if model.stem == "mlp_int8" else []
        host = _run(prefix / "bin" / "nanort-run", model, *shape, "--runs", "1", "--seed", "7",
                    "--output-dir", tmp_path / f"{model.stem}-host")
        want = _outputs(tmp_path / f"{model.stem}-host")
        assert want, host.stdout
        for cpu, level in (("max", "i8mm"), ("cortex-a53", "neon")):
            out = tmp_path / f"{model.stem}-{cpu}"
            arm = _run(["qemu-aarch64", "-cpu", cpu, str(arm_runner)], model, *shape, "--runs", "1", "--warmup", "0",
                       "--seed", "7", "--output-dir", out)
            assert f"kernel level {level}" in arm.stdout, arm.stdout
            assert _outputs(out) == want, f"{model.name} on {cpu}:\n{arm.stdout}\nhost:\n{host.stdout}"
            checksums = re.findall(r"fnv1a64 ([0-9a-f]{16})", arm.stdout)
            assert checksums and checksums == re.findall(r"fnv1a64 ([0-9a-f]{16})", host.stdout)
