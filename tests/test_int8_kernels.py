"""int8 kernels, bit for bit against the numpy model of the contract
(tests/int8_reference.py).

Every case is a .nrt graph built by hand from the converter's IR (int8
tensors with QuantParams, folded int32 biases), run through nanort.Model:
the runtime ops are exercised exactly as converted models use them."""

from __future__ import annotations

import int8_reference as ref
import numpy as np
import pytest

import nanort
from nanort.converter.ir import Graph, Node, QuantParams
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels
from nanort.schema.ActivationKind import ActivationKind

RNG = np.random.default_rng(20261123)
ACTS = {None: (ActivationKind.NONE, 0.0, 0.0), "relu": (ActivationKind.RELU, 0.0, 0.0),
        "clip": (ActivationKind.CLIP, 0.0, 6.0)}


class G:
    """A small graph builder: tensors with optional data and QuantParams."""

    def __init__(self):
        self.g = Graph()

    def t(self, name, dtype, shape, q=None, data=None, axis=None):
        t = self.g.add_tensor(name, dtype, shape, None if data is None else np.ascontiguousarray(data, dtype))
        if q is not None:
            t.quant = QuantParams(q[0], q[1], axis)
        return name

    def node(self, op, inputs, outputs, **attrs):
        self.g.nodes.append(Node(op, list(inputs), list(outputs), attrs, f"{op}_{len(self.g.nodes)}"))

    def run(self, feeds, outputs=None, threads=1):
        self.g.inputs = list(feeds)
        if outputs is not None:
            self.g.outputs = list(outputs)
        with nanort.Model(serialize(self.g), threads=threads, check_finite=False) as m:
            return m.run(None, feeds)

    def model(self, inputs, outputs, threads=1):
        self.g.inputs, self.g.outputs = list(inputs), list(outputs)
        return nanort.Model(serialize(self.g), threads=threads, check_finite=False)


def q8(shape) -> np.ndarray:
    return RNG.integers(-128, 128, size=shape, dtype=np.int8)


def qparams(scale=None, zp=None):
    s = float(np.float32(scale if scale is not None else RNG.uniform(0.005, 0.2)))
    z = int(zp if zp is not None else RNG.integers(-128, 128))
    return s, z


def same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if not np.array_equal(got, want):
        bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        raise AssertionError(f"{bad.size} of {got.size} values differ, first at {bad[0]}: "
                             f"{got.reshape(-1)[bad[0]]} != {want.reshape(-1)[bad[0]]}")


# ---- QuantizeLinear / DequantizeLinear / Lut ------------------------------------------------

SPECIAL = np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32])
@pytest.mark.parametrize("scale,zp", [(0.05, None), (1.0, 0), (3e-6, None), (1e3, None)])
def test_quantize_per_tensor_from_quant_params(dtype, scale, zp):
    lo, hi = ref.QRANGE[dtype]
    zp = int(RNG.integers(max(lo, -1000), min(hi, 1000) + 1)) if zp is None else zp
    scale = float(np.float32(scale))
    x = np.concatenate([RNG.normal(0, 200 * scale, 1000).astype(np.float32), SPECIAL * scale,
                        (np.arange(-40, 40, dtype=np.float32) + 0.5) * np.float32(scale)])
    b = G()
    b.t("x", np.float32, x.shape)
    b.t("y", dtype, x.shape, (scale, zp))
    b.node("QuantizeLinear", ["x"], ["y"])
    b.t("z", np.float32, x.shape)
    b.node("DequantizeLinear", ["y"], ["z"])
    y, z = b.run({"x": x}, ["y", "z"])
    same(y, ref.quantize(x, scale, zp, dtype))
    same(z, ref.dequantize(y, scale, zp))


@pytest.mark.parametrize("axis", [0, 1, 3])
@pytest.mark.parametrize("threads", [1, 3])
def test_quantize_per_axis_from_quant_params(axis, threads):
    shape = (3, 5, 7, 9)
    x = RNG.normal(0, 3, shape).astype(np.float32)
    c = shape[axis]
    s = RNG.uniform(0.01, 0.1, c).astype(np.float32)
    z = RNG.integers(-20, 20, c)
    b = G()
    b.t("x", np.float32, shape)
    b.t("y", np.int8, shape, (s, z), axis=axis)
    b.t("z", np.float32, shape)
    b.node("QuantizeLinear", ["x"], ["y"])
    b.node("DequantizeLinear", ["y"], ["z"])
    y, zz = b.run({"x": x}, ["y", "z"], threads=threads)
    bshape = [1] * 4
    bshape[axis] = c
    same(y, ref.quantize(x, s.reshape(bshape), z.reshape(bshape), np.int8))
    same(zz, ref.dequantize(y, s.reshape(bshape), z.reshape(bshape)))


def test_quantize_blocked_inputs():
    x = RNG.normal(0, 3, (2, 7, 3)).astype(np.float32)
    s = RNG.uniform(0.01, 0.1, (2, 3, 3)).astype(np.float32)   # blocks of 3 along axis 1: ceil(7 / 3) = 3
    z = RNG.integers(-20, 20, (2, 3, 3)).astype(np.int8)
    b = G()
    b.t("x", np.float32, x.shape)
    b.t("s", np.float32, s.shape, data=s)
    b.t("zp", np.int8, z.shape, data=z)
    b.t("y", np.int8, x.shape)
    b.node("QuantizeLinear", ["x", "s", "zp"], ["y"], axis=1, block_size=3)
    (y,) = b.run({"x": x}, ["y"])
    rep = lambda a: np.repeat(a, 3, axis=1)[:, :7]  # noqa: E731
    same(y, ref.quantize(x, rep(s), rep(z), np.int8))


def test_lut_all_codes():
    x = np.arange(-128, 128, dtype=np.int8).reshape(4, 64)
    table = q8(256)
    b = G()
    b.t("x", np.int8, x.shape, (0.1, 3))
    b.t("table", np.int8, (256,), data=table)
    b.t("y", np.int8, x.shape, (0.05, -7))
    b.node("Lut", ["x", "table"], ["y"])
    (y,) = b.run({"x": x}, ["y"])
    same(y, ref.lut(x, table))


def test_lut_bad_table_is_shape_error():
    b = G()
    b.t("x", np.int8, (4,), (0.1, 3))
    b.t("table", np.int8, (255,), data=q8(255))
    b.t("y", np.int8, (4,), (0.05, -7))
    b.node("Lut", ["x", "table"], ["y"])
    with pytest.raises(nanort.ShapeError, match="256"):
        b.run({"x": q8(4)}, ["y"])


def test_quantize_without_any_scale_is_invalid():
    b = G()
    b.t("x", np.float32, (4,))
    b.t("y", np.int8, (4,))
    b.node("QuantizeLinear", ["x"], ["y"])
    with pytest.raises(nanort.InvalidModelError, match="no scale"):
        b.run({"x": np.zeros(4, np.float32)}, ["y"])


# ---- Add / Sub / Mul -----------------------------------------------------------------------

BROADCAST = [((2, 5, 7, 33), (2, 5, 7, 33)), ((2, 5, 7, 33), (33,)), ((2, 5, 7, 33), (1, 1, 1, 1)),
             ((1,), (3, 65)), ((4, 1, 3), (1, 5, 1)), ((2, 3, 1, 16), (2, 1, 9, 1)), ((1000,), (1000,)),
             # long rows of a repeated operand (squeeze-excite scales): blocks of whole rows, either side
             ((2, 5, 7, 200), (200,)), ((130,), (3, 7, 130)), ((2, 30, 300), (1, 1, 300)), ((5, 4097), (4097,))]


def _binary(op, sa, sb, qa, qb, qy, act=None, threads=1, a=None, b=None):
    a = q8(sa) if a is None else a
    b_ = q8(sb) if b is None else b
    g = G()
    g.t("a", np.int8, sa, qa)
    g.t("b", np.int8, sb, qb)
    g.t("y", np.int8, np.broadcast_shapes(sa, sb), qy)
    g.node(op, ["a", "b"], ["y"], activation=ACTS[act])
    (y,) = g.run({"a": a, "b": b_}, ["y"], threads=threads)
    if op == "Mul":
        want = ref.mul(a, qa, b_, qb, qy, act)
    else:
        want = ref.add(a, qa, b_, qb, qy, sub=op == "Sub", act=act)
    same(y, want)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("sa,sb", BROADCAST)
def test_binary_broadcast(op, sa, sb):
    qy = qparams(0.3 if op == "Mul" else 0.1)
    _binary(op, sa, sb, qparams(), qparams(), qy)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("act", ["relu", "clip"])
def test_binary_fused_clamp(op, act):
    _binary(op, (3, 40), (40,), qparams(0.05), qparams(0.05), qparams(0.04), act=act)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("za,zb,zy", [(-128, 127, -128), (127, -128, 127), (0, 0, 0)])
def test_binary_extreme_zero_points(op, za, zb, zy):
    _binary(op, (7, 31), (7, 31), qparams(0.02, za), qparams(0.3, zb), qparams(0.05, zy))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("sa,sb,sy", [(1e-6, 1e-6, 1.0), (100.0, 0.01, 1e-3), (1e-30, 1e-30, 1e-30),
                                      (1e5, 1e5, 1e-5)])
def test_binary_extreme_scales(op, sa, sb, sy):
    _binary(op, (5, 17), (17,), qparams(sa), qparams(sb), qparams(sy))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("seed", [40, 49, 52, 101, 149, 182])
def test_binary_every_pair(op, seed):
    """All 65536 (a, b) code pairs. Rounding differences are rare (about one
    parameter set in 30 changes a byte when Add is evaluated with an FMA or in
    double); these seeds are ones where such a deviation from the contract's
    float steps changes at least one output."""
    rng = np.random.default_rng(seed)
    qs = [(float(np.float32(rng.uniform(0.002, 0.3))), int(rng.integers(-128, 128))) for _ in range(3)]
    codes = np.arange(-128, 128, dtype=np.int8)
    _binary(op, (256, 1), (1, 256), *qs, a=codes.reshape(256, 1), b=codes.reshape(1, 256))


def test_binary_ties_round_to_even():
    # s_a / s_y = 0.5: odd differences land exactly on .5 after the multiply
    a = np.arange(-128, 128, dtype=np.int8)
    _binary("Add", (256,), (1,), (0.5, 0), (1.0, 0), (1.0, 0), a=a, b=np.zeros(1, np.int8))


@pytest.mark.parametrize("threads", [2, 4])
def test_binary_parallel(threads):
    _binary("Add", (3, 64, 64, 17), (17,), qparams(), qparams(), qparams(), threads=threads)
    _binary("Mul", (3, 64, 64, 17), (3, 1, 1, 17), qparams(), qparams(), qparams(0.5), threads=threads)
    _binary("Mul", (2, 3, 96, 200), (1, 1, 1, 200), qparams(), qparams(), qparams(0.5), threads=threads)


def test_plain_int8_add_still_wraps():
    g = G()
    for n in ("a", "b", "y"):
        g.t(n, np.int8, (3,))
    g.node("Add", ["a", "b"], ["y"])
    (y,) = g.run({"a": np.array([100, -100, 5], np.int8), "b": np.array([100, -100, 5], np.int8)}, ["y"])
    same(y, np.array([-56, 56, 10], np.int8))


@pytest.mark.parametrize("case,error,match", [
    ("output_without_params", nanort.InvalidModelError, "no quantization parameters"),
    ("per_channel_activation", nanort.UnsupportedError, "per tensor"),
    ("sigmoid", nanort.UnsupportedError, "no int8 form"),
    ("div", nanort.UnsupportedError, "no int8 kernel"),
    ("huge_multiplier", nanort.UnsupportedError, "2\\^64"),
    ("float_operand", nanort.DTypeError, "int8"),
])
def test_binary_bad_models(case, error, match):
    g = G()
    g.t("a", np.int8, (2, 3), (0.1, 0), axis=None)
    if case == "per_channel_activation":
        g.t("b", np.int8, (2, 3), (np.full(3, 0.1, np.float32), np.zeros(3)), axis=1)
    elif case == "float_operand":
        g.t("b", np.float32, (2, 3))
    else:
        g.t("b", np.int8, (2, 3), (0.1, 0))
    g.t("y", np.int8, (2, 3), None if case == "output_without_params" else
        ((1e-30, 0) if case == "huge_multiplier" else (0.1, 0)))
    act = ACTS[None] if case != "sigmoid" else (ActivationKind.SIGMOID, 0.0, 0.0)
    g.node("Div" if case == "div" else "Add", ["a", "b"], ["y"], activation=act)
    feeds = {"a": q8((2, 3)), "b": q8((2, 3)) if case != "float_operand" else np.ones((2, 3), np.float32)}
    with pytest.raises(error, match=match):
        g.run(feeds, ["y"])


# ---- FullyConnected / MatMul / dynamic FullyConnected ---------------------------------------

def weights(shape, axis=0, per_channel=True):
    """Symmetric int8 weights (-127..127) and their float32 scales along `axis`."""
    w = RNG.integers(-127, 128, size=shape, dtype=np.int8)
    n = shape[axis] if per_channel else 1
    return w, RNG.uniform(0.001, 0.05, n).astype(np.float32)


def weight_tensor(g, name, w, s_w, axis):
    per_channel = s_w.size > 1
    return g.t(name, np.int8, w.shape, (s_w, np.zeros(s_w.size, np.int64)), data=w,
               axis=axis if per_channel else None)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 17, 3), (33, 64, 31), (2, 300, 129)])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("act", [None, "relu"])
def test_fully_connected(m, k, n, per_channel, act):
    qx, qy = qparams(0.05), qparams(0.02 * np.sqrt(k))
    x = q8((m, k))
    w, s_w = weights((n, k), per_channel=per_channel)
    bias = ref.fold_bias(RNG.normal(0, 1, n), qx[0], np.resize(s_w, n), qx[1], w)
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, (n,), data=bias)
    g.t("y", np.int8, (m, n), qy)
    g.node("FullyConnected", ["x", "w", "b"], ["y"], activation=ACTS[act])
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, ref.fully_connected(x, qx, w, s_w, bias, qy, act))


def test_fully_connected_rank3_no_bias_extreme_zero_points():
    qx, qy = qparams(0.05, -128), qparams(0.5, 127)
    x = q8((2, 3, 40))
    w, s_w = weights((7, 40))
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("y", np.int8, (2, 3, 7), qy)
    g.node("FullyConnected", ["x", "w"], ["y"])
    (y,) = g.run({"x": x}, ["y"])
    same(y, ref.fully_connected(x, qx, w, s_w, np.zeros(7, np.int32), qy))


@pytest.mark.parametrize("sx,sy", [(1e-6, 1.0), (10.0, 1e-4), (1e-20, 1e-20), (3.0, 30.0)])
def test_fully_connected_extreme_scales(sx, sy):
    qx, qy = qparams(sx), qparams(sy)
    x = q8((6, 50))
    w, s_w = weights((9, 50))
    bias = RNG.integers(-2 ** 20, 2 ** 20, 9).astype(np.int32)
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, (9,), data=bias)
    g.t("y", np.int8, (6, 9), qy)
    g.node("FullyConnected", ["x", "w", "b"], ["y"])
    (y,) = g.run({"x": x}, ["y"])
    same(y, ref.fully_connected(x, qx, w, s_w, bias, qy))


def test_fully_connected_accumulator_wraps():
    """A hostile bias near INT32_MAX: the sum wraps modulo 2^32 (defined, equal on every kernel)."""
    qx, qy = (1.0, 0), (1.0, 0)
    x = np.full((1, 4), 127, np.int8)
    w = np.full((2, 4), 127, np.int8)
    bias = np.array([2 ** 31 - 100, -2 ** 31 + 5], np.int32)
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, np.ones(1, np.float32), 0)
    g.t("b", np.int32, (2,), data=bias)
    g.t("y", np.int8, (1, 2), qy)
    g.node("FullyConnected", ["x", "w", "b"], ["y"])
    (y,) = g.run({"x": x}, ["y"])
    same(y, ref.fully_connected(x, qx, w, np.ones(1, np.float32), bias, qy))
    assert y[0, 0] == -128  # wrapped to a large negative sum


@pytest.mark.parametrize("sa,sb", [((5, 17), (17, 9)), ((2, 3, 4, 33), (2, 3, 33, 65)), ((3, 1, 8, 16), (4, 16, 5)),
                                   ((300, 7), (7, 300)), ((1, 1), (1, 1))])
def test_matmul(sa, sb):
    qa, qb = qparams(0.05), qparams(0.05)
    qy = qparams(0.02 * np.sqrt(sa[-1]))
    a, b = q8(sa), q8(sb)
    g = G()
    g.t("a", np.int8, sa, qa)
    g.t("b", np.int8, sb, qb)
    g.t("y", np.int8, np.matmul(np.zeros(sa), np.zeros(sb)).shape, qy)
    g.node("MatMul", ["a", "b"], ["y"], activation=ACTS["clip"])
    (y,) = g.run({"a": a, "b": b}, ["y"], threads=3)
    same(y, ref.matmul(a, qa, b, qb, qy, "clip"))


@pytest.mark.parametrize("m,k,n", [(1, 8, 4), (7, 33, 17), (64, 256, 96), (3, 1, 2)])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_dynamic_fully_connected(m, k, n, per_channel, with_bias):
    x = (RNG.normal(0, 2, (m, k)) + RNG.uniform(-3, 3, (m, 1))).astype(np.float32)
    x[0, :] = np.abs(x[0, :])            # a row with min 0 (zero point -128)
    if m > 2:
        x[1, :] = 0.0                    # all zeros: scale 1
        x[2, :] = -np.abs(x[2, :])       # max 0
    w, s_w = weights((n, k), per_channel=per_channel)
    bias = RNG.normal(0, 1, n).astype(np.float32) if with_bias else None
    g = G()
    g.t("x", np.float32, x.shape)
    weight_tensor(g, "w", w, s_w, 0)
    ins = ["x", "w"]
    if with_bias:
        ins.append(g.t("b", np.float32, (n,), data=bias))
    g.t("y", np.float32, (m, n))
    g.node("FullyConnected", ins, ["y"])
    (y,) = g.run({"x": x}, ["y"], threads=2)
    want = ref.dynamic_fully_connected(x, w, s_w, bias)
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))
    # and it approximates the float product
    exact = x @ (w.astype(np.float32) * np.resize(s_w, n)[:, None]).T + (0 if bias is None else bias)
    assert np.abs(y - exact).max() <= 0.02 * np.abs(exact).max() + 1e-6


def test_dynamic_fully_connected_non_finite_rows_and_relu():
    x = RNG.normal(0, 1, (4, 16)).astype(np.float32)
    x[1, 3] = np.nan
    x[2, 0] = np.inf
    x[3, :2] = [3e38, -3e38]             # finite values whose range overflows
    w, s_w = weights((5, 16))
    g = G()
    g.t("x", np.float32, x.shape)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("y", np.float32, (4, 5))
    g.node("FullyConnected", ["x", "w"], ["y"], activation=ACTS["relu"])
    (y,) = g.run({"x": x}, ["y"])
    want = ref.dynamic_fully_connected(x, w, s_w, None, act="relu")
    assert np.isnan(y[1:]).all() and np.isfinite(y[0]).all()
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))


def test_dynamic_fully_connected_readers_of_one_x_share_its_rows():
    """The Q, K and V projections of one x (a float FullyConnected among them): x's rows are
    quantized once per invoke, by the first, and read by the others; every result stays the
    numpy model's on every level, run after run with new values and new row counts."""
    k, n = 40, 24
    (w0, s0), (w1, s1), (w2, s2) = (weights((n, k)) for _ in range(3))
    wf = RNG.normal(0, 1, (n, k)).astype(np.float32)
    bias = RNG.normal(0, 1, n).astype(np.float32)
    g = G()
    g.t("x", np.float32, ("rows", k))
    for name, w, s_w in (("w0", w0, s0), ("w1", w1, s1), ("w2", w2, s2)):
        weight_tensor(g, name, w, s_w, 0)
    g.t("wf", np.float32, wf.shape, data=wf)
    g.t("b", np.float32, (n,), data=bias)
    for y in ("y0", "yf", "y1", "y2"):
        g.t(y, np.float32, ("rows", n))
    g.node("FullyConnected", ["x", "w0"], ["y0"])
    g.node("FullyConnected", ["x", "wf"], ["yf"])
    g.node("FullyConnected", ["x", "w1", "b"], ["y1"])
    g.node("FullyConnected", ["x", "w2"], ["y2"], activation=ACTS["relu"])
    g.g.inputs, g.g.outputs = ["x"], ["y0", "yf", "y1", "y2"]
    data = serialize(g.g)
    for isa in cpu_levels():
        with nanort.Model(data, isa=isa, threads=2) as model:
            for rows in (6, 6, 19, 1):
                x = (RNG.normal(0, 2, (rows, k)) + RNG.uniform(-3, 3, (rows, 1))).astype(np.float32)
                got = model.run({"x": x})
                for y, want in (("y0", ref.dynamic_fully_connected(x, w0, s0)),
                                ("y1", ref.dynamic_fully_connected(x, w1, s1, bias)),
                                ("y2", ref.dynamic_fully_connected(x, w2, s2, act="relu"))):
                    assert np.array_equal(got[y].view(np.uint32), want.view(np.uint32)), (isa, rows, y)
                np.testing.assert_allclose(got["yf"], x @ wf.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case,error,match", [
    ("bias_float", nanort.DTypeError, "int32 bias"),
    ("weight_zero_point", nanort.UnsupportedError, "symmetric"),
    ("scale_count", nanort.InvalidModelError, "scales along axis"),
    ("output_params", nanort.InvalidModelError, "no quantization parameters"),
])
def test_fully_connected_bad_models(case, error, match):
    g = G()
    g.t("x", np.int8, (2, 8), (0.1, 0))
    w = q8((4, 8))
    if case == "weight_zero_point":
        g.t("w", np.int8, w.shape, (np.full(4, 0.1, np.float32), np.ones(4)), data=w, axis=0)
    elif case == "scale_count":
        g.t("w", np.int8, w.shape, (np.full(8, 0.1, np.float32), np.zeros(8)), data=w, axis=1)
    else:
        g.t("w", np.int8, w.shape, (np.full(4, 0.1, np.float32), np.zeros(4)), data=w, axis=0)
    if case == "bias_float":
        g.t("b", np.float32, (4,), data=np.zeros(4, np.float32))
    else:
        g.t("b", np.int32, (4,), data=np.zeros(4, np.int32))
    g.t("y", np.int8, (2, 4), None if case == "output_params" else (0.1, 0))
    g.node("FullyConnected", ["x", "w", "b"], ["y"])
    with pytest.raises(error, match=match):
        g.run({"x": q8((2, 8))}, ["y"])


# ---- Softmax ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((3, 10), -1), ((2, 5, 7), 1), ((4, 1000), 1), ((2, 3, 4, 5), 0),
                                        ((6, 1), 1)])
@pytest.mark.parametrize("s_x", [0.01, 0.1, 1.0, 30.0])
def test_softmax(shape, axis, s_x):
    qx = qparams(s_x)
    x = q8(shape)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, shape, (1 / 256, -128))
    g.node("Softmax", ["x"], ["y"], axis=axis)
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, ref.softmax(x, qx, axis))
    # close to the float softmax
    xi = x.astype(np.int64)
    f = np.exp(np.float64(qx[0]) * (xi - xi.max(axis=axis, keepdims=True)))
    f /= f.sum(axis=axis, keepdims=True)
    assert np.abs((y.astype(np.float64) + 128) / 256 - f).max() <= 1.5 / 256


def test_softmax_requires_fixed_output_params():
    g = G()
    g.t("x", np.int8, (2, 3), (0.1, 0))
    g.t("y", np.int8, (2, 3), (1 / 255, -128))
    g.node("Softmax", ["x"], ["y"], axis=-1)
    with pytest.raises(nanort.InvalidModelError, match="1/256"):
        g.run({"x": q8((2, 3))}, ["y"])


# ---- data movement and Concat on int8 ------------------------------------------------------

def test_concat_rescales_each_input():
    qs = [qparams(), qparams(), qparams()]
    qy = qparams(0.1)
    xs = [q8((2, 3, 5)), q8((2, 4, 5)), q8((2, 1, 5))]
    g = G()
    for i, (x, q) in enumerate(zip(xs, qs)):
        g.t(f"x{i}", np.int8, x.shape, qs[1] if i == 2 else q)   # x2 shares x1's parameters
    g.t("y", np.int8, (2, 8, 5), qy)
    g.node("Concat", ["x0", "x1", "x2"], ["y"], axis=1)
    (y,) = g.run({f"x{i}": x for i, x in enumerate(xs)}, ["y"])
    same(y, ref.concat(xs, [qs[0], qs[1], qs[1]], qy, axis=1))


def test_concat_equal_params_is_a_copy():
    q = qparams()
    xs = [q8((3, 2)), q8((3, 5))]
    g = G()
    g.t("a", np.int8, (3, 2), q)
    g.t("b", np.int8, (3, 5), q)
    g.t("y", np.int8, (3, 7), q)
    g.node("Concat", ["a", "b"], ["y"], axis=1)
    (y,) = g.run({"a": xs[0], "b": xs[1]}, ["y"])
    same(y, np.concatenate(xs, axis=1))


@pytest.mark.parametrize("op,attrs,fn", [
    ("Transpose", {"perm": [0, 2, 1]}, lambda x: x.transpose(0, 2, 1)),
    ("Flatten", {"axis": 1}, lambda x: x.reshape(2, -1)),
])
def test_movement_keeps_values(op, attrs, fn):
    q = qparams()
    x = q8((2, 3, 4))
    want = fn(x)
    g = G()
    g.t("x", np.int8, x.shape, q)
    g.t("y", np.int8, want.shape, q)
    g.node(op, ["x"], ["y"], **attrs)
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)


def test_movement_with_different_params_is_invalid():
    g = G()
    g.t("x", np.int8, (2, 3), (0.1, 0))
    g.t("y", np.int8, (3, 2), (0.2, 0))
    g.node("Transpose", ["x"], ["y"], perm=[1, 0])
    with pytest.raises(nanort.InvalidModelError, match="quantized differently"):
        g.run({"x": q8((2, 3))}, ["y"])


# ---- Conv / ConvTranspose ------------------------------------------------------------------

CONVS = [  # (x NHWC, cout, kernel, stride, dilation, pads t l b r, group)
    ((1, 7, 9, 3), 5, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ((2, 8, 8, 5), 7, (3, 3), (2, 2), (1, 1), (1, 0, 1, 2), 1),
    ((1, 9, 7, 4), 6, (3, 2), (1, 2), (2, 1), (2, 1, 2, 0), 1),
    ((2, 6, 6, 6), 9, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 3),      # grouped 1x1
    ((1, 10, 10, 8), 8, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8),    # depthwise
    ((1, 10, 11, 6), 12, (5, 5), (2, 2), (1, 1), (2, 2, 2, 2), 6),   # depthwise, multiplier 2, stride 2
    ((1, 9, 9, 5), 5, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 5),      # depthwise dilated
    ((3, 5, 4, 17), 33, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),    # pointwise, odd channels, batch 3
    ((1, 4, 4, 300), 260, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0), 1),  # > 256 channels (blocks)
    ((1, 3, 3, 2), 3, (3, 3), (1, 1), (1, 1), (3, 3, 3, 3), 1),      # pads >= kernel: pure padding windows
    ((1, 5, 6, 512), 130, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),  # weights past L2: row tiles inside panels
]


def conv_graph(x_shape, w, s_w, bias, qx, qy, kernel, stride, dilation, pads, group, y_shape, act=None,
               op="Conv", axis=0):
    g = G()
    g.t("x", np.int8, x_shape, qx)
    weight_tensor(g, "w", w, s_w, axis)
    g.t("b", np.int32, bias.shape, data=bias)
    g.t("y", np.int8, y_shape, qy)
    g.node(op, ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(stride), dilations=list(dilation),
           pads=list(pads), group=group, activation=ACTS[act])
    return g


@pytest.mark.parametrize("case", range(len(CONVS)))
@pytest.mark.parametrize("act", [None, "relu"])
def test_conv(case, act):
    shape, cout, kernel, stride, dilation, pads, group = CONVS[case]
    qx, qy = qparams(0.05), qparams(0.1)
    x = q8(shape)
    w, s_w = weights((cout, *kernel, shape[3] // group))
    bias = ref.fold_bias(RNG.normal(0, 2, cout), qx[0], s_w, qx[1], w)
    want = ref.conv2d(x, qx, w, s_w, bias, qy, stride, dilation, pads, group, act)
    g = conv_graph(shape, w, s_w, bias, qx, qy, kernel, stride, dilation, pads, group, want.shape, act)
    (y,) = g.run({"x": x}, ["y"], threads=3)
    same(y, want)


@pytest.mark.parametrize("zx", [-128, 127])
def test_conv_extreme_zero_points_and_per_tensor_weights(zx):
    shape, cout, kernel, stride, dilation, pads, group = CONVS[1]
    qx, qy = qparams(0.02, zx), qparams(0.5, -zx - 1)
    x = q8(shape)
    w, s_w = weights((cout, *kernel, shape[3]), per_channel=False)
    bias = ref.fold_bias(RNG.normal(0, 2, cout), qx[0], np.resize(s_w, cout), qx[1], w)
    want = ref.conv2d(x, qx, w, s_w, bias, qy, stride, dilation, pads, group, "clip", 0.0, 6.0)
    g = conv_graph(shape, w, s_w, bias, qx, qy, kernel, stride, dilation, pads, group, want.shape, "clip")
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)


def test_conv_auto_pad_same():
    x_shape, cout = (1, 7, 8, 4), 6
    qx, qy = qparams(0.05), qparams(0.1)
    x = q8(x_shape)
    w, s_w = weights((cout, 3, 3, 4))
    bias = ref.fold_bias(RNG.normal(0, 2, cout), qx[0], s_w, qx[1], w)
    # SAME_UPPER, stride 2: height 7 -> 4 (pads 1, 1), width 8 -> 4 (pads 0, 1)
    want = ref.conv2d(x, qx, w, s_w, bias, qy, (2, 2), (1, 1), (1, 0, 1, 1), 1)
    g = G()
    g.t("x", np.int8, x_shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, (cout,), data=bias)
    g.t("y", np.int8, want.shape, qy)
    g.node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad=1)
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)


CONV_TRANSPOSES = [  # (x NHWC, cout/group, kernel, stride, dilation, pads t l b r, output_padding, group)
    ((1, 4, 5, 3), 4, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 3, 3, 5), 6, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0), (0, 0), 1),
    ((1, 5, 4, 2), 3, (3, 2), (1, 2), (2, 1), (0, 1, 2, 0), (0, 1), 1),
    ((1, 4, 4, 6), 2, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (0, 0), 3),
]


@pytest.mark.parametrize("case", range(len(CONV_TRANSPOSES)))
def test_conv_transpose(case):
    shape, opg, kernel, stride, dilation, pads, out_pad, group = CONV_TRANSPOSES[case]
    qx, qy = qparams(0.05), qparams(0.1)
    x = q8(shape)
    w, s_w = weights((shape[3], *kernel, opg), axis=3)
    cout = opg * group
    b = RNG.normal(0, 2, cout)
    bias = np.rint(b / (np.float64(qx[0]) * np.resize(s_w, cout).astype(np.float64))).astype(np.int32)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    out_hw = tuple(s * (i - 1) + op + e - pads[a] - pads[a + 2]
                   for a, (s, i, op, e) in enumerate(zip(stride, shape[1:3], out_pad, eff)))
    want = ref.conv_transpose2d(x, qx, w, s_w, bias, qy, stride, dilation, pads[:2], out_hw, group)
    g = G()
    g.t("x", np.int8, shape, qx)
    weight_tensor(g, "w", w, s_w, 3)
    g.t("b", np.int32, (cout,), data=bias)
    g.t("y", np.int8, want.shape, qy)
    g.node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(stride),
           dilations=list(dilation), pads=list(pads), output_padding=list(out_pad), group=group)
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, want)


@pytest.mark.parametrize("case,error,match", [
    ("float_bias", nanort.DTypeError, "bias"),
    ("weights_per_input_channel", nanort.InvalidModelError, "scales along axis"),
    ("no_output_params", nanort.InvalidModelError, "no quantization parameters"),
    ("sigmoid", nanort.UnsupportedError, "no int8 form"),
])
def test_conv_bad_models(case, error, match):
    w = q8((4, 3, 3, 2))
    g = G()
    g.t("x", np.int8, (1, 5, 5, 2), (0.1, 0))
    if case == "weights_per_input_channel":
        g.t("w", np.int8, w.shape, (np.full(2, 0.1, np.float32), np.zeros(2)), data=w, axis=3)
    else:
        g.t("w", np.int8, w.shape, (np.full(4, 0.1, np.float32), np.zeros(4)), data=w, axis=0)
    if case == "float_bias":
        g.t("b", np.float32, (4,), data=np.zeros(4, np.float32))
    else:
        g.t("b", np.int32, (4,), data=np.zeros(4, np.int32))
    g.t("y", np.int8, (1, 3, 3, 4), None if case == "no_output_params" else (0.1, 0))
    act = (ActivationKind.SIGMOID, 0.0, 0.0) if case == "sigmoid" else ACTS[None]
    g.node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], activation=act)
    with pytest.raises(error, match=match):
        g.run({"x": q8((1, 5, 5, 2))}, ["y"])


# ---- pooling -------------------------------------------------------------------------------

POOLS = [  # (x NHWC, kernel, stride, pads t l b r, count_include_pad, ceil_mode)
    ((1, 7, 7, 5), (3, 3), (2, 2), (1, 1, 1, 1), False, False),
    ((2, 6, 9, 3), (3, 3), (2, 2), (1, 1, 1, 1), True, False),
    ((1, 8, 8, 300), (2, 2), (2, 2), (0, 0, 0, 0), False, False),
    ((1, 7, 6, 4), (3, 2), (2, 2), (0, 0, 0, 0), False, True),
    ((1, 5, 5, 2), (5, 5), (1, 1), (2, 2, 2, 2), True, False),
    ((1, 2, 2, 3), (2, 2), (1, 1), (2, 2, 2, 2), False, False),   # windows entirely in the padding: count 0
]


def pool_out(shape, kernel, stride, pads, ceil_mode):
    out = []
    for a in range(2):
        span = shape[1 + a] + pads[a] + pads[a + 2] - kernel[a]
        o = span // stride[a] + 1
        if ceil_mode and span % stride[a]:
            o += 1
            if (o - 1) * stride[a] >= shape[1 + a] + pads[a]:
                o -= 1
        out.append(o)
    return tuple(out)


@pytest.mark.parametrize("case", range(len(POOLS)))
@pytest.mark.parametrize("act", [None, "relu"])
def test_avg_pool(case, act):
    shape, kernel, stride, pads, include_pad, ceil_mode = POOLS[case]
    qx, qy = qparams(0.05), qparams(0.04)
    x = q8(shape)
    out_hw = pool_out(shape, kernel, stride, pads, ceil_mode)
    # count: taps inside the input (or the padded input); ceil_mode's last window may reach past both
    want = ref.avg_pool(x, qx, qy, kernel, stride, pads, include_pad, out_hw, act=act)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, want.shape, qy)
    g.node("AveragePool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride), pads=list(pads),
           count_include_pad=include_pad, ceil_mode=ceil_mode, activation=ACTS[act])
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, want)


@pytest.mark.parametrize("shape", [(1, 7, 7, 5), (3, 1, 1, 300), (2, 16, 16, 33)])
def test_global_avg_pool(shape):
    qx, qy = qparams(0.05), qparams(0.02)
    x = q8(shape)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, (shape[0], 1, 1, shape[3]), qy)
    g.node("GlobalAveragePool", ["x"], ["y"])
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, ref.global_avg_pool(x, qx, qy))


@pytest.mark.parametrize("op", ["MaxPool", "GlobalMaxPool"])
@pytest.mark.parametrize("act", [None, "relu"])
def test_max_pools(op, act):
    q = qparams(0.05, 10)
    x = q8((2, 6, 7, 9))
    g = G()
    g.t("x", np.int8, x.shape, q)
    if op == "MaxPool":
        xp = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], constant_values=-128)
        want = np.stack([np.stack([xp[:, i * 2:i * 2 + 3, j * 2:j * 2 + 3].max(axis=(1, 2)) for j in range(4)], 1)
                         for i in range(3)], 1)
        g.t("y", np.int8, want.shape, q)
        g.node(op, ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], activation=ACTS[act])
    else:
        want = x.max(axis=(1, 2), keepdims=True)
        g.t("y", np.int8, want.shape, q)
        g.node(op, ["x"], ["y"], activation=ACTS[act])
    if act == "relu":
        want = np.maximum(want, np.int8(q[1]))
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)


def test_max_pool_needs_equal_params():
    g = G()
    g.t("x", np.int8, (1, 4, 4, 2), (0.1, 0))
    g.t("y", np.int8, (1, 2, 2, 2), (0.2, 0))
    g.node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    with pytest.raises(nanort.InvalidModelError, match="equal quantization parameters"):
        g.run({"x": q8((1, 4, 4, 2))}, ["y"])


# ---- Resize / Pad ----------------------------------------------------------------------------

COORDS = {"half_pixel": 0, "asymmetric": 1, "pytorch_half_pixel": 2, "align_corners": 3}


def resize_graph(x_shape, out_shape, qx, qy, mode, coord=0, nearest_mode=0):
    g = G()
    g.t("x", np.int8, x_shape, qx)
    g.t("sizes", np.int64, (len(out_shape),), data=np.array(out_shape, np.int64))
    g.t("y", np.int8, out_shape, qy)
    g.node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode, coordinate_transform=coord,
           nearest_mode=nearest_mode)
    return g


@pytest.mark.parametrize("x_shape,out_shape", [((1, 5, 7, 3), (1, 10, 14, 3)), ((2, 8, 6, 5), (2, 3, 13, 5)),
                                               ((1, 4, 4, 300), (1, 8, 8, 300)), ((3, 9), (3, 20)),
                                               ((1, 6, 6, 2), (1, 6, 6, 2))])
@pytest.mark.parametrize("coord", list(COORDS))
def test_resize_linear(x_shape, out_shape, coord):
    qx, qy = qparams(0.05), qparams(0.06)
    x = q8(x_shape)
    g = resize_graph(x_shape, out_shape, qx, qy, 1, COORDS[coord])
    (y,) = g.run({"x": x}, ["y"], threads=2)
    same(y, ref.resize_linear(x, qx, qy, out_shape, coord))


@pytest.mark.parametrize("equal_params", [True, False])
def test_resize_nearest(equal_params):
    qx = qparams(0.05)
    qy = qx if equal_params else qparams(0.03)
    x = q8((2, 5, 6, 7))
    g = resize_graph(x.shape, (2, 10, 18, 7), qx, qy, 0, COORDS["asymmetric"], nearest_mode=2)  # floor
    (y,) = g.run({"x": x}, ["y"])
    want = ref.resize_nearest_asymmetric_floor(x, qx, qy, (1, 2, 3, 1))
    if equal_params:
        same(want, np.repeat(np.repeat(x, 2, axis=1), 3, axis=2))  # a plain copy
    same(y, want)


@pytest.mark.parametrize("pads", [[0, 1, 2, 0, 0, 2, 1, 0], [0, -1, 1, 0, 0, 2, -2, 0], [1, 0, 0, 3, 0, 0, 0, 0]])
@pytest.mark.parametrize("value", [None, 0.0, 0.37, "code"])
def test_pad_constant(pads, value):
    q = qparams(0.05)
    x = q8((2, 4, 5, 3))
    g = G()
    g.t("x", np.int8, x.shape, q)
    g.t("pads", np.int64, (8,), data=np.array(pads, np.int64))
    ins = ["x", "pads"]
    fill = q[1]
    if value == "code":
        ins.append(g.t("v", np.int8, (), data=np.array(-77, np.int8)))
        fill = -77
    elif value is not None:
        ins.append(g.t("v", np.float32, (), data=np.array(value, np.float32)))
        fill = int(ref.quantize(np.float32(value), q[0], q[1], np.int8))
    want = ref.pad(x, (q[0], fill), pads)
    g.t("y", np.int8, want.shape, q)
    g.node("Pad", ins, ["y"], mode=0)
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)


def test_pad_reflect_int8_copies():
    q = qparams(0.05)
    x = q8((1, 4, 5, 2))
    pads = [0, 2, 1, 0, 0, 1, 3, 0]
    g = G()
    g.t("x", np.int8, x.shape, q)
    g.t("pads", np.int64, (8,), data=np.array(pads, np.int64))
    want = np.pad(x, [(0, 0), (2, 1), (1, 3), (0, 0)], mode="reflect")
    g.t("y", np.int8, want.shape, q)
    g.node("Pad", ["x", "pads"], ["y"], mode=1)
    (y,) = g.run({"x": x}, ["y"])
    same(y, want)
