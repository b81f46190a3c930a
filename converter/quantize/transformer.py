"""int8 for transformers: the converter chooses between static int8 and a mix
built for attention models, by measuring each on the held-out samples.

Static int8 (one scale per tensor, fixed at convert time) loses trained
transformers: activations carry a few outlier values far beyond their bulk (an
FFN output of all-MiniLM-L6-v2 spans -2.8..195 with its bulk within a few
units), and the additive attention mask (-10000 on padding) shares the scores'
tensor. That 6-layer sentence embedder kept a worst-sentence cosine of 0.85
against fp32.

The transformer mix keeps what does not need a fixed scale out of it:
  * every projection (FullyConnected with constant weights) takes int8 weights,
    symmetric per output channel, and quantizes its input per token at run time
    (the dynamic FullyConnected kernel: float in, float out), so each token gets
    its own scale and the outlier channels only cost that token's resolution;
  * elementwise functions between projections (GELU, SiLU, Tanh...) become
    256-entry int8 tables on a calibrated scale where each keeps a measured
    margin (try_mix): a table is one pass instead of an erf per element;
  * the rest (LayerNorm, residual adds, attention scores with the mask,
    Softmax) stays fp32.

quantize_graph tries static int8 first; when its outputs miss the accuracy
target on a graph with attention (a Softmax over the product of two
activations) whose projections carry most of the weight multiply-accumulates,
it measures the mix and keeps it if the mix meets the target.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ..ir import Graph, Node
from ..serialize import serialize
from . import tables
from .accuracy import Target, Verdict, run_outputs, verdict
from .observers import TensorStats
from .quantize import QuantOptions, QuantResult, quantize_int8

TABLE_SAMPLES = 32
MIX_REASON = "transformer mix: fp32 between the per-token int8 projections"
PROJECTION_SHARE = 0.5  # the mix is tried where FullyConnected layers do at least this share of the MACs
SCORE_STEPS = {"Add", "Sub", "Mul", "Div", "Where", "Cast", "Reshape", "Transpose"}


def has_attention(graph: Graph, depth: int = 6) -> bool:
    """A Softmax whose input is (through scaling, masking and reshaping steps) the
    product of two activations: scaled dot-product attention."""
    producers = graph.producers()

    def product_of_activations(name: str, left: int) -> bool:
        node = producers.get(name)
        if node is None or left == 0:
            return False
        if node.op == "MatMul":
            return all(i and not graph.tensors[i].is_const for i in node.inputs[:2])
        if node.op in SCORE_STEPS:
            return any(product_of_activations(i, left - 1) for i in node.inputs
                       if i and not graph.tensors[i].is_const)
        return False
    return any(n.op == "Softmax" and product_of_activations(n.inputs[0], depth) for n in graph.nodes)


def projection_share(graph: Graph) -> float:
    """The share of the graph's weight multiply-accumulates (static shapes) done by
    FullyConnected layers, against convolutions. The mix keeps convolutions fp32, so it
    only pays where the projections carry the work (not in a conv backbone with a few
    attention blocks on top)."""
    fc = conv = 0.0
    for node in graph.nodes:
        w = graph.tensors[node.inputs[1]] if len(node.inputs) > 1 and node.inputs[1] else None
        out = graph.tensors[node.outputs[0]].static_shape if node.outputs else None
        if w is None or w.data is None or out is None:
            continue
        if node.op == "FullyConnected":
            fc += float(np.prod(out)) * w.data.shape[-1]
        elif node.op in ("Conv", "ConvTranspose"):
            conv += float(np.prod(out)) * float(np.prod(w.data.shape[1:]))
    return fc / (fc + conv) if fc + conv else 0.0


def _table_op(node: Node) -> bool:
    return node.op in tables.FUNCTIONS or node.op in tables.PARTIAL


def mix_options(graph: Graph, opts: QuantOptions, tables: set[str]) -> QuantOptions:
    """opts with every node kept float but the named elementwise tables: the quantizer then
    gives each float FullyConnected int8 weights and per-token dynamic activations. A
    table's input keeps its whole calibrated range (minmax): the function saturates or
    grows past the bulk, and a clipped input would flatten the largest values."""
    mix = copy.deepcopy(opts)
    for node in graph.nodes:
        if node.name in tables:
            mix.range_override.setdefault(node.inputs[0], ("minmax", 100.0))
        elif node.name not in mix.force_float:
            mix.force_float[node.name] = MIX_REASON
    return mix


def worst_sample_cosine(reference: dict[str, np.ndarray], approx: dict[str, np.ndarray]) -> float:
    """The lowest cosine of one output on one sample (the verdict's cosine pools the samples)."""
    worst = 1.0
    for name, ref in reference.items():
        for r, a in zip(ref, approx[name]):
            r64, a64 = r.astype(np.float64).reshape(-1), a.astype(np.float64).reshape(-1)
            nr, na = np.linalg.norm(r64), np.linalg.norm(a64)
            if nr > 0 and na > 0:
                worst = min(worst, float(r64 @ a64 / (nr * na)))
    return worst


class _MixTrials:
    """Quantizes the float graph with a set of tables and measures it on the held-out samples."""

    def __init__(self, graph, stats, opts, holdout, reference, targets, held_out, threads):
        self.graph, self.stats, self.opts, self.holdout = graph, stats, opts, holdout
        self.reference, self.targets, self.held_out, self.threads = reference, targets, held_out, threads

    def run(self, tables: set[str]) -> tuple[Graph, QuantResult, Verdict, float]:
        mix = copy.deepcopy(self.graph)
        result = quantize_int8(mix, self.stats, mix_options(self.graph, self.opts, tables))
        outputs = run_outputs(serialize(mix), self.holdout, self.threads)
        v = verdict(self.reference, outputs, self.targets, len(self.holdout), self.held_out)
        return mix, result, v, worst_sample_cosine(self.reference, outputs)


def try_mix(graph: Graph, stats: dict[str, TensorStats], opts: QuantOptions, holdout: Sequence[dict],
            calibration: Sequence[dict], reference: dict[str, np.ndarray], targets: Sequence[Target],
            held_out: bool, threads: int = 1) -> tuple[Graph, QuantResult, Verdict] | None:
    """The transformer mix, or None when even its all-fp32-between-projections form misses
    the target on the held-out samples. Tables are added one at a time, least damaging first
    (each measured alone), while every judged sample keeps a cosine of at least the target
    plus half of what the target allows. The held-out samples are few (a 0.5 % cosine loss
    on one input in twenty escapes them), so the tables are judged on up to TABLE_SAMPLES
    samples, calibration samples included: a table's scale barely depends on them."""
    trials = _MixTrials(graph, stats, opts, holdout, reference, targets, held_out, threads)
    best = trials.run(set())
    bound = max((t.value for o in best[2].outputs for t in o.targets if t.metric == "cosine"), default=0.0)
    margin_bound = bound + (1.0 - bound) / 2
    if not best[2].met or best[3] < bound:
        return None
    candidates = [n.name for n in graph.nodes if _table_op(n)]
    judged = list(holdout) + list(calibration)[:max(TABLE_SAMPLES - len(holdout), 0)]
    wide = _MixTrials(graph, stats, opts, judged, run_outputs(serialize(graph), judged, threads), targets,
                      held_out, threads)
    alone = {name: wide.run({name})[3] for name in candidates}
    chosen: set[str] = set()
    for name in sorted(candidates, key=lambda n: -alone[n]):
        if wide.run(chosen | {name})[3] >= margin_bound:
            chosen.add(name)
    with_tables = trials.run(chosen) if chosen else None
    if with_tables is not None and with_tables[2].met:
        best = with_tables
    else:
        chosen = set()
    mix, result, v, worst = best
    tables = f", int8 tables for {len(chosen)} of {len(candidates)} elementwise functions" if candidates else ""
    result.notes.append(f"transformer mix: per-token dynamic int8 projections{tables}, fp32 elsewhere "
                        f"(static int8 missed the accuracy target; worst held-out cosine {worst:.4f})")
    return mix, result, v
