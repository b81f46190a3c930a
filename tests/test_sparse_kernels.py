"""Kernels on sparse weights (kernels/ref/sparse_gemm_ref.c, ops/sparse_weights.c):
1x1 Conv and FullyConnected whose weights the file stores sparse, run on the
sparse kernel (NANORT_SPARSE=sparse) at every kernel level this CPU has.
int8 results must equal the numpy model of the contract (tests/int8_reference.py)
bit for bit; float32 results must equal the dense reference kernel's on the
same file bit for bit (the sparse kernel adds the kept products in its order).
Every storage format and block shape the converter writes is covered."""

from __future__ import annotations

import int8_reference as ref
import numpy as np
import pytest
from test_int8_kernels import ACTS, G, q8, qparams, same, weight_tensor
from test_int8_levels import LEVELS

import nanort
from nanort.converter import sparse as storage
from nanort.converter.serialize import serialize
from nanort.schema.SparseFormat import SparseFormat

RNG = np.random.default_rng(20261124)


def pruned(shape, pattern: str, density: float, dtype) -> np.ndarray:
    """Random weights [rows, ...] with zeros in `pattern` (elementwise, RxC blocks, N:M)."""
    rows, k = shape[0], int(np.prod(shape[1:]))
    w = (RNG.integers(-127, 128, (rows, k)) if dtype == np.int8 else RNG.standard_normal((rows, k))).astype(dtype)
    w[w == 0] = 1
    if ":" in pattern:
        n, m = map(int, pattern.split(":"))
        groups = w.reshape(-1, m)
        drop = np.argsort(RNG.random(groups.shape), axis=1)[:, n:]
        np.put_along_axis(groups, drop, 0, axis=1)
    else:
        bn, bk = map(int, pattern.split("x"))
        keep = RNG.random((rows // bn, k // bk)) < density
        w *= np.repeat(np.repeat(keep, bn, axis=0), bk, axis=1).astype(dtype)
    return w.reshape(shape)


# (weight pattern, density, rows, K): the format the converter picks follows from them
CASES = [
    ("1x1", 0.4, 24, 40),   # bitmask, unstructured
    ("1x4", 0.25, 32, 64),  # bitmask over K blocks of 4
    ("4x1", 0.3, 32, 36),   # blocks of 4 output channels
    ("1x4", 0.03, 64, 256),  # very sparse: block-CSR
    ("1:4", 1, 16, 48),     # N:M
    ("2:8", 1, 8, 64),      # N:M
    ("1x8", 0.5, 16, 72),
    ("1x1", 0.0, 16, 32),   # nothing kept
]


@pytest.fixture
def sparse_kernels(monkeypatch):
    monkeypatch.setenv("NANORT_SPARSE", "sparse")


@pytest.mark.parametrize("case", range(len(CASES)))
def test_storage_picks_a_sparse_format(case):
    pattern, density, rows, k = CASES[case]
    w = pruned((rows, k), pattern, density, np.int8)
    enc = storage.encode(w)
    assert enc is not None and enc.stored_bytes() < w.nbytes
    same(storage.decode(enc, w.shape), w)


def test_cases_cover_every_format():
    formats = {storage.encode(pruned((r, k), p, d, np.int8)).format for p, d, r, k in CASES}
    assert formats == {SparseFormat.BITMASK, SparseFormat.BLOCK_CSR, SparseFormat.N_M}


def run_levels(g: G, x: np.ndarray, want: np.ndarray) -> None:
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    for isa in LEVELS:
        with nanort.Model(data, isa=isa, threads=2, check_finite=False) as m:
            same(m.run({"x": x})["y"], want)


def conv1x1_graph(x_shape, w, s_w, bias, qx, qy, stride, y_shape, act):
    g = G()
    g.t("x", np.int8, x_shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, bias.shape, data=bias)
    g.t("y", np.int8, y_shape, qy)
    g.node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[1, 1], strides=list(stride), dilations=[1, 1],
           pads=[0, 0, 0, 0], group=1, activation=ACTS[act])
    return g


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])
@pytest.mark.parametrize("act", [None, "relu"])
def test_conv1x1_int8(case, stride, act, sparse_kernels):
    pattern, density, cout, cin = CASES[case]
    qx, qy = qparams(0.05), qparams(0.02 * np.sqrt(cin))
    x = q8((2, 5, 3, cin))
    w = pruned((cout, 1, 1, cin), pattern, density, np.int8)
    s_w = RNG.uniform(0.001, 0.05, cout).astype(np.float32)
    bias = ref.fold_bias(RNG.normal(0, 2, cout), qx[0], s_w, qx[1], w)
    want = ref.conv2d(x, qx, w, s_w, bias, qy, stride, act=act)
    run_levels(conv1x1_graph(x.shape, w, s_w, bias, qx, qy, stride, want.shape, act), x, want)


def packed_bytes(data: bytes, isa: str, mode: str | None, monkeypatch) -> int:
    if mode:
        monkeypatch.setenv("NANORT_SPARSE", mode)
    else:
        monkeypatch.delenv("NANORT_SPARSE", raising=False)
    with nanort.Model(data, isa=isa, check_finite=False) as m:
        return m.packed_weight_bytes


# (op, K, N, 1x4 block density, rows, {level: runs sparse}): which kernel is faster, from the kernels' speed
# measured on the level (bench/sparse_results.md, sparse over dense time): a 1x1 conv 96 -> 24 keeping 10 %
# of its blocks (AVX-512 0.4x, AVX2 0.26x: sparse), keeping 75 % (AVX-512 ~1.05x: dense; AVX2 ~0.65x: its
# dense kernel is slower, sparse), a FullyConnected on one row keeping 25 % (gathers: 2-4x slower, dense)
COST_CASES = [
    ("Conv", 96, 24, 0.1, 64, {"avx512": True, "avx2": True}),
    ("Conv", 96, 24, 0.75, 64, {"avx512": False, "avx2": True}),
    ("FullyConnected", 1024, 64, 0.25, 1, {"avx512": False, "avx2": False}),
]


@pytest.mark.parametrize("case", range(len(COST_CASES)))
@pytest.mark.parametrize("isa", [level for level in ("avx2", "avx512", "avx512vbmi") if level in LEVELS])
def test_cost_model_runs_sparse_where_the_sparse_kernel_is_faster(case, isa, monkeypatch):
    """Left to the cost model (no NANORT_SPARSE), a layer runs the sparse kernel exactly when it is the
    faster one on that level; which one ran shows in the packed weight bytes."""
    op, k, n, density, rows, sparse_wins = COST_CASES[case]
    w = pruned((n, k), "1x4", density, np.int8)
    qx, qy = qparams(0.05), qparams(0.02 * np.sqrt(k))
    g = G()
    g.t("x", np.int8, (1, rows, 1, k) if op == "Conv" else (rows, k), qx)
    weight_tensor(g, "w", w.reshape(n, 1, 1, k) if op == "Conv" else w, np.full(n, 0.01, np.float32), 0)
    g.t("b", np.int32, (n,), data=np.zeros(n, np.int32))
    g.t("y", np.int8, (1, rows, 1, n) if op == "Conv" else (rows, n), qy)
    attrs = dict(kernel_shape=[1, 1], strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0], group=1) \
        if op == "Conv" else {}
    g.node(op, ["x", "w", "b"], ["y"], **attrs)
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    data = serialize(g.g)
    sparse, dense = (packed_bytes(data, isa, mode, monkeypatch) for mode in ("sparse", "dense"))
    assert sparse != dense
    wins = sparse_wins["avx512" if isa.startswith("avx512") else isa]  # (avx512vbmi runs AVX-512's spmm kernel)
    assert packed_bytes(data, isa, None, monkeypatch) == (sparse if wins else dense)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("m_rows", [1, 7])
def test_fully_connected_int8(case, m_rows, sparse_kernels):
    pattern, density, n, k = CASES[case]
    qx, qy = qparams(0.05), qparams(0.02 * np.sqrt(k))
    x = q8((m_rows, k))
    w = pruned((n, k), pattern, density, np.int8)
    s_w = RNG.uniform(0.001, 0.05, n).astype(np.float32)
    bias = ref.fold_bias(RNG.normal(0, 2, n), qx[0], s_w, qx[1], w)
    want = ref.fully_connected(x, qx, w, s_w, bias, qy, "clip", 0.0, 6.0)
    g = G()
    g.t("x", np.int8, x.shape, qx)
    weight_tensor(g, "w", w, s_w, 0)
    g.t("b", np.int32, bias.shape, data=bias)
    g.t("y", np.int8, want.shape, qy)
    g.node("FullyConnected", ["x", "w", "b"], ["y"], activation=ACTS["clip"])
    run_levels(g, x, want)


def f32_graph(op: str, x_shape, w, y_shape, stride=(1, 1)):
    g = G()
    g.t("x", np.float32, x_shape)
    g.t("w", np.float32, w.shape, data=w)
    g.t("b", np.float32, (w.shape[0],), data=RNG.standard_normal(w.shape[0]).astype(np.float32))
    g.t("y", np.float32, y_shape)
    attrs = {"activation": ACTS["relu"]}
    if op == "Conv":
        attrs.update(kernel_shape=[1, 1], strides=list(stride), dilations=[1, 1], pads=[0, 0, 0, 0], group=1)
    g.node(op, ["x", "w", "b"], ["y"], **attrs)
    g.g.inputs, g.g.outputs = ["x"], ["y"]
    return serialize(g.g)


def run_ref(data: bytes, x: np.ndarray, mode: str, monkeypatch) -> np.ndarray:
    monkeypatch.setenv("NANORT_SPARSE", mode)
    with nanort.Model(data, isa="ref", threads=2) as m:
        return m.run({"x": x})["y"]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_float32_matches_the_dense_reference(case, monkeypatch):
    pattern, density, n, k = CASES[case]
    w = pruned((n, k), pattern, density, np.float32)
    x = RNG.standard_normal((6, k)).astype(np.float32)
    fc = f32_graph("FullyConnected", x.shape, w, (6, n))
    same(run_ref(fc, x, "sparse", monkeypatch), run_ref(fc, x, "dense", monkeypatch))
    xc = RNG.standard_normal((1, 4, 6, k)).astype(np.float32)
    conv = f32_graph("Conv", xc.shape, w.reshape(n, 1, 1, k), (1, 2, 6, n), stride=(2, 1))
    same(run_ref(conv, xc, "sparse", monkeypatch), run_ref(conv, xc, "dense", monkeypatch))


def test_claimed_weights_drop_their_dense_copy(monkeypatch):
    w = pruned((64, 256), "1x4", 0.1, np.float32)
    data = f32_graph("FullyConnected", (3, 256), w, (3, 64))
    monkeypatch.setenv("NANORT_SPARSE", "sparse")
    with nanort.Model(data, isa="ref") as m:
        sparse_bytes = m.packed_weight_bytes
    monkeypatch.setenv("NANORT_SPARSE", "dense")
    with nanort.Model(data, isa="ref") as m:
        dense_bytes = m.packed_weight_bytes
    assert dense_bytes >= 2 * w.nbytes  # the dense copy and the reference GEMM's packed copy of it
    assert sparse_bytes < w.nbytes / 3  # the block-CSR copy of 10 % of the blocks only
