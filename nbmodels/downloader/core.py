"""Downloads into the standard Hugging Face cache: in the background, resumable, verified.

    >>> task = nbmodels.download("nbmodels-demo/tiny-llama-chat")   # returns at once
    >>> task.progress.progress_percentage, task.progress.bytes_per_second
    >>> task.wait(); task.result()          # the snapshot folder transformers loads offline
    >>> nbmodels.download("org/big", dry_run=True)   # what would be fetched, nothing written

Files land where ``huggingface_hub`` puts them, so ``transformers`` and
``huggingface_hub.scan_cache_dir()`` find them (or into a plain ``local_dir``; see
:mod:`nbmodels.downloader.layout`).

Written by hand, not with ``hf_hub_download``, because that function (huggingface_hub 2.4)
writes each download to a per-process ``<etag>.<uuid>.incomplete`` file deleted on failure,
so a killed kernel starts from zero; it checks sizes only, has no bandwidth limit and no
per-download cancel. Here, the :class:`Downloader` runs each task's files:

* **resume across processes, one writer per blob:** a lease next to the blob
  (:mod:`nbmodels.downloader.lease`: ``O_EXCL``, a heartbeat thread while the holder lives,
  an atomic takeover of a dead holder's lease) keeps two processes from fetching the same
  bytes; a holder that lost its lease stops before writing again. Each writer appends to a
  file of its own, resumed from the largest one a gone writer left, and published only when
  it holds exactly the bytes that were hashed (:mod:`nbmodels.downloader.layout`);
* **verified as it streams** (:mod:`nbmodels.downloader.http`): a mismatch deletes the bytes
  and fetches the file once more, then raises :class:`~nbmodels.errors.ChecksumMismatchError`
  naming it;
* **limits:** ``max_concurrent_downloads`` transfers at once, one bandwidth limit shared by
  all of them, retries with exponential backoff and jitter on resets, 5xx, 429 (its
  ``Retry-After``, capped by ``max_retry_after``) and stalls (no byte for ``stall_timeout``
  seconds), for the file list as for the files; an attempt that made progress starts the
  retry count again;
* **safety:** every name a server sends is checked before it becomes a path
  (:mod:`nbmodels.downloader.plan`); the token goes to the endpoint's host only
  (:mod:`nbmodels.downloader.http`).

Ollama pulls: :mod:`nbmodels.downloader.ollama`; the task the caller holds:
:mod:`nbmodels.downloader.task`. ``nbmodels.verify(model)`` rechecks what is on disk.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import (
    ChecksumMismatchError,
    ConfigurationError,
    DownloadCancelledError,
    DownloadError,
    InsufficientSpaceError,
    NBModelsError,
    RegistryWarning,
)
from ..files import ensure_dir
from ..settings import Settings, default_settings
from ..types import DownloadProgress, DownloadStatus, ModelMetadata
from ..units import format_size
from .http import (
    _BUFFER,
    Throttle,
    _attempt,
    _hash_existing,
    _Hasher,
    _LeaseLost,
    _Retry,
    _retry_after,
)
from .layout import DiskLayout
from .lease import HEARTBEAT_S, Lease
from .mirrors import fetch as _fetch_from_mirrors
from .mirrors import parse_mirrors, sources_for
from .ollama import _pull_ollama, _start_ollama
from .plan import (
    LOCK_SUFFIX,
    DownloadPlan,
    PlannedFile,
    RemoteFile,
    VerifyReport,
    _free_bytes,
    _hex,
    _select,
    repo_folder,
    safe_relative_path,
)
from .plan import PARTIAL_SUFFIX as PARTIAL_SUFFIX  # re-exported: imported from here
from .task import DownloadTask

__all__ = [
    "DownloadPlan",
    "DownloadTask",
    "Downloader",
    "PlannedFile",
    "RemoteFile",
    "VerifyReport",
    "download",
    "downloads",
    "verify",
]

_PROGRESS = 64 * 1024  # an attempt that moved a file this far forward resets the retry count

Callback = Callable[[str, int, int | None, DownloadStatus], None]


# -- the downloader -----------------------------------------------------------------------------
class Downloader(DiskLayout):
    """Runs downloads with shared limits: ``max_concurrent_downloads`` file transfers at once
    (across all tasks), one bandwidth limit (``max_bytes_per_second``), a transfer with no byte
    for ``stall_timeout`` seconds retried.

    ``retries`` counts failed attempts in a row that brought no progress (an attempt that
    moved the file forward by at least 64 KiB starts the count again, so a connection that
    drops every few MB still finishes a big file); a server's ``Retry-After`` is honoured up
    to ``max_retry_after`` seconds. A file whose bytes fail their hash is fetched once more
    before the download fails. ``lease_timeout``: how long another process's lease on a file
    may go without a heartbeat before it is taken over (the holder beats every couple of
    seconds while it lives, whatever it is doing).

    ``fsync=True`` flushes each file to the disk before it becomes a blob (survives a power
    cut; costs time per file). ``callbacks`` get the seed's ``(model_id, downloaded, total,
    status)`` at every update;
    ``on_progress`` callbacks get the whole :class:`DownloadProgress` snapshot.

    ``mirrors``: where files' bytes come from, in order (Hub-compatible URLs, team cache
    folders; default: the setting ``mirrors``), each file checked by the primary endpoint's
    hash (:mod:`nbmodels.downloader.mirrors`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        max_concurrent_downloads: int = 4,
        ollama_registry: str = "https://registry.ollama.ai",
        max_bytes_per_second: float | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        stall_timeout: float = 30.0,
        max_retry_after: float = 60.0,
        lease_timeout: float = 15.0,
        check_free_space: bool = True,
        fsync: bool = False,
        callbacks: Iterable[Callback] = (),
        on_progress: Iterable[Callable[[DownloadProgress], None]] = (),
        mirrors: str | Iterable[str] | None = None,
    ) -> None:
        if max_concurrent_downloads < 1:
            raise ConfigurationError(
                f"max_concurrent_downloads must be at least 1, got {max_concurrent_downloads!r}."
            )
        if retries < 0:
            raise ConfigurationError(f"retries must be 0 or more, got {retries!r}.")
        self.settings = settings or default_settings()
        # until Settings has the field: NBMODELS_MIRRORS is read there, as every variable
        entries = mirrors if mirrors is not None else getattr(self.settings, "mirrors", None)
        self.mirrors = self._mirrors(entries)
        self.max_concurrent_downloads = max_concurrent_downloads
        self.ollama_registry = ollama_registry.rstrip("/")
        self.throttle = Throttle(max_bytes_per_second)
        self.retries = retries
        self.backoff = backoff
        self.stall_timeout = stall_timeout
        self.max_retry_after = max_retry_after
        self.lease_timeout = lease_timeout
        self.check_free_space = check_free_space
        # off by default, as in huggingface_hub: a killed process loses nothing written (the
        # page cache survives it); fsync=True also survives a power cut, at a cost per file
        self.fsync = fsync
        self.callbacks: list[Callback] = list(callbacks)
        self.on_progress: list[Callable[[DownloadProgress], None]] = list(on_progress)
        self._slots = threading.BoundedSemaphore(max_concurrent_downloads)
        self._tasks: list[DownloadTask] = []
        self._tasks_lock = threading.Lock()
        self._broken_callbacks: set[int] = set()  # said once each
        self.active_transfers = 0  # for tests and the panel: transfers running right now
        self.peak_transfers = 0

    def _register(self, task: DownloadTask) -> None:
        """Record a finished download in the home's registry, and a new version of the model
        when its commit (Hub) or manifest digest (Ollama) is not its current version's. The
        download stands either way: a registry that cannot be written is said (a warning),
        not raised."""
        import warnings

        from ..storage.registry import register_download
        from ..storage.versions import record_if_changed

        plan = task.plan
        try:
            registry = register_download(
                self.settings, plan.model_id, plan.kind, plan.target, plan.commit
            )
        except NBModelsError as exc:
            warnings.warn(
                f"{plan.model_id} is downloaded, but the registry could not record it: {exc} "
                "(nbmodels.registry.update_index() records it later).",
                RegistryWarning,
                stacklevel=2,
            )
            return
        ollama = plan.kind.startswith("ollama")
        try:
            record_if_changed(
                registry,
                f"{'ollama' if ollama else 'huggingface'}:{plan.model_id}",
                commit=None if ollama else plan.commit,
                files=None if ollama else self._checked_files(plan),
                note="pulled" if ollama else f"downloaded at {plan.revision}",
            )
        except (NBModelsError, OSError) as exc:
            warnings.warn(
                f"{plan.model_id} is downloaded and registered, but its new version could not "
                f"be recorded: {exc} (nbmodels.storage.versions.record_version records it).",
                RegistryWarning,
                stacklevel=2,
            )

    def _checked_files(self, plan: DownloadPlan) -> list[dict[str, Any]]:
        """Each file of a finished download with its sha256: an LFS file's is its etag, checked
        as it streamed; a small git file (checked by its git sha1) is hashed here."""
        out = []
        for planned in plan.files:
            f = planned.file
            sha = f.sha256
            if sha is None:
                digest = hashlib.sha256()
                with open(self._final_path(plan, f), "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                sha = digest.hexdigest()
            out.append({"path": f.path, "size": f.size, "sha256": sha})
        return out

    def __repr__(self) -> str:
        limit = f"{format_size(self.throttle.rate)}/s" if self.throttle.rate else "no limit"
        return (
            f"<Downloader {len(self._tasks)} tasks, {self.max_concurrent_downloads} at once, "
            f"{limit}>"
        )

    # -- planning ----------------------------------------------------------------------------
    def plan(
        self,
        model_or_id: str | ModelMetadata,
        *,
        revision: str | None = None,
        allow_patterns: str | Sequence[str] | None = None,
        ignore_patterns: str | Sequence[str] | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        token: str | None = None,
    ) -> DownloadPlan:
        """The files a download would fetch, their sizes and what is already cached."""
        repo_id = model_or_id.id if isinstance(model_or_id, ModelMetadata) else str(model_or_id)
        from ..discover.sources.huggingface import HuggingFaceSource

        # the Hub source's id check, client and error mapping: one home for each
        source = HuggingFaceSource(self.settings, token=token)
        repo_id = source._repo_id(repo_id)
        if revision is not None:
            safe_relative_path(revision)  # it names refs/<revision> in the cache
        info = self._model_info(source, repo_id, revision)
        commit = _hex(str(info.sha or ""), 40, f"the commit of {revision or 'main'}", repo_id)
        files: list[RemoteFile] = []
        for sibling in info.siblings or ():
            name = str(sibling.rfilename)
            safe_relative_path(name)
            lfs = getattr(sibling, "lfs", None)
            sha256 = getattr(lfs, "sha256", None) if lfs is not None else None
            size = getattr(lfs, "size", None) if lfs is not None else None
            size = size if size is not None else getattr(sibling, "size", None)
            if size is None:
                raise DownloadError(f"{repo_id}: the Hub gave no size for {name}.")
            blob_id = getattr(sibling, "blob_id", None)
            if sha256 is not None:
                sha256 = _hex(sha256, 64, f"the sha256 of {name}", repo_id)
            if blob_id is not None:
                blob_id = _hex(blob_id, 40, f"the blob id of {name}", repo_id)
            files.append(RemoteFile(name, int(size), sha256, blob_id))
        files = _select(files, allow_patterns, ignore_patterns)
        if not files:
            raise ConfigurationError(
                f"No file of {repo_id} matches allow_patterns={allow_patterns!r}, "
                f"ignore_patterns={ignore_patterns!r}."
            )
        folder = repo_folder(self.settings.hf_cache, repo_id)
        target = Path(local_dir) if local_dir is not None else folder / "snapshots" / commit
        plan = DownloadPlan(
            repo_id, revision or "main", commit, (), target, local_dir=local_dir is not None
        )
        planned = []
        for f in files:
            cached = self._have(plan, f)
            have = max(self._partial_sizes(plan, f).values(), default=0)
            planned.append(PlannedFile(f, cached, 0 if cached else min(have, f.size)))
        free = _free_bytes(target)
        return replace(plan, files=tuple(planned), free_bytes=free)

    # -- starting ----------------------------------------------------------------------------
    def download(
        self,
        model_or_id: str | ModelMetadata,
        *,
        source: str | None = None,
        revision: str | None = None,
        allow_patterns: str | Sequence[str] | None = None,
        ignore_patterns: str | Sequence[str] | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        token: str | None = None,
        dry_run: bool = False,
        via: str | None = None,
        mirrors: str | Sequence[str] | None = None,
    ) -> DownloadTask | DownloadPlan:
        """Start downloading ``model_or_id``; returns a :class:`DownloadTask` at once (or, with
        ``dry_run=True``, the :class:`DownloadPlan` and writes nothing).

        ``source="ollama"`` pulls an Ollama model: ``via="api"`` through the Ollama at
        ``OLLAMA_HOST`` (``/api/pull``), ``via="registry"`` straight from the registry
        (``ollama_registry``) into Ollama's store on disk, each blob checked by its digest, no
        Ollama needed; by default the API when an Ollama answers, else the registry.
        ``mirrors``: this download's sources of bytes (see the class), instead of its own."""
        if source not in (None, "huggingface", "hf", "ollama"):
            raise ConfigurationError(
                f"download(source={source!r}): choose 'huggingface' (the default) or 'ollama'."
            )
        if isinstance(model_or_id, ModelMetadata) and source is None:
            source = "ollama" if model_or_id.source.value == "ollama" else None
        if source == "ollama":
            if mirrors:
                raise ConfigurationError("mirrors= are Hub mirrors: an Ollama pull has none.")
            plan, request = _start_ollama(
                self.settings, self.ollama_registry, model_or_id, dry_run=dry_run, via=via
            )
            return plan if dry_run else self._launch(plan, None, request)
        token = token if token is not None else self.settings.hf_token
        plan = self.plan(
            model_or_id,
            revision=revision,
            allow_patterns=allow_patterns,
            ignore_patterns=ignore_patterns,
            local_dir=local_dir,
            token=token,
        )
        if dry_run:
            return plan
        free = plan.free_bytes
        if self.check_free_space and free is not None and plan.missing_bytes > free:
            raise InsufficientSpaceError(
                f"{plan.model_id} needs {format_size(plan.missing_bytes)} more, and "
                f"{plan.target.parent} has {format_size(free)} free: free some space, "
                "choose fewer files (allow_patterns=...), or set HF_HUB_CACHE elsewhere."
            )
        request = {
            "model_or_id": model_or_id,
            "revision": revision,
            "allow_patterns": allow_patterns,
            "ignore_patterns": ignore_patterns,
            "local_dir": local_dir,
            "token": token,
            "mirrors": None if mirrors is None else self._mirrors(mirrors),
        }
        return self._launch(plan, token, request)

    def _mirrors(self, entries: str | Iterable[str] | None) -> tuple[str, ...]:
        """The sources ``entries`` name, checked (ConfigurationError now, not mid-download)."""
        return tuple(m.location for m in parse_mirrors(entries, self.settings.hf_endpoint))

    def _launch(
        self, plan: DownloadPlan, token: str | None, request: dict[str, Any]
    ) -> DownloadTask:
        """A task for ``plan``, recorded among this downloader's and started."""
        self._check_shared(plan)  # a team's folder its group may not write to: said now
        task = DownloadTask(self, plan, token, request)
        with self._tasks_lock:
            self._tasks.append(task)
        return task._start()

    def set_max_concurrent_downloads(self, n: int) -> None:
        """How many files may transfer at once, from the next transfer on (those running
        keep their slots)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigurationError(f"max_concurrent_downloads must be at least 1, got {n!r}.")
        self.max_concurrent_downloads = n
        self._slots = threading.BoundedSemaphore(n)

    def downloads(self) -> list[DownloadTask]:
        """Every task this downloader started, oldest first."""
        with self._tasks_lock:
            return list(self._tasks)

    # -- running -----------------------------------------------------------------------------
    def _notify(self, task: DownloadTask, progress: DownloadProgress) -> None:
        calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
            (cb, (task.model_id, progress.downloaded_bytes, progress.total_bytes, progress.status))
            for cb in self.callbacks
        ]
        calls += [(listener, (progress,)) for listener in self.on_progress]
        for fn, args in calls:
            try:
                fn(*args)
            except Exception as exc:  # a broken callback never stops a download, but is said
                if id(fn) not in self._broken_callbacks:
                    self._broken_callbacks.add(id(fn))
                    import warnings

                    from ..errors import NBModelsWarning

                    warnings.warn(
                        f"A download callback ({getattr(fn, '__name__', fn)!r}) raised "
                        f"{type(exc).__name__}: {exc}. The download goes on; this is said once.",
                        NBModelsWarning,
                        stacklevel=2,
                    )

    def _execute(self, task: DownloadTask) -> None:
        plan = task.plan
        if plan.kind == "ollama":
            return _pull_ollama(task, self.settings.ollama_host)
        todo = [p.file for p in plan.files if not p.cached]
        todo.sort(key=lambda f: -f.size)  # big files first: the slots stay busy to the end
        errors: list[BaseException] = []
        queue_lock = threading.Lock()
        done = [sum(p.cached for p in plan.files)]

        def worker() -> None:
            while not task._cancel.is_set():
                with queue_lock:
                    if not todo:
                        return
                    f = todo.pop(0)
                try:
                    self._file(task, f)
                except BaseException as exc:
                    errors.append(exc)
                    task._cancel.set()  # one file failed: stop the others (their bytes stay)
                    return
                with queue_lock:
                    done[0] += 1
                    count = done[0]
                task._update(files_done=count)

        workers = [
            threading.Thread(target=worker, daemon=True, name=f"nbmodels-download-{i}")
            for i in range(min(len(todo), self.max_concurrent_downloads))
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        if errors:
            real = [e for e in errors if not isinstance(e, DownloadCancelledError)]
            first = (real or errors)[0]
            if len(real) > 1 and isinstance(first, NBModelsError):  # say the others too
                others = "; ".join(str(e).splitlines()[0] for e in real[1:4])
                more = f" and {len(real) - 4} more" if len(real) > 4 else ""
                first.args = (
                    f"{first} ({len(real) - 1} other file(s) failed too: {others}{more})",
                )
            raise first
        if task._cancel.is_set():
            raise DownloadCancelledError(
                f"The download of {plan.model_id} was cancelled; download it again to resume."
            )
        self._link(plan)

    def _file(self, task: DownloadTask, f: RemoteFile) -> None:
        """Fetch one file (waiting for a slot, and for another process leasing its blob)."""
        plan = task.plan
        shared = self._partial_path(plan, f)
        team = self._shared(plan)  # a team's folder: 2775 folders, 0664 files
        ensure_dir(shared.parent, shared=team)
        while True:
            lease = Lease(
                shared.with_name(f.etag + LOCK_SUFFIX),
                stale_after=self.lease_timeout,
                heartbeat=min(HEARTBEAT_S, self.lease_timeout / 4),
                shared=team,
            )
            while not lease.try_acquire():
                if self._have(plan, f, hash_unrecorded=False):
                    task._add_bytes(f, f.size)
                    return  # another process fetched it: nothing to do
                if task._cancel.wait(0.2):
                    raise DownloadCancelledError(f"{f.path}: cancelled")
            try:
                if self._have(plan, f, hash_unrecorded=False):
                    task._add_bytes(f, f.size)
                    return
                slots = self._slots  # released below even if the limit changes meanwhile
                while not slots.acquire(timeout=0.2):
                    if task._cancel.is_set():
                        raise DownloadCancelledError(f"{f.path}: cancelled")
                try:
                    with self._tasks_lock:
                        self.active_transfers += 1
                        self.peak_transfers = max(self.peak_transfers, self.active_transfers)
                    self._transfer(task, f, lease)
                    return
                except _LeaseLost:
                    task._update(
                        status_message=f"{f.path}: another process took it over; waiting for it"
                    )
                finally:
                    with self._tasks_lock:
                        self.active_transfers -= 1
                    slots.release()
            finally:
                lease.release()

    def _transfer(self, task: DownloadTask, f: RemoteFile, lease: Lease) -> None:
        """``f`` fetched into this writer's own file, resumed, throttled, hashed, retried,
        then published: linked (or moved) into place only once its bytes match the hash."""
        plan = task.plan
        mine = self._adopt(plan, f, lease)
        try:
            mirrors = sources_for(self, task)
            if mirrors is not None:  # each file from the first source that has it right
                return _fetch_from_mirrors(self, task, f, mine, lease, mirrors)
            for copy in (1, 2):
                if self._fetch(task, f, mine, lease):
                    self._publish(plan, f, mine)
                    return
                mine.unlink(missing_ok=True)  # bad bytes: gone, never published
                kind = "sha256" if f.sha256 else "git blob sha1"
                if copy == 1:
                    task._update(
                        status_message=f"{f.path} did not match its {kind}: the bytes were "
                        "removed; fetching it once more"
                    )
                    self._create_file(plan, mine)
                    continue
                raise ChecksumMismatchError(
                    f"{plan.model_id}: {f.path} does not match its {kind} ({f.etag[:12]}...), "
                    "twice: the bytes were removed. The source (or a proxy on the way) serves a "
                    "broken file; try again later or from another endpoint (HF_ENDPOINT)."
                )
        except _LeaseLost:
            mine.unlink(missing_ok=True)  # the new holder fetches it
            raise
        except BaseException:
            self._keep_for_resume(plan, f, mine)
            raise

    def _fetch(
        self,
        task: DownloadTask,
        f: RemoteFile,
        mine: Path,
        lease: Lease,
        endpoint: str | None = None,
    ) -> bool:
        """Append the rest of ``f`` to ``mine`` (from ``endpoint``, a mirror, else the
        primary), retrying; then whether the file holds exactly the bytes hashed (its size
        says so: every write appends) and they match."""
        plan = task.plan
        primary = self.settings.hf_endpoint.rstrip("/")
        if plan.kind == "ollama-registry":  # no token: the registry's blobs are public
            url, token_host = f"{plan.source_url}/blobs/{f.path}", ""
        else:
            base = (endpoint or primary).rstrip("/")
            url = f"{base}/{plan.model_id}/resolve/{plan.commit}/{quote(f.path)}"
            token_host = urlsplit(primary).netloc  # the token never goes to a mirror's host
        hasher = _Hasher(f)
        have = mine.stat().st_size
        if have > f.size:  # more than the file holds: not ours to trust
            os.truncate(mine, 0)
            have = 0
        if have:
            _hash_existing(mine, hasher, have)
        task._add_bytes(f, have)
        view = memoryview(bytearray(_BUFFER))
        strikes, mark = 0, have
        while True:
            if task._cancel.is_set():
                raise DownloadCancelledError(f"{f.path}: cancelled")
            try:
                if have < f.size:
                    have = _attempt(
                        task,
                        f,
                        mine,
                        url,
                        token_host,
                        have,
                        hasher,
                        view,
                        lease,
                        throttle=self.throttle,
                        timeout=self.stall_timeout,
                    )
                if hasher.fed != f.size:
                    raise _Retry(f"{f.path}: {hasher.fed} of {f.size} bytes")
                return mine.stat().st_size == f.size and hasher.matches()
            except _Retry as retry:
                have = mine.stat().st_size
                if have >= mark + min(_PROGRESS, f.size - mark):
                    strikes = 0  # it moved forward: a flaky line, not a dead one
                mark = max(mark, have)
                strikes += 1
                if strikes > self.retries:
                    raise DownloadError(
                        f"{plan.model_id}: {f.path} failed after {self.retries} retries without "
                        f"progress ({retry}); download again to resume from {format_size(have)}."
                    ) from None
                delay, why = self._delay(retry, strikes)
                resuming = f"resuming from {format_size(have)}" if have else "starting again"
                task._update(
                    status_message=f"{f.path}: {why}; {resuming} in {delay:.1f} s "
                    f"(try {strikes} of {self.retries} without progress)"
                )
                if task._cancel.wait(delay):
                    raise DownloadCancelledError(f"{f.path}: cancelled") from None
                have = mine.stat().st_size
                if have != hasher.fed:  # the file changed under us: hash again from disk
                    hasher = _Hasher(f)
                    _hash_existing(mine, hasher, have)

    def _delay(self, retry: _Retry, strikes: int) -> tuple[float, str]:
        """How long to wait before the next try, and why, for the progress message."""
        if retry.delay is None:
            backoff = min(30.0, self.backoff * 2 ** (strikes - 1)) * random.uniform(0.5, 1.5)
            return backoff, str(retry)
        if retry.delay <= self.max_retry_after:
            return retry.delay, f"{retry}: the server asks to wait {retry.delay:.0f} s"
        return self.max_retry_after, (
            f"{retry}: the server asks to wait {retry.delay:.0f} s, capped at "
            f"{self.max_retry_after:.0f} s (max_retry_after)"
        )

    def _model_info(self, source: Any, repo_id: str, revision: str | None) -> Any:
        """The model's info with its files, retried like a file on 429, 5xx and resets."""
        from ..errors import HubUnreachableError

        strikes = 0
        while True:
            try:
                return source._api.model_info(
                    repo_id, revision=revision, files_metadata=True, timeout=self.settings.timeout
                )
            except Exception as err:
                mapped = source._map_error(err, repo_id=repo_id, revision=revision)
                response = getattr(err, "response", None)
                status = getattr(response, "status_code", None)
                transient = status == 429 or (status or 0) >= 500 or status is None
                if not (isinstance(mapped, HubUnreachableError) or status == 429) or not transient:
                    raise mapped from None
                strikes += 1
                if strikes > self.retries:
                    raise mapped from None
                header = response.headers.get("Retry-After") if response is not None else None
                delay, _why = self._delay(
                    _Retry(f"HTTP {status}", delay=_retry_after(header)), strikes
                )
                time.sleep(delay)

    # -- verifying what is on disk -------------------------------------------------------------
    def verify(
        self,
        model_or_id: str | ModelMetadata,
        *,
        revision: str | None = None,
        repair: bool = False,
        token: str | None = None,
    ) -> VerifyReport:
        """Recheck every file of the model's snapshot against the hashes the Hub publishes
        (what ``hf cache verify`` does). ``repair=True`` removes bad blobs so the next
        download fetches them again."""
        plan = self.plan(
            model_or_id,
            revision=revision,
            token=token if token is not None else self.settings.hf_token,
        )
        ok, bad, missing = [], [], []
        for planned in plan.files:
            f = planned.file
            path = self._final_path(plan, f)
            if not path.is_file():
                missing.append(f.path)
                continue
            hasher = _Hasher(f)
            _hash_existing(path, hasher, path.stat().st_size)
            if hasher.fed == f.size and hasher.matches():
                ok.append(f.path)
            else:
                bad.append(f.path)
                if repair:
                    path.unlink(missing_ok=True)
        return VerifyReport(plan.model_id, plan.commit, tuple(ok), tuple(bad), tuple(missing))


# -- the module functions ------------------------------------------------------------------------
_default: Downloader | None = None
_default_for: int | None = None
_default_lock = threading.Lock()


def default_downloader() -> Downloader:
    """The downloader the module functions use, built from the current default settings."""
    from ..settings import settings_generation

    global _default, _default_for
    with _default_lock:
        generation = settings_generation()
        if _default is None or _default_for != generation:
            _default, _default_for = Downloader(default_settings()), generation
        return _default


def download(model_or_id: str | ModelMetadata, **kwargs: Any) -> DownloadTask | DownloadPlan:
    """Start downloading a model (see :meth:`Downloader.download`); returns its task at once."""
    return default_downloader().download(model_or_id, **kwargs)


def downloads() -> list[DownloadTask]:
    """Every download task of this kernel (the default downloader's)."""
    return default_downloader().downloads()


def downloaded_models(settings: Settings | None = None) -> Any:
    """What is on disk now, as a DataFrame (the catalog's columns): the Hugging Face cache,
    Ollama's store and the folders of ``NBMODELS_LOCAL_PATHS``, read from the disk itself."""
    from ..discover.frame import to_frame
    from ..discover.sources.local import LocalSource

    return to_frame(LocalSource(settings or default_settings()).models())


def verify(model_or_id: str | ModelMetadata, **kwargs: Any) -> VerifyReport:
    """Recheck a downloaded model's files against their published hashes."""
    return default_downloader().verify(model_or_id, **kwargs)


__all__ += [
    "Lease",
    "Throttle",
    "default_downloader",
    "downloaded_models",
    "safe_relative_path",
]
