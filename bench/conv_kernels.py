"""int8 depthwise and first-layer conv kernels: time per conv and fraction of
the int8 dot-product peak, per level, on one thread (bench/conv_kernels.c).

    python bench/conv_kernels.py [--levels avx512 avx2] [--kind dw|rgb|dense|pw] [--base REV] [--rounds 3]

Builds the kernel library of this tree with the C compiler (the flags of
native/build.cmake) and, with --base, of git revision REV too; runs the builds
alternately `rounds` times in fresh processes and prints, per level and shape,
the median ms, GMAC/s and % of peak of each build and the ratio base / this.
The peak is vpdpbusd (sdot on ARM) chains measured in each process, the best
of them taken: load from other processes only lowers it, and a median peak
taken on a loaded machine gave convs "above peak"."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cmake_list(text: str, name: str) -> list[str]:
    m = re.search(rf"set\({name}\s+([^)]*)\)", text)
    return m.group(1).split() if m else []


def build(tree: Path, bench_src: Path, exe: Path) -> None:
    """The kernel sources of `tree` (native/build.cmake's folders) + the bench, -O3."""
    text = (tree / "native" / "build.cmake").read_text()
    dirs = cmake_list(text, "NANORT_KERNEL_DIRS") + cmake_list(text, "NANORT_KERNEL_DIRS_X86_64"
                                                                 if os.uname().machine == "x86_64"
                                                                 else "NANORT_KERNEL_DIRS_AARCH64")
    sources = [str(p) for d in dirs for p in sorted((tree / "native" / d).glob("*.c"))]
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, *cmake_list(text, "NANORT_C_FLAGS"), "-O3", "-I", str(tree / "native" / "include"),
                    "-I", str(tree / "native" / "src"), str(bench_src), *sources, "-lm", "-o", str(exe)], check=True)


def export(rev: str, dest: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "native"], check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


Rows = dict[tuple[str, str], tuple[float, float, float]]


def run(exe: Path, levels: list[str], kind: str | None) -> tuple[float, Rows]:
    args = [str(exe), *levels, *([kind] if kind else [])]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout.split("\n")
    peak = float(out[0].split()[1])
    rows = {}
    for line in out[1:]:
        if line.strip():
            level, shape, ms, gmacs, pct = line.split()
            rows[(level, shape)] = (float(ms), float(gmacs), float(pct))
    return peak, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", nargs="*", default=[], help="levels to time (default: every one this CPU runs)")
    ap.add_argument("--kind", choices=["dw", "rgb", "dense", "pw"],
                    help="only depthwise, first-layer (RGB input), dense (few output channels) or pointwise "
                    "(few input channels) shapes")
    ap.add_argument("--base", help="git revision to compare against (built from `git archive`)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which(os.environ.get("CC", "cc")):
        print("no C compiler (set CC)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        builds = {"this": work / "this"}
        build(ROOT, ROOT / "bench" / "conv_kernels.c", builds["this"])
        if args.base:
            try:
                export(args.base, work / "base")
                build(work / "base", ROOT / "bench" / "conv_kernels.c", work / "base_exe")
            except (subprocess.CalledProcessError, OSError):
                print(f"--base {args.base}: could not export or build that revision's kernels with this bench "
                      "(it needs kernels/conv.h's driver and native/build.cmake's source lists)", file=sys.stderr)
                return 1
            builds = {"base": work / "base_exe", **builds}
        samples: dict[str, dict] = {name: defaultdict(list) for name in builds}
        peaks = []
        for _ in range(args.rounds):
            for name, exe in builds.items():
                peak, rows = run(exe, args.levels, args.kind)
                peaks.append(peak)
                for key, v in rows.items():
                    samples[name][key].append(v)
    peak = max(peaks)
    print(f"int8 dot-product peak (1 thread): {peak:.1f} GMAC/s (best of {len(peaks)} runs); "
          f"medians of {args.rounds} alternating runs")
    names = list(builds)
    head = "| level | shape | " + " | ".join(f"{n} ms | {n} % peak" for n in names)
    print(head + (" | base / this |" if args.base else " |"))
    print("|" + "---|" * (2 + 2 * len(names) + (1 if args.base else 0)))
    for key in samples["this"]:
        cells, ms = [], {}
        for n in names:
            vals = samples[n].get(key)
            if not vals:
                cells += ["-", "-"]
                continue
            ms[n] = statistics.median(v[0] for v in vals)
            cells += [f"{ms[n]:.3f}", f"{100 * statistics.median(v[1] for v in vals) / peak:.1f}"]
        ratio = f" | {ms['base'] / ms['this']:.2f}x" if args.base and "base" in ms else ""
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + ratio + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
