"""Pieces shared by the notebook widgets: human-readable numbers, reading "7B" / "4GB" typed
by a person, HTML tables of DataFrames, and a paged table widget.

Formatting and parsing need no ipywidgets; :class:`PagedTable` imports it when built.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..units import format_size

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "TABLE_CSS",
    "PagedTable",
    "esc",
    "format_cell",
    "format_count",
    "format_date",
    "format_params",
    "format_size",
    "frame_to_html",
    "hrow",
    "parse_params",
    "parse_size",
]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def format_params(n: float | None) -> str:
    """A parameter count as ``"7.0B"``, ``"350M"``, ``"22K"``; ``""`` when unknown."""
    if _missing(n):
        return ""
    value = float(n)  # type: ignore[arg-type]
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale * 0.9995:
            scaled = value / scale
            return f"{scaled:.1f}{unit}" if scaled < 100 else f"{scaled:.0f}{unit}"
    return f"{int(value)}"


def format_count(n: float | None) -> str:
    """Downloads/likes as ``"1.2M"``, ``"12.3K"``, ``"950"``."""
    if _missing(n):
        return ""
    value = float(n)  # type: ignore[arg-type]
    if abs(value) < 1000:
        return f"{int(value)}"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{int(value)}"  # pragma: no cover


def format_date(value: Any) -> str:
    """A timestamp as ``"2024-05-01"``."""
    if _missing(value):
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def _blank_or(parse: Callable[[str], int], text: str | None) -> int | None:
    if text is None or not str(text).strip():
        return None
    return parse(str(text).strip().replace(",", "").replace("_", ""))


def parse_size(text: str | None) -> int | None:
    """``"4GB"``, ``"500 MB"``, ``"1.5GiB"``, ``"123"`` (bytes) -> bytes; blank -> None."""
    from ..discover.frame import parse_size as parse

    return _blank_or(parse, text)


def parse_params(text: str | None) -> int | None:
    """``"7B"``, ``"350M"``, ``"1.5b"`` -> a parameter count; blank -> None."""
    from ..discover.frame import parse_count as parse

    return _blank_or(parse, text)


def esc(value: Any) -> str:
    """HTML-escaped text (model cards and ids come from strangers: never trust them)."""
    return html.escape("" if _missing(value) else str(value), quote=True)


#: how each well-known catalog column is shown
_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "size_bytes": format_size,
    "parameters": format_params,
    "downloads": format_count,
    "likes": format_count,
    "created_at": format_date,
    "updated_at": format_date,
    "fetched_at": format_date,
    "trending_score": lambda v: "" if _missing(v) else f"{float(v):.0f}",
}


def format_cell(column: str, value: Any) -> str:
    """Plain text for one cell (lists joined with commas, numbers made readable)."""
    if isinstance(value, list | tuple) or type(value).__name__ == "ndarray":
        return ", ".join(str(v) for v in value)
    if column in _FORMATTERS:
        return _FORMATTERS[column](value)
    if _missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


#: JupyterLab theme variables with fallbacks, so tables read well in light and dark themes
TABLE_CSS = """
<style>
.nbm-row { gap: 6px; }
.nbm-table, .nbm-detail, .nbm-empty { line-height: 1.4; }
.nbm-table { border-collapse: collapse; font-size: var(--jp-ui-font-size1, 13px);
  font-family: var(--jp-ui-font-family, sans-serif); width: 100%; }
.nbm-table th { text-align: left; font-weight: 600; padding: 4px 8px; white-space: nowrap;
  border-bottom: 2px solid var(--jp-border-color1, #bbb);
  background: var(--jp-layout-color2, #f3f3f3); }
.nbm-table td { padding: 3px 8px; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0);
  vertical-align: top; max-width: 28em; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.nbm-table td.c-tasks { max-width: 14em; }
.nbm-table td.c-id { max-width: 24em; }
.nbm-invalid input { border-color: #c62828 !important; }
.nbm-table td.num, .nbm-table th.num { text-align: right; font-variant-numeric: tabular-nums; }
.nbm-table tr:hover td { background: var(--jp-layout-color2, #f6f8fa); }
.nbm-table tr.nbm-selected td { background: var(--jp-brand-color3, #d8ecff); }
.nbm-empty { color: var(--jp-ui-font-color2, #777); padding: 8px; font-style: italic; }
.nbm-ok { color: var(--jp-ui-font-color1, #222); }
.nbm-warn { color: #a35f00; }
.nbm-error { color: #c62828; font-weight: 600; white-space: pre-wrap; }
.nbm-muted { color: var(--jp-ui-font-color2, #777); }
.nbm-detail h3 { margin: 4px 0 6px 0; font-size: 1.15em; }
.nbm-detail .nbm-desc { margin: 4px 0 8px 0; white-space: pre-wrap; max-height: 9em;
  overflow: auto; color: var(--jp-ui-font-color1, #222); }
.nbm-columns { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.nbm-columns > .nbm-facts { width: auto; flex: 1 1 360px; }
.nbm-columns > .nbm-files { flex: 1 1 360px; }
.nbm-facts td { white-space: normal; }
.nbm-facts td:first-child { color: var(--jp-ui-font-color2, #666); padding-right: 12px;
  white-space: nowrap; width: 1%; }
</style>
"""

_NUMERIC = {"size_bytes", "parameters", "downloads", "likes", "trending_score"}


def frame_to_html(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    empty: str = "Nothing to show.",
    selected: Callable[[Mapping[Any, Any]], bool] | None = None,
) -> str:
    """An escaped HTML table of ``frame`` (the columns given, readable values).

    Written by hand rather than with ``DataFrame.to_html`` because rows need classes
    (selection highlight, numeric alignment) that ``to_html`` cannot attach.
    """
    if frame is None or len(frame) == 0:
        return f'<div class="nbm-empty">{esc(empty)}</div>'
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    labels = labels or {}

    import pandas as pd

    numeric = {
        c
        for c in cols
        if c in _NUMERIC
        or (pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]))
    }

    def cls(col: str) -> str:  # "c-<column>" lets the CSS size columns (tasks, id) apart
        name = re.sub(r"[^a-z0-9_-]", "", str(col).lower())
        return f' class="c-{name}{" num" if col in numeric else ""}"'

    head = "".join(f"<th{cls(c)}>{esc(labels.get(c, c))}</th>" for c in cols)
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for c in cols:
            text = format_cell(str(c), record.get(c))
            cells.append(f'<td{cls(c)} title="{esc(text)}">{esc(text)}</td>')
        row_cls = ' class="nbm-selected"' if selected is not None and selected(record) else ""
        rows.append(f"<tr{row_cls}>{''.join(cells)}</tr>")
    return (
        f'<table class="nbm-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


class PagedTable:
    """A DataFrame shown one page at a time: an HTML table, Prev/Next and "page i of n".

    ``table.frame`` is the whole frame, ``table.page_frame()`` the rows on show;
    ``on_page`` callbacks run after the page changes.
    """

    def __init__(
        self,
        *,
        page_size: int = 20,
        columns: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        empty: str = "Nothing to show.",
    ) -> None:
        import ipywidgets as w
        import pandas as pd

        if page_size < 1:
            raise ConfigurationError(f"page_size must be at least 1, got {page_size!r}.")
        self.page_size = page_size
        self.columns = list(columns) if columns else None
        self.labels = dict(labels or {})
        self.empty = empty
        self.frame: pd.DataFrame = pd.DataFrame()
        self.page = 0
        self.selected: Callable[[Mapping[Any, Any]], bool] | None = None
        self._callbacks: list[Callable[[PagedTable], None]] = []

        self.html = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.prev_button = w.Button(
            description="Prev", icon="chevron-left", layout=w.Layout(width="80px")
        )
        self.next_button = w.Button(
            description="Next", icon="chevron-right", layout=w.Layout(width="80px")
        )
        self.page_label = w.HTML()
        self.prev_button.on_click(lambda _b: self.go(self.page - 1))
        self.next_button.on_click(lambda _b: self.go(self.page + 1))
        self.pager = w.HBox(
            [self.prev_button, self.page_label, self.next_button],
            layout=w.Layout(align_items="center"),
        )
        self.pager.add_class("nbm-row")
        self.widget = w.VBox([self.html, self.pager], layout=w.Layout(width="100%"))
        self.render()

    @property
    def n_pages(self) -> int:
        return max(1, math.ceil(len(self.frame) / self.page_size))

    def on_page(self, callback: Callable[[PagedTable], None]) -> None:
        self._callbacks.append(callback)

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Show a new frame from its first page."""
        self.frame = frame.reset_index(drop=True)
        self.go(0)

    def page_frame(self) -> pd.DataFrame:
        start = self.page * self.page_size
        return self.frame.iloc[start : start + self.page_size]

    def go(self, page: int) -> None:
        self.page = min(max(0, page), self.n_pages - 1)
        self.render()
        for callback in self._callbacks:
            callback(self)

    def render(self) -> None:
        self.html.value = TABLE_CSS + frame_to_html(
            self.page_frame(),
            columns=self.columns,
            labels=self.labels,
            empty=self.empty,
            selected=self.selected,
        )
        total = len(self.frame)
        start = self.page * self.page_size
        shown = f"{start + 1}–{min(start + self.page_size, total)} of {total}" if total else "0"
        self.page_label.value = (
            f'<span class="nbm-muted">page {self.page + 1} of {self.n_pages} '
            f"&nbsp;·&nbsp; rows {shown}</span>"
        )
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.n_pages - 1


def hrow(*children: Any, cls: str = "nbm-row") -> Any:
    """An ``HBox`` of ``children`` with a CSS class (widgets lay their control rows out so)."""
    import ipywidgets as w

    box = w.HBox(list(children))
    box.add_class(cls)
    return box
