"""256-entry int8 lookup tables for nonlinear ops, computed by the converter
(design: "do the work at convert time"). A table maps every int8 input code
to the int8 output code of f(dequantized input)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_erf = np.vectorize(math.erf)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


# op -> f(x, attrs) over float64
FUNCTIONS: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {
    "Relu": lambda x, a: np.maximum(x, 0),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, x * a.get("alpha", 0.01)),
    "Elu": lambda x, a: np.where(x >= 0, x, a.get("alpha", 1.0) * np.expm1(x)),
    "Selu": lambda x, a: a.get("beta", 1.0507) * np.where(x > 0, x, a.get("alpha", 1.6733) * np.expm1(x)),
    "Celu": lambda x, a: np.maximum(0, x) + np.minimum(0, a.get("alpha", 1.0) * np.expm1(x / a.get("alpha", 1.0))),
    "Sigmoid": lambda x, a: _sigmoid(x),
    "HardSigmoid": lambda x, a: np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda x, a: x * np.clip(x / 6 + 0.5, 0, 1),
    "Silu": lambda x, a: x * _sigmoid(x),
    "Mish": lambda x, a: x * np.tanh(_softplus(x)),
    "Tanh": lambda x, a: np.tanh(x),
    "Gelu": lambda x, a: (0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3))))
    if a.get("approximate_tanh") else 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "Erf": lambda x, a: _erf(x),
    "Softplus": lambda x, a: _softplus(x),
    "Softsign": lambda x, a: x / (1 + np.abs(x)),
    "Exp": lambda x, a: np.exp(x),
    "Neg": lambda x, a: -x,
    "Abs": lambda x, a: np.abs(x),
    "Clip": lambda x, a: np.clip(x, a.get("min", -np.inf), a.get("max", np.inf)),
    "Floor": lambda x, a: np.floor(x),
    "Ceil": lambda x, a: np.ceil(x),
    "Sin": lambda x, a: np.sin(x),
    "Cos": lambda x, a: np.cos(x),
    "ThresholdedRelu": lambda x, a: np.where(x > a.get("alpha", 1.0), x, 0),
}
# defined only on part of the real line: usable when the input range stays inside
PARTIAL = {
    "Sqrt": (lambda x, a: np.sqrt(x), lambda lo, hi: lo >= 0),
    "Log": (lambda x, a: np.log(x), lambda lo, hi: lo > 0),
    "Reciprocal": (lambda x, a: 1.0 / x, lambda lo, hi: lo > 0 or hi < 0),
}


def function_for(op: str, attrs: dict, in_range: tuple[float, float]) -> Callable[[np.ndarray], np.ndarray] | None:
    if op in FUNCTIONS:
        return lambda x: FUNCTIONS[op](x, attrs)
    if op in PARTIAL and PARTIAL[op][1](*in_range):
        return lambda x: PARTIAL[op][0](x, attrs)
    return None


def input_grid(scale: float, zero_point: int) -> np.ndarray:
    """The real value of every int8 code, in table order (code -128 first)."""
    return (np.arange(-128, 128, dtype=np.float64) - zero_point) * scale


def table(fn: Callable[[np.ndarray], np.ndarray], in_scale: float, in_zp: int, out_scale: float, out_zp: int
          ) -> np.ndarray:
    y = fn(input_grid(in_scale, in_zp))
    return np.clip(np.rint(y / out_scale) + out_zp, -128, 127).astype(np.int8)


def table16(fn: Callable[[np.ndarray], np.ndarray], in_scale: float, out_scale: float) -> np.ndarray:
    """The 65536-entry int16 table of fn between symmetric int16 tensors (zero point 0): entry
    code + 32768 holds rint(fn(code * in_scale) / out_scale), clamped (NaN -> 0)."""
    with np.errstate(all="ignore"):
        y = fn(np.arange(-32768, 32768, dtype=np.float64) * in_scale) / out_scale
    return np.clip(np.nan_to_num(np.rint(y), nan=0.0), -32768, 32767).astype(np.int16)
