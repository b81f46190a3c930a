"""Post-training quantization: calibrate the float32 graph, rewrite it to
int8 (or int8 weights with dynamic activations), measure the per-layer error."""

from __future__ import annotations

import copy
import difflib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nanort.runtime.errors import ConversionError, InvalidArgumentError

from ..ir import Graph
from ..serialize import serialize
from .accuracy import Target, Verdict, check_target_outputs, parse_target, run_outputs, split_holdout, verdict
from .adaround import LayerRounding
from .bias_correction import correct_biases
from .calibrate import collect_stats
from .calibration_data import ImagePreprocess, from_spec
from .cle import channel_reach_on, equalize
from .fixer import Fixed, Technique, fixes_text, meet_target
from .observers import OBSERVERS
from .quantize import QuantOptions, QuantResult, int16_capable, quantize_dynamic, quantize_int8
from .report import LayerRow, dynamic_rows, layer_rows, sort_by_contribution, text_table, write_html
from .transformer import PROJECTION_SHARE, has_attention, projection_share, try_mix

__all__ = ["ImagePreprocess", "QuantizeSpec", "QuantizationOutcome", "Target", "quantize_graph", "parse_target",
           "OBSERVERS"]

MODES = ("int8", "dynamic")
GROUP_AT = 3  # fp32 nodes sharing one reason listed one by one up to this many


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
    # Conv / FullyConnected nodes (or their outputs) to run with 16-bit activations (int16 x int8 weights)
    int16: list[str] = field(default_factory=list)
    # False: no automatic fp32 fallback (probability tails, mixed-range tensors,
    # measured collapses, int8 islands): every op with an int8 kernel is int8
    auto_fallback: bool = True
    report_samples: int = 4
    threads: int = 1
    # per-output accuracy targets (accuracy.py; empty: the defaults per output kind); fix_accuracy=False
    # only measures them
    accuracy_targets: list[Target] = field(default_factory=list)
    fix_accuracy: bool = True
    bias_correction: bool = False  # fold each layer's mean output error into its bias (bias_correction.py)
    equalization: bool = False     # cross-layer equalization before calibrating (cle.py)
    # weights rounded to minimize each layer's output error (adaround.py): True on, False off, None (default)
    # off unless the accuracy fixer finds that switching it on cuts the error (fixer.Technique)
    adaround: bool | None = None
    slice_scales: bool = True      # concatenations read only by outputs keep each part's scale (concat_slices.py)


@dataclass
class QuantizationOutcome:
    graph: Graph
    result: QuantResult
    rows: list[LayerRow]
    samples: int
    seconds: float
    description: str
    cpu_seconds: float = 0.0  # the calibration's processor time (wall time on a busy machine is longer)
    verdict: Verdict | None = None  # each output against fp32 on held-out samples
    fixed: Fixed | None = None      # what the converter changed to meet the target

    def verdict_lines(self) -> list[str]:
        """The end-to-end verdict, then the fixes and their cost."""
        if self.verdict is None:
            return ["no end-to-end verdict: no samples to measure the outputs on"]
        lines = self.verdict.lines()
        if self.fixed is not None and self.fixed.steps:
            lines.append(f"to meet it the converter changed {len(self.fixed.steps)} layer(s):")
            lines += ["  " + t for t in fixes_text(self.fixed)]
        elif self.fixed is not None and not self.verdict.met:
            lines.append("no layer's fix improved the outputs (see the per-layer sensitivity in --report)")
        return lines

    def float_nodes_text(self) -> list[str]:
        """One entry per fp32 node; a reason shared by more than GROUP_AT nodes is one entry
        counting them by op (a transformer mix keeps most of the graph float for one reason)."""
        by_reason: dict[str, list[tuple[str, str]]] = {}
        for name, op, why in self.result.float_nodes:
            by_reason.setdefault(why, []).append((name, op))
        out = []
        for why, nodes in by_reason.items():
            if len(nodes) <= GROUP_AT:
                out += [f"{name} ({op}: {why})" for name, op in nodes]
                continue
            ops: dict[str, int] = {}
            for _, op in nodes:
                ops[op] = ops.get(op, 0) + 1
            out.append(f"{len(nodes)} nodes ({', '.join(f'{op} x{k}' for op, k in ops.items())}: {why})")
        return out

    def summary_json(self) -> str:
        q = [r.sqnr_db for r in self.rows if r.sqnr_db is not None and not math.isinf(r.sqnr_db)]
        v = self.verdict
        return json.dumps({"samples": self.samples, "seconds": round(self.seconds, 2),
                           "accuracy_target_met": v.met if v else None,
                           "outputs": {o.name: {"kind": o.kind, "cosine": round(o.cosine, 5),
                                                "sqnr_db": round(o.sqnr_db, 2) if math.isfinite(o.sqnr_db) else None,
                                                "top1": o.top1, "iou": o.iou} for o in v.outputs} if v else {},
                           "fixes": [s.text() for s in self.fixed.steps] if self.fixed else [],
                           "cpu_seconds": round(self.cpu_seconds, 2),
                           "int8_nodes": len(self.result.int8_nodes), "float_nodes": len(self.result.float_nodes),
                           "int16_nodes": [n for n, _, _ in self.result.int16_nodes],
                           "min_sqnr_db": round(min(q), 2) if q else None,
                           "median_sqnr_db": round(float(np.median(q)), 2) if q else None})

    def table(self, limit: int | None = None) -> str:
        return text_table(self.rows, limit)

    def write_html(self, path: str | Path, title: str) -> None:
        write_html(str(path), self.rows, title, self.verdict_lines(), [
            f"calibration: {self.description} in {self.seconds:.1f} s ({self.cpu_seconds:.1f} s processor time)",
            f"{len(self.result.int8_nodes)} quantized nodes, {len(self.result.float_nodes)} kept in fp32, "
            f"{len(self.result.int16_nodes)} with 16-bit activations",
        ], self.fixed.sensitivity if self.fixed else [])


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


INT16_EVERYWHERE = "*"  # int16_activations=["*"]: every node with a 16-bit form


def _check_node_names(graph: Graph, names: Sequence[str], option: str = "keep_float") -> None:
    """keep_float (int16) names nodes of the model; a name matching none would do nothing."""
    known = {n.name for n in graph.nodes} | {o for n in graph.nodes for o in n.outputs}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
                " (node names as in the ONNX model, or `nanort inspect --tensors` of a float conversion)"
            raise ConversionError(f"{option}: the model has no node named {name!r}{hint}")


def quantize_graph(graph: Graph, spec: QuantizeSpec,
                   progress: Callable[[str, int, int], None] | None = None) -> QuantizationOutcome:
    if spec.mode not in MODES:
        raise ValueError(f"quantize must be one of {', '.join(MODES)}, got {spec.mode!r}")
    check_target_outputs(spec.accuracy_targets, graph.outputs)
    if spec.mode == "dynamic":
        return _quantize_dynamic(graph, spec)
    if spec.observer not in OBSERVERS:
        raise ValueError(f"calibration method must be one of {', '.join(OBSERVERS)}, got {spec.observer!r}")
    _check_node_names(graph, spec.keep_float)
    every_16 = list(spec.int16) == [INT16_EVERYWHERE]  # every node that has a 16-bit form
    if not every_16:
        _check_node_names(graph, spec.int16, "int16_activations")
    start, cpu_start = time.perf_counter(), time.process_time()
    if spec.calibration is None and has_given_params(graph):
        data, stats, holdout, held_out = None, {}, [], False  # a pre-quantized model brings its own scales
    else:
        data = from_spec(spec.calibration, _inputs_of(graph), limit=spec.limit, preprocess=spec.preprocess)
        calib, holdout, held_out = split_holdout(data)
        if spec.equalization:  # (the same fp32 function: the reference for every measurement below)
            graph = copy.deepcopy(graph)
            equalize(graph, channel_reach_on(graph, [f for _, f in zip(range(CLE_SAMPLES), calib)]))
        stats = collect_stats(graph, calib, spec.threads,
                              (lambda i, n: progress("calibrating", i, n)) if progress else None)
    samples = holdout[:spec.report_samples]
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    opts = QuantOptions(spec.observer, spec.percentile, spec.per_channel, list(spec.keep_float),
                        range_rules=spec.auto_fallback, slice_scales=spec.slice_scales,
                        int16_nodes={n.name: "asked" for n in graph.nodes
                                     if every_16 or n.name in spec.int16 or any(o in spec.int16 for o in n.outputs)})

    def attempt() -> tuple[Graph, QuantResult, list[LayerRow]]:
        q = copy.deepcopy(graph)
        result = quantize_int8(q, stats, opts)
        if progress:
            progress("measuring per-layer error", 0, len(samples))
        return q, result, layer_rows(graph, q, result, stats, samples, spec.observer, spec.percentile,
                                     (lambda i, n: progress("measuring per-layer error", i, n)) if progress else None)

    q, result, rows = attempt()
    if spec.adaround and data is not None:  # (measured on the inputs the layers read in int8)
        opts.weight_rounding = _layer_rounding(q, result, calib, progress)
        q, result, rows = attempt()
    for _ in range(2 if spec.auto_fallback else 0):  # measured collapses, then islands not worth converting
        bad = collapsed_layers(rows, graph)
        if data is not None:  # (a pre-quantized model runs as its author quantized it)
            bad.update(islands(graph, result, stats, len(calib)))
        bad = {n: why for n, why in bad.items() if n not in opts.force_float}
        if not bad:
            break
        opts.force_float.update(bad)
        q, result, rows = attempt()
        for r in rows:
            if r.node in bad:
                r.note = f"kept in fp32: {bad[r.node]}"
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
        return QuantizationOutcome(q, result, rows, 0, seconds, "the model's own quantization parameters",
                                   cpu_seconds)
    correction_samples = [feeds for _, feeds in zip(range(BIAS_CORRECTION_SAMPLES), calib)]

    def correct(qg: Graph, res: QuantResult) -> None:
        correct_biases(graph, qg, res, correction_samples)
    finish = correct if spec.bias_correction else None
    if finish is not None:
        finish(q, result)
    techniques = []
    if spec.adaround is None:
        start_q, start_result = q, result

        def rounding_on(o: QuantOptions) -> QuantOptions:
            o = copy.deepcopy(o)
            o.weight_rounding = _layer_rounding(start_q, start_result, calib, progress)
            return o
        techniques.append(Technique("weights rounded to each layer's calibration inputs", rounding_on))
    fixed = _meet_accuracy(graph, stats, opts, (q, result), holdout, held_out, rows, spec, finish, progress,
                           techniques, calib)
    if fixed.steps or spec.bias_correction or fixed.graph is not q:  # (the transformer mix has no steps)
        q, result = fixed.graph, fixed.result
        rows = layer_rows(graph, q, result, stats, samples, spec.observer, spec.percentile,
                          (lambda i, n: progress("measuring per-layer error", i, n)) if progress else None)
        notes = {s.node: f"changed by the accuracy fixer: {s.fix}" for s in fixed.steps}
        for r in rows:
            r.note = notes.get(r.node, r.note)
    rows = sort_by_contribution(rows, _added_noise(rows, graph))
    return QuantizationOutcome(q, result, rows, len(calib), seconds, calib.description, cpu_seconds,
                               fixed.verdict, fixed)


def _meet_accuracy(graph: Graph, stats: dict, opts: QuantOptions, start: tuple, holdout: list, held_out: bool,
                   rows: list[LayerRow], spec: QuantizeSpec, finish, progress, techniques: list, calib) -> Fixed:
    """The verdict on the held-out samples, and the fixes that meet the target (fixer.py)."""
    if progress:
        progress("measuring the outputs against fp32", 0, 0)
    reference = run_outputs(serialize(graph), holdout, spec.threads)
    if spec.fix_accuracy and spec.auto_fallback and has_attention(graph) and \
            projection_share(graph) >= PROJECTION_SHARE:
        static = verdict(reference, run_outputs(serialize(start[0]), holdout, spec.threads),
                         spec.accuracy_targets, len(holdout), held_out)
        mixed = None if static.met else try_mix(graph, stats, opts, holdout, list(calib), reference,
                                                spec.accuracy_targets, held_out, spec.threads)
        if mixed is not None:
            return Fixed(*mixed)
    if not spec.fix_accuracy:
        q_out = run_outputs(serialize(start[0]), holdout, spec.threads)
        return Fixed(start[0], start[1],
                     verdict(reference, q_out, spec.accuracy_targets, len(holdout), held_out))
    nodes = {n.name: n for n in graph.nodes}

    def has_16x8(g: Graph, name: str) -> bool:
        return int16_capable(g, nodes[name], stats)
    return meet_target(graph, stats, opts, start, holdout, reference, spec.accuracy_targets, held_out,
                       _added_noise(rows, graph), spec.threads, has_16x8, finish, progress, techniques,
                       [f for _, f in zip(range(TECHNIQUE_CHECK_SAMPLES), calib)])


def _layer_rounding(q: Graph, result: QuantResult, calib, progress) -> LayerRounding:
    """Weight rounding measured on the inputs each layer reads in the int8 graph q: where int8 flattens
    an input channel (a narrow channel beside wide ones), rounding to the float inputs would count on
    that channel to cancel errors."""
    if progress:
        progress("rounding weights to each layer's calibration inputs", 0, 0)
    return LayerRounding(q, [f for _, f in zip(range(ADAROUND_SAMPLES), calib)], result.params)


def _quantize_dynamic(graph: Graph, spec: QuantizeSpec) -> QuantizationOutcome:
    """int8 weights, activations quantized at run time; the verdict on the calibration data
    when given (else on random inputs, said so)."""
    q = copy.deepcopy(graph)
    result = quantize_dynamic(q, spec.per_channel)
    description = "no calibration (dynamic)"
    v = None
    try:
        with warnings.catch_warnings():  # (random inputs only measure here; nothing is calibrated on them)
            warnings.simplefilter("ignore")
            data = from_spec(spec.calibration, _inputs_of(graph), limit=spec.limit or 8, preprocess=spec.preprocess)
    except ConversionError:
        if spec.calibration is not None:
            raise
        data = None  # random inputs need static shapes: no verdict for this model
    if data is not None:
        samples = list(data)
        try:
            reference = run_outputs(serialize(graph), samples, spec.threads)
        except InvalidArgumentError:
            if spec.calibration is not None:
                raise
            samples = []  # random inputs the model rejects (token ids past its vocabulary): no verdict
            description = "no verdict: the model rejects random inputs (give --calibration data)"
        if samples:
            v = verdict(reference, run_outputs(serialize(q), samples, spec.threads), spec.accuracy_targets,
                        len(samples), False)
            description = f"verdict on {data.description}"
    return QuantizationOutcome(q, result, dynamic_rows(graph, result), 0, 0.0, description, verdict=v)


BIAS_CORRECTION_SAMPLES = 4
CLE_SAMPLES = 4
ADAROUND_SAMPLES = 8
TECHNIQUE_CHECK_SAMPLES = 8  # calibration samples giving the fixer's second opinion on a whole-model technique
COLLAPSE_DROP_DB = 12.0   # a layer whose int8 output is this much worse than its inputs ...
COLLAPSE_BELOW_DB = 15.0  # ... and below this SQNR has collapsed: it stays fp32
ISLAND_MACS_PER_ELEMENT = 16.0


def collapsed_layers(rows: list[LayerRow], graph: Graph) -> dict[str, str]:
    """Layers whose measured int8 error (per-layer SQNR against fp32 on calibration samples)
    jumps far below that of their inputs: one int8 scale cannot hold their output (a mask
    added to attention scores, box coordinates next to scores...). Range analysis catches
    most such tensors before quantizing; this is the measured backstop."""
    sqnr = {r.tensor: r.sqnr_db for r in rows if r.sqnr_db is not None}
    producers = graph.producers()
    memo: dict[str, float] = {}

    def upstream(t: str, depth: int = 0) -> float:
        """SQNR of a tensor, or (without a row: a graph input, a step inside a chain, an fp32
        layer) the worst of the tensors it is computed from."""
        if t in sqnr:
            return sqnr[t]
        if t not in memo:
            node = producers.get(t)
            memo[t] = min((upstream(i, depth + 1) for i in node.inputs if i and not graph.tensors[i].is_const),
                          default=math.inf) if node is not None and depth < 64 else math.inf
        return memo[t]

    out = {}
    for r in rows:
        if r.sqnr_db is None or r.sqnr_db >= COLLAPSE_BELOW_DB:
            continue
        node = producers.get(r.tensor)
        ins = [upstream(i) for i in (node.inputs if node else []) if i and not graph.tensors[i].is_const]
        best_in = min(ins, default=math.inf)
        if best_in - r.sqnr_db >= COLLAPSE_DROP_DB:
            out[r.node] = (f"measured int8 error: SQNR {r.sqnr_db:.1f} dB at its output, "
                           f"{best_in:.1f} dB at its inputs")
    return out


def _numel(graph: Graph, name: str, stats: dict, samples: int) -> float:
    shape = graph.tensors[name].static_shape
    if shape is not None:
        return float(np.prod(shape))
    st = stats.get(name)
    return st.count / samples if st is not None and samples else 0.0


def _macs(graph: Graph, node, numel) -> float:
    w = graph.tensors[node.inputs[1]] if len(node.inputs) > 1 and node.inputs[1] else None
    if node.op in ("Conv", "FullyConnected") and w is not None and w.shape:
        return numel(node.outputs[0]) * float(np.prod([d for d in w.shape[1:] if isinstance(d, int)]))
    if node.op == "ConvTranspose" and w is not None and w.shape:
        return numel(node.inputs[0]) * float(np.prod([d for d in w.shape[1:] if isinstance(d, int)]))
    if node.op == "MatMul":
        a = graph.tensors[node.inputs[0]].shape
        k = a[-1] if a else None
        return numel(node.outputs[0]) * (k if isinstance(k, int) else 1)
    return 0.0


def islands(graph: Graph, result: QuantResult, stats: dict, samples: int) -> dict[str, str]:
    """int8 only where it pays. The int8 nodes form connected groups (joined by the int8
    tensors between them); a group's entry tensors are quantized and its exit tensors
    dequantized, one pass over memory each. int8 arithmetic saves time only on
    multiply-accumulates (Conv, ConvTranspose, FullyConnected, MatMul; elementwise and
    data-movement ops cost about the same in either form), so a group stays int8 only if
    it has at least ISLAND_MACS_PER_ELEMENT MACs per element converted at its border;
    otherwise (a lone Transpose before an output, an Add between float ops, a tiny 1x1
    conv) it runs in fp32 without the Quantize/Dequantize pairs."""
    int8 = set(result.int8_nodes)
    nodes = [n for n in graph.nodes if n.name in int8]
    producers = graph.producers()
    consumers = graph.consumers()
    parent = {n.name: n.name for n in nodes}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for n in nodes:
        for i in n.inputs:
            p = producers.get(i)
            if p is not None and p.name in int8:
                parent[find(p.name)] = find(n.name)

    def numel(name: str) -> float:
        return _numel(graph, name, stats, samples)

    macs: dict[str, float] = {}
    border: dict[str, float] = {}
    seen: set[tuple[str, str]] = set()
    for n in nodes:
        root = find(n.name)
        macs[root] = macs.get(root, 0.0) + _macs(graph, n, numel)
        for i in n.inputs:
            t = graph.tensors.get(i) if i else None
            if t is None or t.is_const or t.dtype != np.float32 or (root, i) in seen:
                continue
            p = producers.get(i)
            if p is None or p.name not in int8:
                seen.add((root, i))
                border[root] = border.get(root, 0.0) + numel(i)
        for o in n.outputs:
            if o and (o in graph.outputs or any(c.name not in int8 for c in consumers.get(o, []))):
                border[root] = border.get(root, 0.0) + numel(o)
    out = {}
    for n in nodes:
        root = find(n.name)
        if macs.get(root, 0.0) < ISLAND_MACS_PER_ELEMENT * border.get(root, 0.0):
            out[n.name] = (f"int8 island: {macs.get(root, 0.0):.3g} MACs for {border.get(root, 0.0):.3g} "
                           "elements to quantize/dequantize; fp32 is faster")
    return out


def has_given_params(graph: Graph) -> bool:
    """True for pre-quantized models (QDQ annotations on float activations)."""
    return any(t.quant is not None and t.data is None and t.dtype == np.float32 for t in graph.tensors.values())
