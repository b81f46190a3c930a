# The C runtime and its cffi binding are compiled from source by
# runtime/build_ffi.py; everything else is declared in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["runtime/build_ffi.py:ffibuilder"])
