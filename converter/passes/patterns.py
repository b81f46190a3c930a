"""Small helpers for pattern-matching passes."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node


class Matcher:
    """Producer/consumer lookups over a graph, rebuilt after each rewrite."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.refresh()

    def refresh(self) -> None:
        self.producer = self.g.producers()
        self.consumers = self.g.consumers()
        self.graph_outputs = set(self.g.outputs)

    def only_consumer(self, name: str) -> Node | None:
        """The single node reading `name`, when nothing else (not even a graph output) does."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.graph_outputs:
            return None
        return users[0]

    def prod(self, name: str, op: str | tuple[str, ...] | None = None) -> Node | None:
        n = self.producer.get(name) if name else None
        if n is None or (op is not None and n.op not in ((op,) if isinstance(op, str) else op)):
            return None
        return n


def scalar(graph: Graph, name: str) -> float | None:
    """Value of a constant holding one number (any shape of size 1)."""
    v = graph.const(name)
    if v is None or v.size != 1 or v.dtype.kind not in "fiu":
        return None
    return float(v.reshape(-1)[0])


def is_scalar(graph: Graph, name: str, value: float, tol: float = 1e-6) -> bool:
    s = scalar(graph, name)
    return s is not None and abs(s - value) <= tol * max(1.0, abs(value))


def other_input(node: Node, name: str) -> str | None:
    """For a binary node reading `name`, its other input."""
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if a == name:
        return b
    if b == name:
        return a
    return None


def channel_vector(graph: Graph, name: str, channels: int, axis: int, rank: int) -> np.ndarray | None:
    """A constant that broadcasts along one `axis` of a rank-`rank` tensor with
    `channels` channels, as a length-`channels` vector; None otherwise."""
    v = graph.const(name)
    if v is None or v.dtype.kind != "f" or v.ndim > rank:
        return None
    if v.size == 1:
        return np.full(channels, float(v.reshape(-1)[0]), np.float32)
    shape = (1,) * (rank - v.ndim) + v.shape
    if shape[axis] != channels or any(d != 1 for i, d in enumerate(shape) if i != axis):
        return None
    return v.reshape(-1).astype(np.float32)
