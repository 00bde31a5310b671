"""Where a download's bytes live on disk, and how they get there safely.

Files land where ``huggingface_hub`` puts them (``models--org--name/blobs/<etag>``, a
``snapshots/<commit>/<path>`` link to each blob, ``refs/<branch>``), so
``transformers.from_pretrained(repo_id)`` finds them with ``HF_HUB_OFFLINE=1`` and
``huggingface_hub.scan_cache_dir()`` lists them; or into a plain ``local_dir``; or, for an
Ollama registry pull, into Ollama's store (blobs by digest, the manifest written last).

* **resume across processes:** each writer appends to a file of its own
  (``blobs/<etag>.<writer>.nbmodels-partial``); a writer that stops leaves its bytes as
  ``blobs/<etag>.nbmodels-partial``, and the next one (this process or another, after a
  crash too) adopts the largest such file of a writer that is gone and goes on from there
  (``Range:``), after hashing what is already there;
* **one writer per blob, and no trust in it:** a lease next to the blob
  (:mod:`nbmodels.downloader.lease`) keeps two processes from fetching the same bytes, but
  correctness does not rest on it: a file is published (linked into ``blobs/``, tolerating
  one already there) only when the file itself holds exactly the bytes that were hashed;
  a partial file never appears under ``snapshots/``;
* **local_dir:** a file already there counts only if it is the file asked for (the etag
  recorded when it was written, else its hash), never by its size alone;
* **a team's cache** (``NBMODELS_SHARED_CACHE``, or a cache folder with its setgid bit set,
  on a network file system too): every folder created is ``2775`` and every file (blobs,
  partial files, leases, refs, Ollama manifests) ``0664`` whatever the umask, so the
  members of the folder's group read and extend what any of them wrote; a shared folder its
  group may not write to is refused before anything is written (:meth:`DiskLayout._check_shared`).

:class:`DiskLayout` is the part of :class:`~nbmodels.downloader.core.Downloader` that knows
these places (the downloader is one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from ..files import (
    atomic_write,
    check_shared_folder,
    ensure_dir,
    is_shared_folder,
    share_file,
    storage_error,
)
from ..settings import Settings
from .http import _hash_existing, _Hasher
from .lease import Lease, pid_alive
from .plan import (
    PARTIAL_SUFFIX,
    DownloadPlan,
    RemoteFile,
    _hex,
    _inside,
    repo_folder,
    safe_relative_path,
)

__all__ = ["DiskLayout"]


class DiskLayout:
    """The files of a plan on disk: blobs, partial files, local_dir records, snapshot links."""

    settings: Settings
    lease_timeout: float  # another writer's partial file untouched this long is taken over
    fsync: bool  # flush a file to the disk before it is published

    # -- paths -------------------------------------------------------------------------------
    def _root(self, plan: DownloadPlan) -> Path:
        """The folder every path of ``plan`` must stay inside."""
        if plan.kind == "ollama-registry":
            return Path(self.settings.ollama_models)
        if self._is_local_dir(plan):
            return plan.target
        return repo_folder(self.settings.hf_cache, plan.model_id)

    def _final_path(self, plan: DownloadPlan, f: RemoteFile) -> Path:
        if plan.kind == "ollama-registry":
            from ..storage.ollama_store import OllamaStore

            path = OllamaStore(self.settings.ollama_models).blob_path(f.path)
        elif self._is_local_dir(plan):
            path = plan.target / safe_relative_path(f.path)
        else:
            path = repo_folder(self.settings.hf_cache, plan.model_id) / "blobs" / f.etag
        return _inside(self._root(plan), path)

    def _partial_path(self, plan: DownloadPlan, f: RemoteFile) -> Path:
        """Where a stopped transfer leaves its bytes for the next one to resume."""
        final = self._final_path(plan, f)
        if self._is_local_dir(plan):  # partials of a local_dir stay out of the model's folder
            return plan.target / ".nbmodels" / (f.etag + PARTIAL_SUFFIX)
        return final.with_name(final.name + PARTIAL_SUFFIX)

    def _partial_sizes(self, plan: DownloadPlan, f: RemoteFile) -> dict[Path, int]:
        """Every partial file of ``f``: the resumable one and each writer's own."""
        shared = self._partial_path(plan, f)
        stem = shared.name.removesuffix(PARTIAL_SUFFIX)
        found: dict[Path, int] = {}
        with contextlib.suppress(OSError):
            for path in [shared, *shared.parent.glob(f"{stem}.*{PARTIAL_SUFFIX}")]:
                with contextlib.suppress(OSError):
                    found[path] = path.stat().st_size
        return found

    def _meta_path(self, plan: DownloadPlan, f: RemoteFile) -> Path:
        """A local_dir's record of which etag each file holds (a file of the same size is
        not the same file)."""
        return plan.target / ".nbmodels" / "files" / (str(safe_relative_path(f.path)) + ".etag")

    def _have(self, plan: DownloadPlan, f: RemoteFile, *, hash_unrecorded: bool = True) -> bool:
        """Whether ``f``'s verified bytes are already in place.

        In the cache a blob is named by its hash and only a verified file becomes one, so
        its size is enough. A local_dir's file is checked against the etag recorded when it
        was written (and its size and mtime then), else hashed (once, when the plan is made:
        ``hash_unrecorded=False`` afterwards, where only another writer's record can change
        the answer)."""
        final = self._final_path(plan, f)
        try:
            st = final.stat()
        except OSError:
            return False
        if st.st_size != f.size or not final.is_file():
            return False
        if not self._is_local_dir(plan):
            return True
        meta = self._meta_path(plan, f)
        with contextlib.suppress(OSError, ValueError):
            etag, size, mtime = meta.read_text().split()
            if etag == f.etag and int(size) == st.st_size and int(mtime) == st.st_mtime_ns:
                return True
        if not hash_unrecorded:
            return False
        hasher = _Hasher(f)
        _hash_existing(final, hasher, st.st_size)
        if hasher.fed == f.size and hasher.matches():
            self._record(plan, f)
            return True
        return False

    def _record(self, plan: DownloadPlan, f: RemoteFile) -> None:
        if self._is_local_dir(plan):
            st = self._final_path(plan, f).stat()
            line = f"{f.etag} {st.st_size} {st.st_mtime_ns}\n"
            atomic_write(self._meta_path(plan, f), line.encode(), shared=self._shared(plan))

    def _is_local_dir(self, plan: DownloadPlan) -> bool:
        return plan.local_dir

    # -- a team's folder ----------------------------------------------------------------------
    def _store_root(self, plan: DownloadPlan) -> Path:
        """The folder whose setgid bit (or the setting) makes ``plan``'s files a team's."""
        if plan.kind.startswith("ollama"):
            return Path(self.settings.ollama_models)
        return plan.target if self._is_local_dir(plan) else Path(self.settings.hf_cache)

    def _shared(self, plan: DownloadPlan) -> bool:
        """Whether ``plan`` writes into a team's folder: group-writable folders (2775) and
        files (0664). ``shared_cache`` is about the cache and Ollama's store; a local_dir is
        shared only when its own folder has the setgid bit."""
        if plan.kind == "ollama":  # Ollama's server writes its own files
            return False
        forced = self.settings.shared_cache and not self._is_local_dir(plan)
        return is_shared_folder(self._store_root(plan), forced=forced)

    def _check_shared(self, plan: DownloadPlan) -> None:
        """Refuse (StorageError, naming the folder and what to set) a shared folder that the
        group may not write to, before anything is written."""
        if not self._shared(plan):
            return
        root = self._store_root(plan)
        forced = self.settings.shared_cache and not self._is_local_dir(plan)
        why = "NBMODELS_SHARED_CACHE is on" if forced else f"{root} has its setgid bit set"
        folders = [root, self._root(plan), plan.target]
        if plan.kind == "ollama-registry":
            folders += [root / "blobs", *plan.target.parents]
        elif self._is_local_dir(plan):
            folders.append(plan.target / ".nbmodels")
        else:
            folders += [self._root(plan) / name for name in ("blobs", "snapshots", "refs")]
        seen: set[Path] = set()
        for folder in folders:
            if folder not in seen and (folder == root or folder.is_relative_to(root)):
                seen.add(folder)
                check_shared_folder(folder, why=why)

    def _create_file(self, plan: DownloadPlan, path: Path) -> None:
        """``path`` created empty if missing (a writer's own file), 0664 in a shared folder."""
        try:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o664)
        except OSError as exc:
            raise storage_error(path, exc) from None
        try:
            if self._shared(plan):
                share_file(fd)
        finally:
            os.close(fd)

    # -- a writer's own file ------------------------------------------------------------------
    def _adopt(self, plan: DownloadPlan, f: RemoteFile, lease: Lease) -> Path:
        """This writer's own partial file: the largest resumable partial of ``f`` whose
        writer is gone, renamed to this writer's name (or a new empty one).

        Each writer appends to a file only it writes, so the bytes it hashed are the bytes
        it publishes; a second writer on the same blob (a lease taken over from a frozen
        holder) writes a file of its own."""
        shared = self._partial_path(plan, f)
        stem = shared.name.removesuffix(PARTIAL_SUFFIX)
        host = socket.gethostname()
        mine = shared.with_name(f"{stem}.{lease.token.split()[-1]}.{os.getpid()}.{host}")
        mine = mine.with_name(mine.name + PARTIAL_SUFFIX)
        candidates = []
        for path, size in self._partial_sizes(plan, f).items():
            owner = path.name.removesuffix(PARTIAL_SUFFIX).split(".", 3)[1:]
            if path != shared and len(owner) == 3:  # another writer's: only if it is gone
                _nonce, pid, on = owner
                if on == host and pid.isdigit():
                    if pid_alive(int(pid)):
                        continue
                else:
                    with contextlib.suppress(OSError):
                        if time.time() - path.stat().st_mtime < self.lease_timeout:
                            continue
            candidates.append((size if size <= f.size else -1, path))
        candidates.sort(reverse=True)
        for size, path in candidates:
            if size >= 0 and not mine.exists():
                with contextlib.suppress(FileNotFoundError):
                    os.rename(path, mine)
                    continue
            path.unlink(missing_ok=True)  # too long to trust, or a smaller copy
        self._create_file(plan, mine)
        return mine

    def _keep_for_resume(self, plan: DownloadPlan, f: RemoteFile, mine: Path) -> None:
        """A stopped writer's bytes under the resumable name (the larger copy wins)."""
        shared = self._partial_path(plan, f)
        with contextlib.suppress(OSError):
            if not mine.exists():
                return
            if shared.exists() and shared.stat().st_size >= mine.stat().st_size:
                mine.unlink()
            else:
                os.replace(mine, shared)

    def _publish(self, plan: DownloadPlan, f: RemoteFile, mine: Path) -> None:
        """Put ``mine`` (verified) in place. A cache blob is linked, and one already there
        (another writer's verified copy) is kept; a local_dir file replaces what was there."""
        if self.fsync:  # on the disk itself before it becomes the blob (power cuts)
            with open(mine, "rb") as fh:
                os.fsync(fh.fileno())
        final = self._final_path(plan, f)
        try:
            ensure_dir(final.parent, shared=self._shared(plan))
            if self._is_local_dir(plan):
                os.replace(mine, final)
                self._record(plan, f)
                return
            try:
                os.link(mine, final)
            except FileExistsError:
                if final.stat().st_size != f.size:
                    os.replace(mine, final)  # not a blob we or huggingface_hub would write
                    return
            except OSError:  # no hard links here: a rename does the same
                os.replace(mine, final)
                return
            mine.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(final, exc) from None

    def _link(self, plan: DownloadPlan) -> None:
        """``snapshots/<commit>/<path>`` links to the blobs, and ``refs/<revision>``; for an
        Ollama registry pull, the manifest (written last: the model appears whole or not)."""
        shared = self._shared(plan)
        if plan.kind == "ollama-registry":
            from ..storage.ollama_store import OllamaStore

            store = OllamaStore(self.settings.ollama_models, shared=shared)
            store.write_manifest(plan.model_id, plan.manifest)
            return
        if self._is_local_dir(plan):
            return
        folder = repo_folder(self.settings.hf_cache, plan.model_id)
        _hex(plan.commit, 40, "the commit", plan.model_id)
        for planned in plan.files:
            f = planned.file
            link = _inside(folder, plan.target / safe_relative_path(f.path))
            blob = self._final_path(plan, f)
            ensure_dir(link.parent, shared=shared)
            relative = os.path.relpath(blob, link.parent)
            if link.is_symlink() and os.readlink(link) == relative:
                continue
            tmp = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.unlink(missing_ok=True)
                try:
                    os.symlink(relative, tmp)
                except OSError:  # no symlinks here (some Windows setups): a copy, like the Hub's
                    shutil.copyfile(blob, tmp)
                    if shared:
                        share_file(tmp)
                os.replace(tmp, link)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise storage_error(link, exc) from None
        if plan.revision != plan.commit:
            ref = _inside(folder, folder / "refs" / safe_relative_path(plan.revision))
            atomic_write(ref, plan.commit.encode(), shared=shared)
