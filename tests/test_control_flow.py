"""If / Loop / Scan at run time and data-dependent shapes, against
onnxruntime; the verifier's checks of subgraphs (index, nesting depth)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from nrt_edit import Editable
from onnx import TensorProto, helper, numpy_helper

import nanort

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def _model(nodes, inputs, outputs, inits=(), opset=17):
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                             opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, elem=F, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


class Pair:
    """One model converted by nanort and loaded by onnxruntime, run side by side."""

    def __init__(self, tmp_path, model, **convert_kw):
        src = tmp_path / "m.onnx"
        onnx.save(model, src)
        self.report = nanort.convert(src, tmp_path / "m.nrt", **convert_kw)
        self.nrt = nanort.Model(tmp_path / "m.nrt")
        self.ort = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])

    def check(self, feeds, atol=1e-6):
        got = self.nrt.run(feeds)
        want = self.ort.run(None, feeds)
        assert list(got) == [o.name for o in self.ort.get_outputs()]
        for (name, g), w in zip(got.items(), want):
            assert g.shape == w.shape, name
            np.testing.assert_allclose(g, w, atol=atol, rtol=1e-6, err_msg=name)


def _branchy_if():
    """y = relu(x * 2) if sum(x) > 0 else relu(concat(x - 1, x - 1)): the branches
    disagree on the output shape, and the Relu after the If runs on either."""
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t"])], "then", [], [_vi("t")],
                               [_const("two", np.float32(2))])
    else_g = helper.make_graph([helper.make_node("Sub", ["x", "one"], ["e0"]),
                                helper.make_node("Concat", ["e0", "e0"], ["e"], axis=0)], "else", [], [_vi("e")],
                               [_const("one", np.float32(1))])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y0"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Relu", ["y0"], ["y"])]
    return _model(nodes, [_vi("x", F, [2, 3])], [_vi("y")], [_const("zero", np.float32(0))])


def test_if_at_run_time_with_branches_of_different_shapes(tmp_path):
    pair = Pair(tmp_path, _branchy_if())
    assert pair.report.op_histogram["If"] == 1
    rng = np.random.default_rng(0)
    for sign in (1, -1, -1, 1):  # alternating: shapes change between runs
        pair.check({"x": sign * np.abs(rng.standard_normal((2, 3))).astype(np.float32)})


def test_if_branch_reads_outer_values_and_shapes(tmp_path):
    """The branch reshapes a captured value with a shape computed from another one."""
    then_g = helper.make_graph([helper.make_node("Shape", ["w"], ["ws"]),
                                helper.make_node("Reshape", ["x", "ws"], ["t"])], "then", [], [_vi("t")])
    else_g = helper.make_graph([helper.make_node("Add", ["w", "bias"], ["e"])], "else", [], [_vi("e")])
    nodes = [helper.make_node("If", ["flag"], ["y"], then_branch=then_g, else_branch=else_g)]
    model = _model(nodes, [_vi("x", F, [6]), _vi("w", F, [2, 3]), _vi("flag", B, [])], [_vi("y")],
                   [_const("bias", np.arange(6, dtype=np.float32).reshape(2, 3))])
    pair = Pair(tmp_path, model)
    rng = np.random.default_rng(1)
    for flag in (True, False, True):
        pair.check({"x": rng.standard_normal(6).astype(np.float32), "w": rng.standard_normal((2, 3)).astype(np.float32),
                    "flag": np.array(flag)})


def _loop_model():
    """acc += x * i for i < n; also a scan output of sum(acc) per iteration."""
    body = helper.make_graph([
        helper.make_node("Cast", ["i"], ["fi"], to=F),
        helper.make_node("Mul", ["x", "fi"], ["xi"]),
        helper.make_node("Add", ["acc", "xi"], ["acc2"]),
        helper.make_node("ReduceSum", ["acc2"], ["total"], keepdims=1),
        helper.make_node("Less", ["total", "limit"], ["more"]),
        helper.make_node("Squeeze", ["more"], ["cond2"]),
    ], "body", [_vi("i", I64, []), _vi("cond", B, []), _vi("acc")],
        [_vi("cond2", B, []), _vi("acc2"), _vi("total")])
    nodes = [helper.make_node("Loop", ["n", "", "acc0"], ["acc_n", "totals"], body=body)]
    return _model(nodes, [_vi("x", F, [5]), _vi("n", I64, []), _vi("acc0", F, [5]), _vi("limit", F, [1])],
                  [_vi("acc_n"), _vi("totals")])


@pytest.mark.parametrize("n, limit", [(3, 1e9), (0, 1e9), (6, 1e9), (50, 60.0)])
def test_loop_dynamic_trip_count_and_condition(tmp_path, n, limit):
    pair = Pair(tmp_path, _loop_model())
    feeds = {"x": np.arange(5, dtype=np.float32), "n": np.array(n, np.int64), "acc0": np.ones(5, np.float32),
             "limit": np.array([limit], np.float32)}
    pair.check(feeds)
    feeds["n"] = np.array(n + 2, np.int64)  # a second run with another trip count
    pair.check(feeds)


def test_scan_reverse_and_output_axis(tmp_path):
    body = helper.make_graph([helper.make_node("Add", ["s", "r"], ["s2"]),
                              helper.make_node("Mul", ["s2", "r"], ["o"])], "body",
                             [_vi("s", F, [3]), _vi("r", F, [3])], [_vi("s2", F, [3]), _vi("o", F, [3])])
    nodes = [helper.make_node("Scan", ["s0", "X"], ["sN", "Y"], body=body, num_scan_inputs=1,
                              scan_input_directions=[1], scan_output_axes=[1])]
    pair = Pair(tmp_path, _model(nodes, [_vi("s0", F, [3]), _vi("X", F, ["T", 3])], [_vi("sN"), _vi("Y")]))
    rng = np.random.default_rng(2)
    for length in (4, 1, 7):
        pair.check({"s0": rng.standard_normal(3).astype(np.float32),
                    "X": rng.standard_normal((length, 3)).astype(np.float32)}, atol=1e-5)


def test_shapes_from_run_time_values(tmp_path):
    """Reshape to a shape and Range to a limit read from input values: those
    nodes are prepared during invoke."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Range", ["zero", "n", "one"], ["steps"]),
             helper.make_node("Cast", ["steps"], ["fsteps"], to=F),
             helper.make_node("ReduceSum", ["fsteps"], ["total"], keepdims=0),
             helper.make_node("Mul", ["r", "total"], ["y"])]
    model = _model(nodes, [_vi("x", F, [12]), _vi("shape", I64, [2]), _vi("n", I64, [])], [_vi("y")],
                   [_const("zero", np.int64(0)), _const("one", np.int64(1))])
    pair = Pair(tmp_path, model)
    x = np.arange(12, dtype=np.float32)
    for shape, n in (([3, 4], 5), ([6, 2], 3), ([2, -1], 7)):
        pair.check({"x": x, "shape": np.array(shape, np.int64), "n": np.array(n, np.int64)})


# ------------------------------------------------------------ the verifier

def _if_file(tmp_path) -> bytes:
    src = tmp_path / "if.onnx"
    onnx.save(_branchy_if(), src)
    nanort.convert(src, tmp_path / "if.nrt")
    return (tmp_path / "if.nrt").read_bytes()


def _with_if_graphs(data: bytes, graphs: list[int], in_subgraph: bool = False) -> bytes:
    e = Editable(data)
    graph = e.model.graphs[1] if in_subgraph else e.model.graphs[0]
    if in_subgraph:  # make the then-branch hold an If too (a copy of the main graph's)
        graph.operators.append(next(o for o in e.model.graphs[0].operators if o.options and
                                    hasattr(o.options, "graphs")))
    op = next(o for o in graph.operators if o.options is not None and hasattr(o.options, "graphs"))
    op.options.graphs = graphs
    return e.to_bytes()


@pytest.mark.parametrize("graphs, match", [([0, 2], "names the main graph"), ([1, 9], "not a graph of the model"),
                                           ([1], "names 1 subgraphs, expects 2")])
def test_verifier_rejects_bad_subgraph_references(tmp_path, graphs, match):
    with pytest.raises(nanort.InvalidModelError, match=match):
        nanort.Model(_with_if_graphs(_if_file(tmp_path), graphs))


def _nested_if_file(tmp_path) -> bytes:
    """If(a) { If(b) { x * 2 } else { x * 3 } } else { x - 1 }: graphs 0 (main), 1 (outer then, holding
    the inner If), 2 and 3 (its branches), 4 (outer else)."""
    def branch(name, op, k):
        return helper.make_graph([helper.make_node(op, ["x", f"k{name}"], [name])], name, [], [_vi(name)],
                                 [_const(f"k{name}", np.float32(k))])
    inner = helper.make_node("If", ["b"], ["t"], then_branch=branch("t2", "Mul", 2), else_branch=branch("t3", "Mul", 3))
    then_g = helper.make_graph([inner], "then", [], [_vi("t")])
    nodes = [helper.make_node("If", ["a"], ["y"], then_branch=then_g, else_branch=branch("e", "Sub", 1))]
    src = tmp_path / "nested.onnx"
    onnx.save(_model(nodes, [_vi("x", F, [3]), _vi("a", B, []), _vi("b", B, [])], [_vi("y")]), src)
    nanort.convert(src, tmp_path / "nested.nrt")
    return (tmp_path / "nested.nrt").read_bytes()


def test_nested_if_runs(tmp_path):
    data = _nested_if_file(tmp_path)
    x = np.array([1, 2, 3], np.float32)
    with nanort.Model(data) as m:
        for a, b, want in ((True, True, x * 2), (True, False, x * 3), (False, True, x - 1)):
            np.testing.assert_array_equal(m.run({"x": x, "a": np.array(a), "b": np.array(b)})["y"], want)


def test_verifier_bounds_subgraph_nesting(tmp_path):
    """The inner If made to name its own graph would nest without end: refused at the depth limit."""
    e = Editable(_nested_if_file(tmp_path))
    inner = next(o for o in e.model.graphs[1].operators if o.options is not None and hasattr(o.options, "graphs"))
    inner.options.graphs = [1, 1]
    with pytest.raises(nanort.LimitError, match="nest deeper than 16"):
        nanort.Model(e.to_bytes())


def _if_with_matmuls(k: int = 512):
    """y = x @ W1 if c else x @ W2, each W a k x k float32 constant that the branch packs at load."""
    rng = np.random.default_rng(5)

    def branch(name):
        w = (rng.standard_normal((k, k)) / np.sqrt(k)).astype(np.float32)
        return helper.make_graph([helper.make_node("MatMul", ["x", f"w{name}"], [name])], name, [], [_vi(name)],
                                 [_const(f"w{name}", w)])

    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=branch("t"), else_branch=branch("e"))]
    return _model(nodes, [_vi("c", B, []), _vi("x", F, [1, k])], [_vi("y")])


def test_subgraph_memory_counts_against_the_models_limits(tmp_path):
    """Each branch packs 1 MiB of weights: the model reports both, and a memory limit under their sum
    refuses the load (each subgraph had its own count, so N subgraphs could take N times the limit)."""
    pair = Pair(tmp_path, _if_with_matmuls())
    assert pair.nrt.memory_bytes >= 2 * 512 * 512 * 4
    x = np.random.default_rng(6).standard_normal((1, 512)).astype(np.float32)
    for c in (True, False):
        pair.check({"c": np.array(c), "x": x}, atol=1e-4)
    with pytest.raises(nanort.LimitError, match="memory limit of"):
        nanort.Model(tmp_path / "m.nrt", max_memory_bytes=3 * 512 * 512 * 4 // 2)


def test_cancel_reaches_a_loop_body(tmp_path):
    """A Loop of 10^12 trips (a trip count from the file is not bounded) stops at Model.cancel from
    another thread: the body checks its root model's cancel flag, not only its own."""
    import threading
    import time

    body = helper.make_graph([helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
                              helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                             [_vi("i", I64, []), _vi("cond_in", B, []), _vi("acc_in", F, [1])],
                             [_vi("cond_out", B, []), _vi("acc_out", F, [1])], [_const("one", np.float32([1]))])
    nodes = [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)]
    model = _model(nodes, [_vi("x", F, [1])], [_vi("y", F, [1])],
                   [_const("trips", np.int64(10**12)), _const("cond", np.bool_(True))])
    onnx.save(model, tmp_path / "m.onnx")
    nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")
    m = nanort.Model(tmp_path / "m.nrt")
    outcome: list[BaseException] = []

    def run():
        try:
            m.run({"x": np.zeros(1, np.float32)})
        except BaseException as e:  # noqa: BLE001 (handed to the test's thread)
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)  # (daemon: left behind if the cancel never lands)
    worker.start()
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:  # (a cancel before the run starts is dropped)
        time.sleep(0.2)
        m.cancel()
    assert not worker.is_alive(), "the Loop kept running after cancel"
    assert outcome and isinstance(outcome[0], nanort.CancelledError), outcome
    m.close()
