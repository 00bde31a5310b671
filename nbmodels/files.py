"""Writing files so that a reader never sees half of one: the one home of atomic writes.

Everything nbmodels persists (the catalog's Parquet, Ollama manifests and blobs, later the
registry and downloads) is written to a temporary file in the target's folder and moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows. A failure leaves the old
file as it was and no temporary file behind. Errors of the file system become
:class:`~nbmodels.errors.StorageError`, whose message names the path and what to check.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageError

__all__ = ["atomic_path", "atomic_write", "ensure_dir", "storage_error"]


def storage_error(path: Path | str, exc: OSError, *, what: str = "write") -> StorageError:
    """A :class:`StorageError` for ``exc`` raised while working on ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = "check that the folder exists, is a folder and is writable"
    if isinstance(exc, NotADirectoryError):
        hint = "a part of that path is a file, not a folder: point NBMODELS_HOME elsewhere"
    elif isinstance(exc, PermissionError):
        hint = "nbmodels may not write there: fix the permissions or choose another folder"
    elif exc.errno == 28:  # ENOSPC
        hint = "the disk is full: free some space"
    return StorageError(f"Cannot {what} {path} ({reason}): {hint}.", path=str(path))


def ensure_dir(path: Path | str) -> Path:
    """``path`` as an existing folder (created with its parents); StorageError otherwise."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(folder, exc, what="create the folder") from None
    if not folder.is_dir():
        raise storage_error(folder, NotADirectoryError(20, "Not a directory"), what="use")
    return folder


@contextlib.contextmanager
def atomic_path(path: Path | str, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; moved into place on success.

    ``fsync=True`` flushes the file to disk before the move (survives a power cut, not only
    a killed process). On an exception the temporary file is removed and ``path`` is left
    as it was.
    """
    target = Path(path)
    ensure_dir(target.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise storage_error(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
