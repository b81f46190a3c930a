"""Integer model inputs and outputs (convert(input_dtype=, output_dtype=),
`nanort convert --input-dtype uint8`): an int8 model that takes uint8 or int8
codes gives, bit for bit, what the float-input model gives for the float
values those codes stand for (real = scale * (q - zero_point)), with the
codes computed here in numpy from the quantization parameters the file
declares; and conversions that cannot honour the option say why."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort

RNG = np.random.default_rng(11)


def _conv_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 12, 10])
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array((RNG.standard_normal(s) * 0.3).astype(np.float32), n)
             for n, s in (("w1", (8, 3, 3, 3)), ("b1", (8,)), ("w2", (5, 8, 1, 1)))]
    nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["features"], name="conv2")]
    g = helper.make_graph(nodes, "g", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


CALIBRATION = [{"image": RNG.uniform(-1, 1, (1, 3, 12, 10)).astype(np.float32)} for _ in range(6)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("io_dtype")
    onnx.save(_conv_model(), d / "m.onnx")
    out = {}
    for io in ("float32", "int8", "uint8"):
        out[io] = d / f"{io}.nrt"
        nanort.convert(d / "m.onnx", out[io], quantize="int8", calibration=CALIBRATION,
                       input_dtype=io, output_dtype=io, auto_fallback=False)
    return d, out


def _codes(x: np.ndarray, info) -> np.ndarray:
    """x quantized as the runtime does it: rint(x / scale) + zero point, saturated."""
    info_range = np.iinfo(info.dtype)
    q = np.rint(x / info.scale[0].astype(np.float32)) + info.zero_point[0]
    return np.clip(q, info_range.min, info_range.max).astype(info.dtype)


@pytest.mark.parametrize("io", ["int8", "uint8"])
def test_integer_io_matches_the_float_io_model_bit_for_bit(models, io):
    _, paths = models
    x = RNG.uniform(-1.2, 1.2, (1, 3, 12, 10)).astype(np.float32)
    with nanort.Model(paths["float32"]) as ref, nanort.Model(paths[io]) as m:
        assert m.inputs[0].dtype == np.dtype(io) and m.outputs[0].dtype == np.dtype(io)
        assert m.inputs[0].name == "image" and m.outputs[0].name == "features"
        inp, outp = m.inputs[0], m.outputs[0]
        assert inp.quantized and outp.quantized
        codes = _codes(x, inp)
        # the float model fed the real values those codes stand for
        real_in = (inp.scale[0] * (codes.astype(np.float32) - np.float32(inp.zero_point[0]))).astype(np.float32)
        want = ref.run({"image": real_in})["features"]
        got = m.run({"image": codes})["features"]
        assert got.dtype == np.dtype(io)
        real_out = (outp.scale[0] * (got.astype(np.float32) - np.float32(outp.zero_point[0]))).astype(np.float32)
        np.testing.assert_array_equal(real_out, want)


def test_uint8_codes_are_the_int8_codes_plus_128(models):
    _, paths = models
    with nanort.Model(paths["int8"]) as s8, nanort.Model(paths["uint8"]) as u8:
        assert u8.inputs[0].zero_point[0] == s8.inputs[0].zero_point[0] + 128
        assert u8.inputs[0].scale[0] == s8.inputs[0].scale[0]
        codes = RNG.integers(-128, 128, (1, 3, 12, 10)).astype(np.int8)
        a = s8.run({"image": codes})["features"]
        b = u8.run({"image": (codes.astype(np.int16) + 128).astype(np.uint8)})["features"]
        np.testing.assert_array_equal(b.astype(np.int16) - 128, a)


def test_options_that_cannot_apply_fail_with_one_line(models, tmp_path):
    d, _ = models
    with pytest.raises(nanort.ConversionError, match="input 'image' cannot be uint8.*--quantize int8"):
        nanort.convert(d / "m.onnx", tmp_path / "f.nrt", input_dtype="uint8")
    with pytest.raises(nanort.ConversionError, match="output 'features' cannot be int8.*float32"):
        nanort.convert(d / "m.onnx", tmp_path / "k.nrt", quantize="int8", calibration=CALIBRATION,
                       keep_float=["conv2"], output_dtype="int8")
    with pytest.raises(nanort.ConversionError, match="input_dtype must be one of float32, int8, uint8"):
        nanort.convert(d / "m.onnx", tmp_path / "b.nrt", input_dtype="int4")
    assert not list(tmp_path.glob("*.nrt"))


def test_cli_option(models, tmp_path):
    from nanort.cli import main

    d, _ = models
    np.save(tmp_path / "calib.npy", np.stack([c["image"] for c in CALIBRATION]))
    assert main(["convert", str(d / "m.onnx"), "-o", str(tmp_path / "u.nrt"), "--quantize", "int8",
                 "--calibration", str(tmp_path / "calib.npy"), "--input-dtype", "uint8", "--quiet"]) == 0
    with nanort.Model(tmp_path / "u.nrt") as m:
        assert m.inputs[0].dtype == np.uint8 and m.outputs[0].dtype == np.float32
