"""Every int8 kernel level this CPU has (ref, avx2, avx512 VNNI; neon, dotprod
on ARM) gives exactly the bytes of the numpy model of the contract
(tests/int8_reference.py) on many random shapes: odd sizes, channel counts
that are not multiples of any vector width, K remainders, padding, stride 2,
dilation, groups, depthwise, 1x1, batch > 1, per-tensor and per-channel
weights, fused Relu / Clip clamps, extreme zero points and multipliers, 1 and
3 threads. Each case is one graph run at every level."""

from __future__ import annotations

import int8_reference as ref
import numpy as np
import pytest
from test_int8_kernels import ACTS, G, q8, same, weight_tensor

import nanort
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

LEVELS = cpu_levels()


def run_levels(g: G, feeds: dict, want: np.ndarray, threads: int = 1, expect_packed: bool = True):
    g.g.inputs, g.g.outputs = list(feeds), ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=threads, check_finite=False) as m:
            (y,) = m.run(None, feeds)
            if expect_packed:  # every level, the reference too, runs the int8 drivers on packed weights
                assert m.packed_weight_bytes > 0, f"{isa}: the int8 kernels were not used"
            try:
                same(y, want)
            except AssertionError as e:
                raise AssertionError(f"level {isa}: {e}") from None


def scales(rng, n, per_channel):
    return rng.uniform(0.001, 0.05, n if per_channel else 1).astype(np.float32)


# ---- Conv ------------------------------------------------------------------------------------

def conv_case(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    kind = ["general", "depthwise", "grouped", "pointwise", "rgb"][seed % 5]
    n = int(rng.integers(1, 3))
    h, w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pads = [int(v) for v in rng.integers(0, 3, 4)]
    if kind == "depthwise":
        cin = int(rng.integers(1, 80))
        group, cout = cin, cin
        if cin == 1:
            group = 1
    elif kind == "grouped":
        group = int(rng.integers(2, 5))
        cin, cout = group * int(rng.integers(1, 9)), group * int(rng.integers(1, 12))
    elif kind == "pointwise":
        cin, cout, group = int(rng.integers(1, 90)), int(rng.integers(1, 90)), 1
        kh = kw = 1
        stride, dil, pads = (1, 1), (1, 1), [0, 0, 0, 0]
    elif kind == "rgb":
        cin, cout, group = 3, int(rng.integers(8, 40)), 1
        kh = kw = 3
        stride = (2, 2)
    else:
        cin, cout, group = int(rng.integers(1, 70)), int(rng.integers(1, 70)), 1
    # the effective kernel must fit the padded input
    h = max(h, (kh - 1) * dil[0] + 1 - pads[0] - pads[2])
    w = max(w, (kw - 1) * dil[1] + 1 - pads[1] - pads[3])
    return dict(shape=(n, h, w, cin), cout=cout, kernel=(kh, kw), stride=stride, dilation=dil, pads=pads,
                group=group, per_channel=bool(rng.integers(0, 4)), act=[None, "relu", "clip"][seed % 3],
                zx=int(rng.integers(-128, 128)), zy=int(rng.integers(-128, 128)), sy=float(rng.uniform(0.02, 0.3)),
                threads=1 + 2 * (seed % 4 == 0))


def conv_graph(c, x, w, s_w, bias, qx, qy, want_shape, lo=0.0, hi=6.0, out="y"):
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    if bias is not None:
        g.t("b", np.int32, bias.shape, data=bias)
    g.t(out, np.int8, want_shape, qy)
    act = ACTS[c["act"]] if c["act"] != "clip" else (ACTS["clip"][0], lo, hi)
    g.node("Conv", ["x", "w"] + (["b"] if bias is not None else []), [out], kernel_shape=list(c["kernel"]),
           strides=list(c["stride"]), dilations=list(c["dilation"]), pads=list(c["pads"]), group=c["group"],
           activation=act)
    return g


def check_conv(c, x=None, qx=None, qy=None, w=None, s_w=None, bias="fold", lo=0.0, hi=6.0):
    rng = np.random.default_rng(hash(str(c)) % 2 ** 32)
    cin, cout, group = c["shape"][3], c["cout"], c["group"]
    qx = qx or (0.05, c["zx"])
    qy = qy or (c["sy"], c["zy"])
    qx, qy = (float(np.float32(qx[0])), qx[1]), (float(np.float32(qy[0])), qy[1])  # as the file stores them
    x = q8(c["shape"]) if x is None else x
    if w is None:
        w = rng.integers(-127, 128, size=(cout, *c["kernel"], cin // group), dtype=np.int8)
        s_w = scales(rng, cout, c["per_channel"])
    if isinstance(bias, str):
        bias = ref.fold_bias(rng.normal(0, 2, cout), qx[0], np.resize(s_w, cout), qx[1], w)
    b = np.zeros(cout, np.int32) if bias is None else bias
    want = ref.conv2d(x, qx, w, s_w, b, qy, c["stride"], c["dilation"], c["pads"], group, c["act"], lo, hi)
    g = conv_graph(c, x, w, s_w, bias, qx, qy, want.shape, lo, hi)
    run_levels(g, {"x": x}, want, threads=c["threads"])


@pytest.mark.parametrize("seed", range(60))
def test_conv_random(seed):
    check_conv(conv_case(seed))


def conv_lut_graph(c, seed):
    """check_conv's Conv (output h) followed by a Lut (output y), and the numpy model of both."""
    rng = np.random.default_rng(seed)
    cin, cout, group = c["shape"][3], c["cout"], c["group"]
    qx, qh = (float(np.float32(0.05)), c["zx"]), (float(np.float32(c["sy"])), c["zy"])
    x = q8(c["shape"])
    w = rng.integers(-127, 128, size=(cout, *c["kernel"], cin // group), dtype=np.int8)
    s_w = scales(rng, cout, c["per_channel"])
    bias = ref.fold_bias(rng.normal(0, 2, cout), qx[0], np.resize(s_w, cout), qx[1], w)
    h = ref.conv2d(x, qx, w, s_w, bias, qh, c["stride"], c["dilation"], c["pads"], group, c["act"], 0.0, 6.0)
    table = q8(256)
    g = conv_graph(c, x, w, s_w, bias, qx, qh, h.shape, out="h")
    g.t("table", np.int8, (256,), data=table)
    g.t("y", np.int8, h.shape, (0.04, -5))
    g.node("Lut", ["h", "table"], ["y"])
    return g, x, h, ref.lut(h, table)


@pytest.mark.parametrize("seed", range(40))
def test_conv_fused_lut(seed):
    """A Lut that alone reads an int8 Conv's output runs inside the conv (the driver applies the table to each
    tile it writes): the Lut node is never evaluated, and the bytes are the numpy conv's then the table's."""
    c = conv_case(seed)
    g, x, h, want = conv_lut_graph(c, seed)
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=c["threads"], check_finite=False) as m:
            m.set_profiling(True)
            (y,) = m.run(None, {"x": x})
            lut_calls = [p["calls"] for p in m.profile() if p["op"] == "Lut"]
            assert lut_calls == [0], f"{isa}: the Lut ran by itself"
            same(y, want)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_conv_lut_not_fused_when_its_input_is_read_elsewhere(seed):
    """The conv's output also a graph output (or read intermediately, preserve_intermediates): the Lut runs
    separately and both values are right."""
    c = conv_case(seed)
    g, x, h, want = conv_lut_graph(c, seed)
    g.g.inputs, g.g.outputs = ["x"], ["y", "h"]
    for isa in LEVELS:
        with nanort.Model(serialize(g.g), isa=isa, check_finite=False) as m:
            y, h_got = m.run(None, {"x": x})
            same(y, want)
            same(h_got, h)
    g.g.outputs = ["y"]
    with nanort.Model(serialize(g.g), check_finite=False, preserve_intermediates=True) as m:
        m.set_profiling(True)
        (y,) = m.run(None, {"x": x})
        same(y, want)
        assert [p["calls"] for p in m.profile() if p["op"] == "Lut"] == [1]


@pytest.mark.parametrize("seed", range(10))
def test_conv_rounds_exact_halves_to_even(seed):
    """Multiplier s_x * s_w / s_y = 1/2 or 1/4 with small values: many acc * m land
    exactly on a half, which the contract rounds to even (np.rint in the numpy model);
    a kernel or reference rounding halves away from zero disagrees."""
    c = dict(conv_case(seed), act=None, zx=0)
    rng = np.random.default_rng(100 + seed)
    cin, cout = c["shape"][3], c["cout"]
    x = rng.integers(-2, 3, size=c["shape"], dtype=np.int8)
    w = rng.integers(-2, 3, size=(cout, *c["kernel"], cin // c["group"]), dtype=np.int8)
    check_conv(c, x=x, qx=([0.5, 0.25][seed % 2], 0), qy=(1.0, c["zy"]), w=w, s_w=np.ones(1, np.float32),
               bias=None)


BIG = [  # larger shapes: several row tiles, column panels and K blocks per call
    dict(shape=(1, 17, 19, 40), cout=72, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=[1, 1, 1, 1], group=1),
    dict(shape=(2, 20, 13, 96), cout=96, kernel=(5, 5), stride=(2, 2), dilation=(1, 1), pads=[2, 2, 2, 2],
         group=96),
    dict(shape=(1, 9, 31, 300), cout=130, kernel=(1, 1), stride=(1, 1), dilation=(1, 1), pads=[0, 0, 0, 0],
         group=1),
    dict(shape=(1, 24, 24, 3), cout=16, kernel=(3, 3), stride=(2, 2), dilation=(1, 1), pads=[1, 1, 1, 1], group=1),
    dict(shape=(3, 6, 7, 130), cout=33, kernel=(2, 3), stride=(1, 2), dilation=(2, 1), pads=[0, 1, 2, 0], group=1),
    # depthwise on maps shorter than the kernel: rows whose top / bottom taps are all padding
    dict(shape=(1, 2, 40, 200), cout=200, kernel=(5, 5), stride=(1, 1), dilation=(1, 1), pads=[2, 2, 2, 2],
         group=200),
    dict(shape=(2, 3, 17, 88), cout=88, kernel=(5, 5), stride=(2, 1), dilation=(1, 1), pads=[2, 2, 2, 2], group=88),
    dict(shape=(1, 4, 9, 24), cout=24, kernel=(3, 3), stride=(1, 1), dilation=(2, 2), pads=[3, 2, 1, 2], group=24),
    dict(shape=(1, 1, 5, 40), cout=40, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=[4, 1, 0, 1], group=40),
    # depthwise channel counts at the tile boundaries (16, 32 + 16, 32 + 17)
    dict(shape=(1, 9, 11, 16), cout=16, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=[1, 1, 1, 1], group=16),
    dict(shape=(1, 7, 10, 48), cout=48, kernel=(3, 3), stride=(2, 2), dilation=(1, 1), pads=[1, 1, 1, 1], group=48),
    dict(shape=(1, 7, 10, 49), cout=49, kernel=(5, 5), stride=(1, 1), dilation=(1, 1), pads=[2, 2, 2, 2], group=49),
]


@pytest.mark.parametrize("case", range(len(BIG)))
@pytest.mark.parametrize("threads", [1, 3])
def test_conv_large(case, threads):
    c = dict(BIG[case], per_channel=True, act="relu", zx=-7, zy=3, sy=0.3, threads=threads)
    check_conv(c)


@pytest.mark.parametrize("zx,zy", [(-128, 127), (127, -128)])
@pytest.mark.parametrize("kind", [0, 1, 3])
def test_conv_extreme_zero_points(zx, zy, kind):
    c = dict(conv_case(kind), zx=zx, zy=zy)
    check_conv(c)


@pytest.mark.parametrize("sx,sy", [(1e-6, 1.0), (10.0, 1e-4), (1e-20, 1e-20), (3.0, 300.0)])
@pytest.mark.parametrize("kind", [0, 1, 3])
def test_conv_extreme_multipliers(sx, sy, kind):
    c = conv_case(10 + kind)
    bias = np.random.default_rng(kind).integers(-2 ** 20, 2 ** 20, c["cout"]).astype(np.int32)
    check_conv(c, qx=(sx, 5), qy=(sy, -3), bias=bias)


@pytest.mark.parametrize("kind", [0, 1, 3])
def test_conv_no_bias_and_hostile_bias(kind):
    c = conv_case(20 + kind)
    check_conv(c, bias=None)
    # a bias near INT32_MAX: the accumulator wraps modulo 2^32 on every level
    check_conv(c, bias=np.array([2 ** 31 - 5 - i if i % 2 else -2 ** 31 + i for i in range(c["cout"])], np.int32))


@pytest.mark.parametrize("kind", [0, 1])
def test_conv_accumulator_wraps_on_every_level(kind):
    """All weights and inputs -128 / 127 so that sums are huge: each level must wrap identically."""
    c = dict(conv_case(30 + kind), act=None)
    cin, cout, group = c["shape"][3], c["cout"], c["group"]
    w = np.full((cout, *c["kernel"], cin // group), -127, np.int8)
    x = np.full(c["shape"], -128, np.int8)
    check_conv(c, x=x, w=w, s_w=np.ones(1, np.float32), qx=(1.0, 127), qy=(1.0, 0),
               bias=np.full(cout, 2 ** 31 - 1000, np.int32))


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.25), (0.1, 0.1), (0.0, 1e-3)])
def test_conv_clip_bounds(lo, hi):
    """Narrow clamps, down to a single code."""
    for kind in (0, 1, 3):
        c = dict(conv_case(40 + kind), act="clip")
        check_conv(c, lo=lo, hi=hi)


# ---- FullyConnected ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(24))
def test_fully_connected_random(seed):
    rng = np.random.default_rng(1000 + seed)
    m, k, n = int(rng.integers(1, 30)), int(rng.integers(1, 200)), int(rng.integers(1, 100))
    if seed % 6 == 0:
        k = int(rng.integers(300, 1100))
    qx, qy = (0.05, int(rng.integers(-128, 128))), (float(0.02 * np.sqrt(k)), int(rng.integers(-128, 128)))
    x = q8((m, k))
    w = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
    s_w = scales(rng, n, seed % 3 != 0)
    bias = ref.fold_bias(rng.normal(0, 1, n), qx[0], np.resize(s_w, n), qx[1], w)
    act = [None, "relu", "clip"][seed % 3]
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, (n,), data=bias)
    g.t("y", np.int8, (m, n), qy)
    g.node("FullyConnected", ["x", "w", "b"], ["y"], activation=ACTS[act])
    run_levels(g, {"x": x}, ref.fully_connected(x, qx, w, s_w, bias, qy, act), threads=1 + (seed % 2))


@pytest.mark.parametrize("seed", range(16))
def test_dynamic_fully_connected_random(seed):
    """float x, int8 W, float y (rows quantized at run time): the bits of the numpy model at
    every level; seeds 10 and 11 take the rec head's [40, 120] x [6625, 120], 12 to 15 the
    row blocks of 8, 4, 2 and 1 together with K remainders and column tails; rows that
    cannot be quantized (NaN / inf / a range that overflows: NaN outputs)."""
    rng = np.random.default_rng(2000 + seed)
    m, k, n = int(rng.integers(1, 12)), int(rng.integers(1, 90)), int(rng.integers(1, 70))
    if seed in (10, 11):
        m, k, n = 40, 120, 6625
    elif seed >= 12:
        m, k, n = int(rng.integers(16, 48)), int(rng.integers(60, 400)), int(rng.integers(33, 130))
    x = (rng.normal(0, 2, (m, k)) + rng.uniform(-3, 3, (m, 1))).astype(np.float32)
    x[0] = np.abs(x[0])
    if m > 3:
        x[1], x[2, 0], x[3, :1] = 0.0, np.nan, 3e38
        x[3, -1] = -3e38 if k > 1 else x[3, -1]
    w = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
    s_w = scales(rng, n, seed % 3 != 0)
    bias = rng.normal(0, 1, n).astype(np.float32) if seed % 2 else None
    act = [None, "relu", "clip"][seed % 3]
    g = G()
    g.t("x", np.float32, x.shape)
    weight_tensor(g, "w", w, s_w, 0)
    ins = ["x", "w"] + ([g.t("b", np.float32, (n,), data=bias)] if bias is not None else [])
    g.t("y", np.float32, (m, n))
    g.node("FullyConnected", ins, ["y"], activation=ACTS[act])
    want = ref.dynamic_fully_connected(x, w, s_w, bias, act=act)
    if act == "clip":  # the numpy model has Relu only: Clip(0, 6) as nrt_activation_apply writes it
        want = np.where(want < 0, np.float32(0), np.where(want > 6, np.float32(6), want)).astype(np.float32)
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=1 + seed % 2, check_finite=False) as model:
            (y,) = model.run(None, {"x": x})
            if isa in ("avx2", "avx512", "avx512vbmi"):
                assert model.packed_weight_bytes > 0, f"the {isa} dynamic FullyConnected kernel was not used"
        assert np.array_equal(y.view(np.uint32), want.view(np.uint32)), isa


def _rows_to_quantize(rng: np.random.Generator, k: int) -> np.ndarray:
    """Rows that reach every branch of the row quantizer, special values in the vector body
    and in the scalar tail of each level's loop."""
    rows = [rng.normal(0, 2, k) + rng.uniform(-3, 3), np.abs(rng.normal(0, 1, k)), -np.abs(rng.normal(0, 1, k)),
            np.zeros(k), np.full(k, -0.0), np.where(rng.random(k) < 0.5, -0.0, 0.0), np.full(k, 2.5),
            rng.normal(0, 1e-39, k), rng.normal(0, 1e30, k)]
    for pos in {0, k // 2, k - 1}:
        for bad in (np.nan, np.inf, -np.inf, 3e38):
            r = rng.normal(0, 1, k)
            r[pos] = bad
            if bad == 3e38:
                r[(pos + 1) % k] = -3e38  # finite values whose range overflows (k = 1: one 3e38, fine)
            rows.append(r)
    return np.array(rows, np.float32)


@pytest.mark.parametrize("k", [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 64, 100, 257])
def test_dynamic_row_quantizer(k):
    """The row quantizer of each level (AVX-512, AVX2, the reference) against the numpy model:
    W the identity with scale 1, so y shows each row's q - z times its scale."""
    rng = np.random.default_rng(k)
    x = _rows_to_quantize(rng, k)
    w, s_w = np.eye(k, dtype=np.int8), np.ones(1, np.float32)
    g = G()
    g.t("x", np.float32, x.shape)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("y", np.float32, (x.shape[0], k))
    g.node("FullyConnected", ["x", "w"], ["y"])
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    want = ref.dynamic_fully_connected(x, w, s_w)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, check_finite=False) as model:
            (y,) = model.run(None, {"x": x})
        assert np.array_equal(y.view(np.uint32), want.view(np.uint32)), isa


# ---- elementwise, Lut, pooling ---------------------------------------------------------------

def run_simple(g: G, feeds: dict, want: np.ndarray, threads: int = 1):
    run_levels(g, feeds, want, threads=threads, expect_packed=False)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("sa,sb", [((1, 3, 5, 88), (1, 1, 1, 88)), ((2, 7, 9, 33), (2, 7, 9, 33)),
                                   ((1, 4, 4, 16), (1,)), ((1,), (5, 63)), ((3, 1, 17), (1, 4, 1)),
                                   ((1001,), (1001,)), ((1, 2, 3, 200), (1, 2, 3, 1))])
@pytest.mark.parametrize("act", [None, "relu"])
def test_binary(op, sa, sb, act):
    rng = np.random.default_rng(len(sa) * 7 + sb[-1])
    f32 = lambda v: float(np.float32(v))  # noqa: E731  scales as the file stores them
    qa, qb = (f32(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))), (f32(rng.uniform(0.01, 0.2)), -128)
    qy = (f32(0.3 if op == "Mul" else 0.1), int(rng.integers(-128, 128)))
    a, b = q8(sa), q8(sb)
    g = G()
    g.t("a", np.int8, sa, qa)
    g.t("b", np.int8, sb, qb)
    g.t("y", np.int8, np.broadcast_shapes(sa, sb), qy)
    g.node(op, ["a", "b"], ["y"], activation=ACTS[act])
    want = ref.mul(a, qa, b, qb, qy, act) if op == "Mul" else ref.add(a, qa, b, qb, qy, sub=op == "Sub", act=act)
    run_simple(g, {"a": a, "b": b}, want, threads=2)


@pytest.mark.parametrize("op", ["Add", "Mul"])
@pytest.mark.parametrize("seed", [40, 49, 52, 101])
def test_binary_every_pair(op, seed):
    """All 65536 code pairs, with parameters where a deviation from the float steps shows."""
    rng = np.random.default_rng(seed)
    qs = [(float(np.float32(rng.uniform(0.002, 0.3))), int(rng.integers(-128, 128))) for _ in range(3)]
    a = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    b = a.reshape(1, 256)
    g = G()
    g.t("a", np.int8, a.shape, qs[0])
    g.t("b", np.int8, b.shape, qs[1])
    g.t("y", np.int8, (256, 256), qs[2])
    g.node(op, ["a", "b"], ["y"])
    want = ref.mul(a, qs[0], b, qs[1], qs[2]) if op == "Mul" else ref.add(a, qs[0], b, qs[1], qs[2])
    run_simple(g, {"a": a, "b": b}, want)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 4099])
def test_lut(n):
    table = q8(256)
    x = np.resize(np.arange(-128, 128, dtype=np.int8), n)
    np.random.default_rng(n).shuffle(x)
    g = G()
    g.t("x", np.int8, (n,), (0.1, 3))
    g.t("table", np.int8, (256,), data=table)
    g.t("y", np.int8, (n,), (0.05, -7))
    g.node("Lut", ["x", "table"], ["y"])
    run_simple(g, {"x": x}, ref.lut(x, table), threads=2)


@pytest.mark.parametrize("shape,axis", [((3, 10), -1), ((1, 16, 4, 2100), 1), ((2, 5, 7), 1), ((4, 1000), 1),
                                        ((2, 3, 4, 5), 0), ((6, 1), 1), ((5, 17), 1), ((1, 3, 77, 9), 2),
                                        ((2, 300, 31), 1), ((1, 8, 130), -1), ((7, 16), 0), ((1, 1, 1), 2)])
@pytest.mark.parametrize("s_x", [0.004, 0.1, 30.0])
def test_softmax(shape, axis, s_x):
    """Rows (the last axis) and strided axes: vector columns, column tails, row tails."""
    rng = np.random.default_rng(len(shape) * 31 + shape[axis])
    qx = (float(np.float32(s_x)), int(rng.integers(-128, 128)))
    x = q8(shape)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, shape, (1 / 256, -128))
    g.node("Softmax", ["x"], ["y"], axis=axis)
    run_simple(g, {"x": x}, ref.softmax(x, qx, axis), threads=2)


def test_softmax_extreme_rows():
    """A row of equal maxima (every e = 65536: the largest sums) and one dominant value (quotient 256 -> 127)."""
    x = np.full((3, 4000), 127, np.int8)
    x[1] = -128
    x[1, 5] = 127
    x[2, ::2] = -128
    qx = (float(np.float32(30.0)), 0)
    g = G()
    g.t("x", np.int8, x.shape, qx)
    g.t("y", np.int8, x.shape, (1 / 256, -128))
    g.node("Softmax", ["x"], ["y"], axis=-1)
    run_simple(g, {"x": x}, ref.softmax(x, qx, -1))


@pytest.mark.parametrize("shape", [(1, 7, 7, 5), (3, 1, 1, 300), (2, 16, 16, 33), (1, 3, 96, 88), (1, 2, 2, 64)])
@pytest.mark.parametrize("zx", [-128, 5, 127])
def test_global_avg_pool(shape, zx):
    qx, qy = (float(np.float32(0.05)), zx), (float(np.float32(0.02)), -3)
    x = q8(shape)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, (shape[0], 1, 1, shape[3]), qy)
    g.node("GlobalAveragePool", ["x"], ["y"])
    run_simple(g, {"x": x}, ref.global_avg_pool(x, qx, qy), threads=2)


POOLS = [  # (x NHWC, kernel, stride, pads t l b r, count_include_pad, ceil_mode)
    ((1, 7, 7, 5), (3, 3), (2, 2), (1, 1, 1, 1), False, False),
    ((2, 6, 9, 70), (3, 3), (2, 2), (1, 1, 1, 1), True, False),
    ((1, 8, 8, 300), (2, 2), (2, 2), (0, 0, 0, 0), False, False),
    ((1, 7, 6, 4), (3, 2), (2, 2), (0, 0, 0, 0), False, True),
    ((1, 5, 5, 17), (5, 5), (1, 1), (2, 2, 2, 2), True, False),
    ((1, 2, 2, 3), (2, 2), (1, 1), (2, 2, 2, 2), False, False),   # windows entirely in the padding
    ((1, 4, 40, 64), (2, 2), (2, 1), (0, 0, 0, 1), False, False),
]


@pytest.mark.parametrize("case", range(len(POOLS)))
@pytest.mark.parametrize("act", [None, "relu"])
def test_avg_pool(case, act):
    from test_int8_kernels import pool_out
    shape, kernel, stride, pads, include_pad, ceil_mode = POOLS[case]
    qx, qy = (float(np.float32(0.05)), -20), (float(np.float32(0.04)), 9)  # scales as the file stores them
    x = q8(shape)
    out_hw = pool_out(shape, kernel, stride, pads, ceil_mode)
    want = ref.avg_pool(x, qx, qy, kernel, stride, pads, include_pad, out_hw, act=act)
    g = G()
    g.t("x", np.int8, shape, qx)
    g.t("y", np.int8, want.shape, qy)
    g.node("AveragePool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride), pads=list(pads),
           count_include_pad=include_pad, ceil_mode=ceil_mode, activation=ACTS[act])
    run_simple(g, {"x": x}, want, threads=2)


@pytest.mark.parametrize("case", range(len(POOLS)))
@pytest.mark.parametrize("act", [None, "relu"])
def test_max_pool(case, act):
    from test_int8_kernels import pool_out
    shape, kernel, stride, pads, _, ceil_mode = POOLS[case]
    q = (0.05, 10)
    x = q8(shape)
    oh, ow = pool_out(shape, kernel, stride, pads, ceil_mode)
    xp = np.full((shape[0], shape[1] + pads[0] + pads[2] + kernel[0], shape[2] + pads[1] + pads[3] + kernel[1],
                  shape[3]), -128, np.int8)
    xp[:, pads[0]:pads[0] + shape[1], pads[1]:pads[1] + shape[2]] = x
    want = np.stack([np.stack([xp[:, i * stride[0]:i * stride[0] + kernel[0], j * stride[1]:j * stride[1] + kernel[1]]
                               .max(axis=(1, 2)) for j in range(ow)], 1) for i in range(oh)], 1)
    if act == "relu":
        want = np.maximum(want, np.int8(q[1]))
    g = G()
    g.t("x", np.int8, shape, q)
    g.t("y", np.int8, want.shape, q)
    g.node("MaxPool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride), pads=list(pads),
           ceil_mode=ceil_mode, activation=ACTS[act])
    run_simple(g, {"x": x}, want, threads=2)


# ---- ConvTranspose (kernel == stride: the upsampling GEMM; others: reference on every level) ----

CONVT = [  # (x NHWC, cout, kernel, stride, pads t l b r, per_channel, act)
    ((1, 5, 7, 24), 24, (2, 2), (2, 2), (0, 0, 0, 0), True, "relu"),
    ((2, 4, 3, 5), 1, (2, 2), (2, 2), (0, 0, 0, 0), True, None),
    ((1, 3, 6, 37), 19, (3, 3), (3, 3), (0, 0, 0, 0), False, "clip"),
    ((1, 6, 5, 16), 40, (2, 1), (2, 1), (0, 0, 0, 0), True, None),
    ((1, 9, 9, 70), 33, (2, 2), (2, 2), (0, 0, 0, 0), True, "relu"),
    # every kernel position in one panel (kh x kw x cout <= nr: one GEMM, then scattered)
    ((1, 3, 14, 24), 1, (2, 2), (2, 2), (0, 0, 0, 0), False, "relu"),
    ((2, 3, 13, 10), 8, (2, 2), (2, 2), (0, 0, 0, 0), True, "clip"),
    ((1, 2, 5, 7), 3, (3, 3), (3, 3), (0, 0, 0, 0), True, None),
    ((1, 4, 5, 8), 6, (3, 3), (2, 2), (1, 1, 1, 1), True, None),   # not an upsampling geometry: reference
    # kh x kw x cout dividing a vector (AVX-512 VNNI: several pixels per vector, the convt table):
    # partial vectors, widths below one vector of pixels, K not a multiple of 4, batch > 1
    ((2, 3, 5, 24), 1, (2, 2), (2, 2), (0, 0, 0, 0), True, None),
    ((1, 2, 3, 13), 2, (2, 2), (2, 2), (0, 0, 0, 0), True, "relu"),
    ((1, 4, 2, 6), 1, (1, 1), (1, 1), (0, 0, 0, 0), False, None),
    ((1, 3, 7, 30), 4, (2, 2), (2, 2), (0, 0, 0, 0), True, "clip"),
    ((1, 5, 9, 8), 2, (1, 1), (1, 1), (0, 0, 0, 0), True, None),
    ((2, 2, 17, 3), 1, (2, 1), (2, 1), (0, 0, 0, 0), True, None),
    ((1, 2, 5, 64), 1, (4, 4), (4, 4), (0, 0, 0, 0), True, "relu"),
    ((1, 3, 6, 40), 1, (2, 2), (2, 2), (0, 0, 0, 0), True, None),   # 4 pixels x 40 bytes > 2 zmm: the GEMM
    # whole vectors per kernel row (the wide kernel: 32 .. 96 outputs per pixel), K odd, batch > 1
    ((2, 3, 5, 13), 16, (2, 2), (2, 2), (0, 0, 0, 0), True, "relu"),
    ((1, 2, 9, 7), 32, (1, 1), (1, 1), (0, 0, 0, 0), False, None),
    ((1, 4, 3, 24), 16, (3, 2), (3, 2), (0, 0, 0, 0), True, "clip"),
]


@pytest.mark.parametrize("case", range(len(CONVT)))
@pytest.mark.parametrize("zx", [-128, 0, 127])
def test_conv_transpose(case, zx):
    shape, cout, kernel, stride, pads, per_channel, act = CONVT[case]
    rng = np.random.default_rng(case * 300 + zx + 128)
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    qx, qy = (f32(0.05), zx), (f32(0.1 * np.sqrt(shape[3] / 8)), int(rng.integers(-128, 128)))
    x = q8(shape)
    w = rng.integers(-127, 128, size=(shape[3], *kernel, cout), dtype=np.int8)
    s_w = scales(rng, cout, per_channel)
    bias = np.rint(rng.normal(0, 2, cout) / (np.float64(qx[0]) * np.resize(s_w, cout))).astype(np.int32)
    out_hw = tuple(s * (i - 1) + k - pads[a] - pads[a + 2]
                   for a, (s, i, k) in enumerate(zip(stride, shape[1:3], kernel)))
    want = ref.conv_transpose2d(x, qx, w, s_w, bias, qy, stride, (1, 1), pads[:2], out_hw, 1, act)
    g = G()
    g.t("x", np.int8, shape, qx)
    weight_tensor(g, "w", w, s_w, 3)
    g.t("b", np.int32, (cout,), data=bias)
    g.t("y", np.int8, want.shape, qy)
    g.node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(stride),
           pads=list(pads), group=1, activation=ACTS[act])
    run_levels(g, {"x": x}, want, threads=1 + case % 2, expect_packed=pads == (0, 0, 0, 0))


# ---- Concat / nearest Resize rescale --------------------------------------------------------

# the kernel rescales blocks of rows of up to 4 KiB: one block, many blocks and a partial one, rows wider than a block
@pytest.mark.parametrize("hw, channels", [((9, 11), (24, 5, 33, 16)), ((40, 41), (24, 5, 33, 16)),
                                          ((3, 5), (24, 5000, 3, 2100))])
def test_concat_rescale(hw, channels):
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    qs = [(f32(0.03), -5), (f32(0.2), 100), (f32(0.07), -128), (f32(0.1), 7)]
    qy = (f32(0.1), 7)
    xs = [q8((1, *hw, c)) for c in channels]
    g = G()
    for i, (x, q) in enumerate(zip(xs, qs)):
        g.t(f"x{i}", np.int8, x.shape, q)
    g.t("y", np.int8, (1, *hw, sum(channels)), qy)
    g.node("Concat", [f"x{i}" for i in range(4)], ["y"], axis=3)
    run_simple(g, {f"x{i}": x for i, x in enumerate(xs)}, ref.concat(xs, qs, qy, axis=3), threads=2)


@pytest.mark.parametrize("factor", [(1, 2, 2, 1), (1, 8, 8, 1)])
def test_resize_nearest_rescale(factor):
    from test_int8_kernels import resize_graph
    qx, qy = (float(np.float32(0.05)), 3), (float(np.float32(0.03)), -9)
    x = q8((1, 5, 6, 24))
    out = tuple(d * f for d, f in zip(x.shape, factor))
    g = resize_graph(x.shape, out, qx, qy, 0, 1, nearest_mode=2)  # asymmetric, floor
    run_simple(g, {"x": x}, ref.resize_nearest_asymmetric_floor(x, qx, qy, factor), threads=2)


# ---- QuantizeLinear (float32 -> int8, one scale) ----------------------------------------------

@pytest.mark.parametrize("scale,zp", [(0.05, -7), (1.0, 0), (3e-6, 127), (1e3, -128)])
def test_quantize(scale, zp):
    scale = float(np.float32(scale))
    special = np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)
    x = np.concatenate([np.random.default_rng(zp + 128).normal(0, 200 * scale, 1001).astype(np.float32),
                        special * np.float32(scale),
                        (np.arange(-300, 300, dtype=np.float32) + 0.5) * np.float32(scale)])
    g = G()
    g.t("x", np.float32, x.shape)
    g.t("y", np.int8, x.shape, (scale, zp))
    g.node("QuantizeLinear", ["x"], ["y"])
    run_simple(g, {"x": x}, ref.quantize(x, scale, zp, np.int8), threads=2)


@pytest.mark.parametrize("zp", [-128, -3, 127])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000])
def test_dequantize(zp, n):
    scale = float(np.float32(0.0371))
    q = np.resize(np.arange(-128, 128, dtype=np.int8), n)
    g = G()
    g.t("q", np.int8, (n,), (scale, zp))
    g.t("y", np.float32, (n,))
    g.node("DequantizeLinear", ["q"], ["y"])
    g.g.inputs, g.g.outputs = ["q"], ["y"]
    data = serialize(g.g)
    want = ref.dequantize(q, scale, zp)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, check_finite=False) as m:
            (y,) = m.run(None, {"q": q})
            assert np.array_equal(y.view(np.uint32), want.view(np.uint32)), isa


# ---- MatMul of two int8 activations ------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((5, 17), (17, 9)), ((2, 3, 4, 33), (2, 3, 33, 65)), ((3, 1, 8, 16), (4, 16, 5)),
                                   ((1, 8, 40, 15), (1, 8, 15, 40)), ((1, 8, 40, 40), (1, 8, 40, 15)),
                                   ((300, 7), (7, 300)), ((1, 1), (1, 1)), ((7,), (7, 3)), ((2, 6, 5), (5,))])
@pytest.mark.parametrize("za,zb", [(-128, 127), (3, -9), (127, -128)])
def test_matmul(sa, sb, za, zb):
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    qa, qb = (f32(0.05), za), (f32(0.04), zb)
    qy = (f32(0.02 * np.sqrt(sa[-1]) * 10), -3)
    a, b = q8(sa), q8(sb)
    g = G()
    g.t("a", np.int8, sa, qa)
    g.t("b", np.int8, sb, qb)
    g.t("y", np.int8, np.matmul(np.zeros(sa), np.zeros(sb)).shape, qy)
    g.node("MatMul", ["a", "b"], ["y"], activation=ACTS["relu"])
    run_simple(g, {"a": a, "b": b}, ref.matmul(a, qa, b, qb, qy, "relu"), threads=3)
