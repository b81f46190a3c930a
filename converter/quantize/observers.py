"""Activation statistics and the observers that turn them into int8 ranges.

TensorStats keeps the exact min/max of a tensor over all calibration samples
and a 2048-bin histogram whose bin width is a power of two: when new values
fall outside it, the width doubles and pairs of bins merge exactly, so one
pass over the data suffices whatever order the samples come in.

Observers (each returns the real range [lo, hi] to map onto int8):
  minmax      the observed range
  percentile  clip the rarest (100 - p)% at each end (default p = 99.99)
  mse         the range minimizing the expected squared quantization error
  entropy     TensorRT-style KL-divergence threshold on |x|
"""

from __future__ import annotations

import math

import numpy as np

BINS = 2048
HUGE = 1e30  # larger finite values stay out of the histogram
SAMPLE_LIMIT = 1 << 17  # values per tensor per sample that go into the histogram
OBSERVERS = ("minmax", "percentile", "mse", "entropy")
ENTROPY_MIN_VALUES = 1 << 16


def _sample_step(size: int) -> int:
    """Stride of the values sampled into the histogram: 1 up to SAMPLE_LIMIT values, else a
    prime >= 7, so that a channels-last tensor's stride never lands on a few channels only
    (a stride of 12 through 48 channels would see 4 of them)."""
    raw = size // SAMPLE_LIMIT
    if raw <= 1:
        return 1
    step = max(raw, 7)
    while any(step % p == 0 for p in range(2, int(step ** 0.5) + 1)):
        step += 1
    return step


class TensorStats:
    def __init__(self) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self.nonfinite = 0
        self.width = 0.0
        self.origin = 0.0
        self.hist = np.zeros(BINS, np.float64)
        self._ranges: dict[tuple[str, float], tuple[float, float]] = {}

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).reshape(-1)
        if x.size == 0:
            return
        self._ranges.clear()
        lo, hi = float(x.min()), float(x.max())  # NaN / inf show here: one pass for the usual case
        if not (math.isfinite(lo) and math.isfinite(hi)):
            finite = np.isfinite(x)
            self.nonfinite += int(x.size - finite.sum())
            x = x[finite]
            if x.size == 0:
                return
            lo, hi = float(x.min()), float(x.max())
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        if lo < -HUGE or hi > HUGE:  # (masks at +-FLT_MAX): in min / max, so mixed_range sees them, but
            x = x[np.abs(x) <= HUGE]  # doubling the histogram's bin width to reach them would overflow
            if x.size == 0:
                return
            lo, hi = float(x.min()), float(x.max())
        self.count += x.size
        if self.width == 0.0:
            span = max(hi - lo, abs(hi), abs(lo), 1e-12)
            self.width = 2.0 ** math.ceil(math.log2(span / (BINS - 2)))
            self.origin = math.floor(lo / self.width) * self.width
        while lo < self.origin or hi >= self.origin + BINS * self.width:
            self._double_width(lo)
        step = _sample_step(x.size)
        sample = x[(x.size % step) // 2::step] if step > 1 else x
        idx = np.clip(((sample - self.origin) / self.width).astype(np.int64), 0, BINS - 1)
        self.hist += np.bincount(idx, minlength=BINS) * (x.size / sample.size)

    def _double_width(self, lo: float) -> None:
        """Doubles the bin width, moving the origin down towards lo as far as the old
        bins all stay inside (a histogram that started at 0 must be able to grow below it)."""
        new_width = self.width * 2
        lowest = math.ceil((self.origin - BINS * self.width) / new_width) * new_width
        new_origin = max(math.floor(min(lo, self.origin) / new_width) * new_width, lowest)
        starts = self.origin + np.arange(BINS) * self.width
        idx = np.floor((starts - new_origin) / new_width).astype(np.int64)
        merged = np.zeros(BINS, np.float64)
        keep = idx < BINS
        np.add.at(merged, idx[keep], self.hist[keep])
        self.hist, self.width, self.origin = merged, new_width, new_origin

    @property
    def centers(self) -> np.ndarray:
        return self.origin + (np.arange(BINS) + 0.5) * self.width

    def range(self, method: str = "minmax", percentile: float = 99.99) -> tuple[float, float]:
        """The [lo, hi] the chosen observer picks (always contains 0, so zero is exact in int8)."""
        if self.count == 0:
            return 0.0, 0.0
        key = (method, percentile)
        if key not in self._ranges:
            self._ranges[key] = self._range(method, percentile)
        return self._ranges[key]

    def _range(self, method: str, percentile: float) -> tuple[float, float]:
        if method == "minmax":
            lo, hi = self.min, self.max
        elif method == "percentile":
            lo, hi = self._percentile_range(percentile)
        elif method == "mse":
            lo, hi = self._mse_range()
        elif method == "entropy":
            lo, hi = self._entropy_range()
        else:
            raise ValueError(f"unknown observer {method!r}; choose one of {', '.join(OBSERVERS)}")
        return min(lo, 0.0), max(hi, 0.0)

    def _percentile_range(self, p: float) -> tuple[float, float]:
        cdf = np.cumsum(self.hist) / self.hist.sum()
        tail = (100.0 - p) / 100.0
        lo_bin = int(np.searchsorted(cdf, tail, side="left"))
        hi_bin = int(np.searchsorted(cdf, 1.0 - tail, side="left"))
        lo = max(self.min, self.origin + lo_bin * self.width)
        hi = min(self.max, self.origin + (hi_bin + 1) * self.width)
        return lo, hi

    def quant_error(self, lo: float, hi: float) -> float:
        """Expected squared error of int8 quantization with range [lo, hi] over the histogram."""
        return float(self._quant_errors(np.array([lo]), np.array([hi]))[0])

    def _quant_errors(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """quant_error for many candidate ranges at once (one row per candidate)."""
        lo, hi = np.minimum(lo, 0.0)[:, None], np.maximum(hi, 0.0)[:, None]
        scale = np.maximum(hi - lo, 1e-12) / 255.0
        zp = np.clip(np.round(-128 - lo / scale), -128, 127)
        c = self.centers[None, :]
        q = np.clip(np.round(c / scale) + zp, -128, 127)
        err = (c - (q - zp) * scale) ** 2 + self.width ** 2 / 12.0
        return (err * self.hist).sum(axis=1) / self.hist.sum()

    def _mse_range(self) -> tuple[float, float]:
        shrink = np.linspace(0.2, 1.0, 17)
        s_lo, s_hi = (a.reshape(-1) for a in np.meshgrid(shrink, shrink, indexing="ij"))
        lo = self.min * s_lo if self.min < 0 else np.full(s_lo.shape, self.min)
        hi = self.max * s_hi
        errors = self._quant_errors(lo, hi)
        best = int(np.argmin(errors))  # first minimum: the same choice as a scan in this order
        return float(lo[best]), float(hi[best])

    def _entropy_range(self) -> tuple[float, float]:
        """KL-divergence calibration (TensorRT's method), on each side of zero separately:
        activations here are asymmetric int8, and a one-sided |x| histogram would let a spike
        away from zero (HardSwish's flat part after an affine step lands on its offset) pull
        the threshold of both sides down to it."""
        if self.count < ENTROPY_MIN_VALUES:  # too few values for a 2048-bin distribution (an SE block's
            return self.min, self.max        # 1x1 excitations): the KL search would clip at random
        c = self.centers
        hi = _kl_threshold(c[c > 0], self.hist[c > 0], self.max) if self.max > 0 else 0.0
        lo = -_kl_threshold(-c[c < 0], self.hist[c < 0], -self.min) if self.min < 0 else 0.0
        return max(self.min, lo), min(self.max, hi)

    def clipped_fraction(self, lo: float, hi: float) -> float:
        """Share of observed values outside [lo, hi]."""
        c = self.centers
        total = self.hist.sum()
        return float(self.hist[(c < lo) | (c > hi)].sum() / total) if total else 0.0


def int8_params(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero_point) for the real range [lo, hi] (which contains 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-30:
        return 1.0, 0
    scale = (hi - lo) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return float(np.float32(scale)), zp


def _kl_threshold(values: np.ndarray, weights: np.ndarray, amax: float, levels: int = 128) -> float:
    """The clipping threshold in (0, amax] of non-negative values (with weights) whose
    `levels`-level quantization keeps the distribution closest in KL divergence."""
    nbins = 2048
    if amax <= 0 or weights.sum() <= 0:
        return amax
    edges = np.linspace(0, amax, nbins + 1)
    hist, _ = np.histogram(values, bins=edges, weights=weights)
    best_kl, best_i = math.inf, nbins
    for i in range(levels, nbins + 1, 16):
        ref = hist[:i].copy()
        ref[i - 1] += hist[i:].sum()
        if ref.sum() == 0:
            continue
        chunks = np.array_split(hist[:i], levels)
        quant = np.concatenate([np.where(ch > 0, ch.sum() / max((ch > 0).sum(), 1), 0.0) for ch in chunks])
        p = ref / ref.sum()
        q = quant / max(quant.sum(), 1e-30)
        mask = p > 0
        kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if kl < best_kl:
            best_kl, best_i = kl, i
    return float(edges[best_i])
