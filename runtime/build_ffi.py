"""Builds `nanort.runtime._nanort_c`: the C runtime (native/) and its cffi binding.

Run by `pip install .` through setup.py's cffi_modules; nothing prebuilt is used.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
HEADER = NATIVE / "include" / "nanort.h"


def build_description() -> dict[str, list[str]]:
    """The set() calls of native/build.cmake (sources and flags, shared with CMake)."""
    text = re.sub(r"#.*", "", (NATIVE / "build.cmake").read_text())
    return {m.group(1): m.group(2).split() for m in re.finditer(r"set\(\s*(\w+)\s+([^)]*)\)", text)}


def sources(build: dict[str, list[str]]) -> list[str]:
    machine = platform.machine().lower()
    arch = {"x86_64": "X86_64", "amd64": "X86_64", "aarch64": "AARCH64", "arm64": "AARCH64"}.get(machine)
    dirs = build["NANORT_KERNEL_DIRS"] + build["NANORT_ENGINE_DIRS"]
    if arch:
        dirs += build[f"NANORT_KERNEL_DIRS_{arch}"]
    files = []
    for d in dirs:
        files += sorted(str(p.relative_to(ROOT)) for p in (NATIVE / d).glob("*.c"))
    return files


def cdef_from_header() -> str:
    """The declarations of nanort.h in the form cffi's parser accepts."""
    text = HEADER.read_text()
    max_rank = re.search(r"#define NRT_MAX_RANK (\d+)", text).group(1)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    text = "\n".join(lines)
    text = text.replace('extern "C" {', "").replace("NRT_API ", "")
    text = text.replace("NRT_MAX_RANK", max_rank)
    text = re.sub(r"^\}\s*$", "", text, flags=re.M)  # the closing brace of extern "C"
    return text + f"\n#define NRT_MAX_RANK {max_rank}\n"


BUILD = build_description()
ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header())
ffibuilder.set_source(
    "nanort.runtime._nanort_c",
    '#include "nanort.h"',
    sources=sources(BUILD),
    include_dirs=[str(NATIVE / "include")],
    extra_compile_args=[*BUILD["NANORT_C_FLAGS"], *BUILD["NANORT_WARNING_FLAGS"], "-O3", "-g0"],
    libraries=["m", "pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "cffi"), verbose=True)
