"""Removes Identity nodes and everything no graph output depends on."""

from __future__ import annotations

import dataclasses

from ..ir import Graph


def remove_identities(graph: Graph) -> None:
    outputs = set(graph.outputs)
    for node in graph.iter_nodes("Identity"):
        src, dst = node.inputs[0], node.outputs[0]
        if dst in outputs and (src in outputs or src in graph.inputs or graph.tensors[src].is_const):
            continue  # the graph output keeps its own name and tensor
        graph.nodes.remove(node)
        if dst in outputs:
            # Rename the producer's output so the graph output keeps its name.
            for n in graph.nodes:
                n.outputs = [dst if o == src else o for o in n.outputs]
                n.inputs = [dst if i == src else i for i in n.inputs]
            graph.tensors[dst] = dataclasses.replace(graph.tensors[src], name=dst)
        else:
            graph.replace_input(dst, src)


def run(graph: Graph) -> None:
    remove_identities(graph)
    graph.remove_unused()
