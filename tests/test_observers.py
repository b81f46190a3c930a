"""Calibration statistics and observers, against numpy computed directly."""

import numpy as np
import pytest

from nanort.converter.quantize.observers import TensorStats, int8_params

RNG = np.random.default_rng(0)


def test_histogram_survives_range_growth_exactly():
    stats = TensorStats()
    parts = [RNG.uniform(-0.01, 0.01, 1000), RNG.uniform(-5, 3, 1000), RNG.uniform(50, 60, 10)]
    for p in parts:
        stats.update(p.astype(np.float32))
    allv = np.concatenate(parts).astype(np.float32)
    assert stats.min == allv.min() and stats.max == allv.max()
    assert stats.hist.sum() == pytest.approx(allv.size)
    # every value sits in the bin its value says
    idx = np.floor((allv - stats.origin) / stats.width).astype(int)
    np.testing.assert_array_equal(np.bincount(idx, minlength=len(stats.hist)), stats.hist)


@pytest.mark.parametrize("parts", [
    [(0.1, 0.5), (-0.03, 0.57)],        # first sample non-negative (origin 0), later ones below it
    [(0.0, 1e-6), (-300.0, -200.0)],
    [(5.0, 6.0), (-7.0, 1.0), (-1e4, -9e3)],
])
def test_histogram_grows_below_a_zero_origin(parts):
    stats = TensorStats()
    values = [RNG.uniform(lo, hi, 500).astype(np.float32) for lo, hi in parts]
    for v in values:
        stats.update(v)
    allv = np.concatenate(values)
    assert np.isfinite(stats.width) and stats.hist.sum() == pytest.approx(allv.size)
    idx = np.floor((allv - stats.origin) / stats.width).astype(int)
    np.testing.assert_array_equal(np.bincount(idx, minlength=len(stats.hist)), stats.hist)


def test_huge_values_stay_out_of_the_histogram():
    stats = TensorStats()
    x = RNG.uniform(-1, 1, 1000).astype(np.float32)
    x[:3] = -3.4e38  # an attention mask
    stats.update(x)
    assert stats.min == np.float32(-3.4e38) and np.isfinite(stats.width) and stats.hist.sum() == 997


def test_percentile_clips_the_tails():
    stats = TensorStats()
    x = RNG.standard_normal(200_000).astype(np.float32)
    x[:5] = 80.0  # rare outliers
    stats.update(x)
    for p in (99.9, 99.0, 95.0):
        lo, hi = stats.range("percentile", p)
        # the range ends on the edges of the histogram bins holding the two percentiles
        p_lo, p_hi = np.percentile(x, 100 - p), np.percentile(x, p)
        assert lo <= p_lo < lo + stats.width, (p, lo, p_lo, stats.width)
        assert hi - stats.width < p_hi <= hi, (p, hi, p_hi, stats.width)
    assert stats.range("minmax") == (pytest.approx(float(x.min())), 80.0)


def test_entropy_ignores_rare_outliers():
    stats = TensorStats()
    x = RNG.standard_normal(100_000).astype(np.float32)
    x[:3] = 100.0
    stats.update(x)
    lo, hi = stats.range("entropy")
    assert 2.0 < hi < 20.0 and -20.0 < lo < -2.0


def test_mse_clips_a_heavy_tail_when_that_lowers_the_error():
    stats = TensorStats()
    stats.update(np.random.default_rng(1).laplace(size=200_000).astype(np.float32))
    lo, hi = stats.range("mse")
    assert 7 < hi < min(11, stats.max) and max(-11, stats.min) < lo < -7  # ACIQ: about 10 b for 8-bit Laplace
    assert stats.quant_error(lo, hi) < 0.9 * stats.quant_error(stats.min, stats.max)


def test_int8_params_represent_zero_exactly():
    for lo, hi in [(-1.0, 3.0), (0.0, 6.0), (-2.5, 0.0), (0.3, 0.9)]:
        scale, zp = int8_params(lo, hi)
        assert -128 <= zp <= 127 and scale > 0
        q0 = np.clip(np.round(0.0 / scale) + zp, -128, 127)
        assert (q0 - zp) * scale == 0.0
