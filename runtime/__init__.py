"""nanort.runtime: the cffi binding to the C runtime and the Model API."""

from .errors import Error
from .model import Model, TensorInfo

__all__ = ["Error", "Model", "TensorInfo"]
