"""Graph passes run after import, in order. Each pass keeps the graph valid
(nodes in execution order, every tensor defined) and the model's numbers
the same up to float rounding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ir import Graph
from . import cleanup, conv_taps, dynamic_conv, dynamic_int8, dynamic_lstm, fold, fuse, layout, pad_into_conv, qdq


@dataclass
class PassOptions:
    nhwc_io: bool = False
    optimize: bool = True
    # int8 keeps nonlinear activations as their own ops (they become lookup
    # tables with their own output ranges); only clamps fuse into producers.
    fuse_only_clamps: bool = False


def run_passes(graph: Graph, options: PassOptions, progress: Callable[[str], None] | None = None) -> None:
    steps: list[tuple[str, Callable[[Graph], None]]] = [("cleanup", cleanup.run), ("fold QDQ", qdq.fold_qdq)]
    if options.optimize:
        steps += [
            ("neutral arithmetic", fold.drop_neutral_arithmetic),
            ("cleanup", cleanup.run),
            ("fold batchnorm / scale-shift", fold.fold_linear_steps),
            ("fuse patterns", fuse.fuse_patterns),
            ("x + x * s -> x * (s + 1)", fuse.fold_residual_scale),
            ("matmul -> fully connected", fuse.matmul_to_fully_connected),
            ("fold scale-shift", fold.fold_linear_steps),
            ("zero Pad -> the Conv's padding", pad_into_conv.fold_pads_into_convs),
            ("conv taps that read only padding", conv_taps.trim_padding_taps),
            ("fuse activations", lambda g: fuse.fuse_activations(g, only_clamps=options.fuse_only_clamps)),
            ("dynamic int8 matmul -> fully connected", dynamic_int8.fold_dynamic_matmul),
            ("dynamic fully connected of one input -> one", dynamic_int8.merge_shared_input),
            ("integer casts around MatMulInteger / ConvInteger", dynamic_int8.drop_integer_casts),
            ("cleanup", cleanup.run),
            ("dynamic int8 conv", dynamic_conv.fold_dynamic_conv),
        ]
    steps += [
        ("dynamic int8 lstm", dynamic_lstm.int8_lstm_weights),
        ("layout", lambda g: layout.run(g, nhwc_io=options.nhwc_io)),
        ("cleanup", cleanup.run),
    ]
    for name, fn in steps:
        if progress:
            progress(f"pass: {name}")
        fn(graph)
