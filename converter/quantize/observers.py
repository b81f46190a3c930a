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


class TensorStats:
    def __init__(self) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self.nonfinite = 0
        self.width = 0.0
        self.origin = 0.0
        self.hist = np.zeros(BINS, np.float64)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).reshape(-1)
        if x.size == 0:
            return
        finite = np.isfinite(x)
        if not finite.all():
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
        step = max(1, x.size // SAMPLE_LIMIT)
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
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        scale = max(hi - lo, 1e-12) / 255.0
        zp = np.clip(np.round(-128 - lo / scale), -128, 127)
        c = self.centers
        q = np.clip(np.round(c / scale) + zp, -128, 127)
        err = (c - (q - zp) * scale) ** 2 + self.width ** 2 / 12.0
        return float((err * self.hist).sum() / self.hist.sum())

    def _mse_range(self) -> tuple[float, float]:
        best, best_range = math.inf, (self.min, self.max)
        for shrink_lo in np.linspace(0.2, 1.0, 17):
            for shrink_hi in np.linspace(0.2, 1.0, 17):
                lo, hi = self.min * shrink_lo if self.min < 0 else self.min, self.max * shrink_hi
                e = self.quant_error(lo, hi)
                if e < best:
                    best, best_range = e, (lo, hi)
        return best_range

    def _entropy_range(self) -> tuple[float, float]:
        """KL-divergence calibration on the histogram of |x| (TensorRT's method)."""
        amax = max(abs(self.min), abs(self.max))
        if amax == 0:
            return 0.0, 0.0
        nbins = 2048
        edges = np.linspace(0, amax, nbins + 1)
        absc = np.abs(self.centers)
        hist, _ = np.histogram(absc, bins=edges, weights=self.hist)
        levels = 128
        best_kl, best_i = math.inf, nbins
        for i in range(levels, nbins + 1, 16):
            ref = hist[:i].copy()
            ref[i - 1] += hist[i:].sum()
            if ref.sum() == 0:
                continue
            chunks = np.array_split(hist[:i], levels)
            quant = np.concatenate([
                np.where(c > 0, c.sum() / max((c > 0).sum(), 1), 0.0) for c in chunks])
            p = ref / ref.sum()
            q = quant / max(quant.sum(), 1e-30)
            mask = p > 0
            kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
            if kl < best_kl:
                best_kl, best_i = kl, i
        threshold = edges[best_i]
        return max(self.min, -threshold), min(self.max, threshold)

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
