import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def sanitized_build(tmp_path_factory) -> Path:
    """The runtime and the C test programs built once per session with clang,
    ASan + UBSan and libFuzzer instrumentation (tests/test_sanitizers.py,
    tests/test_fuzz.py); skips when clang or its sanitizer runtimes are missing."""
    from native_build import can_fuzz, sanitizer_build

    why = can_fuzz("clang")
    if why:
        pytest.skip(why)
    # NANORT_ASAN_BUILD: a build folder to reuse (rebuilt incrementally), for local runs
    reuse = os.environ.get("NANORT_ASAN_BUILD")
    return sanitizer_build(Path(reuse) if reuse else tmp_path_factory.mktemp("asan"))


@pytest.fixture(scope="session")
def seed_models(tmp_path_factory) -> list[Path]:
    """Small converted models over most op types (fp32, int8, dynamic int8):
    the fuzz corpus seeds and the models of the sanitizer runs."""
    from fuzz_models import convert_seed_models

    paths, refused = convert_seed_models(tmp_path_factory.mktemp("seeds"))
    assert not refused, refused
    return paths


@pytest.fixture(scope="session")
def real_models(tmp_path_factory) -> list[Path]:
    """PP-OCR's text-direction classifier converted fp32 and int8."""
    from fuzz_models import convert_real_model

    return convert_real_model(tmp_path_factory.mktemp("real"))


def pytest_terminal_summary(terminalreporter):
    try:
        from test_fuzz import FUZZ_STATS
    except ImportError:
        FUZZ_STATS = []
    for line in FUZZ_STATS:
        terminalreporter.write_sep("=", "fuzzing")
        terminalreporter.write_line(line)
    try:
        from test_onnx_node import PINNED, RESULTS
    except ImportError:
        return
    if not RESULTS:
        return
    ran = sum(1 for s in RESULTS.values() if s not in ("unsupported", "refused"))
    passed = sum(1 for s in RESULTS.values() if s == "pass")
    terminalreporter.write_sep("=", "ONNX backend node tests")
    terminalreporter.write_line(f"{len(RESULTS)} cases: {ran} ran (supported), {passed} passed, "
                                f"{ran - passed} failed, {len(RESULTS) - ran} skipped as unsupported or refused")
    new = sorted(name for name, s in RESULTS.items() if s == "pass" and name not in PINNED)
    if new:
        terminalreporter.write_line(f"{len(new)} passing case(s) not pinned yet (add them to "
                                    f"tests/onnx_node_passing.txt): {' '.join(new)}")
