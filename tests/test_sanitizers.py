"""The C test programs under AddressSanitizer + UndefinedBehaviorSanitizer
(+ LeakSanitizer): the API test, every kernel level against the reference,
repeated load / resize / prepare / invoke / free cycles on many models (the
leak check: LSan reports any block not freed at exit), and the thread tests.
Any sanitizer report fails the run (halt_on_error, non-zero exit)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from native_build import SANITIZER_ENV, c_test_path, can_fuzz

# Models with one float32 input that test_api can drive alone.
API_MODELS = ("unary_chain", "conv", "conv_int8", "pools_int8", "conv_dynamic", "rnn")


def run_sanitized(build: Path, name: str, *args, timeout: int = 600) -> str:
    r = subprocess.run([str(c_test_path(build, name)), *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, **SANITIZER_ENV}, timeout=timeout)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Sanitizer" not in out and "runtime error" not in out, out[-8000:]
    return out


def test_leak_checker_is_live(tmp_path):
    """LSan works on this machine (a deliberate leak is reported), so a clean run means no leak."""
    why = can_fuzz("clang")
    if why:
        pytest.skip(why)
    (tmp_path / "leak.c").write_text("#include <stdlib.h>\nvoid* volatile p;\n"
                                     "int main(void) { p = malloc(77); p = 0; return 0; }\n")
    subprocess.run(["clang", "-g", "-fsanitize=address", str(tmp_path / "leak.c"), "-o", str(tmp_path / "leak")],
                   check=True)
    r = subprocess.run([str(tmp_path / "leak")], capture_output=True, text=True,
                       env={**os.environ, **SANITIZER_ENV})
    assert r.returncode != 0 and "detected memory leaks" in r.stderr and "77 byte" in r.stderr, r.stderr


def test_api_sanitized(sanitized_build, seed_models, real_models):
    models = [p for p in seed_models if p.stem in API_MODELS] + real_models
    assert len(models) == len(API_MODELS) + len(real_models)
    run_sanitized(sanitized_build, "test_api", *models)


def test_kernel_levels_sanitized(sanitized_build, seed_models, real_models, tmp_path):
    """Every kernel level on this CPU against the reference (fp32 and int8)
    on the level models, the seed models and PP-OCR's classifier, under ASan + UBSan."""
    from level_models import write_all

    # (test_levels fills inputs with values that are no valid Gather / Scatter indices)
    seeds = [p for p in seed_models if p.stem not in ("gather_input_indices", "indexed")]
    run_sanitized(sanitized_build, "test_levels", *write_all(tmp_path), *seeds, *real_models)


def test_kernel_testers_sanitized(sanitized_build):
    """The microkernels of every level on this CPU, and the conv / GEMM drivers
    against the reference kernels, under ASan + UBSan (a read past a row or a
    panel is a report)."""
    for name in ("test_conv_kernels", "test_qs8_kernels", "test_f32_kernels"):
        assert "0 failure(s)" in run_sanitized(sanitized_build, name)


def test_c_tests_refuse_to_pass_without_models(sanitized_build):
    """The thread and cycle tests fail when given no model, instead of testing nothing."""
    for name in ("test_threads", "test_cycles"):
        r = subprocess.run([str(c_test_path(sanitized_build, name))], capture_output=True, text=True,
                           env={**os.environ, **SANITIZER_ENV})
        assert r.returncode != 0 and "no " in r.stdout, r.stdout + r.stderr


def test_load_invoke_free_cycles_do_not_leak(sanitized_build, seed_models, real_models):
    """Repeated cycles with random dynamic sizes, load paths, thread counts and
    inputs (random bytes too) on every seed model and PP-OCR's classifier."""
    out = run_sanitized(sanitized_build, "test_cycles", "-n", "30", *seed_models)
    out += run_sanitized(sanitized_build, "test_cycles", "-n", "4", *real_models)
    print(out)
    assert "0 failure(s)" in out


def test_threads_sanitized(sanitized_build, seed_models, real_models):
    """One model and two threads: overlapping calls get NRT_ERR_BUSY and the
    model stays intact; one model per thread gives the single-thread results."""
    models = [p for p in seed_models if p.stem in ("conv", "conv_int8", "softmax_matmul")]
    out = run_sanitized(sanitized_build, "test_threads", *models)
    print(out)
