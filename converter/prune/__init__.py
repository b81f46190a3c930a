"""Post-training pruning and low-rank factorization of the float32 graph,
from the same calibration samples the int8 path uses (before quantization,
which keeps pruned weights exactly zero).

    outcome = prune_graph(graph, PruneSpec(0.5, "sparsegpt", "2:4"), samples)

Weight pruning (patterns.py, methods.py) zeroes weights of Conv and
FullyConnected layers (depthwise and grouped convs, and the first and last
layer, are left alone unless `exclude` names the layers to skip instead)
and moves each pruned layer's bias so that its mean output on the
calibration inputs is unchanged (methods.bias_correction);
`scope="global"` spreads the target over the layers by their weights'
scores instead of giving each the same sparsity. Channel pruning
(channels.py) removes whole channels; low-rank factorization (lowrank.py)
splits layers in two. The file then stores the zeros sparse where that is
smaller (converter/sparse.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph
from . import calibration, channels, lowrank
from .layers import Layer, find_layers
from .methods import METHODS, PRUNERS, bias_correction, reconstruction_error
from .patterns import Pattern

__all__ = ["METHODS", "PruneSpec", "PruneOutcome", "prune_graph"]

SCOPES = ("layer", "global")
MAX_SPARSITY = 0.95
STAGES = 64  # groups of layers pruned one after another, each on its inputs from the pruned groups before


@dataclass
class PruneSpec:
    sparsity: float | None = None       # fraction of weights removed (N:M: implied)
    method: str = "sparsegpt"
    pattern: str = "unstructured"
    scope: str = "layer"
    exclude: Sequence[str] | None = None  # node names left dense; None: the first and last layer
    low_rank: float | int | None = None   # energy kept (0..1) or a rank cap (int >= 1)

    def validate(self) -> Pattern:
        pattern = Pattern.parse(self.pattern)
        if self.method not in METHODS:
            raise ValueError(f"prune method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"prune scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        fixed = pattern.fixed_sparsity
        if self.sparsity is not None and not 0.0 <= self.sparsity <= MAX_SPARSITY:
            raise ValueError(f"prune sparsity must be in 0..{MAX_SPARSITY}, got {self.sparsity}")
        if fixed is not None and self.sparsity is not None and abs(self.sparsity - fixed) > 1e-6:
            raise ValueError(f"pattern {pattern} prunes {fixed:g} of the weights; give that sparsity or none")
        if (fixed is not None or pattern.kind == "channel") and self.scope == "global":
            raise ValueError(f"pattern {pattern} prunes the same fraction of every layer; scope 'global' does not "
                             "apply")
        if self.low_rank is not None:
            lowrank.check_target(self.low_rank)
        return pattern

    @property
    def prunes(self) -> bool:
        return bool(self.sparsity) or Pattern.parse(self.pattern).fixed_sparsity is not None


@dataclass
class LayerResult:
    node: str
    op: str
    shape: tuple[int, ...]
    action: str          # "2:4 sparsegpt", "channels 96 -> 48", "low rank 64", "kept dense"
    sparsity: float      # fraction of zero weights after
    error: float | None  # relative reconstruction error of the layer's output on calibration inputs
    note: str = ""


@dataclass
class PruneOutcome:
    spec: PruneSpec
    rows: list[LayerResult] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0

    def table(self) -> str:
        lines = [f"{'node':32} {'op':15} {'weight shape':20} {'action':24} {'zeros':>6} {'rel.err':>8}"]
        for r in self.rows:
            err = "" if r.error is None else f"{r.error:8.4f}"
            lines.append(f"{r.node[:32]:32} {r.op:15} {str(list(r.shape)):20} {r.action[:24]:24} "
                         f"{r.sparsity:6.1%} {err:>8} {r.note}")
        return "\n".join(lines)

    def summary_json(self) -> str:
        pruned = [r for r in self.rows if r.error is not None]
        return json.dumps({"method": self.spec.method, "pattern": self.spec.pattern, "scope": self.spec.scope,
                           "sparsity": self.spec.sparsity, "low_rank": self.spec.low_rank,
                           "layers": len(pruned), "samples": self.samples, "seconds": round(self.seconds, 2),
                           "max_error": round(max((r.error for r in pruned), default=0.0), 5)})


def _default_exclusions(layers: list[Layer]) -> set[str]:
    return {layers[0].name, layers[-1].name} if layers else set()


def _global_sparsities(graph: Graph, layers: list[Layer], stats: dict, pattern: Pattern, method: str,
                       target: float) -> dict[str, float]:
    """Per-layer sparsities whose weighted mean is `target`: one threshold over every layer's
    group scores, each score a fraction of its layer's output energy (so layers compare)."""
    scores, sizes, owners = [], [], []
    for i, layer in enumerate(layers):
        w = layer.matrix(graph)
        h = stats[layer.name].mean_hessian
        if method == "magnitude":
            s = w ** 2
        elif method == "wanda":
            s = (np.abs(w) * np.sqrt(np.maximum(np.diag(h), 0.0))) ** 2
        else:
            from .methods import damped_hessian

            hd = damped_hessian(stats[layer.name])
            s = w ** 2 / np.diag(np.linalg.inv(hd))[None, :] if hd is not None else w ** 2
        g = pattern.group_scores(s)
        g = g / max(float(g.sum()), 1e-30)
        scores.append(g.reshape(-1))
        sizes.append(np.full(g.size, w.size // g.size))
        owners.append(np.full(g.size, i))
    score, size, owner = (np.concatenate(a) for a in (scores, sizes, owners))
    order = np.argsort(score, kind="stable")
    budget = target * size.sum()
    cut = int(np.searchsorted(np.cumsum(size[order]), budget, side="right"))
    pruned_groups = np.bincount(owner[order[:cut]], minlength=len(layers))
    groups = np.bincount(owner, minlength=len(layers))
    return {layer.name: min(MAX_SPARSITY, pruned_groups[i] / groups[i]) for i, layer in enumerate(layers)}


def _prune_weights(graph: Graph, layers: list[Layer], collect: Callable[[list[Layer]], dict], spec: PruneSpec,
                   pattern: Pattern, progress: Callable[[str, int, int], None] | None) -> list[LayerResult]:
    """Prunes the layers in STAGES groups, in execution order: each group's input statistics come from
    the model with the groups before it already pruned, so a layer compensates what its inputs lost
    (as SparseGPT and Wanda prune one block after another) instead of fitting inputs it no longer gets."""
    target = pattern.fixed_sparsity if pattern.fixed_sparsity is not None else float(spec.sparsity or 0.0)
    per_layer = (_global_sparsities(graph, layers, collect(layers), pattern, spec.method, target)
                 if spec.scope == "global" else {layer.name: target for layer in layers})
    rows = []
    size = max(1, -(-len(layers) // STAGES))
    for first in range(0, len(layers), size):
        stage = layers[first:first + size]
        stats = collect(stage)
        for i, layer in enumerate(stage, start=first):
            if progress:
                progress(f"pruning ({spec.method}, {pattern})", i, len(layers))
            w = layer.matrix(graph)
            pruned = PRUNERS[spec.method](w, stats[layer.name], pattern, per_layer[layer.name])
            layer.set_matrix(graph, pruned)
            layer.set_bias(graph, layer.bias(graph) + bias_correction(w, pruned, stats[layer.name]))
            rows.append(LayerResult(layer.name, layer.node.op, layer.shape, f"{pattern} {spec.method}",
                                    float(np.mean(pruned == 0)), reconstruction_error(w, pruned, stats[layer.name])))
    return rows


def prune_graph(graph: Graph, spec: PruneSpec, data, progress: Callable[[str, int, int], None] | None = None
                ) -> PruneOutcome:
    """Prunes / factorizes `graph` in place; `data` is a re-iterable of calibration feed dicts."""
    pattern = spec.validate()
    start = time.perf_counter()
    samples = list(data)
    outcome = PruneOutcome(spec, samples=len(samples))

    def collect(layers: list[Layer]) -> dict:
        return calibration.collect(graph, layers, samples,
                                   (lambda i, n: progress("calibrating for pruning", i, n)) if progress else None)

    if spec.low_rank is not None:
        layers, _ = find_layers(graph)
        candidates = [layer for layer in layers if layer.pointwise and layer.name not in (spec.exclude or ())]
        outcome.rows += lowrank.factorize(graph, candidates, collect(candidates), spec.low_rank)
    if spec.prunes:
        layers, skipped = find_layers(graph)
        excluded = set(spec.exclude) if spec.exclude is not None else _default_exclusions(layers)
        unknown = set(spec.exclude or ()) - {n.name for n in graph.nodes}
        if unknown:
            raise ValueError(f"prune exclude names no node: {', '.join(sorted(unknown))}")
        chosen, kept = [], []
        for layer in layers:
            why = "excluded" if layer.name in excluded else pattern.fits(layer.rows, layer.k) \
                if pattern.kind != "channel" else None
            (kept if why else chosen).append((layer, why))
        active = [layer for layer, _ in chosen]
        if pattern.kind == "channel":  # (every layer may have to be refitted)
            stats = collect(layers)
            outcome.rows += channels.prune_channels(graph, active, stats, float(spec.sparsity or 0.0), spec.method,
                                                    consumer_layers=layers)
        else:
            outcome.rows += _prune_weights(graph, active, collect, spec, pattern, progress)
        outcome.rows += [LayerResult(layer.name, layer.node.op, layer.shape, "kept dense",
                                     float(np.mean(graph.tensors[layer.weight].data == 0)), None, why)
                         for layer, why in kept]
        nodes = {n.name: n for n in graph.nodes}
        outcome.rows += [LayerResult(name, nodes[name].op, graph.tensors[nodes[name].inputs[1]].shape or (),
                                     "kept dense", 0.0, None, why) for name, why in skipped.items()]
    outcome.seconds = time.perf_counter() - start
    return outcome
