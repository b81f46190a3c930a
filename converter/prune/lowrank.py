"""Low-rank factorization of FullyConnected layers and 1x1 convs: y = x W^T + b
becomes y = (x A^T) B^T + b with A [r, K], B [N, r], two thinner layers,
where that drops the multiply-adds and the weight bytes below
WORTH x N x K (r (N + K) < WORTH N K).

The factors come from a data-aware SVD: with E[x x^T] = L L^T over the
calibration inputs, W L = U S V^T and W ~ U_r S_r V_r^T L^-1, which is the
rank-r W' minimizing the layer's output error ||X (W - W')^T|| (not the
weights' error ||W - W'||): the kept subspace is the one the layer's real
inputs use. A gets sqrt(S_r) V_r^T L^-1 and B gets U_r sqrt(S_r), so the two
have comparable ranges for int8. The rank keeps `energy` of the whitened
spectrum (sum of the kept S^2 over all of it), or is capped at an integer.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .calibration import InputStats
from .layers import Layer

WORTH = 0.75  # factorize only when the two layers take at most this fraction of the MACs and bytes
MIN_WEIGHTS = 4096  # smaller layers are not worth a second node
DAMPING = 1e-6


def check_target(target: float | int) -> None:
    if isinstance(target, bool) or not isinstance(target, (int, float, np.integer, np.floating)):
        raise ValueError(f"low rank must be an energy in (0, 1) or a rank >= 1, got {target!r}")
    if isinstance(target, (int, np.integer)) and target >= 1:
        return
    if not 0.0 < float(target) < 1.0:
        raise ValueError(f"low rank must be an energy in (0, 1) or an integer rank >= 1, got {target!r}")


def choose_rank(singular: np.ndarray, target: float | int) -> int:
    if isinstance(target, (int, np.integer)):
        return min(int(target), len(singular))
    energy = np.cumsum(singular ** 2)
    if energy[-1] <= 0:
        return 1
    return int(np.searchsorted(energy / energy[-1], float(target)) + 1)


def factors(w: np.ndarray, stats: InputStats, target: float | int) -> tuple[np.ndarray, np.ndarray]:
    """(A [r, K], B [N, r]) with B A ~ W in the calibration inputs' metric."""
    h = stats.mean_hessian.copy()
    h[np.diag_indices_from(h)] += DAMPING * max(float(np.diag(h).mean()), 1e-12)
    lower = np.linalg.cholesky(h)
    u, s, vt = np.linalg.svd(w @ lower, full_matrices=False)
    r = choose_rank(s, target)
    root = np.sqrt(s[:r])
    a = (root[:, None] * vt[:r]) @ np.linalg.inv(lower)
    return a, u[:, :r] * root[None, :]


def _split(graph: Graph, layer: Layer, a: np.ndarray, b: np.ndarray) -> None:
    node = layer.node
    out = graph.tensors[node.outputs[0]]
    r = a.shape[0]
    mid_shape = None if out.shape is None else tuple(out.shape[:-1]) + (r,)
    mid = graph.add_tensor(graph.fresh_name(f"{node.outputs[0]}_low_rank"), np.float32, mid_shape).name
    if node.op == "Conv":
        wa = a.reshape(r, 1, 1, -1)
        wb = b.reshape(b.shape[0], 1, 1, r)
        first_attrs = {k: v for k, v in node.attrs.items() if k != "activation"}
        second_attrs = {**node.attrs, "strides": [1, 1], "pads": [0, 0, 0, 0], "auto_pad": 0}
    else:
        wa, wb = a, b
        first_attrs = {k: v for k, v in node.attrs.items() if k != "activation"}
        second_attrs = {**node.attrs, "keep_dims": True}
    name_a = graph.add_const(wa.astype(np.float32), f"{layer.weight}_low_rank_a")
    name_b = graph.add_const(wb.astype(np.float32), f"{layer.weight}_low_rank_b")
    first = Node(node.op, [node.inputs[0], name_a], [mid], first_attrs, f"{node.name}/low_rank_in")
    second = Node(node.op, [mid, name_b] + node.inputs[2:], list(node.outputs), second_attrs, node.name)
    at = next(i for i, n in enumerate(graph.nodes) if n is node)
    graph.nodes[at:at + 1] = [first, second]
    graph.remove_unused()


def factorize(graph: Graph, layers: list[Layer], stats: dict[str, InputStats], target: float | int) -> list:
    from . import LayerResult

    rows = []
    for layer in layers:
        w = layer.matrix(graph)
        n, k = w.shape
        if n * k < MIN_WEIGHTS:
            continue
        a, b = factors(w, stats[layer.name], target)
        r = a.shape[0]
        if r * (n + k) > WORTH * n * k:
            rows.append(LayerResult(layer.name, layer.node.op, layer.shape, "kept whole", 0.0, None,
                                    f"rank {r} would keep {r * (n + k) / (n * k):.0%} of the MACs"))
            continue
        approx = b @ a
        h = stats[layer.name].mean_hessian
        d = w - approx
        den = float(((w @ h) * w).sum())
        err = float(((d @ h) * d).sum()) / den if den > 0 else 0.0
        _split(graph, layer, a, b)
        rows.append(LayerResult(layer.name, layer.node.op, layer.shape, f"low rank {r}", 0.0, err,
                                f"{r * (n + k) / (n * k):.0%} of the MACs"))
    return rows
