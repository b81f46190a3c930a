"""`nanort.Model`: run a .nrt model from Python (numpy in, numpy out)."""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import errors
from ._nanort_c import ffi, lib

# nrt_dtype codes -> numpy dtypes, exactly (same element size and meaning).
# The format's other types have no numpy equivalent (int4: two elements per
# byte) and are refused where they would cross into Python (numpy_dtype).
DTYPES: dict[int, np.dtype] = {
    0: np.dtype(np.float32),
    1: np.dtype(np.float16),
    2: np.dtype(np.float64),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    8: np.dtype(np.bool_),
}
DTYPE_CODES: dict[np.dtype, int] = {dt: code for code, dt in DTYPES.items()}
INPUT_CHECK_FINITE = 1  # NRT_INPUT_CHECK_FINITE


def _level_numbers() -> dict[str, int]:
    """Kernel level name -> number, as the C library defines them (and "auto")."""
    names = {ffi.string(lib.nrt_isa_name(i)).decode(): i for i in range(lib.nrt_isa_count())}
    return {"auto": lib.NRT_ISA_AUTO, **names}


ISAS = _level_numbers()


def cpu_levels() -> list[str]:
    """The kernel levels this CPU runs, the reference first and the best last."""
    return [name for name, i in ISAS.items() if i >= 0 and lib.nrt_cpu_supports_isa(i)]


def numpy_dtype(code: int, what: str) -> np.dtype:
    """The numpy dtype of a runtime element type; DTypeError naming `what` when numpy has none."""
    if code in DTYPES:
        return DTYPES[code]
    name = ffi.string(lib.nrt_dtype_name(code)).decode()
    raise errors.DTypeError(f"{what} is {name}, which has no numpy type ({name} packs elements below a byte); "
                            "nanort keeps such types inside the model (constant weights), never at its inputs "
                            "or outputs")


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (None for a dynamic dimension), dtype and quantization of a
    tensor. dtype is None for the format's types numpy has none for (int4
    weights; never an input or output)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype | None
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    quant_axis: int | None = None
    # symbolic name of each dimension ("batch"), None where the file gives none
    dim_names: tuple[str | None, ...] = ()

    @property
    def quantized(self) -> bool:
        return self.scale is not None


def _check(status: int, handle: Any = None) -> None:
    if status == 0:
        return
    cls = errors.STATUS_ERRORS.get(status, errors.Error)
    if status == 10:  # BUSY: the message on the handle belongs to the other thread
        raise cls("the model is being used by another thread; use one Model per thread")
    msg = ffi.string(lib.nrt_model_error(handle)).decode("utf-8", "replace") if handle is not None else ""
    raise cls(msg or ffi.string(lib.nrt_status_name(status)).decode())


def _info(c_info: Any, declared: bool) -> TensorInfo:
    rank = c_info.rank
    dims = c_info.declared_dims if declared else c_info.dims
    shape = tuple(None if dims[d] < 0 else int(dims[d]) for d in range(rank))
    scale = zp = axis = None
    if c_info.quant_count:
        n = c_info.quant_count
        scale = np.frombuffer(ffi.buffer(c_info.quant_scale, 4 * n), np.float32).copy()
        if c_info.quant_zero_point != ffi.NULL:
            zp = np.frombuffer(ffi.buffer(c_info.quant_zero_point, 8 * n), np.int64).copy()
        else:
            zp = np.zeros(n, np.int64)
        axis = int(c_info.quant_axis) if n > 1 else None
    name = ffi.string(c_info.name).decode("utf-8", "replace")
    dim_names = tuple(ffi.string(c_info.dim_names[d]).decode("utf-8", "replace") or None for d in range(rank))
    return TensorInfo(name, shape, DTYPES.get(c_info.dtype), scale, zp, axis, dim_names)


class _Handle:
    """Owns one nrt_model: frees it when neither its Model nor any array
    viewing its memory (tensor_value(copy=False)) refers to it any more."""

    def __init__(self, ptr: Any):
        self.ptr = ptr
        self.views: weakref.WeakSet[_View] = weakref.WeakSet()
        weakref.finalize(self, lib.nrt_model_free, ptr)


class _View:
    """What a numpy view of runtime memory hangs on: the array's base keeps
    the model's memory alive."""

    def __init__(self, handle: _Handle, ptr: Any, shape: tuple[int, ...], dtype: np.dtype):
        self.handle = handle
        self.__array_interface__ = {"data": (int(ffi.cast("uintptr_t", ptr)), True), "shape": shape,
                                    "typestr": dtype.str, "version": 3}


class Model:
    """A loaded .nrt model.

    >>> m = nanort.Model("model.nrt", threads=2)
    >>> out = m.run({"x": image})             # dict of outputs
    >>> (probs,) = m.run(["probs"], {"x": image})   # onnxruntime style

    `run` accepts any input shape the model's dynamic dimensions allow and
    re-prepares only when a shape changes. One Model must not be run from two
    threads at once (the second call raises BusyError); give each thread its
    own Model.
    """

    def __init__(self, model: str | os.PathLike | bytes, *, threads: int = 1, isa: str = "auto",
                 preserve_intermediates: bool = False, max_arena_bytes: int | None = None,
                 max_memory_bytes: int | None = None, max_operators: int | None = None, copy: bool = False,
                 check_finite: bool = True):
        """copy=True reads the file into memory instead of mapping it, so the
        model no longer depends on the file (a mapped file must not be
        truncated or rewritten in place while the model is in use). The
        limits default to nrt_options_init's (README: "Untrusted models")."""
        self._lock = threading.Lock()       # one run (or other call) at a time
        self._close_lock = threading.Lock() # close() against cancel() from another thread
        self._owner: _Handle | None = None
        self._h = None
        if isa not in ISAS:
            raise errors.InvalidArgumentError(f"isa must be one of {', '.join(ISAS)}, got {isa!r}")
        if not isinstance(threads, int) or threads < 1:
            raise errors.InvalidArgumentError(f"threads must be a positive int, got {threads!r}")
        opts = ffi.new("nrt_options*")
        lib.nrt_options_init(opts)
        opts.num_threads = threads
        opts.isa = ISAS[isa]
        opts.preserve_intermediates = int(preserve_intermediates)
        opts.copy_model_file = int(copy)
        for field, value in (("max_arena_bytes", max_arena_bytes), ("max_memory_bytes", max_memory_bytes),
                             ("max_operators", max_operators)):
            if value is not None:
                if not isinstance(value, int) or value < 1:
                    raise errors.InvalidArgumentError(f"{field} must be a positive int, got {value!r}")
                setattr(opts, field, min(value, 2**31 - 1) if field == "max_operators" else min(value, 2**64 - 1))
        handle = ffi.new("nrt_model**")
        status = lib.nrt_model_create(opts, handle)
        if handle[0] != ffi.NULL:
            self._owner = _Handle(handle[0])
            self._h = handle[0]
        self._check_finite = check_finite
        if status != 0:
            try:
                _check(status, self._h)
            finally:
                self.close()
        try:
            if isinstance(model, (bytes, bytearray, memoryview)):
                self._buffer = bytes(model)
                _check(lib.nrt_model_load_buffer(self._h, self._buffer, len(self._buffer), 1), self._h)
            else:
                path = os.fspath(model)
                _check(lib.nrt_model_load_file(self._h, path.encode()), self._h)
        except BaseException:
            self.close()
            raise
        try:
            self._input_infos = self._io_infos(lib.nrt_model_num_inputs, lib.nrt_model_input_info, "input")
            self._output_infos = self._io_infos(lib.nrt_model_num_outputs, lib.nrt_model_output_info, "output")
            self._metadata = _read_metadata(self._h)
        except BaseException:
            self.close()
            raise
        self._input_index = {t.name: i for i, t in enumerate(self._input_infos)}
        self._output_index = {t.name: i for i, t in enumerate(self._output_infos)}
        self._shapes: list[tuple[int, ...] | None] = [None] * len(self._input_infos)
        self._out_info = ffi.new("nrt_tensor_info*")  # (reused: asked after every run)
        # caller arrays bound for zero-copy I/O (bind_input / bind_output), by index
        self._bound_inputs: dict[int, np.ndarray] = {}
        self._bound_outputs: dict[int, np.ndarray] = {}

    def _io_infos(self, count: Any, get: Any, kind: str) -> list[TensorInfo]:
        """The inputs' or outputs' infos; every one's type must have a numpy equivalent."""
        info = ffi.new("nrt_tensor_info*")
        out = []
        for i in range(count(self._h)):
            _check(get(self._h, i, info), self._h)
            out.append(_info(info, declared=True))
            numpy_dtype(info.dtype, f"{kind} {out[-1].name!r}")
        return out

    # -- metadata ---------------------------------------------------------
    @property
    def inputs(self) -> list[TensorInfo]:
        return list(self._input_infos)

    @property
    def outputs(self) -> list[TensorInfo]:
        return list(self._output_infos)

    def get_inputs(self) -> list[TensorInfo]:
        """onnxruntime-compatible spelling of `inputs`."""
        return self.inputs

    def get_outputs(self) -> list[TensorInfo]:
        return self.outputs

    @property
    def metadata(self) -> dict[str, str]:
        """Key / value strings stored in the file (the source model's metadata,
        e.g. PP-OCR's recognizer keeps its character list under "character")."""
        return dict(self._metadata)

    @property
    def format_version(self) -> int:
        """The .nrt file-format version of this model."""
        with self._guard():
            return int(lib.nrt_model_format_version(self._h))

    @property
    def isa(self) -> str:
        with self._guard():
            return ffi.string(lib.nrt_isa_name(lib.nrt_model_isa(self._h))).decode()

    @property
    def arena_bytes(self) -> int:
        """Activation memory the planner chose at the last prepare."""
        with self._guard():
            return int(lib.nrt_model_arena_bytes(self._h))

    @property
    def packed_weight_bytes(self) -> int:
        """Memory of the weights packed at load (each packing counted once)."""
        with self._guard():
            return int(lib.nrt_model_packed_weight_bytes(self._h))

    @property
    def memory_bytes(self) -> int:
        """Everything the runtime has allocated for this model now (checked against max_memory_bytes)."""
        with self._guard():
            return int(lib.nrt_model_memory_bytes(self._h))

    def set_threads(self, threads: int) -> None:
        with self._guard():
            self._refuse_if_viewed("changing the thread count")
            _check(lib.nrt_model_set_num_threads(self._h, threads), self._h)

    def cancel(self) -> None:
        """Stops a run in progress on another thread: it raises CancelledError
        before its next operator. Does nothing when no run is in progress."""
        with self._close_lock:
            if self._owner is not None:
                lib.nrt_model_cancel(self._owner.ptr)

    # -- running ----------------------------------------------------------
    def run(self, *args: Any) -> Any:
        """run(feeds) -> dict, or run(output_names | None, feeds) -> list.
        Inputs bound with bind_input are left out of feeds (run() when all are);
        outputs bound with bind_output are written into, and returned as, the bound arrays."""
        if not args:  # every input bound (bind_input)
            names, feeds, as_dict = None, {}, True
        elif len(args) == 1:
            names, feeds, as_dict = None, args[0], True
        elif len(args) == 2:
            names, feeds, as_dict = args[0], args[1], False
        else:
            raise errors.InvalidArgumentError("run takes (feeds) or (output_names, feeds)")
        if not isinstance(feeds, Mapping):
            raise errors.InvalidArgumentError(
                f"feeds must be a dict of name -> numpy array, got {type(feeds).__name__}")
        if names is None:
            indices = list(range(len(self._output_infos)))
        else:
            if isinstance(names, str) or not isinstance(names, Sequence):
                raise errors.InvalidArgumentError("output_names must be a list of names or None")
            indices = [self._output_position(n) for n in names]
        with self._guard():
            arrays = self._validate_feeds(feeds)
            self._resize(arrays)
            _check(lib.nrt_model_prepare(self._h), self._h)
            for i, arr in enumerate(arrays):
                if arr is not None:
                    self._copy_input(i, arr)
            self._check_bound()
            _check(lib.nrt_model_invoke(self._h), self._h)
            results = [self._fetch_output(i) for i in indices]
        if as_dict:
            return {self._output_infos[i].name: r for i, r in zip(indices, results)}
        return results

    def _output_position(self, name: str) -> int:
        if name not in self._output_index:
            raise errors.InvalidArgumentError(
                f"unknown output {name!r}; outputs are {', '.join(self._output_index)}")
        return self._output_index[name]

    def _validate_feeds(self, feeds: Mapping[str, Any]) -> list[np.ndarray | None]:
        """The feed of each input, None for bound ones."""
        every_input_fed = not self._bound_inputs and feeds.keys() == self._input_index.keys()  # (the common case)
        if not every_input_fed and (len(feeds) + len(self._bound_inputs) != len(self._input_infos) or any(
                k not in self._input_index or self._input_index[k] in self._bound_inputs for k in feeds)):
            unknown = [k for k in feeds if k not in self._input_index]
            if unknown:
                raise errors.InvalidArgumentError(
                    f"unknown input {unknown[0]!r}; inputs are {', '.join(self._input_index)}")
            bound = [k for k in feeds if self._input_index[k] in self._bound_inputs]
            if bound:
                raise errors.InvalidArgumentError(
                    f"input {bound[0]!r} is bound (bind_input): leave it out of feeds or unbind it first")
            missing = [t.name for i, t in enumerate(self._input_infos)
                       if t.name not in feeds and i not in self._bound_inputs]
            raise errors.InvalidArgumentError(f"missing input {missing[0]!r}")
        arrays: list[np.ndarray | None] = []
        for i, info in enumerate(self._input_infos):
            if i in self._bound_inputs:
                arrays.append(None)
                continue
            arr = feeds[info.name]
            if not isinstance(arr, np.ndarray):
                raise errors.DTypeError(f"input {info.name!r} must be a numpy array, got {type(arr).__name__}")
            if arr.dtype != info.dtype:
                raise errors.DTypeError(f"input {info.name!r} must be {info.dtype}, got {arr.dtype}")
            if arr.shape != self._shapes[i]:  # (the shape of the last run passed these checks)
                self._check_shape(info, arr)
            arrays.append(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
        return arrays

    @staticmethod
    def _check_shape(info: TensorInfo, arr: np.ndarray) -> None:
        if arr.ndim != len(info.shape):
            raise errors.ShapeError(f"input {info.name!r} must have rank {len(info.shape)} "
                                    f"(shape {_fmt(info.shape)}), got shape {arr.shape}")
        for d, (want, got) in enumerate(zip(info.shape, arr.shape)):
            if want is not None and want != got:
                raise errors.ShapeError(f"input {info.name!r}: dimension {d} must be {want} "
                                        f"(shape {_fmt(info.shape)}), got shape {arr.shape}")

    def _copy_input(self, index: int, arr: np.ndarray) -> None:
        """The one path from Python into runtime memory: nrt_model_set_input_checked,
        which checks the array's element type and byte count against the
        input's (and, unless check_finite=False, refuses NaN / Inf in the same
        pass as the copy). arr: C-contiguous, of a dtype in DTYPE_CODES."""
        if arr.dtype not in DTYPE_CODES:
            raise errors.DTypeError(f"input {self._input_infos[index].name!r}: numpy {arr.dtype} has no nanort type")
        flags = INPUT_CHECK_FINITE if self._check_finite else 0
        status = lib.nrt_model_set_input_checked(self._h, index, DTYPE_CODES[arr.dtype],
                                                 ffi.from_buffer(arr) if arr.nbytes else ffi.NULL, arr.nbytes, flags)
        if status == 1 and flags and not np.isfinite(arr).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise errors.InvalidArgumentError(f"input {self._input_infos[index].name!r} holds NaN or Inf (first at "
                                              f"index {bad}); pass check_finite=False to Model to allow it")
        _check(status, self._h)

    def _refuse_if_viewed(self, what: str) -> None:
        """Re-preparing may free memory that tensor_value(copy=False) arrays still view."""
        if self._owner is not None and len(self._owner.views):
            raise errors.StateError(f"{what} would free memory that arrays from tensor_value(copy=False) still "
                                    "view; delete them first (or use copy=True)")

    def _resize(self, arrays: list[np.ndarray | None]) -> None:
        for i, arr in enumerate(arrays):
            if arr is not None and self._shapes[i] != arr.shape:
                self._refuse_if_viewed("changing an input's shape")
                dims = ffi.new("int64_t[]", list(arr.shape) or [0])
                _check(lib.nrt_model_resize_input(self._h, i, arr.ndim, dims), self._h)
                self._shapes[i] = arr.shape

    def _output_meta(self, index: int) -> tuple[tuple[int, ...], np.dtype]:
        # asked after every run: an output's shape may depend on the input values (NonZero, Loop, If, ...)
        # (plain Python ints and math.prod, no numpy: this runs for every output of every run, and
        # right after a run numpy's code is out of the CPU's caches: np.prod cost 0.1-0.2 ms per run)
        info = self._out_info
        _check(lib.nrt_model_output_info(self._h, index, info), self._h)
        shape = tuple(info.dims[0:info.rank])  # (a cffi slice: a list of ints, 5x faster than indexing each)
        dtype = DTYPES.get(info.dtype)
        if dtype is None:  # (raises, naming the output: built only then, not on every run)
            numpy_dtype(info.dtype, f"output {self._output_infos[index].name!r}")
        if dtype.itemsize * math.prod(shape) != info.bytes:
            raise errors.InternalError(f"output {self._output_infos[index].name!r} holds {info.bytes} bytes, "
                                       f"not {shape} x {dtype}")
        return shape, dtype

    def _fetch_output(self, index: int) -> np.ndarray:
        if index in self._bound_outputs:
            return self._bound_outputs[index]
        meta = self._output_meta(index)
        out = np.empty(*meta)
        if out.nbytes:  # (checked above: the runtime's tensor holds exactly this many bytes)
            ffi.memmove(out, lib.nrt_model_output_data(self._h, index), out.nbytes)
        return out

    # -- zero-copy inputs and outputs (nrt_model_bind_input / _output) ------
    def bind_input(self, name: str, array: np.ndarray | None) -> None:
        """Zero-copy input: every run reads `array` in place until it is bound
        again or unbound (None), and run() takes no feed for `name`. The array
        must be C-contiguous, of the input's dtype and of a shape the input
        allows, and keep its values while run() reads it (a view of a camera
        frame or a shared buffer works). Float inputs are still checked for
        NaN / Inf at each run unless the Model has check_finite=False."""
        index = self._input_position(name)
        with self._guard():
            if array is None:
                self._bound_inputs.pop(index, None)
                _check(lib.nrt_model_bind_input(self._h, index, ffi.NULL, 0), self._h)
                return
            info = self._input_infos[index]
            _check_bindable(array, info, "input")
            if array.shape != self._shapes[index]:
                self._check_shape(info, array)
                self._resize([array if i == index else None for i in range(len(self._input_infos))])
            self._bind(lib.nrt_model_bind_input, index, array)
            self._bound_inputs[index] = array

    def bind_output(self, name: str, array: np.ndarray | None) -> None:
        """Caller-provided output memory: run() writes output `name` straight
        into `array` (C-contiguous, writable, of the output's dtype and of the
        shape it has for the inputs being run) and returns that very array."""
        index = self._output_position(name)
        with self._guard():
            if array is None:
                self._bound_outputs.pop(index, None)
                _check(lib.nrt_model_bind_output(self._h, index, ffi.NULL, 0), self._h)
                return
            _check_bindable(array, self._output_infos[index], "output")
            if not array.flags.writeable:
                raise errors.InvalidArgumentError(f"the array bound to output {name!r} is read-only")
            self._bind(lib.nrt_model_bind_output, index, array)
            self._bound_outputs[index] = array

    def _bind(self, bind: Any, index: int, array: np.ndarray) -> None:
        # An empty tensor has no bytes to share: the runtime's (empty) memory serves.
        ptr = ffi.from_buffer(array) if array.nbytes else ffi.NULL
        _check(bind(self._h, index, ptr, array.nbytes), self._h)

    def _input_position(self, name: str) -> int:
        if name not in self._input_index:
            raise errors.InvalidArgumentError(f"unknown input {name!r}; inputs are {', '.join(self._input_index)}")
        return self._input_index[name]

    def _check_bound(self) -> None:
        """Before invoke: bound outputs have this run's shapes, bound float inputs are finite."""
        for index, array in self._bound_outputs.items():
            shape = self._output_meta(index)[0]
            if array.shape != shape:
                raise errors.ShapeError(f"output {self._output_infos[index].name!r} has shape {shape} for these "
                                        f"inputs, the array bound to it {array.shape}: bind one of that shape")
        if not self._check_finite:
            return
        for index, array in self._bound_inputs.items():
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                bad = np.argwhere(~np.isfinite(array))[0]
                raise errors.InvalidArgumentError(
                    f"input {self._input_infos[index].name!r} holds NaN or Inf (first at index "
                    f"{tuple(int(i) for i in bad)}); pass check_finite=False to Model to allow it")

    # -- per-operator profile ---------------------------------------------
    def set_profiling(self, enable: bool = True) -> None:
        """Start (and reset) or stop timing every operator during run()."""
        with self._guard():
            _check(lib.nrt_model_set_profiling(self._h, int(enable)), self._h)

    def profile(self) -> list[dict]:
        """Per operator: op type, node name, calls and total milliseconds."""
        p = ffi.new("nrt_node_profile*")
        out = []
        with self._guard():
            for i in range(lib.nrt_model_num_nodes(self._h)):
                _check(lib.nrt_model_node_profile(self._h, i, p), self._h)
                out.append({"op": ffi.string(p.op_type).decode(),
                            "name": ffi.string(p.name).decode("utf-8", "replace"),
                            "calls": int(p.calls), "ms": p.total_ns / 1e6})
        return out

    # -- introspection of every tensor (calibration, debugging) -----------
    def tensor_infos(self) -> list[TensorInfo]:
        info = ffi.new("nrt_tensor_info*")
        out = []
        with self._guard():
            for i in range(lib.nrt_model_num_tensors(self._h)):
                _check(lib.nrt_model_tensor_info(self._h, i, info), self._h)
                out.append(_info(info, declared=False))
        return out

    def tensor_value(self, index: int, copy: bool = True) -> np.ndarray | None:
        """A tensor's current value (intermediates need preserve_intermediates=True),
        None where the runtime holds none. copy=False returns a read-only view of
        the runtime's memory: its values change with the next run, and while it
        is alive the model's memory stays allocated (even after close()) and
        changing input shapes or threads is refused."""
        info = ffi.new("nrt_tensor_info*")
        with self._guard():
            _check(lib.nrt_model_tensor_info(self._h, index, info), self._h)
            ptr = lib.nrt_model_tensor_data(self._h, index)
            if ptr == ffi.NULL:
                return None
            dtype = numpy_dtype(info.dtype, f"tensor #{index} {ffi.string(info.name).decode('utf-8', 'replace')!r}")
            shape = tuple(int(info.dims[d]) for d in range(info.rank))
            if info.bytes != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                raise errors.InternalError(f"tensor #{index} holds {info.bytes} bytes, not {shape} x {dtype}")
            if info.bytes == 0:
                return np.zeros(shape, dtype)
            view = _View(self._owner, ptr, shape, dtype)
            if copy:
                return np.array(view)
            self._owner.views.add(view)
            return np.asarray(view)

    # -- lifetime ---------------------------------------------------------
    def _guard(self) -> _Guard:
        return _Guard(self)

    def close(self) -> None:
        """Frees the model (once no tensor_value(copy=False) array views its
        memory); waits for a run in progress on another thread."""
        with self._lock, self._close_lock:
            owner, self._owner, self._h = self._owner, None, None
        del owner  # (the last reference but the views': the finalizer frees the C model)

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if hasattr(self, "_close_lock"):
            self.close()

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}:{_fmt(t.shape)}" for t in self._input_infos)
        outs = ", ".join(f"{t.name}:{_fmt(t.shape)}" for t in self._output_infos)
        return f"<nanort.Model inputs=[{ins}] outputs=[{outs}]>"


class _Guard:
    """Refuses concurrent use of one Model (the C handle would refuse too,
    but the Python side shares shape bookkeeping)."""

    def __init__(self, model: Model):
        self.model = model

    def __enter__(self) -> None:
        if not self.model._lock.acquire(blocking=False):
            raise errors.BusyError("the model is being used by another thread; use one Model per thread")
        if self.model._h is None:
            self.model._lock.release()
            raise errors.StateError("the model is closed")

    def __exit__(self, *exc: object) -> None:
        self.model._lock.release()


def _check_bindable(array: Any, info: TensorInfo, what: str) -> None:
    if not isinstance(array, np.ndarray):
        raise errors.DTypeError(f"{what} {info.name!r} must be bound to a numpy array, got {type(array).__name__}")
    if array.dtype != info.dtype:
        raise errors.DTypeError(f"{what} {info.name!r} must be bound to a {info.dtype} array, got {array.dtype}")
    if not array.flags.c_contiguous:
        raise errors.InvalidArgumentError(f"the array bound to {what} {info.name!r} must be C-contiguous "
                                          f"(np.ascontiguousarray makes one)")


def _read_metadata(handle: Any) -> dict[str, str]:
    key, value = ffi.new("const char**"), ffi.new("const char**")
    out = {}
    for i in range(lib.nrt_model_num_metadata(handle)):
        _check(lib.nrt_model_metadata(handle, i, key, value), handle)
        out[ffi.string(key[0]).decode("utf-8", "replace")] = ffi.string(value[0]).decode("utf-8", "replace")
    return out


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
