"""A download running in the background of the kernel: :class:`DownloadTask`.

The task holds the progress the caller reads (a fresh snapshot at each read), the thread the
work runs in, the cancel flag and the failure ``wait()`` re-raises. The work itself is the
downloader's (:class:`~nbmodels.downloader.core.Downloader`): the task is handed the
downloader that started it and calls it back through :class:`Runner` (named here, not
imported: the downloader's module imports this one).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import DownloadCancelledError, DownloadError
from ..types import DownloadProgress, DownloadStatus
from ..units import format_size
from .plan import DownloadPlan, RemoteFile

__all__ = ["DownloadTask", "Runner"]

_TERMINAL = (DownloadStatus.COMPLETED, DownloadStatus.FAILED, DownloadStatus.CANCELLED)


class Runner(Protocol):
    """What a task needs of the downloader that started it
    (:class:`~nbmodels.downloader.core.Downloader` is one)."""

    @property
    def download(self) -> Callable[..., DownloadTask | DownloadPlan]: ...

    def _execute(self, task: DownloadTask) -> None: ...

    def _register(self, task: DownloadTask) -> None: ...

    def _notify(self, task: DownloadTask, progress: DownloadProgress) -> None: ...

    def _partial_sizes(self, plan: DownloadPlan, f: RemoteFile) -> dict[Path, int]: ...


class DownloadTask:
    """One download running in the background of the kernel.

    ``progress`` is a fresh :class:`~nbmodels.types.DownloadProgress` snapshot at each read;
    ``wait()`` blocks (re-raising the failure), ``cancel()`` stops it within a chunk (the bytes
    stay, so downloading again resumes), ``result()`` is the snapshot folder, ``cleanup()``
    removes the partial files of a failed or cancelled task.
    """

    def __init__(
        self,
        downloader: Runner,
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
        from ..display import mimebundle

        return mimebundle(self, repr(self), **kwargs)

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
