"""Structure-aware mutations of valid .nrt files: each rewires one operator
input to another tensor or to -1 (omitted), swaps an output, changes one
tensor's element type or rank, or perturbs one option field — the faults a
byte-level fuzzer reaches only rarely. Every mutant must load and run or fail
with a nanort.Error; the fuzz test also replays them under ASan/UBSan as part
of the seed corpus.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from nrt_edit import Editable

DTYPES = [0, 1, 3, 6, 7, 8]  # float32, float16, int8, int32, int64, bool


def _option_mutants(opts) -> Iterator[tuple[str, object]]:
    for field, value in vars(opts).items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, bool):
            yield field, not value
        elif isinstance(value, int):
            for v in (0, -1, value + 1, 2**31 - 1):
                yield field, v
        elif isinstance(value, float):
            for v in (0.0, -1.0, float("nan"), float("inf")):
                yield field, v
        elif isinstance(value, list) and value and isinstance(value[0], int):
            yield field, [0] * len(value)
            yield field, [-1] * len(value)
            yield field, value + [value[-1]]
            yield field, value[:-1]
            yield field, [2**31 - 1] * len(value)


def _len(v) -> int:
    return 0 if v is None else len(v)


def mutant_edits(data: bytes, rng: random.Random, per_kind: int = 3) -> list[tuple[str, Callable]]:
    """(description, edit) pairs; apply_edit makes the mutated file."""
    base = Editable(data)
    n_tensors = len(base.graph.tensors)
    n_ops = len(base.graph.operators)
    out = []
    for i in range(n_ops):
        op = base.graph.operators[i]
        for k in range(_len(op.inputs)):
            for t in [-1] + rng.sample(range(n_tensors), min(per_kind, n_tensors)):
                out.append((f"op {i} input {k} -> {t}",
                            lambda e, i=i, k=k, t=t: e.graph.operators[i].inputs.__setitem__(k, t)))
        for k in range(_len(op.outputs)):
            t = rng.randrange(n_tensors)
            out.append((f"op {i} output {k} -> {t}",
                        lambda e, i=i, k=k, t=t: e.graph.operators[i].outputs.__setitem__(k, t)))
        if op.options is not None:
            for field, value in _option_mutants(op.options):
                out.append((f"op {i} option {field} = {value}",
                            lambda e, i=i, f=field, v=value: setattr(e.graph.operators[i].options, f, v)))
    for j in range(n_tensors):
        t = base.graph.tensors[j]
        if t.buffer:
            continue
        for dt in rng.sample(DTYPES, 2):
            out.append((f"tensor {j} type {dt}", lambda e, j=j, dt=dt: setattr(e.graph.tensors[j], "type", dt)))
        shape = [] if t.shape is None else [int(d) for d in t.shape]
        for s in ([], shape + [1], shape[:-1], [0] * len(shape), [-1] * len(shape)):
            out.append((f"tensor {j} shape {s}", lambda e, j=j, s=s: setattr(e.graph.tensors[j], "shape", s)))
    return out


def apply_edit(data: bytes, edit: Callable) -> bytes | None:
    """The file with one edit applied; None when the object API cannot pack it."""
    e = Editable(data)
    edit(e)
    try:
        return e.to_bytes()
    except Exception:  # noqa: BLE001 - an edit the object API cannot pack: skip
        return None


def mutants(data: bytes, rng: random.Random, per_kind: int = 3) -> Iterator[tuple[str, bytes]]:
    """(description, mutated file) pairs."""
    for desc, edit in mutant_edits(data, rng, per_kind):
        m = apply_edit(data, edit)
        if m is not None:
            yield desc, m


FUZZ_TAIL = bytes([1, 2, 3, 0, 1, 1, 1, 1]) + bytes([0, 0, 0x80, 0x3F, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])


def fuzz_input(model: bytes, tail: bytes = FUZZ_TAIL) -> bytes:
    """A model file in tests/c/fuzz_model.c's input format (model, tail, tail length)."""
    return model + tail + bytes([len(tail)])


def run_mutants(paths: list[Path], seed: int = 0) -> int:
    """Loads and runs every mutant (printing each description first, so a
    crash shows which one); returns the count. Anything but nanort.Error
    raised is a failure."""
    import nanort

    rng = random.Random(seed)
    count = 0
    for path in paths:
        for desc, data in mutants(path.read_bytes(), rng):
            print(f"{path.name}: {desc}", flush=True)
            count += 1
            try:
                with nanort.Model(data) as m:
                    feeds = {}
                    for info in m.inputs:
                        shape = [2 if d is None else d for d in info.shape]
                        feeds[info.name] = np.ones(shape, info.dtype) if info.dtype != np.bool_ else \
                            np.ones(shape, bool)
                    m.run(feeds)
            except nanort.Error:
                pass
    return count


if __name__ == "__main__":
    n = run_mutants([Path(p) for p in sys.argv[1:]])
    print(f"DONE {n} mutants")
