"""PP-OCRv4 det / rec and the mobile direction classifier (from the
rapidocr-onnxruntime 1.4.4 wheel), converted and run on rendered text, against
onnxruntime fp32: max abs error within 1e-4 of the output range."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import ppocr
import pytest
from assets import PPOCR_MODELS, ppocr_model

import nanort

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4  # of the reference output's range


def _ort(kind: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(ppocr_model(kind)), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """kind -> (dynamic-shape .nrt, static-shape .nrt)"""
    out = {}
    root = tmp_path_factory.mktemp("ppocr")
    for kind, (_, shape) in PPOCR_MODELS.items():
        dyn = root / f"{kind}.nrt"
        static = root / f"{kind}_static.nrt"
        nanort.convert(ppocr_model(kind), dyn)
        nanort.convert(ppocr_model(kind), static, input_shapes={"x": list(shape)})
        out[kind] = (dyn, static)
    return out


def assert_close(got: np.ndarray, want: np.ndarray, tolerance: float = TOLERANCE) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    span = float(want.max() - want.min()) or 1.0
    err = float(np.abs(got - want).max())
    assert err <= tolerance * span, f"max abs error {err:.3g} > {tolerance:g} x range {span:.3g}"


def _inputs(kind: str) -> list[np.ndarray]:
    if kind == "det":
        return [ppocr.det_input(seed=0), ppocr.det_input(seed=1)]
    if kind == "rec":
        return [ppocr.rec_input(t, seed=i) for i, t in enumerate(ppocr.LINES[:3])]
    return [ppocr.cls_input(t, seed=i, rotate=i % 2 == 1) for i, t in enumerate(ppocr.LINES[:4])]


@pytest.mark.parametrize("kind", list(PPOCR_MODELS))
@pytest.mark.parametrize("variant", ["dynamic", "static"])
def test_matches_onnxruntime(converted, kind, variant):
    ref = _ort(kind)
    path = converted[kind][0 if variant == "dynamic" else 1]
    with nanort.Model(path) as model:
        for x in _inputs(kind):
            (want,) = ref.run(None, {"x": x})
            (got,) = model.run(None, {"x": x})
            assert_close(got, want)


def test_rec_reads_the_text(converted):
    meta = {p.key: p.value for p in onnx.load(str(ppocr_model("rec"))).metadata_props}
    chars = ppocr.rec_characters(meta)
    ref = _ort("rec")
    with nanort.Model(converted["rec"][0]) as model:
        assert model.inputs[0].shape[3] is None  # width stays dynamic
        for text in ["nanort runs PP-OCR on device", "Hello world 0123456789"]:
            x = ppocr.rec_input(text)
            got = ppocr.ctc_decode(model.run(None, {"x": x})[0][0], chars)
            assert got == ppocr.ctc_decode(ref.run(None, {"x": x})[0][0], chars)
            assert got == text


@pytest.mark.parametrize("width", [160, 480])
def test_rec_other_widths(converted, width):
    """A text line of another width re-prepares the dynamic model."""
    ref = _ort("rec")
    x = ppocr.rec_input("Hello world 0123456789", width=width)
    with nanort.Model(converted["rec"][0]) as model:
        model.run(None, {"x": ppocr.rec_input("warm up")})
        assert_close(model.run(None, {"x": x})[0], ref.run(None, {"x": x})[0])


def test_det_other_size(converted):
    """Re-prepared at another size. The tolerance is looser than at 640x640: the
    head's BatchNorm (variances up to 1e7) folded into conv weights makes
    accumulation order visible at ~1e-4 on a few pixels, and sizes vary that."""
    ref = _ort("det")
    x = ppocr.det_input(width=480, height=352)
    with nanort.Model(converted["det"][0]) as model:
        assert_close(model.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], tolerance=1e-3)


def test_static_shape_is_enforced(converted):
    with nanort.Model(converted["cls"][1]) as model, pytest.raises(nanort.ShapeError, match="dimension 3"):
        model.run({"x": np.zeros((1, 3, 48, 100), np.float32)})


def test_cls_tells_orientation(converted):
    with nanort.Model(converted["cls"][0]) as model:
        upright = model.run(None, {"x": ppocr.cls_input("Hello world 0123")})[0]
        flipped = model.run(None, {"x": ppocr.cls_input("Hello world 0123", rotate=True)})[0]
    assert upright.argmax() == 0 and flipped.argmax() == 1
