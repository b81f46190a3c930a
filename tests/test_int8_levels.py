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

ALL_LEVELS = ["ref", "avx2", "avx512", "neon", "dotprod"]


def _available() -> list[str]:
    g = G()
    g.t("x", np.float32, (1,))
    g.t("y", np.float32, (1,))
    g.node("Relu", ["x"], ["y"])
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data, out = serialize(g.g), []
    for isa in ALL_LEVELS:
        try:
            nanort.Model(data, isa=isa).close()
            out.append(isa)
        except nanort.Error:
            pass
    return out


LEVELS = _available()


def run_levels(g: G, feeds: dict, want: np.ndarray, threads: int = 1, expect_packed: bool = True):
    g.g.inputs, g.g.outputs = list(feeds), ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=threads, check_finite=False) as m:
            (y,) = m.run(None, feeds)
            if expect_packed and isa != "ref" and isa in ("avx2", "avx512"):
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


def conv_graph(c, x, w, s_w, bias, qx, qy, want_shape, lo=0.0, hi=6.0):
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    if bias is not None:
        g.t("b", np.int32, bias.shape, data=bias)
    g.t("y", np.int8, want_shape, qy)
    act = ACTS[c["act"]] if c["act"] != "clip" else (ACTS["clip"][0], lo, hi)
    g.node("Conv", ["x", "w"] + (["b"] if bias is not None else []), ["y"], kernel_shape=list(c["kernel"]),
           strides=list(c["stride"]), dilations=list(c["dilation"]), pads=list(c["pads"]), group=c["group"],
           activation=act)
    return g


def check_conv(c, x=None, qx=None, qy=None, w=None, s_w=None, bias="fold", lo=0.0, hi=6.0):
    rng = np.random.default_rng(hash(str(c)) % 2 ** 32)
    cin, cout, group = c["shape"][3], c["cout"], c["group"]
    qx = qx or (0.05, c["zx"])
    qy = qy or (c["sy"], c["zy"])
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


BIG = [  # larger shapes: several row tiles, column panels and K blocks per call
    dict(shape=(1, 17, 19, 40), cout=72, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=[1, 1, 1, 1], group=1),
    dict(shape=(2, 20, 13, 96), cout=96, kernel=(5, 5), stride=(2, 2), dilation=(1, 1), pads=[2, 2, 2, 2],
         group=96),
    dict(shape=(1, 9, 31, 300), cout=130, kernel=(1, 1), stride=(1, 1), dilation=(1, 1), pads=[0, 0, 0, 0],
         group=1),
    dict(shape=(1, 24, 24, 3), cout=16, kernel=(3, 3), stride=(2, 2), dilation=(1, 1), pads=[1, 1, 1, 1], group=1),
    dict(shape=(3, 6, 7, 130), cout=33, kernel=(2, 3), stride=(1, 2), dilation=(2, 1), pads=[0, 1, 2, 0], group=1),
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
