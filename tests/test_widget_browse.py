"""``nbmodels.browse()`` driven like a person would: values typed, buttons clicked.

The catalog behind it is real (DuckDB) and asks a real local Hub (``hub_server``) through the
real Hugging Face source; every assertion compares what the widget shows with what the
catalog API returns for the same question.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import pytest

pytest.importorskip("ipywidgets")

import nbmodels
from nbmodels.discover.catalog import Catalog
from nbmodels.settings import Settings
from nbmodels.types import FileInfo, ModelMetadata, ModelSource, SupportedTask
from nbmodels.widgets._common import (
    format_count,
    format_params,
    format_size,
    parse_params,
    parse_size,
)
from nbmodels.widgets.browser import render_details

CHAT = "nbmodels-demo/tiny-llama-chat"
EMBEDDER = "nbmodels-demo/tiny-embedder"


class _Table(HTMLParser):
    """The cell texts of the first HTML table in a widget's value, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._classes: list[str] = []
        self.row_classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
            self.row_classes.append(dict(attrs).get("class") or "")
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(html: str) -> _Table:
    parser = _Table()
    parser.feed(html)
    if parser.rows:
        parser.header = parser.rows.pop(0)
        parser.row_classes.pop(0)
    return parser


def shown_ids(browser) -> list[str]:
    return [row[0] for row in table(browser.table.html.value).rows]


@pytest.fixture
def catalog(hub_server) -> Catalog:
    return Catalog(Settings.from_env(hf_endpoint=hub_server.url), sources=["huggingface"])


def test_search_box_and_button_show_what_catalog_search_returns(catalog):
    b = nbmodels.browse(catalog, page_size=10)
    b.search_box.value = "tiny"
    b.search_button.click()
    expected = catalog.search("tiny", sort="downloads", limit=b.limit)
    assert len(expected) > 10
    assert b.results["key"].tolist() == expected["key"].tolist()
    assert shown_ids(b) == expected["id"].tolist()[:10]
    assert table(b.table.html.value).header[0] == "model"
    assert b.messages == [("info", f"{len(expected)} models")]
    assert "page 1 of" in b.table.page_label.value


def test_paging_moves_through_the_results_and_the_model_picker_follows(catalog):
    b = nbmodels.browse(catalog, query="tiny", page_size=5)
    ids = b.results["id"].tolist()
    pages = -(-len(ids) // 5)
    assert pages >= 3
    assert b.table.prev_button.disabled and not b.table.next_button.disabled
    b.table.next_button.click()
    assert shown_ids(b) == ids[5:10]
    assert f"page 2 of {pages}" in b.table.page_label.value
    picker_ids = [value for _, value in b.model_picker.options if value is not None]
    assert picker_ids == b.results["key"].tolist()[5:10]
    b.table.prev_button.click()
    assert shown_ids(b) == ids[:5]
    for _ in range(pages + 2):  # past the end stays on the last page
        b.table.next_button.click()
    assert shown_ids(b) == ids[(pages - 1) * 5 :]
    assert b.table.next_button.disabled


def test_sorting_by_a_key_and_flipping_the_direction(catalog):
    b = nbmodels.browse(catalog, query="tiny")
    b.sort_picker.value = "parameters"
    expected = catalog.search("tiny", sort="parameters", limit=b.limit)
    assert b.results["key"].tolist() == expected["key"].tolist()
    params = b.results["parameters"].dropna().tolist()
    assert params == sorted(params, reverse=True) and len(params) > 3
    assert "params ▼" in table(b.table.html.value).header

    b.order_toggle.value = True  # ascending
    assert b.order_toggle.description == "ascending"
    expected = catalog.search("tiny", sort="parameters", descending=False, limit=b.limit)
    assert b.results["key"].tolist() == expected["key"].tolist()
    assert b.results["parameters"].iloc[0] == min(params)
    assert "params ▲" in table(b.table.html.value).header

    b.sort_picker.value = "name"  # names start A to Z
    assert b.order_toggle.value is True
    expected = catalog.search("tiny", sort="name", limit=b.limit)
    assert b.results["key"].tolist() == expected["key"].tolist()


def test_changing_filters_searches_again_with_them(catalog):
    b = nbmodels.browse(catalog, query="tiny")
    assert CHAT in b.results["id"].tolist()
    b.task_picker.value = "embedding"
    expected = catalog.search("tiny", task="embedding", limit=b.limit)
    assert b.results["key"].tolist() == expected["key"].tolist()
    assert EMBEDDER in shown_ids(b) and CHAT not in shown_ids(b)
    assert all("embedding" in tasks for tasks in b.results["tasks"])

    with b.hold():  # several changes, one search
        b.task_picker.value = None
        b.license_box.value = "apache-2.0"
        b.max_params_box.value = "1M"
        b.min_size_box.value = "100KB"
    expected = catalog.search(
        "tiny", license="apache-2.0", max_params=1_000_000, min_size=100_000, limit=b.limit
    )
    assert b.results["key"].tolist() == expected["key"].tolist()
    assert set(b.results["id"]) >= {CHAT, EMBEDDER}
    assert (b.results["parameters"] <= 1_000_000).all()


def test_bad_size_or_params_text_is_a_message_not_a_traceback(catalog):
    b = nbmodels.browse(catalog, query="tiny")
    before = b.results["key"].tolist()
    b.max_size_box.value = "four gigs"
    (level, text), *_ = b.messages
    assert level == "error"
    assert text.startswith("max size: Cannot read 'four gigs' as a size") and "500MB" in text
    assert 'class="nbm-error"' in b.status.value and "four gigs" in b.status.value
    assert b.results["key"].tolist() == before  # the last good results stay
    assert "nbm-invalid" in b.max_size_box._dom_classes  # the box to fix is marked
    b.max_size_box.value = "4GB"
    assert "nbm-invalid" not in b.max_size_box._dom_classes
    b.min_params_box.value = "seven billion"
    assert b.messages[0][0] == "error" and b.messages[0][1].startswith("min params:")
    b.min_params_box.value = ""
    assert b.messages[0][0] == "info"


def test_selecting_a_model_shows_its_card_and_highlights_its_row(catalog):
    b = nbmodels.browse(catalog, query="nbmodels-demo")
    key = f"huggingface:{CHAT}"
    assert key in [value for _, value in b.model_picker.options]
    b.model_picker.value = key
    meta = catalog.model_info(CHAT, source="huggingface")
    assert b.selected is not None and b.selected.id == CHAT
    detail = b.detail.value
    assert f"<h3>{CHAT}</h3>" in detail
    assert "text-generation, chat" in detail and "interface" in detail
    assert format_params(meta.parameters) in detail and "apache-2.0" in detail
    assert format_size(meta.size_bytes) in detail
    if meta.files:  # the files table is what the catalog said, sizes made readable
        files = table(detail[detail.index("<b>Files</b>") :])
        assert {tuple(r) for r in files.rows} == {(f.path, format_size(f.size)) for f in meta.files}
    else:
        assert "No file list known" in detail
    parsed = table(b.table.html.value)
    marked = [row[0] for row, cls in zip(parsed.rows, parsed.row_classes, strict=True) if cls]
    assert marked == [CHAT]


def test_detail_pane_lists_the_files_of_tiny_llama_chat_with_sizes(catalog):
    b = nbmodels.browse(catalog, query="nbmodels-demo")
    b.select(CHAT)
    detail = b.detail.value
    assert "<b>Files</b>" in detail
    files = dict(table(detail[detail.index("<b>Files</b>") :]).rows)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    assert files["model.safetensors"].endswith("KB")


def test_render_details_lists_files_with_readable_sizes():
    meta = ModelMetadata(
        id="org/model",
        source=ModelSource.HUGGING_FACE,
        files=(FileInfo("config.json", 711), FileInfo("model.safetensors", 1_234_000_000)),
    )
    html = render_details(meta)
    files = table(html[html.index("<b>Files</b>") :])
    assert files.header == ["file", "size"]
    assert files.rows == [["config.json", "711 B"], ["model.safetensors", "1.2 GB"]]
    assert "(2 files, 1.2 GB in all)" in html
    many = ModelMetadata(
        id="org/many",
        source=ModelSource.HUGGING_FACE,
        files=tuple(FileInfo(f"part-{i:03d}", 10) for i in range(45)),
    )
    assert "… and 5 more files" in render_details(many)


def test_select_by_id_turns_to_the_page_of_that_model(catalog):
    b = nbmodels.browse(catalog, query="tiny", page_size=3)
    last = b.results["id"].tolist()[-1]
    meta = b.select(last)
    assert meta is not None and meta.id == last
    assert last in shown_ids(b)
    assert b.select("nobody/nothing") is None
    assert b.messages[0] == (
        "error",
        "'nobody/nothing' is not among the results; search for it first.",
    )


def test_sql_box_runs_the_query_and_shows_errors_readably(catalog):
    b = nbmodels.browse(catalog, query="tiny")
    query = "SELECT license, count(*) AS n FROM models GROUP BY license ORDER BY n DESC, license"
    b.sql_box.value = query
    b.sql_button.click()
    expected = catalog.sql(query)
    assert b.sql_table.frame.equals(expected)
    shown = table(b.sql_table.html.value)
    assert shown.header == ["license", "n"]
    assert shown.rows[0] == [str(expected["license"][0]), str(expected["n"][0])]
    assert f"{len(expected)} rows" in b.sql_message.value

    b.sql_box.value = "DELETE FROM models"
    b.sql_button.click()
    assert 'class="nbm-error"' in b.sql_message.value
    assert "Only one SELECT" in b.sql_message.value and "Traceback" not in b.sql_message.value
    assert len(b.sql_table.frame) == 0
    assert b.messages[0][0] == "error" and b.messages[0][1].startswith("SQL: Only one SELECT")
    assert len(catalog.sql("SELECT * FROM models")) > 0  # nothing was deleted

    assert b.run_sql("SELECT nonsense FROM models") is None
    assert "nonsense" in b.sql_message.value and "its columns" in b.sql_message.value


def test_a_failing_source_is_an_amber_warning_beside_the_others_results(hub_server):
    # ollama points at a port where nothing listens (the autouse isolated_env)
    catalog = Catalog(
        Settings.from_env(hf_endpoint=hub_server.url), sources=["huggingface", "ollama"]
    )
    b = nbmodels.browse(catalog, query="tiny")
    assert CHAT in b.results["id"].tolist()
    levels = [level for level, _ in b.messages]
    assert levels[0] == "info" and "warn" in levels
    warning = next(text for level, text in b.messages if level == "warn")
    assert "ollama did not answer" in warning
    assert 'class="nbm-warn"' in b.status.value


def test_unknown_source_or_sort_is_refused_at_construction(catalog):
    with pytest.raises(nbmodels.errors.ConfigurationError, match="no source 'nope'"):
        nbmodels.browse(catalog, source="nope")
    with pytest.raises(nbmodels.errors.ConfigurationError, match="Unknown sort"):
        nbmodels.browse(catalog, sort="stars")


def _offline_catalog(tmp_path, models: list[ModelMetadata]) -> Catalog:
    catalog = Catalog(Settings.from_env(offline=True), sources=[], path=tmp_path / "cat")
    catalog.add(models)
    return catalog


def test_values_are_readable_and_escaped(tmp_path):
    evil = ModelMetadata(
        id="mallory/<img src=x onerror=alert(1)>",
        source=ModelSource.CUSTOM,
        description="<script>alert('card')</script> a model",
        parameters=7_000_000_000,
        size_bytes=1_234_000_000,
        downloads=1_234_567,
        tasks=(SupportedTask.TEXT_GENERATION, SupportedTask.CHAT),
        files=(FileInfo("weights.gguf", 1_234_000_000),),
    )
    b = nbmodels.browse(_offline_catalog(tmp_path, [evil]))
    (row,) = table(b.table.html.value).rows
    assert row[0] == evil.id  # the text, shown as text
    assert {"7.0B", "1.2 GB", "1.2M", "text-generation, chat"} <= set(row)
    assert "<img" not in b.table.html.value and "&lt;img" in b.table.html.value
    b.select(evil.id)
    assert "<script>" not in b.detail.value and "&lt;script&gt;" in b.detail.value


def test_an_empty_catalog_says_so(tmp_path):
    b = nbmodels.browse(_offline_catalog(tmp_path, []))
    assert "No models match" in b.table.html.value
    assert b.messages == [("info", "0 models")]
    assert "page 1 of 1" in b.table.page_label.value


def test_the_browser_displays_as_a_widget(tmp_path):
    b = nbmodels.browse(_offline_catalog(tmp_path, []))
    bundle = b._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == b.widget.model_id
    assert [b.tabs.get_title(0), b.tabs.get_title(1)] == ["Browse", "SQL"]


@pytest.mark.parametrize(
    ("value", "size", "params", "count"),
    [
        (None, "", "", ""),
        (12, "12 B", "12", "12"),
        (22_000, "22.0 KB", "22.0K", "22.0K"),
        (532_000_000, "532 MB", "532M", "532.0M"),
        (1_234_000_000, "1.2 GB", "1.2B", "1.2B"),
        (7_000_000_000, "7.0 GB", "7.0B", "7.0B"),
        (405_000_000_000, "405 GB", "405B", "405.0B"),
    ],
)
def test_human_readable_numbers(value, size, params, count):
    assert (format_size(value), format_params(value), format_count(value)) == (size, params, count)


def test_typed_sizes_and_counts():
    assert parse_size(" 4GB ") == 4_000_000_000 and parse_size("1.5GiB") == 1_610_612_736
    assert parse_params("7B") == 7_000_000_000 and parse_params("350m") == 350_000_000
    assert parse_size("") is None and parse_params(None) is None
    with pytest.raises(nbmodels.errors.ConfigurationError, match="Cannot read '4 parsecs'"):
        parse_size("4 parsecs")


def test_importing_the_widgets_package_does_not_import_ipywidgets():
    code = "import sys, json, nbmodels.widgets; print(json.dumps('ipywidgets' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


def test_browse_stays_a_function_after_use(tmp_path):
    import nbmodels.widgets as widgets

    nbmodels.browse(_offline_catalog(tmp_path, []))
    assert callable(widgets.browse) and widgets.browse.__name__ == "browse"
    assert widgets.Browser.__name__ == "Browser"


def test_the_pickers_show_their_any_option_not_a_blank_box(catalog):
    b = nbmodels.browse(catalog)
    for picker, label in (
        (b.source_picker, "all sources"),
        (b.task_picker, "any task"),
        (b.model_picker, "— pick a model on this page —"),
    ):
        assert picker.index == 0 and picker.label == label and picker.value is None
    b.task_picker.value = "embedding"
    b.task_picker.value = None  # back to "any": the label shows again, not an empty box
    assert b.task_picker.index == 0 and b.task_picker.label == "any task"


def test_a_new_search_clears_the_details_of_a_model_it_does_not_show(catalog):
    b = nbmodels.browse(catalog, query="nbmodels-demo")
    b.select(CHAT)
    assert CHAT in b.detail.value
    b.search_box.value = "tiny-embedder"
    assert CHAT not in set(b.results["id"])
    assert b.detail.value == "" and b.selected is None
    assert b.model_picker.index == 0


def test_a_long_sql_error_leaves_the_run_button_its_width(catalog):
    b = nbmodels.browse(catalog)
    b.run_sql("SELECT " + "nonsense_column, " * 40 + "id FROM models")
    assert "nbm-error" in b.sql_message.value
    assert b.sql_button.layout.flex == "0 0 auto" and b.sql_button.layout.min_width
    assert b.sql_message.layout.min_width == "0"
