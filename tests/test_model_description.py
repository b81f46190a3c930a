"""What a .nrt file says about itself through the runtime (C API, seen
through the Python binding): file-format version, the source model's
metadata, and symbolic dimension names, each checked against an independent
source (the ONNX model, the FlatBuffers Python reader)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nanort
from nanort.runtime import nrt_file
from nanort.runtime._nanort_c import ffi, lib


def _conv_model(path, metadata: dict[str, str]) -> None:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4, "height", "width"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3],
                           np.random.default_rng(0).standard_normal(108).astype(np.float32))
    node = helper.make_node("Conv", ["image", "w"], ["features"], pads=[1, 1, 1, 1])
    m = helper.make_model(helper.make_graph([node], "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(m, metadata)
    onnx.save(m, path)


METADATA = {"character": "a\nb\nc\n中", "model_author": "someone", "empty": ""}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("describe")
    _conv_model(d / "m.onnx", METADATA)
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return d


def test_metadata_is_the_source_models(converted):
    onnx_meta = {p.key: p.value for p in onnx.load(str(converted / "m.onnx")).metadata_props}
    with nanort.Model(converted / "m.nrt") as m:
        assert m.metadata == onnx_meta == METADATA
    # the C lookup by key
    h = ffi.new("nrt_model**")
    assert lib.nrt_model_create(ffi.NULL, h) == 0
    try:
        assert lib.nrt_model_load_file(h[0], str(converted / "m.nrt").encode()) == 0
        assert ffi.string(lib.nrt_model_metadata_value(h[0], b"character")).decode() == METADATA["character"]
        assert ffi.string(lib.nrt_model_metadata_value(h[0], b"empty")) == b""
        assert lib.nrt_model_metadata_value(h[0], b"absent") == ffi.NULL
    finally:
        lib.nrt_model_free(h[0])


def test_format_version_is_the_files(converted):
    with nanort.Model(converted / "m.nrt") as m:
        assert m.format_version == nrt_file.read(converted / "m.nrt").format_version >= 1


def test_dimension_names_are_the_source_models(converted):
    with nanort.Model(converted / "m.nrt") as m:
        assert m.inputs[0].dim_names == ("batch", None, "height", "width")
        assert m.inputs[0].shape == (None, 3, None, None)
        assert m.outputs[0].dim_names == ("batch", None, "height", "width")


def test_dimension_names_follow_nhwc_io_and_fixed_shapes(converted, tmp_path):
    nanort.convert(converted / "m.onnx", tmp_path / "nhwc.nrt", nhwc_io=True)
    with nanort.Model(tmp_path / "nhwc.nrt") as m:
        assert m.inputs[0].dim_names == ("batch", "height", "width", None)
    nanort.convert(converted / "m.onnx", tmp_path / "fixed.nrt", input_shapes={"image": [1, 3, 32, 48]})
    with nanort.Model(tmp_path / "fixed.nrt") as m:  # fixed dimensions have no names left
        assert m.inputs[0].shape == (1, 3, 32, 48)
        assert m.inputs[0].dim_names == (None, None, None, None)
