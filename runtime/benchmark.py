"""Latency measurement: candidates run interleaved (a, b, a, b, ...) so
machine noise hits all of them alike; report median / min / max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float
    runs: int

    def ratio(self, other: Timing) -> float:
        """How many times faster self is than other (by medians)."""
        return other.median_ms / self.median_ms


def interleaved(candidates: Mapping[str, Callable[[], object]], runs: int = 20, warmup: int = 3,
                min_seconds: float = 0.0) -> dict[str, Timing]:
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    start = time.perf_counter()
    done = 0
    while done < runs or time.perf_counter() - start < min_seconds:
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1e3)
        done += 1
    return {name: Timing(statistics.median(s), min(s), max(s), len(s)) for name, s in samples.items()}
