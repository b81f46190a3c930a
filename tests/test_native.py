"""The C runtime builds warning-free (-Wall -Wextra -Werror) with gcc and
clang, standalone with CMake, and its C API test passes on a converted model."""

from __future__ import annotations

import subprocess

import numpy as np
import onnx
import pytest
from native_build import c_test_path, cmake_build, have
from onnx import TensorProto, helper

import nanort


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("native")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Tanh", ["s"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, d / "m.onnx")
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return str(d / "m.nrt")


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_builds_warning_free_and_api_test_passes(cc, tmp_path, small_model):
    if not have(cc):
        pytest.skip(f"{cc} not installed")
    build = cmake_build(tmp_path / cc, cc)
    assert (build / "libnanort.a").exists() and (build / "libnanort.so").exists()
    r = subprocess.run([str(c_test_path(build, "test_api")), small_model], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def levels_build(tmp_path_factory):
    return cmake_build(tmp_path_factory.mktemp("levels"), "gcc" if have("gcc") else "cc")


def test_kernel_levels_agree_natively(tmp_path, levels_build):
    """Every kernel level this CPU has gives the reference's results (int8 bit-exact)."""
    from level_models import level_args, write_all

    build = levels_build
    models = write_all(tmp_path, int8=True)
    r = subprocess.run([str(c_test_path(build, "test_levels")), *level_args(models)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_int8_microkernels_natively(levels_build):
    """test_qs8_kernels: the int8 microkernel tables of this CPU's levels on many shapes, byte for byte."""
    r = subprocess.run([str(c_test_path(levels_build, "test_qs8_kernels"))], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_float_microkernels_natively(levels_build):
    """test_f32_kernels: the float32 microkernel tables of this CPU's levels on many shapes."""
    r = subprocess.run([str(c_test_path(levels_build, "test_f32_kernels"))], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_conv_drivers_natively(levels_build):
    """test_conv_kernels: the conv and GEMM drivers on every level's tables against the reference kernels."""
    r = subprocess.run([str(c_test_path(levels_build, "test_conv_kernels"))], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_and_c_agree(small_model):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
    with nanort.Model(small_model) as m:
        np.testing.assert_allclose(m.run({"x": x})["y"], np.tanh(1 / (1 + np.exp(-x))), rtol=1e-6)


def test_binding_and_description_natively(tmp_path, levels_build, seed_models, small_model):
    """test_binding: zero-copy inputs / outputs give the unbound run's bytes on
    every seed model (fp32, int8, dynamic shapes, outputs computed at prepare),
    and the format version / metadata / dimension-name accessors hold together."""
    from level_models import write_all

    models = [small_model, *map(str, seed_models), *map(str, write_all(tmp_path, int8=True))]
    r = subprocess.run([str(c_test_path(levels_build, "test_binding")), *models], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr
    assert " 0 failure(s)" in r.stdout
