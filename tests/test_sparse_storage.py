"""Sparse weight storage (converter/sparse.py, engine/sparse.c): weights full
of zeros are stored sparse with no flag, in the smallest format, and run
exactly as stored dense; the verifier checks every index array against its
tensor before anything reads through it (the TFLite CVE-2022-23560 class:
sparse indices pointing outside the tensor), tested with hostile files."""

from __future__ import annotations

import struct

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from nrt_edit import SLOTS, Editable, FbView
from test_quantize_e2e import Net

import nanort
from nanort.converter import sparse as storage
from nanort.converter.ir import Graph, Node
from nanort.converter.serialize import serialize
from nanort.runtime import nrt_file
from nanort.schema.Model import Model as FbModel
from nanort.schema.SparseFormat import SparseFormat
from nanort.schema.Sparsity import SparsityT

RNG = np.random.default_rng(5)
SPARSITY = SLOTS["Sparsity"]


def blocks_pruned(shape, block, density) -> np.ndarray:
    rows, k = shape
    w = RNG.standard_normal(shape).astype(np.float32)
    keep = RNG.random((rows // block[0], k // block[1])) < density
    return w * np.repeat(np.repeat(keep, block[0], 0), block[1], 1)


def n_of_m(shape, n, m) -> np.ndarray:
    w = RNG.standard_normal(shape).astype(np.float32)
    groups = w.reshape(-1, m)
    np.put_along_axis(groups, np.argsort(RNG.random(groups.shape), axis=1)[:, n:], 0, axis=1)
    return w


WEIGHTS = {  # the format each gets
    "block_csr": lambda: blocks_pruned((64, 512), (1, 4), 0.02),
    "bitmask": lambda: blocks_pruned((5, 60), (1, 4), 0.4),
    "n_m": lambda: n_of_m((16, 64), 2, 8),
}


def fc_file(w: np.ndarray, sparse: bool = True) -> bytes:
    g = Graph()
    g.add_tensor("x", np.float32, (2, w.shape[1]))
    g.add_tensor("w", np.float32, w.shape, w)
    g.add_tensor("b", np.float32, (w.shape[0],), np.linspace(-1, 1, w.shape[0], dtype=np.float32))
    g.add_tensor("y", np.float32, (2, w.shape[0]))
    g.nodes.append(Node("FullyConnected", ["x", "w", "b"], ["y"], {}, "fc"))
    g.inputs, g.outputs = ["x"], ["y"]
    return serialize(g, sparse=sparse)


def sparse_of(data: bytes):
    """The weight's Sparsity table (generated reader) and its absolute position (FbView)."""
    t = FbModel.GetRootAs(data, 0).Graphs(0).Tensors(1)
    view = FbView(data)
    return t.Sparsity(), view, view.deref(view.field(view.tensor(1), SLOTS["Tensor"]["sparsity"]))


@pytest.mark.parametrize("kind", list(WEIGHTS))
def test_weights_are_stored_in_the_smallest_format_and_run_the_same(kind):
    w = WEIGHTS[kind]()
    data = fc_file(w)
    sp, _, _ = sparse_of(data)
    want = {"block_csr": SparseFormat.BLOCK_CSR, "bitmask": SparseFormat.BITMASK, "n_m": SparseFormat.N_M}[kind]
    assert sp.Format() == want
    candidates = storage.candidates(w)
    assert storage.encode(w).stored_bytes() == min(c.stored_bytes() for c in candidates)
    x = RNG.standard_normal((2, w.shape[1])).astype(np.float32)
    with nanort.Model(data, isa="ref") as m:  # (the reference kernels: sums in one order, bit for bit)
        got = m.run({"x": x})["y"]
    with nanort.Model(fc_file(w, sparse=False), isa="ref") as m:
        np.testing.assert_array_equal(got, m.run({"x": x})["y"])


def test_dense_weights_stay_dense():
    w = RNG.standard_normal((32, 64)).astype(np.float32)
    w[RNG.random(w.shape) < 0.1] = 0  # 10 % zeros: no encoding saves an eighth
    assert storage.encode(w) is None
    assert sparse_of(fc_file(w))[0] is None


# ---- hostile files -----------------------------------------------------------------------------

def patch_array(kind: str, name: str, fn):
    """A mutation of index array `name` (mask / indptr / indices) of the weight of a `kind` file."""
    def mutate() -> bytes:
        data = bytearray(fc_file(WEIGHTS[kind]()))
        sp, _, _ = sparse_of(bytes(data))
        offset = {"mask": sp.MaskOffset, "indptr": sp.IndptrOffset, "indices": sp.IndicesOffset}[name]()
        fn(data, offset)
        return bytes(data)
    return mutate


def patch_field(kind: str, field: str, value: int, fmt: str = "<Q"):
    def mutate() -> bytes:
        data = fc_file(WEIGHTS[kind]())
        _, view, table = sparse_of(data)
        pos = view.field(table, SPARSITY[field])
        assert pos, f"{field} is not in the file"
        struct.pack_into(fmt, view.data, pos, value)
        return view.bytes()
    return mutate


def patch_block_shape(kind: str, shape):
    def mutate() -> bytes:
        data = fc_file(WEIGHTS[kind]())
        _, view, table = sparse_of(data)
        v, n = view.vector(table, SPARSITY["block_shape"])
        for i, d in enumerate(shape[:n]):
            struct.pack_into("<i", view.data, v + 4 + 4 * i, d)
        return view.bytes()
    return mutate


def edit(kind: str, fn):
    """A mutation through the object API (Buffers instead of offsets, fields added)."""
    def mutate() -> bytes:
        e = Editable(fc_file(WEIGHTS[kind]()))
        fn(e)
        return e.to_bytes()
    return mutate


def put_i32(index: int, value):
    def fn(data: bytearray, offset: int) -> None:
        v = value(data, offset) if callable(value) else value
        struct.pack_into("<i", data, offset + 4 * index, v)
    return fn


def last_index(value: int):
    """Sets the last kept block's column (no later index in its row to be out of order with)."""
    def fn(data: bytearray, offset: int) -> None:
        sp = FbModel.GetRootAs(bytes(data), 0).Graphs(0).Tensors(1).Sparsity()
        indptr = np.frombuffer(bytes(data[sp.IndptrOffset():sp.IndptrOffset() + 4 * 65]), "<i4")
        data[offset + int(indptr[-1]) - 1] = value
    return fn


def _groups_of_6() -> bytes:
    """A 2:8 file relabelled 2:6: positions keep 3 bits, so 6 and 7 are representable and invalid."""
    data = fc_file(n_of_m((16, 48), 2, 8))
    sp, view, table = sparse_of(data)
    v, _ = view.vector(table, SPARSITY["block_shape"])
    struct.pack_into("<i", view.data, v + 8, 6)
    offset = sp.IndicesOffset()
    view.data[offset] = (view.data[offset] & ~7) | 7  # group 0's first position: 7
    return view.bytes()


def activation_sparsity(e: Editable) -> None:
    sp = SparsityT()
    sp.format = SparseFormat.BITMASK
    e.tensor("y").sparsity = sp


def both_buffer_and_offset(e: Editable) -> None:
    e.tensor("w").sparsity.indicesOffset = 64


HOSTILE = {
    "csr index past the block columns": (patch_array("block_csr", "indices", last_index(200)),
                                         "= 200 is outside the 128 block columns"),
    "csr indices repeated": (patch_array("block_csr", "indices",
                                         lambda d, o: d.__setitem__(o + 1, d[o])), "not increasing"),
    "csr indptr[0] not 0": (patch_array("block_csr", "indptr", put_i32(0, 1)), r"indptr\[0\] = 1"),
    "csr indptr decreasing": (patch_array("block_csr", "indptr", put_i32(3, -5)), "decreasing"),
    "csr row longer than the matrix": (patch_array("block_csr", "indptr", put_i32(64, 10 ** 6)),
                                       "more than the 128 blocks"),
    "mask bits past the blocks": (patch_array("bitmask", "mask", lambda d, o: d.__setitem__(o + 9, 0xFF)),
                                  "bits set past its 75 blocks"),
    "mask claims values past the file": (patch_array("bitmask", "mask",
                                                     lambda d, o: d.__setitem__(slice(o, o + 9), b"\xff" * 9)),
                                         "values .* outside"),
    "n:m position past the group": (lambda: _groups_of_6(), "position 7 in group 0 is past 5"),
    "n:m positions out of order": (patch_array("n_m", "indices", lambda d, o: d.__setitem__(o, (d[o] & 0xC0) | 21)),
                                   "not increasing"),
    "mask offset outside the file": (patch_field("bitmask", "mask_offset", 1 << 40), "mask .* outside"),
    "indices offset misaligned": (patch_field("block_csr", "indices_offset", 0, "<Q"), "indices .* missing"),
    "indptr offset misaligned": (lambda: _shift_offset("block_csr", "indptr_offset", 4), "not 16-byte aligned"),
    "index width 3": (patch_field("block_csr", "index_width", 3, "<B"), "index width 3"),
    "unknown format": (patch_field("bitmask", "format", 9, "<B"), "format 9 is not supported"),
    "block does not tile": (patch_block_shape("bitmask", (1, 7)), "does not tile"),
    "n:m with n >= m": (patch_block_shape("n_m", (8, 8)), "N:M sparsity 8:8"),
    "dense shape differs": (edit("bitmask", lambda e: setattr(e.tensor("w").sparsity, "denseShape", [5, 61])),
                            "dense_shape differs"),
    "sparsity on an activation": (edit("bitmask", activation_sparsity), "not a constant"),
    "array by buffer and by offset": (edit("block_csr", both_buffer_and_offset), "both by buffer and by offset"),
}


def _shift_offset(kind: str, field: str, by: int) -> bytes:
    data = fc_file(WEIGHTS[kind]())
    _, view, table = sparse_of(data)
    pos = view.field(table, SPARSITY[field])
    view.put_u64(pos, view.u64(pos) + by)
    return view.bytes()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_verifier_rejects(case):
    make, message = HOSTILE[case]
    data = make()
    with pytest.raises(nanort.Error, match=message):
        nanort.Model(data).close()


@pytest.mark.parametrize("kind", list(WEIGHTS))
def test_editable_round_trip_through_buffers(kind):
    """The Buffer-record form of the arrays (format version 1 records) loads like the offsets."""
    w = WEIGHTS[kind]()
    x = RNG.standard_normal((2, w.shape[1])).astype(np.float32)
    data = fc_file(w)
    with nanort.Model(data) as a, nanort.Model(Editable(data).to_bytes()) as b:
        np.testing.assert_array_equal(a.run({"x": x})["y"], b.run({"x": x})["y"])


def test_expansion_is_bounded_by_the_memory_limit():
    """A tiny block-CSR file claiming a huge, empty weight: refused before allocating it."""
    w = WEIGHTS["block_csr"]()
    data = fc_file(w)
    view = FbView(data)
    shape, _ = view.vector(view.tensor(1), SLOTS["Tensor"]["shape"])
    view.put_u64(shape + 4 + 8, 256 << 26)  # cols: 2^34, 64 GiB dense
    with pytest.raises(nanort.Error, match="exceeds the memory limit"):
        nanort.Model(view.bytes()).close()


def test_expansion_counts_against_the_load_budget():
    """A tiny file whose weight expands to 256 MiB, under the arena limit but far over what a file of its
    size may take at load (16 x its size + 64 MiB): refused, naming the budget."""
    w = WEIGHTS["block_csr"]()
    data = fc_file(w)
    view = FbView(data)
    shape, _ = view.vector(view.tensor(1), SLOTS["Tensor"]["shape"])
    view.put_u64(shape + 4 + 8, 1 << 20)  # cols: 64 x 2^20 fp32 = 256 MiB dense
    with pytest.raises(nanort.Error, match="load budget"):
        nanort.Model(view.bytes()).close()


# ---- already-pruned models: no flag ------------------------------------------------------------

def pruned_onnx(tmp_path):
    """A conv net whose 1x1 convs (and FC) have 80 % of their weights zeroed in 1x4 blocks by magnitude,
    as magnitude pruning in training leaves them."""
    n = Net(3)
    x = n("Relu", [n("Conv", ["x", n.w("w0", 32, 3, 3, 3), n.b("b0", 32)], "c0", pads=[1, 1, 1, 1])], "r0")
    x = n("Relu", [n("Conv", [x, n.w("w1", 64, 32, 1, 1), n.b("b1", 64)], "c1")], "r1")
    x = n("Relu", [n("Conv", [x, n.w("w2", 64, 64, 1, 1), n.b("b2", 64)], "c2")], "r2")
    f = n("Flatten", [n("GlobalAveragePool", [x], "gap")], "fl")
    n("Gemm", [f, n.w("w3", 16, 64), n.b("b3", 16)], "y", transB=1)
    model = n.model([1, 3, 12, 12], [1, 16])
    for init in model.graph.initializer:
        if init.name in ("w1", "w2", "w3"):
            w = onnx.numpy_helper.to_array(init).copy()
            mat = w.reshape(w.shape[0], -1, 4)
            norms = np.abs(mat).sum(axis=2)
            mat[norms <= np.quantile(norms, 0.8)] = 0
            init.CopyFrom(onnx.numpy_helper.from_array(mat.reshape(w.shape), init.name))
    path = tmp_path / "pruned.onnx"
    onnx.save(model, path)
    return path


def test_already_pruned_model_converts_to_a_smaller_file_with_no_flag(tmp_path):
    src = pruned_onnx(tmp_path)
    calib = [{"x": RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)} for _ in range(4)]
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    want = ort.InferenceSession(str(src)).run(None, {"x": x})[0]
    for quantize in (None, "int8"):
        report = nanort.convert(src, tmp_path / "s.nrt", quantize=quantize, calibration=calib if quantize else None)
        f = nrt_file.read(tmp_path / "s.nrt")
        stored = [t.sparse for t in f.tensors if t.sparse is not None]
        assert len(stored) == 3 and all(sp.density <= 0.21 for sp in stored)
        dense_file = report.output_bytes + sum(sp.dense_bytes - sp.stored_bytes for sp in stored)
        assert report.output_bytes < 0.75 * dense_file
        with nanort.Model(tmp_path / "s.nrt") as m:
            got = m.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=0.1 if quantize else 1e-4, atol=0.1 if quantize else 1e-5)


def test_inspect_shows_sparsity_and_bytes_saved(tmp_path, capsys):
    from nanort.cli import main

    src = pruned_onnx(tmp_path)
    nanort.convert(src, tmp_path / "s.nrt")
    assert main(["inspect", str(tmp_path / "s.nrt")]) == 0
    text = capsys.readouterr().out
    assert "sparse weights (3)" in text and "bitmask" in text and "MB saved" in text
