"""Zero-copy inputs and caller-provided outputs: Model.bind_input /
bind_output in Python over nrt_model_bind_input / _output in C
(tests/c/test_binding.c runs the C side on many converted models)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nanort


def _sigmoid_tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("binding")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Tanh", ["s"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, d / "m.onnx")
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return str(d / "m.nrt")


def test_bound_input_is_read_in_place_and_output_written_in_place(model_path):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
    out = np.full((2, 6), np.nan, np.float32)
    with nanort.Model(model_path) as m:
        m.bind_input("x", x)
        m.bind_output("y", out)
        result = m.run()
        assert result["y"] is out
        np.testing.assert_allclose(out, _sigmoid_tanh(x), rtol=1e-6)
        # no copy was taken at bind time: changing the caller's array changes the next result
        x[:] = -x
        assert m.run()["y"] is out
        np.testing.assert_allclose(out, _sigmoid_tanh(x), rtol=1e-6)
        np.testing.assert_array_equal(x, -np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6))  # never written


def test_mixed_bound_and_fed_and_rebinding(model_path):
    with nanort.Model(model_path) as m:
        out = np.empty((3, 6), np.float32)
        m.bind_output("y", out)
        x = np.random.default_rng(0).standard_normal((3, 6), dtype=np.float32)
        (y,) = m.run(["y"], {"x": x})
        assert y is out
        np.testing.assert_allclose(out, _sigmoid_tanh(x), rtol=1e-6)
        # a new input shape: the old output binding no longer fits, and run says so
        with pytest.raises(nanort.ShapeError, match="bind it again"):
            m.run({"x": np.zeros((5, 6), np.float32)})
        bigger = np.empty((5, 6), np.float32)
        m.bind_output("y", bigger)
        x5 = np.ones((5, 6), np.float32)
        assert m.run({"x": x5})["y"] is bigger
        np.testing.assert_allclose(bigger, _sigmoid_tanh(x5), rtol=1e-6)
        # unbinding: results come back as new arrays again
        m.bind_output("y", None)
        y = m.run({"x": x5})["y"]
        assert y is not bigger
        np.testing.assert_allclose(y, _sigmoid_tanh(x5), rtol=1e-6)


def test_bound_input_with_a_new_shape_resizes(model_path):
    with nanort.Model(model_path) as m:
        for n in (1, 4, 2):
            x = np.arange(n * 6, dtype=np.float32).reshape(n, 6) / 10
            m.bind_input("x", x)
            np.testing.assert_allclose(m.run()["y"], _sigmoid_tanh(x), rtol=1e-6)
        m.bind_input("x", None)
        x = np.zeros((1, 6), np.float32)
        np.testing.assert_allclose(m.run({"x": x})["y"], _sigmoid_tanh(x), rtol=1e-6)


def test_misuse_is_refused_with_a_message(model_path):
    with nanort.Model(model_path) as m:
        x = np.zeros((2, 6), np.float32)
        with pytest.raises(nanort.DTypeError, match="float32"):
            m.bind_input("x", x.astype(np.float64))
        with pytest.raises(nanort.InvalidArgumentError, match="C-contiguous"):
            m.bind_input("x", np.zeros((6, 2), np.float32).T)
        with pytest.raises(nanort.ShapeError, match="dimension 1 must be 6"):
            m.bind_input("x", np.zeros((2, 5), np.float32))
        with pytest.raises(nanort.InvalidArgumentError, match="unknown input 'nope'"):
            m.bind_input("nope", x)
        with pytest.raises(nanort.InvalidArgumentError, match="unknown output 'nope'"):
            m.bind_output("nope", x)
        ro = np.zeros((2, 6), np.float32)
        ro.flags.writeable = False
        with pytest.raises(nanort.InvalidArgumentError, match="read-only"):
            m.bind_output("y", ro)
        # misaligned memory (a float32 view one byte into a buffer)
        raw = np.zeros(2 * 6 * 4 + 1, np.uint8)
        with pytest.raises(nanort.InvalidArgumentError, match="aligned to 4 bytes"):
            m.bind_input("x", raw[1:].view(np.float32).reshape(2, 6))
        m.bind_input("x", x)
        with pytest.raises(nanort.InvalidArgumentError, match="'x' is bound"):
            m.run({"x": x})
        # same byte count, other shape: caught before the runtime writes anything
        m.bind_output("y", np.zeros((3, 4), np.float32))
        with pytest.raises(nanort.ShapeError, match=r"has shape \(2, 6\)"):
            m.run()
        m.bind_output("y", None)
        x[0, 0] = np.nan
        with pytest.raises(nanort.InvalidArgumentError, match="NaN or Inf"):
            m.run()
        m.bind_input("x", None)
        with pytest.raises(nanort.InvalidArgumentError, match="missing input 'x'"):
            m.run({})


def test_bound_int8_model_gives_the_unbound_results(tmp_path):
    """An int8 conv net: binding changes where the bytes live, not what they are."""
    from level_models import write_all

    path = next(p for p in write_all(tmp_path) if p.name == "conv_net_int8.nrt")
    with nanort.Model(path) as m:
        info = m.inputs[0]
        shape = tuple(d or 2 for d in info.shape)
        x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
        want = m.run({info.name: x})
        outs = {t.name: np.empty_like(want[t.name]) for t in m.outputs}
        for name, arr in outs.items():
            m.bind_output(name, arr)
        m.bind_input(info.name, x)
        got = m.run()
        for name, arr in outs.items():
            assert got[name] is arr
            np.testing.assert_array_equal(arr, want[name])
