"""Math family (reductions, softmax, MatMul / Gemm / FullyConnected,
LayerNormalization, LSTM / GRU) on hand-made models, compared with
onnxruntime, ONNX's reference implementation, or float64 numpy.

Cases whose conversion needs an op of another family (Transpose, Add, Mul,
Flatten, Reshape ...) that this runtime build does not have yet are skipped
with that reason."""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import nanort
from nanort.converter import convert_graph
from nanort.converter.ir import Graph, Node
from nanort.converter.passes.fuse import fully_connected_from_matmul
from nanort.converter.serialize import serialize
from nanort.schema.ActivationKind import ActivationKind

RNG = np.random.default_rng(1234)
F32 = TensorProto.FLOAT


# ---------------------------------------------------------------- helpers --
def vi(name, elem=F32, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def make(nodes, inputs, outputs, inits=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=[numpy_helper.from_array(v, k)
                                                                       for k, v in dict(inits).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8 if opset < 21
                             else 10)


def nanort_model(model, threads=1):
    graph = convert_graph(onnx.ModelProto.FromString(model.SerializeToString()))
    try:
        return nanort.Model(serialize(graph), threads=threads)
    except nanort.UnsupportedError as e:
        if "not supported by this runtime" in str(e):
            pytest.skip(f"needs an op of another family: {e}")
        raise


def run_nanort(model, feeds, threads=1):
    with nanort_model(model, threads) as m:
        return m.run(None, feeds)


def run_ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(got, want, rtol=1e-5, atol=1e-5):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        w = np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)


def check(model, feeds, rtol=1e-5, atol=1e-5, threads=1):
    assert_close(run_nanort(model, feeds, threads), run_ort(model, feeds), rtol, atol)


def randn(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# ------------------------------------------------------------- reductions --
REDUCE_OPS = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]
AXES = [[1], [0, 2], [-1], [-3, -1], [1, 2], [0, 1, 2], None]


def reduce_model(op, axes, keepdims, shape, opset=18, elem=F32, noop=None):
    inits, ins = {}, ["x"]
    attrs = {"keepdims": keepdims}
    if noop is not None:
        attrs["noop_with_empty_axes"] = noop
    axes_input = opset >= 18 or (op == "ReduceSum" and opset >= 13)
    if axes is not None:
        if axes_input:
            inits["axes"] = np.array(axes, np.int64)
            ins.append("axes")
        else:
            attrs["axes"] = axes
    node = helper.make_node(op, ins, ["y"], **attrs)
    return make([node], [vi("x", elem, shape)], [vi("y", elem)], inits, opset)


@pytest.mark.parametrize("keepdims", [1, 0])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_float(op, axes, keepdims):
    x = randn(3, 4, 5)
    if op == "ReduceLogSum":
        x = np.abs(x) + 0.1
    if op == "ReduceProd":
        x = (1.0 + 0.1 * x).astype(np.float32)
    check(reduce_model(op, axes, keepdims, [3, 4, 5]), {"x": x})


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceLogSumExp"])
def test_reduce_older_opsets(op, opset):
    x = randn(2, 3, 4, 5)
    check(reduce_model(op, [1, -1], 1, [2, 3, 4, 5], opset=opset), {"x": x})


@pytest.mark.parametrize("shape,axes", [([1, 6, 7, 33], [1, 2]), ([2, 1, 70, 3], [2]), ([5, 300], [0]),
                                        ([4, 3, 2, 5, 6], [0, 2, 4]), ([2, 3], [0, 1])])
@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceLogSumExp"])
def test_reduce_shapes_threads(op, shape, axes):
    """Size-1 dims, merged dims, and each way of splitting across threads."""
    x = randn(*shape, scale=3.0)
    check(reduce_model(op, axes, 1, shape), {"x": x}, threads=2)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
@pytest.mark.parametrize("elem,dtype", [(TensorProto.INT32, np.int32), (TensorProto.INT64, np.int64)])
def test_reduce_int(op, elem, dtype):
    x = RNG.integers(-4, 5, size=(3, 4, 5)).astype(dtype)
    for axes, keep in [([1], 1), ([0, 2], 0), (None, 1)]:
        check(reduce_model(op, axes, keep, [3, 4, 5], elem=elem), {"x": x})


def test_reduce_long_is_accurate():
    """1e6 float32 values: the double accumulator matches float64 numpy."""
    x = (1.0 + RNG.standard_normal(1_000_000) * 0.1).astype(np.float32)
    for op, want in [("ReduceSum", x.astype(np.float64).sum()), ("ReduceMean", x.astype(np.float64).mean()),
                     ("ReduceSumSquare", np.square(x.astype(np.float64)).sum())]:
        (got,) = run_nanort(reduce_model(op, None, 0, [1_000_000]), {"x": x})
        np.testing.assert_allclose(got, want, rtol=2e-7)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy: mean of an empty slice
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_empty_and_noop(op):
    """Zero-size reduced axis, and empty axes with noop_with_empty_axes:
    ONNX's reference implementation defines both."""
    x = np.zeros((2, 0, 4), np.float32)
    model = reduce_model(op, [1], 1, [2, 0, 4])
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert_close(run_nanort(model, {"x": x}), [want])
    x = np.abs(randn(2, 3)) + 0.5
    model = reduce_model(op, None, 1, [2, 3], noop=1)
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert_close(run_nanort(model, {"x": x}), [want.astype(np.float32)], rtol=1e-6)


def _frozen_axes_cases():
    """ONNX's reduce node tests feed `axes` as a graph input; the runtime
    wants constant axes, so these copies make it an initializer."""
    try:
        from assets import onnx_node_tests
        root = onnx_node_tests()
    except Exception:  # no cache and no network: nothing to parametrize
        return []
    return sorted(p for p in glob.glob(str(root / "test_reduce_*"))
                  if "expanded" not in p and os.path.exists(os.path.join(p, "test_data_set_0", "input_1.pb")))


@pytest.mark.parametrize("case", _frozen_axes_cases(), ids=os.path.basename)
def test_reduce_node_tests_with_constant_axes(case):
    model = onnx.load(os.path.join(case, "model.onnx"))
    ds = os.path.join(case, "test_data_set_0")
    load = lambda f: numpy_helper.to_array(onnx.load_tensor(os.path.join(ds, f)))  # noqa: E731
    x, axes, want = load("input_0.pb"), load("input_1.pb"), load("output_0.pb")
    if x.dtype == np.float64:
        pytest.skip("float64 is not supported")
    g = model.graph
    name = g.input[1].name
    g.initializer.append(numpy_helper.from_array(axes, name))
    del g.input[1]
    got = run_nanort(model, {g.input[0].name: x})
    assert_close(got, [want], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("elem,dtype", [(F32, np.float32), (TensorProto.INT32, np.int32),
                                        (TensorProto.INT64, np.int64)])
def test_argminmax(op, elem, dtype):
    x = RNG.integers(-3, 4, size=(3, 70, 5)).astype(dtype)  # many ties
    for axis, keep, last in [(0, 1, 0), (1, 0, 1), (-1, 1, 1), (-2, 1, 0)]:
        node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keep, select_last_index=last)
        model = make([node], [vi("x", elem, [3, 70, 5])], [vi("y", TensorProto.INT64)], opset=13)
        check(model, {"x": x}, threads=2)


def test_argmax_empty_axis_is_a_shape_error():
    node = helper.make_node("ArgMax", ["x"], ["y"], axis=1)
    model = make([node], [vi("x", F32, [2, "n"])], [vi("y", TensorProto.INT64)], opset=13)
    with nanort_model(model) as m, pytest.raises(nanort.ShapeError):
        m.run(None, {"x": np.zeros((2, 0), np.float32)})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp"])
@pytest.mark.parametrize("keepdims,noop", [(1, 0), (0, 0), (1, 1), (0, 1)])
def test_reduce_computed_axes(op, keepdims, noop):
    """Axes fed at run time: one model, output shapes that follow each run's axes
    (empty axes reduce everything, or nothing with noop_with_empty_axes)."""
    node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims, noop_with_empty_axes=noop)
    model = make([node], [vi("x", F32, [2, 3, 4]), vi("axes", TensorProto.INT64, ["n"])], [vi("y")])
    x = randn(2, 3, 4)
    with nanort_model(model) as m:
        for axes in ([1], [0, -1], [], [2, 0, 1], [-2]):
            feeds = {"x": x, "axes": np.array(axes, np.int64)}
            assert_close(m.run(None, feeds), run_ort(model, feeds))


def test_reduce_computed_axes_after_nhwc_conv():
    """The axes name the ONNX layout's dims while the Conv's output is NHWC inside the runtime."""
    w = randn(5, 3, 3, 3)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c", "axes"], ["y"], keepdims=0)]
    model = make(nodes, [vi("x", F32, [1, 3, 6, 7]), vi("axes", TensorProto.INT64, [None])], [vi("y")], {"w": w})
    x = randn(1, 3, 6, 7)
    with nanort_model(model) as m:
        for axes in ([1], [2, 3], [3]):
            feeds = {"x": x, "axes": np.array(axes, np.int64)}
            assert_close(m.run(None, feeds), run_ort(model, feeds), rtol=1e-4)


@pytest.mark.parametrize("axes", [[3], [1, -1]], ids=["out_of_range", "repeated"])
def test_reduce_bad_computed_axes_are_model_errors(axes):
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"])
    model = make([node], [vi("x", F32, [2, 3]), vi("axes", TensorProto.INT64, [None])], [vi("y")])
    with nanort_model(model) as m, pytest.raises(nanort.Error, match="axis"):
        m.run(None, {"x": randn(2, 3), "axes": np.array(axes, np.int64)})


# ---------------------------------------------------------------- softmax --
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
def test_softmax_large_inputs(op, axis):
    x = randn(3, 70, 65, scale=1e4)  # exp overflows without the max shift; inner 65 / 70 > one block
    x[0, 0, :] = 5e4
    node = helper.make_node(op, ["x"], ["y"], axis=axis)
    model = make([node], [vi("x", F32, [3, 70, 65])], [vi("y")], opset=13)
    check(model, {"x": x}, rtol=1e-5, atol=1e-6, threads=2)


@pytest.mark.parametrize("axis", [1, 2, -1, 0])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
def test_softmax_opset11_flattens(op, axis):
    x = randn(2, 3, 4, scale=5.0)
    node = helper.make_node(op, ["x"], ["y"], axis=axis)
    model = make([node], [vi("x", F32, [2, 3, 4])], [vi("y")], opset=11)
    check(model, {"x": x})


def test_softmax_opset11_dynamic_shape():
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    model = make([node], [vi("x", F32, ["n", 3, 4])], [vi("y")], opset=11)
    check(model, {"x": randn(5, 3, 4)})


# ----------------------------------------------------------------- matmul --
MATMUL_SHAPES = [
    ([2, 1, 3, 4], [5, 4, 6]), ([4], [2, 4, 3]), ([2, 3, 4], [4]), ([4], [4]), ([1, 3, 4], [2, 4, 5]),
    ([3, 1, 2, 5], [1, 4, 5, 2]), ([37, 70], [70, 150]), ([2, 37, 70], [70, 150]), ([1, 1, 300], [300, 520]),
    ([2, 3, 0], [0, 4]), ([0, 3], [3, 4]),
]


@pytest.mark.parametrize("const_b", [False, True])
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_broadcasting(sa, sb, const_b):
    a, b = randn(*sa), randn(*sb)
    inits = {"b": b} if const_b else {}
    inputs = [vi("a", F32, sa)] + ([] if const_b else [vi("b", F32, sb)])
    model = make([helper.make_node("MatMul", ["a", "b"], ["y"])], inputs, [vi("y")], inits, opset=13)
    feeds = {"a": a} if const_b else {"a": a, "b": b}
    check(model, feeds, rtol=1e-4, atol=1e-4, threads=2)


def test_matmul_dynamic_k_mismatch_is_a_shape_error():
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = make([node], [vi("a", F32, ["m", "k"]), vi("b", F32, ["k2", 3])], [vi("y")], opset=13)
    with nanort_model(model) as m, pytest.raises(nanort.ShapeError, match="inner dimensions"):
        m.run(None, {"a": randn(2, 4), "b": randn(5, 3)})


C_SHAPES = {"none": None, "vec": lambda m, n: [n], "row": lambda m, n: [1, n], "mat": lambda m, n: [m, n],
            "col": lambda m, n: [m, 1], "scalar": lambda m, n: [1]}


C_CASES = [(kind, const) for kind in C_SHAPES for const in (True, False) if kind != "none" or const]


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0)])
@pytest.mark.parametrize("c_kind,const_c", C_CASES)
@pytest.mark.parametrize("const_b", [True, False])
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm(trans_a, trans_b, const_b, const_c, c_kind, alpha, beta):
    m, k, n = 5, 7, 6
    sa = [k, m] if trans_a else [m, k]
    sb = [n, k] if trans_b else [k, n]
    a, b = randn(*sa), randn(*sb)
    inits, inputs, feeds, ins = {}, [vi("a", F32, sa)], {"a": a}, ["a", "b"]
    if const_b:
        inits["b"] = b
    else:
        inputs.append(vi("b", F32, sb))
        feeds["b"] = b
    if c_kind != "none":
        sc = C_SHAPES[c_kind](m, n)
        c = randn(*sc)
        ins.append("c")
        if const_c:
            inits["c"] = c
        else:
            inputs.append(vi("c", F32, sc))
            feeds["c"] = c
    node = helper.make_node("Gemm", ins, ["y"], alpha=alpha, beta=beta, transA=trans_a, transB=trans_b)
    check(make([node], inputs, [vi("y")], inits, opset=13), feeds, rtol=1e-5, atol=1e-5)


def test_gemm_constant_b_is_one_fully_connected():
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=3.0, transB=1)
    model = make([node], [vi("a", F32, [4, 8])], [vi("y")], {"b": randn(5, 8), "c": randn(5)}, opset=13)
    graph = convert_graph(model)
    assert [nd.op for nd in graph.nodes] == ["FullyConnected"]
    check(model, {"a": randn(4, 8)})


def test_gemm_constant_a():
    node = helper.make_node("Gemm", ["a", "b"], ["y"], alpha=2.0, transA=1)
    model = make([node], [vi("b", F32, [3, 4])], [vi("y")], {"a": randn(3, 5)}, opset=13)
    check(model, {"b": randn(3, 4)})


# ---------------------------------------- FullyConnected / fused activation --
def ir_run(nodes, inputs: dict, consts: dict, out_shape_dtype=np.float32):
    """Runs IR nodes directly (ops the importers emit only in some forms)."""
    g = Graph()
    for name, v in inputs.items():
        g.add_tensor(name, v.dtype, v.shape)
        g.inputs.append(name)
    for name, v in consts.items():
        g.add_tensor(name, v.dtype, v.shape, v)
    for nd in nodes:
        for o in nd.outputs:
            g.add_tensor(o, out_shape_dtype, None)
    g.nodes = list(nodes)
    g.outputs = [nodes[-1].outputs[0]]
    with nanort.Model(serialize(g), threads=2) as m:
        return m.run(None, inputs)[0]


ACTS = [((ActivationKind.NONE, 0, 0), lambda v: v), ((ActivationKind.RELU, 0, 0), lambda v: np.maximum(v, 0)),
        ((ActivationKind.CLIP, -0.5, 0.7), lambda v: np.clip(v, -0.5, 0.7)),
        ((ActivationKind.LEAKY_RELU, 0.1, 0), lambda v: np.where(v >= 0, v, 0.1 * v)),
        ((ActivationKind.SIGMOID, 0, 0), lambda v: 1 / (1 + np.exp(-v))),
        ((ActivationKind.HARD_SWISH, 0, 0), lambda v: v * np.clip(v / 6 + 0.5, 0, 1))]


@pytest.mark.parametrize("act,ref", ACTS, ids=[str(a[0][0]) for a in ACTS])
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("const_w", [True, False])
def test_fully_connected(const_w, keep_dims, act, ref):
    x, w, b = randn(2, 3, 19), randn(37, 19), randn(37)
    inputs, consts = {"x": x}, {"b": b}
    (consts if const_w else inputs)["w"] = w
    node = Node("FullyConnected", ["x", "w", "b"], ["y"], {"keep_dims": keep_dims, "activation": act})
    got = ir_run([node], inputs, consts)
    want = ref(x.astype(np.float64) @ w.T.astype(np.float64) + b)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-5, atol=1e-5)
    assert got.shape == ((2, 3, 37) if keep_dims else (6, 37))


def test_matmul_fused_activation():
    a, b = randn(4, 5, 6), randn(6, 7)
    got = ir_run([Node("MatMul", ["a", "b"], ["y"], {"activation": (ActivationKind.RELU, 0, 0)})], {"a": a},
                 {"b": b})
    np.testing.assert_allclose(got, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_fully_connected_bad_weight_shape_is_an_error():
    node = Node("FullyConnected", ["x", "w"], ["y"], {"keep_dims": True})
    with pytest.raises(nanort.ShapeError, match="features"):
        ir_run([node], {"x": randn(2, 5)}, {"w": randn(3, 4)})


def test_fully_connected_from_matmul_helper():
    """The fusion pass's rewrite: MatMul(x, B) + b -> FullyConnected."""
    b, bias = randn(6, 4), randn(4)
    g = Graph()
    g.add_tensor("x", np.float32, (3, 6))
    g.inputs = ["x"]
    g.add_tensor("B", np.float32, b.shape, b)
    g.add_tensor("y", np.float32, (3, 4))
    mm = Node("MatMul", ["x", "B"], ["y"], {}, "mm")
    fc = fully_connected_from_matmul(g, mm, bias)
    assert fc is not None and fc.op == "FullyConnected"
    g.nodes, g.outputs = [fc], ["y"]
    x = randn(3, 6)
    with nanort.Model(serialize(g)) as m:
        np.testing.assert_allclose(m.run(None, {"x": x})[0], x @ b + bias, rtol=1e-5, atol=1e-5)
    assert fully_connected_from_matmul(g, Node("MatMul", ["x", "x"], ["y"]), None) is None


# -------------------------------------------------------------- layernorm --
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("axis", [-1, -2, 1])
def test_layer_norm(axis, with_bias):
    shape = [2, 5, 16]
    norm_shape = shape[axis:]
    x = randn(*shape, scale=3.0) + 100.0  # a large offset: the variance must not cancel
    inits = {"s": randn(*norm_shape)}
    ins = ["x", "s"]
    if with_bias:
        inits["b"] = randn(*norm_shape)
        ins.append("b")
    node = helper.make_node("LayerNormalization", ins, ["y", "mean", "inv"], axis=axis, epsilon=1e-3)
    model = make([node], [vi("x", F32, shape)], [vi("y"), vi("mean"), vi("inv")], inits, opset=17)
    check(model, {"x": x}, rtol=1e-4, atol=1e-4, threads=2)


def test_layer_norm_broadcast_scale_and_skipped_mean():
    x = randn(3, 4, 6)
    s, b = randn(1, 6), randn(4, 1)
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "", "inv"], axis=1)
    model = make([node], [vi("x", F32, [3, 4, 6])], [vi("y"), vi("inv")], {"s": s, "b": b}, opset=17)
    got = run_nanort(model, {"x": x})
    xd = x.astype(np.float64)
    mean = xd.mean(axis=(1, 2), keepdims=True)
    inv = 1.0 / np.sqrt(((xd - mean) ** 2).mean(axis=(1, 2), keepdims=True) + 1e-5)
    assert_close(got, [((xd - mean) * inv * s + b).astype(np.float32), inv.astype(np.float32)], 1e-5, 1e-5)


# -------------------------------------------------------------------- rnn --
def rnn_model(op, direction, hidden, seq, batch, inp, layout=0, lens=False, init=False, peep=False, **attrs):
    dirs = 2 if direction == "bidirectional" else 1
    g = 4 if op == "LSTM" else 3
    inits = {"W": randn(dirs, g * hidden, inp, scale=0.5), "R": randn(dirs, g * hidden, hidden, scale=0.5),
             "B": randn(dirs, 2 * g * hidden, scale=0.5)}
    ins = ["X", "W", "R", "B", "", "", "", ""][: 8 if op == "LSTM" else 6]
    inputs = [vi("X", F32, [batch, seq, inp] if layout else [seq, batch, inp])]
    hshape = [batch, dirs, hidden] if layout else [dirs, batch, hidden]
    if lens:
        ins[4] = "lens"
        inputs.append(vi("lens", TensorProto.INT32, [batch]))
    if init:
        inits["h0"] = randn(*hshape)
        ins[5] = "h0"
        if op == "LSTM":
            inits["c0"] = randn(*hshape)
            ins[6] = "c0"
    if peep:
        inits["P"] = randn(dirs, 3 * hidden)
        ins[7] = "P"
    while not ins[-1]:
        ins.pop()
    outs = ["Y", "Y_h", "Y_c"][: 3 if op == "LSTM" else 2]
    node = helper.make_node(op, ins, outs, direction=direction, hidden_size=hidden, layout=layout, **attrs)
    return make([node], inputs, [vi(o) for o in outs], inits, opset=14)


def to_layout0(model):
    """The same RNN with ONNX layout 0 (onnxruntime implements only that)."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    node = m.graph.node[0]
    for a in node.attribute:
        if a.name == "layout":
            a.i = 0
    x = m.graph.input[0].type.tensor_type.shape.dim
    x[0].dim_value, x[1].dim_value = x[1].dim_value, x[0].dim_value
    for init in m.graph.initializer:
        if init.name in ("h0", "c0"):
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).transpose(1, 0, 2).copy(), init.name))
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return m


RNN_CASES = [
    dict(direction="forward"),
    dict(direction="reverse", init=True),
    dict(direction="bidirectional", lens=True, init=True),
    dict(direction="bidirectional", lens=True, layout=1),
    dict(direction="forward", clip=0.7),
]


@pytest.mark.parametrize("case", RNN_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_rnn(op, case):
    seq, batch, inp, hidden = 6, 3, 5, 4
    variants = [{}]
    variants.append({"peep": True, "input_forget": 1} if op == "LSTM" else {"linear_before_reset": 1})
    for extra in variants:
        model = rnn_model(op, hidden=hidden, seq=seq, batch=batch, inp=inp, **case, **extra)
        layout = case.get("layout", 0)
        x = randn(batch, seq, inp) if layout else randn(seq, batch, inp)
        feeds = {"X": x}
        if case.get("lens"):
            feeds["lens"] = np.array([6, 2, 0] if op == "GRU" else [4, 0, 1], np.int32)
        got = run_nanort(model, feeds, threads=2)
        if layout:
            want = run_ort(to_layout0(model), {**feeds, "X": x.transpose(1, 0, 2).copy()})
            want = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2) for w in want[1:]]
        else:
            want = run_ort(model, feeds)
        assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_rnn_only_y_h_requested():
    model = rnn_model("GRU", "bidirectional", 4, 5, 2, 3)
    node = model.graph.node[0]
    node.output[0] = ""
    del model.graph.output[0]
    check(model, {"X": randn(5, 2, 3)}, rtol=1e-4, atol=1e-5)


def test_rnn_bad_sequence_length_is_an_error():
    model = rnn_model("LSTM", "forward", 4, 5, 2, 3, lens=True)
    with nanort_model(model) as m, pytest.raises(nanort.InvalidArgumentError, match="sequence_lens"):
        m.run(None, {"X": randn(5, 2, 3), "lens": np.array([3, 9], np.int32)})


def test_rnn_other_activations_unsupported():
    model = rnn_model("GRU", "forward", 4, 5, 2, 3, activations=["Relu", "Tanh"])
    with pytest.raises(nanort.UnsupportedOpError, match="activations"):
        convert_graph(model)


# ------------------------------------------------------ bad models / inputs --
BAD = [
    ("dup axes", Node("ReduceSum", ["x"], ["y"], {"axes": [1, -2]}), {}, nanort.InvalidModelError),
    ("axis range", Node("ReduceMax", ["x"], ["y"], {"axes": [3]}), {}, nanort.InvalidModelError),
    ("argmax axes", Node("ArgMax", ["x"], ["y"], {"axes": [0, 1]}), {}, nanort.InvalidModelError),
    ("softmax axis", Node("Softmax", ["x"], ["y"], {"axis": -4}), {}, nanort.InvalidModelError),
    ("ln scale", Node("LayerNormalization", ["x", "s"], ["y"], {"axis": -1}), {"s": randn(3)}, nanort.ShapeError),
    ("ln epsilon", Node("LayerNormalization", ["x", "s"], ["y"], {"epsilon": -1.0}), {"s": randn(4)},
     nanort.InvalidModelError),
    ("lstm hidden", Node("LSTM", ["x", "w", "r"], ["y"], {"hidden_size": 0}),
     {"w": randn(1, 8, 4), "r": randn(1, 8, 2)}, nanort.InvalidModelError),
    ("lstm W", Node("LSTM", ["x", "w", "r"], ["y"], {"hidden_size": 2}),
     {"w": randn(1, 8, 3), "r": randn(1, 8, 2)}, nanort.ShapeError),
    ("gru lens type", Node("GRU", ["x", "w", "r", "", "lens"], ["y"], {"hidden_size": 2}),
     {"w": randn(1, 6, 4), "r": randn(1, 6, 2), "lens": np.ones(3, np.float32)}, nanort.DTypeError),
    ("matmul rank", Node("MatMul", ["x", "z"], ["y"]), {"z": np.float32(2.0)}, nanort.ShapeError),
    ("fc bias", Node("FullyConnected", ["x", "w", "b"], ["y"]), {"w": randn(5, 4), "b": randn(4)}, nanort.ShapeError),
]


@pytest.mark.parametrize("node,consts,error", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_models_fail_cleanly(node, consts, error):
    with pytest.raises(error):
        ir_run([node], {"x": randn(2, 3, 4)}, consts)


# ---------------------------------------------------------- dynamic dims --
def test_dynamic_sequence_length_two_runs():
    """One model, run at two sequence lengths: shapes re-propagate."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("LayerNormalization", ["h", "s"], ["n"], axis=-1),
        helper.make_node("Softmax", ["n"], ["p"], axis=-1),
        helper.make_node("ReduceMean", ["p", "ax"], ["pooled"], keepdims=0),
        helper.make_node("LSTM", ["x", "W", "R"], ["Y", "Y_h"], hidden_size=3, direction="bidirectional"),
    ]
    inits = {"w": randn(16, 8), "s": randn(8), "ax": np.array([0], np.int64), "W": randn(2, 12, 16, scale=0.3),
             "R": randn(2, 12, 3, scale=0.3)}
    model = make(nodes, [vi("x", F32, ["T", 2, 16])], [vi("p"), vi("pooled"), vi("Y"), vi("Y_h")], inits)
    with nanort_model(model, threads=2) as m:
        for t in (5, 9, 5):
            feeds = {"x": randn(t, 2, 16)}
            assert_close(m.run(None, feeds), run_ort(model, feeds), rtol=1e-4, atol=1e-5)
