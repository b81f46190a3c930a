"""Elementwise family: binary ops with numpy broadcasting, Where, Clip, Cast.

Hand-made ONNX models go through nanort.convert + nanort.Model and are
compared with onnxruntime (or ONNX's reference implementation where
onnxruntime has no kernel for a dtype). Cases the ONNX node tests miss:
broadcasting corners, dtype coverage, int64 shape arithmetic, Cast corners
with nanort's documented float -> int rule, errors, dynamic shapes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import nanort
from nanort.converter.ir import Graph, Node
from nanort.converter.serialize import serialize
from nanort.schema.ActivationKind import ActivationKind

# numpy warns on the deliberate out-of-range float -> int / float16 casts of the references
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")
RNG = np.random.default_rng(1234)
INTS = ["int8", "uint8", "int16", "int32", "int64"]
FLOATS = ["float32", "float64", "float16"]
COMPARE = ["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"]


def elem(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[tuple], outputs: Sequence[tuple], opset: int = 17,
          inits: Sequence[onnx.TensorProto] = ()) -> onnx.ModelProto:
    """inputs: (name, dtype, shape); outputs: (name, dtype)."""
    g = helper.make_graph(list(nodes), "g",
                          [helper.make_tensor_value_info(n, elem(d), s) for n, d, s in inputs],
                          [helper.make_tensor_value_info(n, elem(d), None) for n, d in outputs],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def reference(m: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    """onnxruntime, or ONNX's reference evaluator where onnxruntime lacks the kernel."""
    try:
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # NOT_IMPLEMENTED for this dtype
        return [np.asarray(r) for r in ReferenceEvaluator(m).run(None, feeds)]
    return sess.run(None, feeds)


def nanort_model(m: onnx.ModelProto, tmp_path: Path, threads: int = 1) -> nanort.Model:
    src, dst = tmp_path / "m.onnx", tmp_path / "m.nrt"
    onnx.save(m, str(src))
    nanort.convert(src, dst)
    return nanort.Model(dst, threads=threads, check_finite=False)


def assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol)
        assert np.array_equal(np.isnan(got), np.isnan(want))
    else:
        np.testing.assert_array_equal(got, want)


def check(m: onnx.ModelProto, feeds: dict, tmp_path: Path, threads: int = 1, rtol: float = 1e-6,
          atol: float = 1e-6) -> list[np.ndarray]:
    want = reference(m, feeds)
    with nanort_model(m, tmp_path, threads) as nm:
        got = nm.run(None, feeds)
    for g, w in zip(got, want, strict=True):
        assert_same(g, np.asarray(w), rtol, atol)
    return got


def rand(shape, dtype, lo=-10, hi=10, nonzero=False) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return np.asarray(RNG.random(shape) < 0.5)
    if dt.kind == "f":
        x = np.asarray(RNG.uniform(lo, hi, shape)).astype(dt)
    else:
        info = np.iinfo(dt)
        x = np.asarray(RNG.integers(max(lo, info.min), min(hi, info.max) + 1, shape)).astype(dt)
    if nonzero:
        x[x == 0] = 1
    return x


def binary(op: str, a: np.ndarray, b: np.ndarray, out_dtype=None, opset: int = 17, **attrs) -> onnx.ModelProto:
    out_dtype = out_dtype or (np.bool_ if op in COMPARE else a.dtype)
    return model([helper.make_node(op, ["a", "b"], ["y"], **attrs)],
                 [("a", a.dtype, a.shape), ("b", b.dtype, b.shape)], [("y", out_dtype)], opset)


# ---- broadcasting ----------------------------------------------------------

SHAPES = [
    ([2, 3, 4], [4]),              # rank mismatch, inner broadcast
    ([2, 3, 4], [3, 1]),           # rank mismatch, outer broadcast
    ([2, 1, 4], [1, 3, 1]),        # size-1 dims on both sides
    ([3, 1], [1, 3]),              # outer product
    ([], [2, 3]),                  # scalar a
    ([2, 3], []),                  # scalar b
    ([], []),
    ([1], [1, 1, 1]),
    ([0, 3], [1, 3]),              # empty
    ([2, 0, 3], [3]),
    ([4, 0], []),
    ([5, 1, 3, 1, 2], [4, 1, 2, 1]),
    ([1, 1, 1, 2, 1, 1, 2, 3], [3]),     # rank 8
    ([2, 1, 2, 1, 2, 1, 2, 1], [1, 2, 1, 2, 1, 2, 1, 2]),
    ([1, 7, 1, 5], [6, 1, 3, 1]),
    ([3, 4, 5], [3, 4, 5]),
]


@pytest.mark.parametrize("op", ["Add", "Div", "Max", "Greater"])
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_broadcast_float(op, sa, sb, tmp_path):
    a, b = rand(sa, np.float32), rand(sb, np.float32, nonzero=True)
    check(binary(op, a, b), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("sa,sb", SHAPES[:8], ids=[f"{a}x{b}" for a, b in SHAPES[:8]])
def test_broadcast_int64(sa, sb, tmp_path):
    a, b = rand(sa, np.int64, -1000, 1000), rand(sb, np.int64, -50, 50, nonzero=True)
    check(binary("Div", a, b), {"a": a, "b": b}, tmp_path)


def test_broadcast_mismatch_is_shape_error(tmp_path):
    m = model([helper.make_node("Add", ["a", "b"], ["y"])], [("a", np.float32, ["n"]), ("b", np.float32, ["m"])],
              [("y", np.float32)])
    with nanort_model(m, tmp_path) as nm:
        with pytest.raises(nanort.ShapeError, match="do not broadcast"):
            nm.run({"a": np.ones(3, np.float32), "b": np.ones(4, np.float32)})


@pytest.mark.parametrize("sa,sb", [([64, 1031], [1031]), ([64, 1031], [64, 1]), ([1, 70000], []),
                                   ([8, 3, 2000], [8, 1, 2000]), ([40001, 3], [3]), ([40001, 3], [40001, 1]),
                                   ([7, 9001, 2], [7, 1, 2]), ([3, 5000, 7], [5000, 1]), ([2, 3, 4001, 5], [3, 1, 5]),
                                   # a row repeated across rows (x * scale[C]), per outer index, either operand
                                   ([6, 50, 200], [200]), ([4, 70, 130], [4, 1, 130]), ([300], [90, 300])])
@pytest.mark.parametrize("dtype", ["float32", "int64", "float16"])
def test_broadcast_parallel(sa, sb, dtype, tmp_path):
    """Large enough to split across threads (chunks start mid-row); short rows and repeated rows go in
    gathered blocks."""
    a, b = rand(sa, dtype), rand(sb, dtype)
    check(binary("Add", a, b), {"a": a, "b": b}, tmp_path, threads=3, rtol=1e-3 if dtype == "float16" else 1e-6)


# ---- dtypes --------------------------------------------------------------

ARITH = ["Add", "Sub", "Mul", "Div", "Mod", "Min", "Max"]


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("op", ARITH + COMPARE)
def test_dtypes(op, dtype, tmp_path):
    a = rand([3, 5], dtype, -100, 100)
    b = rand([5], dtype, -100, 100, nonzero=op in ("Div", "Mod"))
    if op in COMPARE:
        b[:2] = a[0, :2]  # some equal pairs
    attrs = {"fmod": 1} if op == "Mod" else {}
    rtol = 1e-3 if dtype == "float16" else 1e-6
    check(binary(op, a, b, **attrs), {"a": a, "b": b}, tmp_path, rtol=rtol)


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
def test_int_wraparound(op, dtype, tmp_path):
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max, info.min, 7], dtype)
    b = np.array([info.max, info.max, 2, info.min, -3 if info.min < 0 else 3], dtype)
    want = getattr(np, {"Add": "add", "Sub": "subtract", "Mul": "multiply"}[op])(a, b)  # numpy wraps too
    with nanort_model(binary(op, a, b), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"a": a, "b": b})["y"], want)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("fmod", [0, 1])
def test_int_div_mod_signs(dtype, fmod, tmp_path):
    a = np.array([7, -7, 7, -7, 6, -6, 0, 1, -1, 5], dtype)
    b = np.array([2, 2, -2, -2, 3, -3, 5, -5, 5, 7], dtype)
    check(binary("Mod", a, b, fmod=fmod), {"a": a, "b": b}, tmp_path)
    check(binary("Div", a, b), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_int_min_div_minus_one(dtype, tmp_path):
    """INT_MIN / -1 overflows in C; nanort wraps (INT_MIN) and INT_MIN % -1 is 0."""
    info = np.iinfo(dtype)
    a, b = np.array([info.min, info.min, info.max], dtype), np.array([-1, -1, -1], dtype)
    with nanort_model(binary("Div", a, b), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"a": a, "b": b})["y"], np.array([info.min, info.min, -info.max], dtype))
    with nanort_model(binary("Mod", a, b), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"a": a, "b": b})["y"], np.zeros(3, dtype))


@pytest.mark.parametrize("op", ["Div", "Mod"])
@pytest.mark.parametrize("dtype", INTS)
def test_int_division_by_zero_is_an_error(op, dtype, tmp_path):
    a, b = np.array([4, 5, 6], dtype), np.array([1, 0, 2], dtype)
    with nanort_model(binary(op, a, b), tmp_path) as nm:
        with pytest.raises(nanort.InvalidArgumentError, match="division by zero.*'?b'?"):
            nm.run({"a": a, "b": b})
        # the model stays usable
        np.testing.assert_array_equal(nm.run({"a": a, "b": np.array([1, 1, 1], dtype)})["y"],
                                      a if op == "Div" else np.zeros(3, dtype))


def test_float_division_by_zero_is_ieee(tmp_path):
    a, b = np.array([1, -1, 0], np.float32), np.zeros(3, np.float32)
    check(binary("Div", a, b), {"a": a, "b": b}, tmp_path)


def test_float_mod(tmp_path):
    a = np.array([5.5, -5.5, 5.5, -5.5, 3.0, -0.0], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 1.5, 3.0], np.float32)
    check(binary("Mod", a, b, fmod=1), {"a": a, "b": b}, tmp_path)
    # fmod=0 on floats is floor-mod (numpy.mod; onnxruntime rejects it before opset 28)
    with nanort_model(binary("Mod", a, b), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"a": a, "b": b})["y"], np.mod(a, b))


@pytest.mark.parametrize("op", ["Min", "Max"])
def test_min_max_nan(op, tmp_path):
    a = np.array([1, np.nan, 3, np.nan, -np.inf], np.float32)
    b = np.array([np.nan, 2, 1, np.nan, 0], np.float32)
    check(binary(op, a, b), {"a": a, "b": b}, tmp_path)
    check(binary(op, b, a), {"a": b, "b": a}, tmp_path)


@pytest.mark.parametrize("op", COMPARE)
def test_compare_nan(op, tmp_path):
    a = np.array([1, np.nan, np.nan, np.inf], np.float32)
    b = np.array([np.nan, 1, np.nan, np.inf], np.float32)
    check(binary(op, a, b), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("op", ["And", "Or", "Xor", "Equal"])
def test_bool_ops(op, tmp_path):
    a, b = rand([2, 3, 4], np.bool_), rand([3, 1], np.bool_)
    check(binary(op, a, b), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift(direction, tmp_path):
    a = np.array([1, 255, 16, 128, 7, 3], np.uint8)
    b = np.array([1, 1, 4, 7, 8, 200], np.uint8)  # shifts of 8 or more give 0
    check(binary("BitShift", a, b, direction=direction), {"a": a, "b": b}, tmp_path)


# ---- Pow ---------------------------------------------------------------------

@pytest.mark.parametrize("ta,tb", [("float32", "float32"), ("float32", "int32"), ("float32", "int64"),
                                   ("float64", "float64"), ("float16", "float16"), ("int32", "float32"),
                                   ("int64", "float32"), ("int32", "int32"), ("int64", "int64"),
                                   ("int64", "int32")])
def test_pow_types(ta, tb, tmp_path):
    a = np.array([[1, 2, 3, 4], [-2, 5, 0, 7]], ta)
    b = np.array([2, 3, 0, 1], tb)
    rtol = 1e-3 if "float16" in (ta, tb) else 1e-6
    check(binary("Pow", a, b), {"a": a, "b": b}, tmp_path, rtol=rtol)


def test_pow_fractional_and_square(tmp_path):
    a = np.abs(rand([4, 6], np.float32)) + 0.1
    for e in (0.5, 2.0, -1.5, 3.0):
        b = np.array(e, np.float32)
        check(binary("Pow", a, b), {"a": a, "b": b}, tmp_path, rtol=1e-5)
    # Pow(x, 2) with a constant exponent takes the x*x path
    m = model([helper.make_node("Pow", ["a", "two"], ["y"])], [("a", np.float32, [4, 6])], [("y", np.float32)],
              inits=[onnx.numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    a[0, 0] = -3.0
    check(m, {"a": a}, tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("e", [2.0, 0.5, 3.0])
def test_pow_scalar_exponent_specials(dtype, e, tmp_path):
    """Exponents 2 and 0.5 take x*x / sqrt paths that must keep C pow's results, as onnxruntime does
    (numpy.power is sqrt for float32 ** 0.5: -0 at -0, NaN at -inf)."""
    a = np.array([-0.0, 0.0, -np.inf, np.inf, np.nan, -4.0, 4.0, 1e-30, 3e20, 2.5], dtype)
    b = np.array(e, dtype)
    m = binary("Pow", a, b)
    want = reference(m, {"a": a, "b": b})[0]
    with nanort_model(m, tmp_path) as nm:
        got = nm.run({"a": a, "b": b})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-3 if dtype == "float16" else 1e-6)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_pow_cube_within_one_ulp(tmp_path):
    """A constant exponent 3 (GPT-2's tanh Gelu) takes the a * a * a path: the float64 cube rounded once."""
    a = (rand([64, 64], np.float32) * np.float32(1e4)).astype(np.float32)
    m = model([helper.make_node("Pow", ["a", "three"], ["y"])], [("a", np.float32, [64, 64])], [("y", np.float32)],
              inits=[onnx.numpy_helper.from_array(np.array(3.0, np.float32), "three")])
    with nanort_model(m, tmp_path) as nm:
        got = nm.run({"a": a})["y"]
    exact = a.astype(np.float64) ** 3
    assert np.all(np.abs(got - exact) <= 0.5 * np.spacing(np.abs(exact).astype(np.float32)) * (1 + 1e-6))


def test_pow_int_negative_exponent(tmp_path):
    """Documented: truncation of 1/x^n (1, +-1 for x = +-1, else 0; 0 for x = 0)."""
    a = np.array([2, 1, -1, -1, 0, 3], np.int64)
    b = np.array([-1, -5, -3, -2, -1, 39], np.int64)
    with nanort_model(binary("Pow", a, b), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"a": a, "b": b})["y"], [0, 1, -1, 1, 0, 3**39])


# ---- PRelu -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "float64"])
@pytest.mark.parametrize("slope_shape", [[3, 1, 1], [1], [], [5], [2, 3, 4, 5]])
def test_prelu(dtype, slope_shape, tmp_path):
    x, s = rand([2, 3, 4, 5], dtype), rand(slope_shape, dtype, -3, 3)
    m = model([helper.make_node("PRelu", ["x", "s"], ["y"])], [("x", dtype, x.shape), ("s", dtype, s.shape)],
              [("y", dtype)])
    check(m, {"x": x, "s": s}, tmp_path)


# ---- variadic ----------------------------------------------------------------

@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_variadic(op, n, tmp_path):
    shapes = [[3, 4], [4], [2, 1, 1], [1, 4]][:n]
    arrays = {f"x{i}": rand(s, np.float32) for i, s in enumerate(shapes)}
    m = model([helper.make_node(op, list(arrays), ["y"])], [(k, np.float32, v.shape) for k, v in arrays.items()],
              [("y", np.float32)])
    check(m, arrays, tmp_path)


# ---- Where -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int64", "float16", "int8", "bool", "float64", "int16"])
@pytest.mark.parametrize("sc,sx,sy", [([2, 3], [2, 3], [2, 3]), ([3, 1], [1, 4], []), ([4], [2, 1, 4], [1]),
                                      ([2, 1, 3], [1], [5, 1]), ([0, 2], [2], [])])
def test_where(dtype, sc, sx, sy, tmp_path):
    c, x, y = rand(sc, np.bool_), rand(sx, dtype), rand(sy, dtype)
    m = model([helper.make_node("Where", ["c", "x", "y"], ["z"])],
              [("c", np.bool_, c.shape), ("x", dtype, x.shape), ("y", dtype, y.shape)], [("z", dtype)])
    check(m, {"c": c, "x": x, "y": y}, tmp_path)


# ---- Clip --------------------------------------------------------------------

def _const(name, value):
    return onnx.numpy_helper.from_array(np.asarray(value), name)


def test_clip_attribute_form(tmp_path):
    x = rand([3, 4], np.float32)
    for attrs in ({"min": -1.0, "max": 2.0}, {"min": 0.5}, {"max": -0.5}, {}):
        m = model([helper.make_node("Clip", ["x"], ["y"], **attrs)], [("x", np.float32, x.shape)],
                  [("y", np.float32)], opset=10)
        check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("bounds", [(-3, 4), (None, 2), (5, None), (4, -3)])
def test_clip_constant_bounds(dtype, bounds, tmp_path):
    x = rand([4, 5], dtype, -10, 10)
    if dtype == "uint8":
        bounds = tuple(None if v is None else v + 5 for v in bounds)
    names, inits = ["x"], []
    for k, v in enumerate(bounds):
        if v is None:
            names.append("")
        else:
            names.append(f"b{k}")
            inits.append(_const(f"b{k}", np.array(v, dtype)))
    m = model([helper.make_node("Clip", names, ["y"])], [("x", dtype, x.shape)], [("y", dtype)], opset=13,
              inits=inits)
    check(m, {"x": x}, tmp_path)


def test_clip_runtime_bounds_and_nan(tmp_path):
    x = np.array([[-5, -1, 0, np.nan], [1, 3, 7, np.inf]], np.float32)
    m = model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
              [("x", np.float32, x.shape), ("lo", np.float32, []), ("hi", np.float32, [])], [("y", np.float32)],
              opset=13)
    for lo, hi in ((-2, 2), (0, 0), (3, -3)):
        check(m, {"x": x, "lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}, tmp_path)


def test_clip_int64_bound_beyond_float32(tmp_path):
    """int64 bounds are not representable in float32: they must stay exact."""
    x = np.array([2**40 + 1, 2**40 + 3, -5], np.int64)
    m = model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [("x", np.int64, x.shape)], [("y", np.int64)],
              opset=13, inits=[_const("lo", np.array(0, np.int64)), _const("hi", np.array(2**40 + 2, np.int64))])
    check(m, {"x": x}, tmp_path)


# ---- Cast --------------------------------------------------------------------

CAST_TYPES = ["float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"]


def cast_model(src, dst, shape=(-1,), opset=19):
    return model([helper.make_node("Cast", ["x"], ["y"], to=elem(dst))], [("x", src, ["n"])], [("y", dst)], opset)


@pytest.mark.parametrize("dst", CAST_TYPES)
@pytest.mark.parametrize("src", CAST_TYPES)
def test_cast_in_range(src, dst, tmp_path):
    if src == "bool":
        x = np.array([True, False, True, True])
    elif np.dtype(src).kind == "f":
        x = np.array([0.0, 1.0, -1.0, 2.75, -2.75, 100.5, 0.3, -0.0], src)
    else:
        info = np.iinfo(src)
        x = np.array([0, 1, 5, 100, info.max, info.min, info.max // 3], src)
    if np.dtype(dst).kind in "iu" and np.dtype(src).kind in "iuf" and src != "bool":
        info = np.iinfo(dst)
        x = x[(x >= info.min) & (x <= info.max)]  # out-of-range int -> int wraps: see test_cast_int_wraps
    check(cast_model(src, dst), {"x": x}, tmp_path, rtol=1e-3 if "float16" in (src, dst) else 1e-7)


def _saturate(x: np.ndarray, dst: str) -> np.ndarray:
    """nanort's documented float -> integer rule: NaN -> 0, truncate, saturate."""
    info = np.iinfo(dst)
    v = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=np.inf, neginf=-np.inf)
    v = np.clip(np.trunc(v), info.min, info.max)
    out = np.empty(v.shape, dst)
    for i, f in enumerate(v):  # float64 -> int64 near 2^63 needs exact handling
        out[i] = info.max if f >= 2.0**63 else int(f)
    return out


@pytest.mark.parametrize("dst", ["int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("src", ["float32", "float64", "float16"])
def test_cast_float_to_int_corners(src, dst, tmp_path):
    x = np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 3e38 if src != "float16" else 6e4, -0.5, -0.99, 0.99,
                  127.9, 128.0, -128.5, 255.9, 256.0, 32767.5, -32768.9, 2.0**31, -(2.0**31) - 1, 2.0**63,
                  -(2.0**63), 1e19, -1e19], np.float64).astype(src)
    with nanort_model(cast_model(src, dst), tmp_path) as nm:
        got = nm.run({"x": x})["y"]
    np.testing.assert_array_equal(got, _saturate(x, dst))


@pytest.mark.parametrize("src,dst", [("int64", "int32"), ("int32", "int8"), ("int16", "uint8"), ("int64", "int8"),
                                     ("uint8", "int8")])
def test_cast_int_wraps(src, dst, tmp_path):
    info = np.iinfo(src)
    values = [info.max, info.min, 300, -300, 2**15 + 7, 200, -1, 129]
    x = np.array([v for v in values if info.min <= v <= info.max], src)
    with nanort_model(cast_model(src, dst), tmp_path) as nm:
        np.testing.assert_array_equal(nm.run({"x": x})["y"], x.astype(dst))  # numpy wraps


def test_cast_float_specials(tmp_path):
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-8, 65504, 65520, 1e6, 6e-8, 1.00048828125, 1.00146484375],
                 np.float32)
    for dst in ("float16", "float64", "bool"):
        check(cast_model("float32", dst), {"x": x}, tmp_path, rtol=0, atol=0)
    # float32 -> float16 rounds to nearest even, exactly as numpy does
    with nanort_model(cast_model("float32", "float16"), tmp_path) as nm:
        got = nm.run({"x": x})["y"]
    np.testing.assert_array_equal(got.view(np.uint16), x.astype(np.float16).view(np.uint16))


def test_cast_float16_roundtrip_all_values(tmp_path):
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    h = bits.view(np.float16)
    with nanort_model(cast_model("float16", "float32"), tmp_path) as nm:
        f = nm.run({"x": h})["y"]
    np.testing.assert_array_equal(f, h.astype(np.float32))
    with nanort_model(cast_model("float32", "float16"), tmp_path) as nm:
        back = nm.run({"x": f})["y"]
    finite = ~np.isnan(h)
    np.testing.assert_array_equal(back.view(np.uint16)[finite], bits[finite])
    assert np.isnan(back[~finite]).all()


def test_castlike(tmp_path):
    x, like = rand([6], np.float32, -100, 100), np.zeros(1, np.int32)
    m = model([helper.make_node("CastLike", ["x", "like"], ["y"])],
              [("x", np.float32, x.shape), ("like", np.int32, like.shape)], [("y", np.int32)], opset=19)
    check(m, {"x": x, "like": like}, tmp_path)


@pytest.mark.parametrize("to", [TensorProto.BFLOAT16, TensorProto.STRING, TensorProto.UINT16,
                                TensorProto.FLOAT8E4M3FN])
def test_cast_to_unsupported_type(to, tmp_path):
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", np.float32, [3])], [("y", np.float32)],
              opset=19)
    m.graph.output[0].type.tensor_type.elem_type = to
    onnx.save(m, str(tmp_path / "m.onnx"))
    with pytest.raises(nanort.UnsupportedOpError, match="Cast to"):
        nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")


def test_uint16_input_unsupported(tmp_path):
    m = binary("Add", np.zeros(3, np.uint16), np.zeros(3, np.uint16))
    onnx.save(m, str(tmp_path / "m.onnx"))
    with pytest.raises(nanort.UnsupportedError, match="uint16"):
        nanort.convert(tmp_path / "m.onnx", tmp_path / "m.nrt")


# ---- int64 shape arithmetic, dynamic shapes ----------------------------------

def test_int64_shape_arithmetic(tmp_path):
    """What exported models compute on shapes: (d + k - 1) // k * k, d * -1, d % k, -(d // k) ..."""
    nodes = [helper.make_node("Sub", ["d", "one"], ["t0"]), helper.make_node("Add", ["t0", "k"], ["t1"]),
             helper.make_node("Div", ["t1", "k"], ["t2"]), helper.make_node("Mul", ["t2", "k"], ["up"]),
             helper.make_node("Mod", ["d", "k"], ["rem"]), helper.make_node("Mul", ["d", "neg"], ["negd"]),
             helper.make_node("Div", ["negd", "k"], ["negdiv"]), helper.make_node("Max", ["negdiv", "d"], ["mx"]),
             helper.make_node("Equal", ["rem", "zero"], ["even"]),
             helper.make_node("Where", ["even", "d", "up"], ["sel"])]
    inits = [_const("one", np.array(1, np.int64)), _const("zero", np.array(0, np.int64)),
             _const("neg", np.array([-1], np.int64))]
    m = model(nodes, [("d", np.int64, [4]), ("k", np.int64, [])],
              [("up", np.int64), ("rem", np.int64), ("negdiv", np.int64), ("mx", np.int64), ("sel", np.int64)],
              inits=inits)
    d = np.array([1, 640, 9223372036854775, 33], np.int64)
    for k in (1, 3, 32):
        check(m, {"d": d, "k": np.array(k, np.int64)}, tmp_path)


def test_dynamic_shapes(tmp_path):
    nodes = [helper.make_node("Add", ["x", "bias"], ["t"]), helper.make_node("Greater", ["t", "zero"], ["pos"]),
             helper.make_node("Where", ["pos", "t", "x"], ["w"]), helper.make_node("Clip", ["w", "lo"], ["y"]),
             helper.make_node("Cast", ["y"], ["yi"], to=TensorProto.INT32)]
    inits = [_const("zero", np.array(0, np.float32)), _const("lo", np.array(-1.5, np.float32))]
    m = model(nodes, [("x", np.float32, ["n", "c"]), ("bias", np.float32, ["c"])],
              [("y", np.float32), ("yi", np.int32)], opset=13, inits=inits)
    with nanort_model(m, tmp_path) as nm:
        for shape in ([2, 3], [5, 7], [0, 7], [2, 3]):
            feeds = {"x": rand(shape, np.float32), "bias": rand(shape[1:], np.float32)}
            for got, want in zip(nm.run(None, feeds), reference(m, feeds), strict=True):
                assert_same(got, want)


def test_large_parallel_chain(tmp_path):
    """Where / Clip / Cast / compare split across threads."""
    nodes = [helper.make_node("Greater", ["x", "t"], ["c"]), helper.make_node("Where", ["c", "x", "y"], ["w"]),
             helper.make_node("Clip", ["w", "lo", "hi"], ["k"]),
             helper.make_node("Cast", ["k"], ["out"], to=TensorProto.INT16),
             helper.make_node("Cast", ["k"], ["h"], to=TensorProto.FLOAT16)]
    inits = [_const("lo", np.array(-3, np.float32)), _const("hi", np.array(4.5, np.float32))]
    m = model(nodes, [("x", np.float32, [3, 70001]), ("t", np.float32, [70001]), ("y", np.float32, [3, 1])],
              [("out", np.int16), ("h", np.float16)], opset=13, inits=inits)
    feeds = {"x": rand([3, 70001], np.float32), "t": rand([70001], np.float32), "y": rand([3, 1], np.float32)}
    check(m, feeds, tmp_path, threads=3)


# ---- fused activation (set by the converter's fusion passes) ---------------------

@pytest.mark.parametrize("kind,alpha,beta,fn", [
    (ActivationKind.RELU, 0.0, 0.0, lambda v: np.maximum(v, 0)),
    (ActivationKind.CLIP, 0.0, 6.0, lambda v: np.clip(v, 0, 6)),
    (ActivationKind.LEAKY_RELU, 0.1, 0.0, lambda v: np.where(v >= 0, v, 0.1 * v)),
    (ActivationKind.SIGMOID, 0.0, 0.0, lambda v: 1 / (1 + np.exp(-v))),
])
def test_fused_activation(kind, alpha, beta, fn):
    g = Graph()
    g.add_tensor("a", np.float32, (4, 300))
    g.add_tensor("b", np.float32, (300,))
    g.add_tensor("y", np.float32, (4, 300))
    g.inputs, g.outputs = ["a", "b"], ["y"]
    g.nodes.append(Node("Add", ["a", "b"], ["y"], {"activation": (kind, alpha, beta)}, "add"))
    a, b = rand([4, 300], np.float32), rand([300], np.float32)
    with nanort.Model(serialize(g)) as nm:
        np.testing.assert_allclose(nm.run({"a": a, "b": b})["y"], fn((a + b).astype(np.float64)), rtol=1e-5,
                                   atol=1e-6)


def test_fused_activation_on_int_is_unsupported():
    g = Graph()
    for n in ("a", "b", "y"):
        g.add_tensor(n, np.int32, (3,))
    g.inputs, g.outputs = ["a", "b"], ["y"]
    g.nodes.append(Node("Add", ["a", "b"], ["y"], {"activation": (ActivationKind.RELU, 0, 0)}, "add"))
    with nanort.Model(serialize(g)) as nm:
        with pytest.raises(nanort.UnsupportedError, match="fused activation"):
            nm.run({"a": np.ones(3, np.int32), "b": np.ones(3, np.int32)})


# ---- inconsistent files: clean errors at prepare, never a crash ---------------

def _ir(op: str, inputs: dict, out_dtype, attrs: dict | None = None, out_shape=None) -> bytes:
    g = Graph()
    for name, arr in inputs.items():
        g.add_tensor(name, arr.dtype, arr.shape)
    g.add_tensor("y", out_dtype, out_shape)
    g.inputs, g.outputs = list(inputs), ["y"]
    g.nodes.append(Node(op, list(inputs), ["y"], attrs or {}, "node"))
    return serialize(g)


@pytest.mark.parametrize("op,inputs,out_dtype,attrs,error", [
    ("Add", {"a": np.ones(3, np.int32), "b": np.ones(3, np.float32)}, np.int32, None, nanort.DTypeError),
    ("Add", {"a": np.ones(3, np.float32), "b": np.ones(3, np.float32)}, np.int32, None, nanort.DTypeError),
    ("Equal", {"a": np.ones(3, np.float32), "b": np.ones(3, np.float32)}, np.float32, None, nanort.DTypeError),
    ("And", {"a": np.ones(3, np.int8), "b": np.ones(3, np.int8)}, np.int8, None, nanort.UnsupportedError),
    ("BitShift", {"a": np.ones(3, np.int32), "b": np.ones(3, np.int32)}, np.int32, None, nanort.UnsupportedError),
    ("PRelu", {"a": np.ones((2, 3), np.float32), "b": np.ones((4, 2, 3), np.float32)}, np.float32, None,
     nanort.ShapeError),
    ("Where", {"c": np.ones(3, np.float32), "x": np.ones(3, np.float32), "y2": np.ones(3, np.float32)},
     np.float32, None, nanort.DTypeError),
    ("Clip", {"x": np.ones(3, np.float32), "lo": np.ones(2, np.float32)}, np.float32, None, nanort.ShapeError),
    ("Clip", {"x": np.ones(3, np.float32), "lo": np.ones(1, np.int32)}, np.float32, None, nanort.DTypeError),
    ("Cast", {"x": np.ones(3, np.float32)}, np.float32, {"to": 6}, nanort.DTypeError),
])
def test_inconsistent_model_errors(op, inputs, out_dtype, attrs, error):
    with nanort.Model(_ir(op, inputs, out_dtype, attrs)) as nm:
        with pytest.raises(error):
            nm.run(inputs)
