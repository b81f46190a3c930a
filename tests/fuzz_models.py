"""Small ONNX models covering many op types, with dynamic dims and integer
inputs, converted to .nrt: the seed corpus of the libFuzzer target
(tests/c/fuzz_model.c) and the models of the leak/cycle test.

`python tests/fuzz_models.py OUT_DIR` writes them (for long manual fuzz runs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import nanort

F, I64, I32, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL
RNG = np.random.default_rng(1234)


def _vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def _c(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _w(name, shape):
    return _c(name, RNG.standard_normal(shape))


def _model(nodes, inputs, inits=(), outputs=("y",), opset=17):
    outs = [helper.make_tensor_value_info(o, F, None) for o in outputs]
    # Leave the output type to shape inference (some outputs are int/bool).
    for o in outs:
        o.type.ClearField("tensor_type")
    g = helper.make_graph(nodes, "g", inputs, outs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m


def _n(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


X4 = [_vi("x", F, ["N", 3, 8, 8])]
X2 = [_vi("x", F, ["N", 6])]


def _unary_chain():
    ops = ["Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Sqrt", "Log", "Neg", "Reciprocal", "Softplus", "Erf",
           "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "HardSwish", "Softsign"]
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        nodes.append(_n(op, [prev], [out]))
        prev = out
    return _model(nodes, X2)


def _param_unary():
    nodes = [_n("LeakyRelu", ["x"], ["a"], alpha=0.2), _n("Elu", ["a"], ["b"], alpha=0.5),
             _n("HardSigmoid", ["b"], ["c"], alpha=0.3, beta=0.4), _n("Selu", ["c"], ["d"]),
             _n("Celu", ["d"], ["e"], alpha=2.0), _n("ThresholdedRelu", ["e"], ["f"], alpha=0.1),
             _n("Clip", ["f", "lo", "hi"], ["y"])]
    return _model(nodes, X2, [_c("lo", -1.0), _c("hi", 2.0)])


def _binary():
    ins = [_vi("x", F, ["N", 1, 4]), _vi("z", F, [3, 1])]
    nodes = [_n("Add", ["x", "z"], ["a"]), _n("Mul", ["a", "x"], ["b"]), _n("Sub", ["b", "z"], ["c"]),
             _n("Div", ["c", "k"], ["d"]), _n("Pow", ["d", "two"], ["e"]), _n("Max", ["e", "x"], ["f"]),
             _n("Min", ["f", "z"], ["g"]), _n("PRelu", ["g", "slope"], ["y"])]
    return _model(nodes, ins, [_c("k", [2.0, 3.0, 4.0, 5.0]), _c("two", 2.0), _c("slope", [0.1, 0.2, 0.3, 0.4])])


def _compare_where():
    ins = [_vi("x", F, ["N", 5]), _vi("z", F, ["N", 5])]
    nodes = [_n("Greater", ["x", "z"], ["g"]), _n("Less", ["x", "z"], ["l"]), _n("Equal", ["x", "z"], ["e"]),
             _n("Or", ["g", "e"], ["o"]), _n("And", ["o", "l"], ["a"]), _n("Not", ["a"], ["na"]),
             _n("Xor", ["na", "g"], ["xo"]), _n("Where", ["xo", "x", "z"], ["y"])]
    return _model(nodes, ins)


def _int_ops():
    ins = [_vi("x", I64, ["N", 4]), _vi("z", I64, [4])]
    nodes = [_n("Mod", ["x", "zc"], ["m"]), _n("Div", ["x", "z"], ["d"]), _n("Add", ["m", "d"], ["s"]),
             _n("Cast", ["s"], ["f"], to=F), _n("Cast", ["f"], ["y"], to=I32)]
    return _model(nodes, ins, [_c("zc", [1, 2, 3, 4], np.int64)])


def _bitshift():
    ins = [_vi("x", TensorProto.UINT8, [6]), _vi("z", TensorProto.UINT8, [6])]
    return _model([_n("BitShift", ["x", "z"], ["y"], direction="LEFT")], ins)


def _conv():
    nodes = [_n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 1]), _n("Relu", ["c"], ["r"]),
             _n("Conv", ["r", "dw"], ["d"], group=4, pads=[1, 1, 1, 1], dilations=[2, 2]),
             _n("Conv", ["d", "pw"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])]
    return _model(nodes, X4, [_w("w", (4, 3, 3, 3)), _w("b", (4,)), _w("dw", (4, 1, 3, 3)), _w("pw", (2, 4, 1, 1))])


def _conv_transpose():
    nodes = [_n("ConvTranspose", ["x", "w"], ["c"], strides=[2, 2], pads=[0, 1, 0, 1], output_padding=[1, 1]),
             _n("ConvTranspose", ["c", "dw", "b"], ["y"], group=2, kernel_shape=[2, 2])]
    return _model(nodes, X4, [_w("w", (3, 2, 3, 3)), _w("dw", (2, 1, 2, 2)), _w("b", (2,))])


def _pools():
    nodes = [_n("MaxPool", ["x"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             _n("AveragePool", ["a"], ["b"], kernel_shape=[2, 2], count_include_pad=1, ceil_mode=1),
             _n("GlobalAveragePool", ["b"], ["c"]), _n("GlobalMaxPool", ["x"], ["d"]), _n("Add", ["c", "d"], ["y"])]
    return _model(nodes, X4)


def _norms():
    nodes = [_n("BatchNormalization", ["x", "s", "b", "mu", "var"], ["a"]),
             _n("InstanceNormalization", ["a", "s", "b"], ["c"]), _n("LpNormalization", ["c"], ["d"], axis=1),
             _n("LayerNormalization", ["d", "ls", "lb"], ["y"], axis=-1)]
    inits = [_c("s", [1.0, 2.0, 0.5]), _c("b", [0.1, 0.0, -0.1]), _c("mu", [0.0, 1.0, 2.0]),
             _c("var", [1.0, 0.5, 2.0]), _c("ls", [1.5]), _c("lb", [0.5])]
    return _model(nodes, [_vi("x", F, ["N", 3, 4, "W"])], inits)


def _resize_pad_space():
    nodes = [_n("Resize", ["x", "", "sc"], ["r"], mode="nearest"),
             _n("Resize", ["r", "", "sc2"], ["r2"], mode="linear", coordinate_transformation_mode="align_corners"),
             _n("Pad", ["r2", "pads", "pv"], ["p"], mode="constant"),
             _n("Pad", ["p", "pads2"], ["q"], mode="reflect"),
             _n("SpaceToDepth", ["q"], ["s"], blocksize=2), _n("DepthToSpace", ["s"], ["y"], blocksize=2)]
    inits = [_c("sc", [1, 1, 2, 2]), _c("sc2", [1, 1, 0.5, 1.5]), _c("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64),
             _c("pv", 0.5), _c("pads2", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)]
    return _model(nodes, [_vi("x", F, [1, 3, 4, 4])], inits)


def _upsample_neck():
    """Nearest x2 / x4 upsampling read by an Add and a channel Concat: the converter fuses them
    (BinaryOptions.upsample, AxisOptions.upsample), so mutants reach those factors."""
    nodes = [_n("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]),
             _n("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
             _n("Conv", ["c1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             _n("Resize", ["c1", "", "s2"], ["r1"], mode="nearest"), _n("Add", ["c0", "r1"], ["a"]),
             _n("Resize", ["c2", "", "s4"], ["r2"], mode="nearest", coordinate_transformation_mode="asymmetric",
                nearest_mode="floor"),
             _n("Concat", ["r2", "a"], ["y"], axis=1)]
    inits = [_w("w0", (4, 3, 3, 3)), _w("w1", (4, 3, 3, 3)), _w("w2", (4, 4, 3, 3)), _c("s2", [1, 1, 2, 2]),
             _c("s4", [1, 1, 4, 4])]
    return _model(nodes, [_vi("x", F, [1, 3, 8, 8])], inits)


def _movement():
    ins = [_vi("x", F, ["N", 4, 6])]
    nodes = [_n("Transpose", ["x"], ["t"], perm=[0, 2, 1]), _n("Shape", ["t"], ["sh"]),
             _n("Reshape", ["t", "rs"], ["r"]), _n("Flatten", ["r"], ["f"], axis=1),
             _n("Unsqueeze", ["f", "ax0"], ["u"]), _n("Squeeze", ["u", "ax0"], ["q"]),
             _n("Split", ["q", "sp"], ["s1", "s2"], axis=1), _n("Concat", ["s2", "s1"], ["c"], axis=1),
             _n("Slice", ["c", "st", "en", "ax1", "step"], ["sl"]), _n("Tile", ["sl", "rep"], ["ti"]),
             _n("Expand", ["ti", "exs"], ["ex"]), _n("CumSum", ["ex", "ax1s"], ["cs"]),
             _n("Trilu", ["cs"], ["y"], upper=1)]
    inits = [_c("rs", [0, -1], np.int64), _c("ax0", [0], np.int64), _c("sp", [10, 14], np.int64),
             _c("st", [1], np.int64), _c("en", [-1], np.int64), _c("ax1", [1], np.int64), _c("step", [2], np.int64),
             _c("rep", [1, 2], np.int64), _c("exs", [2, 1, 1], np.int64), _c("ax1s", 1, np.int64)]
    return _model(nodes, ins, inits, outputs=("y", "sh"))


def _gather_input_indices():
    ins = [_vi("x", F, [5, 3]), _vi("i", I64, ["K"]), _vi("j", I64, [2, 3])]
    nodes = [_n("Gather", ["x", "i"], ["g"], axis=0), _n("GatherElements", ["x", "j"], ["ge"], axis=0),
             _n("OneHot", ["i", "depth", "vals"], ["oh"], axis=-1), _n("ReduceSum", ["g"], ["y"], keepdims=0)]
    inits = [_c("depth", 4, np.int64), _c("vals", [0.0, 1.0])]
    return _model(nodes, ins, inits, outputs=("y", "ge", "oh"))


def _indexed():
    """Scatters and gathers by run-time indices, and GridSample at run-time points (x has 5 rows:
    test_binding feeds indices 1..4)."""
    ins = [_vi("x", F, [5, 5]), _vi("i", I64, [2, 5]), _vi("u", F, [2, 5]), _vi("t", I64, ["K", 2]),
           _vi("g", F, [1, 2, 3, 2])]
    nodes = [_n("ScatterElements", ["x", "i", "u"], ["se"], axis=0, reduction="max"),
             _n("ScatterND", ["se", "t1", "u"], ["sn"], reduction="add"), _n("GatherND", ["sn", "t"], ["gn"]),
             _n("Reshape", ["sn", "img"], ["im"]), _n("GridSample", ["im", "g"], ["y"], mode="cubic"),
             _n("CumProd", ["gn", "zero"], ["cp"])]
    inits = [_c("t1", [[1], [-1]], np.int64), _c("img", [1, 1, 5, 5], np.int64), _c("zero", 0, np.int64)]
    return _model(nodes, ins, inits, outputs=("y", "cp"), opset=26)


def _shape_generators():
    ins = [_vi("x", F, ["N", "M"])]
    nodes = [_n("Shape", ["x"], ["s"]), _n("ConstantOfShape", ["s"], ["z"], value=_c("v", [2.0])),
             _n("Size", ["x"], ["n"]), _n("Cast", ["n"], ["nf"], to=F), _n("Range", ["zero", "nf", "one"], ["r"]),
             _n("Add", ["z", "x"], ["y"])]
    return _model(nodes, ins, [_c("zero", 0.0), _c("one", 1.0)], outputs=("y", "r"))


def _reduce():
    ops = ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
           "ReduceLogSumExp"]
    nodes = [_n(op, ["x"], [f"r{i}"], axes=[1], keepdims=1) for i, op in enumerate(ops)]
    nodes.append(_n("Sum", [f"r{i}" for i in range(len(ops))], ["s"]))
    nodes += [_n("ArgMax", ["x"], ["am"], axis=2), _n("ArgMin", ["x"], ["an"], axis=0, keepdims=0)]
    nodes += [_n("Abs", ["s"], ["sa"]), _n("ReduceLogSum", ["sa"], ["y"], axes=[2], keepdims=0)]
    return _model(nodes, [_vi("x", F, ["N", 3, "W"])], outputs=("y", "am", "an"), opset=17)


def _softmax_matmul():
    ins = [_vi("x", F, ["N", 4, 8])]
    nodes = [_n("MatMul", ["x", "w"], ["a"]), _n("Softmax", ["a"], ["s"], axis=-1),
             _n("LogSoftmax", ["s"], ["l"], axis=1), _n("Hardmax", ["l"], ["h"], axis=-1),
             _n("MatMul", ["h", "x"], ["mm"]), _n("Gemm", ["g_in", "gw", "gb"], ["g"], transB=1),
             _n("Flatten", ["mm"], ["fl"], axis=2), _n("ReduceMean", ["fl"], ["y"], axes=[1])]
    ins.append(_vi("g_in", F, ["B", 8]))
    inits = [_w("w", (8, 4)), _w("gw", (5, 8)), _w("gb", (5,))]
    return _model(nodes, ins, inits, outputs=("y", "g"))


def _rnn():
    ins = [_vi("x", F, ["T", 2, 3])]
    nodes = [_n("LSTM", ["x", "W", "R", "B"], ["ly", "lh", "lc"], hidden_size=4),
             _n("GRU", ["x", "gW", "gR", "gB"], ["gy", "gh"], hidden_size=4, direction="bidirectional",
                linear_before_reset=1),
             _n("Add", ["lh", "gh"], ["y"])]
    inits = [_w("W", (1, 16, 3)), _w("R", (1, 16, 4)), _w("B", (1, 32)), _w("gW", (2, 12, 3)),
             _w("gR", (2, 12, 4)), _w("gB", (2, 24))]
    return _model(nodes, ins, inits, outputs=("y", "ly", "gy"))


def _ort_dynamic():
    """onnxruntime's quantize_dynamic output: DynamicQuantizeLinear -> ConvInteger (uint8 weights
    with a zero point, the 1x1 one in place) -> Cast -> Mul [-> Add bias], the runtime's dynamic Conv;
    and a DynamicQuantizeLSTM (int8 W and R), its dynamic LSTM."""
    ins = [_vi("x", F, ["N", 3, 8, 8]), _vi("seq", F, ["T", 2, 3])]
    nodes, inits = [], [_c("b_shape", [1, -1, 1, 1], np.int64)]
    for i, (w_shape, pads) in enumerate((((4, 3, 3, 3), [1, 1, 1, 1]), ((2, 4, 1, 1), [0, 0, 0, 0]))):
        x, y = ("x", "c0") if i == 0 else ("r0", "y")
        inits += [_c(f"w{i}", RNG.integers(0, 256, w_shape), np.uint8), _c(f"wz{i}", 90 + i, np.uint8),
                  _c(f"ws{i}", 0.01 * (i + 1)), _c(f"b{i}", RNG.standard_normal(w_shape[0]))]
        nodes += [_n("DynamicQuantizeLinear", [x], [f"q{i}", f"s{i}", f"z{i}"]),
                  _n("Mul", [f"s{i}", f"ws{i}"], [f"scale{i}"]),
                  _n("ConvInteger", [f"q{i}", f"w{i}", f"z{i}", f"wz{i}"], [f"acc{i}"], pads=pads),
                  _n("Cast", [f"acc{i}"], [f"accf{i}"], to=F), _n("Mul", [f"accf{i}", f"scale{i}"], [f"m{i}"]),
                  _n("Reshape", [f"b{i}", "b_shape"], [f"b4{i}"]), _n("Add", [f"m{i}", f"b4{i}"], [y])]
        if i == 0:
            nodes.append(_n("Relu", ["c0"], ["r0"]))
    inits += [_c("lw", RNG.integers(-127, 128, (2, 3, 16)), np.int8), _c("lr", RNG.integers(-127, 128, (2, 4, 16)),
                                                                         np.int8),
              _c("lb", RNG.standard_normal((2, 32))), _c("lws", [0.02, 0.03]), _c("lwz", [0, 0], np.int8),
              _c("lrs", [0.03, 0.02]), _c("lrz", [0, 0], np.int8)]
    nodes.append(helper.make_node("DynamicQuantizeLSTM", ["seq", "lw", "lr", "lb", "", "", "", "", "lws", "lwz", "lrs",
                                                          "lrz"], ["ly", "lh", "lc"], domain="com.microsoft",
                                  hidden_size=4, direction="bidirectional"))
    model = _model(nodes, ins, inits, outputs=("y", "ly"))
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def _fp16_cast():
    ins = [_vi("x", TensorProto.FLOAT16, ["N", 4])]
    nodes = [_n("Cast", ["x"], ["f"], to=F), _n("Relu", ["f"], ["r"]), _n("Cast", ["r"], ["y"], to=TensorProto.FLOAT16)]
    return _model(nodes, ins)


def _sparse_weights():
    """Weights the converter stores sparse in each format: a 1x1 conv with 1x4 blocks (bitmask), a 3x3 conv at 3 %
    (block-CSR) and a Gemm keeping 1 of every 4 weights (N:M)."""
    pw = RNG.standard_normal((16, 6, 4)) * (RNG.random((16, 6, 1)) < 0.3)
    w3 = RNG.standard_normal((64, 16, 3, 3)) * (RNG.random((64, 16, 3, 3)) < 0.03)
    fc = RNG.standard_normal((160, 4))
    np.put_along_axis(fc, np.argsort(RNG.random(fc.shape), axis=1)[:, 1:], 0, axis=1)
    nodes = [_n("Conv", ["x", "w0"], ["a"], pads=[1, 1, 1, 1]), _n("Relu", ["a"], ["r"]),
             _n("Conv", ["r", "pw"], ["b"]), _n("Conv", ["b", "w3"], ["c"], pads=[1, 1, 1, 1]),
             _n("GlobalAveragePool", ["c"], ["g"]), _n("Flatten", ["g"], ["f"]),
             _n("Gemm", ["f", "fc"], ["y"], transB=1)]
    inits = [_w("w0", (24, 3, 3, 3)), _c("pw", pw.reshape(16, 24, 1, 1)), _c("w3", w3), _c("fc", fc.reshape(10, 64))]
    return _model(nodes, X4, inits)


def _control_flow():
    """If with a run-time condition and branches of different shapes, a Loop with a
    scan output, NonZero, TopK and NonMaxSuppression: subgraphs and data-dependent shapes."""
    ins = [_vi("x", F, ["N", 6])]
    then_g = helper.make_graph([_n("Mul", ["x", "two"], ["t"])], "then", [], [_vi("t", F, None)], [_c("two", 2.0)])
    else_g = helper.make_graph([_n("Concat", ["x", "x"], ["e"], axis=0)], "else", [], [_vi("e", F, None)])
    body = helper.make_graph([_n("Add", ["acc", "x"], ["acc2"]), _n("Identity", ["cond"], ["cond2"]),
                              _n("ReduceMax", ["acc2"], ["top"], keepdims=0)], "body",
                             [_vi("i", I64, []), _vi("cond", B, []), _vi("acc", F, None)],
                             [_vi("cond2", B, []), _vi("acc2", F, None), _vi("top", F, None)])
    nodes = [_n("ReduceSum", ["x"], ["s"], keepdims=0), _n("Greater", ["s", "zero"], ["c"]),
             _n("If", ["c"], ["branch"], then_branch=then_g, else_branch=else_g),
             _n("Relu", ["branch"], ["y"]),
             _n("Greater", ["x", "zero"], ["pos"]), _n("NonZero", ["pos"], ["nz"]),
             _n("TopK", ["x", "k"], ["tv", "ti"], axis=1),
             _n("Loop", ["trips", "", "x"], ["acc_n", "tops"], body=body),
             _n("Slice", ["x", "s0", "s4", "ax1"], ["corners"]), _n("Unsqueeze", ["corners", "ax0"], ["boxes"]),
             _n("Slice", ["x", "s4", "s5", "ax1"], ["score_col"]), _n("Transpose", ["score_col"], ["score_row"]),
             _n("Unsqueeze", ["score_row", "ax0"], ["scores"]),
             _n("NonMaxSuppression", ["boxes", "scores", "max_out", "iou"], ["selected"])]
    inits = [_c("zero", 0.0), _c("k", [2], np.int64), _c("trips", 3, np.int64), _c("s0", [0], np.int64),
             _c("s4", [4], np.int64), _c("s5", [5], np.int64), _c("ax1", [1], np.int64), _c("ax0", [0], np.int64),
             _c("max_out", [3], np.int64), _c("iou", [0.5])]
    return _model(nodes, ins, inits, outputs=("y", "nz", "tv", "ti", "acc_n", "tops", "selected"))


SEED_MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "unary_chain": _unary_chain, "param_unary": _param_unary, "binary": _binary,
    "compare_where": _compare_where, "int_ops": _int_ops, "bitshift": _bitshift, "conv": _conv,
    "conv_transpose": _conv_transpose, "pools": _pools, "norms": _norms, "resize_pad_space": _resize_pad_space,
    "upsample_neck": _upsample_neck, "movement": _movement, "gather_input_indices": _gather_input_indices,
    "shape_generators": _shape_generators, "indexed": _indexed,
    "reduce": _reduce, "softmax_matmul": _softmax_matmul, "rnn": _rnn, "fp16_cast": _fp16_cast,
    "sparse_weights": _sparse_weights,
    "control_flow": _control_flow, "ort_dynamic": _ort_dynamic,
}


# Quantized variants: int8 with calibration (the int8 kernels of every ISA
# level) and dynamic int8 (int8 weights, activations quantized per row).
INT8_SEEDS = ("conv", "conv_transpose", "pools", "softmax_matmul", "binary", "norms", "resize_pad_space",
              "param_unary", "reduce", "upsample_neck", "sparse_weights")
DYNAMIC_SEEDS = ("softmax_matmul", "conv", "rnn")


def _calibration(model: onnx.ModelProto, n: int = 4) -> list[dict[str, np.ndarray]]:
    """Random feeds for the model's inputs, dynamic dims set to 2."""
    rng = np.random.default_rng(7)
    feeds = []
    for _ in range(n):
        feed = {}
        for vi in model.graph.input:
            tt = vi.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
            dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
            if np.issubdtype(dtype, np.floating):
                feed[vi.name] = rng.standard_normal(shape).astype(dtype)
            else:
                feed[vi.name] = rng.integers(0, 3, shape).astype(dtype)
        feeds.append(feed)
    return feeds


def _convert(src: Path, dst: Path, refused: dict[str, str], **kw) -> Path | None:
    try:
        nanort.convert(src, dst, **kw)
    except nanort.Error as e:
        refused[dst.stem] = str(e).splitlines()[0]
        return None
    return dst


def convert_seed_models(out_dir: Path, quantized: bool = True) -> tuple[list[Path], dict[str, str]]:
    """Converts every seed model (and the quantized variants) into out_dir;
    returns the .nrt paths and the models the converter refused (name -> reason)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, refused = [], {}
    for name, build in SEED_MODELS.items():
        src = out_dir / f"{name}.onnx"
        model = build()
        onnx.save(model, src)
        try:
            paths.append(_convert(src, out_dir / f"{name}.nrt", refused))
            if quantized and name in INT8_SEEDS:
                # every layer int8, as calibrated: the int8 kernels are what these seeds exercise (an fp32
                # layer the accuracy fixer kept would differ across levels in float rounding, and a
                # dynamic int8 layer after it can turn that into a step of one quantum)
                paths.append(_convert(src, out_dir / f"{name}_int8.nrt", refused, quantize="int8",
                                      calibration=_calibration(model), fix_accuracy=False, auto_fallback=False))
            if quantized and name in DYNAMIC_SEEDS:
                paths.append(_convert(src, out_dir / f"{name}_dynamic.nrt", refused, quantize="dynamic"))
        finally:
            src.unlink()
    return [p for p in paths if p is not None], refused


def convert_real_model(out_dir: Path, kind: str = "cls") -> list[Path]:
    """A PP-OCR model (downloaded into the test cache), fp32 and int8: real
    converted models for the corpus replay and the leak check."""
    from assets import PPOCR_MODELS, ppocr_model

    src = ppocr_model(kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / f"ppocr_{kind}.nrt", out_dir / f"ppocr_{kind}_int8.nrt"
    name = onnx.load(src, load_external_data=False).graph.input[0].name
    shape = PPOCR_MODELS[kind][1]  # static: the programs size dynamic dims too small for a real CNN
    if not fp32.exists():
        nanort.convert(src, fp32, input_shapes={name: shape})
    if not int8.exists():
        rng = np.random.default_rng(3)
        calib = [{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(2)]
        nanort.convert(src, int8, input_shapes={name: shape}, quantize="int8", calibration=calib)
    return [fp32, int8]


if __name__ == "__main__":
    ok, bad = convert_seed_models(Path(sys.argv[1]))
    print(f"{len(ok)} models written")
    for k, v in bad.items():
        print(f"refused {k}: {v}")
