"""Model repos on disk, seen the way the Hub shows them: files, blob ids, commits, revisions.

A repos folder holds one folder per repo, ``<repos_dir>/<org>/<name>/``. Its files are the
``main`` branch. Other revisions use a simple convention:

- ``<repo>/.revisions/<branch>/`` is a complete tree for the branch ``<branch>``;
- ``<repo>/.tags/<tag>/`` is a complete tree for the tag ``<tag>``.

Names starting with ``.nbmodels`` (build stamps), and ``.git``, ``.cache``, ``.revisions`` and
``.tags`` are never served. Every revision gets a deterministic 40-hex commit sha computed from its repo id
and its files, so the same files always give the same commit.

Files are hashed as git does: small files by their git blob sha1; LFS files (weights, or any
file of 10 MiB or more) by their sha256, with the sha1 of their LFS pointer as the blob id.
Hashes are cached by (path, size, mtime), so scanning a repo on each request stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "LFS_MIN_SIZE",
    "LFS_SUFFIXES",
    "RepoFile",
    "RepoStore",
    "Revision",
    "read_front_matter",
    "safetensors_parameters",
]

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".onnx", ".h5", ".msgpack")
LFS_MIN_SIZE = 10 * 1024 * 1024
_HIDDEN_NAMES = frozenset({".git", ".revisions", ".tags", ".cache"})
_HIDDEN_PREFIX = ".nbmodels"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RepoFile:
    """One file of a revision."""

    path: str  # posix, relative to the repo root
    local: Path
    size: int
    blob_id: str  # git blob sha1 (of the LFS pointer for LFS files)
    sha256: str | None  # set for LFS files only

    @property
    def lfs(self) -> bool:
        return self.sha256 is not None

    @property
    def etag(self) -> str:
        """What ``/resolve`` sends as ETag: the sha256 for LFS files, else the blob sha1."""
        return self.sha256 or self.blob_id

    @property
    def pointer_size(self) -> int:
        return len(_lfs_pointer(self.sha256 or "", self.size))


def _hidden(name: str) -> bool:
    return name in _HIDDEN_NAMES or name.startswith(_HIDDEN_PREFIX)


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


_SCAN_REUSE_S = 1.0  # how long a scan is trusted while no folder's mtime moved


def _folder_stamps(root: Path) -> tuple[tuple[str, int], ...]:
    """Each folder of a repo with its mtime: a file added, removed or renamed changes one."""
    stamps = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        with contextlib.suppress(OSError):
            stamps.append((dirpath, os.stat(dirpath).st_mtime_ns))
    return tuple(sorted(stamps))


def _is_lfs(path: str, size: int) -> bool:
    return size >= LFS_MIN_SIZE or path.lower().endswith(LFS_SUFFIXES)


@dataclass(frozen=True)
class Revision:
    """A snapshot of a repo: a branch or tag name, its commit and its files (sorted by path)."""

    repo_id: str
    name: str
    kind: str  # "branch" or "tag"
    commit: str
    root: Path
    files: tuple[RepoFile, ...]
    last_modified: datetime
    created_at: datetime

    def file(self, path: str) -> RepoFile | None:
        return next((f for f in self.files if f.path == path), None)

    def directories(self) -> list[str]:
        dirs = {str(p) for f in self.files for p in PurePosixPath(f.path).parents if str(p) != "."}
        return sorted(dirs)

    def is_dir(self, path: str) -> bool:
        return path in ("", ".") or path in self.directories()

    def tree(self, path: str = "", *, recursive: bool = False) -> list[dict[str, Any]] | None:
        """Tree entries under ``path`` as ``/api/models/{id}/tree`` sends them; None if no such folder."""
        path = path.strip("/")
        if not self.is_dir(path):
            return None
        prefix = f"{path}/" if path else ""
        entries: list[dict[str, Any]] = []
        for folder in self.directories():
            rest = folder[len(prefix) :]
            if folder.startswith(prefix) and (recursive or "/" not in rest):
                entries.append({"type": "directory", "path": folder, "oid": self._dir_oid(folder)})
        for f in self.files:
            rest = f.path[len(prefix) :]
            if f.path.startswith(prefix) and (recursive or "/" not in rest):
                entries.append(_tree_file(f))
        return sorted(entries, key=lambda e: e["path"])

    def entry(self, path: str) -> dict[str, Any] | None:
        """The tree entry of one file or folder (as ``paths-info`` sends it); None if absent."""
        path = path.strip("/")
        file = self.file(path)
        if file is not None:
            return _tree_file(file)
        if path and path in self.directories():
            return {"type": "directory", "path": path, "oid": self._dir_oid(path)}
        return None

    def _dir_oid(self, folder: str) -> str:
        inside = "".join(
            f"{f.path} {f.blob_id}\n" for f in self.files if f.path.startswith(folder + "/")
        )
        return hashlib.sha1(f"tree {folder}\n{inside}".encode()).hexdigest()

    @property
    def used_storage(self) -> int:
        return sum(f.size for f in self.files)


def _tree_file(f: RepoFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "path": f.path, "oid": f.blob_id, "size": f.size}
    if f.sha256:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
    return entry


class RepoStore:
    """The repos of a folder laid out as ``<root>/<org>/<name>/`` (see the module docstring)."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self._hashes: dict[tuple[str, int, int], tuple[str, str | None]] = {}
        self._scans: dict[
            tuple[str, str, str], tuple[tuple[tuple[str, int], ...], float, Revision]
        ] = {}
        self._lock = threading.Lock()

    def repo_ids(self) -> list[str]:
        if self.root is None or not self.root.is_dir():
            return []
        ids = []
        for org in sorted(self.root.iterdir()):
            if org.is_dir() and not org.name.startswith("."):
                ids += [
                    f"{org.name}/{repo.name}"
                    for repo in sorted(org.iterdir())
                    if repo.is_dir() and not repo.name.startswith(".")
                ]
        return ids

    def folder(self, repo_id: str) -> Path | None:
        parts = repo_id.split("/")
        if (
            self.root is None
            or len(parts) != 2
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        ):
            return None
        folder = self.root / parts[0] / parts[1]
        return folder if folder.is_dir() else None

    def exists(self, repo_id: str) -> bool:
        return self.folder(repo_id) is not None

    def revisions(self, repo_id: str) -> list[Revision]:
        """``main`` first, then the other branches, then the tags; empty for an unknown repo."""
        folder = self.folder(repo_id)
        if folder is None:
            return []
        revs = [self._scan(repo_id, "main", "branch", folder)]
        for sub, kind in ((".revisions", "branch"), (".tags", "tag")):
            base = folder / sub
            if base.is_dir():
                revs += [
                    self._scan(repo_id, d.name, kind, d)
                    for d in sorted(base.iterdir())
                    if d.is_dir() and not (kind == "branch" and d.name == "main")
                ]
        return revs

    def resolve(self, repo_id: str, revision: str) -> Revision | None:
        """The revision named ``revision`` (branch, tag, ``refs/heads/x``, or a commit sha)."""
        revs = self.revisions(repo_id)
        for prefix in ("refs/heads/", "refs/tags/"):
            revision = revision.removeprefix(prefix)
        for rev in revs:
            if revision in (rev.name, rev.commit):
                return rev
        return None

    # -- scanning and hashing ------------------------------------------------------------

    def _scan(self, repo_id: str, name: str, kind: str, root: Path) -> Revision:
        """The revision as the files are now. A scan is reused for a moment while no folder of
        the repo changed (every request resolves a revision: a 500-file repo would otherwise be
        walked and stat-ed 500 times for one snapshot download)."""
        dirs = _folder_stamps(root)
        key = (repo_id, name, str(root))
        now = time.monotonic()
        with self._lock:
            cached = self._scans.get(key)
        if cached is not None and cached[0] == dirs and now - cached[1] < _SCAN_REUSE_S:
            return cached[2]
        revision = self._walk(repo_id, name, kind, root)
        with self._lock:
            self._scans[key] = (dirs, now, revision)
        return revision

    def _walk(self, repo_id: str, name: str, kind: str, root: Path) -> Revision:
        files = []
        mtimes = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
            for filename in sorted(filenames):
                if _hidden(filename):
                    continue
                local = Path(dirpath) / filename
                st = local.stat()
                rel = local.relative_to(root).as_posix()
                blob_id, sha256 = self._hash(local, rel, st.st_size, st.st_mtime_ns)
                files.append(RepoFile(rel, local, st.st_size, blob_id, sha256))
                mtimes.append(st.st_mtime)
        files.sort(key=lambda f: f.path)
        listing = "".join(f"{f.path} {f.blob_id}\n" for f in files)
        commit = hashlib.sha1(f"commit {repo_id}\n{listing}".encode()).hexdigest()
        newest = max(mtimes, default=root.stat().st_mtime)
        oldest = min(mtimes, default=newest)
        return Revision(
            repo_id=repo_id,
            name=name,
            kind=kind,
            commit=commit,
            root=root,
            files=tuple(files),
            last_modified=datetime.fromtimestamp(newest, UTC),
            created_at=datetime.fromtimestamp(oldest, UTC),
        )

    def _hash(self, local: Path, rel: str, size: int, mtime_ns: int) -> tuple[str, str | None]:
        key = (str(local), size, mtime_ns)
        with self._lock:
            cached = self._hashes.get(key)
        if cached is not None:
            return cached
        if _is_lfs(rel, size):
            digest = hashlib.sha256()
            with local.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
            sha256 = digest.hexdigest()
            result: tuple[str, str | None] = (_git_blob_sha1(_lfs_pointer(sha256, size)), sha256)
        else:
            result = (_git_blob_sha1(local.read_bytes()), None)
        with self._lock:
            self._hashes[key] = result
        return result


# -- what the model info needs from the files ------------------------------------------


def read_front_matter(path: Path) -> dict[str, Any] | None:
    """The YAML front matter of a model card (``---`` ... ``---``), or None if it has none."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
        data = yaml.safe_load("\n".join(lines[1:end]))
    except (StopIteration, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def safetensors_parameters(paths: list[Path]) -> dict[str, Any] | None:
    """``{"parameters": {dtype: n}, "total": n}`` (the Hub's ``safetensors`` field) from the
    headers of safetensors files; None if there are none or one is damaged."""
    from nbmodels.weights import read_safetensors_files

    try:
        info = read_safetensors_files(paths)
    except (OSError, ValueError):
        return None
    return info.as_hub() if info.parameters else None
