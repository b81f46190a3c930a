"""Graph passes run after import, in order. Each pass keeps the graph valid
(nodes in execution order, every tensor defined) and the model's numbers
the same up to float rounding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ir import Graph
from . import cleanup, layout


@dataclass
class PassOptions:
    nhwc_io: bool = False


def run_passes(graph: Graph, options: PassOptions, progress: Callable[[str], None] | None = None) -> None:
    steps: list[tuple[str, Callable[[Graph], None]]] = [
        ("cleanup", cleanup.run),
        ("layout", lambda g: layout.run(g, nhwc_io=options.nhwc_io)),
        ("cleanup", cleanup.run),
    ]
    for name, fn in steps:
        if progress:
            progress(f"pass: {name}")
        fn(graph)
