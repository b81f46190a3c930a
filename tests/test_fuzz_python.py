"""Structured fuzzing of the converter and the Python API (hypothesis).

* Random ONNX graphs (chains of conv / pool / elementwise / movement /
  reduction ops with random shapes and attributes, some hostile): when
  onnxruntime runs the graph, nanort converts it and agrees, or refuses it as
  unsupported; when onnxruntime rejects it, nanort raises nanort.Error. Either
  way no other exception and no partial output file.
* Corrupted ONNX files (truncations, byte flips, insertions, deletions of a
  valid model): convert succeeds, or raises nanort.Error and writes nothing.
* Random feeds (dtype, rank, dims, memory layout, NaN/Inf) to a model: a
  result or a nanort.Error.
* Structure-aware mutants of converted models (tests/graph_mutations.py) run
  through the Python API in a child process, so a crash names the mutant.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import nanort

ort = pytest.importorskip("onnxruntime")

SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False, database=None)

# ------------------------------------------------------------ random graphs


def _const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


@st.composite
def _layer(draw, shape, k, rng_seed):
    """One op applied to a tensor of `shape` (NCHW); returns (nodes, inits, out_shape or None)."""
    n, c, h, w = shape
    rng = np.random.default_rng(rng_seed + k)
    x, y = f"t{k}", f"t{k + 1}"
    kind = draw(st.sampled_from(["conv", "pool", "unary", "binary", "concat", "transpose", "softmax", "reduce",
                                 "pad", "slice", "resize", "bn", "matmul", "clip", "hostile_conv",
                                 "hostile_pool"]))
    if kind in ("conv", "hostile_conv"):
        group = draw(st.sampled_from([g for g in (1, 2, 3, c) if c % g == 0]))
        cout = group * draw(st.integers(1, 3))
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        attrs = dict(strides=[draw(st.integers(1, 3)), draw(st.integers(1, 2))],
                     pads=[draw(st.integers(0, 2)) for _ in range(4)], dilations=[draw(st.integers(1, 2))] * 2,
                     group=group)
        if kind == "hostile_conv":
            field = draw(st.sampled_from(["strides", "pads", "dilations", "group", "kernel"]))
            bad = draw(st.sampled_from([0, -1, -3, 1000]))
            if field == "group":
                attrs["group"] = bad if bad else 0
            elif field == "kernel":
                kh = 40
            else:
                attrs[field] = [bad] * len(attrs[field])
        wt = rng.standard_normal((cout, c // max(1, group) if group > 0 else c, kh, kw)).astype(np.float32)
        return [helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [y], **attrs)], \
            [_const(f"w{k}", wt), _const(f"b{k}", rng.standard_normal(cout).astype(np.float32))], None
    if kind in ("pool", "hostile_pool"):
        op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
        attrs = dict(kernel_shape=[draw(st.integers(1, 3)), draw(st.integers(1, 3))],
                     strides=[draw(st.integers(1, 2))] * 2, pads=[draw(st.integers(0, 1)) for _ in range(4)])
        if attrs["pads"][0] >= attrs["kernel_shape"][0] or attrs["pads"][2] >= attrs["kernel_shape"][0]:
            attrs["pads"][0] = attrs["pads"][2] = 0
        if attrs["pads"][1] >= attrs["kernel_shape"][1] or attrs["pads"][3] >= attrs["kernel_shape"][1]:
            attrs["pads"][1] = attrs["pads"][3] = 0
        if draw(st.booleans()):
            attrs["ceil_mode"] = 1
        if kind == "hostile_pool":
            field = draw(st.sampled_from(["kernel_shape", "strides", "pads"]))
            attrs[field] = [draw(st.sampled_from([0, -2, 99]))] * len(attrs[field])
        return [helper.make_node(op, [x], [y], **attrs)], [], None
    if kind == "unary":
        op = draw(st.sampled_from(["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Softplus", "HardSwish", "Erf",
                                   "Floor", "Sqrt", "Log", "Reciprocal"]))
        return [helper.make_node(op, [x], [y])], [], shape
    if kind == "binary":
        op = draw(st.sampled_from(["Add", "Mul", "Sub", "Div", "Max", "Min", "Pow"]))
        bshape = [draw(st.sampled_from([1, d])) for d in shape][draw(st.integers(0, 3)):]
        b = rng.uniform(0.5, 2.0, bshape).astype(np.float32)
        return [helper.make_node(op, [x, f"c{k}"], [y])], [_const(f"c{k}", b)], shape
    if kind == "concat":
        axis = draw(st.integers(-4, 3))
        out = list(shape)
        out[axis] *= 2
        return [helper.make_node("Concat", [x, x], [y], axis=axis)], [], out
    if kind == "transpose":
        perm = draw(st.permutations(range(4)))
        return [helper.make_node("Transpose", [x], [y], perm=list(perm))], [], [shape[p] for p in perm]
    if kind == "softmax":
        op = draw(st.sampled_from(["Softmax", "LogSoftmax"]))
        return [helper.make_node(op, [x], [y], axis=draw(st.integers(-4, 3)))], [], shape
    if kind == "reduce":
        op = draw(st.sampled_from(["ReduceMean", "ReduceMax", "ReduceSum", "ReduceL2"]))
        axes = sorted(set(draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))))
        ins = [x]
        inits = []
        attrs = dict(keepdims=1)
        if op == "ReduceSum":
            ins.append(f"ax{k}")
            inits.append(_const(f"ax{k}", np.array(axes, np.int64)))
        else:
            attrs["axes"] = axes
        return [helper.make_node(op, ins, [y], **attrs)], inits, [1 if i in axes else d for i, d in enumerate(shape)]
    if kind == "pad":
        pads = [draw(st.integers(0, 2)) for _ in range(8)]
        mode = draw(st.sampled_from(["constant", "reflect", "edge"]))
        if mode == "reflect":
            pads = [min(p, d - 1) for p, d in zip(pads, shape + shape)]
        out = [d + pads[i] + pads[i + 4] for i, d in enumerate(shape)]
        return [helper.make_node("Pad", [x, f"p{k}"], [y], mode=mode)], [_const(f"p{k}", np.array(pads, np.int64))], \
            out
    if kind == "slice":
        axis = draw(st.integers(0, 3))
        step = draw(st.sampled_from([1, 2, -1]))
        start, end = (0, 2**62) if step > 0 else (-1, -(2**62))
        inits = [_const(f"s{k}", np.array([start], np.int64)), _const(f"e{k}", np.array([end], np.int64)),
                 _const(f"a{k}", np.array([axis], np.int64)), _const(f"st{k}", np.array([step], np.int64))]
        out = list(shape)
        out[axis] = (shape[axis] + abs(step) - 1) // abs(step)
        return [helper.make_node("Slice", [x, f"s{k}", f"e{k}", f"a{k}", f"st{k}"], [y])], inits, out
    if kind == "resize":
        mode = draw(st.sampled_from(["nearest", "linear"]))
        sc = np.array([1, 1, draw(st.sampled_from([0.5, 1.0, 2.0])), draw(st.sampled_from([1.0, 2.0, 1.5]))],
                      np.float32)
        return [helper.make_node("Resize", [x, "", f"sc{k}"], [y], mode=mode)], [_const(f"sc{k}", sc)], None
    if kind == "bn":
        vals = [rng.uniform(0.5, 1.5, c).astype(np.float32) for _ in range(4)]
        names = [f"bn{k}_{i}" for i in range(4)]
        return [helper.make_node("BatchNormalization", [x, *names], [y])], \
            [_const(nm, v) for nm, v in zip(names, vals)], shape
    if kind == "matmul":
        kdim = draw(st.integers(1, 5))
        wt = rng.standard_normal((w, kdim)).astype(np.float32)
        return [helper.make_node("MatMul", [x, f"m{k}"], [y])], [_const(f"m{k}", wt)], [n, c, h, kdim]
    lo, hi = sorted(rng.uniform(-1, 1, 2).astype(np.float32))
    return [helper.make_node("Clip", [x, f"lo{k}", f"hi{k}"], [y])], \
        [_const(f"lo{k}", np.float32(lo)), _const(f"hi{k}", np.float32(hi))], shape


@st.composite
def random_graph(draw):
    shape = [draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 9)), draw(st.integers(1, 9))]
    dynamic_batch = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    nodes, inits, cur = [], [], list(shape)
    depth = draw(st.integers(1, 5))
    for k in range(depth):
        ns, ins, out = draw(_layer(cur, k, seed))
        nodes += ns
        inits += ins
        if out is None:  # shape from inference (conv, pool, resize); stop the chain if unknown
            break
        cur = out
        if any(d <= 0 for d in cur) or len(cur) != 4:
            break
    last = nodes[-1].output[0]
    x = helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["N" if dynamic_batch else shape[0], *shape[1:]])
    y = helper.make_tensor_value_info(last, TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "fuzz", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    feed = np.random.default_rng(seed).uniform(0.1, 2.0, shape).astype(np.float32)
    return m, feed


def _ort_run(model: onnx.ModelProto, feed: np.ndarray):
    """onnxruntime's output, or None when it rejects the model or the input."""
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"t0": feed})[0]
    except Exception:  # noqa: BLE001 - any refusal by the reference
        return None


@settings(max_examples=150, **SETTINGS)
@given(random_graph())
def test_random_graphs_convert_and_match_onnxruntime(tmp_path_factory, case):
    model, feed = case
    d = tmp_path_factory.mktemp("g")
    onnx.save(model, d / "m.onnx")
    want = _ort_run(model, feed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nanort.convert(d / "m.onnx", d / "m.nrt")
    except nanort.UnsupportedError:
        assert not (d / "m.nrt").exists()
        return
    except nanort.Error as e:
        assert not (d / "m.nrt").exists()
        assert want is None, f"nanort refused a model onnxruntime runs: {e}\n{onnx.printer.to_text(model.graph)}"
        return
    try:
        with nanort.Model(d / "m.nrt") as m:
            got = m.run({"t0": feed})
    except nanort.Error as e:
        # A window larger than the padded input gives onnxruntime an empty
        # output (or, with a stride, one from C++ division rounding toward
        # zero); nanort refuses such a window (ShapeError, by design).
        window = isinstance(e, nanort.ShapeError) and "larger than the padded input" in str(e)
        assert want is None or window or isinstance(e, nanort.UnsupportedError), \
            f"{type(e).__name__}: {e}\n{onnx.printer.to_text(model.graph)}"
        return
    if want is None:
        return  # nanort is more lenient than onnxruntime here (e.g. an attribute ORT rejects)
    (out,) = got.values()
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4,
                               err_msg=onnx.printer.to_text(model.graph))


# -------------------------------------------------------- corrupted ONNX files


def _valid_onnx() -> bytes:
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2]),
             helper.make_node("Reshape", ["p", "s"], ["q"]), helper.make_node("MatMul", ["q", "m"], ["y"])]
    inits = [_const("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             _const("b", np.zeros(4, np.float32)), _const("s", np.array([0, -1], np.int64)),
             _const("m", rng.standard_normal((64, 5)).astype(np.float32))]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    return m.SerializeToString()


VALID_ONNX = _valid_onnx()


@st.composite
def corrupted(draw):
    data = bytearray(VALID_ONNX)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "set"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "truncate":
            del data[pos:]
        elif op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
        elif data:
            data[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]))
    return bytes(data)


@settings(max_examples=300, **SETTINGS)
@given(corrupted())
def test_corrupted_onnx_fails_cleanly(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("c")
    (d / "m.onnx").write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nanort.convert(d / "m.onnx", d / "m.nrt")
    except nanort.Error as e:
        assert str(e)
        assert not (d / "m.nrt").exists(), "partial output left behind"
        assert [p.name for p in d.iterdir()] == ["m.onnx"], list(d.iterdir())
        return
    with nanort.Model(d / "m.nrt") as m:  # what converts must load
        try:
            m.run({"x": np.ones((1, 3, 8, 8), np.float32)})
        except nanort.Error:
            pass


@st.composite
def structurally_corrupted(draw):
    """A valid model with one or two semantic faults a byte flip rarely makes."""
    m = onnx.ModelProto.FromString(VALID_ONNX)
    g = m.graph
    for _ in range(draw(st.integers(1, 2))):
        fault = draw(st.sampled_from(["drop_init", "dangling_input", "op_type", "init_dims", "input_dim",
                                      "attr_value", "duplicate_output", "cycle", "opset", "domain", "init_dtype",
                                      "drop_output_value", "empty_name", "raw_size"]))
        node = g.node[draw(st.integers(0, len(g.node) - 1))]
        if fault == "drop_init" and g.initializer:
            del g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        elif fault == "dangling_input":
            node.input[draw(st.integers(0, len(node.input) - 1))] = "nowhere"
        elif fault == "op_type":
            node.op_type = draw(st.sampled_from(["", "Foo", "conv", "If", "Loop", "NonMaxSuppression", "Scan"]))
        elif fault == "init_dims" and g.initializer:
            init = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            init.dims[:] = draw(st.lists(st.sampled_from([0, 1, 3, -1, 2**40]), min_size=0, max_size=5))
        elif fault == "input_dim":
            dim = g.input[0].type.tensor_type.shape.dim[draw(st.integers(0, 3))]
            dim.dim_value = draw(st.sampled_from([0, 1, 100000, -5]))
        elif fault == "attr_value" and node.attribute:
            a = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
            if a.ints:
                a.ints[:] = draw(st.lists(st.sampled_from([0, -1, -7, 2**31, 2**62]), min_size=0, max_size=6))
            elif a.type == onnx.AttributeProto.INT:
                a.i = draw(st.sampled_from([0, -1, 2**62]))
        elif fault == "duplicate_output":
            node.output[0] = g.node[0].output[0]
        elif fault == "cycle":
            g.node[0].input[0] = g.node[-1].output[0]
        elif fault == "opset":
            m.opset_import[0].version = draw(st.sampled_from([1, 6, 99]))
        elif fault == "domain":
            node.domain = "com.example"
        elif fault == "init_dtype" and g.initializer:
            g.initializer[draw(st.integers(0, len(g.initializer) - 1))].data_type = draw(
                st.sampled_from([0, 8, 16, 99]))
        elif fault == "drop_output_value":
            g.output[0].name = "never_made"
        elif fault == "empty_name":
            node.output[0] = ""
        elif fault == "raw_size" and g.initializer:
            init = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            init.raw_data = init.raw_data[: len(init.raw_data) // 2]
    return m.SerializeToString()


@settings(max_examples=150, **SETTINGS)
@given(structurally_corrupted())
def test_structurally_corrupted_onnx_fails_cleanly(tmp_path_factory, data):
    test_corrupted_onnx_fails_cleanly.hypothesis.inner_test(tmp_path_factory, data)


# ------------------------------------------------------------- random feeds


@pytest.fixture(scope="module")
def feed_model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("feed")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", 4])
    i = helper.make_tensor_value_info("i", TensorProto.INT64, ["K"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Gather", ["r", "i"], ["y"], axis=3)]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x, i], [y]),
                                opset_imports=[helper.make_opsetid("", 17)]), d / "m.onnx")
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return d / "m.nrt"


DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_]


@st.composite
def feeds(draw):
    out = {}
    for name, rank in (("x", 4), ("i", 1)):
        if draw(st.integers(0, 9)) == 0:
            continue  # missing input
        r = draw(st.sampled_from([rank] * 4 + [0, rank - 1 if rank > 1 else 2, rank + 1]))
        shape = [draw(st.integers(0, 5)) for _ in range(r)]
        dtype = draw(st.sampled_from([np.float32 if name == "x" else np.int64] * 4 + DTYPES))
        arr = np.asarray(np.random.default_rng(draw(st.integers(0, 99))).integers(-6, 6, shape)).astype(dtype)
        if dtype in (np.float32, np.float64) and arr.size and draw(st.booleans()):
            arr.flat[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        layout = draw(st.sampled_from(["c", "fortran", "strided", "readonly"]))
        if layout == "fortran":
            arr = np.asfortranarray(arr)
        elif layout == "strided" and arr.ndim:
            arr = np.repeat(arr, 2, axis=-1)[..., ::2]
        elif layout == "readonly":
            arr.setflags(write=False)
        out[name] = arr
    if draw(st.integers(0, 9)) == 0:
        out["extra"] = np.zeros(1, np.float32)
    return out


@settings(max_examples=200, **SETTINGS)
@given(feeds())
def test_random_feeds_run_or_raise_nanort_errors(feed_model, feed):
    with nanort.Model(feed_model) as m:
        try:
            got = m.run(feed)["y"]
        except nanort.Error as e:
            assert str(e)
            return
    x, i = feed["x"], feed["i"]
    np.testing.assert_array_equal(got, np.take(np.maximum(np.asarray(x, np.float32), 0), i, axis=3))


# ------------------------------------------------------ graph-level mutants


def test_graph_mutants_load_and_run_or_fail_cleanly(seed_models):
    """Every mutant (rewired inputs/outputs, -1 indices, changed dtypes/ranks,
    hostile option values) loads and runs or raises nanort.Error. Run in a
    child process: a crash fails with the mutant's description."""
    small = [str(p) for p in seed_models if p.stat().st_size < 64 * 1024]
    r = subprocess.run([sys.executable, str(Path(__file__).parent / "graph_mutations.py"), *small],
                       capture_output=True, text=True, timeout=900)
    last = r.stdout.strip().splitlines()[-3:]
    assert r.returncode == 0 and "DONE" in r.stdout, f"rc={r.returncode}, last mutants: {last}\n{r.stderr[-4000:]}"
    print(last[-1])
