"""The numpy GPT-2 trainer of tests/tiny_gpt.py: its hand-written gradient against finite
differences, and its forward pass against onnxruntime running text_models.gpt2_decoder."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import text_models as tm
import tiny_gpt


def _weights(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = tm.gpt2_weights(11, 8, 2, 6, seed)
    return {k: v.astype(np.float64) + rng.standard_normal(v.shape) * 0.1 for k, v in w.items()}


def test_gradient_matches_finite_differences():
    w, rng = _weights(), np.random.default_rng(0)
    ids = rng.integers(0, 11, (2, 6))
    _, grad = tiny_gpt.loss_and_grad(w, ids, heads=2, layers=2)
    for name, value in w.items():
        for _ in range(3):
            at = tuple(int(rng.integers(0, d)) for d in value.shape)
            old = value[at]
            value[at] = old + 1e-5
            plus, _ = tiny_gpt.loss_and_grad(w, ids, 2, 2)
            value[at] = old - 1e-5
            minus, _ = tiny_gpt.loss_and_grad(w, ids, 2, 2)
            value[at] = old
            numeric = (plus - minus) / 2e-5
            assert abs(numeric - grad[name][at]) <= 1e-6 + 1e-5 * abs(numeric), (name, at)


def test_forward_is_the_onnx_decoder():
    w = {k: v.astype(np.float32) for k, v in _weights().items()}
    ids = np.random.default_rng(1).integers(0, 11, (1, 6))
    logits, _ = tiny_gpt._forward(w, ids, heads=2, layers=2)
    session = ort.InferenceSession(tm.gpt2_decoder(w, heads=2, seq=6).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input_ids": ids})[0], logits, atol=1e-4)
