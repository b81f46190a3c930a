"""Structure-aware fuzzing of .nrt files.

A byte-level fuzzer rarely turns a valid file into another valid file whose
*values* are hostile, which is where the runtime's harder defects live
(division by a shape computed at prepare, memory multiplied by shared
references, a scale of NaN). This one parses a valid file into the schema's
object API, applies one to three mutations of what the file means, and
writes it back:

- option fields and shapes set to extremes (0, -1, INT32_MIN/MAX, NaN, huge),
- element types changed (int4 included), constant values set to extremes
  (INT64_MIN, -1, 0, NaN, -scale), quantization scales broken,
- graph wiring changed (an input read from elsewhere, a node writing a graph
  input or another node's output, graph inputs and outputs swapped),
- operator counts changed (one operator repeated thousands of times, chains
  of copies, operators dropped),
- references shared: the writer (pack_shared) stores an object used several
  times once and points every use at it, as FlatBuffers allows, and stores
  equal vectors once.

`mutants(seed_files, rng)` yields (description, bytes); tests/test_fuzz.py
runs them through the sanitized libFuzzer target with per-input time and
memory bounds, and through the Python binding in a memory-bounded process.
`python tests/structure_fuzz.py OUT_DIR SEED.nrt ...` writes mutants for a
long local run.
"""

from __future__ import annotations

import copy
import random
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import flatbuffers
import numpy as np
from nrt_edit import Editable

from nanort.runtime.nrt_file import DTYPE_BITS
from nanort.schema import Operator as FbOperator
from nanort.schema.Graph import GraphT
from nanort.schema.QuantParams import QuantParamsT

INT_EXTREMES = [0, -1, 1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 65536, 3]
INT32_EXTREMES = [0, -1, 1, 2**31 - 1, -(2**31), 65536, 3]
FLOAT_EXTREMES = [0.0, -0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e38, 1e-45]
DIM_EXTREMES = [0, 1, -1, 2**31 - 1, 2**40, 3, 4096]
DTYPE_CODES = sorted(DTYPE_BITS)


# ---------------------------------------------------------------- writing --
def _int32_vector(b: flatbuffers.Builder, values: list[int], memo: dict) -> int:
    key = ("i32", tuple(values))
    if key not in memo:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(v)
        memo[key] = b.EndVector()
    return memo[key]


def _ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def _string(b: flatbuffers.Builder, s: str | bytes, memo: dict) -> int:
    key = ("str", s)
    if key not in memo:
        memo[key] = b.CreateString(s)
    return memo[key]


def _pack_operator(b: flatbuffers.Builder, op, memo: dict) -> int:
    if id(op) in memo:
        return memo[id(op)]
    name = _string(b, op.name, memo) if op.name is not None else None
    ins = _int32_vector(b, _ints(op.inputs), memo)
    outs = _int32_vector(b, _ints(op.outputs), memo)
    opts = None
    if op.options is not None:
        if ("opt", id(op.options)) not in memo:
            memo[("opt", id(op.options))] = op.options.Pack(b)
        opts = memo[("opt", id(op.options))]
    FbOperator.Start(b)
    FbOperator.AddOp(b, op.op)
    if name is not None:
        FbOperator.AddName(b, name)
    FbOperator.AddInputs(b, ins)
    FbOperator.AddOutputs(b, outs)
    FbOperator.AddOptionsType(b, op.optionsType)
    if opts is not None:
        FbOperator.AddOptions(b, opts)
    memo[id(op)] = FbOperator.End(b)
    return memo[id(op)]


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


class SharedGraphT(GraphT):
    """A graph written with every tensor or operator object that occurs
    several times stored once, and equal index vectors stored once."""

    def Pack(self, builder):  # noqa: N802 - the object API's name
        memo: dict = {}
        tensors = []
        for t in self.tensors if self.tensors is not None else []:
            if ("t", id(t)) not in memo:
                memo[("t", id(t))] = t.Pack(builder)
            tensors.append(memo[("t", id(t))])
        ops = [_pack_operator(builder, op, memo) for op in (self.operators if self.operators is not None else [])]
        tensors_vec = _offset_vector(builder, tensors)
        ops_vec = _offset_vector(builder, ops)
        ins = _int32_vector(builder, _ints(self.inputs), memo)
        outs = _int32_vector(builder, _ints(self.outputs), memo)
        name = _string(builder, self.name, memo) if self.name is not None else None
        from nanort.schema import Graph as FbGraph

        FbGraph.Start(builder)
        if name is not None:
            FbGraph.AddName(builder, name)
        FbGraph.AddTensors(builder, tensors_vec)
        FbGraph.AddOperators(builder, ops_vec)
        FbGraph.AddInputs(builder, ins)
        FbGraph.AddOutputs(builder, outs)
        return FbGraph.End(builder)


def pack_shared(e: Editable) -> bytes:
    """The file of an edited model, written with shared references (SharedGraphT)."""
    e.graph.__class__ = SharedGraphT
    return e.to_bytes()


# --------------------------------------------------------------- mutating --
def _option_fields(opts) -> list[tuple[str, object]]:
    return [(k, v) for k, v in vars(opts).items() if v is not None]


def mutate_option(e: Editable, rng: random.Random) -> str | None:
    ops = [op for op in e.graph.operators if op.options is not None and _option_fields(op.options)]
    if not ops:
        return None
    op = rng.choice(ops)
    field, value = rng.choice(_option_fields(op.options))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bool):
        new: object = not value
    elif isinstance(value, int):
        new = rng.choice(INT32_EXTREMES + [value + 1, value - 1])
    elif isinstance(value, float):
        new = rng.choice(FLOAT_EXTREMES)
    elif isinstance(value, list) and value and isinstance(value[0], int):
        new = rng.choice([[rng.choice(INT32_EXTREMES) for _ in value], value + [rng.choice(INT32_EXTREMES)],
                          value[:-1], [0] * len(value), [-1] * len(value)])
    elif isinstance(value, list) and value and isinstance(value[0], float):
        new = [rng.choice(FLOAT_EXTREMES) for _ in value]
    else:
        return None
    setattr(op.options, field, new)
    return f"{field} = {new}"


def mutate_shape(e: Editable, rng: random.Random) -> str | None:
    j = rng.randrange(len(e.graph.tensors))
    t = e.graph.tensors[j]
    if t.buffer:  # a constant's shape must match its bytes: change it with the data (mutate_constant)
        return None
    shape = [] if t.shape is None else [int(d) for d in t.shape]
    if shape and rng.random() < 0.7:
        shape[rng.randrange(len(shape))] = rng.choice(DIM_EXTREMES)
    else:
        shape = rng.choice([[], shape + [rng.choice(DIM_EXTREMES)], shape[:-1]])
    t.shape = shape
    return f"tensor {j} shape {shape}"


def mutate_dtype(e: Editable, rng: random.Random) -> str | None:
    j = rng.randrange(len(e.graph.tensors))
    t = e.graph.tensors[j]
    dt = rng.choice(DTYPE_CODES)
    if t.buffer:  # keep the byte count: the new type's element count follows from the bytes
        nbytes = len(e.blobs[t.buffer])
        bits = DTYPE_BITS[dt]
        if nbytes * 8 % bits:
            return None
        t.shape = [nbytes * 8 // bits]
    t.type = dt
    return f"tensor {j} type {dt}"


def _extreme_array(dtype: np.dtype, n: int, rng: random.Random) -> np.ndarray:
    if dtype.kind == "f":
        pool = FLOAT_EXTREMES + [1.0, 0.5]
    else:
        info = np.iinfo(dtype) if dtype.kind in "iu" else None
        pool = [v for v in INT_EXTREMES if info is None or info.min <= v <= info.max] or [0]
    with np.errstate(over="ignore"):  # (1e38 is inf in float16: fine)
        return np.array([rng.choice(pool) for _ in range(n)], dtype=dtype)


NUMPY_OF = {0: np.float32, 1: np.float16, 2: np.float64, 3: np.int8, 4: np.uint8, 5: np.int16, 6: np.int32,
            7: np.int64, 8: np.uint8}


def mutate_constant(e: Editable, rng: random.Random) -> str | None:
    consts = [t for t in e.graph.tensors if t.buffer and t.type in NUMPY_OF]
    if not consts:
        return None
    t = rng.choice(consts)
    dtype = np.dtype(NUMPY_OF[t.type])
    n = len(e.blobs[t.buffer]) // dtype.itemsize
    if n == 0 or n > 4096:  # (big weights: extremes in a few places)
        arr = np.frombuffer(e.blobs[t.buffer], dtype).copy()
        for _ in range(min(8, arr.size)):
            arr[rng.randrange(arr.size)] = _extreme_array(dtype, 1, rng)[0]
    else:
        arr = _extreme_array(dtype, n, rng)
    e.blobs[t.buffer] = arr.tobytes()
    return f"constant {t.name!r} = extremes"


def mutate_quant(e: Editable, rng: random.Random) -> str | None:
    t = rng.choice(e.graph.tensors)
    count = rng.choice([1, 1, 2, 3])
    t.quant = QuantParamsT()
    t.quant.scale = [rng.choice(FLOAT_EXTREMES + [0.05]) for _ in range(count)]
    t.quant.zeroPoint = [rng.choice([0, -128, 127, 255, -(2**40)]) for _ in range(count)]
    t.quant.axis = rng.choice([-1, 0, 1, 3])
    return f"quant of {t.name!r}: {t.quant.scale}"


def rewire(e: Editable, rng: random.Random) -> str | None:
    ops = e.graph.operators
    n = len(e.graph.tensors)
    op = rng.choice(ops)
    kind = rng.randrange(5)
    if kind == 0 and op.inputs is not None and len(op.inputs):
        k = rng.randrange(len(op.inputs))
        op.inputs[k] = rng.choice([-1, rng.randrange(n)])
        return f"{op.name}: input {k} -> {op.inputs[k]}"
    if kind == 1 and op.outputs is not None and len(op.outputs):
        k = rng.randrange(len(op.outputs))
        op.outputs[k] = rng.randrange(n)
        return f"{op.name}: output {k} -> {op.outputs[k]}"
    if kind == 2 and e.graph.inputs is not None and len(e.graph.inputs) and op.outputs is not None:
        op.outputs[0] = int(e.graph.inputs[0])  # a node writing a graph input
        return f"{op.name} writes graph input"
    if kind == 3:
        e.graph.inputs, e.graph.outputs = e.graph.outputs, e.graph.inputs
        return "graph inputs <-> outputs"
    other = rng.choice(ops)
    if other is not op and op.outputs is not None and other.outputs is not None and len(other.outputs):
        op.outputs[0] = int(other.outputs[0])  # two producers of one tensor
        return f"{op.name} and {other.name} write one tensor"
    return None


def repeat_operator(e: Editable, rng: random.Random) -> str | None:
    """One operator object listed many times: written once, referenced by every entry."""
    ops = e.graph.operators
    op = rng.choice(ops)
    times = rng.choice([2, 64, 4096, 30000])
    at = ops.index(op)
    e.graph.operators = ops[:at] + [op] * times + ops[at + 1:]
    return f"{op.name} x{times} (shared)"


def repeat_tensor(e: Editable, rng: random.Random) -> str | None:
    """Tensor entries that all share one table."""
    t = rng.choice(e.graph.tensors)
    times = rng.choice([16, 4096, 60000])
    e.graph.tensors = e.graph.tensors + [t] * times
    return f"tensor {t.name!r} x{times} (shared)"


def chain_copies(e: Editable, rng: random.Random) -> str | None:
    """An operator whose output type and shape equal its input's, copied into a long chain."""
    ops = e.graph.operators
    op = rng.choice(ops)
    if op.inputs is None or not len(op.inputs) or op.outputs is None or len(op.outputs) != 1:
        return None
    length = rng.choice([10, 300, 2000])
    src, dst = int(op.inputs[0]), int(op.outputs[0])
    if src < 0:
        return None
    proto = e.graph.tensors[dst]
    at = ops.index(op)
    chain, prev = [], src
    for i in range(length):
        t = copy.copy(proto)
        t.name = f"chain{i}"
        e.graph.tensors.append(t)
        c = copy.copy(op)
        c.inputs = [prev] + list(op.inputs[1:])
        c.outputs = [len(e.graph.tensors) - 1]
        chain.append(c)
        prev = c.outputs[0]
    last = chain[-1]
    last.outputs = [dst]
    e.graph.operators = ops[:at] + chain + ops[at + 1:]
    return f"{op.name} as a chain of {length}"


def drop_operator(e: Editable, rng: random.Random) -> str | None:
    if len(e.graph.operators) < 2:
        return None
    i = rng.randrange(len(e.graph.operators))
    del e.graph.operators[i]
    return f"operator {i} dropped"


MUTATORS: list[tuple[Callable[[Editable, random.Random], str | None], int]] = [
    (mutate_option, 6), (mutate_shape, 4), (mutate_dtype, 3), (mutate_constant, 6), (mutate_quant, 2),
    (rewire, 4), (repeat_operator, 1), (repeat_tensor, 1), (chain_copies, 1), (drop_operator, 1),
]


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes] | None:
    """One to three mutations of a valid file; None when the result cannot be written."""
    e = Editable(data)
    if not e.graph.operators or not e.graph.tensors:
        return None
    done = []
    funcs, weights = zip(*MUTATORS)
    for _ in range(rng.choice([1, 1, 2, 3])):
        what = rng.choices(funcs, weights)[0](e, rng)
        if what:
            done.append(what)
    if not done:
        return None
    try:
        return "; ".join(done), pack_shared(e)
    except (struct.error, OverflowError, TypeError, ValueError, AttributeError):
        return None  # a value the writer cannot store (beyond the field's type): not a file


def mutants(seeds: list[bytes], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Endless (description, mutated file) pairs from the seed files."""
    while True:
        m = mutate(rng.choice(seeds), rng)
        if m is not None:
            yield m


if __name__ == "__main__":
    from graph_mutations import fuzz_input

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    seeds = [Path(p).read_bytes() for p in sys.argv[2:]]
    gen = mutants(seeds, random.Random(0))
    with open(out / "mutants.txt", "w") as index:
        for i in range(1000):
            desc, data = next(gen)
            (out / f"mutant{i:05d}").write_bytes(fuzz_input(data))  # (the fuzz target's input format)
            index.write(f"mutant{i:05d}: {desc}\n")
    print(f"wrote 1000 mutants to {out} (what each is: mutants.txt)")
