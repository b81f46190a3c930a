"""Meets the accuracy target by itself: when a graph output misses its target
(accuracy.py) after int8 quantization, find the layers that cause it and fix
them, cheapest fix first, until the target holds.

Sensitivity. For each candidate layer (an int8 layer that rounds a tensor of
its own), the output error when only that layer is kept float (everything
else int8) and when only that layer is quantized (everything else float),
both on the held-out samples. Candidates are all such layers up to
SHORTLIST, else the SHORTLIST layers adding the most noise at their own
output (the per-layer report) together with the producers of their inputs:
a layer that ruins its output tensor's small channels while its big ones
keep the tensor's SQNR high shows its damage only in the layer reading it.

First, whole-model techniques not already on (weight rounding to the layer
inputs: see Technique), each kept if it cuts the deficit by
TECHNIQUE_GAIN or more and does not lower the outputs' SQNR on calibration
samples (a second opinion on more samples: a technique changes every layer,
and a few held-out samples can favour it by chance, as PP-OCR rec's three
did); they cost no latency.

Then fixes, greedily, most sensitive layer first, each kept only if it improves the
outputs (scale and 16-bit must win at least half of what fp32 would):
  1. a better scale for the layer's output tensor (another observer's range:
     minmax keeps every value, a percentile clips less than MSE);
  2. 16-bit activations for the layer (int16 x int8, TFLite's 16x8 scheme)
     where the layer has 16x8 kernels (a Conv or FullyConnected), together
     with the readers of its result that have them too, which then read its
     int16 codes (int16_group);
  3. fp32 for the layer;
  4. once no single layer's fix helps any more: fp32 for a tensor's whole
     neighbourhood (the layer computing it, the elementwise steps before it
     back to the layer whose result they map, and its readers), so that the
     tensor and the one it maps stay float. A tensor whose channels span a
     range no int8 scale holds (a stem conv -> HardSwish -> depthwise conv)
     ruins the output whichever single layer beside it stays int8: PP-PicoDet
     needs five such groups.
Each step records its measured latency cost: the layer's time in the final
model minus its int8 time (per-node profile), Quantize/Dequantize included."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph
from ..serialize import serialize
from . import tables
from .accuracy import Target, Verdict, run_outputs, sqnr_db, verdict
from .observers import TensorStats
from .quantize import MOVEMENT, QuantOptions, QuantResult, quantize_int8

SHORTLIST = 24
TECHNIQUE_GAIN = 0.05  # a whole-model technique is kept when it cuts the deficit by this fraction
WHOLE_MODEL = "(whole model)"
MAX_FIXES = 12
SCALE_CHOICES = (("minmax", 99.99), ("percentile", 99.999))
NO_ERROR_OPS = MOVEMENT | {"Pad"}  # int8 copies of their input's values: nothing to fix there
COLLAPSE_REASON = "measured int8 error"  # (quantize_graph's collapsed_layers)


@dataclass
class Sensitivity:
    node: str
    op: str
    only_float: float      # output deficit (verdict.deficit) with only this layer in fp32 (no bias correction)
    only_quantized: float  # ... with only this layer in int8


@dataclass
class Technique:
    """A whole-model step the fixer may take: the options with it on, and what to run
    after quantizing (composed with what already runs)."""
    name: str
    options: Callable[[QuantOptions], QuantOptions]
    finish: Callable[[Graph, QuantResult], None] | None = None


@dataclass
class FixStep:
    node: str
    op: str
    fix: str              # "scale: minmax range", "int16 activations", "fp32", "fp32 with ..."
    before: float         # deficit before and after the step
    after: float
    cost_ms: float | None = None  # measured: the layer's time after the fix minus its int8 time
    group: list[str] = field(default_factory=list)  # the other layers the fix changed

    def text(self) -> str:
        cost = "" if self.cost_ms is None else f", {self.cost_ms:+.3f} ms"
        where = self.node if self.node == WHOLE_MODEL else f"{self.node} ({self.op})"
        return f"{where}: {self.fix} (deficit {self.before:.3g} -> {self.after:.3g}{cost})"


@dataclass
class Fixed:
    graph: Graph
    result: QuantResult
    verdict: Verdict
    steps: list[FixStep] = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)
    int8_ms: float | None = None   # whole model, sum of the per-node profile, before and after fixing
    fixed_ms: float | None = None
    fp32_ms: float | None = None


class _Trials:
    """Quantizes the float graph under given options and judges the outputs."""

    def __init__(self, fp_graph: Graph, stats: dict[str, TensorStats], holdout: Sequence[dict],
                 reference: dict[str, np.ndarray], targets: Sequence[Target], held_out: bool, threads: int,
                 int16_capable: Callable[[Graph, str], bool] | None,
                 finish: Callable[[Graph, QuantResult], None] | None):
        self.fp, self.stats, self.holdout, self.finish = fp_graph, stats, holdout, finish
        self.reference, self.targets, self.held_out, self.threads = reference, targets, held_out, threads
        self.int16_capable = int16_capable
        self.count = 0
        self._ops = {n.name: n.op for n in fp_graph.nodes}

    def op_of(self, name: str) -> str:
        return self._ops.get(name, "")

    def run(self, opts: QuantOptions, finish: bool = True) -> tuple[Graph, QuantResult, Verdict]:
        self.count += 1
        q = copy.deepcopy(self.fp)
        result = quantize_int8(q, self.stats, opts)
        if finish and self.finish is not None:
            self.finish(q, result)
        outs = run_outputs(serialize(q), self.holdout, self.threads)
        return q, result, verdict(self.reference, outs, self.targets, len(self.holdout), self.held_out)


def _with(opts: QuantOptions, **change) -> QuantOptions:
    new = copy.deepcopy(opts)
    for k, v in change.items():
        getattr(new, k).update(v)
    return new


def candidates(fp_graph: Graph, result: QuantResult, added_noise: dict[str, float]) -> list[str]:
    ops = {n.name: n for n in fp_graph.nodes}
    names = [n for n in result.int8_nodes if n in ops and ops[n].op not in NO_ERROR_OPS]
    if len(names) <= SHORTLIST:
        return names
    producers = fp_graph.producers()
    worst = sorted(names, key=lambda n: -added_noise.get(n, 0.0))[:SHORTLIST // 2]
    picked = list(worst)
    for n in worst:
        for i in ops[n].inputs:
            p = producers.get(i)
            if p is not None and p.name in names and p.name not in picked:
                picked.append(p.name)
    return picked[:SHORTLIST]


def node_times(model_bytes: bytes, feeds: dict, runs: int = 5, threads: int = 1) -> dict[str, float]:
    """ms per run of each node (name -> ms), from the runtime's per-node profile."""
    from nanort.runtime.model import Model

    with Model(model_bytes, threads=threads, check_finite=False) as model:
        model.run(feeds)
        model.set_profiling(True)
        for _ in range(runs):
            model.run(feeds)
        return {p["name"]: p["ms"] / runs for p in model.profile() if p["calls"]}


def _layer_ms(times: dict[str, float], node: str, tensors: Sequence[str]) -> float:
    """A layer's time with the Quantize/Dequantize steps converting its tensors."""
    own = [f"{t}/{step}" for t in tensors for step in ("quantize", "dequantize", "quantize16", "dequantize16")]
    return times.get(node, 0.0) + sum(times.get(k, 0.0) for k in own)


def meet_target(fp_graph: Graph, stats: dict[str, TensorStats], opts: QuantOptions, start: tuple,
                holdout: Sequence[dict], reference: dict[str, np.ndarray], targets: Sequence[Target],
                held_out: bool, added_noise: dict[str, float], threads: int = 1,
                int16_capable: Callable[[Graph, str], bool] | None = None,
                finish: Callable[[Graph, QuantResult], None] | None = None,
                progress: Callable[[str, int, int], None] | None = None,
                techniques: Sequence[Technique] = (), check: Sequence[dict] = ()) -> Fixed:
    """start: (graph, result) of the int8 quantization under opts (then finish, e.g. bias
    correction, which every trial repeats). Returns the fixed quantization (the start
    itself when it already meets the target)."""
    trials = _Trials(fp_graph, stats, holdout, reference, targets, held_out, threads, int16_capable, finish)
    q, result = start
    current = verdict(reference, run_outputs(serialize(q), holdout, threads), targets, len(holdout), held_out)
    fixed = Fixed(q, result, current)
    if current.met:
        return fixed
    opts = _whole_model_steps(trials, opts, fixed, techniques, check, progress)
    if fixed.verdict.met:
        return fixed
    ops = {n.name: n for n in fp_graph.nodes}
    names = candidates(fp_graph, result, added_noise)
    all_nodes = {n.name: "accuracy fixer: sensitivity trial" for n in fp_graph.nodes}
    for k, name in enumerate(names):
        if progress:
            progress("accuracy target missed: measuring layer sensitivity", k, len(names))
        only_float = trials.run(_with(opts, force_float={name: "sensitivity trial"}), False)[2].deficit()
        rest = {n: why for n, why in all_nodes.items() if n != name}
        only_q = trials.run(_with(opts, force_float=rest), False)[2].deficit()
        fixed.sensitivity.append(Sensitivity(name, ops[name].op, only_float, only_q))
    fixed.sensitivity.sort(key=lambda s: s.only_float)
    deficit = fixed.verdict.deficit()
    # (the sensitivity trials skip the finishing step, bias correction, which costs a pass over samples
    # per trial: a layer is worth fixing where keeping it float beats the start without that step too)
    unfinished = deficit if trials.finish is None else trials.run(opts, False)[2].deficit()
    state = opts
    for s in fixed.sensitivity:
        if fixed.verdict.met or len(fixed.steps) >= MAX_FIXES:
            break
        if s.only_float >= unfinished:  # (keeping it float alone did not help)
            continue
        if progress:
            progress(f"accuracy target missed: fixing {s.node}", len(fixed.steps), MAX_FIXES)
        step = _fix_layer(trials, state, ops[s.node], deficit, s.only_float)
        if step is None:
            continue
        new_16 = [n for n in step[0].int16_nodes if n not in state.int16_nodes and n != s.node]
        state, (q, result, v), fix = step
        fixed.steps.append(FixStep(s.node, s.op, fix, deficit, v.deficit(), group=new_16))
        fixed.graph, fixed.result, fixed.verdict = q, result, v
        deficit = v.deficit()
    state = _float_groups(trials, state, fixed, fp_graph, names, progress)
    if fixed.steps and fixed.verdict.met:
        state = _undo_backstops(trials, state, fixed)
    if fixed.steps:
        _measure_costs(fixed, fp_graph, start[0], holdout[0], threads, ops)
    return fixed


def _elementwise(graph: Graph, node) -> bool:
    """A function of one tensor, value by value (a table in int8)."""
    if node.op in tables.FUNCTIONS or node.op in tables.PARTIAL:
        return True
    return node.op in ("Add", "Sub", "Mul", "Div") and len(node.inputs) == 2 and \
        sum(graph.tensors[i].is_const for i in node.inputs) == 1


def float_group(graph: Graph, name: str) -> list[str]:
    """The layers that keep a tensor float: the tensor at the end of the elementwise steps
    after layer `name` (itself if none), those steps, the steps before `name` back to the
    layer whose result they map, and the tensor's readers."""
    producers, consumers = graph.producers(), graph.consumers()
    node = next(n for n in graph.nodes if n.name == name)
    group = [node.name]
    end = node
    while True:
        readers = consumers.get(end.outputs[0], [])
        if end.outputs[0] in graph.outputs or len(readers) != 1 or not _elementwise(graph, readers[0]):
            break
        end = readers[0]
        group.append(end.name)
    group += [r.name for r in consumers.get(end.outputs[0], [])]
    while _elementwise(graph, node):
        x = next(i for i in node.inputs if i and not graph.tensors[i].is_const)
        node = producers.get(x)
        if node is None or node.name in group:
            break
        group.append(node.name)
    return list(dict.fromkeys(group))


def _float_groups(trials: _Trials, state: QuantOptions, fixed: Fixed, fp_graph: Graph, names: Sequence[str],
                  progress) -> QuantOptions:
    """Step 4: each candidate's float group, worst-noise candidates first, kept where it helps."""
    ops = {n.name: n.op for n in fp_graph.nodes}
    tried: set[frozenset] = set()
    for k, name in enumerate(names):
        if fixed.verdict.met or len(fixed.steps) >= MAX_FIXES:
            break
        whole = float_group(fp_graph, name)
        group = [n for n in whole if n not in state.force_float]  # (earlier fixes may hold some of it)
        if len(whole) < 2 or name not in group or frozenset(group) in tried:
            continue
        tried.add(frozenset(group))
        if progress:
            progress("accuracy target missed: keeping tensors float", k, len(names))
        deficit = fixed.verdict.deficit()
        trial = _with(state, force_float={n: "accuracy fixer: keeps a tensor that ruined a graph output float"
                                          for n in group})
        q, result, v = trials.run(trial)
        if v.deficit() < deficit * 0.99:
            others = [n for n in whole if n != name]
            fixed.steps.append(FixStep(name, ops[name], f"fp32 with {', '.join(others)} (its tensor stays float)",
                                       deficit, v.deficit(), group=[n for n in group if n != name]))
            fixed.graph, fixed.result, fixed.verdict = q, result, v
            state = trial
    return state


def _then(first: Callable[[Graph, QuantResult], None], then: Callable[[Graph, QuantResult], None]
          ) -> Callable[[Graph, QuantResult], None]:
    def both(g: Graph, r: QuantResult) -> None:
        first(g, r)
        then(g, r)
    return both


def _worst_sqnr(graph: Graph, check: Sequence[dict], reference: dict[str, np.ndarray], threads: int) -> float:
    got = run_outputs(serialize(graph), check, threads)
    return min(sqnr_db(reference[k], got[k]) for k in reference)


def _whole_model_steps(trials: _Trials, opts: QuantOptions, fixed: Fixed, techniques: Sequence[Technique],
                       check: Sequence[dict], progress) -> QuantOptions:
    """Switches on each technique that cuts the deficit by TECHNIQUE_GAIN without lowering the worst
    output SQNR on the check samples; returns the options."""
    if not techniques:
        return opts
    reference = run_outputs(serialize(trials.fp), check, trials.threads) if check else {}
    current = _worst_sqnr(fixed.graph, check, reference, trials.threads) if check else 0.0
    for t in techniques:
        if fixed.verdict.met:
            break
        if progress:
            progress(f"accuracy target missed: trying {t.name}", 0, 0)
        before, previous = fixed.verdict.deficit(), trials.finish
        if t.finish is not None:
            trials.finish = t.finish if previous is None else _then(previous, t.finish)
        trial = t.options(opts)
        q, result, v = trials.run(trial)
        agrees = v.deficit() <= before * (1 - TECHNIQUE_GAIN)
        if agrees and check:
            trial_sqnr = _worst_sqnr(q, check, reference, trials.threads)
            agrees, current = trial_sqnr >= current, max(current, trial_sqnr)
        if agrees:
            fixed.steps.append(FixStep(WHOLE_MODEL, "", t.name, before, v.deficit(), 0.0))
            fixed.graph, fixed.result, fixed.verdict = q, result, v
            opts = trial
        else:
            trials.finish = previous
    return opts


def _undo_backstops(trials: _Trials, state: QuantOptions, fixed: Fixed) -> QuantOptions:
    """The measured-collapse rule keeps in fp32 the layer where the error shows, which
    may only read the culprit's ruined tensor: once the fixes meet the target, each such
    layer goes back to int8 if the target still holds."""
    for name, why in list(state.force_float.items()):
        if not why.startswith(COLLAPSE_REASON):
            continue
        if name in state.int16_nodes:  # (a 16-bit fix took it over: the rule no longer keeps it fp32)
            state = copy.deepcopy(state)
            del state.force_float[name]
            continue
        trial = copy.deepcopy(state)
        del trial.force_float[name]
        q, result, v = trials.run(trial)
        if v.met:
            state = trial
            fixed.graph, fixed.result, fixed.verdict = q, result, v
            fixed.steps.append(FixStep(name, trials.op_of(name), "back to int8 (the collapse it showed is fixed)",
                                       v.deficit(), v.deficit()))
    return state


def int16_group(trials: _Trials, node) -> list[str]:
    """A layer going 16-bit and the readers of its result that have 16x8 kernels too: they read
    its int16 codes, so its tensor keeps 16-bit precision (an int8 reader would round it to
    int8 again)."""
    readers = trials.fp.consumers().get(node.outputs[0], [])
    return [node.name] + [r.name for r in readers if trials.int16_capable(trials.fp, r.name)]


def _fix_layer(trials: _Trials, state: QuantOptions, node, deficit: float, float_deficit: float):
    """The cheapest fix for one layer that wins at least half of what fp32 would, or fp32 if
    that helps at all; None when nothing helps."""
    enough = deficit - 0.5 * (deficit - float_deficit)
    out = node.outputs[0]
    tries: list[tuple[str, QuantOptions]] = []
    for observer, pct in SCALE_CHOICES:
        if (observer, pct) != (state.observer, state.percentile) and out in trials.stats:
            tries.append((f"scale: {observer} range", _with(state, range_override={out: (observer, pct)})))
    if trials.int16_capable is not None and trials.int16_capable(trials.fp, node.name):
        group = int16_group(trials, node)
        with_readers = f" with {', '.join(group[1:])} (its tensor stays 16-bit)" if group[1:] else ""
        tries.append((f"int16 activations{with_readers}",
                      _with(state, int16_nodes={n: "accuracy fixer" for n in group})))
    for fix, trial in tries:
        got = trials.run(trial)
        if got[2].deficit() <= min(enough, 1.0) or (got[2].met and got[2].deficit() < deficit):
            return trial, got, fix
    trial = _with(state, force_float={node.name: "accuracy fixer: its int8 output ruined a graph output"})
    got = trials.run(trial)
    if got[2].deficit() < deficit * 0.99:
        return trial, got, "fp32"
    return None


def _measure_costs(fixed: Fixed, fp_graph: Graph, int8_graph: Graph, feeds: dict, threads: int, ops) -> None:
    before = node_times(serialize(int8_graph), feeds, threads=threads)
    after = node_times(serialize(fixed.graph), feeds, threads=threads)
    fp32 = node_times(serialize(fp_graph), feeds, threads=threads)
    for step in fixed.steps:
        if step.node not in ops:  # (whole-model steps change no layer's precision)
            continue
        step.cost_ms = 0.0
        for node in [step.node] + step.group:
            tensors = [t for t in ops[node].outputs + ops[node].inputs if t]
            step.cost_ms += _layer_ms(after, node, tensors) - _layer_ms(before, node, tensors)
    fixed.int8_ms, fixed.fixed_ms, fixed.fp32_ms = (sum(before.values()), sum(after.values()),
                                                   sum(fp32.values()))


def fixes_text(fixed: Fixed) -> list[str]:
    lines = [s.text() for s in fixed.steps]
    if fixed.fixed_ms is not None and fixed.int8_ms is not None and fixed.fp32_ms:
        lines.append(f"latency (per-node profile, 1 thread): int8 {fixed.int8_ms:.2f} ms -> "
                     f"{fixed.fixed_ms:.2f} ms after the fixes; fp32 {fixed.fp32_ms:.2f} ms "
                     f"({fixed.fp32_ms / max(fixed.fixed_ms, 1e-9):.2f}x faster than fp32)")
    return lines
