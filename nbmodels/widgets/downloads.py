"""A download panel: one bar per task and one overall, speed and ETA, cancel and retry.

A thin view over :class:`~nbmodels.downloader.core.DownloadTask`: it reads each task's
``progress`` snapshot a few times a second from a background thread and sets widget values
(widget state travels to the browser from any thread; ``with output:`` from another thread
would print into whichever cell runs at that moment). The buttons call ``task.cancel()`` and
start the same download again.

    >>> task = nbmodels.download("org/name")
    >>> task                       # the last expression of a cell: the panel shows
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from typing import Any

import ipywidgets as w

from ..downloader.core import DownloadTask
from ..types import DownloadStatus
from ..units import format_size
from ._common import TABLE_CSS

__all__ = ["DownloadPanel", "task_view"]

_CSS = """
<style>
.nbm-dl-row { align-items: center; gap: 8px; }
.nbm-dl-name { font-weight: 600; }
.nbm-dl-stats { font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color2, #666); }
</style>
"""

_BAR_STYLE = {
    DownloadStatus.PENDING: "info",
    DownloadStatus.DOWNLOADING: "info",
    DownloadStatus.COMPLETED: "success",
    DownloadStatus.FAILED: "danger",
    DownloadStatus.CANCELLED: "warning",
}


class _Row:
    """The widgets of one task."""

    def __init__(self, panel: DownloadPanel, task: DownloadTask) -> None:
        self.panel = panel
        self.task = task
        self.name = w.HTML(layout=w.Layout(width="300px", overflow="hidden"))
        self.name.add_class("nbm-dl-name")
        self.bar = w.FloatProgress(
            min=0.0, max=100.0, layout=w.Layout(flex="1 1 auto", width="auto")
        )
        self.stats = w.HTML(layout=w.Layout(width="330px"))
        self.stats.add_class("nbm-dl-stats")
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", layout=w.Layout(flex="0 0 auto", width="96px")
        )
        self.retry_button = w.Button(
            description="Retry", icon="redo", layout=w.Layout(flex="0 0 auto", width="96px")
        )
        self.message = w.HTML()
        self.cancel_button.on_click(lambda _b: self.task.cancel())
        self.retry_button.on_click(lambda _b: self.retry())
        row = w.HBox(
            [self.name, self.bar, self.stats, self.cancel_button, self.retry_button],
            layout=w.Layout(width="100%"),
        )
        row.add_class("nbm-dl-row")
        self.widget = w.VBox([row, self.message])
        self.render()

    def retry(self) -> None:
        """Start the same download again (it resumes from the bytes already on disk)."""
        if not self.task.done:
            return
        self.task = self.task.restart()
        self.panel._wake()
        self.render()

    def render(self) -> None:
        p = self.task.progress
        self.name.value = html.escape(p.model_id)
        self.bar.value = round(p.progress_percentage, 1)
        self.bar.bar_style = _BAR_STYLE.get(p.status, "info")
        parts = [f"{format_size(p.downloaded_bytes)} / {format_size(p.total_bytes or 0)}"]
        if p.status is DownloadStatus.DOWNLOADING and p.bytes_per_second:
            parts.append(f"{format_size(p.bytes_per_second)}/s")
            if p.eta_seconds is not None:
                parts.append(f"ETA {_duration(p.eta_seconds)}")
        parts.append(f"{p.files_done}/{p.files_total} files")
        self.stats.value = " · ".join(parts)
        running = not self.task.done
        self.cancel_button.disabled = not running
        self.retry_button.disabled = running or p.status is DownloadStatus.COMPLETED
        if p.status is DownloadStatus.COMPLETED:
            text = f'<span class="nbm-ok">✓ {html.escape(p.status_message)} (sha256)</span>'
        elif p.status is DownloadStatus.FAILED:
            text = f'<span class="nbm-error">{html.escape(p.error_message or "failed")}</span>'
        elif p.status is DownloadStatus.CANCELLED:
            text = f'<span class="nbm-warn">{html.escape(p.status_message)}</span>'
        else:
            text = f'<span class="nbm-muted">{html.escape(p.status_message)}</span>'
        self.message.value = text


class DownloadPanel:
    """Widgets over some download tasks, refreshed every ``interval`` seconds while any runs.

    ``widget`` is the ipywidgets box; the panel shows itself as the last expression of a cell.
    """

    def __init__(self, tasks: Iterable[DownloadTask] = (), *, interval: float = 0.25) -> None:
        self.interval = interval
        self.rows: list[_Row] = []
        self.overall = w.FloatProgress(
            min=0.0, max=100.0, description="all", layout=w.Layout(width="100%")
        )
        self.summary = w.HTML()
        self._rows_box = w.VBox()
        title = w.HTML(
            TABLE_CSS + _CSS + "<b>nbmodels</b> <span class='nbm-muted'>downloads</span>"
        )
        self.widget = w.VBox(
            [title, self._rows_box, self.overall, self.summary], layout=w.Layout(width="100%")
        )
        self.widget.add_class("nbm-downloads")
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        for task in tasks:
            self.add(task)
        self.render()

    @property
    def tasks(self) -> list[DownloadTask]:
        return [row.task for row in self.rows]

    def add(self, task: DownloadTask) -> DownloadPanel:
        """Show one more task."""
        with self._lock:
            self.rows.append(_Row(self, task))
            self._rows_box.children = [row.widget for row in self.rows]
        self._wake()
        return self

    def render(self) -> None:
        """Read every task's progress once and show it."""
        with self._lock:
            rows = list(self.rows)
        for row in rows:
            row.render()
        done = sum(r.task.progress.downloaded_bytes for r in rows)
        total = sum(r.task.progress.total_bytes or 0 for r in rows)
        self.overall.value = round(100.0 * done / total, 1) if total else 0.0
        states = [r.task.progress.status for r in rows]
        running = sum(s in (DownloadStatus.PENDING, DownloadStatus.DOWNLOADING) for s in states)
        finished = sum(s is DownloadStatus.COMPLETED for s in states)
        counts = [f"{running} running", f"{finished} done"]
        for state in (DownloadStatus.CANCELLED, DownloadStatus.FAILED):
            if n := sum(s is state for s in states):
                counts.append(f"{n} {state.value}")
        self.summary.value = (
            f'<span class="nbm-muted">{len(rows)} download{"s" if len(rows) != 1 else ""}: '
            f"{', '.join(counts)} · {format_size(done)} of {format_size(total)}</span>"
        )
        self.overall.bar_style = "success" if rows and finished == len(rows) else "info"

    def _wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._follow, daemon=True, name="nbmodels-download-panel"
                )
                self._thread.start()
        self._wakeup.set()

    def _follow(self) -> None:
        """Refresh while any task runs, then once more (the final state), then stop."""
        while True:
            self.render()
            if all(row.task.done for row in list(self.rows)):
                self.render()
                return
            self._wakeup.wait(self.interval)
            self._wakeup.clear()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _duration(value: float) -> str:
    seconds = max(0, round(value))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def task_view(task: Any) -> DownloadPanel:
    """The view :mod:`nbmodels.display` shows a :class:`DownloadTask` with."""
    return DownloadPanel([task])
