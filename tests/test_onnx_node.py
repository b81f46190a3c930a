"""ONNX's own backend node tests, run through convert -> .nrt -> runtime.

A case is skipped when nanort reports (cleanly) that it does not support
something the case uses; every case that converts must match the expected
outputs. The terminal summary prints how many ran and passed."""

from __future__ import annotations

import pytest
from assets import onnx_node_tests
from node_tests import all_cases, run_case

RESULTS: dict[str, str] = {}
CASES = all_cases(onnx_node_tests())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node(case):
    result = run_case(case)
    RESULTS[result.name] = result.status
    if result.status == "unsupported":
        pytest.skip(result.message[:200])
    assert result.status == "pass", result.message
