"""Densifies a TFLite sparse tensor (its SparsityParameters).

The stored values are the non-zero elements (or non-zero blocks) in
traversal order: level l of the traversal walks dimension traversal_order[l],
either densely (every index 0..dense_size-1) or through a CSR pair (the
indices array_indices[array_segments[p] : array_segments[p + 1]] under
parent position p). The first n levels are the tensor's n dimensions (a
blocked one counted in blocks), the last k walk inside a block; block_map
says which dimension each block level splits. Values are consumed one per
leaf, in traversal order. Done level by level with numpy (no per-element
Python loop)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Level = tuple[int, np.ndarray | None, np.ndarray | None]  # (dense size, segments, indices); segments None = dense


def _expand(parents: np.ndarray, level: Level) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions of the children, each child's parent row, each child's index at this level)."""
    size, segments, indices = level
    if segments is None:
        if size < 0:
            raise ValueError(f"dense level of size {size}")
        positions = (parents[:, None] * size + np.arange(size)).reshape(-1)
        return positions, np.repeat(np.arange(parents.size), size), np.tile(np.arange(size), parents.size)
    if parents.size and (parents.max() + 1 >= segments.size):
        raise ValueError("a CSR level's segments are too short")
    starts, ends = segments[parents], segments[parents + 1]
    counts = ends - starts
    if np.any(counts < 0) or (ends.size and ends.max() > indices.size):
        raise ValueError("a CSR level's segments are not increasing or point past its indices")
    rows = np.repeat(np.arange(parents.size), counts)
    positions = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
    return positions, rows, indices[positions]


def densify(values: np.ndarray, dense_shape: Sequence[int], traversal_order: Sequence[int],
            block_map: Sequence[int], levels: Sequence[Level]) -> np.ndarray:
    n, k = len(dense_shape), len(block_map)
    if len(traversal_order) != n + k or len(levels) != n + k or sorted(traversal_order) != list(range(n + k)) or \
            sorted(traversal_order[:n]) != list(range(n)) or any(not 0 <= b < n for b in block_map):
        raise ValueError("its traversal order, block map and dimension metadata do not fit its shape")
    parents = np.zeros(1, np.int64)
    coords: list[np.ndarray] = []
    for level in levels:
        parents, rows, index = _expand(parents, level)
        coords = [c[rows] for c in coords] + [index]
    if parents.size != values.size:
        raise ValueError(f"its structure has {parents.size} elements, its buffer {values.size}")
    original = [np.zeros(values.size, np.int64) for _ in range(n)]
    for level in range(n):
        original[traversal_order[level]] = coords[level]
    for level in range(n, n + k):
        b = traversal_order[level] - n
        block_size = levels[traversal_order[n + b]][0]
        original[block_map[b]] = original[block_map[b]] * block_size + coords[level]
    out = np.zeros(tuple(dense_shape), values.dtype)
    if values.size:
        if any(int(c.max()) >= d or int(c.min()) < 0 for c, d in zip(original, dense_shape)):
            raise ValueError("an index lies outside its dense shape")
        out[tuple(original)] = values
    return out
