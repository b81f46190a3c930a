"""libFuzzer on load -> resize -> prepare -> invoke (tests/c/fuzz_model.c),
built with clang, ASan + UBSan (+ LSan), for a bounded time.

The corpus starts from converted models over most op types (fp32, int8,
dynamic int8), structure-aware mutants of them (tests/graph_mutations.py)
and every earlier crash (tests/regressions/); PP-OCR's classifier (a real
model) is replayed through the same target. The
fuzzer runs at the best kernel level of this CPU for two thirds of the time
and with NANORT_ISA=ref for the rest. Any crash, sanitizer report, leak or
input slower than the per-input timeout fails the test; the reproducer is
kept and named in the failure (fix it, then add it to tests/regressions/).

NANORT_FUZZ_SECONDS sets the total fuzzing time (default 150).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

from graph_mutations import apply_edit, fuzz_input, mutant_edits
from native_build import SANITIZER_ENV, c_test_path

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
FUZZ_SECONDS = int(os.environ.get("NANORT_FUZZ_SECONDS", "150"))
MUTANTS_IN_CORPUS = 300
PER_INPUT_TIMEOUT_S = 25

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
