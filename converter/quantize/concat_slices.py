"""Per-slice scales for concatenations that only graph outputs read.

A detector's head concatenates parts with different ranges into its output:
box offsets or pixel coordinates next to 0..1 scores (YOLOX writes
[x, y, log w, log h] beside objectness and class probabilities per level,
then concatenates the levels). One int8 scale for the whole tensor gives
the scores a few levels. Where nothing but graph outputs reads the
concatenation (through data movement and further concatenations), each
part keeps its own int8 scale: its producer writes int8 at the part's own
parameters, the part is dequantized, and the concatenation and the data
movement after it run on floats, so every slice agrees with its own int8
values within its own rounding (exact, and cheap: an output-sized copy in
float instead of int8). Probability tails feeding such a concatenation stay
fp32 like those feeding an output directly.

Applied where the parts' ranges differ by at least SPREAD (closer ranges
lose less than a bit to one scale)."""

from __future__ import annotations

from collections.abc import Callable

from ..ir import Graph, Node

SPREAD = 2.0
REASON = "concatenated into a graph output: each part keeps its own int8 scale (dequantized before the concat)"
TAIL_REASON = "probability tail feeding a graph output (through a concatenation)"


def output_slices(graph: Graph, movement: set[str], tails: set[str],
                  span: Callable[[str], float]) -> dict[str, str]:
    """Nodes to run in float (node name -> reason): each Concat whose output reaches only
    graph outputs (through `movement` ops and Concats) and whose parts' spans (span(t):
    the width of t's int8 range) differ by SPREAD or more, the nodes from it to the
    outputs, and the `tails` producing its parts."""
    consumers, producers = graph.consumers(), graph.producers()
    outputs = set(graph.outputs)
    memo: dict[str, bool] = {}

    def to_outputs(t: str) -> bool:
        if t not in memo:
            memo[t] = False  # (cycles cannot occur; this guards deep recursion on bad input)
            readers = consumers.get(t, [])
            memo[t] = (t in outputs or bool(readers)) and all(
                (r.op == "Concat" or (r.op in movement and r.inputs[0] == t))
                and all(to_outputs(o) for o in r.outputs if o) for r in readers)
        return memo[t]

    marked: dict[str, str] = {}

    def mark_down(node: Node) -> None:
        if node.name in marked:
            return
        marked[node.name] = REASON
        for o in node.outputs:
            for r in consumers.get(o, []):
                mark_down(r)

    for node in graph.nodes:
        if node.op != "Concat" or node.name in marked or not to_outputs(node.outputs[0]):
            continue
        parts = [i for i in node.inputs if i and graph.tensors[i].data is None]
        spans = [span(i) for i in parts]
        if len(spans) < 2 or min(spans) <= 0 or max(spans) < SPREAD * min(spans):
            continue
        mark_down(node)
        for i in parts:
            p = producers.get(i)
            if p is not None and p.op in tails:
                marked.setdefault(p.name, TAIL_REASON)
    return marked
