"""nanort's exceptions: one class per C status code, all under nanort.Error."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error nanort raises."""


class InvalidArgumentError(Error, ValueError):
    """A bad argument to an API call."""


class FileError(Error, OSError):
    """The model file cannot be opened, read or mapped."""


class InvalidModelError(Error):
    """The model file fails verification (corrupt, truncated or hostile)."""


class UnsupportedError(Error):
    """Valid input that uses something nanort does not implement."""


class ShapeError(Error, ValueError):
    """Shapes do not fit together."""


class DTypeError(Error, TypeError):
    """Wrong element type."""


class OutOfMemoryError(Error, MemoryError):
    """An allocation failed."""


class LimitError(Error):
    """A resource limit (rank, arena size, file size) is exceeded."""


class StateError(Error):
    """A call out of order, e.g. on a closed model."""


class BusyError(Error):
    """Another thread is using this model at the same time."""


class InternalError(Error):
    """A bug in nanort: please report it."""


class CancelledError(Error):
    """A run stopped by Model.cancel() from another thread."""


class ConversionError(Error):
    """The converter cannot convert this model."""


class UnsupportedOpError(ConversionError, UnsupportedError):
    """The source model uses an operator (or attribute) nanort cannot convert."""


STATUS_ERRORS: dict[int, type[Error]] = {
    1: InvalidArgumentError,
    2: FileError,
    3: InvalidModelError,
    4: UnsupportedError,
    5: ShapeError,
    6: DTypeError,
    7: OutOfMemoryError,
    8: LimitError,
    9: StateError,
    10: BusyError,
    11: InternalError,
    12: CancelledError,
}
