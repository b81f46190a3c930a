"""Makes bad .nrt files for the verifier tests, at two levels:

- `Editable`: the whole file as the schema's object API (ModelT), edited
  freely (out-of-range indices, wrong buffer sizes, bad quantization, odd
  options...) and written back with its constant data re-laid out, so only
  the intended fault is present.
- `FbView`: raw FlatBuffers navigation (absolute byte positions of tables,
  fields, vectors) for byte patches: offsets pointing outside the file,
  misaligned vectors, bad vtables, unterminated strings.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import flatbuffers
import numpy as np

from nanort.converter.ir import Graph
from nanort.converter.serialize import serialize
from nanort.runtime.nrt_file import DTYPE_BITS
from nanort.schema.Buffer import BufferT
from nanort.schema.Model import ModelT
from nanort.schema.SparseFormat import SparseFormat

ALIGN = 64


def graph_bytes(g: Graph) -> bytes:
    return serialize(g)


def simple_graph(op: str = "Relu", shape=(2, 3), **attrs) -> Graph:
    """x -> op -> y, float32."""
    g = Graph()
    g.add_tensor("x", np.float32, shape)
    g.add_tensor("y", np.float32, shape)
    from nanort.converter.ir import Node

    g.nodes.append(Node(op, ["x"], ["y"], dict(attrs), name="n0"))
    g.inputs, g.outputs = ["x"], ["y"]
    return g


class Editable:
    """A .nrt file as ModelT plus the bytes of each buffer."""

    def __init__(self, data: bytes):
        self.model = ModelT.InitFromPackedBuf(bytearray(data), 0)
        self.model.buffers = self.model.buffers or [BufferT()]
        self.blobs = [bytes(data[b.offset:b.offset + b.size]) if b.size else b"" for b in self.model.buffers]
        for t in self.graph.tensors:  # constants by data_offset (the converter's) become Buffers, to edit
            if t.dataOffset and t.sparsity is not None and t.sparsity.format:
                self._sparse_to_buffers(t, data)
            elif t.dataOffset:
                n = int(np.prod(t.shape, dtype=np.int64)) if t.shape is not None else 1
                size = (n * DTYPE_BITS[t.type] + 7) // 8
                t.buffer, t.dataOffset = self.add_buffer(bytes(data[t.dataOffset:t.dataOffset + size])), 0

    def _sparse_to_buffers(self, t, data: bytes) -> None:
        """A sparse constant's values and index arrays (schema: Sparsity) as Buffers."""
        sp = t.sparsity
        rows = int(t.shape[0])
        cols = int(np.prod(t.shape[1:], dtype=np.int64))
        block = [int(b) for b in sp.blockShape] if sp.blockShape is not None else [1, 1]
        elem = DTYPE_BITS[t.type] // 8
        arrays: dict[str, int] = {}
        if sp.format == SparseFormat.N_M:
            n, m = block
            kept_values = rows * cols // m * n
            arrays["indices"] = (kept_values * max(1, (m - 1).bit_length()) + 7) // 8
        else:
            blocks = rows // block[0] * (cols // block[1])
            if sp.format == SparseFormat.BITMASK:
                arrays["mask"] = (blocks + 7) // 8
                mask = np.frombuffer(data[sp.maskOffset:sp.maskOffset + arrays["mask"]], np.uint8)
                kept = int(np.unpackbits(mask).sum())
            else:
                arrays["indptr"] = 4 * (rows // block[0] + 1)
                kept = int(np.frombuffer(data[sp.indptrOffset:sp.indptrOffset + arrays["indptr"]], "<i4")[-1])
                arrays["indices"] = kept * sp.indexWidth
            kept_values = kept * block[0] * block[1]
        t.buffer = self.add_buffer(bytes(data[t.dataOffset:t.dataOffset + kept_values * elem]))
        t.dataOffset = 0
        for kind, size in arrays.items():
            offset = getattr(sp, f"{kind}Offset")
            setattr(sp, f"{kind}Buffer", self.add_buffer(bytes(data[offset:offset + size])))
            setattr(sp, f"{kind}Offset", 0)

    @property
    def graph(self):
        return self.model.graphs[0]

    def tensor(self, name: str):
        for t in self.graph.tensors:
            if t.name.decode() == name:
                return t
        raise KeyError(name)

    def tensor_index(self, name: str) -> int:
        return [t.name.decode() for t in self.graph.tensors].index(name)

    def add_buffer(self, data: bytes) -> int:
        self.model.buffers.append(BufferT(offset=0, size=len(data)))
        self.blobs.append(data)
        return len(self.blobs) - 1

    def to_bytes(self, fix_buffers: Callable[[list[BufferT]], None] | None = None) -> bytes:
        """Lays the blobs out 64-byte aligned after the FlatBuffer (as the
        serializer does); fix_buffers may then corrupt offsets/sizes."""

        def build() -> bytes:
            b = flatbuffers.Builder(1 << 12)
            b.ForceDefaults(True)
            b.Finish(self.model.Pack(b), file_identifier=b"NRT0")
            return bytes(b.Output())

        for buf, blob in zip(self.model.buffers, self.blobs):
            buf.offset, buf.size = 0, len(blob)
        first = build()
        pos = (len(first) + ALIGN - 1) // ALIGN * ALIGN
        for buf, blob in zip(self.model.buffers, self.blobs):
            if blob:
                buf.offset = pos
                pos = (pos + len(blob) + ALIGN - 1) // ALIGN * ALIGN
        if fix_buffers:
            fix_buffers(self.model.buffers)
        fb = build()
        assert len(fb) == len(first)
        out = bytearray(fb)
        for _buf, blob in zip(self.model.buffers, self.blobs):
            if blob:
                start = (len(out) + ALIGN - 1) // ALIGN * ALIGN
                out.extend(b"\0" * (start - len(out)))
                out.extend(blob)
        return bytes(out)


def _slots() -> dict[str, dict[str, int]]:
    """Field slots per table, from the generated C header (one source of truth)."""
    header = Path(__file__).resolve().parent.parent / "native" / "src" / "engine" / "nanort_schema.h"
    out: dict[str, dict[str, int]] = {}
    for table, field, slot in re.findall(r"#define NRT_FB_([A-Z][A-Za-z]*)_([a-z][a-z0-9_]*) (\d+)\b",
                                         header.read_text()):
        out.setdefault(table, {})[field] = int(slot)
    return out


SLOTS = _slots()
MODEL, GRAPH, TENSOR, OPERATOR = SLOTS["Model"], SLOTS["Graph"], SLOTS["Tensor"], SLOTS["Operator"]


class FbView:
    """Absolute positions inside a FlatBuffer, for byte patches."""

    def __init__(self, data: bytes):
        self.data = bytearray(data)

    def u16(self, pos: int) -> int:
        return struct.unpack_from("<H", self.data, pos)[0]

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.data, pos)[0]

    def i32(self, pos: int) -> int:
        return struct.unpack_from("<i", self.data, pos)[0]

    def put_u32(self, pos: int, value: int) -> None:
        struct.pack_into("<I", self.data, pos, value & 0xFFFFFFFF)

    def u64(self, pos: int) -> int:
        return struct.unpack_from("<Q", self.data, pos)[0]

    def put_u64(self, pos: int, value: int) -> None:
        struct.pack_into("<Q", self.data, pos, value & 0xFFFFFFFFFFFFFFFF)

    def put_u16(self, pos: int, value: int) -> None:
        struct.pack_into("<H", self.data, pos, value & 0xFFFF)

    def root(self) -> int:
        return self.u32(0)

    def vtable(self, table: int) -> int:
        return table - self.i32(table)

    def field(self, table: int, slot: int) -> int:
        """Absolute position of a field's bytes (0 when absent)."""
        vt = self.vtable(table)
        voff = 4 + 2 * slot
        if voff + 2 > self.u16(vt):
            return 0
        off = self.u16(vt + voff)
        return table + off if off else 0

    def deref(self, field_pos: int) -> int:
        return field_pos + self.u32(field_pos)

    def vector(self, table: int, slot: int) -> tuple[int, int]:
        """(position of the length word, length) of a vector field."""
        v = self.deref(self.field(table, slot))
        return v, self.u32(v)

    def vec_table(self, table: int, slot: int, i: int) -> int:
        v, n = self.vector(table, slot)
        assert i < n
        return self.deref(v + 4 + 4 * i)

    # shortcuts
    def graph(self) -> int:
        return self.vec_table(self.root(), MODEL["graphs"], 0)

    def tensor(self, i: int) -> int:
        return self.vec_table(self.graph(), GRAPH["tensors"], i)

    def operator(self, i: int) -> int:
        return self.vec_table(self.graph(), GRAPH["operators"], i)

    def bytes(self) -> bytes:
        return bytes(self.data)
