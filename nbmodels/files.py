"""Writing files so that a reader never sees half of one: the one home of atomic writes.

Everything nbmodels persists (the catalog's Parquet, Ollama manifests and blobs, later the
registry and downloads) is written to a temporary file in the target's folder and moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows. A failure leaves the old
file as it was and no temporary file behind. Errors of the file system become
:class:`~nbmodels.errors.StorageError`, whose message names the path and what to check.

**Shared folders** (a team's model cache, on a network file system too): with ``shared=True``
the folders created are ``2775`` (setgid: what is created inside keeps the folder's group;
the group may write) and the files ``0664``, whatever the umask, so every member of the
folder's group reads and writes what any member wrote. :func:`is_shared_folder` says whether
a folder is one (``NBMODELS_SHARED_CACHE``, or its setgid bit), :func:`check_shared_folder`
refuses one its group may not write to, before anything is written. POSIX only: elsewhere
``shared`` changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageError

__all__ = [
    "SHARED_DIR_MODE",
    "SHARED_FILE_MODE",
    "atomic_path",
    "atomic_write",
    "check_shared_folder",
    "ensure_dir",
    "is_shared_folder",
    "share_file",
    "storage_error",
]

SHARED_DIR_MODE = 0o2775  # setgid, group rwx: what a team's folder needs
SHARED_FILE_MODE = 0o664  # group rw
_POSIX = os.name == "posix"


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


def ensure_dir(path: Path | str, *, shared: bool = False) -> Path:
    """``path`` as an existing folder (created with its parents); StorageError otherwise.

    ``shared=True``: each folder created is :data:`SHARED_DIR_MODE` (see the module)."""
    folder = Path(path)
    try:
        if shared and _POSIX:
            _make_shared_dirs(folder)
        else:
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(folder, exc, what="create the folder") from None
    if not folder.is_dir():
        raise storage_error(folder, NotADirectoryError(20, "Not a directory"), what="use")
    return folder


def _make_shared_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each :data:`SHARED_DIR_MODE`."""
    missing: list[Path] = []
    current = folder
    while not current.is_dir() and current.parent != current:
        missing.append(current)
        current = current.parent
    for part in reversed(missing):
        if part.is_dir():
            _wait_writable(part)
            continue
        # made under a name of its own, given its mode, then renamed into place: another
        # process never sees the folder before it is group-writable (mkdir's mode loses
        # setgid and what the umask masks, so a chmod is needed, and must come first)
        tmp = part.with_name(f".{part.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        os.mkdir(tmp, 0o700)
        try:
            os.chmod(tmp, SHARED_DIR_MODE)
            os.rename(tmp, part)
        except OSError:  # another process's folder is there (and may hold files): keep it
            with contextlib.suppress(OSError):
                os.rmdir(tmp)
            if not part.is_dir():
                raise
            _wait_writable(part)


def _wait_writable(folder: Path, patience: float = 2.0) -> None:
    """Give another user's process the moment between its mkdir and its chmod."""
    deadline = time.monotonic() + patience
    while not os.access(folder, os.W_OK | os.X_OK) and time.monotonic() < deadline:
        time.sleep(0.02)


def share_file(target: Path | str | int) -> None:
    """Make a file (a path or an open descriptor) :data:`SHARED_FILE_MODE`, if it is ours
    (another member's file keeps the mode it was given)."""
    if not _POSIX:
        return
    with contextlib.suppress(PermissionError, FileNotFoundError):
        if isinstance(target, int):
            os.fchmod(target, SHARED_FILE_MODE)
        else:
            os.chmod(target, SHARED_FILE_MODE)


def _nearest_existing(folder: Path) -> Path | None:
    current = Path(folder)
    while True:
        if current.exists():
            return current
        if current.parent == current:
            return None
        current = current.parent


def is_shared_folder(folder: Path | str, *, forced: bool = False) -> bool:
    """Whether what nbmodels writes under ``folder`` is for a team: ``forced`` (the setting
    ``shared_cache``), or the folder (else the nearest folder above it that exists, whose
    setgid bit a new folder inherits) has its setgid bit set."""
    if not _POSIX:
        return False
    if forced:
        return True
    found = _nearest_existing(Path(folder))
    with contextlib.suppress(OSError):
        return found is not None and bool(found.stat().st_mode & stat.S_ISGID)
    return False


def check_shared_folder(folder: Path | str, *, why: str = "it is shared") -> None:
    """A :class:`StorageError` naming ``folder`` and what to set, when it exists but its
    group may not write to it (or this user is not in its group). Nothing else is checked:
    a folder that does not exist yet is created :data:`SHARED_DIR_MODE`."""
    path = Path(folder)
    if not _POSIX:
        return
    try:
        st = path.stat()
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    group = _group_name(st.st_gid)
    if not st.st_mode & stat.S_IWGRP:
        raise StorageError(
            f"{path} is a shared model folder ({why}), but its group ({group}) may not write "
            "to it: the team's other members could not add to what is written there. Run "
            f"`chmod g+ws {path}` and `chgrp <team> {path}` (the team's group; `chmod -R g+w` "
            "and `chgrp -R <team>` for what is already inside), or use a folder of your own "
            "(HF_HUB_CACHE, OLLAMA_MODELS) without NBMODELS_SHARED_CACHE.",
            path=str(path),
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(
            f"{path} is a shared model folder ({why}) whose group is {group}, and this user "
            f"may not write to it: join that group (`usermod -aG {group} <user>`, then log "
            f"in again), or `chgrp <team> {path}` if {group} is not the team's group.",
            path=str(path),
        )


def _group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)


@contextlib.contextmanager
def atomic_path(path: Path | str, *, fsync: bool = False, shared: bool = False) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; moved into place on success.

    ``fsync=True`` flushes the file to disk before the move (survives a power cut, not only
    a killed process). On an exception the temporary file is removed and ``path`` is left
    as it was. ``shared=True``: the file is :data:`SHARED_FILE_MODE` (not ``mkstemp``'s
    0600) and the folders created :data:`SHARED_DIR_MODE`.
    """
    target = Path(path)
    ensure_dir(target.parent, shared=shared)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise storage_error(target, exc) from None
    if shared:
        share_file(fd)
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


def atomic_write(
    path: Path | str, data: bytes, *, fsync: bool = False, shared: bool = False
) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync, shared=shared) as tmp:
        tmp.write_bytes(data)
