"""Sparsity patterns and the choice of which weights go, given a score per
weight (higher = more important) in the layer's matrix view W [rows, K]:

  unstructured  any weight;
  N:M           in every group of M consecutive weights along K, all but
                the N best (2:4, 4:8): a fixed density kernels can rely on;
  block RxC     whole blocks of R output channels x C consecutive K values,
                scored by their sum: 1x4 is the int8 kernels' K block (the
                4 bytes one vpdpbusd / sdot lane sums), 4x1 four output
                channels at one K;
  channel       whole output channels (structured, channels.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pattern:
    kind: str                   # unstructured | n:m | block | channel
    n: int = 0                  # n:m
    m: int = 0
    block: tuple[int, int] = (1, 1)

    @staticmethod
    def parse(text: str) -> Pattern:
        t = text.strip().lower()
        if t == "unstructured":
            return Pattern("unstructured")
        if t == "channel":
            return Pattern("channel")
        if t == "block":
            return Pattern("block", block=(1, 4))
        if m := re.fullmatch(r"(\d+):(\d+)", t):
            n, group = int(m.group(1)), int(m.group(2))
            if not 0 < n < group <= 64:
                raise ValueError(f"prune pattern {text!r}: N:M needs 0 < N < M <= 64")
            return Pattern("n:m", n=n, m=group)
        if m := re.fullmatch(r"(\d+)x(\d+)", t):
            block = (int(m.group(1)), int(m.group(2)))
            if min(block) < 1 or block[0] * block[1] < 2 or max(block) > 64:
                raise ValueError(f"prune pattern {text!r}: a block needs 2 to 4096 weights, sides up to 64")
            return Pattern("block", block=block)
        raise ValueError(f"prune pattern must be unstructured, N:M (2:4, 4:8), block, RxC (1x4, 4x1) or channel, "
                         f"got {text!r}")

    @property
    def fixed_sparsity(self) -> float | None:
        return 1 - self.n / self.m if self.kind == "n:m" else None

    def __str__(self) -> str:
        if self.kind == "n:m":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"{self.block[0]}x{self.block[1]}"
        return self.kind

    def fits(self, rows: int, k: int) -> str | None:
        """Why a [rows, k] matrix cannot take this pattern, or None."""
        if self.kind == "n:m" and k % self.m:
            return f"K = {k} is not a multiple of {self.m}"
        if self.kind == "block" and (rows % self.block[0] or k % self.block[1]):
            return f"[{rows}, {k}] does not split into {self.block[0]}x{self.block[1]} blocks"
        return None

    def group_scores(self, scores: np.ndarray) -> np.ndarray:
        """Scores summed over each block (unstructured: the scores)."""
        bn, bk = self.block if self.kind == "block" else (1, 1)
        r, k = scores.shape
        return scores.reshape(r // bn, bn, k // bk, bk).sum(axis=(1, 3))

    def expand(self, group_mask: np.ndarray) -> np.ndarray:
        bn, bk = self.block if self.kind == "block" else (1, 1)
        return np.repeat(np.repeat(group_mask, bn, axis=0), bk, axis=1)


def _lowest(scores: np.ndarray, count: int) -> np.ndarray:
    """Mask of the `count` lowest entries of a 1-D array."""
    mask = np.zeros(scores.shape, bool)
    if count > 0:
        mask[np.argpartition(scores, count - 1)[:count]] = True
    return mask


def prune_mask(scores: np.ndarray, pattern: Pattern, sparsity: float, per_row: bool = False) -> np.ndarray:
    """True where a weight is pruned: the lowest-scoring groups, `sparsity` of
    them over the whole matrix or (per_row) in every row of groups; N:M
    ignores `sparsity` (its own is fixed)."""
    if pattern.kind == "n:m":
        groups = scores.reshape(-1, pattern.m)
        order = np.argsort(groups, axis=1, kind="stable")[:, :pattern.m - pattern.n]
        mask = np.zeros(groups.shape, bool)
        np.put_along_axis(mask, order, True, axis=1)
        return mask.reshape(scores.shape)
    g = pattern.group_scores(scores)
    if per_row:
        count = int(round(sparsity * g.shape[1]))
        gm = np.stack([_lowest(row, count) for row in g]) if count else np.zeros(g.shape, bool)
    else:
        gm = _lowest(g.reshape(-1), int(round(sparsity * g.size))).reshape(g.shape)
    return pattern.expand(gm)
