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


def isa_source_dir() -> str | None:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86"
    if machine in ("aarch64", "arm64"):
        return "arm"
    return None


def sources() -> list[str]:
    dirs = ["engine", "ops", "kernels", "kernels/ref", "kernels/scalar"]
    isa = isa_source_dir()
    if isa:
        dirs.append(f"kernels/{isa}")
    files = []
    for d in dirs:
        files += sorted(str(p.relative_to(ROOT)) for p in (NATIVE / "src" / d).glob("*.c"))
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


ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header())
ffibuilder.set_source(
    "nanort.runtime._nanort_c",
    '#include "nanort.h"',
    sources=sources(),
    include_dirs=[str(NATIVE / "include")],
    extra_compile_args=["-std=c11", "-O3", "-D_GNU_SOURCE", "-ffp-contract=off", "-fno-math-errno",
                        "-fno-trapping-math", "-g0"],
    libraries=["m", "pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "cffi"), verbose=True)
