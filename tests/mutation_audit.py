"""Mutation audit: deliberate one-line bugs that the tests must catch.

Each mutant below is a bug the suite once let through (issue 12's audit) or a
bug of a kind a refactoring easily makes; next to it, the tests that catch it
now. The script copies the working tree to a temporary folder, applies one
mutant at a time there (the checkout is never touched), runs its tests and
reports CAUGHT (the tests failed) or MISSED (they passed: a hole).

    python tests/mutation_audit.py            # every mutant
    python tests/mutation_audit.py --list     # names, files and kinds
    python tests/mutation_audit.py percentile-bin layout-inverse

Kinds: "py" runs pytest (the built extension is copied along, so the runtime
is the checkout's); "c" rebuilds the C kernel testers with CMake (incremental)
and runs them; "ext" rebuilds the Python extension in the copy first (minutes).
Not collected by pytest and not run in CI: a full run takes several minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    kind: str  # "py", "c" or "ext"
    tests: tuple[str, ...]  # pytest arguments ("py", "ext") or C tester targets ("c")
    why: str


MUTANTS = [
    # -- the six holes of issue 12, each with the test that closes it --------------------------------
    Mutant("gelu-tanh-refused", "converter/importers/unary.py",
           'if approx not in ("none", "tanh"):', 'if approx not in ("none",):', "py",
           ("tests/test_onnx_node.py", "-k", "gelu"),
           "an op that stops converting: the node tests pin their passing set (hole 1)"),
    Mutant("layout-inverse", "converter/passes/layout.py",
           "        inv = _inverse(p)\n", "        inv = p\n", "py",
           ("tests/test_passes.py", "-k", "transpose_of_an_nhwc"),
           "a Transpose after an NHWC op, with the permutation for its inverse (hole 2)"),
    Mutant("per-tensor-weight-scale", "converter/quantize/quantize.py",
           "            absmax = np.abs(w).max(axis=other)",
           "            absmax = np.full(w.shape[axis], np.abs(w).max())", "py",
           ("tests/test_quantize_e2e.py", "-k", "per_output_channel"),
           "per-channel weight scales computed per tensor (hole 3)"),
    Mutant("percentile-bin", "converter/quantize/observers.py",
           "lo = max(self.min, self.origin + lo_bin * self.width)",
           "lo = max(self.min, self.origin + (lo_bin - 1) * self.width)", "py",
           ("tests/test_observers.py", "-k", "percentile"),
           "the percentile observer one histogram bin off (hole 4)"),
    Mutant("dtype-itemsize", "runtime/model.py",
           "            if arr.dtype != info.dtype:", "            if arr.dtype.itemsize != info.dtype.itemsize:", "py",
           ("tests/test_api_misuse.py", "-k", "wrong_dtype"),
           "feeds checked by byte size: int32 passes for float32 (hole 5)"),
    Mutant("requant-round-away", "native/src/kernels/requant.h",
           "    return (int8_t)((int32_t)rintf(v) + zero_point);\n}\n\n/* The same for a float value",
           "    return (int8_t)((int32_t)roundf(v) + zero_point);\n}\n\n/* The same for a float value", "c",
           ("test_conv_kernels", "test_qs8_kernels"),
           "the reference requantization rounding halves away from zero (hole 6)"),
    # -- kernels --------------------------------------------------------------------------------------
    Mutant("avx2-gemm-k-tail", "native/src/kernels/x86/qs8-qc8w-gemm-4x8c4-minmax-fp32-avx2.c",
           "bcast4(nrt_qs8_load_partial(ap[r] + k, kc - k))", "bcast4(nrt_qs8_load_partial(ap[r] + k, kc - k - 1))",
           "c", ("test_qs8_kernels", "test_conv_kernels"),
           "a K remainder bug in a kernel that dispatch does not pick on an AVX-512 CPU"),
    Mutant("f32-gemm-avx2-sign", "native/src/kernels/x86/f32-gemm-6x16-avx2.c",
           "t->v[r][0] = _mm256_fmadd_ps(av, w0, t->v[r][0]);", "t->v[r][0] = _mm256_fmsub_ps(av, w0, t->v[r][0]);",
           "c", ("test_f32_kernels", "test_conv_kernels"),
           "a float32 GEMM kernel accumulating with the wrong sign"),
    # -- the verifier tests that used to accept any outcome --------------------------------------------
    Mutant("int8-input-unchecked", "native/src/ops/unary.c",
           "return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, \"input %s is quantized int8;",
           "if (0) return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, \"input %s is quantized int8;",
           "ext", ("tests/test_verifier.py", "-k", "quantized_activation_needs_supported_kernels"),
           "an op without int8 kernels accepting int8 input"),
]


def copy_tree(dst: Path) -> Path:
    """The checkout's files (tracked and untracked, not ignored) and the built extension, and
    an importable `nanort` package over them (pyproject's package-dir mapping, as symlinks)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    tree = dst / "tree"
    for f in [f for f in files if f] + [str(p.relative_to(ROOT)) for p in (ROOT / "runtime").glob("_nanort_c*")]:
        if (ROOT / f).is_file():
            (tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tree / f)
    pkg = dst / "pkg" / "nanort"
    pkg.mkdir(parents=True)
    for entry in (tree / "runtime" / "api").iterdir():
        (pkg / entry.name).symlink_to(entry)
    for name, folder in (("runtime", "runtime"), ("converter", "converter"), ("schema", "schemas/python")):
        (pkg / name).symlink_to(tree / folder)
    return tree


def run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 1800) -> tuple[bool, str]:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode == 0, (p.stdout + p.stderr)[-3000:]


class Broken(RuntimeError):
    """A mutant that does not compile: neither caught nor missed, the list needs fixing."""


class Audit:
    def __init__(self, work: Path, verbose: bool):
        self.tree = copy_tree(work)
        self.work, self.verbose = work, verbose
        self.env = dict(os.environ, PYTHONPATH=str(work / "pkg"), PYTHONDONTWRITEBYTECODE="1")
        self.cmake_ready = False

    def tests_pass(self, m: Mutant) -> tuple[bool, str]:
        if m.kind == "c":
            build = self.work / "build"
            if not self.cmake_ready:
                ok, log = run(["cmake", "-S", str(self.tree / "native"), "-B", str(build), "-DNANORT_BUILD_TESTS=ON",
                               "-DCMAKE_BUILD_TYPE=Release"], self.tree)
                if not ok:
                    raise RuntimeError(log)
                self.cmake_ready = True
            ok, log = run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2), "--target", *m.tests],
                          self.tree)
            if not ok:
                raise Broken(f"{m.name}: the build failed:\n{log}")
            for t in m.tests:
                ok, log = run([str(next(build.rglob(t)))], self.tree)
                if not ok:
                    return False, log
            return True, log
        if m.kind == "ext":
            ok, log = run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], self.tree, self.env)
            if not ok:
                raise Broken(f"{m.name}: the build failed:\n{log}")
        return run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.tests], self.tree,
                   self.env)

    def check(self, m: Mutant) -> bool:
        path = self.tree / m.path
        src = path.read_text()
        if src.count(m.old) != 1:
            raise RuntimeError(f"{m.name}: the text to mutate occurs {src.count(m.old)} times in {m.path}")
        ext = sorted((self.tree / "runtime").glob("_nanort_c*"))
        saved = {p: p.read_bytes() for p in ext} if m.kind == "ext" else {}
        path.write_text(src.replace(m.old, m.new))
        try:
            passed, log = self.tests_pass(m)
        finally:
            path.write_text(src)
            for p, data in saved.items():
                p.write_bytes(data)
        if self.verbose:
            print(log)
        return not passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="mutants to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--baseline", action="store_true", help="also check that every test passes unmutated")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the log of a missed mutant")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        ap.error(f"unknown mutant(s): {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name:26} {m.kind:4} {m.path}\n{'':31} {m.why}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="nanort-mutants-"))
    missed = []
    try:
        audit = Audit(work, args.verbose)
        if args.baseline:
            for m in chosen:
                ok, log = audit.tests_pass(Mutant(m.name, m.path, "", "", "py" if m.kind == "ext" else m.kind,
                                                  m.tests, m.why))
                if not ok:
                    print(f"baseline FAILED for {m.name}:\n{log}")
                    return 2
        for m in chosen:
            t0 = time.monotonic()
            caught = audit.check(m)
            print(f"{'CAUGHT' if caught else 'MISSED':6} {m.name:26} {time.monotonic() - t0:6.1f} s  {m.why}",
                  flush=True)
            if not caught:
                missed.append(m.name)
    finally:
        if args.keep:
            print(f"copy kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(chosen) - len(missed)} of {len(chosen)} mutants caught" + (f"; missed: {', '.join(missed)}"
                                                                           if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
