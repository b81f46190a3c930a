# The C runtime and its cffi binding are compiled from source by
# runtime/build_ffi.py; everything else is declared in pyproject.toml.
# The extension uses only Python's stable ABI (cffi's default), so one wheel
# per platform serves every CPython >= 3.10: tagged cp310-abi3.
import shutil

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    """Says in one line that a C compiler is needed, instead of a traceback."""

    def build_extensions(self):
        compiler = getattr(self.compiler, "compiler_so", None) or [None]
        if compiler[0] and not shutil.which(compiler[0]):
            raise SystemExit(f"nanort: building the C runtime needs a C compiler, and {compiler[0]!r} was not found: "
                             "install gcc or clang (apt-get install gcc) or set CC, or install a prebuilt nanort wheel")
        super().build_extensions()


setup(cffi_modules=["runtime/build_ffi.py:ffibuilder"], cmdclass={"build_ext": BuildExt},
      options={"bdist_wheel": {"py_limited_api": "cp310"}})
