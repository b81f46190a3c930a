"""Spatial ops (Conv, ConvTranspose, pools, Resize, Pad, DepthToSpace /
SpaceToDepth, Batch/Instance/Lp normalization): small hand-made ONNX models
run through nanort.convert + nanort.Model and compared with onnxruntime
(inputs and outputs stay NCHW; the runtime works in NHWC inside).

Also: ONNX's own node tests for Resize and Pad whose scales / sizes / pads
are graph inputs (nanort needs them static), with those inputs frozen into
constants and compared with the expected outputs shipped with the tests."""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize
from nanort.schema.ActivationKind import ActivationKind

RNG = np.random.default_rng(1234)
F32 = TensorProto.FLOAT


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def vi(name, shape, elem=F32):
    return helper.make_tensor_value_info(name, elem, shape)


def make_model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def init(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def ort_run(model, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def nrt_model(model, tmp_path, threads=1):
    src, dst = tmp_path / "m.onnx", tmp_path / "m.nrt"
    onnx.save(model, str(src))
    nanort.convert(src, dst)
    return nanort.Model(dst, threads=threads)


def check(model, feeds, tmp_path, rtol=1e-4, atol=1e-4, threads=1, feed_sets=()):
    """Runs `model` on feeds (and each extra feed set, same Model) in both runtimes."""
    with nrt_model(model, tmp_path, threads) as m:
        for f in [feeds, *feed_sets]:
            want = ort_run(model, f)
            got = m.run(None, f)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert g.shape == w.shape and g.dtype == w.dtype
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# -- Conv ------------------------------------------------------------------------

CONV_CASES = {
    # id: (x shape, cout, kernel, attrs, bias)
    "3x3_pad1_odd_channels": ((1, 3, 9, 11), 5, (3, 3), dict(pads=[1, 1, 1, 1]), True),
    "stride2_batch2": ((2, 4, 10, 9), 6, (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), True),
    "dilation2_no_bias": ((1, 5, 12, 13), 7, (3, 3), dict(dilations=[2, 2], pads=[2, 1, 2, 1]), False),
    "asymmetric_pads": ((1, 3, 8, 8), 4, (3, 2), dict(pads=[0, 1, 2, 0], strides=[1, 2]), True),
    "group2": ((1, 6, 7, 7), 4, (3, 3), dict(group=2, pads=[1, 1, 1, 1]), True),
    "group3_stride2": ((2, 9, 9, 8), 6, (3, 3), dict(group=3, strides=[2, 2]), True),
    "depthwise": ((1, 8, 10, 10), 8, (3, 3), dict(group=8, pads=[1, 1, 1, 1]), True),
    "depthwise_multiplier2_stride2": ((1, 5, 11, 10), 10, (5, 5), dict(group=5, pads=[2, 2, 2, 2], strides=[2, 2]),
                                      True),
    "3x3_many_out_channels": ((1, 5, 6, 7), 70, (3, 3), dict(pads=[1, 1, 1, 1]), True),
    "pointwise": ((2, 7, 5, 6), 9, (1, 1), {}, True),
    "pointwise_many_channels": ((1, 70, 4, 5), 130, (1, 1), {}, True),
    "1x1_stride2": ((1, 7, 9, 9), 3, (1, 1), dict(strides=[2, 2]), False),
    "same_upper_stride2": ((1, 3, 9, 10), 4, (3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2]), True),
    "same_lower_stride2": ((1, 3, 9, 10), 4, (4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2]), True),
    "valid": ((1, 3, 9, 10), 4, (3, 3), dict(auto_pad="VALID", strides=[2, 3]), True),
    "wide_kernel": ((1, 2, 6, 20), 3, (1, 7), dict(pads=[0, 3, 0, 3]), True),
}


@pytest.mark.parametrize("case", CONV_CASES, ids=list(CONV_CASES))
def test_conv(case, tmp_path):
    xshape, cout, kernel, attrs, bias = CONV_CASES[case]
    group = attrs.get("group", 1)
    w = rand(cout, xshape[1] // group, *kernel)
    inits = [init("w", w)] + ([init("b", rand(cout))] if bias else [])
    node = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], **attrs)
    model = make_model([node], [vi("x", xshape)], [vi("y", None)], inits)
    check(model, {"x": rand(*xshape)}, tmp_path, threads=2)


def test_conv_weights_as_input(tmp_path):
    """Weights that are a graph input (repacked at run time)."""
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 0], group=2)
    model = make_model([node], [vi("x", (1, 4, 6, 5)), vi("w", (6, 2, 3, 3)), vi("b", (6,))], [vi("y", None)])
    check(model, {"x": rand(1, 4, 6, 5), "w": rand(6, 2, 3, 3), "b": rand(6)}, tmp_path)


def test_conv_dynamic_spatial_size(tmp_path):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")
    model = make_model([node], [vi("x", (1, 3, "H", "W"))], [vi("y", None)],
                       [init("w", rand(4, 3, 3, 3)), init("b", rand(4))])
    check(model, {"x": rand(1, 3, 8, 8)}, tmp_path, feed_sets=[{"x": rand(1, 3, 13, 6)}, {"x": rand(1, 3, 1, 1)}])


def test_conv_1d(tmp_path):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[2, 1], strides=[2], dilations=[2])
    model = make_model([node], [vi("x", (2, 3, 17))], [vi("y", None)], [init("w", rand(5, 3, 3)), init("b", rand(5))])
    check(model, {"x": rand(2, 3, 17)}, tmp_path)


def test_conv_3d_is_unsupported(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    model = make_model([node], [vi("x", (1, 2, 4, 4, 4))], [vi("y", None)], [init("w", rand(3, 2, 2, 2, 2))])
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(nanort.UnsupportedError, match="3-D convolution"):
        nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")


ACTIVATIONS = {
    "relu": ((ActivationKind.RELU, 0.0, 0.0), lambda y: np.maximum(y, 0)),
    "relu6": ((ActivationKind.CLIP, 0.0, 6.0), lambda y: np.clip(y, 0, 6)),
    "leaky": ((ActivationKind.LEAKY_RELU, 0.1, 0.0), lambda y: np.where(y >= 0, y, 0.1 * y)),
    "hardswish": ((ActivationKind.HARD_SWISH, 0.0, 0.0), lambda y: y * np.clip(y / 6 + 0.5, 0, 1)),
    "sigmoid": ((ActivationKind.SIGMOID, 0.0, 0.0), lambda y: 1 / (1 + np.exp(-y))),
}


@pytest.mark.parametrize("act", ACTIVATIONS, ids=list(ACTIVATIONS))
@pytest.mark.parametrize("op", ["Conv", "ConvTranspose", "MaxPool", "GlobalAveragePool"])
def test_fused_activation(op, act, tmp_path):
    """ConvOptions / PoolOptions.activation (set by the converter's fusion): compared with
    ORT's op followed by the activation."""
    (kind, alpha, beta), fn = ACTIVATIONS[act]
    wshape = (6, 4, 3, 3) if op == "Conv" else (4, 6, 3, 3)  # 6 output channels either way
    if op.startswith("Conv"):
        node = helper.make_node(op, ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])
        inits = [init("w", rand(*wshape) * 2), init("b", rand(6))]
    else:
        attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]) if op == "MaxPool" else {}
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        inits = []
    model = make_model([node], [vi("x", (1, 4, 7, 6))], [vi("y", None)], inits)
    graph = convert_graph(model)
    [conv] = [n for n in graph.nodes if n.op == op]
    conv.attrs["activation"] = (kind, alpha, beta)
    x = rand(1, 4, 7, 6) * 4
    with nanort.Model(serialize(graph)) as m:
        got = m.run(None, {"x": x})[0]
    want = fn(ort_run(model, {"x": x})[0].astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv_errors(tmp_path):
    # kernel larger than the padded input: refused (by shape inference or by the runtime)
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    model = make_model([node], [vi("x", (1, 2, "H", "W"))], [vi("y", None)], [init("w", rand(3, 2, 5, 5))])
    with nrt_model(model, tmp_path) as m:
        with pytest.raises(nanort.ShapeError, match="larger than the padded input"):
            m.run({"x": rand(1, 2, 2, 8)})
        assert m.run({"x": rand(1, 2, 3, 3)})["y"].shape == (1, 3, 1, 1)
    # group not dividing the channels
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2)
    model = make_model([node], [vi("x", (1, "C", 5, 5))], [vi("y", None)], [init("w", rand(4, 2, 3, 3))])
    with nrt_model(model, tmp_path) as m:
        with pytest.raises(nanort.ShapeError, match="group"):
            m.run({"x": rand(1, 3, 5, 5)})
        assert m.run({"x": rand(1, 4, 5, 5)})["y"].shape == (1, 4, 3, 3)


# -- ConvTranspose -------------------------------------------------------------

CONVT_CASES = {
    "stride2": ((1, 3, 5, 4), 4, (3, 3), dict(strides=[2, 2]), True),
    "stride2_pads_outpad": ((2, 3, 5, 6), 5, (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1],
                                                             output_padding=[1, 0]), True),
    "stride2_kernel2_like_dbnet": ((1, 8, 6, 7), 4, (2, 2), dict(strides=[2, 2]), True),
    "group2_dilation": ((1, 4, 5, 5), 6, (3, 3), dict(group=2, dilations=[2, 2], pads=[1, 0, 2, 1]), False),
    "output_shape": ((1, 2, 4, 4), 3, (3, 3), dict(strides=[3, 2], output_shape=[12, 9]), True),
    "same_upper": ((1, 2, 5, 4), 3, (3, 3), dict(strides=[2, 2], auto_pad="SAME_UPPER"), True),
    "same_lower": ((1, 2, 5, 4), 3, (4, 4), dict(strides=[2, 2], auto_pad="SAME_LOWER"), True),
    "depthwise": ((1, 6, 4, 4), 6, (4, 4), dict(group=6, strides=[2, 2], pads=[1, 1, 1, 1]), True),
    "one_output_channel": ((2, 13, 4, 5), 1, (3, 3), dict(strides=[2, 2], pads=[1, 0, 0, 1]), True),
    "group2_few_outputs": ((1, 18, 3, 4), 4, (2, 3), dict(group=2, strides=[2, 1]), True),
}


@pytest.mark.parametrize("case", CONVT_CASES, ids=list(CONVT_CASES))
def test_conv_transpose(case, tmp_path):
    xshape, cout, kernel, attrs, bias = CONVT_CASES[case]
    group = attrs.get("group", 1)
    inits = [init("w", rand(xshape[1], cout // group, *kernel))] + ([init("b", rand(cout))] if bias else [])
    node = helper.make_node("ConvTranspose", ["x", "w"] + (["b"] if bias else []), ["y"], **attrs)
    model = make_model([node], [vi("x", xshape)], [vi("y", None)], inits)
    check(model, {"x": rand(*xshape)}, tmp_path, threads=2)


@pytest.mark.parametrize("cin,cout,group", [(3, 5, 1), (16, 2, 1), (4, 4, 4)], ids=["plain", "dot", "depthwise"])
def test_conv_transpose_weights_as_input(cin, cout, group, tmp_path):
    """Weights that are a graph input (repacked at run time for the dot / depthwise layouts)."""
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 0, 0], group=group)
    wshape = (cin, cout // group, 3, 3)
    model = make_model([node], [vi("x", (1, cin, 4, 3)), vi("w", wshape)], [vi("y", None)])
    check(model, {"x": rand(1, cin, 4, 3), "w": rand(*wshape)}, tmp_path)


def test_conv_transpose_1d(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3], pads=[1, 0], output_padding=[1])
    model = make_model([node], [vi("x", (1, 3, 7))], [vi("y", None)], [init("w", rand(3, 2, 4))])
    check(model, {"x": rand(1, 3, 7)}, tmp_path)


# -- pools -----------------------------------------------------------------------

POOL_CASES = {
    "max_3x3_s2_pad1": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    "max_ceil": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "max_ceil_pads": ("MaxPool", dict(kernel_shape=[2, 3], strides=[3, 2], pads=[1, 0, 1, 1], ceil_mode=1)),
    "max_dilation": ("MaxPool", dict(kernel_shape=[2, 2], dilations=[2, 3], pads=[1, 1, 0, 0])),
    "max_same_lower": ("MaxPool", dict(kernel_shape=[4, 3], strides=[2, 2], auto_pad="SAME_LOWER")),
    "avg_exclude_pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    "avg_include_pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 2, 1, 0], count_include_pad=1)),
    "avg_ceil": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "avg_ceil_include_pad": ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                                                  ceil_mode=1, count_include_pad=1)),
    "avg_same_upper": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    "avg_valid": ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="VALID")),
    "global_avg": ("GlobalAveragePool", {}),
    "global_max": ("GlobalMaxPool", {}),
}


@pytest.mark.parametrize("case", POOL_CASES, ids=list(POOL_CASES))
def test_pool(case, tmp_path):
    op, attrs = POOL_CASES[case]
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    model = make_model([node], [vi("x", (2, 3, "H", "W"))], [vi("y", None)], opset=19)
    check(model, {"x": rand(2, 3, 9, 10)}, tmp_path, feed_sets=[{"x": rand(2, 3, 6, 5)}])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_maxpool_int8(dtype, tmp_path):
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    model = make_model([node], [vi("x", (1, 5, 7, 8), elem)], [vi("y", None, elem)])
    x = RNG.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, (1, 5, 7, 8)).astype(dtype)
    check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "GlobalAveragePool"])
def test_pool_1d(op, tmp_path):
    attrs = {} if op.startswith("Global") else dict(kernel_shape=[3], strides=[2], pads=[1, 1])
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    model = make_model([node], [vi("x", (2, 3, 11))], [vi("y", None)])
    check(model, {"x": rand(2, 3, 11)}, tmp_path)


def test_pool_kernel_too_large(tmp_path):
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[4, 4])
    model = make_model([node], [vi("x", (1, 1, "H", "W"))], [vi("y", None)])
    with nrt_model(model, tmp_path) as m:
        with pytest.raises(nanort.ShapeError, match="larger than the padded input"):
            m.run({"x": rand(1, 1, 3, 8)})


def test_conv_pool_chain(tmp_path):
    """Conv -> MaxPool -> Conv(depthwise) -> GlobalAveragePool stays NHWC inside."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], group=6, pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["y"])]
    model = make_model(nodes, [vi("x", (2, 3, 12, 10))], [vi("y", None)],
                       [init("w1", rand(6, 3, 3, 3)), init("b1", rand(6)), init("w2", rand(6, 1, 3, 3))])
    check(model, {"x": rand(2, 3, 12, 10)}, tmp_path)


# -- Resize / Upsample ---------------------------------------------------------------

def _resize_model(attrs, scales=None, sizes=None, roi=None, xshape=(1, 3, "H", "W"), opset=19):
    inits, names = [], ["x", "", "", ""]
    for k, (name, value) in enumerate([("roi", roi), ("scales", scales), ("sizes", sizes)], start=1):
        if value is not None:
            inits.append(init(name, np.array(value, np.int64 if name == "sizes" else np.float32)))
            names[k] = name
    while not names[-1]:
        names.pop()
    node = helper.make_node("Resize", names, ["y"], **attrs)
    return make_model([node], [vi("x", xshape)], [vi("y", None)], inits, opset=opset)


RESIZE_CASES = {
    "nearest_x2": (dict(mode="nearest"), [1, 1, 2, 2], None),
    "nearest_floor_asym_1.7": (dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                    nearest_mode="floor"), [1, 1, 1.7, 0.7], None),
    "nearest_ceil_half_pixel": (dict(mode="nearest", nearest_mode="ceil"), [1, 1, 0.5, 1.5], None),
    "nearest_prefer_ceil": (dict(mode="nearest", nearest_mode="round_prefer_ceil"), [1, 1, 3, 0.5], None),
    "nearest_align_corners_sizes": (dict(mode="nearest", coordinate_transformation_mode="align_corners"), None,
                                    [1, 3, 7, 5]),
    "linear_half_pixel": (dict(mode="linear"), [1, 1, 2, 2], None),
    "linear_half_pixel_down": (dict(mode="linear"), [1, 1, 0.5, 0.75], None),
    "linear_align_corners_sizes": (dict(mode="linear", coordinate_transformation_mode="align_corners"), None,
                                   [1, 3, 13, 4]),
    "linear_asymmetric": (dict(mode="linear", coordinate_transformation_mode="asymmetric"), [1, 1, 2.5, 1.5], None),
    "linear_pytorch_half_pixel": (dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), None,
                                  [1, 3, 1, 9]),
    "cubic": (dict(mode="cubic"), [1, 1, 2, 1.5], None),
    "cubic_exclude_outside": (dict(mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5), [1, 1, 0.8, 2], None),
    "cubic_down_sizes": (dict(mode="cubic"), None, [1, 3, 3, 4]),
    "channels_and_spatial": (dict(mode="linear"), [1, 2, 2, 1], None),
}


@pytest.mark.parametrize("case", RESIZE_CASES, ids=list(RESIZE_CASES))
def test_resize(case, tmp_path):
    attrs, scales, sizes = RESIZE_CASES[case]
    if sizes is not None:  # fixed output size: a fixed input too
        model = _resize_model(attrs, sizes=sizes, xshape=(1, 3, 6, 7))
        check(model, {"x": rand(1, 3, 6, 7)}, tmp_path)
        return
    model = _resize_model(attrs, scales=scales)
    check(model, {"x": rand(1, 3, 6, 7)}, tmp_path, feed_sets=[{"x": rand(1, 3, 9, 4)}])


def test_resize_tf_crop_and_resize(tmp_path):
    attrs = dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    model = _resize_model(attrs, roi=[0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4], sizes=[1, 3, 5, 6], xshape=(1, 3, 6, 7))
    check(model, {"x": rand(1, 3, 6, 7)}, tmp_path)


def test_resize_antialias(tmp_path):
    model = _resize_model(dict(mode="linear", antialias=1), sizes=[1, 3, 4, 3], xshape=(1, 3, 9, 10))
    check(model, {"x": rand(1, 3, 9, 10)}, tmp_path)


def test_resize_keep_aspect_ratio_axes(tmp_path):
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest", axes=[3, 2],
                            keep_aspect_ratio_policy="not_larger")
    model = make_model([node], [vi("x", (1, 2, 6, 8))], [vi("y", None)], [init("sizes", np.array([5, 7]))], opset=19)
    check(model, {"x": rand(1, 2, 6, 8)}, tmp_path)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_resize_nearest_integers(dtype, tmp_path):
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")
    model = make_model([node], [vi("x", (1, 2, 3, 4), elem)], [vi("y", None, elem)],
                       [init("scales", np.array([1, 1, 2, 1.5], np.float32))])
    check(model, {"x": RNG.integers(0, 100, (1, 2, 3, 4)).astype(dtype)}, tmp_path)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_after_conv_is_nhwc(mode, tmp_path):
    """Conv -> Resize -> Conv: the resize runs on the NHWC tensor."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["c1", "", "scales"], ["r"], mode=mode),
             helper.make_node("Conv", ["r", "w2"], ["y"])]
    model = make_model(nodes, [vi("x", (1, 3, "H", "W"))], [vi("y", None)],
                       [init("w1", rand(5, 3, 3, 3)), init("w2", rand(2, 5, 1, 1)),
                        init("scales", np.array([1, 1, 2, 3], np.float32))])
    check(model, {"x": rand(1, 3, 5, 4)}, tmp_path, feed_sets=[{"x": rand(1, 3, 3, 6)}])


@pytest.mark.parametrize("mode", ["nearest", "linear", "crop"])
def test_resize_perm_option(mode, tmp_path):
    """ResizeOptions.perm: logical-order vectors on an NHWC tensor (what the layout
    pass emits when scales / sizes are computed from shapes at run time)."""
    scales = np.array([1, 1, 2, 0.5], np.float32)
    roi = np.array([0, 0, 0.1, -0.2, 1, 1, 0.7, 1.1], np.float32)
    attrs = {"mode": mode}
    if mode == "crop":
        attrs = {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"]),
             helper.make_node("Resize", ["c1", "roi", "scales"], ["y"], **attrs)]
    model = make_model(nodes, [vi("x", (1, 3, 5, 8))], [vi("y", None)],
                       [init("w1", rand(4, 3, 1, 1)), init("scales", scales), init("roi", roi)])
    graph = convert_graph(model)
    [node] = [n for n in graph.nodes if n.op == "Resize"]
    node.inputs[2] = graph.add_const(scales, "logical_scales")
    if mode == "crop":
        node.inputs[1] = graph.add_const(roi, "logical_roi")
    node.attrs["perm"] = [0, 2, 3, 1]
    x = rand(1, 3, 5, 8)
    with nanort.Model(serialize(graph)) as m:
        np.testing.assert_allclose(m.run({"x": x})["y"], ort_run(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_layout_pass_resize_with_runtime_sizes():
    """A Resize whose sizes are computed at run time: the layout pass sets perm and
    leaves the constant roi in logical order (it used to permute it as well)."""
    from nanort.converter.ir import Graph, Node
    from nanort.converter.passes import layout
    g = Graph()
    g.add_tensor("x", np.float32, (1, 3, 4, 5))
    g.add_tensor("sizes", np.int64, (4,))
    g.inputs = ["x", "sizes"]
    w = g.add_const(rand(4, 3, 1, 1), "w")
    roi = np.array([0, 0, 0.1, 0.2, 1, 1, 0.9, 0.8], np.float32)
    r = g.add_const(roi, "roi")
    g.add_tensor("c", np.float32, (1, 4, 4, 5))
    g.add_tensor("y", np.float32, None)
    g.nodes = [Node("Conv", ["x", w], ["c"], {}, "conv"),
               Node("Resize", ["c", r, "", "sizes"], ["y"], {"mode": 1, "coordinate_transform": 4}, "resize")]
    g.outputs = ["y"]
    layout.run(g)
    [node] = [n for n in g.nodes if n.op == "Resize"]
    assert node.attrs["perm"] == [0, 2, 3, 1]
    np.testing.assert_array_equal(g.const(node.inputs[1]), roi)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("op,opset", [("Upsample", 9), ("Resize", 10), ("Upsample", 7)])
def test_legacy_resize(op, opset, mode, tmp_path):
    scales = [1.0, 1.0, 2.0, 3.0] if op == "Upsample" else [1.0, 1.0, 0.6, 0.7]
    if opset == 7:
        node = helper.make_node(op, ["x"], ["y"], mode=mode, scales=scales)
        inits = []
    else:
        node = helper.make_node(op, ["x", "scales"], ["y"], mode=mode)
        inits = [init("scales", np.array(scales, np.float32))]
    model = make_model([node], [vi("x", (1, 2, 5, 4))], [vi("y", None)], inits, opset=opset)
    check(model, {"x": rand(1, 2, 5, 4)}, tmp_path)


def test_resize_opset10_upsample(tmp_path):
    node = helper.make_node("Resize", ["x", "scales"], ["y"], mode="nearest")
    model = make_model([node], [vi("x", (1, 2, 5, 4))], [vi("y", None)],
                       [init("scales", np.array([1, 1, 1.5, 2.5], np.float32))], opset=10)
    check(model, {"x": rand(1, 2, 5, 4)}, tmp_path)


def test_resize_errors(tmp_path):
    model = _resize_model(dict(mode="linear"), scales=[1, 1, -2, 2])
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(nanort.Error):
        nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")
        with nanort.Model(tmp_path / "m.nrt") as m:
            m.run({"x": rand(1, 3, 4, 4)})


# -- Pad -------------------------------------------------------------------------------

PAD_CASES = {
    "constant_value": ("constant", [0, 1, 2, 1, 0, 0, 1, 3], 2.5),
    "zero_both_row_edges": ("constant", [0, 1, 0, 2, 1, 0, 1, 3], None),  # memset fills (pad_ref.c)
    "reflect": ("reflect", [0, 0, 2, 3, 0, 0, 1, 2], None),
    "edge": ("edge", [1, 0, 3, 1, 0, 2, 1, 0], None),
    "wrap": ("wrap", [0, 1, 2, 3, 0, 1, 4, 1], None),
    "negative_crop": ("constant", [0, -1, 2, -2, 0, 0, -1, 1], None),
    "negative_crop_reflect": ("reflect", [0, 0, -1, 2, 0, 0, 2, -1], None),
}


@pytest.mark.parametrize("case", PAD_CASES, ids=list(PAD_CASES))
def test_pad(case, tmp_path):
    mode, pads, value = PAD_CASES[case]
    inits = [init("pads", np.array(pads, np.int64))]
    names = ["x", "pads"]
    if value is not None:
        inits.append(init("value", np.array(value, np.float32)))
        names.append("value")
    node = helper.make_node("Pad", names, ["y"], mode=mode)
    model = make_model([node], [vi("x", (2, 3, "H", "W"))], [vi("y", None)], inits, opset=19)
    check(model, {"x": rand(2, 3, 5, 6)}, tmp_path, feed_sets=[{"x": rand(2, 3, 4, 7)}])


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.bool_, np.float64])
def test_pad_dtypes(dtype, tmp_path):
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("Pad", ["x", "pads", "value"], ["y"], mode="constant")
    model = make_model([node], [vi("x", (3, 4), elem)], [vi("y", None, elem)],
                       [init("pads", np.array([1, 0, 2, 3], np.int64)), init("value", np.array(1).astype(dtype))])
    check(model, {"x": RNG.integers(0, 2, (3, 4)).astype(dtype)}, tmp_path)


def test_pad_opset2_attributes(tmp_path):
    node = helper.make_node("Pad", ["x"], ["y"], mode="edge", pads=[0, 1, 2, 0, 0, 2, 1, 1])
    model = make_model([node], [vi("x", (1, 2, 3, 4))], [vi("y", None)], opset=9)
    check(model, {"x": rand(1, 2, 3, 4)}, tmp_path)
    node = helper.make_node("Pad", ["x"], ["y"], pads=[1, 1, 0, 2], value=-1.5)
    model = make_model([node], [vi("x", (3, 4))], [vi("y", None)], opset=9)
    check(model, {"x": rand(3, 4)}, tmp_path)


def test_pad_axes_after_conv(tmp_path):
    """Constant axes are folded into full pads; after a Conv the pad runs on the NHWC tensor."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Pad", ["c", "pads", "", "axes"], ["y"], mode="reflect")]
    model = make_model(nodes, [vi("x", (1, 3, 5, 6))], [vi("y", None)],
                       [init("w", rand(4, 3, 1, 1)), init("pads", np.array([1, 2, 2, 0], np.int64)),
                        init("axes", np.array([-1, 2], np.int64))], opset=19)
    check(model, {"x": rand(1, 3, 5, 6)}, tmp_path)


def test_pad_errors(tmp_path):
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")
    model = make_model([node], [vi("x", (1, "W"))], [vi("y", None)], [init("pads", np.array([0, -3, 0, 0]))])
    with nrt_model(model, tmp_path) as m:
        with pytest.raises(nanort.ShapeError):
            m.run({"x": rand(1, 2)})
        assert m.run({"x": rand(1, 5)})["y"].shape == (1, 2)


# -- DepthToSpace / SpaceToDepth ---------------------------------------------------------------

@pytest.mark.parametrize("op,mode", [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"), ("SpaceToDepth", None)])
def test_depth_space(op, mode, tmp_path):
    attrs = {"blocksize": 2} if mode is None else {"blocksize": 2, "mode": mode}
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    shape = (2, 12, 3, 5) if op == "DepthToSpace" else (2, 3, 6, 10)
    model = make_model([node], [vi("x", shape)], [vi("y", None)])
    check(model, {"x": rand(*shape)}, tmp_path)


def test_depth_to_space_after_conv(tmp_path):
    """A pixel-shuffle head: Conv -> DepthToSpace(CRD, 3)."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=3, mode="CRD")]
    model = make_model(nodes, [vi("x", (1, 2, 4, 5))], [vi("y", None)], [init("w", rand(18, 2, 3, 3))])
    check(model, {"x": rand(1, 2, 4, 5)}, tmp_path)


def test_depth_to_space_bad_channels(tmp_path):
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2)
    model = make_model([node], [vi("x", (1, "C", 2, 2))], [vi("y", None)])
    with nrt_model(model, tmp_path) as m:
        with pytest.raises(nanort.ShapeError, match="multiple of blocksize"):
            m.run({"x": rand(1, 6, 2, 2)})


# -- normalizations ------------------------------------------------------------------------------

@pytest.mark.parametrize("after_conv", [False, True], ids=["nchw", "nhwc"])
def test_batch_norm(after_conv, tmp_path):
    c = 5
    inits = [init("s", rand(c)), init("b", rand(c)), init("m", rand(c)), init("v", np.abs(rand(c)) + 0.1)]
    nodes = [helper.make_node("BatchNormalization", ["bx", "s", "b", "m", "v"], ["y"], epsilon=1e-3)]
    if after_conv:
        nodes.insert(0, helper.make_node("Conv", ["x", "w"], ["bx"]))
        inits.append(init("w", rand(c, 3, 1, 1)))
        xshape = (2, 3, 4, 6)
    else:
        nodes[0].input[0] = "x"
        xshape = (2, c, 4, 6)
    model = make_model(nodes, [vi("x", xshape)], [vi("y", None)], inits)
    check(model, {"x": rand(*xshape)}, tmp_path)


def test_batch_norm_rank3_runtime_stats(tmp_path):
    """Statistics as graph inputs, rank-3 input."""
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])
    model = make_model([node], [vi("x", (2, 4, 7))] + [vi(n, (4,)) for n in "sbmv"], [vi("y", None)])
    feeds = {"x": rand(2, 4, 7), "s": rand(4), "b": rand(4), "m": rand(4), "v": np.abs(rand(4)) + 0.5}
    check(model, feeds, tmp_path)


@pytest.mark.parametrize("after_conv", [False, True], ids=["nchw", "nhwc"])
def test_instance_norm(after_conv, tmp_path):
    c = 70  # more than one channel block
    inits = [init("s", rand(c)), init("b", rand(c))]
    nodes = [helper.make_node("InstanceNormalization", ["nx", "s", "b"], ["y"], epsilon=1e-4)]
    if after_conv:
        nodes.insert(0, helper.make_node("Conv", ["x", "w"], ["nx"]))
        inits.append(init("w", rand(c, 3, 1, 1)))
        xshape = (2, 3, 5, 6)
    else:
        nodes[0].input[0] = "x"
        xshape = (2, c, 5, 6)
    model = make_model(nodes, [vi("x", xshape)], [vi("y", None)], inits)
    check(model, {"x": rand(*xshape) * 3 + 1}, tmp_path)


def test_instance_norm_rank3(tmp_path):
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])
    model = make_model([node], [vi("x", (3, 2, 9))], [vi("y", None)], [init("s", rand(2)), init("b", rand(2))])
    check(model, {"x": rand(3, 2, 9)}, tmp_path)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [1, -1, 0])
def test_lp_norm(p, axis, tmp_path):
    node = helper.make_node("LpNormalization", ["x"], ["y"], p=p, axis=axis)
    model = make_model([node], [vi("x", (2, 3, 4, 5))], [vi("y", None)])
    check(model, {"x": rand(2, 3, 4, 5)}, tmp_path)


def test_lp_norm_after_conv(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("LpNormalization", ["c"], ["y"], axis=1)]
    model = make_model(nodes, [vi("x", (1, 3, 4, 5))], [vi("y", None)], [init("w", rand(6, 3, 1, 1))])
    check(model, {"x": rand(1, 3, 4, 5)}, tmp_path)


# -- ONNX node tests with frozen shape inputs ----------------------------------------------------------

def _node_cases(pattern: str):
    try:
        from assets import onnx_node_tests
        root = onnx_node_tests()
    except Exception:  # no network / cache: nothing to run
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(pattern) and (p / "model.onnx").exists())


FROZEN = _node_cases("test_resize_") + _node_cases("test_upsample_") + _node_cases("test_constant_pad") + \
    [p for p in _node_cases("test_") if p.name.endswith(("edge_pad", "reflect_pad", "wrap_pad"))]


@pytest.mark.parametrize("case", FROZEN, ids=[p.name for p in FROZEN])
def test_node_case_with_frozen_inputs(case):
    model = onnx.load(str(case / "model.onnx"))
    ds = sorted(glob.glob(str(case / "test_data_set_*")))[0]
    def load(kind):
        files = sorted(glob.glob(os.path.join(ds, f"{kind}_*.pb")), key=lambda f: int(f.rsplit("_", 1)[1][:-3]))
        return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]
    inputs, expected = load("input"), load("output")
    for imp in model.opset_import:  # Pad 21..25 only add types: read them as opset 21
        if imp.domain in ("", "ai.onnx") and imp.version > 21:
            imp.version = 21
    graph = model.graph
    names = [i.name for i in graph.input]
    for name, value in list(zip(names, inputs, strict=True))[1:]:
        graph.initializer.append(numpy_helper.from_array(value, name))
    keep = [i for i in graph.input if i.name == names[0]]
    del graph.input[:]
    graph.input.extend(keep)
    with nanort.Model(serialize(convert_graph(model)), check_finite=False) as m:
        got = m.run(None, {names[0]: inputs[0]})[0]
    np.testing.assert_allclose(got, expected[0], rtol=1e-3, atol=1e-6)
