"""Sparse storage of constant weights (schemas/nanort.fbs: Sparsity).

A weight full of zeros (pruned by nanort, or in training) is stored as its
kept values plus an index structure, whichever of these is smallest:

  BITMASK    one bit per block of the [rows, cols] matrix view (blocks 1x1,
             1x4, 4x1, ...), the kept blocks' values in row-major order;
  BLOCK_CSR  row pointers and block column indices (1, 2 or 4 bytes each),
             smallest for very sparse blocks;
  N_M        N kept values in every group of M along a row, with their
             positions in ceil(log2 M) bits each (1:4 beats a bitmask).

The matrix view is [shape[0], product of the other dims]: output channels x
K for OHWI conv weights and FullyConnected's W[N, K]. A weight is stored
sparse only when that saves at least an eighth of its bytes; quantization
parameters stay the dense tensor's (int8 pruning keeps exact zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanort.schema.SparseFormat import SparseFormat

# Block shapes [rows, cols] tried for BITMASK and BLOCK_CSR: elementwise, the
# int8 kernels' K blocks of 4 (1x4) and blocks of 4 output channels (4x1).
BLOCK_SHAPES = ((1, 1), (1, 2), (2, 1), (1, 4), (4, 1), (1, 8), (8, 1), (1, 16))
GROUP_SIZES = (2, 4, 8, 16)  # N:M group lengths tried
WORTH = 7 / 8                # stored sparse only below this fraction of the dense bytes
ARRAY_OVERHEAD = 48          # bytes an extra array costs in the file (alignment padding, on average)
MIN_ELEMENTS = 256           # smaller weights stay dense (the table costs more than it saves)
WEIGHT_INPUTS = {"Conv": 1, "ConvTranspose": 1, "FullyConnected": 1, "MatMul": 1}
SPARSE_DTYPES = (np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.int8))


@dataclass
class SparseEncoding:
    format: int                      # SparseFormat
    block_shape: tuple[int, int]     # BITMASK / BLOCK_CSR: [bn, bk]; N_M: [N, M]
    values: np.ndarray               # the kept values, 1-D, the tensor's dtype
    mask: np.ndarray | None = None   # uint8 bytes
    indptr: np.ndarray | None = None  # int32
    indices: np.ndarray | None = None  # uint8 bytes (N_M bit-packed) or the index_width integers
    index_width: int = 4

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"mask": self.mask, "indptr": self.indptr, "indices": self.indices}
        return {k: v for k, v in out.items() if v is not None}

    def stored_bytes(self) -> int:
        return self.values.nbytes + sum(a.nbytes + ARRAY_OVERHEAD for a in self.arrays().values())


def matrix_view(data: np.ndarray) -> np.ndarray:
    rows = data.shape[0] if data.ndim else 1
    return data.reshape(rows, -1)


def _kept_blocks(mat: np.ndarray, bn: int, bk: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(block grid mask [rows/bn, cols/bk], blocks [R, C, bn, bk]) or None if the shape does not split."""
    rows, cols = mat.shape
    if rows % bn or cols % bk:
        return None
    blocks = mat.reshape(rows // bn, bn, cols // bk, bk).transpose(0, 2, 1, 3)
    return (blocks != 0).any(axis=(2, 3)), blocks


def _bitmask(mat: np.ndarray, bn: int, bk: int) -> SparseEncoding | None:
    kept = _kept_blocks(mat, bn, bk)
    if kept is None:
        return None
    grid, blocks = kept
    mask = np.packbits(grid.reshape(-1), bitorder="little")
    return SparseEncoding(SparseFormat.BITMASK, (bn, bk), blocks[grid].reshape(-1), mask=mask)


def _block_csr(mat: np.ndarray, bn: int, bk: int) -> SparseEncoding | None:
    kept = _kept_blocks(mat, bn, bk)
    if kept is None:
        return None
    grid, blocks = kept
    counts = grid.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    cols = np.nonzero(grid)[1]
    width = _index_width(grid.shape[1])
    indices = cols.astype({1: "<u1", 2: "<u2", 4: "<u4"}[width])
    return SparseEncoding(SparseFormat.BLOCK_CSR, (bn, bk), blocks[grid].reshape(-1), indptr=indptr,
                          indices=indices, index_width=width)


def index_bits(m: int) -> int:
    return max(1, (m - 1).bit_length())


def _n_m(mat: np.ndarray, m: int) -> SparseEncoding | None:
    rows, cols = mat.shape
    if cols % m:
        return None
    groups = mat.reshape(-1, m)
    nonzero = groups != 0
    n = max(int(nonzero.sum(axis=1).max(initial=0)), 1)
    if n >= m:
        return None
    # the positions kept per group: its nonzeros first (in order), padded with zeros' positions,
    # then sorted so positions increase within the group
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :n]
    pos = np.sort(order, axis=1)
    values = np.take_along_axis(groups, pos, axis=1).reshape(-1)
    bits = index_bits(m)
    pos_bits = ((pos.reshape(-1, 1) >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    indices = np.packbits(pos_bits, bitorder="little")
    return SparseEncoding(SparseFormat.N_M, (n, m), values, indices=indices)


def _index_width(block_cols: int) -> int:
    return 1 if block_cols <= 1 << 8 else 2 if block_cols <= 1 << 16 else 4


def _sizes(mat: np.ndarray) -> list[tuple[int, tuple]]:
    """(stored bytes, how to build it) of every applicable encoding, from counts alone."""
    rows, cols = mat.shape
    item = mat.itemsize
    nonzero = mat != 0
    out = []
    for bn, bk in BLOCK_SHAPES:
        if rows % bn or cols % bk:
            continue
        grid = nonzero.reshape(rows // bn, bn, cols // bk, bk).any(axis=(1, 3))
        kept, values = int(grid.sum()), int(grid.sum()) * bn * bk * item
        out.append((values + (grid.size + 7) // 8 + ARRAY_OVERHEAD, (_bitmask, bn, bk)))
        csr = 4 * (grid.shape[0] + 1) + kept * _index_width(grid.shape[1]) + 2 * ARRAY_OVERHEAD
        out.append((values + csr, (_block_csr, bn, bk)))
    for m in GROUP_SIZES:
        if cols % m:
            continue
        n = max(int(nonzero.reshape(-1, m).sum(axis=1).max(initial=0)), 1)
        if n < m:
            kept = rows * cols // m * n
            out.append((kept * item + (kept * index_bits(m) + 7) // 8 + ARRAY_OVERHEAD, (_n_m, m)))
    return out


def candidates(data: np.ndarray) -> list[SparseEncoding]:
    """Every applicable encoding, built (tests compare them)."""
    mat = matrix_view(data)
    return [how[0](mat, *how[1:]) for _, how in _sizes(mat)]


def encode(data: np.ndarray) -> SparseEncoding | None:
    """The smallest sparse encoding of a weight, or None when dense is about as small."""
    if data.dtype not in SPARSE_DTYPES or data.ndim < 2 or data.size < MIN_ELEMENTS:
        return None
    zeros = data.size - np.count_nonzero(data)
    if zeros * data.itemsize < (1 - WORTH) * data.nbytes:  # no encoding can save an eighth
        return None
    mat = matrix_view(data)
    sizes = _sizes(mat)
    if not sizes:
        return None
    size, how = min(sizes, key=lambda entry: entry[0])
    if size > WORTH * data.nbytes:
        return None
    return how[0](mat, *how[1:])


def decode(enc: SparseEncoding, shape: tuple[int, ...]) -> np.ndarray:
    """The dense tensor (tests and inspection; the runtime has its own in C)."""
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64))
    out = np.zeros((rows, cols), enc.values.dtype)
    if enc.format == SparseFormat.N_M:
        n, m = enc.block_shape
        bits = index_bits(m)
        groups = rows * cols // m
        raw = np.unpackbits(enc.indices, bitorder="little")[:groups * n * bits].reshape(-1, bits)
        pos = (raw.astype(np.int64) << np.arange(bits)).sum(axis=1).reshape(groups, n)
        flat = out.reshape(groups, m)
        np.put_along_axis(flat, pos, enc.values.reshape(groups, n), axis=1)
        return out.reshape(shape)
    bn, bk = enc.block_shape
    grid_shape = (rows // bn, cols // bk)
    if enc.format == SparseFormat.BITMASK:
        grid = np.unpackbits(enc.mask, bitorder="little")[:grid_shape[0] * grid_shape[1]].astype(bool)
        grid = grid.reshape(grid_shape)
    else:
        grid = np.zeros(grid_shape, bool)
        row_of = np.repeat(np.arange(grid_shape[0]), np.diff(enc.indptr))
        grid[row_of, enc.indices.astype(np.int64)] = True
    blocks = np.zeros(grid_shape + (bn, bk), enc.values.dtype)
    blocks[grid] = enc.values.reshape(-1, bn, bk)
    return blocks.transpose(0, 2, 1, 3).reshape(shape)


def weight_names(nodes) -> set[str]:
    """Constants that every reader takes as its weight input (the tensors stored sparse if worth it)."""
    weight, other = set(), set()
    for n in nodes:
        for k, name in enumerate(n.inputs):
            if name:
                (weight if WEIGHT_INPUTS.get(n.op) == k else other).add(name)
    return weight - other
