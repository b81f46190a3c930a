"""Builds the C runtime and the C test programs with CMake (for tests that
drive them: warnings-as-errors builds, sanitizers, aarch64 under qemu)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def cmake_build(build_dir: Path, cc: str = "cc", *options: str, env: dict | None = None,
                targets: tuple[str, ...] = ()) -> Path:
    """Configures and builds native/ with the project's settings (warnings are
    errors, the C tests of tests/c), or only `targets`; returns the build folder."""
    if not have("cmake"):
        raise RuntimeError("cmake is required (pip install cmake, or apt-get install cmake)")
    run_env = {**os.environ, **(env or {}), "CC": cc}
    subprocess.run(["cmake", "-S", str(ROOT / "native"), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    "-DNANORT_WERROR=ON", "-DNANORT_BUILD_TESTS=ON", *options], check=True, capture_output=True,
                   text=True, env=run_env)
    target_args = [a for t in targets for a in ("--target", t)]
    r = subprocess.run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2), *target_args],
                       capture_output=True,
                       text=True, env=run_env)
    if r.returncode != 0:
        raise AssertionError(f"build with {cc} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return build_dir


def c_test_path(build_dir: Path, name: str) -> Path:
    return build_dir / "tests" / name


def can_fuzz(cc: str = "clang") -> str | None:
    """None when `cc` links a libFuzzer + ASan + UBSan program, else why not."""
    if not have(cc):
        return f"{cc} not installed"
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "t.c"
        src.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                       "int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) { (void)d; (void)n; return 0; }\n")
        r = subprocess.run([cc, "-fsanitize=fuzzer,address,undefined", str(src), "-o", str(Path(d) / "t")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return f"{cc} cannot link libFuzzer + sanitizers (apt-get install libclang-rt-14-dev): {r.stderr[-300:]}"
    return None


# The C programs the sanitizer build makes (tests/c/test_*.c, fuzz_model.c).
SANITIZED_TARGETS = ("test_api", "test_levels", "test_cycles", "test_threads", "test_conv_kernels", "test_qs8_kernels",
                     "test_f32_kernels", "fuzz_model")


def sanitizer_build(build_dir: Path, cc: str = "clang") -> Path:
    """The static runtime and the C programs with ASan + UBSan (errors abort)
    and libFuzzer coverage instrumentation; only the targets the tests run."""
    return cmake_build(build_dir, cc, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DNANORT_SANITIZE=ON",
                       "-DNANORT_FUZZ=ON", targets=SANITIZED_TARGETS)


# ASan/UBSan/LSan settings of the sanitizer runs: any report fails the run.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1:"
                    "strict_string_checks=1:check_initialization_order=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": "report_objects=1",
}
