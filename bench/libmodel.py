"""Run a .nrt model on another build of the C runtime (a libnanort.so, e.g.
one built from an earlier commit with `cmake -S native -B build`), loaded
through cffi's ABI mode next to the installed package, so bench/suite.py
can time two builds in one process (interleaved, same inputs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_DTYPES = {0: np.float32, 1: np.float16, 2: np.float64, 3: np.int8, 4: np.uint8, 5: np.int16, 6: np.int32,
           7: np.int64, 8: np.bool_}


def _cdef() -> str:
    spec = importlib.util.spec_from_file_location("build_ffi_cdef", ROOT / "runtime" / "build_ffi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cdef_from_header()


class LibModel:
    """`run(None, {name: array})` like an onnxruntime session, on `library`."""

    def __init__(self, library: str | Path, model: str | Path, threads: int = 1):
        from cffi import FFI

        self._ffi = FFI()
        self._ffi.cdef(_cdef())
        self._lib = self._ffi.dlopen(str(library))
        opts = self._ffi.new("nrt_options*")
        self._lib.nrt_options_init(opts)
        opts.num_threads = threads
        handle = self._ffi.new("nrt_model**")
        self._check(self._lib.nrt_model_create(opts, handle), handle[0])
        self._m = handle[0]
        self._check(self._lib.nrt_model_load_file(self._m, str(model).encode()))
        self._shapes: dict[int, tuple[int, ...]] = {}

    def _check(self, status: int, m=None) -> None:
        if status != 0:
            m = m if m is not None else self._m
            raise RuntimeError(self._ffi.string(self._lib.nrt_model_error(m)).decode())

    def _info(self, index: int, output: bool):
        info = self._ffi.new("nrt_tensor_info*")
        get = self._lib.nrt_model_output_info if output else self._lib.nrt_model_input_info
        self._check(get(self._m, index, info))
        return info

    def run(self, names, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        for i, x in enumerate(feeds.values()):
            x = np.ascontiguousarray(x)
            if self._shapes.get(i) != x.shape:
                dims = self._ffi.new("int64_t[]", list(x.shape))
                self._check(self._lib.nrt_model_resize_input(self._m, i, x.ndim, dims))
                self._check(self._lib.nrt_model_prepare(self._m))
                self._shapes[i] = x.shape
            self._ffi.memmove(self._lib.nrt_model_input_data(self._m, i), self._ffi.from_buffer(x), x.nbytes)
        self._check(self._lib.nrt_model_invoke(self._m))
        outs = []
        for k in range(self._lib.nrt_model_num_outputs(self._m)):
            info = self._info(k, True)
            shape = tuple(info.dims[d] for d in range(info.rank))
            buf = self._ffi.buffer(self._lib.nrt_model_output_data(self._m, k), info.bytes)
            outs.append(np.frombuffer(buf, dtype=_DTYPES[info.dtype]).reshape(shape).copy())
        return outs

    def __del__(self):
        if getattr(self, "_m", None) is not None:
            self._lib.nrt_model_free(self._m)
