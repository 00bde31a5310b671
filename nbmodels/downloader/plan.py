"""What a download would fetch, before anything is written: a repository's files
(:class:`RemoteFile`), the plan of a download (:class:`DownloadPlan`, what ``dry_run=True``
returns), what :func:`~nbmodels.downloader.core.verify` found (:class:`VerifyReport`), and
the checks on every name that comes from a server before it becomes a path:

* **server-given names:** every sha, oid and etag the server sends is checked to be hex of the
  right length before it names a file (``_hex``), and every path is checked to stay inside
  the cache (or ``local_dir``: ``_inside``);
* **file names:** names with ``..``, absolute paths or backslashes are refused
  (:func:`safe_relative_path`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DownloadError, UnsafePathError
from ..units import format_size

__all__ = [
    "LOCK_SUFFIX",
    "PARTIAL_SUFFIX",
    "DownloadPlan",
    "PlannedFile",
    "RemoteFile",
    "VerifyReport",
    "repo_folder",
    "safe_relative_path",
]

PARTIAL_SUFFIX = ".nbmodels-partial"
LOCK_SUFFIX = ".nbmodels-lock"


# -- what a repository holds -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file of a repository at a commit, as the Hub describes it."""

    path: str
    size: int
    sha256: str | None = None  # LFS files: the content's sha256 (also their etag)
    blob_id: str | None = None  # git files: the git blob sha1 (their etag)

    @property
    def etag(self) -> str:
        """The name of its blob in the HF cache (what ``hf_hub_download`` names it)."""
        name = self.sha256 or self.blob_id
        if not name:
            raise DownloadError(f"{self.path}: the source gave no hash for it; cannot verify.")
        return name


@dataclass(frozen=True, slots=True)
class PlannedFile:
    file: RemoteFile
    cached: bool  # the verified blob is already in the cache
    partial_bytes: int = 0  # bytes of an interrupted transfer waiting to be resumed


@dataclass(frozen=True)
class DownloadPlan:
    """What a download would do (``dry_run=True``), before anything is written."""

    model_id: str
    revision: str
    commit: str
    files: tuple[PlannedFile, ...]
    target: Path  # the snapshot folder (or local_dir)
    free_bytes: int | None = None
    local_dir: bool = False  # files go straight into ``target`` (no cache layout)
    kind: str = "huggingface"  # "ollama": through a running Ollama; "ollama-registry": OCI
    manifest: Any = None  # ollama-registry: the manifest written once every blob is in
    source_url: str = ""  # ollama-registry: <registry>/v2/<namespace>/<model>

    @property
    def total_bytes(self) -> int:
        return sum(p.file.size for p in self.files)

    @property
    def missing_bytes(self) -> int:
        """Bytes still to fetch: not cached, less what partial files already hold."""
        return sum(p.file.size - p.partial_bytes for p in self.files if not p.cached)

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "file": p.file.path,
                    "size": p.file.size,
                    "cached": p.cached,
                    "partial_bytes": p.partial_bytes,
                    "sha256": p.file.sha256,
                }
                for p in self.files
            ]
        )

    def _repr_html_(self) -> str:
        import html

        frame = self.to_frame()
        return (
            f"<b>{html.escape(self.model_id)}</b> at {self.commit[:8]}: {len(self.files)} files, "
            f"{format_size(self.total_bytes)}; {sum(p.cached for p in self.files)} cached, "
            f"{format_size(self.missing_bytes)} to fetch"
            + (f", {format_size(self.free_bytes)} free" if self.free_bytes is not None else "")
            + frame.to_html(index=False, border=0)
        )

    def __repr__(self) -> str:
        cached = sum(p.cached for p in self.files)
        return (
            f"<DownloadPlan {self.model_id}@{self.commit[:8]}: {len(self.files)} files, "
            f"{format_size(self.total_bytes)}; {cached} cached, {format_size(self.missing_bytes)} to fetch>"
        )


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: every file of a snapshot rechecked against its hash."""

    model_id: str
    commit: str
    ok: tuple[str, ...]
    bad: tuple[str, ...]  # hash or size mismatch (removed when ``repair=True``)
    missing: tuple[str, ...]

    @property
    def is_ok(self) -> bool:
        return not self.bad and not self.missing

    def __repr__(self) -> str:
        state = (
            "all verified" if self.is_ok else f"{len(self.bad)} bad, {len(self.missing)} missing"
        )
        return f"<VerifyReport {self.model_id}@{self.commit[:8]}: {len(self.ok)} ok, {state}>"


# -- paths ---------------------------------------------------------------------------------------
def safe_relative_path(path: str) -> PurePosixPath:
    """``path`` as a relative POSIX path inside a model folder; UnsafePathError otherwise."""
    if not isinstance(path, str) or not path or "\\" in path or "\x00" in path:
        raise UnsafePathError(f"Refusing the file name {path!r}: not a plain relative path.")
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        raise UnsafePathError(
            f"Refusing the file name {path!r}: it points outside the model's folder."
        )
    return pure


def repo_folder(cache: Path, repo_id: str) -> Path:
    """The HF cache folder of a model repository (``models--org--name``)."""
    return Path(cache) / ("models--" + repo_id.replace("/", "--"))


# -- server-given names ---------------------------------------------------------------------
_HEX = {40: re.compile(r"[0-9a-f]{40}"), 64: re.compile(r"[0-9a-f]{64}")}


def _hex(value: Any, length: int, what: str, model_id: str) -> str:
    """``value`` if it is lowercase hex of ``length`` characters; DownloadError otherwise.

    Shas, oids and etags come from the server and become file names: one that is not a
    hash (``../../x``) must never reach a path."""
    if isinstance(value, str) and _HEX[length].fullmatch(value):
        return value
    raise DownloadError(
        f"{model_id}: the server sent {what} {str(value)[:80]!r}, which is not a "
        f"{length}-character hex hash; refusing to use it (is HF_ENDPOINT a real Hub?)."
    )


def _inside(root: Path, path: Path) -> Path:
    """``path`` if it stays inside ``root`` once resolved; UnsafePathError otherwise."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
    except ValueError:
        raise UnsafePathError(
            f"Refusing to write {path}: it is outside {root}, where this download belongs."
        ) from None
    return path


# -- choosing files and room ---------------------------------------------------------------
def _select(
    files: list[RemoteFile],
    allow: str | Sequence[str] | None,
    ignore: str | Sequence[str] | None,
) -> list[RemoteFile]:
    def patterns(value: str | Sequence[str] | None) -> list[str]:
        if value is None:
            return []
        items = [value] if isinstance(value, str) else list(value)
        # "folder/" means everything below it, as in huggingface_hub
        return [p + "*" if p.endswith("/") else p for p in items]

    allowed, ignored = patterns(allow), patterns(ignore)
    return [
        f
        for f in files
        if (not allowed or any(fnmatch.fnmatch(f.path, p) for p in allowed))
        and not any(fnmatch.fnmatch(f.path, p) for p in ignored)
    ]


def _free_bytes(target: Path) -> int | None:
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None
