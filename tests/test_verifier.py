"""The verifier rejects every class of bad .nrt file at load (or, for shapes
that depend on the inputs, at prepare) with the right status and a message
naming the tensor / operator and what is wrong — never a crash.

Files are made from the converter's IR (nanort.converter.ir + serialize),
edited through the schema's object API (tests/nrt_edit.py: out-of-range
indices, wrong buffer sizes, bad quantization, odd options), or patched byte
by byte (offsets, alignment, vtables, strings).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nrt_edit import GRAPH, MODEL, OPERATOR, SLOTS, TENSOR, Editable, FbView, graph_bytes, simple_graph

import nanort
from nanort.converter.ir import Graph, Node, QuantParams
from nanort.schema.AxisOptions import AxisOptionsT
from nanort.schema.OpOptions import OpOptions
from nanort.schema.OpType import OpType
from nanort.schema.QuantParams import QuantParamsT
from nanort.schema.Sparsity import SparsityT

F32 = np.float32


def expect(data: bytes, cls: type[nanort.Error], match: str, feeds: dict | None = None, **model_kw) -> None:
    """Loading (and running with `feeds`) raises `cls` with a message matching `match`."""
    with pytest.raises(cls, match=match):
        m = nanort.Model(data, **model_kw)
        try:
            m.run(feeds if feeds is not None else {})
        finally:
            m.close()


def relu_file() -> bytes:
    return graph_bytes(simple_graph())


def const_graph(data: np.ndarray, op: str = "Add") -> Graph:
    """x + c (c a constant of data's shape)."""
    g = Graph()
    g.add_tensor("x", data.dtype, data.shape)
    g.add_tensor("c", data.dtype, data.shape, data)
    g.add_tensor("y", data.dtype, data.shape)
    g.nodes.append(Node(op, ["x", "c"], ["y"], name="add"))
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def edited(data: bytes, edit) -> bytes:
    e = Editable(data)
    edit(e)
    return e.to_bytes()


# ---------------------------------------------------------------- file level


@pytest.mark.parametrize("data, what", [
    (b"", "is 0 bytes"),
    (b"\x18\x00\x00\x00TFL3", "identifier"),  # the 8-byte file of tensorflow#115308
    (b"NRT0", "is 4 bytes"),
    (b"\x08\x00\x00\x00NRT0", "corrupt root table"),  # root table at the end of the file
    (b"\xff\xff\xff\x7fNRT0" + bytes(56), "corrupt root table"),
    (bytes(range(256)) * 4, "identifier"),
])
def test_not_a_model(data, what):
    expect(data, nanort.InvalidModelError, what)


def test_truncations_and_bit_flips_never_crash():
    """Every prefix of a small model fails verification; single byte flips
    load or fail cleanly (run in this process: a crash fails the suite)."""
    data = graph_bytes(const_graph(np.arange(6, dtype=F32).reshape(2, 3)))
    for cut in range(0, len(data), 7):
        with pytest.raises(nanort.InvalidModelError):
            nanort.Model(data[:cut])
    x = np.ones((2, 3), F32)
    for pos in range(0, len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[pos] ^= flip
            try:
                with nanort.Model(bytes(bad)) as m:
                    m.run({m.inputs[0].name: x} if m.inputs and m.inputs[0].shape == (2, 3) else {})
            except nanort.Error:
                pass


def test_format_version():
    for v in (0, 3, 0xFFFFFFFF):
        data = edited(relu_file(), lambda e, v=v: setattr(e.model, "formatVersion", v))
        expect(data, nanort.UnsupportedError, f"format version {v} is not supported")


def test_version_1_file_with_buffers_loads():
    """Version 1 files (constants by Buffer index, float32 scales) still run."""
    data = edited(add_file(), lambda e: setattr(e.model, "formatVersion", 1))
    v = FbView(data)
    assert v.u32(v.field(v.tensor(1), TENSOR["buffer"])) != 0
    assert v.u64(v.field(v.tensor(1), TENSOR["data_offset"])) == 0
    with nanort.Model(data) as m:
        np.testing.assert_array_equal(m.run({"x": np.ones((2, 3), F32)})["y"], 1 + np.arange(6).reshape(2, 3))


def test_no_graph():
    expect(edited(relu_file(), lambda e: setattr(e.model, "graphs", [])), nanort.InvalidModelError, "no graph")


def test_file_size_limit(tmp_path):
    data = relu_file()
    (tmp_path / "m.nrt").write_bytes(data)
    # the Python API takes the default limit; the C API's option is checked in tests/c/test_api.c
    with nanort.Model(tmp_path / "m.nrt") as m:
        assert m.inputs[0].name == "x"


# ------------------------------------------------------- FlatBuffers structure


def _patched(data: bytes, patch) -> bytes:
    v = FbView(data)
    patch(v)
    return v.bytes()


def _shape_field(v: FbView) -> int:
    return v.field(v.tensor(0), TENSOR["shape"])


STRUCTURE_CASES = {
    # an offset to a vector past the end of the file
    "vector offset out of file": lambda v: v.put_u32(_shape_field(v), len(v.data) + 100),
    # a uoffset that wraps around 2^32
    "vector offset wraps": lambda v: v.put_u32(_shape_field(v), 0xFFFFFFF0),
    # int64 vector moved 4 bytes: misaligned for its element type
    "misaligned int64 vector": lambda v: v.put_u32(_shape_field(v), v.u32(_shape_field(v)) + 4),
    # vector length far beyond the file
    "vector length huge": lambda v: v.put_u32(v.vector(v.tensor(0), TENSOR["shape"])[0], 0x7FFFFFFF),
    "tensor list length huge": lambda v: v.put_u32(v.vector(v.graph(), GRAPH["tensors"])[0], 0x40000000),
    # a table whose vtable offset points outside the file
    "vtable out of file": lambda v: v.put_u32(v.tensor(0), 0x80000000),
    # vtable claims a size larger than the file
    "vtable size huge": lambda v: v.put_u16(v.vtable(v.tensor(0)), 0xFFFE),
    # a field offset past the end of its table
    "field past table": lambda v: v.put_u16(v.vtable(v.tensor(0)) + 4 + 2 * TENSOR["shape"], 0xFFF0),
    # a string whose NUL terminator is overwritten
    "unterminated string": lambda v: _unterminate(v),
    # the graph table's tensor list pointing at the model table (type confusion)
    "tensor list points at a string": lambda v: v.put_u32(
        v.field(v.graph(), GRAPH["tensors"]),
        v.deref(v.field(v.tensor(0), TENSOR["name"])) - v.field(v.graph(), GRAPH["tensors"])),
}


def _unterminate(v: FbView) -> None:
    s = v.deref(v.field(v.tensor(0), TENSOR["name"]))
    n = v.u32(s)
    v.data[s + 4 + n] = ord("A")


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_structure_corruption(case):
    data = _patched(relu_file(), STRUCTURE_CASES[case])
    expect(data, nanort.InvalidModelError, "corrupt|not a tensor index|not a nanort model|names no tensor")


# --------------------------------------------------------------- tensors


def test_unknown_dtype():
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "type", 77))
    expect(data, nanort.InvalidModelError, "tensor x: unknown data type 77")


def test_rank_above_limit():
    data = edited(relu_file(), lambda e: setattr(e.tensor("y"), "shape", [1] * 9))
    expect(data, nanort.LimitError, "tensor y: rank 9 exceeds the limit of 8")


@pytest.mark.parametrize("dim", [-2, -(2**63)])
def test_negative_dim(dim):
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "shape", [2, dim]))
    expect(data, nanort.InvalidModelError, f"tensor x: dimension 1 is {dim}")


def test_dynamic_input_dims_need_a_shape():
    g = simple_graph(shape=("N", 3))
    with nanort.Model(graph_bytes(g)) as m:
        assert m.run({"x": np.ones((4, 3), F32)})["y"].shape == (4, 3)


def test_input_shape_element_count_overflows():
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "shape", [2**40, 2**40]))
    expect(data, nanort.InvalidModelError, "tensor x: element count of the declared shape overflows")


def test_input_shape_over_arena_limit():
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "shape", [2**20, 2**12]))
    expect(data, nanort.LimitError,
           "tensor x: declared shape needs 4294967296 elements of float32, over the memory limit")


def test_empty_tensor_with_huge_other_dims():
    """[0, 2^40]: zero elements, but ops compute products of the other dims.
    Refused at load when declared, at prepare when the input is resized so."""
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "shape", [0, 2**40]))
    expect(data, nanort.LimitError, "tensor x: declared shape needs 1099511627776 elements")
    data = edited(relu_file(), lambda e: setattr(e.tensor("x"), "shape", [0, -1]))
    expect(data, nanort.LimitError, r"x would need 1099511627776 elements .*counting its dims other than 0",
           {"x": np.lib.stride_tricks.as_strided(np.zeros(1, F32), (0, 2**40), (4, 4))})


# ---------------------------------------------------------------- buffers


def add_file():
    return graph_bytes(const_graph(np.arange(6, dtype=F32).reshape(2, 3)))


def _set_buf(e: Editable, **kw):
    b = e.tensor("c").buffer
    for k, v in kw.items():
        setattr(e.model.buffers[b], k, v)


def test_buffer_index_out_of_range():
    data = edited(add_file(), lambda e: setattr(e.tensor("c"), "buffer", 99))
    expect(data, nanort.InvalidModelError, r"tensor c: buffer index 99 is invalid \(2 buffers\)")


def test_buffer_size_does_not_match_shape():
    def edit(e):
        e.blobs[e.tensor("c").buffer] = bytes(20)

    expect(edited(add_file(), edit), nanort.InvalidModelError,
           "constant tensor c: buffer holds 20 bytes but float32 x 6 elements need 24")


def test_buffer_shape_changed_under_data():
    data = edited(add_file(), lambda e: setattr(e.tensor("c"), "shape", [3, 3]))
    expect(data, nanort.InvalidModelError, "buffer holds 24 bytes but float32 x 9 elements need 36")


@pytest.mark.parametrize("offset, why", [
    (2**64 - 64, "outside"),  # offset + size wraps around 2^64 (LiteRT#7029)
    (2**32, "outside"),
    (64 * 1000, "outside"),
    (None, "not 16-byte aligned"),
])
def test_buffer_offset(offset, why):
    def fix(buffers):
        b = buffers[1]
        b.offset = b.offset + 4 if offset is None else offset

    data = Editable(add_file()).to_bytes(fix)
    expect(data, nanort.InvalidModelError, f"constant tensor c: buffer .* is {why}|{why}")


@pytest.mark.parametrize("elements, shift, ok", [
    (6, 16, True),      # 24 bytes: 16-byte alignment is enough
    (6, 8, False),
    (255, 16, True),    # 1020 bytes
    (256, 16, False),   # 1024 bytes and up: 64-byte aligned
    (256, 32, False),
    (256, 64, True),
])
def test_buffer_alignment_by_size(elements, shift, ok):
    def fix(buffers):
        buffers[1].offset += shift

    e = Editable(graph_bytes(const_graph(np.arange(elements, dtype=F32))))
    data = e.to_bytes(fix) + bytes(64)  # the shifted buffer stays inside the file
    if ok:
        with nanort.Model(data):
            pass
    else:
        expect(data, nanort.InvalidModelError, f"not {16 if elements * 4 < 1024 else 64}-byte aligned")


def _data_offset_file(elements: int = 6) -> tuple[FbView, int]:
    """The converter's file for x + c: c (tensor 1) by Tensor.data_offset; the
    position of that field."""
    v = FbView(graph_bytes(const_graph(np.arange(elements, dtype=F32))))
    pos = v.field(v.tensor(1), TENSOR["data_offset"])
    assert pos and not v.field(v.tensor(1), TENSOR["buffer"])
    return v, pos


@pytest.mark.parametrize("change, why", [
    (lambda off, size: 2**64 - 8, "outside"),   # offset + size wraps around 2^64
    (lambda off, size: 2**32, "outside"),
    (lambda off, size: size - 23, "outside"),   # 24 bytes from 1 byte before the end
    (lambda off, size: off + 4, "not 16-byte aligned"),
    (lambda off, size: off + 8, "not 16-byte aligned"),
])
def test_data_offset(change, why):
    v, pos = _data_offset_file()
    v.put_u64(pos, change(v.u64(pos), len(v.data)))
    expect(v.bytes(), nanort.InvalidModelError, f"constant tensor c: buffer .* is {why}|{why}")


def test_data_offset_size_follows_the_shape():
    """The implied size is checked like a Buffer's: a shape that needs more
    bytes than the file has past the offset is rejected."""
    v, _ = _data_offset_file()
    shape, n = v.vector(v.tensor(1), TENSOR["shape"])
    assert n == 1 and v.u64(shape + 4) == 6
    v.put_u64(shape + 4, 1000)  # 4000 bytes: more than the file holds past the offset
    expect(v.bytes(), nanort.InvalidModelError, r"tensor c: buffer \[.*, \+4000\) is outside")


def test_data_offset_and_buffer_together_is_invalid():
    def edit(e):
        e.tensor("c").dataOffset = e.model.buffers[e.tensor("c").buffer].offset or 64

    expect(edited(add_file(), edit), nanort.InvalidModelError, "tensor c has both a buffer and a data offset")


def test_data_offset_large_constant_is_64_byte_aligned():
    v, pos = _data_offset_file(256 + 16)  # 1088 bytes
    assert v.u64(pos) % 64 == 0
    v.put_u64(pos, v.u64(pos) + 16)
    expect(v.bytes(), nanort.InvalidModelError, "not 64-byte aligned")


def test_two_tensors_share_a_buffer_is_fine():
    def edit(e):
        e.tensor("x").shape = [2, 3]
    g = const_graph(np.arange(6, dtype=F32).reshape(2, 3))
    g.add_tensor("c2", F32, (2, 3), np.arange(6, dtype=F32).reshape(2, 3))
    g.nodes.append(Node("Add", ["y", "c2"], ["z"], name="add2"))
    g.add_tensor("z", F32, (2, 3))
    g.outputs = ["z"]
    e = Editable(graph_bytes(g))
    e.tensor("c2").buffer = e.tensor("c").buffer
    with nanort.Model(e.to_bytes()) as m:
        np.testing.assert_array_equal(m.run({"x": np.zeros((2, 3), F32)})["z"], 2 * np.arange(6).reshape(2, 3))


def test_constant_with_dynamic_dim():
    data = edited(add_file(), lambda e: setattr(e.tensor("c"), "shape", [2, -1]))
    expect(data, nanort.InvalidModelError, "constant tensor c has a dynamic dimension")


def test_constant_element_count_overflow():
    data = edited(add_file(), lambda e: setattr(e.tensor("c"), "shape", [2**40, 2**40, 0]))
    expect(data, nanort.InvalidModelError, "tensor c: element count of the declared shape overflows")


def test_empty_constant_with_huge_dims():
    data = edited(add_file(), lambda e: setattr(e.tensor("c"), "shape", [0, 2**50]))
    expect(data, nanort.InvalidModelError, "constant tensor c: element count overflows or exceeds the file")


def test_unknown_sparse_formats_and_packed_layouts_are_refused():
    """(The sparse formats this runtime reads: tests/test_sparse_storage.py.)"""
    def sparse(e):
        sp = SparsityT()
        sp.format = 7
        e.tensor("c").sparsity = sp

    expect(edited(add_file(), sparse), nanort.UnsupportedError, "tensor c: sparse format 7 is not supported")
    expect(edited(add_file(), lambda e: setattr(e.tensor("c"), "weightLayout", 1)), nanort.UnsupportedError,
           "tensor c: packed weight layout 1")


# ----------------------------------------------------------- quantization


def quant_file(scale, zp, axis=-1, shape=(2, 3), dtype=np.int8, block=None) -> bytes:
    g = const_graph(np.zeros(shape, dtype))
    e = Editable(graph_bytes(g))
    q = QuantParamsT()
    q.scale = list(scale)
    q.zeroPoint = list(zp)
    q.axis = axis
    if block:
        q.blockAxis, q.blockSize = block
    e.tensor("c").quant = q
    return e.to_bytes()


@pytest.mark.parametrize("args, match", [
    (([0.5, 0.5], [0, 0, 0]), "tensor c: 3 zero points for 2 scales"),
    (([0.5, 0.5], [0, 0], 2), "tensor c: quantization axis 2 out of range for rank 2"),
    (([0.5, 0.5], [0, 0], -1), "quantization axis -1 out of range"),
    (([0.5, 0.5, 0.5], [0, 0, 0], 0), "tensor c: 3 scales but 2 channels on axis 0"),
    (([0.5, 0.5], [0, 0], 1), "tensor c: 2 scales but 3 channels on axis 1"),
    (([float("nan")], [0]), r"tensor c: scale\[0\] = nan is not a finite positive number"),
    (([float("inf")], [0]), "scale.* = inf is not a finite positive"),
    (([0.0], [0]), "scale.* = 0 is not a finite positive"),
    (([-1.0], [0]), "scale.* = -1 is not a finite positive"),
    (([1e-45, 1.0], [0, 0], 0), None),  # denormal but positive: allowed
    (([0.5], [128]), r"tensor c: zero_point\[0\] = 128 outside the range of int8"),
    (([0.5], [-129]), "zero_point.* = -129 outside the range of int8"),
    (([0.5], [2**62]), "outside the range of int8"),
    (([0.5], [0], -1, (2, 3), np.int8, (5, 2)), r"tensor c: bad block quantization \(axis 5, size 2\)"),
    (([0.5], [0], -1, (2, 3), np.int8, (0, -3)), "bad block quantization"),
])
def test_quantization_params(args, match):
    data = quant_file(*args)
    if match is None:
        nanort.Model(data).close()
    else:
        expect(data, nanort.InvalidModelError, match)


def bf16_file(bits, scale=None, axis=0) -> bytes:
    """c: int8 [2, 3] with QuantParams.scale_bf16 = bits (and `scale`, if given)."""
    e = Editable(graph_bytes(const_graph(np.zeros((2, 3), np.int8))))
    q = QuantParamsT()
    q.scaleBf16 = list(bits)
    q.scale = scale
    q.axis = axis
    e.tensor("c").quant = q
    return e.to_bytes()


def test_bfloat16_scales_widen_exactly():
    bits = [0x3F80, 0x0001]  # 1.0 and the smallest positive bfloat16 (a denormal)
    with nanort.Model(bf16_file(bits)) as m:
        c = next(t for t in m.tensor_infos() if t.name == "c")
        want = (np.array(bits, np.uint32) << 16).view(np.float32)
        np.testing.assert_array_equal(np.asarray(c.scale, np.float32), want)


@pytest.mark.parametrize("bits, scale, match", [
    ([0x3F80, 0x3F80], [1.0, 1.0], "tensor c: scales given both as float32 and as bfloat16"),
    ([0x3F80, 0x3F80, 0x3F80], None, "tensor c: 3 scales but 2 channels on axis 0"),
    ([0x3F80, 0x0000], None, r"tensor c: scale\[1\] = 0 is not a finite positive number"),
    ([0x3F80, 0x7F80], None, "scale.* = inf is not a finite positive"),
    ([0x7FC0, 0x3F80], None, "scale.* = nan is not a finite positive"),
    ([0xBF80, 0x3F80], None, "scale.* = -1 is not a finite positive"),
])
def test_bfloat16_scales_checked(bits, scale, match):
    expect(bf16_file(bits, scale), nanort.InvalidModelError, match)


def test_bfloat16_scale_vector_misaligned():
    data = bf16_file([0x3F80, 0x3F80])
    v = FbView(data)
    q = v.deref(v.field(v.tensor(1), TENSOR["quant"]))
    f = v.field(q, SLOTS["QuantParams"]["scale_bf16"])
    v.put_u32(f, v.u32(f) + 1)  # the vector 1 byte later: its uint16 elements are misaligned
    expect(v.bytes(), nanort.InvalidModelError, "tensor c.*corrupt quantization parameters")


def test_uint8_zero_point_range():
    expect(quant_file([0.5], [256], dtype=np.uint8), nanort.InvalidModelError, "256 outside the range of uint8")
    expect(quant_file([0.5], [-1], dtype=np.uint8), nanort.InvalidModelError, "-1 outside the range of uint8")


# ------------------------------------------------------- operators / graph


def test_unknown_op_type():
    data = edited(relu_file(), lambda e: setattr(e.graph.operators[0], "op", 999))
    expect(data, nanort.UnsupportedError, r"operator #0 'n0' \(\?\): op type 999 is not supported")


@pytest.mark.parametrize("field, value, match", [
    ("inputs", [99], r"operator #0 'n0' \(Relu\): inputs\[0\] = 99 is not a tensor index \(graph has 2 tensors\)"),
    ("inputs", [-2], r"inputs\[0\] = -2 is not a tensor index"),
    ("inputs", [-1], r"operator #0 'n0' \(Relu\): input 0 is required but omitted \(index -1\)"),
    ("outputs", [-1], r"outputs\[0\] = -1 is not a tensor index"),
    ("outputs", [2], r"outputs\[0\] = 2 is not a tensor index"),
    ("inputs", [0, 0], r"\(Relu\): has 2 inputs, expects 1..1"),
    ("inputs", [], r"has 0 inputs, expects 1..1"),
    ("outputs", [1, 1], r"has 2 outputs, expects 1..1"),
    ("inputs", list(range(5000)), "5000 inputs exceed the limit of 4096"),
])
def test_operator_indices(field, value, match):
    def edit(e):
        setattr(e.graph.operators[0], field, value)

    expect(edited(relu_file(), edit), nanort.Error, match)


def test_omitted_optional_input_is_allowed():
    """-1 in an optional input (Clip's min) is fine; in a required one it is not."""
    g = simple_graph("Clip", min=-1.0, max=1.0)
    e = Editable(graph_bytes(g))
    e.graph.operators[0].inputs = [e.tensor_index("x"), -1, -1]
    with nanort.Model(e.to_bytes()) as m:
        np.testing.assert_array_equal(m.run({"x": np.full((2, 3), 5, F32)})["y"], np.ones((2, 3)))


def test_options_of_another_op():
    def edit(e):
        op = e.graph.operators[0]
        op.optionsType, op.options = OpOptions.AxisOptions, AxisOptionsT()

    expect(edited(relu_file(), edit), nanort.InvalidModelError, r"\(Relu\): options of type \d+ do not belong")


@pytest.mark.parametrize("field, value, match", [
    ("inputs", [99], r"graph: inputs\[0\] = 99 is not a tensor index"),
    ("inputs", [-1], r"graph: inputs\[0\] = -1 is not a tensor index"),
    ("outputs", [7], r"graph: outputs\[0\] = 7 is not a tensor index"),
    ("inputs", [0, 0], "graph input x is a constant or listed twice"),
])
def test_graph_io_indices(field, value, match):
    expect(edited(relu_file(), lambda e: setattr(e.graph, field, value)), nanort.InvalidModelError, match)


def two_node_graph() -> Graph:
    g = simple_graph()
    g.add_tensor("z", F32, (2, 3))
    g.nodes.append(Node("Sigmoid", ["y"], ["z"], name="n1"))
    g.outputs = ["z"]
    return g


def test_operators_out_of_order():
    g = two_node_graph()
    g.nodes.reverse()
    expect(graph_bytes(g), nanort.InvalidModelError,
           r"operator #0 'n1' \(Sigmoid\) reads tensor y before any operator writes it")


def test_cycle():
    """n0: x + z -> y, n1: sigmoid(y) -> z: no order works."""
    g = two_node_graph()
    g.nodes[0] = Node("Add", ["x", "z"], ["y"], name="n0")
    expect(graph_bytes(g), nanort.InvalidModelError, "reads tensor z before any operator writes it .*a cycle")


def test_self_loop():
    g = simple_graph("Add")
    g.nodes[0].inputs = ["x", "y"]
    expect(graph_bytes(g), nanort.InvalidModelError, r"'n0' \(Add\) reads tensor y before")


def test_tensor_written_twice():
    g = two_node_graph()
    g.nodes[1].outputs = ["y"]
    g.outputs = ["y"]
    expect(graph_bytes(g), nanort.InvalidModelError, r"operator #1 'n1' \(Sigmoid\) writes tensor y, which is .*"
           "already written")


def test_operator_writes_an_input_or_constant():
    g = simple_graph()
    g.nodes[0].outputs = ["x"]
    g.outputs = ["x"]
    expect(graph_bytes(g), nanort.InvalidModelError, "writes tensor x, which is a constant, an input")
    c = const_graph(np.ones((2, 3), F32))
    c.nodes[0].outputs = ["c"]
    c.outputs = ["c"]
    expect(graph_bytes(c), nanort.InvalidModelError, "writes tensor c, which is a constant")


def test_output_never_produced():
    g = simple_graph()
    g.add_tensor("ghost", F32, (2, 3))
    g.outputs = ["y", "ghost"]
    expect(graph_bytes(g), nanort.InvalidModelError, "graph output ghost is never produced")


def test_input_never_given_is_an_error_at_run():
    g = const_graph(np.ones((2, 3), F32))
    with nanort.Model(graph_bytes(g)) as m, pytest.raises(nanort.InvalidArgumentError, match="missing input 'x'"):
        m.run({})


def test_signature_names_no_tensor():
    def edit(e):
        e.model.signatures[0].inputs[0].tensor = 12345

    expect(edited(relu_file(), edit), nanort.InvalidModelError, "signature #0 entry #0 is corrupt or names no tensor")


# ----------------------------------------------------------- op parameters


def nhwc_conv(x_shape=(1, 5, 5, 4), w_shape=(8, 3, 3, 4), **attrs) -> bytes:
    g = Graph()
    g.add_tensor("x", F32, x_shape)
    g.add_tensor("w", F32, w_shape, np.ones(w_shape, F32))
    g.add_tensor("y", F32, None)
    g.nodes.append(Node("Conv", ["x", "w"], ["y"], attrs, name="conv"))
    g.inputs, g.outputs = ["x"], ["y"]
    return graph_bytes(g)


def pool(op="MaxPool", x_shape=(1, 5, 5, 4), **attrs) -> bytes:
    g = simple_graph(op, shape=x_shape, **attrs)
    g.tensors["y"].shape = None
    return graph_bytes(g)


CONV_X = {"x": np.ones((1, 5, 5, 4), F32)}


@pytest.mark.parametrize("data, cls, match", [
    (lambda: nhwc_conv(strides=[0, 1]), nanort.InvalidModelError, r"strides\[0\] = 0 is out of range"),
    (lambda: nhwc_conv(strides=[-2, 1]), nanort.InvalidModelError, r"strides\[0\] = -2 is out of range"),
    (lambda: nhwc_conv(dilations=[1, 0]), nanort.InvalidModelError, r"dilations\[1\] = 0 is out of range"),
    (lambda: nhwc_conv(pads=[0, -1, 0, 0]), nanort.InvalidModelError, r"pads\[1\] = -1 is out of range"),
    (lambda: nhwc_conv(pads=[0, 0]), nanort.InvalidModelError, "pads has 2 values, expected 4"),
    (lambda: nhwc_conv(strides=[2**30, 1]), nanort.InvalidModelError, "strides.* is out of range"),
    (lambda: nhwc_conv(group=0), nanort.InvalidModelError, "group = 0 must be positive"),
    (lambda: nhwc_conv(group=-4), nanort.InvalidModelError, "group = -4 must be positive"),
    (lambda: nhwc_conv(group=3), nanort.ShapeError, "group"),
    (lambda: nhwc_conv(w_shape=(8, 7, 3, 4)), nanort.ShapeError,
     r"Conv node 'conv' \(#0\): the height window \(kernel 7, dilation 1: 7 wide\) is larger than the padded input"),
    (lambda: nhwc_conv(dilations=[3, 3]), nanort.ShapeError, "window .*7 wide.* larger than the padded input"),
    (lambda: nhwc_conv(w_shape=(8, 3, 3, 5)), nanort.ShapeError, "channel|C_in|input"),
    (lambda: nhwc_conv(w_shape=(0, 3, 3, 4)), nanort.Error, "empty|0"),
    (lambda: nhwc_conv(auto_pad=9), nanort.InvalidModelError, "unknown auto_pad value 9"),
    (lambda: nhwc_conv(activation=(77, 0, 0)), nanort.InvalidModelError, "unknown fused activation 77"),
    (lambda: nhwc_conv(activation=(2, 6.0, 0.0)), nanort.InvalidModelError, "fused clip bounds"),
    (lambda: pool(kernel_shape=[0, 2]), nanort.InvalidModelError, r"kernel_shape\[0\] = 0 is out of range"),
    (lambda: pool(kernel_shape=[6, 2]), nanort.ShapeError, "larger than the padded input"),
    (lambda: pool(kernel_shape=[2, 2], strides=[1, 0]), nanort.InvalidModelError, "strides"),
    (lambda: pool("AveragePool", kernel_shape=[2, 2], pads=[-1, 0, 0, 0]), nanort.InvalidModelError, "pads"),
])
def test_spatial_params(data, cls, match):
    expect(data(), cls, match, CONV_X)


@pytest.mark.parametrize("op, field", [
    ("Softmax", "axis"), ("LogSoftmax", "axis"), ("Hardmax", "axis"), ("Flatten", "axis"),
    ("LpNormalization", "axis"), ("ArgMax", "axes"), ("ArgMin", "axes"), ("ReduceSum", "axes"),
    ("ReduceMax", "axes"), ("Squeeze", "axes"), ("Unsqueeze", "axes"), ("Concat", "axis"), ("Split", "axis"),
    ("LayerNormalization", "axis"),
])
@pytest.mark.parametrize("axis", [3, -3, 2**31 - 1, -(2**31)])
def test_axis_out_of_range(op, field, axis):
    """Every op with an axis option checks it against the input's rank."""
    if op == "Unsqueeze" and axis == -3:
        axis = -4  # Unsqueeze's axes count in the output's rank (3 here): -3 is valid
    g = simple_graph(op, **{field: [axis] if field == "axes" else axis})
    g.tensors["y"].shape = None
    if op.startswith("Arg"):
        g.tensors["y"].dtype = np.dtype(np.int64)
    if op == "LayerNormalization":
        g.add_tensor("s", F32, (3,), np.ones(3, F32))
        g.nodes[0].inputs.append("s")
    expect(graph_bytes(g), nanort.Error, "axis|axes", {"x": np.ones((2, 3), F32)})


def test_depth_to_space_block_zero():
    g = simple_graph("DepthToSpace", shape=(1, 2, 2, 4), block_size=0)
    g.tensors["y"].shape = None
    expect(graph_bytes(g), nanort.InvalidModelError, "block", {"x": np.ones((1, 2, 2, 4), F32)})


def test_transpose_bad_perm():
    for perm, match in (([0, 0], "perm"), ([0, 2], "perm"), ([1], "perm"), ([-1, 0], "perm")):
        g = simple_graph("Transpose", perm=perm)
        g.tensors["y"].shape = None
        expect(graph_bytes(g), nanort.Error, match, {"x": np.ones((2, 3), F32)})


def test_cast_to_unknown_type():
    g = simple_graph("Cast", to=55)
    expect(graph_bytes(g), nanort.InvalidModelError, "55", {"x": np.ones((2, 3), F32)})


def test_split_sizes_that_do_not_add_up():
    for sizes, match in (([1, 2], "split"), ([3, -1], "split"), ([2**62, 2**62], "split")):
        g = simple_graph("Split", axis=0)
        g.add_tensor("s", np.int64, (2,), np.array(sizes, np.int64))
        g.add_tensor("y2", F32, None)
        g.nodes[0].inputs.append("s")
        g.nodes[0].outputs.append("y2")
        g.outputs.append("y2")
        expect(graph_bytes(g), nanort.ShapeError, match, {"x": np.ones((2, 3), F32)})


def test_reduce_axis_out_of_range():
    g = simple_graph("ReduceSum", axes=[5])
    g.tensors["y"].shape = None
    expect(graph_bytes(g), nanort.Error, "axis", {"x": np.ones((2, 3), F32)})


def test_gather_constant_index_out_of_range():
    g = Graph()
    g.add_tensor("x", F32, (4, 3))
    g.add_tensor("i", np.int64, (2,), np.array([1, 9], np.int64))
    g.add_tensor("y", F32, None)
    g.nodes.append(Node("Gather", ["x", "i"], ["y"], {"axis": 0}, name="g"))
    g.inputs, g.outputs = ["x"], ["y"]
    expect(graph_bytes(g), nanort.InvalidArgumentError, "9", {"x": np.ones((4, 3), F32)})


# What the one-input ops give for x = ones((2, 3)) with their options absent
# (the schema's defaults: alpha = beta = 0, axis 0 for the softmaxes).
ONES_RESULT = {
    "Identity": 1.0, "Relu": 1.0, "Abs": 1.0, "Neg": -1.0, "Exp": math.e, "Log": 0.0, "Sqrt": 1.0,
    "Reciprocal": 1.0, "Floor": 1.0, "Ceil": 1.0, "Round": 1.0, "Sign": 1.0, "Sigmoid": 1 / (1 + math.exp(-1)),
    "Tanh": math.tanh(1), "Sin": math.sin(1), "Cos": math.cos(1), "Erf": math.erf(1),
    "Softplus": math.log1p(math.e), "Softsign": 0.5, "Silu": 1 / (1 + math.exp(-1)), "LeakyRelu": 1.0,
    "ThresholdedRelu": 1.0, "Softmax": 0.5, "LogSoftmax": -math.log(2),
}


def test_op_type_enum_values_all_parse_or_refuse():
    """Every op type of the schema with no options and one input: loads and
    computes with the schema's default options, or fails with a clean error
    naming the op (no op's parse trusts a missing options table)."""
    ran = set()
    for name in dir(OpType):
        if name.startswith("_"):
            continue
        e = Editable(relu_file())
        e.graph.operators[0].op = getattr(OpType, name)
        e.graph.operators[0].optionsType = 0
        e.graph.operators[0].options = None
        try:
            with nanort.Model(e.to_bytes()) as m:
                (y,) = m.run(None, {"x": np.ones((2, 3), F32)})
            ran.add(name)
            if name in ONES_RESULT:
                np.testing.assert_allclose(y, np.full((2, 3), ONES_RESULT[name], F32), rtol=1e-6, err_msg=name)
        except nanort.Error as err:
            assert not isinstance(err, nanort.InternalError) and name in str(err), f"{name}: {err}"
    assert set(ONES_RESULT) <= ran, set(ONES_RESULT) - ran


def test_quantized_activation_needs_supported_kernels():
    """A float-only op on quantized int8 tensors (the converter would have made it a Lut) is refused."""
    g = simple_graph()
    g.tensors["x"].dtype = np.dtype(np.int8)
    g.tensors["y"].dtype = np.dtype(np.int8)
    g.tensors["x"].quant = QuantParams(np.array([0.5]), np.array([0]))
    g.tensors["y"].quant = QuantParams(np.array([0.5]), np.array([0]))
    expect(graph_bytes(g), nanort.UnsupportedError, "input x is quantized int8; this op has no int8 kernel",
           {"x": np.ones((2, 3), np.int8)})


# ------------------------------------------------------------ limits


def test_arena_limit():
    g = simple_graph(shape=("N", 1000))
    with nanort.Model(graph_bytes(g), max_arena_bytes=100_000) as m:
        m.run({"x": np.ones((4, 1000), F32)})
        with pytest.raises(nanort.LimitError, match="over the memory limit"):
            m.run({"x": np.ones((100, 1000), F32)})
        m.run({"x": np.ones((4, 1000), F32)})  # still usable


def test_model_fields_unused_by_runtime_are_verified():
    def edit(e):
        e.model.metadata[0].key = None

    g = simple_graph()
    g.metadata["k"] = "v"
    ok = Editable(graph_bytes(g))
    nanort.Model(ok.to_bytes()).close()
    v = FbView(ok.to_bytes())
    meta_vec, _ = v.vector(v.root(), MODEL["metadata"])
    v.put_u32(meta_vec + 4, 0x7FFFFFF0)  # the first entry's offset points outside
    expect(v.bytes(), nanort.InvalidModelError, "metadata entry #0 is corrupt")


def test_operator_name_is_in_messages():
    data = edited(relu_file(), lambda e: setattr(e.graph.operators[0], "outputs", [e.tensor_index("x")]))
    expect(data, nanort.InvalidModelError, r"operator #0 'n0' \(Relu\)")


def test_operator_table_offset_slot():
    """An options offset that points into the middle of another table."""
    data = nhwc_conv()
    v = FbView(data)
    op = v.operator(0)
    pos = v.field(op, OPERATOR["options"])
    v.put_u32(pos, 2)  # 2 bytes ahead: misaligned table
    expect(v.bytes(), nanort.InvalidModelError, "corrupt options table")


def test_errors_name_an_unnamed_tensor_by_its_index():
    """Converters drop constants' made-up names; an error about such a tensor names it "#index"
    (it printed "(null)"), while the API still reports the file's (empty) name."""
    g = Graph()
    g.add_tensor("x", np.float32, (2, 4))
    g.add_tensor("w", np.int32, (3, 4), np.ones((3, 4), np.int32))
    g.add_tensor("y", np.float32, (2, 3))
    g.nodes.append(Node("FullyConnected", ["x", "w"], ["y"], {"keep_dims": True}, "fc"))
    g.inputs, g.outputs = ["x"], ["y"]
    e = Editable(graph_bytes(g))
    index = e.tensor_index("w")
    e.tensor("w").name = None
    with pytest.raises(nanort.Error, match=f"weight #{index} has type int32"):
        with nanort.Model(e.to_bytes()) as m:
            m.run({"x": np.zeros((2, 4), np.float32)})
