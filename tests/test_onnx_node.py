r"""ONNX's own backend node tests, run through convert -> .nrt -> runtime.

The cases nanort passes are pinned (tests/onnx_node_passing.txt): each must
pass, so an op or attribute that stops converting fails here instead of
turning into a skip. Other cases are skipped when nanort reports cleanly
that it does not support something they use (an UnsupportedError); a
conversion that fails with any other ConversionError is a failure, except
the few refusals listed below. The terminal summary prints the counts and
the cases that pass without being pinned.

To pin every case that passes now (pinned cases that fail stay pinned; the
file stays sorted, its comment lines kept), from the repository root:

    .venv/bin/python -c "import sys; sys.path[:0] = ['tests']; from pathlib import Path; \
        from test_onnx_node import CASES, PINNED, run_case; \
        path = Path('tests/onnx_node_passing.txt'); \
        header = [line for line in path.read_text().splitlines() if line.startswith('#')]; \
        passing = {c.name for c in CASES if run_case(c).status == 'pass'}; \
        path.write_text('\n'.join(header + sorted(PINNED | passing)) + '\n')"
"""

from __future__ import annotations

from pathlib import Path

import pytest
from assets import onnx_node_tests
from node_tests import all_cases, run_case

RESULTS: dict[str, str] = {}
CASES = all_cases(onnx_node_tests())
PINNED = {line.strip() for line in Path(__file__).with_name("onnx_node_passing.txt").read_text().splitlines()
          if line.strip() and not line.startswith("#")}
# Conversions refused with a plain ConversionError on purpose.
REFUSED = {
    **{name: "opset 1 of its domain (nanort converts opsets 7 and up)" for name in (
        "test_adagrad", "test_adagrad_multiple", "test_adam", "test_adam_multiple", "test_momentum",
        "test_momentum_multiple", "test_nesterov_momentum", "test_not_2d", "test_not_3d", "test_not_4d",
        "test_ai_onnx_ml_array_feature_extractor", "test_ai_onnx_ml_binarizer",
        "test_ai_onnx_ml_label_encoder_string_int", "test_ai_onnx_ml_label_encoder_string_int_no_default",
        "test_ai_onnx_ml_label_encoder_tensor_mapping", "test_ai_onnx_ml_label_encoder_tensor_value_only_mapping",
        "test_ai_onnx_ml_tree_ensemble_set_membership", "test_ai_onnx_ml_tree_ensemble_single_tree")},
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node(case):
    result = run_case(case)
    RESULTS[result.name] = result.status
    if result.name in PINNED:
        assert result.status == "pass", f"pinned as passing (tests/onnx_node_passing.txt): {result.message}"
    elif result.status == "refused" and result.name in REFUSED:
        pytest.skip(f"refused: {REFUSED[result.name]}")
    elif result.status == "unsupported":
        pytest.skip(result.message[:200])
    else:
        assert result.status == "pass", result.message
