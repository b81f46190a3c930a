"""Empirical bias correction: the mean of an int8 layer's output error per
channel (int8 result minus fp32, over calibration samples) is folded into its
int32 bias, so rounding that shifts a channel's mean (weights rounded the same
way across a channel, a clipped range) stops propagating as a bias.

Measured over the positions where the fp32 output lies inside the fused
activation's open range: where Relu or Clip flattens it the error is not a
shift of the pre-activation sum. All layers are corrected from one pass (their
errors measured with every layer int8 at once)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nanort.schema.ActivationKind import ActivationKind

from ..ir import Graph
from .calibrate import run_all_tensors
from .quantize import QuantResult

CORRECTED_OPS = ("Conv", "FullyConnected")


def _inside_activation(ref: np.ndarray, activation: tuple) -> np.ndarray:
    kind = activation[0]
    if kind == ActivationKind.RELU:
        return ref > 0
    if kind == ActivationKind.CLIP:
        return (ref > activation[1]) & (ref < activation[2])
    return np.ones(ref.shape, bool)


def correct_biases(fp_graph: Graph, q_graph: Graph, result: QuantResult, samples: Sequence[dict]) -> int:
    """Corrects q_graph's int32 biases in place; returns how many layers changed."""
    nodes = [n for n in q_graph.nodes if n.op in CORRECTED_OPS and len(n.inputs) == 3 and n.inputs[2]
             and n.outputs[0] in result.params and n.outputs[0] in fp_graph.tensors
             and q_graph.tensors[n.inputs[2]].data is not None and q_graph.tensors[n.inputs[2]].data.dtype == np.int32]
    names = {n.outputs[0] for n in nodes}
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    fp_acts = {n.outputs[0]: n.attrs.get("activation", (0, 0.0, 0.0)) for n in fp_graph.nodes if n.outputs}
    for feeds in samples:
        ref = run_all_tensors(fp_graph, feeds, names)
        got = run_all_tensors(q_graph, feeds, names)
        for name in names & ref.keys() & got.keys():
            scale, zp = result.params[name]
            r = ref[name].reshape(-1, ref[name].shape[-1]).astype(np.float64)
            deq = (got[name].reshape(r.shape).astype(np.float64) - zp) * scale
            mask = _inside_activation(r, fp_acts.get(name, (0,)))
            sums[name] = sums.get(name, 0.0) + np.where(mask, deq - r, 0.0).sum(axis=0)
            counts[name] = counts.get(name, 0.0) + mask.sum(axis=0)
    changed = 0
    for node in nodes:
        name = node.outputs[0]
        if name not in sums:
            continue
        mean_error = sums[name] / np.maximum(counts[name], 1)
        s_x = np.float64(result.params[node.inputs[0]][0])
        s_w = np.broadcast_to(q_graph.tensors[node.inputs[1]].quant.scale.astype(np.float64), mean_error.shape)
        delta = np.rint(mean_error / (s_x * s_w))
        if not delta.any():
            continue
        bias = q_graph.tensors[node.inputs[2]]
        bias.data = np.clip(bias.data.astype(np.int64) - delta.astype(np.int64), -(2 ** 31), 2 ** 31 - 1
                            ).astype(np.int32)
        changed += 1
    return changed
