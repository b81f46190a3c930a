"""Each TFLite operator importer on a one-operator model (built with TFLite's
own schema code), run through TFLite and nanort on random inputs: the
variants the real models of test_tflite.py do not reach (resize coordinate
modes, strided-slice masks, transpose convolution paddings, fully connected
flattening, reductions, data movement, the quantization ops around an int8
convolution), and the signature names the .nrt keeps."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from tflite_builder import Const, Op, Var, build, single

import nanort
from nanort.schema.Model import Model as NrtModel

F = np.float32
rng = np.random.default_rng(0)


def w(*shape) -> Const:
    return Const(rng.standard_normal(shape).astype(F))


def ints(*values) -> Const:
    return Const(np.array(values, np.int32))


CASES = {
    "resize_nearest": single("RESIZE_NEAREST_NEIGHBOR", [Var((1, 5, 7, 3)), ints(9, 12)], [Var((1, 9, 12, 3))],
                             "ResizeNearestNeighborOptions"),
    "resize_nearest_align_corners": single(
        "RESIZE_NEAREST_NEIGHBOR", [Var((1, 5, 7, 3)), ints(9, 12)], [Var((1, 9, 12, 3))],
        "ResizeNearestNeighborOptions", alignCorners=True),
    "resize_nearest_half_pixel": single(
        "RESIZE_NEAREST_NEIGHBOR", [Var((1, 5, 7, 3)), ints(9, 12)], [Var((1, 9, 12, 3))],
        "ResizeNearestNeighborOptions", halfPixelCenters=True),
    "resize_bilinear_asymmetric": single("RESIZE_BILINEAR", [Var((1, 5, 7, 3)), ints(9, 12)], [Var((1, 9, 12, 3))],
                                         "ResizeBilinearOptions"),
    "resize_bilinear_align_corners": single(
        "RESIZE_BILINEAR", [Var((1, 5, 7, 3)), ints(9, 12)], [Var((1, 9, 12, 3))], "ResizeBilinearOptions",
        alignCorners=True),
    "resize_bilinear_half_pixel_down": single(
        "RESIZE_BILINEAR", [Var((1, 9, 12, 2)), ints(4, 5)], [Var((1, 4, 5, 2))], "ResizeBilinearOptions",
        halfPixelCenters=True),
    "strided_slice_masks": single(
        "STRIDED_SLICE", [Var((2, 6, 8, 3)), ints(1, 1, -1, 0), ints(2, 5, 0, 3), ints(1, 2, -2, 1)],
        [Var((2, 4, 3))], "StridedSliceOptions", beginMask=0b1000, endMask=0b0100, shrinkAxisMask=0b0001),
    "slice": single("SLICE", [Var((2, 6, 8, 3)), ints(1, 0, 2, 0), ints(-1, 3, 4, 2)], [Var((1, 3, 4, 2))]),
    "transpose_conv_same": single(
        "TRANSPOSE_CONV", [ints(1, 10, 12, 4), w(4, 3, 3, 5), Var((1, 5, 6, 5)), w(4)], [Var((1, 10, 12, 4))],
        "TransposeConvOptions", padding=0, strideH=2, strideW=2),
    "transpose_conv_valid": single(
        "TRANSPOSE_CONV", [ints(1, 11, 13, 4), w(4, 3, 3, 5), Var((1, 5, 6, 5))], [Var((1, 11, 13, 4))],
        "TransposeConvOptions", padding=1, strideH=2, strideW=2),
    "conv_dilated_grouped": single(
        "CONV_2D", [Var((1, 9, 9, 6)), w(4, 3, 3, 3), w(4)], [Var((1, 5, 5, 4))], "Conv2DOptions",
        padding=0, strideH=2, strideW=2, dilationHFactor=2, dilationWFactor=2, fusedActivationFunction=3),
    "depthwise_multiplier": single(
        "DEPTHWISE_CONV_2D", [Var((1, 7, 7, 3)), w(1, 3, 3, 6), w(6)], [Var((1, 5, 5, 6))],
        "DepthwiseConv2DOptions", padding=1, strideH=1, strideW=1, depthMultiplier=2, dilationHFactor=1,
        dilationWFactor=1),
    "average_pool_valid": single("AVERAGE_POOL_2D", [Var((1, 9, 9, 4))], [Var((1, 4, 4, 4))], "Pool2DOptions",
                                 padding=1, strideH=2, strideW=2, filterHeight=3, filterWidth=3),
    "max_pool_same_relu": single("MAX_POOL_2D", [Var((1, 9, 9, 4))], [Var((1, 5, 5, 4))], "Pool2DOptions",
                                 padding=0, strideH=2, strideW=2, filterHeight=3, filterWidth=3,
                                 fusedActivationFunction=1),
    "fully_connected_flattens": single("FULLY_CONNECTED", [Var((2, 3, 4)), w(5, 12), w(5)], [Var((2, 5))],
                                       "FullyConnectedOptions", fusedActivationFunction=1),
    "fully_connected_keep_num_dims": single("FULLY_CONNECTED", [Var((2, 3, 4)), w(5, 4)], [Var((2, 3, 5))],
                                            "FullyConnectedOptions", keepNumDims=True),
    "softmax_beta": single("SOFTMAX", [Var((2, 10))], [Var((2, 10))], "SoftmaxOptions", beta=0.5),
    "log_softmax": single("LOG_SOFTMAX", [Var((2, 10))], [Var((2, 10))]),
    "mean_axis": single("MEAN", [Var((2, 5, 6, 3)), ints(1)], [Var((2, 6, 3))], "ReducerOptions"),
    "mean_spatial": single("MEAN", [Var((2, 5, 6, 3)), ints(1, 2)], [Var((2, 3))], "ReducerOptions"),
    "sum_keepdims": single("SUM", [Var((2, 5, 6, 3)), ints(2)], [Var((2, 5, 1, 3))], "ReducerOptions",
                           keepDims=True),
    "padv2": single("PADV2", [Var((1, 4, 5, 3)), Const(np.array([[0, 0], [1, 2], [2, 0], [0, 1]], np.int32)),
                              Const(np.array(1.5, F))], [Var((1, 7, 7, 4))]),
    "mirror_pad": single("MIRROR_PAD", [Var((1, 4, 5, 3)), Const(np.array([[0, 0], [1, 2], [2, 1], [0, 0]],
                                                                           np.int32))],
                         [Var((1, 7, 8, 3))], "MirrorPadOptions", mode=0),
    "transpose": single("TRANSPOSE", [Var((2, 3, 4, 5)), ints(0, 2, 3, 1)], [Var((2, 4, 5, 3))]),
    "split": single("SPLIT", [ints(1), Var((2, 6, 4))], [Var((2, 2, 4))] * 3, "SplitOptions", numSplits=3),
    "split_v": single("SPLIT_V", [Var((2, 6, 4)), ints(1, 3, 2), ints(1)], [Var((2, 1, 4)), Var((2, 3, 4)),
                                                                             Var((2, 2, 4))],
                      "SplitVOptions", numSplits=3),
    "gather": single("GATHER", [Var((2, 5, 3)), ints(3, 0, 2)], [Var((2, 3, 3))], "GatherOptions", axis=1),
    "batch_matmul_adjoint": single("BATCH_MATMUL", [Var((2, 3, 4)), Var((2, 5, 4))], [Var((2, 3, 5))],
                                   "BatchMatMulOptions", adjY=True),
    "concatenation_relu6": single("CONCATENATION", [Var((1, 4, 4, 2)), Var((1, 4, 4, 3))], [Var((1, 4, 4, 5))],
                                  "ConcatenationOptions", axis=3, fusedActivationFunction=3),
    "squared_difference": single("SQUARED_DIFFERENCE", [Var((2, 3, 4)), Var((1, 3, 1))], [Var((2, 3, 4))]),
    "maximum_broadcast": single("MAXIMUM", [Var((2, 3, 4)), Var((4,))], [Var((2, 3, 4))]),
    "div": single("DIV", [Var((2, 3, 4)), Const(np.full((4,), 1.7, F))], [Var((2, 3, 4))], "DivOptions"),
    "sub_relu": single("SUB", [Var((2, 3, 4)), Var((2, 3, 4))], [Var((2, 3, 4))], "SubOptions",
                       fusedActivationFunction=1),
    "leaky_relu": single("LEAKY_RELU", [Var((2, 3, 4))], [Var((2, 3, 4))], "LeakyReluOptions", alpha=0.2),
    "elu": single("ELU", [Var((2, 3, 4))], [Var((2, 3, 4))]),
    "gelu_tanh": single("GELU", [Var((2, 3, 4))], [Var((2, 3, 4))], "GeluOptions", approximate=True),
    "hard_swish": single("HARD_SWISH", [Var((2, 3, 4))], [Var((2, 3, 4))]),
    "tanh": single("TANH", [Var((2, 3, 4))], [Var((2, 3, 4))]),
    "depth_to_space": single("DEPTH_TO_SPACE", [Var((1, 3, 4, 8))], [Var((1, 6, 8, 2))], "DepthToSpaceOptions",
                             blockSize=2),
    "space_to_depth": single("SPACE_TO_DEPTH", [Var((1, 4, 6, 3))], [Var((1, 2, 3, 12))], "SpaceToDepthOptions",
                             blockSize=2),
    "arg_max": single("ARG_MAX", [Var((2, 3, 7)), ints(2)], [Var((2, 3), np.int32)], "ArgMaxOptions",
                      outputType=2),
}

for _code in ("ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "EXP", "SQUARE", "RELU", "RELU6", "RELU_N1_TO_1",
              "RELU_0_TO_1", "LOGISTIC"):
    CASES[_code.lower()] = single(_code, [Var((2, 3, 4))], [Var((2, 3, 4))])
for _code in ("LOG", "SQRT", "RSQRT"):  # (inputs made positive below)
    CASES[_code.lower()] = build({"x": Var((2, 3, 4)), "a": Var((2, 3, 4)), "y": Var((2, 3, 4))},
                                 [Op("ABS", ["x"], ["a"]), Op(_code, ["a"], ["y"])], ["x"], ["y"])
for _code, _out in (("LESS", np.bool_), ("GREATER_EQUAL", np.bool_), ("MINIMUM", F), ("MUL", F), ("ADD", F)):
    CASES[_code.lower()] = single(_code, [Var((2, 3, 4)), Var((1, 3, 1))], [Var((2, 3, 4), _out)])
for _code in ("REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
    CASES[_code.lower()] = single(_code, [Var((2, 5, 3)), ints(1)], [Var((2, 3))], "ReducerOptions")
CASES["arg_min"] = single("ARG_MIN", [Var((2, 3, 7)), ints(1)], [Var((2, 7), np.int64)], "ArgMinOptions",
                          outputType=4)
CASES["squeeze_expand_dims"] = build(
    {"x": Var((2, 1, 3)), "s": Var((2, 3)), "a": ints(0), "y": Var((1, 2, 3))},
    [Op("SQUEEZE", ["x"], ["s"], "SqueezeOptions", {"squeezeDims": [1]}), Op("EXPAND_DIMS", ["s", "a"], ["y"])],
    ["x"], ["y"])
CASES["cast_to_int32"] = single("CAST", [Var((2, 3))], [Var((2, 3), np.int32)])


def _padded_convs() -> bytes:
    """ZeroPadding2D before VALID convolutions, as Keras exports it: a spatial PAD read by a stride-2
    depthwise conv and a conv (both fold it into their own padding), and an asymmetric one by a conv."""
    def paddings(*begin_end) -> Const:
        return Const(np.array(begin_end, np.int32).reshape(4, 2))

    pad = {"x": Var((1, 9, 10, 4)), "p1": paddings(0, 0, 1, 1, 1, 1, 0, 0), "xp": Var((1, 11, 12, 4)),
           "p2": paddings(0, 0, 0, 2, 1, 0, 0, 0), "xa": Var((1, 11, 11, 4))}
    convs = {"dw": Var((1, 5, 5, 4)), "cv": Var((1, 9, 10, 3)), "ca": Var((1, 5, 5, 3)),
             "wd": w(1, 3, 3, 4), "bd": w(4), "wc": w(3, 3, 3, 4), "bc": w(3), "wa": w(3, 3, 3, 4)}
    valid = {"padding": 1, "dilationHFactor": 1, "dilationWFactor": 1}
    ops = [Op("PAD", ["x", "p1"], ["xp"]),
           Op("DEPTHWISE_CONV_2D", ["xp", "wd", "bd"], ["dw"], "DepthwiseConv2DOptions",
              {**valid, "strideH": 2, "strideW": 2, "depthMultiplier": 1, "fusedActivationFunction": 3}),
           Op("CONV_2D", ["xp", "wc", "bc"], ["cv"], "Conv2DOptions", {**valid, "strideH": 1, "strideW": 1}),
           Op("PAD", ["x", "p2"], ["xa"]),
           Op("CONV_2D", ["xa", "wa", "bc"], ["ca"], "Conv2DOptions", {**valid, "strideH": 2, "strideW": 2})]
    return build({**pad, **convs}, ops, ["x"], ["dw", "cv", "ca"])


CASES["pad_then_valid_convs"] = _padded_convs()


def _residual_blocks() -> bytes:
    """BlazeFace's residual blocks: a 1x1 CONV_2D added (fused RELU) to its shortcut zero-padded in
    channels by a PAD, a depthwise conv added (RELU6) to a plain shortcut, an ADD whose shortcut is
    computed after the conv (the conv cannot add it as it writes); and the face mesh's PRELUs with
    per-channel slopes after a conv + ADD and after a depthwise conv."""
    channel_pad = Const(np.array([0, 0, 0, 0, 0, 0, 0, 3], np.int32).reshape(4, 2))
    same = {"padding": 0, "strideH": 1, "strideW": 1, "dilationHFactor": 1, "dilationWFactor": 1}
    tensors = {"x": Var((1, 9, 10, 5)), "c1": Var((1, 9, 10, 8)), "xp": Var((1, 9, 10, 8)),
               "a1": Var((1, 9, 10, 8)), "d2": Var((1, 9, 10, 8)), "a2": Var((1, 9, 10, 8)),
               "c3": Var((1, 9, 10, 8)), "r3": Var((1, 9, 10, 8)), "a3": Var((1, 9, 10, 8)),
               "p": channel_pad, "w1": w(8, 1, 1, 5), "b1": w(8), "wd": w(1, 3, 3, 8), "bd": w(8),
               "w3": w(8, 1, 1, 8), "b3": w(8), "w4": w(8, 1, 1, 8), "b4": w(8),
               "c5": Var((1, 9, 10, 8)), "a5": Var((1, 9, 10, 8)), "p5": Var((1, 9, 10, 8)),
               "d6": Var((1, 9, 10, 8)), "p6": Var((1, 9, 10, 8)), "w5": w(8, 1, 1, 8), "b5": w(8),
               "s5": Const(rng.uniform(-0.5, 0.5, (1, 1, 8)).astype(F)), "w6": w(1, 3, 3, 8), "b6": w(8),
               "s6": Const(rng.uniform(-0.5, 0.5, (1, 1, 8)).astype(F))}
    ops = [Op("CONV_2D", ["x", "w1", "b1"], ["c1"], "Conv2DOptions", same),
           Op("PAD", ["x", "p"], ["xp"]),
           Op("ADD", ["xp", "c1"], ["a1"], "AddOptions", {"fusedActivationFunction": 1}),
           Op("DEPTHWISE_CONV_2D", ["a1", "wd", "bd"], ["d2"], "DepthwiseConv2DOptions",
              {**same, "depthMultiplier": 1}),
           Op("ADD", ["d2", "a1"], ["a2"], "AddOptions", {"fusedActivationFunction": 3}),
           Op("CONV_2D", ["a2", "w3", "b3"], ["c3"], "Conv2DOptions", same),
           Op("CONV_2D", ["a2", "w4", "b4"], ["r3"], "Conv2DOptions", {**same, "fusedActivationFunction": 1}),
           Op("ADD", ["c3", "r3"], ["a3"], "AddOptions"),
           Op("CONV_2D", ["a2", "w5", "b5"], ["c5"], "Conv2DOptions", same),
           Op("ADD", ["c5", "a2"], ["a5"], "AddOptions"),
           Op("PRELU", ["a5", "s5"], ["p5"]),
           Op("DEPTHWISE_CONV_2D", ["p5", "w6", "b6"], ["d6"], "DepthwiseConv2DOptions",
              {**same, "depthMultiplier": 1}),
           Op("PRELU", ["d6", "s6"], ["p6"])]
    return build(tensors, ops, ["x"], ["a3", "a1", "p6"])


CASES["residual_blocks"] = _residual_blocks()


def _quantized_conv() -> bytes:
    """float -> QUANTIZE -> int8 CONV_2D (per-channel weights, int32 bias) -> DEQUANTIZE -> float."""
    wq = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    w_scale = rng.uniform(0.002, 0.01, 4).astype(F)
    x_scale, y_scale = 0.02, 0.05
    bias = rng.integers(-2000, 2000, 4).astype(np.int32)
    tensors = {
        "x": Var((1, 8, 8, 3)),
        "xq": Var((1, 8, 8, 3), np.int8, (x_scale, -5, 0)),
        "w": Const(wq, (w_scale, np.zeros(4, np.int64), 0)),
        "b": Const(bias, (w_scale * x_scale, np.zeros(4, np.int64), 0)),
        "yq": Var((1, 8, 8, 4), np.int8, (y_scale, 3, 0)),
        "y": Var((1, 8, 8, 4)),
    }
    ops = [Op("QUANTIZE", ["x"], ["xq"]),
           Op("CONV_2D", ["xq", "w", "b"], ["yq"], "Conv2DOptions", {"padding": 0, "strideH": 1, "strideW": 1,
                                                                       "dilationHFactor": 1, "dilationWFactor": 1}),
           Op("DEQUANTIZE", ["yq"], ["y"])]
    return build(tensors, ops, ["x"], ["y"])


def _run_both(data: bytes, tmp_path) -> tuple[dict, dict]:
    src = tmp_path / "m.tflite"
    src.write_bytes(data)
    it = Interpreter(model_path=str(src), num_threads=1)
    it.allocate_tensors()
    feeds = {}
    for d in it.get_input_details():
        feeds[d["name"]] = rng.standard_normal(d["shape"]).astype(d["dtype"]) if d["dtype"] == F else \
            rng.integers(0, 5, d["shape"]).astype(d["dtype"])
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    expected = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    nanort.convert(src, tmp_path / "m.nrt")
    with nanort.Model(tmp_path / "m.nrt") as model:
        return expected, model.run(feeds)


@pytest.mark.parametrize("case", list(CASES))
def test_operator_agrees_with_tflite(case, tmp_path):
    expected, got = _run_both(CASES[case], tmp_path)
    for name, ref in expected.items():
        assert got[name].shape == ref.shape and got[name].dtype == ref.dtype, name
        if ref.dtype.kind == "f":
            np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5 * max(float(np.abs(ref).max()), 1.0))
        else:
            np.testing.assert_array_equal(got[name], ref)


def test_quantized_convolution_keeps_the_models_scales(tmp_path):
    """Within one output step (0.05) of TFLite's fixed-point result on >= 99 % of elements."""
    expected, got = _run_both(_quantized_conv(), tmp_path)
    steps = np.abs(got["y"] - expected["y"]) / 0.05
    assert (steps <= 1.001).mean() >= 0.99 and steps.max() <= 2.001


def test_signature_names_are_kept(tmp_path):
    data = build({"x": Var((1, 4)), "y": Var((1, 4))}, [Op("RELU", ["x"], ["y"])], ["x"], ["y"],
                 signature={"x": "pixels", "y": "scores"})
    (tmp_path / "m.tflite").write_bytes(data)
    nanort.convert(tmp_path / "m.tflite", tmp_path / "m.nrt")
    sig = NrtModel.GetRootAs((tmp_path / "m.nrt").read_bytes(), 0).Signatures(0)
    assert sig.Key() == b"serving_default"
    assert (sig.Inputs(0).Name(), sig.Outputs(0).Name()) == (b"pixels", b"scores")
    with nanort.Model(tmp_path / "m.nrt") as model:
        assert [t.name for t in model.inputs] == ["x"] and [t.name for t in model.outputs] == ["y"]


def test_zero_padding_folds_into_the_convolutions(tmp_path):
    """The PADs of _padded_convs leave the .nrt (their convolutions pad instead; agreement with TFLite:
    test_operator_agrees_with_tflite[pad_then_valid_convs])."""
    from nanort.schema.OpType import OpType

    (tmp_path / "m.tflite").write_bytes(CASES["pad_then_valid_convs"])
    nanort.convert(tmp_path / "m.tflite", tmp_path / "m.nrt")
    graph = NrtModel.GetRootAs((tmp_path / "m.nrt").read_bytes(), 0).Graphs(0)
    ops = [graph.Operators(i).Op() for i in range(graph.OperatorsLength())]
    assert OpType.Pad not in ops and ops.count(OpType.Conv) == 3


def test_residual_adds_and_prelus_run_inside_the_convolutions(tmp_path):
    """On every kernel level the convs of _residual_blocks add their shortcuts and apply the PRELUs as
    they write (the PAD, the PRELUs and all ADDs but one never run; that ADD's shortcut is written
    after its conv), giving TFLite's results (as test_operator_agrees_with_tflite[residual_blocks]
    checks at auto)."""
    from nanort.runtime.model import cpu_levels

    src = tmp_path / "m.tflite"
    src.write_bytes(CASES["residual_blocks"])
    x = rng.standard_normal((1, 9, 10, 5)).astype(F)
    it = Interpreter(model_path=str(src), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    expected = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    nanort.convert(src, tmp_path / "m.nrt")
    for level in cpu_levels():
        with nanort.Model(tmp_path / "m.nrt", isa=level) as model:
            model.set_profiling(True)
            got = model.run({"x": x})
            runs = [(p["op"], p["calls"]) for p in model.profile() if p["op"] in ("Pad", "Add", "PRelu")]
        for name, ref in expected.items():
            np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5 * float(np.abs(ref).max()),
                                       err_msg=f"{name} at {level}")
        assert sorted(runs) == [("Add", 0)] * 3 + [("Add", 1), ("PRelu", 0), ("PRelu", 0), ("Pad", 0)], (level, runs)
