import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_terminal_summary(terminalreporter):
    try:
        from test_onnx_node import RESULTS
    except ImportError:
        return
    if not RESULTS:
        return
    ran = sum(1 for s in RESULTS.values() if s != "unsupported")
    passed = sum(1 for s in RESULTS.values() if s == "pass")
    terminalreporter.write_sep("=", "ONNX backend node tests")
    terminalreporter.write_line(f"{len(RESULTS)} cases: {ran} ran (supported), {passed} passed, "
                                f"{ran - passed} failed, {len(RESULTS) - ran} skipped as unsupported")
