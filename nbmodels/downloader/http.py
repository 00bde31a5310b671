"""One file over HTTP: the connection, the shared bandwidth limit, and the hash fed as the
bytes arrive. :func:`_attempt` is one GET of the rest of a file into its writer's own file;
the :class:`~nbmodels.downloader.core.Downloader` retries it.

* **verified as it streams:** LFS files against their sha256, small git files against their
  git blob sha1, hashed while the bytes arrive (no second read: :class:`_Hasher`, fed by
  :class:`_Sink` in a thread of its own so the network, the disk and the hash overlap); a
  resumed transfer first hashes what is already on disk (:func:`_hash_existing`);
* **limits:** one bandwidth limit shared by every transfer of a downloader
  (:class:`Throttle`); a transient failure (a reset, 5xx, 429 with its ``Retry-After``, a
  stall) is a :class:`_Retry` for the caller to retry;
* **safety:** the token goes to the endpoint's host only, never to a redirect target
  elsewhere (the Hub's LFS files redirect to a CDN), and never into a message, repr or log
  (:func:`_open`; URLs in messages lose their query: :func:`_no_query`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..errors import (
    AccessDeniedError,
    ConfigurationError,
    DownloadCancelledError,
    DownloadError,
    ModelNotFoundError,
)
from ..files import storage_error
from ..units import format_size
from .lease import Lease
from .plan import RemoteFile
from .task import DownloadTask

__all__ = ["Throttle"]

_BUFFER = 1 << 20  # one reused 1 MiB buffer per transfer: readinto, no bytes per chunk


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


def _no_query(url: str) -> str:
    """A URL fit for a message: without its query (signed CDN URLs carry credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _attempt(
    task: DownloadTask,
    f: RemoteFile,
    mine: Path,
    url: str,
    token_host: str,
    have: int,
    hasher: _Hasher,
    view: memoryview,
    lease: Lease,
    *,
    throttle: Throttle,
    timeout: float,
) -> int:
    """One GET of the rest of ``f`` (from byte ``have``), appended to ``mine`` and hashed as
    it arrives, under ``throttle``, with no byte for ``timeout`` seconds a stall; the bytes
    ``mine`` holds after it. A transient failure is a :class:`_Retry`; a lost lease stops it
    before one more byte is written."""
    headers = {"Accept-Encoding": "identity", "User-Agent": "nbmodels"}
    if have:
        headers["Range"] = f"bytes={have}-"
    conn, response = _open(url, headers, token=task._token, token_host=token_host, timeout=timeout)
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
                    want = min(len(buffer), f.size - have, throttle.piece)
                    throttle.take(want, task._cancel)
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
