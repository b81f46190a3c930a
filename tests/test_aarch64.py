"""The C runtime cross-compiles for aarch64 (Debian gcc-aarch64-linux-gnu) and
its C tests run under qemu-aarch64: -cpu max (NEON + dotprod + i8mm) and
-cpu cortex-a53 (NEON without dotprod, exercising the fallback); -cpu
cortex-a76 (dotprod without i8mm) for the level each CPU gets. test_levels
compares every kernel level the emulated CPU has against the reference
(float within tolerance, int8 byte for byte) on the models of level_models.py
(shapes_net: many shapes of every kernel family), and says which levels ran;
test_qs8_kernels / test_f32_kernels call every NEON / dotprod / i8mm microkernel
directly on many shapes (guard page after the inputs). Also: the level each
CPU gets by default (HWCAP), NANORT_ISA forcing and refusal, and a clang
build of the same tests."""

from __future__ import annotations

import os
import subprocess

import pytest
from level_models import level_args, write_all
from native_build import ROOT, c_test_path, cmake_build, have

pytestmark = pytest.mark.skipif(not (have("aarch64-linux-gnu-gcc") and have("qemu-aarch64")),
                                reason="needs gcc-aarch64-linux-gnu and qemu-user (apt-get install)")

CPUS = ["max", "cortex-a53"]


@pytest.fixture(scope="module")
def arm_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("arm")
    return cmake_build(build, "aarch64-linux-gnu-gcc",
                       f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'native' / 'cmake' / 'aarch64-linux-gnu.cmake'}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("arm_models"), int8=_has_int8())


def _has_int8() -> bool:
    from nanort.runtime._nanort_c import ffi  # noqa: F401 - the runtime must be built
    from nanort.schema.OpType import OpType

    return hasattr(OpType, "Lut")


def qemu(cpu: str, binary, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-aarch64", "-cpu", cpu, str(binary), *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("cpu", CPUS)
def test_api_under_qemu(arm_build, models, cpu):
    r = qemu(cpu, c_test_path(arm_build, "test_api"), models[0])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("cpu", CPUS)
def test_kernel_levels_agree_under_qemu(arm_build, models, cpu):
    r = qemu(cpu, c_test_path(arm_build, "test_levels"), *level_args(models))
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("best level on this CPU: i8mm" if cpu == "max" else "best level on this CPU: neon") in r.stdout
    # every model ran at NEON, and at dotprod and i8mm exactly where the CPU has them (cortex-a53 must fall back)
    n = len(models)
    want = f"levels exercised: neon({n} models) dotprod({n} models) i8mm({n} models)" if cpu == "max" else \
        f"levels exercised: neon({n} models)\n"
    assert want in r.stdout, r.stdout


@pytest.mark.parametrize("cpu", CPUS)
def test_int8_microkernels_under_qemu(arm_build, cpu):
    """test_qs8_kernels: every int8 microkernel table of the emulated CPU on many shapes, byte for byte."""
    r = qemu(cpu, c_test_path(arm_build, "test_qs8_kernels"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "qs8-qc8w-gemm-8x8-minmax-fp32-neon-mlal-lane:" in r.stdout, r.stdout
    assert "qs8-qc8w-dwconv-16x2-minmax-fp32-neon-mul8:" in r.stdout, r.stdout
    assert "qs8-qc8w-spmm-16x1c4-minmax-fp32-neon:" in r.stdout, r.stdout
    assert ("qs8-qc8w-spmm-16x1c4-minmax-fp32-neondot:" in r.stdout) == (cpu == "max"), r.stdout
    assert ("qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot:" in r.stdout) == (cpu == "max"), r.stdout
    assert ("qs8-qc8w-dwconv-16x4k2-minmax-fp32-neondot:" in r.stdout) == (cpu == "max"), r.stdout
    assert ("qs8-qc8w-gemm-8x8c8-minmax-fp32-neoni8mm:" in r.stdout) == (cpu == "max"), r.stdout


@pytest.mark.parametrize("cpu", CPUS)
def test_conv_drivers_under_qemu(arm_build, cpu):
    """test_conv_kernels: the conv and GEMM drivers on every table of the emulated CPU against the reference."""
    r = qemu(cpu, c_test_path(arm_build, "test_conv_kernels"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("i8mm conv / GEMM drivers vs reference" in r.stdout) == (cpu == "max"), r.stdout


@pytest.mark.parametrize("cpu", CPUS)
def test_float_microkernels_under_qemu(arm_build, cpu):
    """test_f32_kernels: the NEON float32 tables (dotprod uses them too) on many shapes, guard page after the input."""
    r = qemu(cpu, c_test_path(arm_build, "test_f32_kernels"))
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("f32-gemm-8x8-neon:", "f32-dwconv-8x4-neon:", "neon f32_vbinary:", "neon f32_vact:"):
        assert name in r.stdout, r.stdout


@pytest.mark.parametrize("cpu,forced,want", [
    ("max", None, "default level: i8mm"),               # HWCAP2 I8MM detected
    ("cortex-a76", None, "default level: dotprod"),     # HWCAP ASIMDDP without I8MM: not a ladder rung
    ("cortex-a53", None, "default level: neon"),        # no dot product: NEON
    ("max", "dotprod", "default level: dotprod"),       # NANORT_ISA forces a lower level
    ("max", "neon", "default level: neon"),
    ("max", "ref", "default level: ref"),
    ("cortex-a53", "dotprod", "default level refused: this CPU cannot run dotprod kernels (best: neon)"),
    ("cortex-a76", "i8mm", "default level refused: this CPU cannot run i8mm kernels (best: dotprod)"),
])
def test_level_detection_and_nanort_isa_under_qemu(arm_build, cpu, forced, want):
    r = qemu(cpu, c_test_path(arm_build, "test_levels"), env={"NANORT_ISA": forced or ""})  # "": auto
    assert r.returncode == 0, r.stdout + r.stderr
    assert want in r.stdout, r.stdout


@pytest.fixture(scope="module")
def arm_clang_build(tmp_path_factory):
    cc = "clang-14" if have("clang-14") else "clang"
    if not have(cc):
        pytest.skip("clang not installed")
    build = tmp_path_factory.mktemp("arm_clang")
    return cmake_build(build, cc,
                       f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'native' / 'cmake' / 'aarch64-linux-gnu-clang.cmake'}")


def test_clang_build_under_qemu(arm_clang_build):
    """The aarch64 build is warning-free with clang too (-Werror), and its NEON / dotprod / i8mm kernels pass."""
    for name in ("test_qs8_kernels", "test_f32_kernels"):
        r = qemu("max", c_test_path(arm_clang_build, name))
        assert r.returncode == 0, r.stdout + r.stderr
        if name == "test_qs8_kernels":
            assert "neondot" in r.stdout and "neoni8mm" in r.stdout, r.stdout


def test_load_invoke_cycles_under_qemu(arm_build, seed_models):
    """Random sizes, load paths, thread counts and input bytes on the seed
    models (fp32, int8, dynamic int8) at the emulated CPU's best level."""
    r = qemu("max", c_test_path(arm_build, "test_cycles"), "-n", "6", *seed_models)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
