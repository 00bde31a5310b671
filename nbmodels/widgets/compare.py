"""The live view of a comparison: a progress bar and status line, Stop, the outputs side by
side, the summary table and the chart.

A thin view over :class:`~nbmodels.bench.compare.Comparison`: the comparison runs in its own
thread and tells the view when something changed (``on_event``); a thread of the view's own
then reads the comparison and sets widget values (widget state reaches the browser from any
thread; ``with output:`` from another thread would print into whichever cell runs then). Stop
calls ``comparison.stop()``.

    >>> c = nbmodels.compare(["org/a", ("org/a", {"quantization": "nf4"})], background=True)
    >>> c                          # the last expression of a cell: this view
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w

from ._common import TABLE_CSS, esc, frame_to_html, hrow

__all__ = ["ComparisonView", "comparison_view"]

_CSS = """
<style>
.nbm-cmp-row { align-items: center; gap: 8px; }
.nbm-cmp-status { font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color2, #666); }
.nbm-compare h4 { margin: 10px 0 4px 0; font-size: var(--jp-ui-font-size1, 13px); }
.nbm-table.nbm-cmp-outputs td { white-space: pre-wrap; max-width: none; min-width: 12em;
  overflow-wrap: anywhere; font-family: var(--jp-code-font-family, monospace); }
.nbm-table.nbm-cmp-outputs td.c-prompt { font-family: inherit; font-weight: 600; }
.nbm-table.nbm-cmp-summary td.c-note { max-width: 36em; min-width: 16em; white-space: normal; }  /* wraps: not cut off */
.nbm-cmp-chart svg { max-width: 100%; height: auto; }
</style>
"""

#: the summary's columns as the view shows them
_SHOWN = {
    "status": "status",
    "decode": "decode tokens/s",
    "prefill": "prefill tokens/s",
    "ttft": "TTFT s",
    "load_s": "load s",
    "peak": "peak memory",
    "perplexity": "perplexity",
    "kl": "KL",
    "note": "note",
}


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _spread(value: Any, spread: Any, digits: int = 1) -> str:
    v, s = _num(value), _num(spread)
    if v is None:
        return ""
    return f"{v:,.{digits}f}" + (f" ± {s:,.{digits}f}" if s else "")


def _memory(value: Any) -> str:
    v = _num(value)
    if v is None:
        return ""
    return f"{v / 2**30:.2f} GiB" if v >= 0.1 * 2**30 else f"{v / 2**20:.0f} MiB"


def _plain(value: Any, digits: int) -> str:
    v = _num(value)
    return "" if v is None else f"{v:,.{digits}f}"


def summary_frame(comparison: Any) -> Any:
    """The comparison's summary with readable strings, the columns the view shows."""
    import pandas as pd

    rows = []
    for label, r in comparison.summary().iterrows():
        rows.append({
            "candidate": label,
            "status": r["status"],
            "decode": _spread(r["decode_tokens_per_s"], r["decode_spread"]),
            "prefill": _spread(r["prefill_tokens_per_s"], r["prefill_spread"]),
            "ttft": _spread(r["ttft_s"], r["ttft_spread"], 3),
            "load_s": _plain(r["load_s"], 2),
            "peak": _memory(r["peak_bytes"]),
            "perplexity": _plain(r["perplexity"], 2),
            "kl": _plain(r["kl_divergence"], 4),
            "note": r["note"] or "",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["candidate", *_SHOWN])


def outputs_html(comparison: Any) -> str:
    """The replies side by side: a row per prompt, a column per candidate (a candidate
    without a reply shows its status)."""
    frame = comparison.outputs
    status = comparison.status
    head = "<th>prompt</th>" + "".join(f"<th>{esc(label)}</th>" for label in frame.columns)
    rows = []
    for prompt, replies in frame.iterrows():
        cells = [f'<td class="c-prompt">{esc(prompt)}</td>']
        for label, text in replies.items():
            if text is None:
                cells.append(f'<td><span class="nbm-muted">— {esc(status.get(label, ""))}</span></td>')  # fmt: skip
            else:
                cells.append(f"<td>{esc(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="nbm-table nbm-cmp-outputs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


class ComparisonView:
    """Widgets over one :class:`~nbmodels.bench.compare.Comparison`, refreshed while it runs
    (``interval`` seconds at most between refreshes; at once when it reports an event)."""

    def __init__(self, comparison: Any, *, interval: float = 0.5) -> None:
        self.comparison = comparison
        self.interval = interval
        self.bar = w.FloatProgress(min=0.0, max=100.0, layout=w.Layout(flex="1 1 auto", width="auto"))  # fmt: skip
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", layout=w.Layout(flex="0 0 auto", width="96px"))  # fmt: skip
        self.stop_button.on_click(lambda _b: self.stop())
        self.status = w.HTML()
        self.status.add_class("nbm-cmp-status")
        self.outputs = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.summary = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.chart = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.chart.add_class("nbm-cmp-chart")
        title = w.HTML(TABLE_CSS + _CSS + "<b>nbmodels</b> <span class='nbm-muted'>compare</span>")
        self.widget = w.VBox(
            [
                title,
                hrow(self.bar, self.stop_button, cls="nbm-cmp-row"),
                self.status,
                w.HTML("<h4>Outputs</h4>"),
                self.outputs,
                w.HTML("<h4>Summary</h4>"),
                self.summary,
                self.chart,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbm-compare")
        self._lock = threading.Lock()
        self._shown = -1  # the comparison's version last drawn
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        comparison.on_event(lambda _event: self._wakeup.set())
        self.render()
        if not comparison.done:
            self._thread = threading.Thread(target=self._follow, daemon=True, name="nbmodels-compare-view")  # fmt: skip
            self._thread.start()

    def stop(self) -> None:
        """Stop the comparison (the running candidate at its next step; the rest not run)."""
        self.comparison.stop()
        self.render()

    def render(self) -> None:
        """Read the comparison once and show it (tables only when something changed)."""
        c = self.comparison
        with self._lock:
            done, version = c.done, c.version
            self.bar.value = round(100.0 * c.fraction, 1)
            self.stop_button.disabled = done or c.stopped
            self.stop_button.description = "Stopping…" if c.stopped and not done else "Stop"
            if done:
                clean = all(s == "done" for s in c.status.values())
                self.bar.bar_style = "success" if clean else "warning"
            else:
                self.bar.bar_style = "info"
            event = c.last_event
            line = esc(str(event)) if event is not None else "starting"
            reasons = [
                f"<div class='{'nbm-error' if label in c.failed else 'nbm-warn'}'>"
                f"{esc(label)}: {esc(why)}</div>"
                for label, why in [*c.skipped.items(), *c.failed.items()]
            ]
            self.status.value = f"<span>{line}</span>{''.join(reasons)}"
            if version == self._shown:
                return
            self._shown = version
            self.outputs.value = outputs_html(c)
            self.summary.value = frame_to_html(
                summary_frame(c), labels=_SHOWN, empty="No candidates."
            ).replace('class="nbm-table"', 'class="nbm-table nbm-cmp-summary"', 1)
            self.chart.value = c.chart().svg if c.cards else ""

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the view has drawn the comparison's end (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _follow(self) -> None:
        """Redraw on each event (at most every ``interval``), then once at the end."""
        while True:
            self._wakeup.wait(self.interval)
            self._wakeup.clear()
            done = self.comparison.done
            self.render()
            if done:
                return

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def comparison_view(comparison: Any) -> ComparisonView:
    """The view :mod:`nbmodels.display` shows a :class:`~nbmodels.bench.compare.Comparison` with."""
    return ComparisonView(comparison)
