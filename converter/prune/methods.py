"""Which weights of a layer go, and what the rest become.

  magnitude  the smallest |w| (blocks: the smallest sum of |w|) over the whole
             layer;
  wanda      the smallest |w| x ||x_k|| (the weight times the norm of the
             input feature it multiplies, from the calibration inputs),
             compared within each output row (Sun et al., "A Simple and
             Effective Pruning Approach for Large Language Models", 2023);
  sparsegpt  layer-wise optimal brain surgeon (Frantar & Alistarh, "SparseGPT:
             Massive Language Models Can Be Accurately Pruned in One-Shot",
             2023): columns of W are visited in order; at the start of every
             block of columns the weights with the lowest w^2 / [H^-1]_kk^2
             are chosen (N:M: within each group as it is reached), and each
             pruned column's error is spread over the columns not yet
             visited through the inverse Hessian of the layer's inputs
             (its upper Cholesky factor), so the kept weights compensate.

Each takes the weight matrix W [rows, K] (float64), the layer's input
moments and the pattern, and returns the pruned matrix.
"""

from __future__ import annotations

import math

import numpy as np

from .calibration import InputStats
from .patterns import Pattern, prune_mask

METHODS = ("magnitude", "wanda", "sparsegpt")
DAMPING = 0.01       # fraction of the mean Hessian diagonal added to it (SparseGPT's percdamp)
COLUMN_BLOCK = 128   # SparseGPT's block of columns (lazy updates and mask selection)


def magnitude(w: np.ndarray, stats: InputStats | None, pattern: Pattern, sparsity: float) -> np.ndarray:
    out = w.copy()
    out[prune_mask(np.abs(w), pattern, sparsity)] = 0.0
    return out


def wanda(w: np.ndarray, stats: InputStats, pattern: Pattern, sparsity: float) -> np.ndarray:
    norms = np.sqrt(np.maximum(np.diag(stats.mean_hessian), 0.0))
    out = w.copy()
    out[prune_mask(np.abs(w) * norms[None, :], pattern, sparsity, per_row=True)] = 0.0
    return out


def damped_hessian(stats: InputStats) -> np.ndarray | None:
    """E[x x^T] + DAMPING * mean diagonal (inputs never seen get a unit diagonal); None if all inputs are zero."""
    h = stats.mean_hessian.copy()
    diag = np.diag(h)
    if not np.any(diag > 0):
        return None
    h[np.diag_indices_from(h)] += DAMPING * float(diag.mean())
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    return h


def _inverse_cholesky_upper(h: np.ndarray) -> np.ndarray:
    """U upper triangular with U^T U = H^-1: with J the reversal, J H J = R R^T (R lower) gives
    H = V V^T with V = J R J upper, so U = V^-1 (one Cholesky and one triangular inverse)."""
    v = np.linalg.cholesky(h[::-1, ::-1])[::-1, ::-1]
    return np.linalg.inv(v)


def sparsegpt(w: np.ndarray, stats: InputStats, pattern: Pattern, sparsity: float) -> np.ndarray:
    h = damped_hessian(stats)
    if h is None:
        return magnitude(w, stats, pattern, sparsity)
    u = _inverse_cholesky_upper(h)
    w = w.copy()
    rows, k = w.shape
    unit = math.lcm(pattern.block[1] if pattern.kind == "block" else 1, pattern.m if pattern.kind == "n:m" else 1)
    block = unit * -(-COLUMN_BLOCK // unit)
    for i1 in range(0, k, block):
        i2 = min(i1 + block, k)
        w1 = w[:, i1:i2].copy()
        u1 = u[i1:i2, i1:i2]
        d = np.diag(u1)
        errors = np.zeros_like(w1)
        pruned = None if pattern.kind == "n:m" else prune_mask(w1 ** 2 / d[None, :] ** 2, pattern, sparsity)
        for i in range(i2 - i1):
            if pattern.kind == "n:m" and i % pattern.m == 0:
                group = w1[:, i:i + pattern.m] ** 2 / d[None, i:i + pattern.m] ** 2
                chosen = prune_mask(group, pattern, 0.0)
                pruned = chosen if i == 0 else np.concatenate([pruned, chosen], axis=1)
            col = w1[:, i]
            q = np.where(pruned[:, i], 0.0, col)
            err = (col - q) / d[i]
            w1[:, i:] -= np.outer(err, u1[i, i:])
            w1[:, i] = q
            errors[:, i] = err
        w[:, i1:i2] = w1
        w[:, i2:] -= errors @ u[i1:i2, i2:]
    return w


PRUNERS = {"magnitude": magnitude, "wanda": wanda, "sparsegpt": sparsegpt}


def bias_correction(w: np.ndarray, pruned: np.ndarray, stats: InputStats) -> np.ndarray:
    """What the bias gains so that the pruned layer's mean output on the calibration inputs stays the
    unpruned one's: (W - W') E[x]. Inputs after ReLU / HardSwish have large positive means, so every
    pruned weight also shifts its output channel's mean, and with BatchNorm folded into the weights
    nothing downstream re-centres it: without this, 30 % of PP-OCR rec's 1x1 convs pruned by
    magnitude sends character accuracy from 0.96 to 0 (one layer alone is enough)."""
    return (w - pruned) @ stats.mean


def reconstruction_error(w: np.ndarray, pruned: np.ndarray, stats: InputStats) -> float:
    """||X (W - W')^T - 1 c^T||^2 / ||X W^T||^2 on the calibration inputs, c the bias correction:
    the layer's output error once the bias is corrected (its part that varies with the input)."""
    d = w - pruned
    mean = stats.mean
    centered = stats.mean_hessian - np.outer(mean, mean)
    den = float(((w @ stats.mean_hessian) * w).sum())
    return max(0.0, float(((d @ centered) * d).sum())) / den if den > 0 else 0.0
