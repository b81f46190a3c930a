"""Latency measurement: candidates run interleaved (a, b, a, b, ...) so
machine noise hits all of them alike; report median / min / max.

With several threads, one runtime's worker threads keep spinning for a
while after its run returns (onnxruntime's do by default, so that its next
parallel section starts fast) and take the cores from the other runtime's
next run: strict alternation then measures the two fighting, not either of
them (both came out ~2x slower than alone on det at 2 threads). For that
case candidates alternate in blocks (a a a a a, b b b b b, ...) and the
first run of each block, which absorbs the other's spin-down, is not
counted."""

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
                min_seconds: float = 0.0, block: int = 1) -> dict[str, Timing]:
    """`runs` timed runs of each candidate, alternating every run (block=1) or
    every `block` timed runs, each block led by one untimed run."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    start = time.perf_counter()
    done = 0
    while done < runs or time.perf_counter() - start < min_seconds:
        count = min(block, runs - done) if done < runs else block
        for name, fn in candidates.items():
            if block > 1:
                fn()
            for _ in range(count):
                t0 = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - t0) * 1e3)
        done += count
    return {name: Timing(statistics.median(s), min(s), max(s), len(s)) for name, s in samples.items()}


def block_for(threads: int) -> int:
    """Alternation block for `interleaved`: every run at 1 thread, blocks of 5 with more (see above)."""
    return 1 if threads <= 1 else 5
