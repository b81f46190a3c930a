"""A subset of the model zoo (bench/zoo): trained models from PyPI wheels
that exercise control flow, lenient import and onnxruntime's contrib ops,
converted and checked against onnxruntime fp32 (max error over the output's
range). The whole zoo, with int8 and latency, is bench/zoo/run.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import nanort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "zoo"))

import models as zoo  # noqa: E402

# ddddocr_ocr_old: onnxruntime adds its convs' biases as Floor(b / step) steps of the
# product (quantized at run time); nanort's dynamic Conv adds b, less than a step away,
# and the next layer's run-time quantization turns such differences into whole steps.
TOLERANCE = {"ddddocr_ocr_old": 3e-2}


@pytest.mark.parametrize("name", zoo.CI_SUBSET)
def test_zoo_model_converts_and_agrees(tmp_path, name):
    m = zoo.by_name(name)
    path = m.locate()
    nanort.convert(path, tmp_path / "m.nrt", input_shapes=m.input_shapes or None,
                   input_values=m.input_values or None)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with nanort.Model(tmp_path / "m.nrt") as model:
        for sample in range(2):
            feeds = m.feeds(sample)
            want = sess.run(None, feeds)
            got = model.run({k: v for k, v in feeds.items() if k not in m.input_values})
            for (out, g), w in zip(got.items(), want):
                assert g.shape == w.shape, out
                span = float(w.max() - w.min()) or 1.0
                err = float(np.abs(g.astype(np.float64) - w).max()) / span
                assert err <= TOLERANCE.get(name, 1e-4), f"{name} {out}: error {err:.2e} of the output's range"
