"""Models for android-demo's tests (build.sh test): the C tests' level models
and seed models (tests/), and two small ones the Java tests know the answers
of: sigmoid_tanh.nrt (y = tanh(sigmoid(x)), x [N, 6], metadata) and an int8
conv net converted with float I/O and with uint8 I/O.

    python android-demo/tools/make_test_models.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_models import convert_seed_models  # noqa: E402
from level_models import write_all  # noqa: E402

import nanort  # noqa: E402

# beyond the Basic Multilingual Plane too (4-byte UTF-8, as in PP-OCR's character list)
METADATA = {"character": "a\nb\nc\n\U00020000\n\U0001D11E", "author": "nanort tests"}


def sigmoid_tanh(out: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6])
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Tanh", ["s"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(m, METADATA)
    onnx.save(m, out / "sigmoid_tanh.onnx")
    nanort.convert(out / "sigmoid_tanh.onnx", out / "sigmoid_tanh.nrt")


def conv_int8(out: Path) -> None:
    rng = np.random.default_rng(5)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, None)
    w = numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.4).astype(np.float32), "w")
    node = helper.make_node("Conv", ["image", "w"], ["features"], pads=[1, 1, 1, 1])
    m = helper.make_model(helper.make_graph([node], "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, out / "conv.onnx")
    calibration = [{"image": rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)} for _ in range(4)]
    for io in ("float32", "uint8"):
        nanort.convert(out / "conv.onnx", out / f"conv_int8_{io}.nrt", quantize="int8", calibration=calibration,
                       input_dtype=io, output_dtype=io, auto_fallback=False)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sigmoid_tanh(out)
    conv_int8(out)
    (out / "level").mkdir(exist_ok=True)
    write_all(out / "level", int8=True)
    (out / "seed").mkdir(exist_ok=True)
    _, refused = convert_seed_models(out / "seed")
    assert not refused, refused


if __name__ == "__main__":
    main(Path(sys.argv[1]))
