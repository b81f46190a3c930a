"""The converter's output file, so that a careless call loses nothing:

- the destination is checked before any conversion work: never the source
  model itself, never an existing file that is not a nanort model (unless
  forced), a folder means <folder>/<source name>.nrt, and the folder must be
  writable;
- the file is written to a temporary name in the destination folder, checked
  by the runtime's own verifier (nanort.Model loads it), and only then
  renamed over the destination: a file the runtime would refuse is never
  reported as converted;
- a conversion killed before the rename (kill -9, power loss) leaves its
  temporary file behind; the next conversion into that folder removes the
  ones whose process is gone (the name carries the host and process id).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from nanort.runtime.errors import ConversionError

TEMP_SUFFIX = ".nanort-tmp"
NRT_IDENTIFIER = b"NRT0"  # bytes 4..8 of every .nrt file (schemas/nanort.fbs: file_identifier)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def destination(src: Path, dst: str | os.PathLike | None, force: bool = False) -> Path:
    """The file to write, checked as above; ConversionError (one line) otherwise."""
    if dst is None:
        dst = src.with_suffix(".nrt")
    elif Path(dst).is_dir() or str(dst).endswith(("/", os.sep)):
        dst = Path(dst) / (src.stem + ".nrt")
    else:
        dst = Path(dst)
    if dst.exists() and src.exists() and os.path.samefile(dst, src):
        raise ConversionError(f"refusing to write over the source model {src}; give another output file (-o)")
    if dst.is_dir():
        raise ConversionError(f"{dst} is a folder; give the output file's name (-o {dst / (src.stem + '.nrt')})")
    if dst.exists() and not force and not _is_nrt(dst):
        raise ConversionError(f"{dst} exists and is not a nanort model; refusing to replace it "
                              "(pass --force / force=True to replace it)")
    folder = dst.parent
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConversionError(f"cannot write {dst}: {existing} is not a writable folder")
    return dst


def _is_nrt(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == NRT_IDENTIFIER
    except OSError:
        return False


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Removes this host's temporary files in `folder` whose conversion process is gone."""
    removed = []
    if not folder.is_dir():
        return removed
    pattern = re.compile(rf"^\..*\.{re.escape(_host())}\.(\d+)\.[A-Za-z0-9_]+{re.escape(TEMP_SUFFIX)}$")
    for p in folder.iterdir():
        m = pattern.match(p.name)
        if m and not _process_alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_verified(path: Path, data: bytes, verify: Callable[[Path], None]) -> None:
    """Writes `data` to `path` via a temporary file that `verify` accepts, then a
    rename, with the permissions a plain open() would give (mkstemp makes the
    file 0600); no temporary file is left on any error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        verify(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_size(data: bytes) -> None:
    """ConversionError before writing a file over the runtime's default size limit."""
    from nanort.runtime._nanort_c import ffi, lib

    opts = ffi.new("nrt_options*")
    lib.nrt_options_init(opts)
    if len(data) > opts.max_file_bytes:
        raise ConversionError(f"the converted model would be {len(data) / 2**30:.2f} GiB, over the runtime's "
                              f"{opts.max_file_bytes / 2**30:.0f} GiB file limit (constants folded from the model "
                              "can grow it); nothing was written")


def runtime_accepts(path: Path) -> None:
    """ConversionError unless nanort.Model loads the file (the runtime's verifier, default limits)."""
    from nanort.runtime.errors import Error
    from nanort.runtime.model import Model

    try:
        Model(path).close()
    except Error as e:
        raise ConversionError(f"the converted model would not load in the runtime ({e}); nothing was written. "
                              "This is a converter bug or a model beyond the runtime's limits: please report it "
                              "with the model") from None
