"""Data-movement ops (Reshape ... OneHot) on hand-made ONNX models, converted
and run by nanort, compared with onnxruntime (or, for ONNX's node-test cases
whose shape inputs are graph inputs, with the outputs ONNX ships after those
inputs are made constants). Covers every dtype, ranks 0..8, 0-size tensors,
dynamic shapes resolved in prepare, and the errors a bad value must give."""

from __future__ import annotations

import glob
import itertools
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from assets import onnx_node_tests
from node_tests import _load_tensors, all_cases
from onnx import helper, numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.ir import Graph, Node, QuantParams
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

RNG = np.random.default_rng(1234)
DTYPES = [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_]
I64_MAX, I64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def rand(shape, dtype=np.float32) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(RNG.random(shape) > 0.5)
    if dtype.kind == "f":
        return RNG.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)


def make_model(nodes, inputs, outputs, inits=None, opset=17, dims=None) -> onnx.ModelProto:
    """inputs: name -> array (its dtype and shape; `dims` overrides a shape with
    symbolic dims); inits: name -> constant array; outputs: names."""
    dims = dims or {}
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), dims.get(k, v.shape))
           for k, v in inputs.items()]
    outs = [helper.make_value_info(o, onnx.TypeProto()) for o in outputs]
    init = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "g", vis, outs, init)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def nanort_model(model: onnx.ModelProto) -> tuple[nanort.Model, Graph]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    graph = convert_graph(m)
    return nanort.Model(serialize(graph), check_finite=False), graph


def ort_run(model: onnx.ModelProto, feeds) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_same(got, want, exact=True):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        if exact or w.dtype.kind not in "fc":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def check(nodes, inputs, outputs, inits=None, opset=17, dims=None, exact=True, feeds_list=None):
    """Converts, runs with nanort and onnxruntime (on each feed set), compares; returns the IR graph."""
    model = make_model(nodes, inputs, outputs, inits, opset, dims)
    m, graph = nanort_model(model)
    assert graph.nodes, "the converter folded everything: nothing of the runtime is tested"
    with m:
        for feeds in feeds_list or [inputs]:
            assert_same(m.run(None, feeds), ort_run(model, feeds), exact)
    return graph


def const_inputs(**arrays):
    return {k: np.asarray(v, np.int64) for k, v in arrays.items()}


# ------------------------------------------------------------------ Reshape


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_dtypes(dtype):
    x = rand((2, 3, 4), dtype)
    check([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": x}, ["y"], const_inputs(s=[0, -1, 2]))


@pytest.mark.parametrize("xshape,shape,allowzero", [
    ((2, 3, 4), [4, 0, 2], 0),
    ((2, 3, 4), [-1], 0),
    ((2, 3, 4), [2, -1, 1, 1], 0),
    ((1,), [], 0),
    ((), [1, 1, 1], 0),
    ((0, 3), [3, 0], 1),
    ((0, 3), [3, -1], 0),
    ((0, 3), [0, 5, 7], 1),
    ((2, 0, 4), [0, 0, 8], 0),
    ((1,) * 8, [1] * 8, 0),
])
def test_reshape_shapes(xshape, shape, allowzero):
    x = rand(xshape)
    check([helper.make_node("Reshape", ["x", "s"], ["y"], allowzero=allowzero)], {"x": x}, ["y"],
          const_inputs(s=shape), opset=14)


def test_reshape_wrong_element_count_is_an_error():
    x = rand((2, 3))
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": x}, ["y"], const_inputs(s=[4, 2]),
                       dims={"x": ["n", 3]})
    m, _ = nanort_model(model)
    with m, pytest.raises(nanort.ShapeError, match=r"\(6 elements\) into \[4,2\] \(8 elements\)"):
        m.run(None, {"x": x})
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": x}, ["y"], const_inputs(s=[4, -1]),
                       dims={"x": ["n", 3]})
    m, _ = nanort_model(model)
    with m:
        with pytest.raises(nanort.ShapeError, match="-1"):
            m.run(None, {"x": x})
        # the model stays usable with a size that fits
        assert m.run(None, {"x": rand((8, 3))})[0].shape == (4, 6)


# --------------------------------------------------- Flatten/Squeeze/Unsqueeze


@pytest.mark.parametrize("axis", [-4, -1, 0, 1, 2, 3, 4])
def test_flatten(axis):
    check([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], {"x": rand((2, 3, 0, 5), np.int64)}, ["y"])
    check([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], {"x": rand((2, 3, 4, 5), np.float16)}, ["y"])


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axes", [None, [0], [-1, 2], [4, 0]])
def test_squeeze(opset, axes):
    x = rand((1, 3, 1, 2, 1), np.bool_)
    if axes is None:
        node, inits = helper.make_node("Squeeze", ["x"], ["y"]), {}
    elif opset < 13:
        node, inits = helper.make_node("Squeeze", ["x"], ["y"], axes=axes), {}
    else:
        node, inits = helper.make_node("Squeeze", ["x", "a"], ["y"]), const_inputs(a=axes)
    check([node], {"x": x}, ["y"], inits, opset=opset)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("xshape,axes", [((3, 4), [0]), ((3, 4), [-1, 0]), ((), [0, 1]), ((2, 0), [1, 3]),
                                          ((2, 3, 4), [5, 1, 3, 0, 7])])
def test_unsqueeze(opset, xshape, axes):
    x = rand(xshape, np.int8)
    if opset < 13:
        node, inits = helper.make_node("Unsqueeze", ["x"], ["y"], axes=axes), {}
    else:
        node, inits = helper.make_node("Unsqueeze", ["x", "a"], ["y"]), const_inputs(a=axes)
    check([node], {"x": x}, ["y"], inits, opset=opset)


def test_squeeze_axes_computed_from_shape():
    # axes = Shape(x)[1:2] = [1]: not a constant, static once prepare has run; stays input 1 of the op
    x = rand((2, 1, 4))
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "one", "two"], ["axes"]),
             helper.make_node("Squeeze", ["x", "axes"], ["y"])]
    graph = check(nodes, {"x": x}, ["y"], const_inputs(one=[1], two=[2]), opset=13, dims={"x": ["n", 1, 4]},
                  feeds_list=[{"x": x}, {"x": rand((5, 1, 4))}])
    squeeze = next(n for n in graph.nodes if n.op == "Squeeze")
    assert len(squeeze.inputs) == 2 and "axes" not in squeeze.attrs


# ---------------------------------------------------------------- Transpose


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_transpose_all_4d_perms(perm):
    check([helper.make_node("Transpose", ["x"], ["y"], perm=list(perm))], {"x": rand((2, 3, 4, 5))}, ["y"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,perm", [
    ((3, 4, 5, 6, 7), [2, 0, 3, 1, 4]),
    ((1, 37, 41, 13), [0, 2, 3, 1]),   # NCHW -> NHWC, tiled path
    ((1, 41, 13, 37), [0, 3, 1, 2]),   # NHWC -> NCHW
    ((67, 45), None),                  # default: reversed dims
    ((5,), None),
    ((), None),
    ((2, 0, 3), [2, 1, 0]),
    ((2, 1, 3, 1, 2, 1, 2, 3), [7, 0, 6, 1, 5, 2, 4, 3]),
])
def test_transpose_shapes_and_dtypes(dtype, shape, perm):
    attrs = {} if perm is None else {"perm": perm}
    check([helper.make_node("Transpose", ["x"], ["y"], **attrs)], {"x": rand(shape, dtype)}, ["y"])


def test_transpose_large_multithreaded():
    x = rand((2, 64, 56, 60))
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {"x": x}, ["y"])
    m = onnx.ModelProto()
    m.CopyFrom(model)
    with nanort.Model(serialize(convert_graph(m)), threads=3) as rt:
        np.testing.assert_array_equal(rt.run(None, {"x": x})[0], x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_transpose_short_rows(dtype, c):
    """Gathers whose output rows are 1-4 elements (an NCHW image to NHWC), also reversed by a
    negative-step Slice first and split across threads: the short-row loop of the strided copy."""
    x = rand((1, c, 13, 37), dtype)
    check([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {"x": x}, ["y"])
    nodes = [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["s"]),
             helper.make_node("Transpose", ["s"], ["y"], perm=[0, 2, 3, 1])]
    inits = {"st": np.array([-1, -2], np.int64), "en": np.array([I64_MIN, I64_MIN], np.int64),
             "ax": np.array([1, 3], np.int64), "sp": np.array([-1, -1], np.int64)}
    check(nodes, {"x": x}, ["y"], inits)
    big = rand((1, c, 200, 300), dtype)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {"x": big}, ["y"])
    with nanort.Model(serialize(convert_graph(model)), threads=3, check_finite=False) as rt:
        np.testing.assert_array_equal(rt.run(None, {"x": big})[0], big.transpose(0, 2, 3, 1))

@pytest.mark.parametrize("isa", cpu_levels())
@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.float32, np.int64])
def test_transpose_short_rows_levels(isa, dtype):
    """Every kernel level's short-row gather (kernels/movement_kernels.h) moves the same elements,
    including odd lengths that leave vector remainders and offsets from a Slice."""
    for c, h, w in [(3, 48, 192), (1, 5, 7), (2, 3, 33), (3, 1, 1), (4, 17, 19), (3, 7, 61)]:
        x = rand((2, c, h, w), dtype)
        nodes = [helper.make_node("Slice", ["x", "st", "en", "ax"], ["s"]),
                 helper.make_node("Transpose", ["s"], ["y"], perm=[0, 2, 3, 1])]
        inits = {"st": np.array([1], np.int64), "en": np.array([w], np.int64), "ax": np.array([3], np.int64)}
        for model in (make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {"x": x}, ["y"]),
                      make_model(nodes, {"x": x}, ["y"], inits)):
            with nanort.Model(serialize(convert_graph(model)), isa=isa, threads=2, check_finite=False) as rt:
                want = x[..., 1:] if len(model.graph.node) == 2 else x
                np.testing.assert_array_equal(rt.run(None, {"x": x})[0], want.transpose(0, 2, 3, 1))


def test_multithreaded_chain():
    # big enough that every op splits its work across threads
    nodes = [helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
             helper.make_node("Split", ["c"], ["s0", "s1", "s2"], axis=2, num_outputs=3),
             helper.make_node("Gather", ["s1", "i"], ["g"], axis=1),
             helper.make_node("CumSum", ["g", "ax"], ["cs"]),
             helper.make_node("Slice", ["cs", "st", "en", "sa", "sp"], ["sl"]),
             helper.make_node("Expand", ["sl", "shape"], ["e"]),
             helper.make_node("Tile", ["s2", "reps"], ["t"])]
    inputs = {"a": rand((3, 50, 300)), "b": rand((3, 70, 300)), "i": RNG.integers(-120, 120, (90,)).astype(np.int64)}
    inits = {"ax": np.array(2, np.int64), "st": np.array([-1], np.int64), "en": np.array([I64_MIN], np.int64),
             "sa": np.array([1], np.int64), "sp": np.array([-2], np.int64), "shape": np.array([2, 1, 1, 1], np.int64),
             "reps": np.array([2, 3, 1], np.int64)}
    model = make_model(nodes, inputs, ["e", "t", "s0"], inits, opset=18)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    with nanort.Model(serialize(convert_graph(m)), threads=4) as rt:
        assert_same(rt.run(None, inputs), ort_run(model, inputs), exact=False)


# ------------------------------------------------------------ Concat / Split


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_, np.float16, np.uint8])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(dtype, axis):
    shapes = {0: [(2, 3, 4), (0, 3, 4), (5, 3, 4)], 1: [(2, 1, 4), (2, 0, 4), (2, 7, 4), (2, 2, 4)],
              -1: [(2, 3, 1), (2, 3, 0), (2, 3, 9)]}[axis]
    inputs = {f"x{i}": rand(s, dtype) for i, s in enumerate(shapes)}
    check([helper.make_node("Concat", list(inputs), ["y"], axis=axis)], inputs, ["y"])


def test_concat_all_empty_and_single_input():
    check([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)], {"a": rand((2, 0)), "b": rand((2, 0))}, ["y"])
    check([helper.make_node("Concat", ["a"], ["y"], axis=0)], {"a": rand((3,), np.int32)}, ["y"])


@pytest.mark.parametrize("opset,dim,split,num", [
    (11, 7, [3, 0, 4], None),     # attribute sizes (opset < 13)
    (11, 6, None, 3),             # equal parts
    (13, 7, [1, 6], None),        # sizes as input
    (13, 8, None, 4),
    (18, 7, None, 3),             # num_outputs, smaller last part
    (18, 10, None, 4),
    (18, 0, None, 2),             # empty input
])
@pytest.mark.parametrize("axis", [1, -1])
def test_split(opset, dim, split, num, axis):
    shape = (2, dim, 3) if axis == 1 else (2, 3, dim)
    nout = len(split) if split is not None else num
    outs = [f"y{i}" for i in range(nout)]
    inits, attrs, ins = {}, {"axis": axis}, ["x"]
    if split is not None and opset < 13:
        attrs["split"] = split
    elif split is not None:
        ins.append("s")
        inits = const_inputs(s=split)
    elif opset >= 18:
        attrs["num_outputs"] = num
    check([helper.make_node("Split", ins, outs, **attrs)], {"x": rand(shape, np.int16)}, outs, inits, opset=opset)


# -------------------------------------------------------------------- Slice

SLICE_CASES = [
    # starts, ends, axes, steps
    ([1], [3], [0], None),
    ([0, 1], [I64_MAX, -1], None, None),
    ([-1], [I64_MIN], [1], [-1]),
    ([I64_MAX], [I64_MIN], [-1], [-2]),
    ([-100], [100], [2], [3]),
    ([10], [-10], [0], [-1]),
    ([4], [2], [2], [1]),             # empty
    ([2, 0, 5], [0, 3, -7], [0, 1, 2], [-1, 2, -2]),
    ([1], [1000], [2], [I64_MAX]),
    ([5], [-1000], [2], [I64_MIN]),
    ([-2], [I64_MAX], [-3], [1]),
    ([3, -1], [0, -4], None, [-1, -1]),  # steps without axes
]


@pytest.mark.parametrize("starts,ends,axes,steps", SLICE_CASES)
def test_slice(starts, ends, axes, steps):
    ins = ["x", "st", "en"]
    inits = const_inputs(st=starts, en=ends)
    if axes is not None or steps is not None:
        ins.append("ax" if axes is not None else "")
        if axes is not None:
            inits["ax"] = np.array(axes, np.int64)
    if steps is not None:
        ins.append("sp")
        inits["sp"] = np.array(steps, np.int64)
    check([helper.make_node("Slice", ins, ["y"])], {"x": rand((4, 5, 6), np.float64)}, ["y"], inits)


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice_dtypes_and_int32_params(dtype):
    inits = {"st": np.array([1, -1], np.int32), "en": np.array([-1, 0], np.int32),
             "ax": np.array([0, 2], np.int32), "sp": np.array([2, -1], np.int32)}
    check([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], {"x": rand((7, 3, 5), dtype)}, ["y"],
          inits)


def test_slice_zero_size_input_and_rank8():
    check([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], {"x": rand((3, 0, 4))}, ["y"],
          const_inputs(st=[0, 2], en=[5, -1], ax=[1, 0], sp=[-1, 1]))
    check([helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"])], {"x": rand((2, 1, 3, 1, 2, 2, 1, 3))}, ["y"],
          const_inputs(st=[1, -2, 0], en=[2, 3, 2], ax=[0, 7, 5]))


def test_slice_opset9_attribute_form():
    x = rand((4, 6))
    node = helper.make_node("Slice", ["x"], ["y"], starts=[1, -4], ends=[3, 1000], axes=[0, 1])
    check([node], {"x": x}, ["y"], opset=9)
    check([helper.make_node("Slice", ["x"], ["y"], starts=[1], ends=[-1])], {"x": x}, ["y"], opset=9)


# ------------------------------------------------------ Gather / GatherElements


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("idx_shape", [(), (4,), (2, 3)])
def test_gather(axis, idx_dtype, idx_shape):
    x = rand((3, 4, 5), np.int64)
    dim = x.shape[axis]
    idx = RNG.integers(-dim, dim, size=idx_shape).astype(idx_dtype)
    check([helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)], {"x": x, "i": idx}, ["y"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_dtypes_and_constant_data(dtype):
    table = rand((10, 3), dtype)  # an embedding table (constant) indexed by run-time data
    idx = np.array([[0, 9, -1], [5, 5, 2]], np.int64)
    check([helper.make_node("Gather", ["t", "i"], ["y"], axis=0)], {"i": idx}, ["y"], {"t": table})


def test_gather_empty():
    check([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
          {"x": rand((2, 3)), "i": np.zeros((0,), np.int64)}, ["y"])
    check([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
          {"x": rand((0, 3)), "i": np.array([2, -3], np.int64)}, ["y"])


@pytest.mark.parametrize("bad", [5, -6, I64_MAX, I64_MIN])
def test_gather_index_out_of_range_is_an_error(bad):
    x = rand((5, 2))
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=0)],
                       {"x": x, "i": np.zeros(3, np.int64)}, ["y"])
    m, _ = nanort_model(model)
    with m:
        with pytest.raises(nanort.InvalidArgumentError, match="out of range"):
            m.run(None, {"x": x, "i": np.array([0, bad, 1], np.int64)})
        np.testing.assert_array_equal(m.run(None, {"x": x, "i": np.array([4, -5, 0], np.int64)})[0], x[[4, 0, 0]])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_, np.float64])
def test_gather_elements(axis, dtype):
    x = rand((3, 4, 5), dtype)
    ishape = {0: (6, 4, 2), 1: (2, 7, 5), -1: (3, 1, 9)}[axis]
    dim = x.shape[axis]
    idx = RNG.integers(-dim, dim, size=ishape).astype(np.int32 if dtype == np.int8 else np.int64)
    check([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=axis)], {"x": x, "i": idx}, ["y"])


def test_gather_elements_index_out_of_range_is_an_error():
    x = rand((3, 4))
    model = make_model([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)],
                       {"x": x, "i": np.zeros((3, 2), np.int64)}, ["y"])
    m, _ = nanort_model(model)
    with m, pytest.raises(nanort.InvalidArgumentError, match="out of range"):
        m.run(None, {"x": x, "i": np.array([[0, 1], [2, 4], [3, 3]], np.int64)})


# ------------------------------------------------------------- Shape / Size


@pytest.mark.parametrize("start,end", [(None, None), (1, None), (-1, None), (None, -1), (1, 2), (-10, 10),
                                       (3, 1), (4, None)])
def test_shape_start_end(start, end):
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    x = rand((2, 3, 4, 5))
    graph = check([helper.make_node("Shape", ["x"], ["y"], **attrs), helper.make_node("Size", ["x"], ["z"])],
                  {"x": x}, ["y", "z"], opset=15, dims={"x": ["a", 3, "b", 5]},
                  feeds_list=[{"x": x}, {"x": rand((7, 3, 0, 5))}])
    assert {"Shape", "Size"} <= {n.op for n in graph.nodes}


def test_shape_perm_reports_logical_dims():
    # A tensor stored NHWC (physical dims [2, 4, 5, 3]) whose logical (NCHW) shape is [2, 3, 4, 5].
    g = Graph()
    g.add_tensor("x", np.float32, (2, 4, 5, 3))
    g.add_tensor("y", np.int64, (3,))
    g.add_tensor("z", np.int64, ())
    g.nodes = [Node("Shape", ["x"], ["y"], {"perm": [0, 2, 3, 1], "start": 1}, "shape"),
               Node("Size", ["x"], ["z"], {}, "size")]
    g.inputs, g.outputs = ["x"], ["y", "z"]
    with nanort.Model(serialize(g)) as m:
        y, z = m.run(None, {"x": np.zeros((2, 4, 5, 3), np.float32)})
    np.testing.assert_array_equal(y, [3, 4, 5])
    assert z.shape == () and z == 120


def dynamic_reshape_model() -> onnx.ModelProto:
    """y = Reshape(x, [batch, -1, 4]) with batch = Shape(x)[0]: exported models' shape arithmetic."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["batch"], axis=0),
             helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
             helper.make_node("Concat", ["batch1", "rest"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"]),
             helper.make_node("Shape", ["y"], ["ys"])]
    inits = {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64), "rest": np.array([-1, 4], np.int64)}
    return make_model(nodes, {"x": rand((2, 3, 8))}, ["y", "ys"], inits, opset=13, dims={"x": ["batch", "seq", 8]})


def test_dynamic_shape_subgraph_is_evaluated_in_prepare():
    model = dynamic_reshape_model()
    m, graph = nanort_model(model)
    ops = [n.op for n in graph.nodes]
    assert "Shape" in ops and "Gather" in ops and "Concat" in ops, ops  # not folded away: dims are dynamic
    with m:
        for shape in [(2, 3, 8), (5, 1, 8), (1, 6, 8), (3, 0, 8)]:
            x = rand(shape)
            feeds = {"x": x}
            assert_same(m.run(None, feeds), ort_run(model, feeds))


def test_dynamic_shape_subgraph_through_convert_cli_path(tmp_path):
    src = tmp_path / "dyn.onnx"
    onnx.save(dynamic_reshape_model(), src)
    report = nanort.convert(src, tmp_path / "dyn.nrt")
    assert report.op_histogram.get("Shape", 0) >= 1
    with nanort.Model(tmp_path / "dyn.nrt") as m:
        y, ys = m.run(None, {"x": rand((4, 2, 8))})
    assert y.shape == (4, 4, 4) and list(ys) == [4, 4, 4]


# ------------------------------------- ConstantOfShape / Expand / Range / Tile


@pytest.mark.parametrize("value", [None, np.array([2.5], np.float32), np.array([7], np.int64),
                                   np.array([True]), np.array([-3], np.int8), np.array([1.25], np.float16)])
def test_constant_of_shape_from_dynamic_shape(value):
    attrs = {} if value is None else {"value": numpy_helper.from_array(value)}
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("ConstantOfShape", ["s"], ["y"], **attrs)]
    x = rand((2, 3))
    check(nodes, {"x": x}, ["y"], dims={"x": ["a", "b"]}, feeds_list=[{"x": x}, {"x": rand((0, 5))}])


def test_constant_of_shape_scalar_and_large():
    # [] -> a scalar; a big one is not folded by the converter (it would bloat the file)
    nodes = [helper.make_node("Shape", ["x"], ["s"], end=0),
             helper.make_node("ConstantOfShape", ["s"], ["y"], value=numpy_helper.from_array(np.array([4], np.int32)))]
    check(nodes, {"x": rand((1,))}, ["y"], dims={"x": ["n"]}, opset=15)
    model = make_model([helper.make_node("ConstantOfShape", ["s"], ["y"])], {}, ["y"],
                       const_inputs(s=[300, 200]))
    m, graph = nanort_model(model)
    assert [n.op for n in graph.nodes] == ["ConstantOfShape"]
    with m:
        assert_same(m.run(None, {}), ort_run(model, {}))


@pytest.mark.parametrize("xshape,shape", [((3, 1), [2, 1, 6]), ((3, 1), [3, 4]), ((1,), [5, 1, 1]),
                                          ((2, 3), [1]), ((4, 1, 2), [1, 5, 1]), ((1, 2), [0, 1]),
                                          ((), [2, 3]), ((2, 1, 1), [2, 3, 4])])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_, np.float16])
def test_expand(xshape, shape, dtype):
    check([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": rand(xshape, dtype)}, ["y"], const_inputs(s=shape))


def test_expand_incompatible_is_an_error():
    model = make_model([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": rand((2, 3))}, ["y"],
                       const_inputs(s=[2, 4]), dims={"x": ["a", "b"]})
    m, _ = nanort_model(model)
    with m, pytest.raises(nanort.ShapeError, match="broadcast"):
        m.run(None, {"x": rand((2, 3))})


def test_range_from_shape_int64():
    # limit = Shape(x)[1], an int64 computed in prepare
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "one"], ["n"], axis=0),
             helper.make_node("Range", ["start", "n", "delta"], ["y"])]
    x = rand((2, 9))
    check(nodes, {"x": x}, ["y"], {"one": np.array(1, np.int64), "start": np.array(-3, np.int64),
                                    "delta": np.array(2, np.int64)},
          dims={"x": [2, "n"]}, feeds_list=[{"x": x}, {"x": rand((2, 0))}, {"x": rand((2, 1))}])


@pytest.mark.parametrize("dtype,start,limit,delta", [
    (np.float32, 1.5, 30000.25, 0.25), (np.float32, 100.0, -20000.0, -0.5), (np.float64, 0.0, 70000.0, 1.0),
    (np.int32, 5, 50000, 3), (np.int32, 10, -40000, -1), (np.int64, -7, 20000, 2),
])
def test_range_types(dtype, start, limit, delta):
    # large enough that the converter leaves the node to the runtime
    inits = {k: np.array(v, dtype) for k, v in (("a", start), ("b", limit), ("c", delta))}
    graph = check([helper.make_node("Range", ["a", "b", "c"], ["y"])], {}, ["y"], inits, exact=False)
    assert [n.op for n in graph.nodes] == ["Range"]


def test_range_empty_and_zero_delta():
    inits = {"a": np.array(5, np.int64), "b": np.array(5, np.int64)}
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["d"], axis=0),
             helper.make_node("Range", ["a", "b", "d"], ["y"])]
    inits["zero"] = np.array(0, np.int64)
    model = make_model(nodes, {"x": rand((1,))}, ["y"], inits, dims={"x": ["n"]})
    m, _ = nanort_model(model)
    with m:
        assert m.run(None, {"x": rand((3,))})[0].shape == (0,)
        with pytest.raises(nanort.Error, match="delta"):
            m.run(None, {"x": rand((0,))})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,reps", [((2, 3), [2, 3]), ((2, 3), [1, 0]), ((4,), [5]), ((2, 1, 3), [1, 4, 2]),
                                         ((0, 2), [3, 2]), ((), [])])
def test_tile(dtype, xshape, reps):
    check([helper.make_node("Tile", ["x", "r"], ["y"])], {"x": rand(xshape, dtype)}, ["y"], const_inputs(r=reps))


# ------------------------------------------------------ CumSum / Trilu / OneHot


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(dtype, axis, exclusive, reverse):
    x = rand((3, 4, 5), dtype)
    check([helper.make_node("CumSum", ["x", "a"], ["y"], exclusive=exclusive, reverse=reverse)], {"x": x}, ["y"],
          {"a": np.array(axis, np.int64)}, exact=False)


def test_cumsum_runtime_axis():
    x = rand((3, 4), np.int64)
    model = make_model([helper.make_node("CumSum", ["x", "a"], ["y"], reverse=1)], {"x": x, "a": np.array(1)},
                       ["y"])
    m, _ = nanort_model(model)
    with m:
        for a in [0, 1, -2]:
            feeds = {"x": x, "a": np.array(a, np.int64)}
            assert_same(m.run(None, feeds), ort_run(model, feeds))
        with pytest.raises(nanort.InvalidArgumentError, match="axis"):
            m.run(None, {"x": x, "a": np.array(2, np.int64)})


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -1, -7, 9, I64_MAX, I64_MIN])
@pytest.mark.parametrize("dtype", [np.float32, np.bool_, np.int64])
def test_trilu(upper, k, dtype):
    ins, inits = ["x"], {}
    if k is not None:
        ins.append("k")
        inits = {"k": np.array(k, np.int64)}
    check([helper.make_node("Trilu", ins, ["y"], upper=upper)], {"x": rand((2, 4, 6), dtype)}, ["y"], inits)


def test_trilu_runtime_k_and_empty():
    model = make_model([helper.make_node("Trilu", ["x", "k"], ["y"], upper=0)],
                       {"x": rand((5, 3)), "k": np.array(0, np.int64)}, ["y"])
    m, _ = nanort_model(model)
    with m:
        for k in [-2, 0, 1]:
            feeds = {"x": rand((5, 3)), "k": np.array(k, np.int64)}
            assert_same(m.run(None, feeds), ort_run(model, feeds))
    check([helper.make_node("Trilu", ["x"], ["y"])], {"x": rand((3, 0, 2))}, ["y"])


@pytest.mark.parametrize("axis", [-1, 0, 1, -3])
@pytest.mark.parametrize("idx_dtype,depth_dtype,val_dtype", [  # the type combinations onnxruntime implements
    (np.int64, np.int64, np.float32), (np.int64, np.int64, np.int64), (np.int32, np.int32, np.float32),
    (np.float32, np.float32, np.float32), (np.float32, np.int64, np.int64)])
def test_onehot(axis, idx_dtype, depth_dtype, val_dtype):
    idx = np.array([[1, -1, 4], [0, 5, -6]], idx_dtype)  # 5 and -6 are out of range for depth 5: all off
    inits = {"depth": np.array(5, depth_dtype), "vals": np.array([-2, 3], val_dtype)}
    check([helper.make_node("OneHot", ["i", "depth", "vals"], ["y"], axis=axis)], {"i": idx}, ["y"], inits, opset=11)


@pytest.mark.parametrize("op,axis", [("Flatten", 0), ("Flatten", 1), ("OneHot", 0), ("OneHot", -1), ("Concat", 0),
                                     ("Gather", 0), ("Softmax", 0), ("CumSum", 0)])
def test_options_without_default_fields(monkeypatch, op, axis):
    """A writer that leaves fields at the schema's default out of the file (any
    FlatBuffers writer but nanort's own, which writes them all) must give the
    same results: the runtime reads an absent field as the schema's default."""
    ser = sys.modules[serialize.__module__]  # the module (the package exports the function under its name)

    x = rand((3, 4, 2))
    inputs, inits = {"x": x}, {}
    node_inputs = ["x"]
    if op == "OneHot":
        inputs = {"x": np.array([[1, 0, 3], [2, 2, 0]], np.int64)}
        inits = {"depth": np.array(4, np.int64), "vals": np.array([0.0, 1.0], np.float32)}
        node_inputs = ["x", "depth", "vals"]
    elif op == "Concat":
        node_inputs = ["x", "x"]
    elif op == "Gather":
        inits = {"i": np.array([2, 0], np.int64)}
        node_inputs = ["x", "i"]
    elif op == "CumSum":
        inits = {"a": np.array(axis, np.int64)}
        node_inputs = ["x", "a"]
    attrs = {} if op == "CumSum" else {"axis": axis}
    model = make_model([helper.make_node(op, node_inputs, ["y"], **attrs)], inputs, ["y"], inits, opset=13)
    want = ort_run(model, inputs)
    plain = ser._Shared.__init__
    monkeypatch.setattr(ser._Shared, "__init__", lambda self, obj, force_defaults=False: plain(self, obj, False))
    m, graph = nanort_model(model)
    assert graph.nodes
    with m:
        assert_same(m.run(None, inputs), want, exact=op != "Softmax")


# ------------------------------------------ ONNX node cases, inputs made constant

# ConstantOfShape and Range are left out: all their inputs are shape values, so made constant they fold away.
MOVEMENT_CASES = ("reshape", "flatten", "squeeze", "unsqueeze", "transpose", "concat", "split", "slice", "gather",
                  "shape", "size", "expand", "tile", "cumsum", "tril", "triu", "onehot")


def _node_cases() -> list[Path]:
    cases = []
    for p in all_cases(onnx_node_tests()):
        name = p.name[len("test_"):]
        if any(name == op or name.startswith(op + "_") for op in MOVEMENT_CASES) and "sequence" not in name \
                and "expanded" not in name:
            cases.append(p)
    return cases


@pytest.mark.parametrize("case", _node_cases(), ids=lambda p: p.name)
def test_node_case_with_constant_parameters(case):
    """ONNX's node tests of this family, run at opset 23 with every input but
    the first made an initializer (the cases feed shapes, axes, repeats ... as
    graph inputs, which nanort requires to be static); the outputs ONNX ships
    are the reference."""
    model = onnx.load(str(case / "model.onnx"))
    for imp in model.opset_import:  # ONNX 1.22 stamps its cases with opset 24..25, which only added
        if imp.domain in ("", "ai.onnx"):  # element types to these ops; nanort converts opsets <= 23
            imp.version = min(imp.version, 23)
    ds = sorted(glob.glob(str(case / "test_data_set_*")))[0]
    inputs = _load_tensors(sorted(glob.glob(os.path.join(ds, "input_*.pb"))))
    expected = _load_tensors(sorted(glob.glob(os.path.join(ds, "output_*.pb"))))
    g = model.graph
    names = [i.name for i in g.input]
    keep = names[:1]  # the data; shapes, axes, repeats, depth ... become constants
    feeds = {}
    for name, value in zip(names, inputs, strict=True):
        if name in keep:
            feeds[name] = value
        else:
            g.initializer.append(numpy_helper.from_array(value, name))
    kept = [i for i in g.input if i.name in keep]
    for vi in kept:  # dynamic dims: Shape / Size would fold away on static ones; the runtime resolves them
        for d, dim in enumerate(vi.type.tensor_type.shape.dim):
            dim.dim_param = f"d{d}"
    del g.input[:]
    g.input.extend(kept)
    m, graph = nanort_model(model)
    assert graph.nodes, "folded away: the case would not test the runtime"
    with m:
        got = m.run(None, feeds)
    for gv, ev in zip(got, expected, strict=True):
        assert gv.dtype == ev.dtype and gv.shape == ev.shape
        np.testing.assert_allclose(gv, ev, rtol=1e-6)


# ------------------------------------------------------------ int8 tensors


def quantized_graph(nodes, tensors, inputs, outputs) -> Graph:
    """IR graph: tensors maps name -> (dtype, shape, (scale, zero_point) or None, constant data or None)."""
    g = Graph()
    for name, (dtype, shape, q, data) in tensors.items():
        t = g.add_tensor(name, dtype, shape, data)
        if q is not None:
            t.quant = QuantParams(np.float32(q[0]), np.int64(q[1]))
    g.nodes, g.inputs, g.outputs = nodes, inputs, outputs
    return g


def test_int8_concat_rescales_inputs_as_requant_h_specifies():
    qa, qb, qy = (0.05, -3), (0.2, 10), (0.1, 2)
    a, b, c = rand((2, 3, 4), np.int8), rand((2, 5, 4), np.int8), rand((2, 2, 4), np.int8)
    g = quantized_graph([Node("Concat", ["a", "b", "c"], ["y"], {"axis": 1}, "concat")],
                        {"a": (np.int8, a.shape, qa, None), "b": (np.int8, b.shape, qb, None),
                         "c": (np.int8, c.shape, qy, None), "y": (np.int8, (2, 10, 4), qy, None)},
                        ["a", "b", "c"], ["y"])
    with nanort.Model(serialize(g)) as m:
        (y,) = m.run(None, {"a": a, "b": b, "c": c})

    def requant(x, q):  # (float)(x - z_x) * (float)(s_x / s_y), clamped, rounded half to even, + z_y
        mult = np.float32(np.float64(np.float32(q[0])) / np.float64(np.float32(qy[0])))
        v = (x.astype(np.int32) - q[1]).astype(np.float32) * mult
        return (np.rint(np.clip(v, -128 - qy[1], 127 - qy[1])) + qy[1]).astype(np.int8)

    np.testing.assert_array_equal(y, np.concatenate([requant(a, qa), requant(b, qb), c], axis=1))


def test_int8_movement_requires_equal_quantization():
    x = rand((2, 6), np.int8)
    g = quantized_graph([Node("Reshape", ["x", "s"], ["y"], {}, "reshape")],
                        {"x": (np.int8, (2, 6), (0.1, 3), None), "s": (np.int64, (2,), None, np.array([3, 4])),
                         "y": (np.int8, (3, 4), (0.1, 3), None)}, ["x"], ["y"])
    with nanort.Model(serialize(g)) as m:
        np.testing.assert_array_equal(m.run(None, {"x": x})[0], x.reshape(3, 4))
    g.tensors["y"].quant = QuantParams(np.float32(0.2), np.int64(3))
    with nanort.Model(serialize(g)) as m, pytest.raises(nanort.InvalidModelError, match="quantized differently"):
        m.run(None, {"x": x})


# ------------------------------------------------------------------ row gather at 2 threads


@pytest.mark.parametrize("seed", range(12))
def test_nearest_resize_then_pad_split_across_threads(seed):
    """Nearest upsampling repeats source rows and lines, which the gather copies from the rows it
    wrote; with 2 threads a range starts mid-line, where nothing before it may be copied. The Conv
    makes the converter run the Resize in NHWC, where a line is a row of pixels."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 40, 4))
    shape = (1 + seed % 2, *shape[1:])
    scales = np.array([1, 1, rng.choice([1, 2, 3, 1.5]), rng.choice([1, 2, 3, 0.5])], np.float32)
    pads = np.array([0, 0, *rng.integers(-1, 4, 2), 0, 0, *rng.integers(-1, 4, 2)], np.int64)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                        helper.make_node("Resize", ["c", "", "scales"], ["r"], mode="nearest",
                                         coordinate_transformation_mode=str(rng.choice(["asymmetric", "half_pixel"]))),
                        helper.make_node("Pad", ["r", "pads"], ["y"], mode=str(rng.choice(["constant", "edge"])))],
                       {"x": rand(shape)}, ["y"], {"scales": scales, "pads": pads, "w": rand(shape[1:2] * 2 + (1, 1))})
    x = rand(shape)
    with nanort.Model(serialize(convert_graph(model)), threads=2, check_finite=False) as m:
        assert_same(m.run(None, {"x": x}), ort_run(model, {"x": x}), exact=False)  # the Conv rounds differently
