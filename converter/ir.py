"""The converter's graph IR: tensors, nodes in execution order, and the
bookkeeping passes need (producers, consumers, fresh names).

Nodes carry nanort op types (the schema's OpType names) and attributes named
like the fields of that op's options table (snake_case), so serialization is
a direct mapping. Tensor shapes are tuples whose entries are ints (static) or
strings (named dynamic dims) or None (unknown); `shape is None` = unknown rank.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Dim = int | str | None
Shape = tuple[Dim, ...]


@dataclass
class QuantParams:
    """real = scale * (q - zero_point); per tensor (axis None) or per channel."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None
    # Group-wise weights (--weights int4): block_size > 0 gives `scale` one entry per
    # channel of `axis` and group of block_size along axis 1, row-major; bits 4 stores
    # the values (-8..7, held as int8 here) as int4, two per byte, scales as fp16.
    block_size: int = 0
    bits: int = 8

    def __post_init__(self) -> None:
        self.scale = np.atleast_1d(np.asarray(self.scale, np.float32))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, np.int64))


@dataclass
class Tensor:
    name: str
    dtype: np.dtype
    shape: Shape | None
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    # perm[j] = logical (source-model) axis held by physical axis j; None = identity.
    perm: tuple[int, ...] | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def static_shape(self) -> tuple[int, ...] | None:
        if self.shape is None or not all(isinstance(d, int) for d in self.shape):
            return None
        return tuple(int(d) for d in self.shape)  # type: ignore[arg-type]


@dataclass
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def input(self, i: int) -> str:
        """Input name, or "" when omitted."""
        return self.inputs[i] if i < len(self.inputs) else ""


class Graph:
    def __init__(self) -> None:
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.metadata: dict[str, str] = {}
        self.opsets: dict[str, int] = {}  # the source model's opset imports (subgraphs convert with them)
        # The file's signature: its key, and the name callers use for each I/O tensor where
        # the source model gives one other than the tensor's (a TFLite SignatureDef's).
        self.signature_key = "serving_default"
        self.signature_names: dict[str, str] = {}
        self._counter = itertools.count()
        # Names fresh_name made up (not from the source model): the file
        # leaves them out for constants, whose made-up names mean nothing to a user.
        self.made_up: set[str] = set()

    # -- tensors ----------------------------------------------------------
    def add_tensor(self, name: str, dtype: Any, shape: Shape | None, data: np.ndarray | None = None) -> Tensor:
        t = Tensor(name, np.dtype(dtype), None if shape is None else tuple(shape), data)
        self.tensors[name] = t
        return t

    def fresh_name(self, hint: str) -> str:
        while True:
            name = f"{hint}__{next(self._counter)}"
            if name not in self.tensors:
                self.made_up.add(name)
                return name

    def add_const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        arr = np.require(np.asarray(value, dtype=dtype), requirements="C")
        name = self.fresh_name(hint)
        self.add_tensor(name, arr.dtype, arr.shape, arr)
        return name

    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name) if name else None
        return None if t is None else t.data

    # -- nodes ------------------------------------------------------------
    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def replace_input(self, old: str, new: str, nodes: Iterable[Node] | None = None) -> None:
        """Makes every reader of `old` (and the graph outputs) read `new`."""
        for n in self.nodes if nodes is None else nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def iter_nodes(self, op: str | None = None) -> Iterator[Node]:
        return (n for n in list(self.nodes) if op is None or n.op == op)

    def remove_unused(self) -> None:
        """Drops nodes whose outputs nobody reads and tensors nobody references."""
        live = set(self.outputs)
        kept: list[Node] = []
        for n in reversed(self.nodes):
            if any(o in live for o in n.outputs):
                kept.append(n)
                live.update(i for i in n.inputs if i)
        self.nodes = kept[::-1]
        used = live | set(self.inputs) | {o for n in self.nodes for o in n.outputs}
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for n in self.nodes:
            hist[n.op] = hist.get(n.op, 0) + 1
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))
