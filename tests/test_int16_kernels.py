"""16x8 layers (int16 activations, int8 weights, kernels/requant.h): every kernel level
this CPU has gives exactly the numpy model's int16 values (tests/int16_reference.py) on
many shapes -- 1x1 (the GEMM read in place), KxK with padding, stride and dilation
(indirect GEMM), grouped and depthwise convs (the depthwise tables on shapes of their
own), FullyConnected, K past the kernels' int32 block (NRT_QS16_K_BLOCK) and extreme
inputs (every product at its largest), fused Relu / Clip, 1 and 3 threads. The aarch64
levels run in test_aarch64.py's qemu build."""

from __future__ import annotations

import int16_reference as ref
import numpy as np
import pytest
from test_int8_kernels import ACTS, BROADCAST, G, weight_tensor

import nanort
from nanort.converter.serialize import serialize
from nanort.runtime.model import cpu_levels

LEVELS = cpu_levels()


def run_levels(g: G, x: np.ndarray, want: np.ndarray, threads: int = 1) -> None:
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=threads, check_finite=False) as m:
            (y,) = m.run(None, {"x": x})
        assert y.dtype == np.int16
        bad = np.flatnonzero(y.astype(np.int32) != want.astype(np.int32))
        assert bad.size == 0, (f"level {isa}: {bad.size} of {y.size} values differ, first at {bad[0]}: "
                               f"{y.reshape(-1)[bad[0]]} != {want.reshape(-1)[bad[0]]}")


def x16(rng, shape, extreme: bool) -> np.ndarray:
    """extreme: every value -32768, so with weights.extreme every product is +-2^22 and a column's sum
    grows by that much per k: past 2^31 after 512 k, what an int32 accumulator would wrap."""
    if extreme:
        return np.full(shape, -32768, np.int16)
    return rng.integers(-32768, 32768, size=shape, dtype=np.int16)


def conv_case(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    kind = ["pointwise", "general", "depthwise", "grouped", "long_k"][seed % 5]
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pads = [int(v) for v in rng.integers(0, 3, 4)]
    group = 1
    if kind == "pointwise":
        cin, cout, kh, kw, stride, dil, pads = int(rng.integers(1, 70)), int(rng.integers(1, 70)), 1, 1, (1, 1), \
            (1, 1), [0, 0, 0, 0]
    elif kind == "depthwise":
        cin = cout = group = int(rng.integers(2, 40))
    elif kind == "grouped":
        group = int(rng.integers(2, 4))
        cin, cout = group * int(rng.integers(1, 6)), group * int(rng.integers(1, 8))
    elif kind == "long_k":  # K crosses the int32 block: 1x1 with 300..700 channels, or 3x3 with 60..90
        cin, cout = (int(rng.integers(300, 700)), int(rng.integers(1, 40))) if seed % 2 else \
            (int(rng.integers(60, 90)), int(rng.integers(1, 20)))
        kh = kw = 1 if seed % 2 else 3
    else:
        cin, cout = int(rng.integers(1, 50)), int(rng.integers(1, 50))
    h = max(h, (kh - 1) * dil[0] + 1 - pads[0] - pads[2])
    w = max(w, (kw - 1) * dil[1] + 1 - pads[1] - pads[3])
    return dict(shape=(1 + seed % 2, h, w, cin), cout=cout, kernel=(kh, kw), stride=stride, dilation=dil,
                pads=pads, group=group, act=[None, "relu", "clip"][seed % 3], per_channel=seed % 4 != 0,
                extreme=seed % 5 == 4 or seed % 7 == 3, threads=1 + 2 * (seed % 4 == 1))


def weights(rng, shape, per_channel: bool, extreme: bool):
    if extreme:  # one sign per output channel: -128 everywhere or 127 everywhere
        w = np.where(rng.integers(0, 2, (shape[0],) + (1,) * (len(shape) - 1)) == 1, np.int8(-128), np.int8(127))
        w = np.broadcast_to(w, shape).astype(np.int8)
    else:
        w = rng.integers(-127, 128, size=shape, dtype=np.int8)
    s_w = rng.uniform(0.001, 0.05, shape[0] if per_channel else 1).astype(np.float32)
    return w, s_w


@pytest.mark.parametrize("seed", range(40))
def test_conv_levels(seed):
    c = conv_case(seed)
    rng = np.random.default_rng(1000 + seed)
    cin, cout, group = c["shape"][3], c["cout"], c["group"]
    s_x, s_y = float(np.float32(0.001)), float(np.float32(rng.uniform(0.5, 4.0) * (200 if c["extreme"] else 1)))
    x = x16(rng, c["shape"], c["extreme"])
    w, s_w = weights(rng, (cout, *c["kernel"], cin // group), c["per_channel"], c["extreme"])
    bias = rng.integers(-2 ** 40, 2 ** 40, cout) if seed % 3 else np.zeros(cout, np.int64)
    want = ref.conv2d(x, s_x, w, s_w, bias, s_y, c["stride"], c["dilation"], c["pads"], group, c["act"])
    g = G()
    g.t("x", np.int16, x.shape, (s_x, 0))
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int64, (cout,), data=bias)
    g.t("y", np.int16, want.shape, (s_y, 0))
    g.node("Conv", ["x", "w", "b"], ["y"], kernel_shape=list(c["kernel"]), strides=list(c["stride"]),
           dilations=list(c["dilation"]), pads=list(c["pads"]), group=group, activation=ACTS[c["act"]])
    run_levels(g, x, want, c["threads"])


DEPTHWISE = [  # (channels, h, w, kernel, stride, dilation, pads): tiles of 8 / 16 / 32 channels and their tails,
    # interiors of several pixel blocks (the row entry) beside edge pixels (the tap pointers)
    (2, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (7, 9, 40, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (8, 6, 21, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    (16, 7, 37, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
    (17, 8, 19, (5, 5), (2, 2), (1, 1), (2, 2, 2, 2)),
    (31, 4, 23, (3, 3), (2, 1), (1, 1), (1, 0, 1, 2)),
    (32, 5, 34, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
    (33, 6, 18, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
    (48, 3, 11, (3, 3), (1, 2), (2, 2), (2, 2, 2, 2)),
    (64, 4, 9, (3, 5), (1, 1), (1, 1), (1, 2, 1, 2)),
    (100, 3, 7, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
    (120, 12, 15, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3)),
    (5, 13, 14, (11, 11), (1, 1), (1, 1), (5, 5, 5, 5)),
]


@pytest.mark.parametrize("case", range(len(DEPTHWISE)))
@pytest.mark.parametrize("extreme", [False, True])
def test_depthwise_levels(case, extreme):
    """The 16x8 depthwise tables (kernels/dwconv.h: qs16-qc8w-dwconv-*) on 3x3 / 5x5 / other kernels, strides
    1 and 2, dilation, channel counts off their vectors; extreme: every product at +-2^22 and a bias up to
    2^33, the sums past int32. Output scales keep most outputs inside the int16 range, not clamped."""
    c, h, w_, kernel, stride, dil, pads = DEPTHWISE[case]
    rng = np.random.default_rng(case * 2 + extreme)
    s_x, s_y = float(np.float32(0.001)), float(np.float32(rng.uniform(15, 30) if extreme else rng.uniform(0.005, 0.02)))
    x = x16(rng, (1 + case % 2, h, w_, c), extreme)
    w, s_w = weights(rng, (c, *kernel, 1), case % 3 != 0, extreme)
    bias = rng.integers(-2 ** 33, 2 ** 33, c) if extreme else rng.integers(-2 ** 22, 2 ** 22, c)
    act = [None, "relu", "clip"][case % 3]
    want = ref.conv2d(x, s_x, w, s_w, bias, s_y, stride, dil, pads, c, act)
    assert np.mean(np.abs(want.astype(np.int32)) < 32767) > 0.5  # the sums reach the output, not just the clamp
    g = G()
    g.t("x", np.int16, x.shape, (s_x, 0))
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int64, (c,), data=bias)
    g.t("y", np.int16, want.shape, (s_y, 0))
    g.node("Conv", ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(stride), dilations=list(dil),
           pads=list(pads), group=c, activation=ACTS[act])
    run_levels(g, x, want, threads=1 + case % 2)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 17, 3), (33, 64, 31), (9, 257, 17), (3, 1031, 40)])
@pytest.mark.parametrize("extreme", [False, True])
def test_fully_connected_levels(m, k, n, extreme):
    rng = np.random.default_rng(m * 1000 + k + n)
    s_x, s_y = float(np.float32(0.002)), float(np.float32(600.0 if extreme else 3.0))
    x = x16(rng, (m, k), extreme)
    w, s_w = weights(rng, (n, k), True, extreme)
    bias = rng.integers(-2 ** 45, 2 ** 45, n)
    g = G()
    g.t("x", np.int16, x.shape, (s_x, 0))
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int64, (n,), data=bias)
    g.t("y", np.int16, (m, n), (s_y, 0))
    g.node("FullyConnected", ["x", "w", "b"], ["y"], activation=ACTS["relu" if extreme else None])
    run_levels(g, x, ref.fully_connected(x, s_x, w, s_w, bias, s_y, "relu" if extreme else None), threads=2)


@pytest.mark.parametrize("case,match", [
    ("bias_beyond_2^47", "beyond 2"),
    ("bias_int32", "must be a constant int64"),
    ("zero_point", "zero point 0"),
    ("output_int8", "quantized int16"),
])
def test_bad_16x8_models(case, match):
    """A 16x8 layer the kernels cannot run exactly is refused at load with one line naming it."""
    g = G()
    g.t("x", np.int16, (2, 8), (0.01, 5 if case == "zero_point" else 0))
    weight_tensor(g, "w", np.ones((4, 8), np.int8), np.full(4, 0.01, np.float32), 0)
    if case == "bias_int32":
        g.t("b", np.int32, (4,), data=np.zeros(4, np.int32))
    else:
        g.t("b", np.int64, (4,), data=np.full(4, 2 ** 50 if case == "bias_beyond_2^47" else 0, np.int64))
    g.t("y", np.int8 if case == "output_int8" else np.int16, (2, 4), (0.1, 0))
    g.node("FullyConnected", ["x", "w", "b"], ["y"], activation=ACTS[None])
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    with pytest.raises(nanort.Error, match=match):
        with nanort.Model(serialize(g.g)) as m:
            m.run(None, {"x": np.zeros((2, 8), np.int16)})


@pytest.mark.parametrize("n", [1, 7, 8, 9, 100, 20001])
def test_quantize_dequantize_int16_levels(n):
    """The glue around a 16x8 layer (QuantizeLinear / DequantizeLinear to and from int16 with zero
    point 0) gives the numpy model's values at every level: ties to even, values past the int16
    range, +-inf and NaN (-> 0)."""
    import int8_reference as ref8

    rng = np.random.default_rng(n)
    s = float(np.float32(0.0137))
    x = (rng.normal(0, 200, n) * rng.choice([1, 2, 1000], n)).astype(np.float32)
    special = np.array([0.5, 1.5, -2.5, 449.0, np.inf, -np.inf, np.nan, 1e9, -1e9], np.float32) * np.float32(s)
    x[:min(n, special.size)] = special[:n]
    q = x16(rng, (n,), False)
    g = G()
    g.t("x", np.float32, (n,))
    g.t("q", np.int16, (n,), (s, 0))
    g.t("c", np.int16, (n,), (s, 0))
    g.t("d", np.float32, (n,))
    g.node("QuantizeLinear", ["x"], ["q"])
    g.node("DequantizeLinear", ["c"], ["d"])
    g.g.inputs, g.g.outputs = ["x", "c"], ["q", "d"]
    data = serialize(g.g)
    want_q = ref8.quantize(x, np.float32(s), 0, np.int16)
    want_d = ref8.dequantize(q, np.float32(s), 0)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=2, check_finite=False) as m:
            got_q, got_d = m.run(None, {"x": x, "c": q})
        np.testing.assert_array_equal(got_q, want_q, err_msg=f"level {isa}")
        np.testing.assert_array_equal(got_d.view(np.uint32), want_d.view(np.uint32), err_msg=f"level {isa}")


# ---- 16-bit elementwise: Add / Sub / Mul, table lookup ----

def _binary16(op, sa, sb, scales, act=None, threads=1, a=None, b=None, extreme=False):
    rng = np.random.default_rng(abs(hash((op, sa, sb, act))) % 2 ** 32)
    a = x16(rng, sa, extreme) if a is None else a
    b = x16(rng, sb, extreme) if b is None else b
    s_a, s_b, s_y = (float(np.float32(s)) for s in scales)
    g = G()
    g.t("a", np.int16, sa, (s_a, 0))
    g.t("b", np.int16, sb, (s_b, 0))
    g.t("y", np.int16, np.broadcast_shapes(sa, sb), (s_y, 0))
    g.node(op, ["a", "b"], ["y"], activation=ACTS[act])
    g.g.inputs, g.g.outputs = ["a", "b"], ["y"]
    want = ref.mul(a, s_a, b, s_b, s_y, act) if op == "Mul" else ref.add(a, s_a, b, s_b, s_y, op == "Sub", act)
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=threads, check_finite=False) as m:
            (y,) = m.run(None, {"a": a, "b": b})
        bad = np.flatnonzero(y.reshape(-1) != want.reshape(-1))
        assert bad.size == 0, (f"level {isa}: {bad.size} of {y.size} values differ, first at {bad[0]}: "
                               f"{y.reshape(-1)[bad[0]]} != {want.reshape(-1)[bad[0]]}")


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("sa,sb", BROADCAST)
def test_binary16_broadcast_levels(op, sa, sb):
    """Every operand mode (vector-vector, vector-scalar, scalar-vector) and broadcast walk,
    tails of every length below a vector; Mul's products up to 2^30."""
    s_y = 0.02 * 0.03 * 32768 / 4 if op == "Mul" else 0.04
    _binary16(op, sa, sb, (0.02, 0.03, s_y), threads=1 + (len(sa) == 4))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("act", ["relu", "clip"])
def test_binary16_fused_clamp(op, act):
    _binary16(op, (3, 41), (41,), (1e-3, 2e-3, 1e-3 if op != "Mul" else 1e-2), act=act)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("scales", [(1e-6, 1e-6, 1.0), (100.0, 0.01, 1e-3), (1e-30, 1e-30, 1e-30), (1.0, 1.0, 1.0)])
def test_binary16_extreme(op, scales):
    """Outputs far past the int16 range either way (the clamp), every operand -32768."""
    _binary16(op, (5, 17), (17,), scales, extreme=True)
    _binary16(op, (5, 17), (17,), scales)


def test_binary16_ties_round_to_even():
    """s_a / s_y = 0.5: odd codes land exactly on .5 after the multiply."""
    a = np.arange(-32768, 32768, dtype=np.int16)
    _binary16("Add", (65536,), (1,), (0.5, 1.0, 1.0), a=a, b=np.zeros(1, np.int16))


@pytest.mark.parametrize("n", [1, 9, 65536, 100003])
def test_lut16_levels(n):
    """y = table[x + 32768] over every int16 code (and a multi-threaded run)."""
    rng = np.random.default_rng(n)
    table = rng.integers(-32768, 32768, 65536, dtype=np.int16)
    x = np.arange(-32768, 32768, dtype=np.int16)[:n] if n <= 65536 else x16(rng, (n,), False)
    g = G()
    g.t("x", np.int16, (n,), (0.01, 0))
    g.t("table", np.int16, (65536,), data=table)
    g.t("y", np.int16, (n,), (0.02, 0))
    g.node("Lut", ["x", "table"], ["y"])
    run_levels(g, x, ref.lut(x, table), threads=3)


@pytest.mark.parametrize("case,match", [
    ("table_256", "an int16 table has 65536"),
    ("table_int8", "needs an int16 table"),
    ("int8_operand", "quantized int16"),
])
def test_bad_16bit_elementwise_models(case, match):
    """A 16-bit table or operand the kernels cannot use is refused at load with one line naming it."""
    g = G()
    g.t("x", np.int16, (4,), (0.01, 0))
    if case == "int8_operand":
        g.t("b", np.int8, (4,), (0.01, 0))
        g.t("y", np.int16, (4,), (0.01, 0))
        g.node("Add", ["x", "b"], ["y"], activation=ACTS[None])
        feeds = {"x": np.zeros(4, np.int16), "b": np.zeros(4, np.int8)}
    else:
        size, dtype = (256, np.int16) if case == "table_256" else (65536, np.int8)
        g.t("table", dtype, (size,), data=np.zeros(size, dtype))
        g.t("y", np.int16, (4,), (0.01, 0))
        g.node("Lut", ["x", "table"], ["y"])
        feeds = {"x": np.zeros(4, np.int16)}
    g.g.inputs, g.g.outputs = list(feeds), ["y"]
    with pytest.raises(nanort.Error, match=match):
        with nanort.Model(serialize(g.g)) as m:
            m.run(None, feeds)


@pytest.mark.parametrize("to16", [True, False])
@pytest.mark.parametrize("scales", [(0.05, 0.0001), (0.05, 0.05), (1e-3, 0.7), (3.0, 1e-6)])
def test_requantize_between_int8_and_int16_levels(to16, scales):
    """QuantizeLinear from an int8 tensor's codes to int16 (a 16-bit reader of an int8 result) and
    back (an int8 reader of a 16-bit result), without a float round trip: every code, ties, the
    clamp to the output type at both ends, zero points on the int8 side."""
    s8, s16 = (float(np.float32(s)) for s in scales)
    src, dst = (np.int8, np.int16) if to16 else (np.int16, np.int8)
    x = np.arange(-128, 128, dtype=np.int8) if to16 else np.arange(-32768, 32768, dtype=np.int16)
    qx, qy = ((s8, -7), (s16, 0)) if to16 else ((s16, 0), (s8, 5))
    g = G()
    g.t("x", src, x.shape, qx)
    g.t("y", dst, x.shape, qy)
    g.node("QuantizeLinear", ["x"], ["y"])
    run_levels_any(g, x, ref.rescale(x, *qx, *qy, dst))


def run_levels_any(g: G, x: np.ndarray, want: np.ndarray) -> None:
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=2, check_finite=False) as m:
            (y,) = m.run(None, {"x": x})
        np.testing.assert_array_equal(y, want, err_msg=f"level {isa}")
