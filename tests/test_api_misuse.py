"""API misuse and bad tensors get a clear nanort.Error, never a crash."""

from __future__ import annotations

import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nanort


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("misuse")
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, d / "m.onnx")
    nanort.convert(d / "m.onnx", d / "m.nrt")
    return d / "m.nrt"


def x(n=1):
    return np.random.default_rng(n).standard_normal((n, 4, 16, 16)).astype(np.float32)


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "uint32", "int64", "int8", "bool"])
def test_wrong_dtype(model_path, dtype):
    # int32 and uint32 have float32's size: the check must compare dtypes, not item sizes
    with nanort.Model(model_path) as m, pytest.raises(nanort.DTypeError, match=f"float32, got {dtype}"):
        m.run({"x": x().astype(dtype)})


def test_wrong_rank_and_static_dim(model_path):
    with nanort.Model(model_path) as m:
        with pytest.raises(nanort.ShapeError, match="rank 4"):
            m.run({"x": np.zeros((4, 16, 16), np.float32)})
        with pytest.raises(nanort.ShapeError, match="dimension 1 must be 4"):
            m.run({"x": np.zeros((1, 3, 16, 16), np.float32)})
        assert m.run({"x": x()})["y"].shape == (1, 8, 16, 16)  # still usable


def test_missing_and_extra_inputs(model_path):
    with nanort.Model(model_path) as m:
        with pytest.raises(nanort.InvalidArgumentError, match="missing input 'x'"):
            m.run({})
        with pytest.raises(nanort.InvalidArgumentError, match="unknown input 'z'"):
            m.run({"x": x(), "z": x()})
        with pytest.raises(nanort.InvalidArgumentError, match="unknown output"):
            m.run(["nope"], {"x": x()})
        with pytest.raises(nanort.DTypeError, match="numpy array"):
            m.run({"x": [[1.0]]})
        with pytest.raises(nanort.InvalidArgumentError):
            m.run("x")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_inputs(model_path, bad):
    v = x()
    v[0, 2, 3, 4] = bad
    with nanort.Model(model_path) as m:
        with pytest.raises(nanort.InvalidArgumentError, match=r"NaN or Inf \(first at index \(0, 2, 3, 4\)\)"):
            m.run({"x": v})
    with nanort.Model(model_path, check_finite=False) as m:
        m.run({"x": v})  # allowed on request; results follow IEEE arithmetic


def test_huge_finite_values_are_not_mistaken_for_inf(model_path):
    v = np.full((1, 4, 16, 16), 3e38, np.float32)  # the float64 sum stays finite, float32 would overflow
    with nanort.Model(model_path) as m:
        m.run({"x": v})


def test_non_contiguous_and_readonly_inputs(model_path):
    base = x(2)
    strided = np.asfortranarray(base)
    view = np.concatenate([base, base], axis=3)[:, :, :, ::2]
    ro = base.copy()
    ro.flags.writeable = False
    with nanort.Model(model_path) as m:
        want = m.run({"x": base})["y"]
        np.testing.assert_array_equal(m.run({"x": strided})["y"], want)
        np.testing.assert_array_equal(m.run({"x": ro})["y"], want)
        assert m.run({"x": view})["y"].shape == want.shape


def test_use_after_close(model_path):
    m = nanort.Model(model_path)
    m.close()
    m.close()  # idempotent
    with pytest.raises(nanort.StateError, match="closed"):
        m.run({"x": x()})
    with pytest.raises(nanort.StateError):
        _ = m.arena_bytes


def test_bad_constructor_arguments(model_path, tmp_path):
    with pytest.raises(nanort.InvalidArgumentError):
        nanort.Model(model_path, threads=0)
    with pytest.raises(nanort.InvalidArgumentError):
        nanort.Model(model_path, isa="sse9")
    with pytest.raises(nanort.FileError):
        nanort.Model(tmp_path / "missing.nrt")
    with pytest.raises(nanort.InvalidModelError):
        nanort.Model(b"NRT0 but not really a model")


def test_outputs_are_independent_copies(model_path):
    with nanort.Model(model_path) as m:
        a = m.run({"x": x(1)})["y"]
        a_copy = a.copy()
        m.run({"x": x(1) * 2})
        np.testing.assert_array_equal(a, a_copy)


def test_one_model_two_threads_is_refused_not_corrupted(model_path):
    """A Model serves one thread at a time: a concurrent run raises BusyError
    (documented); runs that get through are correct."""
    inputs = x(2)
    with nanort.Model(model_path) as m:
        want = m.run({"x": inputs})["y"]
        busy, wrong, errors = [], [], []

        def work():
            for _ in range(200):
                try:
                    if not np.array_equal(m.run({"x": inputs})["y"], want):
                        wrong.append(1)
                except nanort.BusyError:
                    busy.append(1)
                except Exception as e:  # noqa: BLE001 - anything else is a failure
                    errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not wrong and not errors


def test_each_thread_its_own_model_works(model_path):
    results, errors = {}, []

    def work(k):
        try:
            with nanort.Model(model_path, threads=1) as m:
                for _ in range(20):
                    results[k] = m.run({"x": x(k)})["y"]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with nanort.Model(model_path) as m:
        for k, got in results.items():
            np.testing.assert_array_equal(got, m.run({"x": x(k)})["y"])


@pytest.mark.parametrize("dtype, code", [(np.float16, 1), (np.float32, 0), (np.float64, 2)])
@pytest.mark.parametrize("bad_at", [None, 0, 4095, 4096, 9999])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_copy_finite(dtype, code, bad_at, bad):
    """nrt_copy_finite (the finite check of Model.run): copies everything, 0
    exactly when a NaN / Inf is present, in any block; huge finite values
    (whose sum would overflow) and subnormals are finite."""
    from nanort.runtime._nanort_c import ffi, lib
    src = np.random.default_rng(0).standard_normal(10000).astype(dtype)
    src[:3] = [np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).tiny / 2]
    if bad_at is not None:
        src[bad_at] = bad
    dst = np.zeros_like(src)
    ok = lib.nrt_copy_finite(ffi.from_buffer(dst), ffi.from_buffer(src), src.size, code)
    assert ok == (bad_at is None)
    np.testing.assert_array_equal(dst.view(np.uint8), src.view(np.uint8))


def test_copy_finite_integers_are_copied():
    from nanort.runtime._nanort_c import ffi, lib
    src = np.arange(-50, 50, dtype=np.int8)
    dst = np.zeros_like(src)
    assert lib.nrt_copy_finite(ffi.from_buffer(dst), ffi.from_buffer(src), src.size, 3) == 1
    np.testing.assert_array_equal(dst, src)
