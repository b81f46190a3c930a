"""Runs the float32 model (with nanort itself, so the statistics belong to
exactly the tensors the converted graph has) over calibration samples and
collects per-tensor statistics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nanort.runtime.model import Model

from ..ir import Graph
from ..serialize import serialize, tensor_order
from .calibration_data import CalibrationSource
from .observers import TensorStats


def activation_names(graph: Graph) -> list[str]:
    """Float tensors computed at run time (graph inputs included)."""
    return [n for n in tensor_order(graph)
            if graph.tensors[n].data is None and graph.tensors[n].dtype == np.float32]


def collect_stats(graph: Graph, data: CalibrationSource, threads: int = 1,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, TensorStats]:
    order = tensor_order(graph)
    wanted = set(activation_names(graph))
    stats = {name: TensorStats() for name in wanted}
    with Model(serialize(graph), threads=threads, preserve_intermediates=True, check_finite=False) as model:
        for i, feeds in enumerate(data):
            model.run(feeds)
            for index, name in enumerate(order):
                if name in wanted:
                    value = model.tensor_value(index, copy=False)  # read before the next run
                    if value is not None:
                        stats[name].update(value)
                    del value  # (a live view would hold the model's memory across a shape change)
            if progress:
                progress(i + 1, len(data))
    return stats


def run_all_tensors(graph: Graph, feeds: dict[str, np.ndarray], names: set[str], threads: int = 1
                    ) -> dict[str, np.ndarray]:
    """Values of the named tensors for one input (per-layer error reports)."""
    order = tensor_order(graph)
    out = {}
    with Model(serialize(graph), threads=threads, preserve_intermediates=True, check_finite=False) as model:
        model.run(feeds)
        for index, name in enumerate(order):
            if name in names:
                v = model.tensor_value(index)
                if v is not None:
                    out[name] = v
    return out
