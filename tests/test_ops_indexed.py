"""ScatterElements, ScatterND, GatherND, CumProd and GridSample on hand-made
ONNX models against onnxruntime (CumProd, newer than onnxruntime's opsets
here, against numpy), for what ONNX's node tests leave out: every reduction
on each dtype, negative and run-time indices, batch_dims, padding modes with
points far outside the image; and the one-line errors of indices out of
range, which must fail the run without writing anything out of bounds."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

RNG = np.random.default_rng(15)
REDUCTIONS = ["none", "add", "mul", "min", "max"]
I64_MAX, I64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def rand(shape, dtype=np.float32) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return RNG.standard_normal(shape).astype(dtype)
    return RNG.integers(-9, 10, size=shape).astype(dtype)


def make_model(node, inputs: dict, inits: dict | None = None, opset=18) -> onnx.ModelProto:
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in inputs.items()]
    init = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph([node], "g", vis, [helper.make_value_info("y", onnx.TypeProto())], init)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def nanort_model(model: onnx.ModelProto) -> nanort.Model:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    return nanort.Model(serialize(convert_graph(m)), check_finite=False)


def check(model: onnx.ModelProto, feeds_list: list[dict], exact=True):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with nanort_model(model) as m:
        for feeds in feeds_list:
            (got,), (want,) = m.run(None, feeds), sess.run(None, feeds)
            assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.shape)
            if exact:
                np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def unique_indices(dim: int, shape, axis: int) -> np.ndarray:
    """Indices along `axis` with no repeats within a line (an order-free scatter), half negative."""
    moved = list(shape)
    n = moved.pop(axis)
    lines = [RNG.permutation(dim)[:n] for _ in range(int(np.prod(moved)))]
    idx = np.moveaxis(np.array(lines).reshape(*moved, n), -1, axis)
    return np.where(RNG.random(idx.shape) < 0.5, idx - dim, idx).astype(np.int64)


# ------------------------------------------------------------ ScatterElements


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_elements(dtype, reduction, axis):
    data, upd_shape = rand((4, 5, 3), dtype), [3, 4, 2]
    idx = unique_indices(data.shape[axis], upd_shape, axis)
    if reduction != "none":  # repeats combine in order: both sides must agree on them too
        idx = RNG.integers(-data.shape[axis], data.shape[axis], size=upd_shape).astype(np.int64)
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=axis, reduction=reduction)
    feeds = {"x": data, "i": idx, "u": rand(upd_shape, dtype)}
    check(make_model(node, feeds), [feeds], exact=dtype not in (np.float32, np.float64) or reduction != "add")


def test_scatter_elements_int32_indices_and_int8_data():
    data = rand((6, 4), np.int8)
    idx = unique_indices(6, [3, 4], 0).astype(np.int32)
    feeds = {"x": data, "i": idx, "u": rand((3, 4), np.int8)}
    check(make_model(helper.make_node("ScatterElements", ["x", "i", "u"], ["y"]), feeds), [feeds])


# ------------------------------------------------------------ ScatterND / GatherND


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_scatter_nd(dtype, reduction, k):
    data = rand((4, 3, 5), dtype)
    tuples = [tuple(RNG.integers(-d, d) for d in data.shape[:k]) for _ in range(6)]
    if reduction == "none":  # one update per place (repeats are unordered in onnxruntime)
        tuples = list({tuple(int(c) % d for c, d in zip(t, data.shape)): t for t in tuples}.values())
    idx = np.array(tuples, np.int64).reshape(len(tuples), k)
    node = helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction)
    feeds = {"x": data, "i": idx, "u": rand((len(tuples), *data.shape[k:]), dtype)}
    check(make_model(node, feeds), [feeds], exact=dtype != np.float32 or reduction != "add")


@pytest.mark.parametrize("batch_dims, data_shape, idx_shape", [
    (0, (5, 4, 3), (2, 3, 1)), (0, (5, 4, 3), (6, 2)), (0, (5, 4, 3), (3,)), (1, (2, 5, 4), (2, 3, 2)),
    (2, (2, 3, 4, 5), (2, 3, 1)), (0, (5, 4), (0, 2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_gather_nd(batch_dims, data_shape, idx_shape, dtype):
    data = rand(data_shape, np.int64).astype(dtype)
    dims = data_shape[batch_dims:batch_dims + idx_shape[-1]]
    idx = np.stack([RNG.integers(-d, d, size=idx_shape[:-1]) for d in dims], axis=-1).astype(np.int64)
    node = helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=batch_dims)
    check(make_model(node, {"x": data, "i": idx}), [{"x": data, "i": idx}])


# ------------------------------------------------------------ indices out of range


def _index_models():
    x, u2 = rand((4, 3)), rand((2, 3))
    yield "ScatterElements", make_model(helper.make_node("ScatterElements", ["x", "i", "u"], ["y"]),
                                        {"x": x, "i": np.zeros((2, 3), np.int64), "u": u2}), {"x": x, "u": u2}, (2, 3)
    yield "ScatterND", make_model(helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add"),
                                  {"x": x, "i": np.zeros((2, 1), np.int64), "u": u2}), {"x": x, "u": u2}, (2, 1)
    yield "GatherND", make_model(helper.make_node("GatherND", ["x", "i"], ["y"]),
                                 {"x": x, "i": np.zeros((2, 2), np.int64)}), {"x": x}, (2, 2)


@pytest.mark.parametrize("bad", [4, -5, I64_MAX, I64_MIN])
@pytest.mark.parametrize("op, model, feeds, idx_shape", list(_index_models()), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_index_out_of_range_fails_cleanly(op, model, feeds, idx_shape, bad):
    """A hostile run-time index fails the run in one line (and nothing is written out of
    bounds: the model runs on, and agrees with onnxruntime, afterwards)."""
    good = np.zeros(idx_shape, np.int64)
    good.flat[-1] = -1
    hostile = good.copy()
    hostile.flat[-1] = bad
    with nanort_model(model) as m:
        with pytest.raises(nanort.InvalidArgumentError, match=rf"index {bad} \(at position {good.size - 1} of i\) is "
                           r"out of range") as e:
            m.run(None, {**feeds, "i": hostile})
        assert "\n" not in str(e.value)
        (after,) = m.run(None, {**feeds, "i": good})
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(after, sess.run(None, {**feeds, "i": good})[0])


# ------------------------------------------------------------ CumProd


def cumprod_reference(x: np.ndarray, axis: int, exclusive: bool, reverse: bool) -> np.ndarray:
    x = np.flip(x, axis) if reverse else x
    if exclusive:
        ones = np.ones_like(np.take(x, [0], axis))
        x = np.concatenate([ones, np.delete(x, -1, axis)], axis)
    with np.errstate(over="ignore"):
        y = np.cumprod(x, axis=axis, dtype=x.dtype)
    return np.flip(y, axis) if reverse else y


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive, reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumprod(dtype, axis, exclusive, reverse):
    x = (RNG.integers(-40, 41, (3, 4, 5)) if np.dtype(dtype).kind == "i" else RNG.uniform(0.5, 1.5, (3, 4, 5)))
    x = x.astype(dtype)  # int products overflow, and wrap, in both
    node = helper.make_node("CumProd", ["x", "a"], ["y"], exclusive=exclusive, reverse=reverse)
    with nanort_model(make_model(node, {"x": x}, {"a": np.array(axis, np.int64)}, opset=26)) as m:
        (got,) = m.run(None, {"x": x})
    want = cumprod_reference(x, axis, bool(exclusive), bool(reverse))
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6) if dtype in (np.float32, np.float64) else \
        np.testing.assert_array_equal(got, want)


def test_cumprod_runtime_axis():
    x = rand((3, 4), np.int64)
    node = helper.make_node("CumProd", ["x", "a"], ["y"], reverse=1)
    with nanort_model(make_model(node, {"x": x, "a": np.array(1)}, opset=26)) as m:
        for a in [0, 1, -2]:
            (got,) = m.run(None, {"x": x, "a": np.array(a, np.int64)})
            np.testing.assert_array_equal(got, cumprod_reference(x, a, False, True))
        with pytest.raises(nanort.InvalidArgumentError, match="axis 2 is out of range"):
            m.run(None, {"x": x, "a": np.array(2, np.int64)})


# ------------------------------------------------------------ GridSample


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample(mode, padding, align_corners):
    x = rand((2, 3, 5, 7))
    grid = RNG.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)
    grid[0, 0, :4] = [[-9.3, 0.2], [0.5, 7.7], [-1, -1], [1, 1]]  # far outside (reflected many times), corners
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding,
                            align_corners=align_corners)
    check(make_model(node, {"x": x, "g": grid}, opset=16), [{"x": x, "g": grid}], exact=False)


def test_grid_sample_opset20_names_and_one_pixel_image():
    x, grid = rand((1, 2, 1, 1)), RNG.uniform(-2, 2, (1, 3, 3, 2)).astype(np.float32)
    for mode in ("linear", "cubic"):
        for padding in ("border", "reflection"):
            node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding, align_corners=1)
            check(make_model(node, {"x": x, "g": grid}, opset=20), [{"x": x, "g": grid}], exact=False)


def test_grid_sample_non_finite_grid_reads_inside_the_image():
    x = rand((1, 2, 4, 4))
    grid = np.array([[[[np.nan, 0], [np.inf, -np.inf], [1e30, -1e30], [0, np.nan]]]], np.float32)
    for padding in ("zeros", "border", "reflection"):
        node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="bicubic", padding_mode=padding)
        with nanort_model(make_model(node, {"x": x, "g": grid}, opset=16)) as m:
            (y,) = m.run(None, {"x": x, "g": grid})
        assert y.shape == (1, 2, 1, 4)


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_volumetric(mode, padding):
    x = rand((2, 2, 3, 4, 5))
    grid = RNG.uniform(-1.4, 1.4, (2, 2, 3, 4, 3)).astype(np.float32)
    for align_corners in (0, 1):
        node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding,
                                align_corners=align_corners)
        check(make_model(node, {"x": x, "g": grid}, opset=20), [{"x": x, "g": grid}], exact=False)


@pytest.mark.parametrize("mode, x_shape, g_shape, refusal", [
    ("linear", (1, 1, 4), (1, 3, 1), "rank-3 input"),
    ("cubic", (1, 1, 2, 3, 4), (1, 2, 2, 2, 3), "cubic mode of a 3-D"),
])
def test_grid_sample_refusals_are_one_line(mode, x_shape, g_shape, refusal):
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode)
    model = make_model(node, {"x": rand(x_shape), "g": rand(g_shape)}, opset=20)
    with pytest.raises(nanort.UnsupportedError, match=refusal):
        nanort_model(model)


@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
def test_cumulative_runtime_axis_after_a_conv(op):
    """A channels-last input (the conv's output) with the axis a run-time value: the axis
    counts in ONNX's NCHW terms."""
    x, w = rand((1, 2, 3, 4)), rand((3, 2, 1, 1))
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    scan = helper.make_node(op, ["c", "a"], ["y"])
    vis = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape),
           helper.make_tensor_value_info("a", onnx.TensorProto.INT64, [])]
    g = helper.make_graph([conv, scan], "g", vis, [helper.make_value_info("y", onnx.TypeProto())],
                          [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 26)])
    with nanort_model(model) as m:
        for axis in (1, 3, -1):
            (got,) = m.run(None, {"x": x, "a": np.array(axis, np.int64)})
            c = np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0])
            want = np.cumsum(c, axis) if op == "CumSum" else cumprod_reference(c, axis, False, False)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
