"""Second moments of each layer's input on the calibration samples: the
Hessian H = X^T X of the layer-wise reconstruction error ||X W^T - X W'^T||^2
that Wanda (its diagonal), SparseGPT, the channel refit and the whitened
low-rank factorization all use. The float32 model runs in nanort itself
(so the tensors are exactly the converted graph's); large feature maps
contribute a random subset of their output pixels per sample."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from nanort.runtime.model import Model

from ..ir import Graph
from ..serialize import serialize, tensor_order
from .layers import Layer

PIXELS_PER_SAMPLE = 2048  # output pixels drawn per layer and sample (all when fewer)


@dataclass
class InputStats:
    """Moments of a layer's input patches X [P, K]: H = sum x x^T, s = sum x, count = P. Rows are
    buffered (float32) and folded into the float64 sums K or more at a time, one matrix product each."""

    k: int
    _hessian: np.ndarray = field(init=False, repr=False)
    _total: np.ndarray = field(init=False, repr=False)
    _pending: list[np.ndarray] = field(default_factory=list, repr=False)
    count: int = 0

    def __post_init__(self) -> None:
        self._hessian = np.zeros((self.k, self.k))
        self._total = np.zeros(self.k)

    def add(self, x: np.ndarray) -> None:
        self._pending.append(np.array(x, np.float32))  # (a copy: x may be a view of the runtime's memory)
        self.count += len(x)
        if sum(len(p) for p in self._pending) >= max(self.k, 1024):
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            x = np.concatenate(self._pending)
            self._pending = []
            self._hessian += x.T @ x
            self._total += x.sum(axis=0, dtype=np.float64)

    @property
    def hessian(self) -> np.ndarray:
        self._flush()
        return self._hessian

    @property
    def total(self) -> np.ndarray:
        self._flush()
        return self._total

    @property
    def mean_hessian(self) -> np.ndarray:
        """E[x x^T] (the Hessian per pixel: scale-free across layers)."""
        return self.hessian / max(self.count, 1)

    @property
    def mean(self) -> np.ndarray:
        """E[x]."""
        return self.total / max(self.count, 1)

    @property
    def augmented(self) -> np.ndarray:
        """E[[x, 1][x, 1]^T]: moments with a constant feature, for refits that include the bias."""
        k = self.k
        out = np.empty((k + 1, k + 1))
        n = max(self.count, 1)
        out[:k, :k] = self.hessian / n
        out[:k, k] = out[k, :k] = self.total / n
        out[k, k] = 1.0
        return out

def collect(graph: Graph, layers: list[Layer], data: Iterable[dict[str, np.ndarray]],
            progress: Callable[[int, int], None] | None = None, seed: int = 0) -> dict[str, InputStats]:
    """{layer name: its input's moments} over the calibration samples."""
    rng = np.random.default_rng(seed)
    index = {name: i for i, name in enumerate(tensor_order(graph))}
    stats = {layer.name: InputStats(layer.k) for layer in layers}
    samples = list(data)
    with Model(serialize(graph, sparse=False), preserve_intermediates=True, check_finite=False) as model:
        for i, feeds in enumerate(samples):
            model.run(feeds)
            for layer in layers:
                x = model.tensor_value(index[layer.input], copy=False)
                if x is None:
                    continue
                pixels = layer.output_pixels(x.shape)
                chosen = None if pixels <= PIXELS_PER_SAMPLE else rng.choice(pixels, PIXELS_PER_SAMPLE, replace=False)
                stats[layer.name].add(layer.patches(x, chosen))
            if progress:
                progress(i + 1, len(samples))
    return stats
