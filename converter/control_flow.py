"""ONNX control flow at the ONNX level: the names subgraphs read from the
scopes around them, and `If` nodes whose condition folded to a constant,
which are replaced by the nodes of the branch they take.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
from onnx import helper

SUBGRAPH_OPS = {"If": ("then_branch", "else_branch"), "Loop": ("body",), "Scan": ("body",)}


def subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def defined_names(g: onnx.GraphProto) -> set[str]:
    """Values a graph defines itself: its inputs, initializers and node outputs."""
    names = {i.name for i in g.input} | {i.name for i in g.initializer}
    for n in g.node:
        names.update(o for o in n.output if o)
    return names


def outer_references(g: onnx.GraphProto) -> set[str]:
    """Names a (sub)graph and its nested subgraphs read without defining them:
    the values they capture from the scopes around them, in first-read order."""
    own = defined_names(g)
    out: dict[str, None] = {}
    for n in g.node:
        for i in n.input:
            if i and i not in own:
                out[i] = None
        for s in subgraphs(n):
            for i in outer_references(s):
                if i not in own:
                    out[i] = None
    for o in g.output:
        if o.name not in own:
            out[o.name] = None
    return set(out)


def nested_references(nodes: list[onnx.NodeProto]) -> set[str]:
    """Names the subgraphs of these nodes read from outside themselves."""
    return {name for n in nodes for s in subgraphs(n) for name in outer_references(s)}


def _rename_in_graph(g: onnx.GraphProto, mapping: dict[str, str]) -> None:
    """Renames reads of outer values in a nested subgraph (its own values shadow)."""
    live = {k: v for k, v in mapping.items() if k not in defined_names(g)}
    if not live:
        return
    for n in g.node:
        n.input[:] = [live.get(i, i) for i in n.input]
        for s in subgraphs(n):
            _rename_in_graph(s, live)
    for o in g.output:
        if o.name in live:
            o.name = live[o.name]


def inline_branch(node: onnx.NodeProto, cond: np.ndarray, taken: set[str]
                  ) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """The nodes and constants that replace an If whose condition is `cond`.

    The branch's own names are renamed where they clash with `taken` (names
    of the enclosing graph); each If output becomes an Identity of the
    branch's matching output."""
    branch_name = "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"
    branch = next(a.g for a in node.attribute if a.name == branch_name)
    prefix = f"{node.name or node.output[0]}/{branch_name}/"
    mapping = {name: prefix + name for name in defined_names(branch) if name in taken}
    consts = {mapping.get(i.name, i.name): onnx.numpy_helper.to_array(i) for i in branch.initializer}
    nodes: list[onnx.NodeProto] = []
    for n in branch.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.input[:] = [mapping.get(i, i) for i in n.input]
        copy.output[:] = [mapping.get(o, o) for o in n.output]
        if n.name:
            copy.name = prefix + n.name
        for s in subgraphs(copy):
            _rename_in_graph(s, mapping)
        nodes.append(copy)
    for out, branch_out in zip(node.output, branch.output):
        if out:
            nodes.append(helper.make_node("Identity", [mapping.get(branch_out.name, branch_out.name)], [out],
                                          name=f"{prefix}{out}"))
    return nodes, consts
