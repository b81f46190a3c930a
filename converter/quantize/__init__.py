"""Post-training quantization: calibrate the float32 graph, rewrite it to
int8 (or int8 weights with dynamic activations), measure the per-layer error."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..ir import Graph
from .calibrate import collect_stats
from .calibration_data import ImagePreprocess, from_spec
from .observers import OBSERVERS
from .quantize import QuantOptions, QuantResult, quantize_dynamic, quantize_int8
from .report import LayerRow, layer_rows, text_table, write_html

__all__ = ["ImagePreprocess", "QuantizeSpec", "QuantizationOutcome", "quantize_graph", "OBSERVERS"]

MODES = ("int8", "dynamic")


@dataclass
class QuantizeSpec:
    mode: str = "int8"
    calibration: str | Path | Iterable[Mapping[str, np.ndarray]] | None = None
    observer: str = "mse"
    percentile: float = 99.99
    per_channel: bool = True
    limit: int | None = None
    preprocess: ImagePreprocess | None = None
    keep_float: list[str] = field(default_factory=list)
    auto_float: int = 0
    report_samples: int = 4
    threads: int = 1


@dataclass
class QuantizationOutcome:
    graph: Graph
    result: QuantResult
    rows: list[LayerRow]
    samples: int
    seconds: float
    description: str

    def float_nodes_text(self) -> list[str]:
        return [f"{name} ({op}: {why})" for name, op, why in self.result.float_nodes]

    def summary_json(self) -> str:
        q = [r.sqnr_db for r in self.rows if r.sqnr_db is not None and not math.isinf(r.sqnr_db)]
        return json.dumps({"samples": self.samples, "seconds": round(self.seconds, 2),
                           "int8_nodes": len(self.result.int8_nodes), "float_nodes": len(self.result.float_nodes),
                           "min_sqnr_db": round(min(q), 2) if q else None,
                           "median_sqnr_db": round(float(np.median(q)), 2) if q else None})

    def table(self, limit: int | None = None) -> str:
        return text_table(self.rows, limit)

    def write_html(self, path: str | Path, title: str) -> None:
        write_html(str(path), self.rows, title, [
            f"calibration: {self.description} in {self.seconds:.1f} s",
            f"{len(self.result.int8_nodes)} int8 nodes, {len(self.result.float_nodes)} kept in fp32",
        ])


def _inputs_of(graph: Graph) -> list[tuple[str, tuple, np.dtype]]:
    return [(n, graph.tensors[n].shape, graph.tensors[n].dtype) for n in graph.inputs]


def _added_noise(rows: list[LayerRow], graph: Graph) -> dict[str, float]:
    """Relative noise power each int8 layer adds on top of its inputs' noise."""
    noise = {r.tensor: 10 ** (-r.sqnr_db / 10) for r in rows if r.sqnr_db is not None and not math.isinf(r.sqnr_db)}
    producers = graph.producers()
    added = {}
    for r in rows:
        if r.tensor not in noise:
            continue
        node = producers.get(r.tensor)
        upstream = max((noise.get(i, 0.0) for i in (node.inputs if node else [])), default=0.0)
        added[r.node] = noise[r.tensor] - upstream
    return added


def quantize_graph(graph: Graph, spec: QuantizeSpec,
                   progress: Callable[[str, int, int], None] | None = None) -> QuantizationOutcome:
    if spec.mode not in MODES:
        raise ValueError(f"quantize must be one of {', '.join(MODES)}, got {spec.mode!r}")
    if spec.mode == "dynamic":
        q = copy.deepcopy(graph)
        return QuantizationOutcome(q, quantize_dynamic(q, spec.per_channel), [], 0, 0.0, "no calibration (dynamic)")
    if spec.observer not in OBSERVERS:
        raise ValueError(f"calibration method must be one of {', '.join(OBSERVERS)}, got {spec.observer!r}")
    start = time.perf_counter()
    if spec.calibration is None and has_given_params(graph):
        data, stats, samples = None, {}, []  # a pre-quantized model brings its own scales
    else:
        data = from_spec(spec.calibration, _inputs_of(graph), limit=spec.limit, preprocess=spec.preprocess)
        stats = collect_stats(graph, data, spec.threads,
                              (lambda i, n: progress("calibrating", i, n)) if progress else None)
        samples = [feeds for _, feeds in zip(range(spec.report_samples), data)]
    seconds = time.perf_counter() - start
    opts = QuantOptions(spec.observer, spec.percentile, spec.per_channel, list(spec.keep_float))

    def attempt() -> tuple[Graph, QuantResult, list[LayerRow]]:
        q = copy.deepcopy(graph)
        result = quantize_int8(q, stats, opts)
        if progress:
            progress("measuring per-layer error", 0, 0)
        return q, result, layer_rows(graph, q, result, stats, samples, spec.observer, spec.percentile)

    q, result, rows = attempt()
    if spec.auto_float > 0:
        added = _added_noise(rows, q)
        worst = sorted(added, key=added.get, reverse=True)[:spec.auto_float]
        opts.keep_float += worst
        q, result, rows = attempt()
        for r in rows:
            if r.node in worst:
                r.note = "kept in fp32: among the most sensitive layers (auto)"
        result.float_nodes = [(n, op, "among the most sensitive layers (auto)" if n in worst else why)
                              for n, op, why in result.float_nodes]
    if data is None:
        return QuantizationOutcome(q, result, rows, 0, seconds, "the model's own quantization parameters")
    return QuantizationOutcome(q, result, rows, len(data), seconds, data.description)


def has_given_params(graph: Graph) -> bool:
    """True for pre-quantized models (QDQ annotations on float activations)."""
    return any(t.quant is not None and t.data is None and t.dtype == np.float32 for t in graph.tensors.values())
