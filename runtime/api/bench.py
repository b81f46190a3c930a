"""`nanort bench`: latency of a .nrt model (and of its source model under
onnxruntime or TensorFlow Lite with --vs) over interleaved runs in one
process, the precision each side runs and how far their outputs agree, plus
peak RSS and load time of each, measured in separate fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nanort
from nanort import peers
from nanort.runtime.benchmark import Timing, block_for, interleaved


@dataclass
class BenchResult:
    name: str
    timing: Timing
    precision: str = ""
    agreement: str = ""   # with nanort's outputs on the same inputs (the peer's row)
    peak_rss_mb: float | None = None
    load_ms: float | None = None


def make_inputs(model: nanort.Model, shapes: dict[str, list[int]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for t in model.inputs:
        shape = shapes.get(t.name) or list(t.shape)
        if any(d is None for d in shape):
            raise nanort.InvalidArgumentError(
                f"input {t.name!r} has dynamic dims {list(t.shape)}; give its shape with --input-shape")
        if t.dtype.kind == "f":
            feeds[t.name] = rng.uniform(0, 1, shape).astype(t.dtype)
        elif t.dtype == np.bool_:
            feeds[t.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[t.name] = rng.integers(0, 8, shape).astype(t.dtype)
    return feeds


_MEASURE = r"""
import json, sys, time
import numpy as np
kind, path, threads, runs, feeds_path, isa = sys.argv[1:7]
threads, runs = int(threads), int(runs)
feeds = dict(np.load(feeds_path))
if kind == "nanort":
    import nanort
    t0 = time.perf_counter()
    m = nanort.Model(path, threads=threads, isa=isa)
    run = lambda: m.run(feeds)
elif kind == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    t0 = time.perf_counter()
    it = Interpreter(model_path=path, num_threads=threads); it.allocate_tensors()
    def run():
        for d in it.get_input_details():
            it.set_tensor(d["index"], feeds[d["name"]])
        it.invoke()
else:
    import onnxruntime as ort
    t0 = time.perf_counter()
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    run = lambda: s.run(None, feeds)
run()
load_ms = (time.perf_counter() - t0) * 1e3
for _ in range(runs):
    run()
# VmHWM, not getrusage: ru_maxrss carries the parent's peak across exec on Linux
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss_mb": hwm / 1024, "load_ms": load_ms}))
"""


def measure_process(kind: str, path: str, threads: int, feeds_path: Path, isa: str, runs: int = 5) -> dict:
    """Peak RSS (whole process, Python included) and load-to-first-result time in a fresh process."""
    r = subprocess.run([sys.executable, "-c", _MEASURE, kind, path, str(threads), str(runs), str(feeds_path), isa],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise nanort.Error(f"measuring {kind} in a subprocess failed: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_bench(model_path: str, vs: str | None, threads: int, runs: int, warmup: int, isa: str,
              shapes: dict[str, list[int]], memory: bool, tmpdir: Path) -> list[BenchResult]:
    model = nanort.Model(model_path, threads=threads, isa=isa)
    feeds = make_inputs(model, shapes)
    candidates = {"nanort": lambda: model.run(feeds)}
    results = {"nanort": BenchResult("nanort", Timing(0, 0, 0, 0), peers.nanort_precision(model_path))}
    if vs:
        name, make_runner, precision = peers.peer_for(vs)
        peer_run = make_runner(vs, threads, feeds)
        candidates[name] = peer_run
        results[name] = BenchResult(name, Timing(0, 0, 0, 0), precision(vs),
                                    peers.agreement(peer_run(), model.run(feeds)))
    for name, timing in interleaved(candidates, runs=runs, warmup=warmup, block=block_for(threads)).items():
        results[name].timing = timing
    if memory:
        feeds_path = tmpdir / "feeds.npz"
        np.savez(feeds_path, **feeds)
        for r in results.values():
            kind, path = ("nanort", model_path) if r.name == "nanort" else \
                ("tflite" if r.name.startswith("tflite") else "onnxruntime", vs)
            info = measure_process(kind, str(path), threads, feeds_path, isa)
            r.peak_rss_mb, r.load_ms = info["peak_rss_mb"], info["load_ms"]
    model.close()
    return list(results.values())


def load_time_ms(model_path: str, threads: int) -> float:
    t0 = time.perf_counter()
    with nanort.Model(model_path, threads=threads):
        pass
    return (time.perf_counter() - t0) * 1e3


def profile(model_path: str, threads: int, isa: str, shapes: dict[str, list[int]], runs: int
            ) -> tuple[list[dict], list[tuple[str, int, float]]]:
    """Per-node and per-op-type time (ms per run), slowest first."""
    with nanort.Model(model_path, threads=threads, isa=isa) as model:
        feeds = make_inputs(model, shapes)
        model.run(feeds)
        model.set_profiling(True)
        for _ in range(runs):
            model.run(feeds)
        nodes = [dict(p, ms=p["ms"] / runs) for p in model.profile() if p["calls"]]
    by_type: dict[str, tuple[int, float]] = {}
    for p in nodes:
        count, ms = by_type.get(p["op"], (0, 0.0))
        by_type[p["op"]] = (count + 1, ms + p["ms"])
    types = sorted(((op, c, ms) for op, (c, ms) in by_type.items()), key=lambda r: -r[2])
    return sorted(nodes, key=lambda p: -p["ms"]), types
