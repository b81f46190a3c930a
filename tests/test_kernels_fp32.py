"""Float32 kernels at every level this CPU runs (Model(isa=...) for each name the C library lists):
Conv (1x1 GEMM, indirect GEMM with padding / stride / dilation / groups, the
3-channel first layer, depthwise), ConvTranspose, FullyConnected, MatMul,
fused activations, elementwise Add/Sub/Mul/Div/Min/Max with broadcasting,
activation ops, MaxPool and GlobalAveragePool, on many shapes (odd sizes, channel
counts that are not multiples of the vector width, batch > 1, tiny and
large), each compared with onnxruntime and every level with the reference
level. Many cases share one model (independent branches) so the file runs
in a few seconds."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

F32 = TensorProto.FLOAT


def levels() -> list[str]:
    """Kernel levels this CPU can run (the C library's list), the reference first."""
    return cpu_levels()


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def vi(name, shape):
    return helper.make_tensor_value_info(name, F32, shape)


def make_model(nodes, inputs, outputs, inits, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def ort_run(model, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check_levels(model, feeds, rtol=1e-4, atol=1e-5, threads=1):
    """Every level against onnxruntime and against the reference level."""
    want = ort_run(model, feeds)
    blob = serialize(convert_graph(model))
    outs = {}
    for isa in levels():
        with nanort.Model(blob, isa=isa, threads=threads) as m:
            assert m.isa == isa
            outs[isa] = m.run(None, feeds)
        for k, (g, w) in enumerate(zip(outs[isa], want, strict=True)):
            scale = float(np.abs(w).max()) if w.size else 1.0
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(scale, 1.0),
                                       err_msg=f"{isa}, output {k} vs onnxruntime")
    for isa, got in outs.items():
        for k, (g, r) in enumerate(zip(got, outs["ref"], strict=True)):
            scale = float(np.abs(r).max()) if r.size else 1.0
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol * max(scale, 1.0),
                                       err_msg=f"{isa}, output {k} vs the reference level")


# -- Conv ---------------------------------------------------------------------------------

# (N, C_in, H, W), C_out, (kh, kw), attrs; a fused activation op may follow.
CONV_CASES = [
    ((1, 16, 7, 9), 24, (1, 1), {}),                                   # 1x1: direct GEMM
    ((2, 33, 5, 3), 40, (1, 1), {}),                                   # batch 2, odd channels
    ((1, 1, 4, 4), 1, (1, 1), {}),
    ((1, 100, 3, 11), 17, (1, 1), {}),
    ((1, 8, 9, 9), 70, (1, 1), dict(strides=[2, 2])),                  # 1x1 stride 2: indirect
    ((1, 3, 33, 31), 16, (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),  # first layer
    ((1, 3, 20, 20), 8, (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 5, 9, 11), 7, (3, 3), dict(pads=[1, 1, 1, 1])),
    ((1, 24, 12, 10), 24, (3, 3), dict(pads=[1, 1, 1, 1])),
    ((1, 96, 10, 10), 24, (3, 3), dict(pads=[1, 1, 1, 1])),            # det head shape
    ((1, 9, 13, 12), 33, (3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2])),
    ((1, 6, 10, 9), 5, (3, 2), dict(strides=[2, 1], pads=[0, 1, 2, 0])),  # asymmetric everything
    ((1, 7, 8, 8), 9, (5, 5), dict(auto_pad="SAME_UPPER")),
    ((1, 7, 9, 8), 9, (3, 3), dict(auto_pad="VALID", strides=[2, 2])),
    ((1, 8, 6, 6), 12, (3, 3), dict(group=2, pads=[1, 1, 1, 1])),       # grouped
    ((1, 12, 7, 5), 8, (1, 3), dict(group=4, pads=[0, 1, 0, 1])),
    ((1, 960, 1, 5), 60, (1, 3), dict(pads=[0, 1, 0, 1])),             # rec neck shape
    ((1, 2, 3, 3), 3, (3, 3), dict(pads=[4, 4, 4, 4])),               # padding wider than the input
    ((1, 10, 16, 16), 7, (3, 3), dict(dilations=[12, 12], pads=[12, 12, 12, 12])),  # ASPP: taps in padding
    ((2, 9, 13, 7), 40, (3, 3), dict(dilations=[5, 4], pads=[5, 4, 3, 4])),  # skipped per tile, batch 2
    ((1, 256, 6, 5), 64, (3, 3), dict(pads=[1, 1, 1, 1])),            # weights past L2: row tiles inside panels
    ((1, 4, 13, 13), 5, (12, 12), {}),                                # 144 taps: reference fallback
]

# depthwise: (N, C, H, W), (kh, kw), attrs (group = C added)
DW_CASES = [
    ((1, 16, 10, 12), (3, 3), dict(pads=[1, 1, 1, 1])),
    ((1, 48, 9, 8), (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 19, 7, 11), (5, 5), dict(pads=[2, 2, 2, 2])),
    ((1, 70, 6, 9), (5, 5), dict(strides=[2, 1], pads=[2, 2, 2, 2])),
    ((1, 1 + 0, 5, 5), (3, 3), dict(pads=[1, 1, 1, 1])),
    ((1, 33, 12, 12), (3, 3), dict(dilations=[2, 3], pads=[2, 3, 1, 2])),
    ((1, 8, 1, 1), (3, 3), dict(pads=[1, 1, 1, 1])),                  # every tap but one in the padding
    ((1, 200, 2, 40), (5, 5), dict(pads=[2, 2, 2, 2])),
    ((1, 5, 9, 20), (3, 3), {}),
    ((1, 24, 9, 21), (7, 7), dict(pads=[3, 3, 3, 3])),                # stride-1 rows, 8 pixels a step + rest
    ((1, 17, 13, 30), (3, 3), dict(strides=[2, 2], dilations=[2, 2], pads=[2, 2, 2, 2])),  # stride == dilation
]


def conv_branch(i, seed, xshape, cout, k, attrs, act=None, group=None):
    r = rng(seed)
    cin = xshape[1]
    g = attrs.get("group", group or 1)
    w = (r.standard_normal((cout, cin // g, *k)) / np.sqrt(cin // g * k[0] * k[1])).astype(np.float32)
    b = r.standard_normal(cout).astype(np.float32)
    a = dict(attrs)
    if group:
        a["group"] = group
    out = f"y{i}" if act is None else f"c{i}"
    nodes = [helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [out], kernel_shape=list(k), **a)]
    if act is not None:
        nodes.append(act(out, f"y{i}"))
    inits = [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
    return nodes, inits, r.standard_normal(xshape).astype(np.float32)


def run_branches(branches, rtol=1e-4, threads=1):
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    for i, (n, ini, x) in enumerate(branches):
        nodes += n
        inits += ini
        inputs.append(vi(f"x{i}", list(x.shape)))
        outputs.append(vi(f"y{i}", None))
        feeds[f"x{i}"] = x
    check_levels(make_model(nodes, inputs, outputs, inits), feeds, rtol=rtol, threads=threads)


def test_conv_shapes():
    run_branches([conv_branch(i, i, *c) for i, c in enumerate(CONV_CASES)])


def test_depthwise_shapes():
    run_branches([conv_branch(i, 100 + i, x, x[1], k, a, group=x[1]) for i, (x, k, a) in enumerate(DW_CASES)])


def test_depthwise_multiplier():
    """C_out = 2 x groups: not the depthwise kernel, the grouped GEMM."""
    run_branches([conv_branch(0, 7, (1, 6, 8, 8), 12, (3, 3), dict(pads=[1, 1, 1, 1]), group=6)])


def test_conv_random_shapes():
    r = rng(42)
    branches = []
    for i in range(16):
        cin, cout = int(r.integers(1, 40)), int(r.integers(1, 70))
        k = (int(r.integers(1, 6)), int(r.integers(1, 6)))
        s = [int(r.integers(1, 3)), int(r.integers(1, 3))]
        d = [int(r.integers(1, 3)), int(r.integers(1, 3))]
        pads = [int(v) for v in r.integers(0, 3, size=4)]
        h = int(r.integers(1, 14)) + (k[0] - 1) * d[0]
        w = int(r.integers(1, 14)) + (k[1] - 1) * d[1]
        n = int(r.integers(1, 3))
        branches.append(conv_branch(i, 1000 + i, (n, cin, h, w), cout, k, dict(strides=s, dilations=d, pads=pads)))
    run_branches(branches)


def act_node(op, **attrs):
    return lambda x, y: helper.make_node(op, [x], [y], **attrs)


def clip_node(lo, hi):
    def make(x, y):
        return helper.make_node("Clip", [x, f"{y}_lo", f"{y}_hi"], [y])
    return make, lo, hi


ACTS = {
    "relu": act_node("Relu"),
    "hardswish": act_node("HardSwish"),
    "sigmoid": act_node("Sigmoid"),
    "hardsigmoid": act_node("HardSigmoid", alpha=0.25, beta=0.4),
    "leakyrelu": act_node("LeakyRelu", alpha=0.1),
    "tanh": act_node("Tanh"),
}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_conv_fused_activation(act):
    """Conv + activation (fused by the converter), on the 1x1, indirect and depthwise paths."""
    f = ACTS[act]
    run_branches([
        conv_branch(0, 1, (1, 20, 6, 7), 37, (1, 1), {}, f),
        conv_branch(1, 2, (1, 5, 9, 8), 19, (3, 3), dict(pads=[1, 1, 1, 1]), f),
        conv_branch(2, 3, (1, 21, 8, 9), 21, (3, 3), dict(pads=[1, 1, 1, 1]), f, group=21),
    ])


def test_conv_clip_and_silu():
    """Clip(0, 6) fuses as CLIP; x * Sigmoid(x) as SiLU where the converter fuses it."""
    lo, hi = numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")
    nodes, inits, x0 = conv_branch(0, 5, (1, 12, 7, 7), 30, (3, 3), dict(pads=[1, 1, 1, 1]))
    nodes[0].output[0] = "c0"
    nodes.append(helper.make_node("Clip", ["c0", "lo", "hi"], ["y0"]))
    n1, i1, x1 = conv_branch(1, 6, (1, 12, 7, 7), 20, (1, 1), {})
    n1[0].output[0] = "c1"
    n1 += [helper.make_node("Sigmoid", ["c1"], ["s1"]), helper.make_node("Mul", ["c1", "s1"], ["y1"])]
    model = make_model(nodes + n1, [vi("x0", [1, 12, 7, 7]), vi("x1", [1, 12, 7, 7])],
                       [vi("y0", None), vi("y1", None)], inits + i1 + [lo, hi])
    check_levels(model, {"x0": x0 * 3, "x1": x1})


def test_conv_threads():
    """Two threads split rows and column panels; same results."""
    run_branches([
        conv_branch(0, 1, (1, 32, 20, 20), 48, (1, 1), {}),
        conv_branch(1, 2, (1, 16, 18, 17), 24, (3, 3), dict(pads=[1, 1, 1, 1])),
        conv_branch(2, 3, (1, 40, 19, 21), 40, (5, 5), dict(pads=[2, 2, 2, 2]), group=40),
        conv_branch(3, 4, (1, 64, 2, 3), 300, (1, 1), {}),
        conv_branch(4, 5, (1, 128, 7, 7), 160, (3, 3), dict(pads=[1, 1, 1, 1])),  # weights past L2
    ], threads=2)


def test_conv_runtime_weights():
    """Weights computed at run time stay on the reference kernels at every level."""
    r = rng(9)
    w = r.standard_normal((6, 4, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    model = make_model(nodes, [vi("x", [1, 4, 6, 6]), vi("w", [6, 4, 3, 3])], [vi("y", None)], [])
    check_levels(model, {"x": r.standard_normal((1, 4, 6, 6)).astype(np.float32), "w": w})


# -- ConvTranspose --------------------------------------------------------------------------

@pytest.mark.parametrize("cin,cout,k,attrs,hw", [
    (24, 24, 2, dict(strides=[2, 2]), (9, 10)),          # det upsampling (kernel == stride)
    (24, 1, 2, dict(strides=[2, 2]), (7, 5)),            # det head, one output channel
    (5, 40, 3, dict(strides=[3, 3]), (4, 3)),
    (7, 3, 3, dict(strides=[2, 2], pads=[1, 1, 1, 1]), (5, 6)),  # reference fallback
    (4, 6, 2, dict(strides=[2, 2], group=2), (3, 4)),            # grouped: reference
])
def test_conv_transpose(cin, cout, k, attrs, hw):
    r = rng(cin * 31 + cout)
    g = attrs.get("group", 1)
    w = r.standard_normal((cin, cout // g, k, k)).astype(np.float32)
    b = r.standard_normal(cout).astype(np.float32)
    nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[k, k], **attrs),
             helper.make_node("Relu", ["y"], ["z"])]
    model = make_model(nodes, [vi("x", [2, cin, *hw])], [vi("z", None)],
                       [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    check_levels(model, {"x": r.standard_normal((2, cin, *hw)).astype(np.float32)})


# -- FullyConnected / MatMul -----------------------------------------------------------------

@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 120, 6625), (40, 120, 360), (5, 7, 33), (9, 64, 17),
                                   (3, 300, 9)])
def test_gemm(m, k, n):
    r = rng(m * 7 + k * 3 + n)
    w = (r.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    b = r.standard_normal(n).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)]
    model = make_model(nodes, [vi("x", [m, k])], [vi("y", None)],
                       [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    check_levels(model, {"x": r.standard_normal((m, k)).astype(np.float32)})


@pytest.mark.parametrize("ashape,bshape", [
    ((2, 3, 5, 7), (3, 7, 4)),     # broadcast batch
    ((8, 40, 15), (8, 15, 40)),    # attention scores
    ((1, 5, 7), (7, 33)),          # shared B
    ((7,), (7, 3)),                # 1-D A
    ((4, 6), (6,)),                # 1-D B
    ((3, 1, 4, 9), (1, 2, 9, 5)),  # both broadcast
])
def test_matmul(ashape, bshape):
    r = rng(len(ashape) * 10 + len(bshape))
    nodes = [helper.make_node("MatMul", ["a", "b"], ["y"])]
    model = make_model(nodes, [vi("a", list(ashape)), vi("b", list(bshape))], [vi("y", None)], [])
    check_levels(model, {"a": r.standard_normal(ashape).astype(np.float32),
                         "b": r.standard_normal(bshape).astype(np.float32)})


def test_tanh_small_and_large_values():
    """Tanh's vector form switches from a polynomial (|x| < 0.625) to exp: relative error near 0,
    around the switch, where it saturates, and NaN kept, at every level."""
    x = np.concatenate([np.geomspace(1e-30, 1e-3, 40), np.linspace(0.55, 0.7, 61), np.linspace(3, 25, 40),
                        [1e30, np.inf, 0.0, np.nan]]).astype(np.float32)
    x = np.concatenate([x, -x])
    model = make_model([helper.make_node("Tanh", ["x"], ["y"])], [vi("x", [x.size])], [vi("y", None)], [])
    want = np.tanh(x.astype(np.float64))
    blob = serialize(convert_graph(model))
    for isa in levels():
        with nanort.Model(blob, isa=isa, check_finite=False) as m:
            y = m.run(None, {"x": x})[0]
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=0, err_msg=isa)


def test_gelu_levels():
    """Gelu (erf form) at every level against float64 (erfc, so the negative tail is checked for relative
    error too) and onnxruntime; a fused Gelu on a MatMul's epilogue likewise."""
    from math import erfc
    x = np.concatenate([np.linspace(-12, 12, 2001), np.geomspace(1e-20, 1e-2, 30), -np.geomspace(1e-20, 1e-2, 30),
                        [0.0]]).astype(np.float32)
    want = np.array([v * 0.5 * erfc(-v / np.sqrt(2.0)) for v in x.astype(np.float64)])
    model = make_model([helper.make_node("Gelu", ["x"], ["y"])], [vi("x", [x.size])], [vi("y", None)], [], opset=20)
    np.testing.assert_allclose(ort_run(model, {"x": x})[0], want, rtol=2e-6, atol=2e-7)
    blob = serialize(convert_graph(model))
    for isa in levels():
        with nanort.Model(blob, isa=isa) as m:
            got = m.run(None, {"x": x})[0]
        # the reference computes 1 + erf (as onnxruntime): absolute accuracy only in the negative tail;
        # the vector levels keep relative accuracy there (exp(-x^2 / 2) loses a little as x^2 grows)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-7 if isa == "ref" else 1e-37, err_msg=isa)
        core = np.abs(x) < 4
        np.testing.assert_allclose(got[core], want[core], rtol=2e-6, atol=2e-7 if isa == "ref" else 1e-37,
                                   err_msg=isa)
    r = rng(5)
    w = (r.standard_normal((37, 45)) / 6).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["h"]), helper.make_node("Gelu", ["h"], ["y"])]
    model = make_model(nodes, [vi("a", [13, 37])], [vi("y", None)], [numpy_helper.from_array(w, "w")], opset=20)
    check_levels(model, {"a": r.standard_normal((13, 37)).astype(np.float32) * 3}, rtol=2e-5, atol=1e-6)


# -- LSTM / GRU: products on the level's GEMM (W, R packed), gates on its vector kernels -----

def rnn_model(op, direction, hidden, inp, seq, batch, runtime_weights=False, peep=False, **attrs):
    r = rng(hidden * 31 + inp * 7 + seq)
    dirs, g = (2 if direction == "bidirectional" else 1), (4 if op == "LSTM" else 3)
    weights = {"W": r.standard_normal((dirs, g * hidden, inp)) / np.sqrt(inp),
               "R": r.standard_normal((dirs, g * hidden, hidden)) / np.sqrt(hidden),
               "B": r.standard_normal((dirs, 2 * g * hidden)) * 0.5}
    if peep:
        weights["P"] = r.standard_normal((dirs, 3 * hidden)) * 0.5
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    names = ["X", "W", "R", "B"] + (["", "", "", "P"] if peep else [])
    outs = ["Y", "Y_h", "Y_c"][: 3 if op == "LSTM" else 2]
    node = helper.make_node(op, names, outs, direction=direction, hidden_size=hidden, **attrs)
    inputs = [vi("X", [seq, batch, inp])]
    feeds = {"X": r.standard_normal((seq, batch, inp)).astype(np.float32) * 2}
    if runtime_weights:
        inputs += [vi(k, list(v.shape)) for k, v in weights.items()]
        feeds.update(weights)
        inits = []
    else:
        inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    return make_model([node], inputs, [vi(o, None) for o in outs], inits, opset=14), feeds


RNN_LEVEL_CASES = [
    ("LSTM", "forward", 64, 32, 12, 1, {}),           # one row per step: the GEMV shape of CRNNs
    ("LSTM", "bidirectional", 37, 19, 7, 3, {}),      # odd sizes: GEMM and vector tails
    ("LSTM", "reverse", 5, 3, 4, 2, dict(clip=0.9)),
    ("LSTM", "forward", 9, 6, 5, 2, dict(input_forget=1)),
    ("LSTM", "forward", 9, 6, 5, 2, dict(peep=True)),  # peepholes: the reference cell
    ("LSTM", "bidirectional", 8, 5, 4, 2, dict(runtime_weights=True)),  # W, R inputs: reference products
    ("GRU", "forward", 48, 20, 9, 1, {}),
    ("GRU", "bidirectional", 21, 13, 6, 3, dict(linear_before_reset=1)),
    ("GRU", "reverse", 7, 4, 5, 2, dict(clip=0.8)),
    ("GRU", "forward", 6, 4, 3, 2, dict(runtime_weights=True, linear_before_reset=1)),
]


@pytest.mark.parametrize("op,direction,hidden,inp,seq,batch,attrs", RNN_LEVEL_CASES,
                         ids=[f"{c[0]}-{c[1]}-h{c[2]}-{'-'.join(c[6]) or 'plain'}" for c in RNN_LEVEL_CASES])
def test_rnn_levels(op, direction, hidden, inp, seq, batch, attrs):
    model, feeds = rnn_model(op, direction, hidden, inp, seq, batch, **attrs)
    check_levels(model, feeds, rtol=1e-5, atol=2e-6)


# -- elementwise ---------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Min", "Max"])
def test_binary_broadcast(op):
    r = rng(3)
    shapes = [((2, 5, 7, 9), (2, 5, 7, 9)), ((1, 24, 13, 11), (1, 24, 1, 1)), ((1, 3, 17, 67), (1,)),
              ((1,), (1, 6, 5, 3)), ((3, 1, 65), (1, 4, 1)), ((1, 20, 20, 96), (96,))]
    nodes, inputs, outputs, feeds = [], [], [], {}
    for i, (sa, sb) in enumerate(shapes):
        nodes.append(helper.make_node(op, [f"a{i}", f"b{i}"], [f"y{i}"]))
        inputs += [vi(f"a{i}", list(sa)), vi(f"b{i}", list(sb))]
        outputs.append(vi(f"y{i}", None))
        feeds[f"a{i}"] = r.standard_normal(sa).astype(np.float32)
        feeds[f"b{i}"] = r.standard_normal(sb).astype(np.float32) + (3.0 if op == "Div" else 0.0)
    check_levels(make_model(nodes, inputs, outputs, []), feeds)


@pytest.mark.parametrize("op,attrs", [("Relu", {}), ("Sigmoid", {}), ("HardSigmoid", dict(alpha=0.3, beta=0.45)),
                                      ("HardSwish", {}), ("LeakyRelu", dict(alpha=0.05)), ("Tanh", {})])
def test_activation_ops(op, attrs):
    r = rng(11)
    x = np.concatenate([r.standard_normal(1000) * 4, [-100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0]]).astype(np.float32)
    shapes = [(1, 1007), (1007,)]
    nodes = [helper.make_node(op, [f"x{i}"], [f"y{i}"], **attrs) for i in range(2)]
    model = make_model(nodes, [vi(f"x{i}", list(s)) for i, s in enumerate(shapes)],
                       [vi(f"y{i}", None) for i in range(2)], [])
    check_levels(model, {"x0": x.reshape(1, -1), "x1": x[::-1].copy()}, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(1, 96, 20, 20), (2, 17, 3, 5), (1, 130, 1, 1), (1, 1, 9, 9)])
def test_global_average_pool(shape):
    r = rng(shape[1])
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["y"])]
    model = make_model(nodes, [vi("x", list(shape))], [vi("y", None)], [])
    check_levels(model, {"x": r.standard_normal(shape).astype(np.float32)})


# (channels, spatial, attrs): the level kernel's 64 / 32 / 16-channel blocks and masked tails, the
# first-layer 3x3 s2, the detectors' stride-1 5x5 / 9x9 / 13x13 (SPP), ceil mode, dilation, padding,
# and a 17x17 window (289 taps: past the kernel's pointer array, the reference pool at every level).
MAXPOOL_CASES = [
    (64, (23, 23), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    (70, (9, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    (17, (13, 13), dict(kernel_shape=[5, 5], pads=[2, 2, 2, 2])),
    (130, (10, 10), dict(kernel_shape=[9, 9], pads=[4, 4, 4, 4])),
    (33, (13, 13), dict(kernel_shape=[13, 13], pads=[6, 6, 6, 6])),
    (7, (8, 9), dict(kernel_shape=[2, 3], strides=[3, 2], pads=[1, 0, 1, 1], ceil_mode=1)),
    (1, (7, 9), dict(kernel_shape=[2, 2], dilations=[2, 3], pads=[1, 1, 0, 0])),
    (16, (20, 20), dict(kernel_shape=[17, 17], pads=[8, 8, 8, 8])),
]


def test_maxpool_levels():
    """Every level equals onnxruntime and the reference exactly (a max rounds nothing); one
    branch with a fused Relu."""
    r = rng(31)
    nodes, inputs, outputs, feeds = [], [], [], {}
    for i, (c, hw, attrs) in enumerate(MAXPOOL_CASES):
        x = r.standard_normal((2, c, *hw)).astype(np.float32)
        feeds[f"x{i}"] = x
        inputs.append(vi(f"x{i}", list(x.shape)))
        nodes.append(helper.make_node("MaxPool", [f"x{i}"], [f"p{i}" if i == 0 else f"y{i}"], **attrs))
        outputs.append(vi(f"y{i}", None))
    nodes.append(helper.make_node("Relu", ["p0"], ["y0"]))
    check_levels(make_model(nodes, inputs, outputs, []), feeds, rtol=0, atol=0)


def test_maxpool_skips_nan_like_the_reference():
    """A NaN tap is skipped at every level as the reference does (not propagated)."""
    x = rng(32).standard_normal((1, 37, 6, 6)).astype(np.float32)
    x[0, :, 1, 1] = np.nan
    x[0, 3, :3, :3] = np.nan  # a window of NaN only: -inf
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[3, 3])
    blob = serialize(convert_graph(make_model([node], [vi("x", [1, 37, 6, 6])], [vi("y", None)], [])))
    want = np.full((1, 37, 2, 2), -np.inf, np.float32)
    for oy in range(2):
        for ox in range(2):
            win = x[0, :, 3 * oy:3 * oy + 3, 3 * ox:3 * ox + 3].reshape(37, -1)
            valid = np.where(np.isnan(win), -np.inf, win)
            want[0, :, oy, ox] = valid.max(axis=1)
    for isa in levels():
        with nanort.Model(blob, isa=isa, check_finite=False) as m:
            np.testing.assert_array_equal(m.run({"x": x})["y"], want, err_msg=isa)


# -- Softmax / LogSoftmax -------------------------------------------------------------------

# (shape, axis): last-axis rows run the ISA's row kernel (odd lengths: masked tails; the
# rec head's [1, 40, 6625]); other axes the reference's column blocks at every level.
SOFTMAX_CASES = [((1, 40, 6625), -1), ((3, 1), -1), ((2, 17), 1), ((5, 33), -1), ((4, 15), -1), ((2, 1000), -1),
                 ((1, 7), -1), ((2, 5, 7), 1), ((3, 70, 2), 0), ((6, 31), 0)]


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax(op):
    r = rng(21)
    nodes, inputs, outputs, feeds = [], [], [], {}
    for i, (shape, axis) in enumerate(SOFTMAX_CASES):
        nodes.append(helper.make_node(op, [f"x{i}"], [f"y{i}"], axis=axis))
        inputs.append(vi(f"x{i}", list(shape)))
        outputs.append(vi(f"y{i}", None))
        feeds[f"x{i}"] = (r.standard_normal(shape) * (1 + 3 * i)).astype(np.float32)
    check_levels(make_model(nodes, inputs, outputs, []), feeds, rtol=2e-6, atol=1e-8)


def test_softmax_extremes():
    """-inf, values far below the maximum (exp underflows to subnormals / 0), huge magnitudes,
    equal values, and NaN (the whole row becomes NaN at every level, as numpy's softmax)."""
    ninf, nan = -np.inf, np.nan
    rows = np.array([[0.0, -87.0, -88.0, -100.0, -103.9, -104.5, -120.0, ninf, -1e30, 1.0, 2.0, -3.0, 0.5, 0.0, 0.0,
                      0.0, -90.0],
                     [1e30, -1e30, 3e38, -3e38, 0.0, 1.0, ninf, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
                     [7.0] * 17,
                     [ninf] * 16 + [0.0]], np.float32)
    with_nan = rows.copy()
    with_nan[1, 9] = nan
    with_nan[2, 0] = nan
    for op in ("Softmax", "LogSoftmax"):
        model = make_model([helper.make_node(op, ["x"], ["y"], axis=-1)], [vi("x", [4, 17])], [vi("y", None)], [])
        want = ort_run(model, {"x": rows})[0]
        blob = serialize(convert_graph(model))
        for isa in levels():
            with nanort.Model(blob, isa=isa, check_finite=False) as m:
                np.testing.assert_allclose(m.run(None, {"x": rows})[0], want, rtol=2e-6, atol=1e-30, err_msg=isa)
                y = m.run(None, {"x": with_nan})[0]
            assert np.isnan(y[1:3]).all(), isa
            assert not np.isnan(y[[0, 3]]).any(), isa


def test_gelu_at_every_level_against_the_exact_function():
    """Gelu (erf form) at each level against float64 erfc: within 4 ulp, plus what the
    cancellation in the reference's 1 + erff(z) costs on the negative tail (half an ulp of 1,
    times x / 2); the SIMD form computes erfc there directly."""
    import math

    r = rng(17)
    x = np.concatenate([r.standard_normal(3000) * 3, np.linspace(-16, 16, 2001), [0.0, -0.0, 1e-30, -1e-30],
                        np.geomspace(1e-8, 1.5, 200), -np.geomspace(1e-8, 1.5, 200)]).astype(np.float32)
    exact = np.array([0.5 * float(v) * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    tolerance = 4 * np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64) + np.abs(x) * 2.0**-24
    model = make_model([helper.make_node("Gelu", ["x"], ["y"], domain="")], [vi("x", [x.size])], [vi("y", None)], [],
                       opset=20)
    blob = serialize(convert_graph(model))
    for isa in levels():
        with nanort.Model(blob, isa=isa) as m:
            y = m.run({"x": x})["y"].astype(np.float64)
        bad = np.abs(y - exact) > tolerance
        assert not bad.any(), f"{isa}: x={x[bad][:4]} got {y[bad][:4]} exact {exact[bad][:4]}"
    x[:4] = [np.inf, np.nan, -5e3, 5e3]
    for isa in levels():
        with nanort.Model(blob, isa=isa, check_finite=False) as m:
            special = m.run({"x": x})["y"][:4]
        assert special[0] == np.inf and np.isnan(special[1]) and special[2] == 0 and special[3] == 5e3, isa
