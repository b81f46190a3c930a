"""nanort: ONNX models -> compact .nrt files -> a small, fast C runtime.

    import nanort
    nanort.convert("model.onnx", "model.nrt")
    model = nanort.Model("model.nrt")
    outputs = model.run({"x": x})
"""

from nanort.runtime.errors import (
    BusyError,
    CancelledError,
    ConversionError,
    DTypeError,
    Error,
    FileError,
    InternalError,
    InvalidArgumentError,
    InvalidModelError,
    LimitError,
    OutOfMemoryError,
    ShapeError,
    StateError,
    UnsupportedError,
    UnsupportedOpError,
)
from nanort.runtime.model import Model, TensorInfo

__version__ = "0.1.0"


def __getattr__(name: str):
    # The converter (and onnx) load only when first used: running a model
    # needs nothing but the runtime.
    if name == "convert":
        from nanort.converter import convert

        return convert
    raise AttributeError(f"module 'nanort' has no attribute {name!r}")


__all__ = [
    "BusyError", "CancelledError", "ConversionError", "DTypeError", "Error", "FileError", "InternalError",
    "InvalidArgumentError", "InvalidModelError", "LimitError", "Model", "OutOfMemoryError",
    "ShapeError", "StateError", "TensorInfo", "UnsupportedError", "UnsupportedOpError",
    "convert", "__version__",
]
