"""Downloads into the standard Hugging Face cache: in the background, resumable, verified.

(The module is ``downloader``, not ``download``: a submodule named like the function
``nbmodels.download`` would replace that function on the package once imported.)

    >>> task = nbmodels.download("nbmodels-demo/tiny-llama-chat")   # returns at once
    >>> task.progress.progress_percentage, task.progress.bytes_per_second
    >>> task.wait(); task.result()          # the snapshot folder transformers loads offline
    >>> nbmodels.download("org/big", dry_run=True)   # what would be fetched, nothing written

Files land where ``huggingface_hub`` puts them (``models--org--name/blobs/<etag>``, a
``snapshots/<commit>/<path>`` link to each blob, ``refs/<branch>``), so
``transformers.from_pretrained(repo_id)`` finds them with ``HF_HUB_OFFLINE=1`` and
``huggingface_hub.scan_cache_dir()`` lists them; or into a plain ``local_dir``.

Written by hand, not with ``hf_hub_download``, because that function (huggingface_hub 2.4)
writes each download to a per-process ``<etag>.<uuid>.incomplete`` file deleted on failure,
so a killed kernel starts from zero; it checks sizes only, has no bandwidth limit and no
per-download cancel. Here:

* **resume across processes:** each writer appends to a file of its own
  (``blobs/<etag>.<writer>.nbmodels-partial``); a writer that stops leaves its bytes as
  ``blobs/<etag>.nbmodels-partial``, and the next one (this process or another, after a
  crash too) adopts the largest such file of a writer that is gone and goes on from there
  (``Range:``), after hashing what is already there;
* **one writer per blob, and no trust in it:** a lease next to the blob (:mod:`nbmodels.lease`:
  ``O_EXCL``, a heartbeat thread while the holder lives, an atomic takeover of a dead
  holder's lease) keeps two processes from fetching the same bytes; a holder that lost its
  lease stops before writing again. Correctness does not rest on it: a file is published
  (linked into ``blobs/``, tolerating one already there) only when the file itself holds
  exactly the bytes that were hashed;
* **verified as it streams:** LFS files against their sha256, small git files against their
  git blob sha1, hashed while the bytes arrive (no second read); a mismatch deletes the bytes
  and fetches the file once more, then raises :class:`~nbmodels.errors.ChecksumMismatchError`
  naming it. A partial file never appears under ``snapshots/``. Every sha, oid and etag the
  server sends is checked to be hex of the right length before it names a file, and every
  path is checked to stay inside the cache (or ``local_dir``);
* **local_dir:** a file already there counts only if it is the file asked for (the etag
  recorded when it was written, else its hash), never by its size alone;
* **limits:** ``max_concurrent_downloads`` transfers at once, one bandwidth limit shared by
  all of them, retries with exponential backoff and jitter on resets, 5xx, 429 (its
  ``Retry-After``, capped by ``max_retry_after``) and stalls (no byte for ``stall_timeout``
  seconds), for the file list as for the files; an attempt that made progress starts the
  retry count again;
* **safety:** file names with ``..``, absolute paths or backslashes are refused; the token goes
  to the endpoint's host only, never to a redirect target elsewhere (the Hub's LFS files
  redirect to a CDN), and never into a message, repr or log.

Ollama pulls are not here yet (see the issue); ``nbmodels.verify(model)`` rechecks what is
on disk.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import os
import random
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from .errors import (
    AccessDeniedError,
    ChecksumMismatchError,
    ConfigurationError,
    DownloadCancelledError,
    DownloadError,
    InsufficientSpaceError,
    ModelNotFoundError,
    NBModelsError,
    RegistryWarning,
    UnsafePathError,
)
from .files import atomic_write, ensure_dir, storage_error
from .lease import HEARTBEAT_S, Lease, pid_alive
from .settings import Settings, default_settings
from .types import DownloadProgress, DownloadStatus, ModelMetadata
from .units import format_size

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

PARTIAL_SUFFIX = ".nbmodels-partial"
LOCK_SUFFIX = ".nbmodels-lock"
_BUFFER = 1 << 20  # one reused 1 MiB buffer per transfer: readinto, no bytes per chunk
_PROGRESS = 64 * 1024  # an attempt that moved a file this far forward resets the retry count
_TERMINAL = (DownloadStatus.COMPLETED, DownloadStatus.FAILED, DownloadStatus.CANCELLED)

Callback = Callable[[str, int, int | None, DownloadStatus], None]


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


# -- the shared bandwidth limit --------------------------------------------------------------
class Throttle:
    """One token bucket shared by every transfer of a Downloader (bytes per second)."""

    def __init__(self, bytes_per_second: float | None) -> None:
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ConfigurationError(
                f"max_bytes_per_second must be positive (or None for no limit), got "
                f"{bytes_per_second!r}."
            )
        self.rate = bytes_per_second
        self._lock = threading.Lock()
        self._next = time.monotonic()  # when the next byte may go

    @property
    def piece(self) -> int:
        """The most bytes to read at once under the limit (about 1/20 s worth), so progress
        moves smoothly and a cancel is quick; unlimited: no cap."""
        return max(16 * 1024, int(self.rate / 20)) if self.rate else 1 << 62

    def take(self, n: int, cancel: threading.Event | None = None) -> None:
        """Wait until ``n`` more bytes fit under the limit (returns early on cancel)."""
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now - 0.25)  # at most a quarter second of saved credit
            self._next = start + n / self.rate
            wait = self._next - now
        if wait > 0:
            if cancel is not None:
                cancel.wait(wait)
            else:
                time.sleep(wait)


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


# -- one file over HTTP --------------------------------------------------------------------------
class _Retry(Exception):
    """A transient failure: try again (after ``delay`` seconds if given)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class _LeaseLost(Exception):
    """Another process took this file's lease over: stop writing, wait for it."""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class _Hasher:
    """The hash a file is checked against, fed as bytes arrive."""

    file: RemoteFile
    digest: Any = None
    fed: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start over from byte 0."""
        self.fed = 0
        if self.file.sha256:
            self.digest = hashlib.sha256()
        else:  # a git blob's id: sha1 of "blob <size>\0" + content
            self.digest = hashlib.sha1(usedforsecurity=False)
            self.digest.update(b"blob %d\x00" % self.file.size)

    def update(self, data: Any) -> None:
        self.digest.update(data)
        self.fed += len(data)

    def matches(self) -> bool:
        return self.digest.hexdigest() == self.file.etag


_local = threading.local()


class _Sink:
    """Writes and hashes in a second thread while the first reads the next buffer.

    ``hashlib`` and file writes release the GIL on large buffers, so with a few buffers in
    rotation the network, the disk and sha256 overlap instead of taking turns (on two cores
    that is the difference between ~370 and ~700 MB/s with verification on)."""

    def __init__(self, out: Any, hasher: _Hasher, path: Path, buffers: int = 3) -> None:
        import queue

        self.out, self.hasher, self.path = out, hasher, path
        self.free: queue.Queue[bytearray] = queue.Queue()
        self.full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        pool = getattr(_local, "buffers", None)
        if pool is None:  # one set per worker thread, reused for every file it fetches
            pool = _local.buffers = [bytearray(_BUFFER) for _ in range(buffers)]
        for buffer in pool:
            self.free.put(buffer)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="nbmodels-sink")
        self.thread.start()

    def buffer(self) -> bytearray:
        self._raise()
        return self.free.get()

    def give_back(self, buffer: bytearray) -> None:
        self.free.put(buffer)

    def submit(self, buffer: bytearray, n: int) -> None:
        self._raise()
        self.full.put((buffer, n))

    def close(self) -> None:
        self.full.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            if isinstance(error, OSError):
                raise storage_error(self.path, error) from None
            raise error

    def _run(self) -> None:
        while (item := self.full.get()) is not None:
            buffer, n = item
            if self.error is None:
                view = memoryview(buffer)[:n]
                try:
                    self.out.write(view)
                    self.hasher.update(view)
                except BaseException as exc:  # handed to the reading thread
                    self.error = exc
            self.free.put(buffer)


def _hash_existing(path: Path, hasher: _Hasher, upto: int) -> None:
    """Feed ``hasher`` with the first ``upto`` bytes already on disk (a resumed transfer)."""
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    with path.open("rb") as fh:
        left = upto
        while left > 0:
            n = fh.readinto(view[: min(len(buf), left)])
            if not n:
                break
            hasher.update(view[:n])
            left -= n


def _open(
    url: str, headers: dict[str, str], *, token: str | None, token_host: str, timeout: float
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """GET ``url``, following up to 5 redirects; the token goes to ``token_host`` only."""
    for _ in range(6):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError(f"Refusing to fetch {_no_query(url)}: not an http(s) URL.")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=timeout)
        send = dict(headers)
        if token and parts.netloc == token_host:
            send["Authorization"] = f"Bearer {token}"
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target or "/", headers=send)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            response.read()
            conn.close()
            if not location:
                raise DownloadError(f"{_no_query(url)} redirected without a Location.")
            url = urljoin(url, location)
            continue
        return conn, response
    raise DownloadError(f"Too many redirects fetching {_no_query(url)}.")


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _ollama_answers(host: str) -> bool:
    """Whether an Ollama answers at ``host`` within a second (never raises)."""
    try:
        conn, response = _open(
            f"{host.rstrip('/')}/api/version", {}, token=None, token_host="", timeout=1.0
        )
    except (_Retry, DownloadError):
        return False
    with contextlib.closing(conn):
        return response.status == 200


def _no_query(url: str) -> str:
    """A URL fit for a message: without its query (signed CDN URLs carry credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# -- a task ------------------------------------------------------------------------------------
class DownloadTask:
    """One download running in the background of the kernel.

    ``progress`` is a fresh :class:`~nbmodels.types.DownloadProgress` snapshot at each read;
    ``wait()`` blocks (re-raising the failure), ``cancel()`` stops it within a chunk (the bytes
    stay, so downloading again resumes), ``result()`` is the snapshot folder, ``cleanup()``
    removes the partial files of a failed or cancelled task.
    """

    def __init__(
        self,
        downloader: Downloader,
        plan: DownloadPlan,
        token: str | None,
        request: dict[str, Any] | None = None,
    ) -> None:
        self.downloader = downloader
        self._request = dict(request or {})  # how to start it again (holds the token: private)
        self.plan = plan
        self.model_id = plan.model_id
        self._token = token  # never shown: not in repr, progress or errors
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        now = datetime.now(UTC)
        self._progress = DownloadProgress(
            plan.model_id,
            DownloadStatus.PENDING,
            downloaded_bytes=sum(p.file.size for p in plan.files if p.cached),
            total_bytes=plan.total_bytes,
            status_message="waiting to start",
            start_time=now,
            last_update=now,
            files_done=sum(p.cached for p in plan.files),
            files_total=len(plan.files),
        )
        self._samples: list[tuple[float, int]] = []  # (time, bytes) for speed over ~5 s
        self._per_file: dict[str, int] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"nbmodels-download-{plan.model_id}", daemon=True
        )

    # -- what the caller sees ------------------------------------------------------------------
    @property
    def progress(self) -> DownloadProgress:
        with self._lock:
            return self._progress

    @property
    def status(self) -> DownloadStatus:
        return self.progress.status

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def error(self) -> BaseException | None:
        return self._error

    def wait(self, timeout: float | None = None, *, progress: bool = False) -> DownloadTask:
        """Block until the task ends (or ``timeout`` seconds); raises its error if it failed.
        KeyboardInterrupt (the notebook's stop button, Ctrl-C) cancels the download.
        ``progress=True`` draws a tqdm bar meanwhile (for terminals and scripts; in a
        notebook, show the task itself: its panel)."""
        try:
            finished = self._bar(timeout) if progress else self._done.wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait(10)
            raise
        if not finished:
            raise TimeoutError(
                f"The download of {self.model_id} is still running after {timeout} s "
                f"({self.progress.progress_percentage:.0f}%); wait() again or cancel()."
            )
        if self._error is not None:
            raise self._error
        return self

    def _bar(self, timeout: float | None) -> bool:
        from tqdm import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        p = self.progress
        with tqdm(
            total=p.total_bytes or None,
            initial=p.downloaded_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            desc=self.model_id,
            leave=True,
        ) as bar:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                finished = self._done.wait(0.2 if left is None else min(0.2, left))
                p = self.progress
                if p.total_bytes and bar.total != p.total_bytes:
                    bar.total = p.total_bytes
                bar.update(p.downloaded_bytes - bar.n)
                bar.set_postfix_str(f"{p.files_done}/{p.files_total} files", refresh=False)
                if finished or (left is not None and left <= 0):
                    return finished

    def result(self, timeout: float | None = None) -> Path:
        """The folder with the model's files (waits for the task to end)."""
        self.wait(timeout)
        return self.plan.target

    def cancel(self) -> None:
        """Stop the transfer; what was fetched stays on disk for a resume."""
        self._cancel.set()

    def cleanup(self) -> int:
        """Remove this task's partial files (after a failure or cancel); the bytes freed."""
        if not self.done:
            raise DownloadError("cleanup() is for a task that has ended: cancel() it first.")
        freed = 0
        for planned in self.plan.files:
            sizes = self.downloader._partial_sizes(self.plan, planned.file)
            for partial, size in sizes.items():
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
                    freed += size
        return freed

    def __repr__(self) -> str:
        p = self.progress
        return (
            f"<DownloadTask {self.model_id} {p.status.value} {p.progress_percentage:.0f}% "
            f"({format_size(p.downloaded_bytes)} of {format_size(p.total_bytes or 0)})>"
        )

    def restart(self) -> DownloadTask:
        """The same download started again (after a failure or cancel it resumes)."""
        if not self.done:
            raise DownloadError(f"{self.model_id} is still downloading; cancel() it first.")
        task = self.downloader.download(**self._request)
        assert isinstance(task, DownloadTask)
        return task

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook: a live panel (bar, speed, ETA, cancel, retry)."""
        try:
            from .widgets.downloads import DownloadPanel
        except ImportError:  # no ipywidgets: the text
            return {"text/plain": repr(self)}
        return DownloadPanel([self])._repr_mimebundle_(**kwargs)

    # -- the work --------------------------------------------------------------------------------
    def _start(self) -> DownloadTask:
        self._thread.start()
        return self

    def _update(self, **changes: Any) -> None:
        with self._lock:
            now = datetime.now(UTC)
            progress = replace(self._progress, last_update=now, **changes)
            if "downloaded_bytes" in changes:
                t = time.monotonic()
                self._samples.append((t, progress.downloaded_bytes))
                self._samples = [s for s in self._samples if t - s[0] <= 5.0] or self._samples[-1:]
                t0, b0 = self._samples[0]
                speed = (progress.downloaded_bytes - b0) / (t - t0) if t > t0 else None
                left = (progress.total_bytes or 0) - progress.downloaded_bytes
                eta = left / speed if speed else None
                progress = replace(progress, bytes_per_second=speed, eta_seconds=eta)
            self._progress = progress
        self.downloader._notify(self, progress)

    def _add_bytes(self, file: RemoteFile, done_in_file: int) -> None:
        with self._lock:
            self._per_file[file.path] = done_in_file
            cached = sum(p.file.size for p in self.plan.files if p.cached)
            total = cached + sum(self._per_file.values())
        self._update(downloaded_bytes=total, current_file=file.path)

    def _run(self) -> None:
        try:
            self._update(status=DownloadStatus.DOWNLOADING, status_message="downloading")
            self.downloader._execute(self)
        except BaseException as exc:  # every failure ends the task and is kept for wait()
            cancelled = isinstance(exc, DownloadCancelledError)
            self._error = exc
            self._update(
                status=DownloadStatus.CANCELLED if cancelled else DownloadStatus.FAILED,
                status_message="cancelled: download again to resume" if cancelled else "failed",
                error_message=str(exc),
            )
        else:
            total = self._progress.total_bytes or self.plan.total_bytes
            files = self._progress.files_total or len(self.plan.files)
            self._update(
                status=DownloadStatus.COMPLETED,
                status_message=f"done: {files} files verified",
                downloaded_bytes=total,
                total_bytes=total,
                files_done=files,
                current_file=None,
                eta_seconds=0.0,
            )
            self.downloader._register(self)
        finally:
            self._done.set()


# -- the downloader -----------------------------------------------------------------------------
class Downloader:
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
    ) -> None:
        if max_concurrent_downloads < 1:
            raise ConfigurationError(
                f"max_concurrent_downloads must be at least 1, got {max_concurrent_downloads!r}."
            )
        if retries < 0:
            raise ConfigurationError(f"retries must be 0 or more, got {retries!r}.")
        self.settings = settings or default_settings()
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
        """Record a finished download in the home's registry. The download stands either
        way: a registry that cannot be written is said (a warning), not raised."""
        import warnings

        from .modelregistry import register_download

        plan = task.plan
        try:
            register_download(self.settings, plan.model_id, plan.kind, plan.target, plan.commit)
        except NBModelsError as exc:
            warnings.warn(
                f"{plan.model_id} is downloaded, but the registry could not record it: {exc} "
                "(nbmodels.registry.update_index() records it later).",
                RegistryWarning,
                stacklevel=2,
            )

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
        from .sources.huggingface import HuggingFaceSource

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
    ) -> DownloadTask | DownloadPlan:
        """Start downloading ``model_or_id``; returns a :class:`DownloadTask` at once (or, with
        ``dry_run=True``, the :class:`DownloadPlan` and writes nothing).

        ``source="ollama"`` pulls an Ollama model: ``via="api"`` through the Ollama at
        ``OLLAMA_HOST`` (``/api/pull``), ``via="registry"`` straight from the registry
        (``ollama_registry``) into Ollama's store on disk, each blob checked by its digest, no
        Ollama needed; by default the API when an Ollama answers, else the registry."""
        if source not in (None, "huggingface", "hf", "ollama"):
            raise ConfigurationError(
                f"download(source={source!r}): choose 'huggingface' (the default) or 'ollama'."
            )
        if isinstance(model_or_id, ModelMetadata) and source is None:
            source = "ollama" if model_or_id.source.value == "ollama" else None
        if source == "ollama":
            return self._start_ollama(model_or_id, dry_run=dry_run, via=via)
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
        }
        task = DownloadTask(self, plan, token, request)
        with self._tasks_lock:
            self._tasks.append(task)
        return task._start()

    def _start_ollama(
        self, model_or_id: str | ModelMetadata, *, dry_run: bool, via: str | None
    ) -> DownloadTask | DownloadPlan:
        name = model_or_id.id if isinstance(model_or_id, ModelMetadata) else str(model_or_id)
        name = name.strip()
        if not name:
            raise ConfigurationError(
                "download(source='ollama') needs a model name, e.g. 'llama3.2:1b'."
            )
        if via not in (None, "api", "registry"):
            raise ConfigurationError(f"via={via!r}: choose 'api', 'registry' or None.")
        chosen = via is None
        if via is None:
            via = "api" if _ollama_answers(self.settings.ollama_host) else "registry"
        if via == "registry":
            try:
                plan = self._registry_plan(name)
            except DownloadError as exc:
                if not chosen:
                    raise
                from .errors import OllamaNotRunningError

                raise OllamaNotRunningError(
                    f"No Ollama answers at {self.settings.ollama_host}, and pulling {name} "
                    f"straight from the registry failed too ({exc}). Start Ollama with `ollama "
                    "serve` (or set OLLAMA_HOST), or check the network."
                ) from None
            if dry_run:
                return plan
            task = DownloadTask(
                self, plan, None, {"model_or_id": name, "source": "ollama", "via": "registry"}
            )
            with self._tasks_lock:
                self._tasks.append(task)
            return task._start()
        if dry_run:
            raise ConfigurationError(
                "dry_run=True lists Hub files; Ollama's pull API has no listing (the library's "
                "sizes are in nbmodels.search(source='ollama'))."
            )
        from .ollama_store import OllamaStore

        store = OllamaStore(self.settings.ollama_models)
        plan = DownloadPlan(
            name,
            name.rpartition(":")[2] or "latest",
            "",
            (),
            store.manifest_path(name),
            kind="ollama",
        )
        task = DownloadTask(self, plan, None, {"model_or_id": name, "source": "ollama"})
        with self._tasks_lock:
            self._tasks.append(task)
        return task._start()

    def _registry_plan(self, name: str) -> DownloadPlan:
        """The blobs of ``name``'s manifest in the registry, and which the store has."""
        import json

        from .ollama_store import OllamaStore, parse_model_name

        try:
            _host, namespace, model, tag = parse_model_name(name)
        except ValueError as exc:
            raise ConfigurationError(f"{name!r} is not an Ollama model name ({exc}).") from None
        base = f"{self.ollama_registry}/v2/{namespace}/{model}"
        headers = {
            "Accept": "application/vnd.docker.distribution.manifest.v2+json",
            "User-Agent": "nbmodels",
        }
        try:
            conn, response = _open(
                f"{base}/manifests/{tag}",
                headers,
                token=None,
                token_host="",
                timeout=self.settings.timeout,
            )
        except _Retry as exc:
            raise DownloadError(
                f"The Ollama registry at {self.ollama_registry} cannot be reached ({exc})."
            ) from None
        try:
            body = response.read(8 << 20)
            status = response.status
        finally:
            conn.close()
        if status == 404:
            raise ModelNotFoundError(
                f"The Ollama registry has no {name!r} (404); check the name and tag."
            )
        if status != 200:
            raise DownloadError(f"The Ollama registry answered HTTP {status} for {name!r}.")
        try:
            manifest = json.loads(body)
            entries = [*manifest["layers"], manifest["config"]]
        except (ValueError, KeyError, TypeError):
            raise DownloadError(
                f"The Ollama registry sent no readable manifest for {name!r}."
            ) from None
        files: list[RemoteFile] = []
        for entry in entries:
            digest, size = entry.get("digest"), entry.get("size")
            if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)) or not isinstance(
                size, int
            ):
                raise DownloadError(f"{name}: the manifest names a blob {digest!r} it cannot be.")
            if all(f.path != digest for f in files):
                files.append(RemoteFile(digest, size, sha256=digest.removeprefix("sha256:")))
        store = OllamaStore(self.settings.ollama_models)
        planned = []
        for f in files:
            blob = store.blob_path(f.path)
            cached = blob.is_file() and blob.stat().st_size == f.size
            partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
            have = partial.stat().st_size if not cached and partial.is_file() else 0
            planned.append(PlannedFile(f, cached, min(have, f.size)))
        return DownloadPlan(
            name,
            tag,
            hashlib.sha256(body).hexdigest(),
            tuple(planned),
            store.manifest_path(name),
            free_bytes=_free_bytes(store.root),
            kind="ollama-registry",
            manifest=manifest,
            source_url=base,
        )

    def _pull_ollama(self, task: DownloadTask) -> None:
        """Pull through the Ollama at ``settings.ollama_host`` (the real ``ollama`` client):
        its progress events become the task's; a cancel closes the stream (Ollama keeps its
        partial layers, so pulling again resumes)."""
        import httpx
        import ollama

        from .errors import OllamaNotRunningError

        host = self.settings.ollama_host
        client = ollama.Client(host=host)
        totals: dict[str, int] = {}
        done: dict[str, int] = {}
        stream = client.pull(task.model_id, stream=True)
        try:
            for event in stream:
                if task._cancel.is_set():
                    raise DownloadCancelledError(f"The pull of {task.model_id} was cancelled.")
                digest, total = event.digest, event.total
                if digest and total:
                    totals[digest] = int(total)
                    done[digest] = int(event.completed or 0)
                task._update(
                    status_message=str(event.status or ""),
                    current_file=digest or None,
                    total_bytes=sum(totals.values()) or None,
                    downloaded_bytes=sum(done.values()),
                    files_total=len(totals),
                    files_done=sum(done[d] >= totals[d] for d in totals),
                )
                if event.status == "success":
                    return
        except ollama.ResponseError as exc:
            raise DownloadError(
                f"Ollama at {host} could not pull {task.model_id}: {exc.error}. Check the name "
                "(nbmodels.search(source='ollama') lists the library)."
            ) from None
        except (httpx.ConnectError, ConnectionError) as exc:
            raise OllamaNotRunningError(
                f"No Ollama answers at {host} ({type(exc).__name__}); start it with `ollama "
                "serve` or set OLLAMA_HOST."
            ) from None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        raise DownloadError(f"Ollama's pull of {task.model_id} ended without success.")

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
            from .ollama_store import OllamaStore

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

    def _have(self, plan: DownloadPlan, f: RemoteFile) -> bool:
        """Whether ``f``'s verified bytes are already in place.

        In the cache a blob is named by its hash and only a verified file becomes one, so
        its size is enough. A local_dir's file is checked against the etag recorded when it
        was written (and its size and mtime then), else hashed."""
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
            atomic_write(self._meta_path(plan, f), line.encode())

    def _is_local_dir(self, plan: DownloadPlan) -> bool:
        return plan.local_dir

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

                    from .errors import NBModelsWarning

                    warnings.warn(
                        f"A download callback ({getattr(fn, '__name__', fn)!r}) raised "
                        f"{type(exc).__name__}: {exc}. The download goes on; this is said once.",
                        NBModelsWarning,
                        stacklevel=2,
                    )

    def _execute(self, task: DownloadTask) -> None:
        plan = task.plan
        if plan.kind == "ollama":
            return self._pull_ollama(task)
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
        ensure_dir(shared.parent)
        while True:
            lease = Lease(
                shared.with_name(f.etag + LOCK_SUFFIX),
                stale_after=self.lease_timeout,
                heartbeat=min(HEARTBEAT_S, self.lease_timeout / 4),
            )
            while not lease.try_acquire():
                if self._have(plan, f):
                    task._add_bytes(f, f.size)
                    return  # another process fetched it: nothing to do
                if task._cancel.wait(0.2):
                    raise DownloadCancelledError(f"{f.path}: cancelled")
            try:
                if self._have(plan, f):
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
        try:
            fd = os.open(mine, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o664)
        except OSError as exc:
            raise storage_error(mine, exc) from None
        os.close(fd)
        return mine

    def _transfer(self, task: DownloadTask, f: RemoteFile, lease: Lease) -> None:
        """``f`` fetched into this writer's own file, resumed, throttled, hashed, retried,
        then published: linked (or moved) into place only once its bytes match the hash."""
        plan = task.plan
        mine = self._adopt(plan, f, lease)
        try:
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
                    mine.touch()
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
            ensure_dir(final.parent)
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

    def _fetch(self, task: DownloadTask, f: RemoteFile, mine: Path, lease: Lease) -> bool:
        """Append the rest of ``f`` to ``mine``, retrying; then whether the file holds
        exactly the bytes hashed (its size says so: every write appends) and they match."""
        plan = task.plan
        endpoint = self.settings.hf_endpoint.rstrip("/")
        if plan.kind == "ollama-registry":  # no token: the registry's blobs are public
            url, token_host = f"{plan.source_url}/blobs/{f.path}", ""
        else:
            url = f"{endpoint}/{plan.model_id}/resolve/{plan.commit}/{quote(f.path)}"
            token_host = urlsplit(endpoint).netloc
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
                    have = self._attempt(task, f, mine, url, token_host, have, hasher, view, lease)
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
        from .errors import HubUnreachableError

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

    def _attempt(
        self,
        task: DownloadTask,
        f: RemoteFile,
        mine: Path,
        url: str,
        token_host: str,
        have: int,
        hasher: _Hasher,
        view: memoryview,
        lease: Lease,
    ) -> int:
        headers = {"Accept-Encoding": "identity", "User-Agent": "nbmodels"}
        if have:
            headers["Range"] = f"bytes={have}-"
        conn, response = _open(
            url, headers, token=task._token, token_host=token_host, timeout=self.stall_timeout
        )
        try:
            status = response.status
            if status == 416 and have:  # asked past the end: the partial is not this file
                os.truncate(mine, 0)
                hasher.reset()
                raise _Retry("the partial file did not fit; starting over", delay=0)
            if status in (401, 403):
                raise AccessDeniedError(
                    f"{task.model_id}: the Hub refused {f.path} (HTTP {status}); set HF_TOKEN to "
                    "a token with access, or accept the licence on the model's page.",
                    reason="no-token" if not task._token else "bad-token",
                    model_id=task.model_id,
                )
            if status == 404:
                raise ModelNotFoundError(f"{task.model_id}: {f.path} is not on the Hub (404).")
            if status == 429 or status >= 500:
                delay = _retry_after(response.getheader("Retry-After"))
                raise _Retry(f"HTTP {status}", delay=delay)
            if status == 200 and have:  # the server ignored Range: start over
                os.truncate(mine, 0)
                have = 0
                hasher.reset()
            elif status == 206:
                content_range = response.getheader("Content-Range") or ""
                if not content_range.startswith(f"bytes {have}-"):
                    raise _Retry(f"unexpected Content-Range {content_range!r}")
            elif status != 200:
                raise DownloadError(f"{task.model_id}: {f.path}: unexpected HTTP {status}.")
            length = response.getheader("Content-Length")
            expected = f.size - have
            if length is not None and length.isdigit() and int(length) != expected:
                # a proxy or a hub that lies about sizes: nothing is taken from this answer
                raise _Retry(
                    f"the answer holds {int(length)} bytes from {have}, the Hub lists {f.size}"
                )
            try:
                out = open(mine, "ab")  # noqa: SIM115 - closed by the `with` below
            except OSError as exc:
                raise storage_error(mine, exc) from None
            with out:
                sink = _Sink(out, hasher, mine)
                try:
                    while have < f.size:
                        if task._cancel.is_set():
                            raise DownloadCancelledError(f"{f.path}: cancelled")
                        buffer = sink.buffer()
                        want = min(len(buffer), f.size - have, self.throttle.piece)
                        self.throttle.take(want, task._cancel)
                        try:
                            n = response.readinto(memoryview(buffer)[:want])
                        except (OSError, http.client.HTTPException) as exc:
                            sink.give_back(buffer)
                            raise _Retry(f"{type(exc).__name__} after {have} bytes") from None
                        if not n:
                            sink.give_back(buffer)
                            raise _Retry(
                                f"the connection dropped after {format_size(have)} of "
                                f"{format_size(f.size)}"
                            )
                        if lease.lost:  # taken over: not one more byte from this writer
                            sink.give_back(buffer)
                            raise _LeaseLost(f.path)
                        sink.submit(buffer, n)
                        have += n
                        task._add_bytes(f, have)
                finally:
                    sink.close()  # every byte read is on disk and hashed before we go on
            return have
        finally:
            conn.close()

    def _link(self, plan: DownloadPlan) -> None:
        """``snapshots/<commit>/<path>`` links to the blobs, and ``refs/<revision>``; for an
        Ollama registry pull, the manifest (written last: the model appears whole or not)."""
        if plan.kind == "ollama-registry":
            from .ollama_store import OllamaStore

            OllamaStore(self.settings.ollama_models).write_manifest(plan.model_id, plan.manifest)
            return
        if self._is_local_dir(plan):
            return
        folder = repo_folder(self.settings.hf_cache, plan.model_id)
        _hex(plan.commit, 40, "the commit", plan.model_id)
        for planned in plan.files:
            f = planned.file
            link = _inside(folder, plan.target / safe_relative_path(f.path))
            blob = self._final_path(plan, f)
            ensure_dir(link.parent)
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
                os.replace(tmp, link)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise storage_error(link, exc) from None
        if plan.revision != plan.commit:
            ref = _inside(folder, folder / "refs" / safe_relative_path(plan.revision))
            atomic_write(ref, plan.commit.encode())

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


# -- the module functions ------------------------------------------------------------------------
_default: Downloader | None = None
_default_for: int | None = None
_default_lock = threading.Lock()


def default_downloader() -> Downloader:
    """The downloader the module functions use, built from the current default settings."""
    from .settings import settings_generation

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
    from .frame import to_frame
    from .sources.local import LocalSource

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
