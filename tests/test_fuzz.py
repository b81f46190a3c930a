"""Two fuzzers on load -> resize -> prepare -> invoke, side by side:

- libFuzzer (byte mutations) on tests/c/fuzz_model.c, built with clang,
  ASan + UBSan (+ LSan), for a bounded time;
- the structure-aware fuzzer (tests/structure_fuzz.py): mutants of what a
  file means (options, shapes, types, constant values, wiring, operator
  counts, shared references), through the same sanitized target and through
  the Python binding in a memory-bounded child process.

Both bound every input: libFuzzer's -timeout, -rss_limit_mb and
-malloc_limit_mb (an input needing more time or memory is a finding, as a
crash is), and for the Python child an address-space limit and a timeout.

The corpus starts from converted models over most op types (fp32, int8,
dynamic int8), structure-aware mutants of them (tests/graph_mutations.py)
and every earlier crash (tests/regressions/); PP-OCR's classifier (a real
model) is replayed through the same target. The
fuzzer runs at the best kernel level of this CPU for two thirds of the time
and with NANORT_ISA=ref for the rest. Any crash, sanitizer report, leak or
input slower than the per-input timeout fails the test; the reproducer is
kept and named in the failure (fix it, then add it to tests/regressions/).

NANORT_FUZZ_SECONDS sets the libFuzzer time (default 150),
NANORT_STRUCTURE_FUZZ_SECONDS the structure-aware fuzzer's (default 90).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graph_mutations import apply_edit, fuzz_input, mutant_edits
from native_build import SANITIZER_ENV, c_test_path
from structure_fuzz import mutants

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
FUZZ_SECONDS = int(os.environ.get("NANORT_FUZZ_SECONDS", "150"))
MUTANTS_IN_CORPUS = 300
PER_INPUT_TIMEOUT_S = 25
STRUCTURE_FUZZ_SECONDS = int(os.environ.get("NANORT_STRUCTURE_FUZZ_SECONDS", "90"))
STRUCTURE_BATCH = 48
# Per-input bounds of the structure-aware fuzzer. The target's own limits
# (fuzz_model.c) are 8 MiB of activations and 64 MiB in all, so an input
# that gets near these escaped the runtime's accounting.
STRUCTURE_TIMEOUT_S = 10
STRUCTURE_RSS_MB = 1024
STRUCTURE_MALLOC_MB = 256
PYTHON_CHILD_ADDRESS_SPACE = 3 << 30

# Filled by the tests, printed at the end of the session (conftest.py).
FUZZ_STATS: list[str] = []


def _seed_corpus(folder: Path, models: list[Path]) -> int:
    """Writes each model bare and with a driving tail, a sample of graph mutants, and the regressions."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    edits = []
    for p in models:
        data = p.read_bytes()
        (folder / f"{p.stem}.bare").write_bytes(data)
        (folder / f"{p.stem}.tail").write_bytes(fuzz_input(data))
        edits += [(data, edit) for _, edit in mutant_edits(data, rng, per_kind=2)]
    for k, (data, edit) in enumerate(rng.sample(edits, min(MUTANTS_IN_CORPUS, len(edits)))):
        m = apply_edit(data, edit)
        if m is not None:
            (folder / f"mutant{k:04d}").write_bytes(fuzz_input(m))
    for r in REGRESSIONS.glob("*.nrtfuzz"):
        shutil.copy(r, folder / r.name)
    return len(list(folder.iterdir()))


def _fuzz(binary: Path, corpus: Path, seeds: Path, artifacts: Path, seconds: int, isa: str | None) -> dict:
    env = {**os.environ, **SANITIZER_ENV}
    env.pop("NANORT_ISA", None)
    if isa:
        env["NANORT_ISA"] = isa
    seed = random.randrange(1, 2**31)
    cmd = [str(binary), f"-max_total_time={seconds}", f"-timeout={PER_INPUT_TIMEOUT_S}", "-rss_limit_mb=3072",
           "-print_final_stats=1", f"-seed={seed}", f"-artifact_prefix={artifacts}/", str(corpus), str(seeds)]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 600)
    log = r.stdout + r.stderr
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    found = sorted(p.name for p in artifacts.iterdir()) if artifacts.exists() else []
    # slow-unit-*: over 10 s (a big convolution under ASan on a busy machine),
    # kept for a look but no failure; crash-, leak-, timeout-, oom-: failures
    crashes = [f for f in found if not f.startswith("slow-unit-")]
    return {"rc": r.returncode, "execs": int(execs[-1]) if execs else 0, "seed": seed, "log": log,
            "crashes": crashes, "slow": len(found) - len(crashes), "wall": time.monotonic() - t0,
            "isa": isa or "auto"}


def _replay(build: Path, files: list[Path]) -> None:
    """Runs the fuzz target once on each file (no mutation)."""
    for isa in ("auto", "ref"):
        env = {**os.environ, **SANITIZER_ENV, "NANORT_ISA": isa}
        # The fuzzing runs' 3 GB limit, not libFuzzer's default 2 GB: the limit is on resident memory, which
        # ASan's allocator keeps after frees; one replay of the classifier reached 2.1 GB with 25 MB live.
        r = subprocess.run([str(c_test_path(build, "fuzz_model")), "-rss_limit_mb=3072", *map(str, files)],
                           capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, f"NANORT_ISA={isa}\n" + (r.stdout + r.stderr)[-6000:]


def test_regressions_replay(sanitized_build):
    """Every input that once crashed runs clean (each file once, at the best and the reference kernel level)."""
    files = sorted(REGRESSIONS.glob("*.nrtfuzz"))
    assert files
    _replay(sanitized_build, files)


def test_real_models_replay(sanitized_build, real_models, tmp_path):
    """PP-OCR's classifier (fp32, int8) through the fuzz target, bare and with
    a driving tail. (Not in the mutating corpus: at 250-550 KB they would
    slow every execution tenfold, and their structure is the seeds'.)"""
    files = []
    for p in real_models:
        files += [p, tmp_path / f"{p.stem}.tail"]
        files[-1].write_bytes(fuzz_input(p.read_bytes()))
    _replay(sanitized_build, files)


def test_fuzz_load_prepare_invoke(sanitized_build, seed_models, tmp_path):
    binary = c_test_path(sanitized_build, "fuzz_model")
    seeds = tmp_path / "seeds"
    n_seeds = _seed_corpus(seeds, seed_models)
    runs = []
    for isa, share in ((None, 2 / 3), ("ref", 1 / 3)):
        artifacts = tmp_path / f"artifacts-{isa or 'auto'}"
        artifacts.mkdir()
        # each level grows its own corpus: libFuzzer replays every corpus input before -max_total_time
        # counts, and the best level's finds (big convolutions) at the reference level under ASan ran 10 min
        corpus = tmp_path / f"corpus-{isa or 'auto'}"
        corpus.mkdir()
        run = _fuzz(binary, corpus, seeds, artifacts, max(1, round(FUZZ_SECONDS * share)), isa)
        runs.append(run)
        if run["rc"] != 0 or run["crashes"]:
            kept = Path(os.environ.get("NANORT_FUZZ_ARTIFACTS", tmp_path)) / "fuzz-crashes"
            kept.mkdir(parents=True, exist_ok=True)
            for c in run["crashes"]:
                shutil.copy(artifacts / c, kept / c)
            raise AssertionError(f"fuzzer (NANORT_ISA={run['isa']}, -seed={run['seed']}) exited {run['rc']}; "
                                 f"reproducers in {kept}: {run['crashes']}\n{run['log'][-8000:]}")
    total = sum(r["execs"] for r in runs)
    corpus_size = sum(len(list(c.iterdir())) for c in tmp_path.glob("corpus-*"))
    FUZZ_STATS.append(f"libFuzzer fuzz_model: {n_seeds} seed inputs, {total} executions ("
                      + ", ".join(f"{r['execs']} at NANORT_ISA={r['isa']} in {r['wall']:.0f} s (seed {r['seed']})"
                                  for r in runs)
                      + f"); {corpus_size} new corpus inputs, {sum(r['slow'] for r in runs)} slow inputs (> 10 s), "
                      "no crash")
    print(FUZZ_STATS[-1])
    assert all(r["execs"] > 0 for r in runs)


# ------------------------------------------------ structure-aware fuzzing --
# (Compute is bounded as in fuzz_model.c: a run still going after 0.5 s is cancelled.)
PYTHON_CHILD = """
import resource, sys, threading
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import nanort
for path in sys.argv[1:]:
    print("RUN", path, flush=True)
    data = open(path, "rb").read()
    data = data[:len(data) - 1 - data[-1]]  # (the fuzz target's tail)
    try:
        with nanort.Model(data, max_arena_bytes=8 << 20, max_memory_bytes=64 << 20) as m:
            feeds = {{i.name: np.ones([2 if d is None else d for d in i.shape], i.dtype) for i in m.inputs}}
            watchdog = threading.Timer(0.5, m.cancel)
            watchdog.start()
            try:
                m.run(feeds)
            finally:
                watchdog.cancel()
    except nanort.Error:
        pass
print("DONE", flush=True)
"""


def _python_child(files: list[Path], timeout: float) -> tuple[str, str | None]:
    """Runs the files through the Python binding; (outcome, culprit)."""
    code = PYTHON_CHILD.format(limit=PYTHON_CHILD_ADDRESS_SPACE)
    try:
        r = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        runs = re.findall(r"^RUN (.*)$", out, re.M)
        return "timeout", runs[-1] if runs else None
    runs = re.findall(r"^RUN (.*)$", r.stdout, re.M)
    if r.returncode == 0 and "DONE" in r.stdout:
        return "ok", None
    return f"exit {r.returncode}: {r.stderr[-2000:]}", runs[-1] if runs else None


def _c_target(binary: Path, files: list[Path]) -> tuple[str, str | None]:
    """Runs the files once each through the sanitized target with the per-input bounds; (outcome, culprit)."""
    env = {**os.environ, **SANITIZER_ENV}
    env.pop("NANORT_ISA", None)
    cmd = [str(binary), f"-timeout={STRUCTURE_TIMEOUT_S}", f"-rss_limit_mb={STRUCTURE_RSS_MB}",
           f"-malloc_limit_mb={STRUCTURE_MALLOC_MB}", *map(str, files)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=STRUCTURE_TIMEOUT_S * len(files) + 120)
    log = r.stdout + r.stderr
    if r.returncode == 0:
        return "ok", None
    runs = re.findall(r"^Running: (.*)$", log, re.M)
    return log[-6000:], runs[-1] if runs else None


def test_structure_aware_fuzzing(sanitized_build, seed_models, tmp_path):
    """Mutants of the seed models' meaning (tests/structure_fuzz.py) through
    the sanitized C target and the Python binding, each within the per-input
    time and memory bounds, for NANORT_STRUCTURE_FUZZ_SECONDS. The next batch
    is written while the current one runs."""
    binary = c_test_path(sanitized_build, "fuzz_model")
    seed = random.randrange(1, 2**31)
    gen = mutants([p.read_bytes() for p in seed_models], random.Random(seed))
    descriptions: dict[str, str] = {}

    def write_batch(k: int) -> list[Path]:
        folder = tmp_path / f"batch{k:04d}"
        folder.mkdir()
        files = []
        for i in range(STRUCTURE_BATCH):
            desc, data = next(gen)
            files.append(folder / f"m{i:02d}")
            files[-1].write_bytes(fuzz_input(data))
            descriptions[str(files[-1])] = desc
        return files

    t0 = time.monotonic()
    batch, k, executed, python_runs = write_batch(0), 0, 0, 0
    while True:
        with ThreadPoolExecutor(3) as pool:
            c_run = pool.submit(_c_target, binary, batch)
            py_run = pool.submit(_python_child, batch, STRUCTURE_TIMEOUT_S * 4 + 60) if k % 2 == 0 else None
            last = time.monotonic() - t0 >= STRUCTURE_FUZZ_SECONDS
            following = None if last else pool.submit(write_batch, k + 1)
            for name, run in (("sanitized C target", c_run), ("Python binding", py_run)):
                if run is None:
                    continue
                outcome, culprit = run.result()
                if outcome != "ok":
                    kept = Path(os.environ.get("NANORT_FUZZ_ARTIFACTS", tmp_path)) / "structure-fuzz"
                    kept.mkdir(parents=True, exist_ok=True)
                    if culprit:
                        shutil.copy(culprit, kept / f"seed{seed}-{Path(culprit).parent.name}-{Path(culprit).name}")
                    what = re.findall(r"(?:runtime error|ERROR|SUMMARY): .*|^exit .*|^timeout$", outcome, re.M)
                    raise AssertionError(f"structure fuzzer (seed {seed}), {name}: {culprit} "
                                         f"({descriptions.get(culprit)}): {what[0] if what else outcome[-300:]}; "
                                         f"reproducer in {kept}\n{outcome}")
            executed += len(batch)
            python_runs += len(batch) if py_run is not None else 0
            if last:
                break
            batch, k = following.result(), k + 1
    FUZZ_STATS.append(f"structure-aware fuzzer: {executed} mutants through the sanitized target and {python_runs} "
                      f"through the Python binding in {time.monotonic() - t0:.0f} s (seed {seed}; per input "
                      f"<= {STRUCTURE_TIMEOUT_S} s, {STRUCTURE_RSS_MB} MB RSS, {STRUCTURE_MALLOC_MB} MB per "
                      "allocation), no crash, hang or blow-up")
    print(FUZZ_STATS[-1])
