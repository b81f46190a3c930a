"""The C runtime cross-compiles for aarch64 (Debian gcc-aarch64-linux-gnu) and
its C tests run under qemu-aarch64: -cpu max (NEON + dotprod) and
-cpu cortex-a53 (NEON without dotprod, exercising the fallback). test_levels
compares every kernel level the emulated CPU has against the reference."""

from __future__ import annotations

import subprocess

import pytest
from level_models import write_all
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


def qemu(cpu: str, binary, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-aarch64", "-cpu", cpu, str(binary), *map(str, args)], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("cpu", CPUS)
def test_api_under_qemu(arm_build, models, cpu):
    r = qemu(cpu, c_test_path(arm_build, "test_api"), models[0])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("cpu", CPUS)
def test_kernel_levels_agree_under_qemu(arm_build, models, cpu):
    r = qemu(cpu, c_test_path(arm_build, "test_levels"), *models)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("best level on this CPU: dotprod" if cpu == "max" else "best level on this CPU: neon") in r.stdout


def test_load_invoke_cycles_under_qemu(arm_build, seed_models):
    """Random sizes, load paths, thread counts and input bytes on the seed
    models (fp32, int8, dynamic int8) at the emulated CPU's best level."""
    r = qemu("max", c_test_path(arm_build, "test_cycles"), "-n", "6", *seed_models)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
