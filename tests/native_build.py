"""Builds the C runtime and the C test programs with CMake (for tests that
drive them: warnings-as-errors builds, sanitizers, aarch64 under qemu)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def cmake_build(build_dir: Path, cc: str = "cc", *options: str, env: dict | None = None) -> Path:
    """Configures and builds native/ (with tests/c); returns the build folder."""
    if not have("cmake"):
        raise RuntimeError("cmake is required (pip install cmake, or apt-get install cmake)")
    run_env = {**os.environ, **(env or {}), "CC": cc}
    subprocess.run(["cmake", "-S", str(ROOT / "native"), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    *options], check=True, capture_output=True, text=True, env=run_env)
    r = subprocess.run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)], capture_output=True,
                       text=True, env=run_env)
    if r.returncode != 0:
        raise AssertionError(f"build with {cc} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return build_dir


def c_test_path(build_dir: Path, name: str) -> Path:
    return build_dir / "tests" / name
