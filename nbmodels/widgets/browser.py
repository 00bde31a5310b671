"""``nbmodels.browse()``: search, filter, page through and inspect models in a notebook.

A thin view over :class:`nbmodels.discover.catalog.Catalog`: every action is one call of the catalog
API (``search``, ``model_info``, ``sql``), and every child widget is an attribute of
:class:`Browser`, so code (and tests) can drive it the way a person does::

    b = nbmodels.browse()
    b.search_box.value = "llama"
    b.search_button.click()
    b.select("nbmodels-demo/tiny-llama-chat")
    b.results            # the DataFrame on show, exactly what catalog.search() returned

Errors never escape as tracebacks: an :class:`~nbmodels.errors.NBModelsError` becomes a red
line in the status bar, a failing source an amber warning next to the results of the others.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import ipywidgets as w

from ..discover.sources.base import SORT_FIELDS, SORT_KEYS
from ..errors import ConfigurationError, NBModelsError
from ..types import FileInfo, ModelMetadata, ModelSource, SupportedTask
from ._common import (
    TABLE_CSS,
    PagedTable,
    esc,
    format_count,
    format_date,
    format_params,
    format_size,
    frame_to_html,
    parse_params,
    parse_size,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..discover.catalog import Catalog

__all__ = ["Browser"]

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")

#: result columns on show, and their headings
COLUMNS = (
    "id",
    "source",
    "tasks",
    "parameters",
    "size_bytes",
    "license",
    "downloads",
    "likes",
    "updated_at",
)
LABELS = {
    "id": "model",
    "parameters": "params",
    "size_bytes": "size",
    "license": "licence",
    "updated_at": "updated",
}
#: catalog sort key -> the column it orders by (for the ▲/▼ mark and the direction toggle)
SORT_COLUMNS = {**SORT_FIELDS, "name": "id"}
LICENSES = (
    "apache-2.0",
    "mit",
    "llama3.1",
    "llama3.2",
    "llama3",
    "llama2",
    "gemma",
    "cc-by-4.0",
    "cc-by-nc-4.0",
    "openrail",
    "other",
)
DEFAULT_SQL = (
    "SELECT license, count(*) AS models, sum(downloads) AS downloads\n"
    "FROM models\nGROUP BY license\nORDER BY models DESC\nLIMIT 20"
)


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R | None]:
    """Run a widget callback; show errors in the status line instead of raising them."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        self: Browser = args[0]  # type: ignore[assignment]
        try:
            return method(*args, **kwargs)
        except NBModelsError as exc:
            self._error(str(exc))
        except Exception as exc:  # a bug must not print a traceback into the notebook
            log.debug("browse widget callback failed", exc_info=True)
            self._error(f"Unexpected {type(exc).__name__}: {exc}. Please report it.")
        return None

    return wrapper


class Browser:
    """The model browser. Display it (it is the last expression of a cell) or ``browser.widget``.

    Attributes worth driving from code: ``search_box``, ``search_button``, ``refresh_button``,
    ``source_picker``, ``task_picker``, ``license_box``, ``author_box``, ``min_params_box``,
    ``max_params_box``, ``min_size_box``, ``max_size_box``, ``sort_picker``, ``order_toggle``,
    ``table`` (a :class:`PagedTable`: ``prev_button``, ``next_button``, ``html``),
    ``model_picker``, ``detail``, ``sql_box``, ``sql_button``, ``sql_table``, ``sql_message``,
    ``status``. State: ``results`` (DataFrame), ``selected`` (:class:`ModelMetadata` or None),
    ``messages`` (the status line's ``(level, text)`` pairs).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        query: str = "",
        source: str | None = None,
        task: str | SupportedTask | None = None,
        license: str | None = None,
        author: str | None = None,
        min_params: str | int | None = None,
        max_params: str | int | None = None,
        min_size: str | int | None = None,
        max_size: str | int | None = None,
        sort: str = "downloads",
        ascending: bool | None = None,
        page_size: int = 15,
        limit: int = 300,
        search: bool = True,
    ) -> None:
        import pandas as pd

        if sort not in SORT_KEYS:
            raise ConfigurationError(
                f"Unknown sort {sort!r}. Choose one of: {', '.join(SORT_KEYS)}."
            )
        if limit < 1:
            raise ConfigurationError(f"limit must be at least 1, got {limit!r}.")
        self.catalog = catalog
        self.limit = limit
        self.results: pd.DataFrame = pd.DataFrame()
        self.selected: ModelMetadata | None = None
        self.messages: list[tuple[str, str]] = []
        self._hold = 0
        self._build(page_size)
        # initial values go in before the observers exist, so they trigger no searches
        self.search_box.value = query or ""
        self.source_picker.value = self._source_value(source)
        self.task_picker.value = SupportedTask.parse(task).value if task else None
        self.license_box.value = license or ""
        self.author_box.value = author or ""
        for box, value in (
            (self.min_params_box, min_params),
            (self.max_params_box, max_params),
            (self.min_size_box, min_size),
            (self.max_size_box, max_size),
        ):
            box.value = "" if value is None else str(value)
        self.sort_picker.value = sort
        self.order_toggle.value = (sort == "name") if ascending is None else ascending
        self._sync_order_label()
        self._wire()
        if search:
            self.run_search()

    # -- building -------------------------------------------------------------------------
    def _build(self, page_size: int) -> None:
        text = w.Layout(width="150px")
        compact = {"description_width": "initial"}  # labels as wide as their words
        self.search_box = w.Text(
            placeholder="Search models, e.g. llama",
            continuous_update=False,  # the value (and a search) follows Enter, not each key
            layout=w.Layout(flex="1 1 auto", width="auto"),
        )
        self.search_button = w.Button(description="Search", icon="search", button_style="primary")
        self.refresh_button = w.Button(
            icon="refresh", tooltip="Fetch again from the sources", layout=w.Layout(width="40px")
        )
        self.source_picker = w.Dropdown(
            options=[("all sources", None)] + [(n, n) for n in self._source_names()],
            description="source",
            style=compact,
            layout=w.Layout(width="210px"),
        )
        self.task_picker = w.Dropdown(
            options=[("any task", None)] + [(t.value, t.value) for t in SupportedTask],
            description="task",
            style=compact,
            layout=w.Layout(width="250px"),
        )
        self.license_box = w.Combobox(
            options=LICENSES,
            placeholder="any licence",
            description="licence",
            style=compact,
            ensure_option=False,
            continuous_update=False,
            layout=w.Layout(width="230px"),
        )
        self.author_box = w.Text(
            placeholder="any author",
            description="author",
            style=compact,
            continuous_update=False,
            layout=w.Layout(width="230px"),
        )
        self.min_params_box = w.Text(
            placeholder="min, e.g. 1B", continuous_update=False, layout=text
        )
        self.max_params_box = w.Text(
            placeholder="max, e.g. 8B", continuous_update=False, layout=text
        )
        self.min_size_box = w.Text(
            placeholder="min, e.g. 100MB", continuous_update=False, layout=text
        )
        self.max_size_box = w.Text(
            placeholder="max, e.g. 4GB", continuous_update=False, layout=text
        )
        self.sort_picker = w.Dropdown(
            options=list(SORT_KEYS), description="sort", layout=w.Layout(width="190px")
        )
        self.order_toggle = w.ToggleButton(
            description="descending", icon="arrow-down", tooltip="Sort direction"
        )
        self.table = PagedTable(page_size=page_size, columns=COLUMNS, labels=LABELS)
        self.table.empty = "No models match. Loosen the filters or search for something else."
        self.table.selected = lambda row: (
            self.selected is not None and row.get("key") == (self.selected.key)
        )
        self.model_picker = w.Dropdown(
            options=[("— pick a model on this page —", None)],
            description="details",
            style=compact,
            layout=w.Layout(width="100%", max_width="600px"),
        )
        self.model_picker.add_class("nbm-model-picker")
        for picker in (self.source_picker, self.task_picker, self.model_picker):
            _show_first_option_for_none(picker)
        self.detail = w.HTML(layout=w.Layout(width="100%"))
        self.download_button = w.Button(
            description="Download",
            icon="download",
            tooltip="Download the selected model into the Hugging Face cache",
            disabled=True,
            layout=w.Layout(flex="0 0 auto", width="120px"),
        )
        self.downloads_box = w.VBox(layout=w.Layout(width="100%"))
        self.downloader: Any = None  # a nbmodels Downloader, made on the first download
        self._panel: Any = None
        self.sql_box = w.Textarea(
            value=DEFAULT_SQL,
            placeholder="SELECT ... FROM models",
            layout=w.Layout(width="100%", height="120px"),
        )
        self.sql_button = w.Button(
            description="Run SQL",
            icon="play",
            button_style="primary",
            layout=w.Layout(flex="0 0 auto", min_width="110px"),  # a long error never squeezes it
        )
        self.sql_message = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.sql_table = PagedTable(page_size=10, empty="The query returned no rows.")
        self.status = w.HTML(layout=w.Layout(min_height="22px"))

        def row(children: list[w.Widget], *, wrap: bool = False) -> w.HBox:
            layout = w.Layout(align_items="center", flex_flow="row wrap" if wrap else "row")
            box = w.HBox(children, layout=layout)
            box.add_class("nbm-row")  # spacing comes from TABLE_CSS (Layout has no `gap`)
            return box

        browse_tab = w.VBox(
            [
                row([self.search_box, self.search_button, self.refresh_button]),
                row(
                    [self.source_picker, self.task_picker, self.license_box, self.author_box],
                    wrap=True,
                ),
                row(
                    [
                        w.Label("params"),
                        self.min_params_box,
                        self.max_params_box,
                        w.Label("size"),
                        self.min_size_box,
                        self.max_size_box,
                        self.sort_picker,
                        self.order_toggle,
                    ],
                    wrap=True,
                ),
                self.table.widget,
                row([self.model_picker, self.download_button]),
                self.detail,
                self.downloads_box,
            ],
        )
        sql_tab = w.VBox(
            [
                w.HTML(
                    '<span class="nbm-muted">One SELECT over the table <code>models</code> '
                    "(DuckDB SQL).</span>"
                ),
                self.sql_box,
                row([self.sql_button, self.sql_message]),
                self.sql_table.widget,
            ],
        )
        self.tabs = w.Tab(children=[browse_tab, sql_tab], titles=["Browse", "SQL"])
        title = w.HTML(TABLE_CSS + "<b>nbmodels</b> <span class='nbm-muted'>model browser</span>")
        self.widget = w.VBox([title, self.tabs, self.status], layout=w.Layout(width="100%"))
        self.widget.add_class("nbm-browser")

    def _wire(self) -> None:
        self.search_button.on_click(lambda _b: self.run_search())
        self.refresh_button.on_click(lambda _b: self.run_search(refresh=True))
        for control in (
            self.search_box,
            self.source_picker,
            self.task_picker,
            self.license_box,
            self.author_box,
            self.min_params_box,
            self.max_params_box,
            self.min_size_box,
            self.max_size_box,
            self.order_toggle,
        ):
            control.observe(self._on_filter, names="value")
        self.sort_picker.observe(self._on_sort, names="value")
        self.table.on_page(lambda _t: self._fill_model_picker())
        self.model_picker.observe(self._on_pick, names="value")
        self.sql_button.on_click(lambda _b: self.run_sql())
        self.download_button.on_click(lambda _b: self.download())

    # -- display --------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<nbmodels Browser: {len(self.results)} models, query={self.search_box.value!r}>"

    # -- actions (each one catalog call) --------------------------------------------------
    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Change several filters and search once, when the block ends."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
        if not self._hold:
            self.run_search()

    def search_kwargs(self) -> dict[str, Any]:
        """The ``catalog.search`` arguments the controls stand for (raises on bad input)."""

        def parsed(box: w.Text, parse: Callable[[str], int | None], label: str) -> int | None:
            try:
                value = parse(box.value)
            except ConfigurationError as exc:
                box.add_class("nbm-invalid")  # a red border on the box to fix
                raise ConfigurationError(f"{label}: {exc}") from None
            box.remove_class("nbm-invalid")
            return value

        return {
            "query": self.search_box.value.strip() or None,
            "source": self.source_picker.value,
            "task": self.task_picker.value,
            "author": self.author_box.value.strip() or None,
            "license": self.license_box.value.strip() or None,
            "min_params": parsed(self.min_params_box, parse_params, "min params"),
            "max_params": parsed(self.max_params_box, parse_params, "max params"),
            "min_size": parsed(self.min_size_box, parse_size, "min size"),
            "max_size": parsed(self.max_size_box, parse_size, "max size"),
            "sort": self.sort_picker.value,
            "descending": not self.order_toggle.value,
            "limit": self.limit,
        }

    @_guarded
    def run_search(self, *, refresh: bool = False) -> pd.DataFrame:
        """Search with the current controls and show page 1 of the results."""
        kwargs = self.search_kwargs()
        self._set_status([("info", "Searching…")])
        with (
            self._busy(self.search_button, self.refresh_button),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")  # a failing source's warning goes to the status line
            frame = self.catalog.search(**kwargs, refresh=refresh)
        self.results = frame
        if self.selected is not None and self.selected.key not in set(frame.get("key", ())):
            self.selected = None  # the old model's details go with the old results
            self.detail.value = ""
            self.download_button.disabled = True
        self._mark_sort_column()
        self.table.set_frame(frame)
        found = len(frame)
        summary = f"{found} model{'s' if found != 1 else ''}"
        if found >= self.limit:
            summary += f" (the first {self.limit}; narrow the search to see others)"
        notes = [("info", summary)]
        notes += [("warn", text) for text in self._warnings(caught)]
        self._set_status(notes)
        return frame

    def select(self, model: str | None) -> ModelMetadata | None:
        """Show the details of ``model`` (an id or ``source:id`` key among the results)."""
        if model is None:
            self.model_picker.value = None
            return None
        frame = self.results
        if len(frame):
            hits = frame.index[(frame["key"] == model) | (frame["id"] == model)].tolist()
            if hits and (hits[0] // self.table.page_size) != self.table.page:
                self.table.go(hits[0] // self.table.page_size)
            if hits:
                key = str(frame.loc[hits[0], "key"])
                if self.model_picker.value == key:
                    return self.show_details(key)
                self.model_picker.value = key
                return self.selected
        self._error(f"{model!r} is not among the results; search for it first.")
        return None

    @_guarded
    def show_details(self, key: str) -> ModelMetadata:
        """Fetch ``catalog.model_info`` for a ``source:id`` key and render it in the detail pane."""
        source, _, model_id = key.partition(":")
        self.detail.value = f'<div class="nbm-muted">Loading details of {esc(model_id)}…</div>'
        self._set_status([("info", f"Loading details of {model_id}…")])
        with self._busy(self.model_picker):
            meta = self.catalog.model_info(model_id, source=source or None)
        self.selected = meta
        self.detail.value = render_details(meta)
        self.download_button.disabled = meta.source is not ModelSource.HUGGING_FACE
        self.table.render()  # highlight the row
        files = f", {len(meta.files)} files" if meta.files else ""
        self._set_status([("info", f"Details of {model_id}{files}")])
        return meta

    @_guarded
    def download(self) -> Any:
        """Start downloading the selected model; its progress shows under the details."""
        from ..downloader.core import Downloader
        from .downloads import DownloadPanel

        if self.selected is None:
            raise ConfigurationError("Pick a model first (the details dropdown).")
        if self.selected.source is not ModelSource.HUGGING_FACE:
            raise ConfigurationError(
                f"{self.selected.id} is a {self.selected.source.value} model; only Hugging "
                "Face models download from here so far."
            )
        if self.downloader is None:
            self.downloader = Downloader(self.catalog.settings)
        task = self.downloader.download(self.selected.id)
        if self._panel is None:
            self._panel = DownloadPanel()
            self.downloads_box.children = [self._panel.widget]
        self._panel.add(task)
        # the panel above follows the task to its end; this line only says where to look
        self._set_status(
            [("info", f"Started the download of {self.selected.id}: its progress is above")]
        )
        return task

    @_guarded
    def run_sql(self, query: str | None = None) -> pd.DataFrame | None:
        """Run the SQL box (or ``query``) through ``catalog.sql`` and show the rows."""
        if query is not None:
            self.sql_box.value = query
        self.sql_message.value = '<span class="nbm-muted">Running…</span>'
        try:
            with self._busy(self.sql_button):
                frame = self.catalog.sql(self.sql_box.value)
        except NBModelsError as exc:  # the whole message by the box, its first line below
            self.sql_message.value = f'<div class="nbm-error">{esc(exc)}</div>'
            self.sql_table.set_frame(self.sql_table.frame.iloc[0:0])
            self._error("SQL: " + str(exc).strip().splitlines()[0])
            return None
        self.sql_table.set_frame(frame)
        rows = f"{len(frame)} row{'s' if len(frame) != 1 else ''}"
        self.sql_message.value = f'<span class="nbm-ok">{rows}</span>'
        self._set_status([("info", f"SQL: {rows}")])
        return frame

    # -- observers ------------------------------------------------------------------------
    def _on_filter(self, _change: dict[str, Any]) -> None:
        self._sync_order_label()
        if not self._hold:
            self.run_search()

    def _on_sort(self, change: dict[str, Any]) -> None:
        with self.hold():  # each sort starts in its natural direction: A to Z, or most first
            self.order_toggle.value = change["new"] == "name"

    def _sync_order_label(self) -> None:
        self.order_toggle.description = "ascending" if self.order_toggle.value else "descending"
        self.order_toggle.icon = "arrow-up" if self.order_toggle.value else "arrow-down"

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.show_details(change["new"])

    def _fill_model_picker(self) -> None:
        page = self.table.page_frame()
        options: list[tuple[str, str | None]] = [("— pick a model on this page —", None)]
        for rec in page.to_dict("records"):
            options.append((f"{rec['id']} ({rec['source']})", str(rec["key"])))
        current = self.selected.key if self.selected is not None else None
        with self._quiet(self.model_picker):
            self.model_picker.options = options
            self.model_picker.value = current if current in {v for _, v in options} else None

    # -- helpers --------------------------------------------------------------------------
    def _source_names(self) -> list[str]:
        names = getattr(self.catalog, "source_names", None)
        if names is None:
            sources = getattr(self.catalog, "sources", None) or {}
            names = list(sources) if isinstance(sources, dict) else [s.name for s in sources]
        return [str(n) for n in names]

    def _source_value(self, source: str | None) -> str | None:
        if source in (None, "", "all"):
            return None
        names = self._source_names()
        if source not in names:
            raise ConfigurationError(
                f"This catalog has no source {source!r}; it has: {', '.join(names)}."
            )
        return source

    def _mark_sort_column(self) -> None:
        column = SORT_COLUMNS.get(self.sort_picker.value)
        labels = dict(LABELS)
        if column:
            arrow = "▲" if self.order_toggle.value else "▼"
            labels[column] = f"{labels.get(column, column)} {arrow}"
        self.table.labels = labels

    def _warnings(self, caught: list[warnings.WarningMessage]) -> list[str]:
        texts = [str(m.message) for m in caught]
        texts += [str(t) for t in (getattr(self.catalog, "warnings", None) or ())]
        return list(dict.fromkeys(texts))  # each once, in order

    def _set_status(self, notes: list[tuple[str, str]]) -> None:
        self.messages = notes
        css = {"info": "nbm-ok", "warn": "nbm-warn", "error": "nbm-error"}
        icon = {"info": "", "warn": "⚠ ", "error": "✖ "}
        self.status.value = " &nbsp;·&nbsp; ".join(
            f'<span class="{css[level]}">{icon[level]}{esc(text)}</span>' for level, text in notes
        )

    def _error(self, text: str) -> None:
        self._set_status([("error", text)])

    @staticmethod
    @contextlib.contextmanager
    def _busy(*controls: w.DOMWidget) -> Iterator[None]:
        """Disable controls while a call runs (the busy indicator a person sees)."""
        for control in controls:
            control.disabled = True
        try:
            yield
        finally:
            for control in controls:
                control.disabled = False

    @contextlib.contextmanager
    def _quiet(self, control: w.DOMWidget) -> Iterator[None]:
        control.unobserve(self._on_pick, names="value")
        try:
            yield
        finally:
            control.observe(self._on_pick, names="value")


def render_details(meta: ModelMetadata) -> str:
    """The detail pane: card summary, facts, and the files with their sizes."""
    head = [meta.source.value]
    if meta.author:
        head.append(f"by {meta.author}")
    if meta.license:
        head.append(f"licence {meta.license}")
    description = (meta.description or "").strip()
    if len(description) > 1500:
        description = description[:1500].rstrip() + "…"
    facts = [
        ("model type", meta.model_type.value if meta.model_type else ""),
        ("tasks", ", ".join(t.value for t in meta.tasks)),
        ("parameters", format_params(meta.parameters)),
        ("size", format_size(meta.size_bytes)),
        ("licence", meta.license or ""),
        ("downloads", format_count(meta.downloads)),
        ("likes", format_count(meta.likes)),
        ("updated", format_date(meta.updated_at)),
        ("library", meta.library or ""),
        ("pipeline tag", meta.pipeline_tag or ""),
        ("languages", ", ".join(meta.language[:12])),
        ("tags", ", ".join(meta.tags[:16]) + (" …" if len(meta.tags) > 16 else "")),
        ("local path", meta.local_path or ""),
    ]
    facts_html = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in facts if v not in ("", None)
    )
    parts = [
        '<div class="nbm-detail">',
        f"<h3>{esc(meta.id)}</h3>",
        f'<div class="nbm-muted">{esc(" · ".join(head))}</div>',
    ]
    if description:
        parts.append(f'<div class="nbm-desc">{esc(description)}</div>')
    parts.append('<div class="nbm-columns">')
    parts.append(f'<table class="nbm-table nbm-facts">{facts_html}</table>')
    parts.append(f'<div class="nbm-files">{files_html(meta.files)}</div>')
    parts.append("</div></div>")
    return "".join(parts)


def files_html(files: tuple[FileInfo, ...], *, limit: int = 40) -> str:
    import pandas as pd

    if not files:
        return '<div class="nbm-muted">No file list known for this model.</div>'
    sizes = [f.size for f in files if f.size is not None]
    total = f", {format_size(sum(sizes))} in all" if sizes else ""
    frame = pd.DataFrame(
        {"file": [f.path for f in files[:limit]], "size_bytes": [f.size for f in files[:limit]]}
    )
    more = len(files) - limit
    plural = "s" if len(files) != 1 else ""
    tail = f'<div class="nbm-muted">… and {more} more files</div>' if more > 0 else ""
    return (
        f"<div><b>Files</b> <span class='nbm-muted'>({len(files)} file{plural}{total})</span></div>"
        + frame_to_html(frame, labels={"size_bytes": "size"})
        + tail
    )


def _show_first_option_for_none(picker: w.Dropdown) -> None:
    """Keep ``picker`` showing its first option ("all sources", "any task") when its value
    is None. ipywidgets reads value None as "no selection" and draws an empty box, even when
    the first option's value is None; an index of 0 draws its label."""

    def follow(change: dict[str, Any]) -> None:
        if change["new"] is None and picker.options and picker.value is None:
            picker.index = 0

    picker.observe(follow, names="index")
    if picker.value is None and picker.options:
        picker.index = 0
