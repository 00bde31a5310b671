"""The catalog: search filters against pandas over the same real rows, persistence, the
remembered queries, failing and concurrent sources, corrupt files, and sql().

Rows are the real Hub records of ``shared/data/hub-models.parquet``. Sources are small
Source subclasses registered with ``register_source`` (the extension point) that answer
from those rows, or fail on purpose.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

import nbmodels
from nbmodels.discover import catalog as catalog_mod
from nbmodels.discover.catalog import Catalog, default_catalog, set_default_catalog
from nbmodels.discover.frame import COLUMNS, from_row, parse_count, parse_size, to_frame
from nbmodels.discover.sources import Source, register_source
from nbmodels.errors import (
    ConfigurationError,
    CorruptCatalogError,
    FilterWarning,
    HubUnreachableError,
    ModelNotFoundError,
    NBModelsError,
    NBModelsWarning,
    SourceWarning,
    SQLError,
    UnknownSourceError,
)
from nbmodels.settings import Settings
from nbmodels.types import ModelMetadata, ModelSource, ModelType, SupportedTask

ROOT = Path(__file__).resolve().parents[1]


def _load_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_catalog", ROOT / "benchmarks" / "bench_catalog.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_catalog", module)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(scope="session")
def records(shared_data: Path) -> list[ModelMetadata]:
    """The 4,167 real Hub records as ModelMetadata."""
    return bench.hub_records(shared_data / "hub-models.parquet")


@pytest.fixture(scope="session")
def frame(records: list[ModelMetadata]) -> pd.DataFrame:
    return to_frame(records)


# -- test sources, registered like any third-party source ----------------------------------
@register_source("test-records")
class RecordSource(Source):
    """Answers from a list of real records, like a server would (filters, sort, limit)."""

    name = "test-records"
    kind = ModelSource.HUGGING_FACE
    all_records: ClassVar[list[ModelMetadata]] = []

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        records: list[ModelMetadata] | None = None,
        name: str | None = None,
        kind: ModelSource | None = None,
        barrier: threading.Barrier | None = None,
    ) -> None:
        super().__init__(settings)
        self.records = list(records if records is not None else self.all_records)
        if name:
            self.name = name  # type: ignore[misc]
        if kind:
            self.kind = kind  # type: ignore[misc]
            self.records = [replace(r, source=kind) for r in self.records]
        self.barrier = barrier
        self.calls: list[dict[str, Any]] = []

    def search(
        self,
        query: str | None = None,
        *,
        author: str | None = None,
        tags: tuple[str, ...] = (),
        task: SupportedTask | None = None,
        sort: str | None = None,
        limit: int | None = 100,
    ) -> list[ModelMetadata]:
        self.calls.append(
            {"query": query, "author": author, "tags": tags, "task": task, "limit": limit}
        )
        if self.barrier is not None:  # both sources must be inside search() at once
            self.barrier.wait()
        out = [
            r
            for r in self.records
            if (not query or query.lower() in r.id.lower())
            and (not author or (r.author or "").lower() == author.lower())
            and all(t in r.tags for t in tags)
            and (task is None or task in r.tasks)
        ]
        if sort == "downloads":
            out.sort(key=lambda r: -(r.downloads or 0))
        return out[:limit] if limit is not None else out

    def model_info(self, model_id: str) -> ModelMetadata:
        self.calls.append({"model_info": model_id})
        for r in self.records:
            if r.id == model_id:
                return replace(r, description="the full record", version="main")
        raise ModelNotFoundError(f"no {model_id}")


@register_source("test-broken")
class BrokenSource(Source):
    """A source whose server is down."""

    name = "test-broken"
    kind = ModelSource.CUSTOM

    def __init__(self, settings: Settings | None = None, *, error: Exception | None = None):
        super().__init__(settings)
        self.error = error or HubUnreachableError("Cannot reach http://127.0.0.1:9; is it up?")
        self.calls = 0

    def search(self, query: str | None = None, **kwargs: Any) -> list[ModelMetadata]:
        self.calls += 1
        raise self.error

    def model_info(self, model_id: str) -> ModelMetadata:
        self.calls += 1
        raise self.error


@pytest.fixture(autouse=True)
def _records_for_registry(records: list[ModelMetadata]) -> Iterator[None]:
    RecordSource.all_records = records
    yield
    set_default_catalog(None)


def make(tmp_path: Path, *sources: Source | str, **settings: Any) -> Catalog:
    return Catalog(Settings(home=tmp_path / "home", **settings), sources=list(sources))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, records: list[ModelMetadata]) -> Catalog:
    """A catalog holding every real record, with no sources (tests only read it)."""
    cat = make(tmp_path_factory.mktemp("loaded"))
    assert cat.add(records) == len(records)
    return cat


# -- the schema -----------------------------------------------------------------------------
def test_frame_has_the_documented_columns_and_dtypes(
    loaded: Catalog, records: list[ModelMetadata]
) -> None:
    df = loaded.to_frame()
    assert tuple(df.columns) == COLUMNS
    assert len(df) == len(loaded) == len({r.id for r in records}) > 1000
    for col in ("parameters", "size_bytes", "downloads", "likes"):
        assert df[col].dtype == "Int64", col
    assert df["trending_score"].dtype == "Float64"
    for col in ("created_at", "updated_at", "fetched_at"):
        assert str(df[col].dtype) == "datetime64[us, UTC]", col
    assert df["is_downloaded"].dtype == bool
    assert all(isinstance(v, list) for v in df["tags"])
    assert df.set_index("key").loc["huggingface:01-ai/Yi-9B", "tasks"][0] == "text-generation"


def test_to_frame_and_from_row_round_trip(
    records: list[ModelMetadata], frame: pd.DataFrame
) -> None:
    for record, (_, row) in zip(records[:300], frame.head(300).iterrows(), strict=True):
        back = from_row(row)
        assert back == replace(record, name=record.name or record.id), record.id


def test_add_frame_fills_missing_columns(tmp_path: Path) -> None:
    cat = make(tmp_path)
    df = pd.DataFrame(
        {"id": ["a/x", "b/y"], "source": ["huggingface", "ollama"], "downloads": [5, None]}
    )
    assert cat.add_frame(df) == 2
    out = cat.search(online=False)
    assert out["key"].tolist() == ["huggingface:a/x", "ollama:b/y"]
    assert out["name"].tolist() == ["a/x", "b/y"]
    with pytest.raises(ConfigurationError, match="'id' and 'source'"):
        cat.add_frame(pd.DataFrame({"id": ["z"]}))


# -- filters, compared with pandas over the same rows -----------------------------------------
def _has(col: str, value: str) -> Any:
    return lambda df: df[col].apply(lambda xs: value in [x.lower() for x in xs])


def _words(df: pd.DataFrame, words: list[str]) -> pd.Series:
    """The text query in pandas: inside id or name, at a word start in the description,
    or a whole tag."""
    hit = pd.Series(True, index=df.index)
    for w in words:
        hit &= (
            df.id.str.contains(w, case=False, regex=False)
            | df.name.str.contains(w, case=False, regex=False)
            | df.description.str.lower().str.contains(
                r"(?:^|[^0-9a-z])" + re.escape(w), regex=True, na=False
            )
            | df.tags.apply(lambda tags, w=w: w in tags)
        )
    return hit


FILTERS = [
    ({"task": "text-generation"}, _has("tasks", "text-generation")),
    ({"task": SupportedTask.EMBEDDING}, _has("tasks", "embedding")),
    ({"task": "TEXT_CLASSIFICATION"}, _has("tasks", "text-classification")),
    ({"author": "Meta-Llama"}, lambda df: df.author.str.lower() == "meta-llama"),
    ({"tag": "GGUF"}, _has("tags", "gguf")),
    ({"license": "APACHE-2.0"}, lambda df: df.license.str.lower() == "apache-2.0"),
    ({"language": "fr"}, _has("language", "fr")),
    ({"model_type": "EMBEDDING_MODEL"}, lambda df: df.model_type == "embedding"),
    ({"model_type": ModelType.MULTIMODAL_MODEL}, lambda df: df.model_type == "multimodal"),
    ({"min_params": "1B", "max_params": "8B"}, lambda df: df.parameters.between(10**9, 8 * 10**9)),
    ({"max_params": 500_000_000}, lambda df: df.parameters <= 5 * 10**8),
    ({"min_size": "10GB"}, lambda df: df.size_bytes >= 10**10),
    ({"max_size": "1.5GiB"}, lambda df: df.size_bytes <= 1.5 * 2**30),
    ({"query": "LLaMA"}, lambda df: _words(df, ["llama"])),
    ({"query": "qwen  Instruct"}, lambda df: _words(df, ["qwen", "instruct"])),
    ({"query": "instruct_2"}, lambda df: _words(df, ["instruct_2"])),  # "_" is no wildcard
    (
        {"task": "chat", "license": "mit", "max_params": "4B"},
        lambda df: _has("tasks", "chat")(df) & (df.license == "mit") & (df.parameters <= 4 * 10**9),
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"), FILTERS, ids=lambda v: str(v) if isinstance(v, dict) else ""
)
def test_filter_matches_pandas(
    loaded: Catalog, frame: pd.DataFrame, kwargs: dict[str, Any], expected: Any
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = loaded.search(**kwargs, limit=None, online=False)
    want = frame[expected(frame).fillna(False).astype(bool)]
    # nbmodels' own (a ResourceWarning of another test's socket may be collected here)
    assert [str(w.message) for w in caught if issubclass(w.category, NBModelsWarning)] == loaded.warnings  # fmt: skip
    assert len(want) > 0, "the filter must select something in the real records"
    assert len(want) < len(frame), "the filter must leave something out"
    assert sorted(got["key"]) == sorted(want["key"])


@pytest.mark.parametrize(
    ("sort", "column", "ascending"),
    [
        ("downloads", "downloads", False),
        ("likes", "likes", False),
        ("trending", "trending_score", False),
        ("created", "created_at", False),
        ("updated", "updated_at", False),
        ("parameters", "parameters", False),
        ("size", "size_bytes", False),
    ],
)
def test_sort_orders_like_pandas(
    loaded: Catalog, frame: pd.DataFrame, sort: str, column: str, ascending: bool
) -> None:
    got = loaded.search(sort=sort, limit=100, online=False)
    want = frame.sort_values([column, "key"], ascending=[ascending, True], na_position="last")
    assert got[column].tolist() == want[column].head(100).tolist()
    assert got["key"].tolist() == want["key"].head(100).tolist()
    flipped = loaded.search(sort=sort, descending=False, limit=None, online=False)
    values = flipped[column].dropna().tolist()
    assert values == sorted(values)
    assert flipped[column].isna().sum() == 0 or flipped[column].tail(1).isna().all()


def test_sort_by_name_is_alphabetical(loaded: Catalog) -> None:
    names = loaded.search(sort="name", limit=None, online=False)["name"].str.lower().tolist()
    assert names == sorted(names)


def test_sort_none_orders_by_key_and_trending_sorts_by_score(loaded: Catalog) -> None:
    keys = loaded.search(sort=None, limit=None, online=False)["key"].tolist()
    assert keys == sorted(keys)
    scores = loaded.trending(10, online=False)["trending_score"].tolist()
    assert scores == sorted(loaded.to_frame()["trending_score"].dropna(), reverse=True)[:10]


def test_close_and_reopen(tmp_path: Path, records: list[ModelMetadata]) -> None:
    with make(tmp_path) as cat:
        cat.add(records[:20])
    assert "not loaded" in repr(cat)
    assert len(cat) == 20, "the next call loads the catalog from disk again"


def test_limit(loaded: Catalog) -> None:
    assert len(loaded.search(limit=7, online=False)) == 7
    assert len(loaded.search(limit=0, online=False)) == 0
    assert len(loaded.search(limit=None, online=False)) == len(loaded) > 1000
    top = loaded.search(limit=3, online=False)
    assert (
        top["downloads"].tolist()
        == sorted(loaded.to_frame()["downloads"].dropna(), reverse=True)[:3]
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"task": "flying"}, ConfigurationError, "Unknown task 'flying'"),
        ({"min_params": "7Q"}, ConfigurationError, "Cannot read '7Q' as a parameter count"),
        ({"max_size": "lots"}, ConfigurationError, "as a size"),
        ({"max_params": -1}, ConfigurationError, "negative"),
        ({"model_type": "wizard"}, ConfigurationError, "Unknown ModelType"),
        ({"sort": "popularity"}, ConfigurationError, "Unknown sort 'popularity'"),
        ({"limit": -5}, ConfigurationError, "limit"),
        ({"author": ""}, ConfigurationError, "author"),
        ({"source": "nope"}, UnknownSourceError, "Unknown source 'nope'"),
    ],
)
def test_bad_filter_values_are_clear_errors(
    tmp_path: Path, kwargs: dict[str, Any], error: type, match: str
) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    with pytest.raises(error, match=match) as info:
        cat.search(**kwargs)
    assert isinstance(info.value, NBModelsError)
    assert src.calls == [], "bad input is rejected before any source is asked"


_BIGINT = 2**63 - 1  # DuckDB's BIGINT, the type of the catalog's counts and sizes


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 2**70}, r"limit must be a whole number from 0 to 9223372036854775807"),
        ({"limit": 2**63}, r"limit must be a whole number from 0 to"),
        ({"limit": -1}, r"limit must be a whole number from 0 to"),
        ({"limit": True}, r"limit must be a whole number .* got True"),
        ({"limit": 2.5}, r"limit must be a whole number .* got 2\.5"),
        ({"limit": "10"}, r"limit must be a whole number .* got '10'"),
        ({"min_params": 2**70}, r"min_params .* at most 9223372036854775807"),
        ({"max_params": 2**64}, r"max_params .* at most"),
        ({"max_params": 1e30}, r"max_params .* at most"),
        ({"min_size": "1e30GB"}, r"min_size .* at most"),
        ({"max_size": 2**63}, r"max_size .* at most"),
        ({"min_size": True}, r"as a size"),
        ({"max_params": "many"}, r"as a parameter count"),
        ({"descending": "yes"}, r"descending must be True, False or None"),
        ({"fits": "no"}, r"fits must be True or False"),
        ({"online": "no"}, r"online must be True, False or None"),
        ({"refresh": 1}, r"refresh must be True or False"),
    ],
)
def test_numbers_and_switches_duckdb_cannot_take_are_refused_with_what_is_allowed(
    tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    with pytest.raises(ConfigurationError, match=match):
        cat.search(**kwargs)
    assert src.calls == [], "bad input is rejected before any source is asked"
    with pytest.raises(ConfigurationError, match=match):  # the module function, as in the issue
        nbmodels.search(**kwargs)


def test_the_largest_numbers_allowed_still_search(loaded: Catalog) -> None:
    everything = len(loaded)
    assert len(loaded.search(limit=_BIGINT, online=False)) == everything
    top = loaded.search(sort="name", limit=1, online=False)["id"].iloc[0]
    # an exact id first: the second query asks for limit + hits rows, which must not overflow
    assert loaded.search(top, limit=_BIGINT, online=False)["id"].iloc[0] == top
    with warnings.catch_warnings():  # rows of unknown size or count are left out, and said
        warnings.simplefilter("ignore", FilterWarning)
        assert len(loaded.search(max_params=_BIGINT, max_size=_BIGINT, limit=None, online=False))
        assert len(loaded.search(min_params=_BIGINT, limit=None, online=False)) == 0


def test_parse_count_and_size() -> None:
    assert parse_count("7B") == 7_000_000_000
    assert parse_count("1.5b") == 1_500_000_000
    assert parse_count("350M") == 350_000_000
    assert parse_count(" 120k ") == 120_000
    assert parse_count(42) == 42
    assert parse_count("8x7B") == 56_000_000_000
    assert parse_size("500MB") == 500_000_000
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("1.5 GB") == 1_500_000_000
    assert parse_size("1024") == 1024
    for bad in ("7Q", "", "B7", "1.2.3B", True):
        with pytest.raises(ConfigurationError):
            parse_count(bad)  # type: ignore[arg-type]


# -- sources, remembered queries, persistence ----------------------------------------------
def test_search_asks_source_then_answers_from_disk(tmp_path: Path, frame: pd.DataFrame) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    first = cat.search("llama", task="text-generation", limit=20)
    assert len(src.calls) == 1
    call = src.calls[0]
    assert call["query"] == "llama"
    assert call["task"] == "text-generation"  # resolved; sources take pipeline tags too
    assert call["limit"] >= 20
    assert list((cat.path / "models.deltas").glob("*.parquet"))  # written as a delta
    assert list((cat.path / "queries.deltas").glob("*.parquet"))
    cat.compact()  # merged into one file each
    assert (cat.path / "models.parquet").exists() and (cat.path / "queries.parquet").exists()
    assert not list((cat.path / "models.deltas").glob("*.parquet"))

    again = cat.search(" LLaMA ", task="TEXT_GENERATION", limit=10)
    assert len(src.calls) == 1, "a question already asked is answered from the catalog"
    assert again["key"].tolist() == first["key"].head(10).tolist()

    fresh_src = RecordSource()
    reopened = make(tmp_path, fresh_src)
    from_disk = reopened.search("llama", task="text-generation", limit=20)
    assert fresh_src.calls == [], "a new Catalog reads the remembered query from disk"
    pd.testing.assert_frame_equal(from_disk, first)

    reopened.search("llama", task="text-generation", limit=500)
    assert len(fresh_src.calls) == 1, "a bigger limit than was asked for asks again"


def test_refresh_asks_again(tmp_path: Path) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    cat.search("mistral")
    cat.by_author("Qwen")
    assert len(src.calls) == 2
    cat.search("mistral", refresh=True)
    assert len(src.calls) == 3
    refreshed = cat.refresh()
    assert [c["query"] for c in src.calls[3:]] == ["mistral", None]
    assert [c["author"] for c in src.calls[3:]] == [None, "Qwen"]
    assert set(refreshed["author"].str.lower()) >= {"qwen"}
    assert refreshed["id"].str.contains("mistral", case=False).any()


def test_offline_never_asks(tmp_path: Path, records: list[ModelMetadata]) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    cat.add(records[:50])
    assert len(cat.search("llama", online=False, limit=None)) == sum(
        "llama" in (r.id + r.description).lower() or "llama" in r.tags for r in records[:50]
    )
    assert src.calls == []
    offline = make(tmp_path, src, offline=True)
    offline.search("gemma")
    assert src.calls == []
    with pytest.raises(ConfigurationError, match="offline"):
        offline.search("gemma", refresh=True)
    with pytest.raises(ConfigurationError, match="offline"):
        offline.refresh()


def test_failing_source_warns_and_others_answer(tmp_path: Path) -> None:
    good, bad = RecordSource(), BrokenSource()
    cat = make(tmp_path, good, bad)
    with pytest.warns(SourceWarning, match="test-broken did not answer: Cannot reach") as caught:
        df = cat.search("phi", limit=5)
    assert len(caught) == 1
    assert caught[0].filename == __file__, "the warning points at the caller's line"
    assert len(df) == 5 and df["id"].str.contains("phi", case=False).all()
    assert len(cat.warnings) == 1 and "\n" not in cat.warnings[0]
    assert len(cat.warnings[0]) < 200, "one readable line"
    # the failure is not remembered: the broken source is asked again next time; it is
    # said again in the status line, but warned once per source per process
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cat.search("phi", limit=5)
    assert len(cat.warnings) == 1 and "test-broken did not answer" in cat.warnings[0]
    assert bad.calls == 2 and len(good.calls) == 1


def test_unexpected_exception_in_a_source_is_a_warning_too(tmp_path: Path) -> None:
    cat = make(tmp_path, RecordSource(), BrokenSource(error=RuntimeError("boom")))
    with pytest.warns(SourceWarning, match="RuntimeError: boom"):
        assert len(cat.search("gemma", limit=3)) == 3


def test_unreachable_source_answers_from_catalog_rows(
    tmp_path: Path, records: list[ModelMetadata]
) -> None:
    cat = make(tmp_path, "test-broken")
    cat.add([replace(r, source=ModelSource.CUSTOM) for r in records[:200]])
    with pytest.warns(SourceWarning, match="test-broken"):
        df = cat.search("llama", source="test-broken", limit=5)
    assert len(df) == 5 and (df["source"] == "custom").all()


def test_registered_source_is_built_by_name(tmp_path: Path) -> None:
    cat = make(tmp_path, "test-records")
    df = cat.search("deepseek", limit=5)
    assert len(df) == 5 and df["id"].str.contains("deepseek", case=False).all()
    assert cat.warnings == []


def test_sources_run_concurrently(tmp_path: Path, records: list[ModelMetadata]) -> None:
    # each search() waits at the barrier until the other is inside its own search():
    # asked one after the other, the first would time out and turn into a warning
    barrier = threading.Barrier(2, timeout=10)
    a = RecordSource(records=records[:2000], name="a", barrier=barrier)
    b = RecordSource(records=records[2000:], name="b", kind=ModelSource.OLLAMA, barrier=barrier)
    cat = make(tmp_path, a, b)
    df = cat.search("llama", limit=None)
    assert cat.warnings == []
    assert len(a.calls) == len(b.calls) == 1
    assert set(df["source"]) == {"huggingface", "ollama"}
    only_b = cat.search("llama", source="b", limit=None, online=False)
    assert set(only_b["source"]) == {"ollama"}


def test_sql_answers_while_a_source_is_still_working(
    tmp_path: Path, records: list[ModelMetadata]
) -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(RecordSource):
        def search(self, query: str | None = None, **kwargs: Any) -> list[ModelMetadata]:
            entered.set()
            release.wait(10)
            return super().search(query, **kwargs)

    cat = make(tmp_path, Slow())
    cat.add(records[:10])
    searching = threading.Thread(target=cat.search, args=("llama",))
    searching.start()
    try:
        assert entered.wait(10)
        answered = threading.Event()
        counts: list[int] = []

        def count() -> None:
            counts.append(int(cat.sql("SELECT count(*) AS n FROM models")["n"].iloc[0]))
            answered.set()

        threading.Thread(target=count).start()
        assert answered.wait(10), "sql() waited for the source: the lock was held"
        assert counts == [10]
    finally:
        release.set()
        searching.join()
    assert len(cat) > 10


def test_model_info_upserts_the_richer_row(tmp_path: Path) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    cat.search("Yi-9B", limit=5)
    meta = cat.model_info("01-ai/Yi-9B")
    assert meta.description == "the full record" and meta.version == "main"
    row = cat.sql("SELECT description, version FROM models WHERE id = '01-ai/Yi-9B'")
    assert row.iloc[0].tolist() == ["the full record", "main"]
    # a later listing without these fields keeps them
    cat.search("Yi-9B", limit=5, refresh=True)
    assert cat.get("huggingface:01-ai/Yi-9B").version == "main"
    with pytest.raises(ModelNotFoundError, match="nobody/nothing"):
        cat.model_info("nobody/nothing")


def test_model_info_by_row_source_and_key(tmp_path: Path) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    # the browser passes a row's ``source`` column: the catalog's source of that kind answers
    assert cat.model_info("01-ai/Yi-9B", source="huggingface").version == "main"
    assert cat.model_info("huggingface:01-ai/Yi-9B").version == "main"
    assert [c["model_info"] for c in src.calls] == ["01-ai/Yi-9B", "01-ai/Yi-9B"]


def test_model_info_falls_back_to_the_catalog(tmp_path: Path, records: list[ModelMetadata]) -> None:
    cat = make(tmp_path, "test-broken")
    cat.add([replace(records[0], source=ModelSource.CUSTOM)])
    with pytest.warns(SourceWarning):
        meta = cat.model_info(records[0].id)
    assert meta.id == records[0].id and meta.source is ModelSource.CUSTOM


# -- the real sources, against the local Hub and Ollama servers -------------------------------
def test_real_hub_and_ollama_sources(
    tmp_path: Path, hub_server: Any, ollama_host: str, frame: pd.DataFrame
) -> None:
    settings = Settings.from_env(home=tmp_path / "home", hf_endpoint=hub_server.url)
    cat = Catalog(settings, sources=["huggingface", "ollama"])
    df = cat.search("llama", task="text-generation", limit=None)
    assert cat.warnings == []
    assert set(df["source"]) == {"huggingface", "ollama"}
    hub_rows = df[df["source"] == "huggingface"]
    real = set(frame.loc[frame.id.str.contains("llama", case=False), "id"])
    assert len(hub_rows) > 100
    assert set(hub_rows["id"]) - real <= {"nbmodels-demo/tiny-llama-chat"}
    assert _words(df, ["llama"]).all()
    assert df["tasks"].map(lambda t: "text-generation" in t).all()
    assert "ollama:tinyllama-chat:latest" in set(df["key"])

    served = len(hub_server.requests)
    again = Catalog(settings, sources=["huggingface", "ollama"]).search(
        "llama", task="text-generation", limit=None
    )
    assert len(hub_server.requests) == served, "answered from disk: no request to the Hub"
    pd.testing.assert_frame_equal(again, df)

    meta = cat.model_info("huggingface:nbmodels-demo/tiny-llama-chat")
    assert meta.files, "model_info returns the source's full answer"
    row = cat.get("huggingface:nbmodels-demo/tiny-llama-chat")
    assert row.id == meta.id and row.parameters == meta.parameters


def test_real_ollama_down_is_a_warning(tmp_path: Path, hub_server: Any) -> None:
    # OLLAMA_HOST points at a port where nothing listens (conftest)
    settings = Settings.from_env(home=tmp_path / "home", hf_endpoint=hub_server.url)
    cat = Catalog(settings, sources=["huggingface", "ollama"])
    with pytest.warns(SourceWarning, match="ollama did not answer") as caught:
        df = cat.search("qwen", limit=10)
    assert len(caught) == 1
    assert len(df) == 10 and set(df["source"]) == {"huggingface"}


# -- corrupt files ------------------------------------------------------------------------------
def test_corrupt_parquet_is_reported_and_left_alone(
    tmp_path: Path, records: list[ModelMetadata]
) -> None:
    cat = make(tmp_path)
    cat.add(records[:10])
    path = cat.path / "models.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    before = path.read_bytes()
    broken = make(tmp_path)
    with pytest.raises(
        CorruptCatalogError, match=r"delete .*models\.parquet or call Catalog\.clear\(\)"
    ):
        broken.search(online=False)
    with pytest.raises(CorruptCatalogError):
        broken.add(records[:1])
    assert path.read_bytes() == before, "the corrupt file is never overwritten"

    broken.clear()
    aside = list(cat.path.glob("models.parquet.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before
    assert len(broken) == 0
    broken.add(records[:3])
    assert len(make(tmp_path)) == 3


def test_damaged_pages_behind_a_good_footer_are_corrupt_too(
    tmp_path: Path, records: list[ModelMetadata]
) -> None:
    cat = make(tmp_path)
    cat.add(records)
    cat.compact()
    path = cat.path / "models.parquet"
    data = bytearray(path.read_bytes())
    data[64:20_000] = bytes(range(256)) * (19_936 // 256) + bytes(19_936 % 256)
    path.write_bytes(bytes(data))
    broken = make(tmp_path)
    with pytest.raises(CorruptCatalogError, match="cannot be read"):
        len(broken)
    broken.clear()
    assert [p.read_bytes() for p in cat.path.glob("models.parquet.corrupt-*")] == [bytes(data)]


def test_older_schema_loads_and_newer_schema_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cat = make(tmp_path)
    cat.path.mkdir(parents=True)
    old = pa.table({"key": ["huggingface:a/b"], "id": ["a/b"], "source": ["huggingface"]})
    pq.write_table(old, cat.path / "models.parquet")
    df = cat.to_frame()
    assert tuple(df.columns) == COLUMNS and df["key"].tolist() == ["huggingface:a/b"]
    assert df["downloads"].isna().all()

    newer = old.replace_schema_metadata({"nbmodels_schema": "99"})
    pq.write_table(newer, cat.path / "models.parquet")
    with pytest.raises(CorruptCatalogError, match="newer nbmodels"):
        make(tmp_path).search(online=False)


def test_clear_forgets_everything(tmp_path: Path) -> None:
    src = RecordSource()
    cat = make(tmp_path, src)
    cat.search("llama", limit=5)
    cat.clear()
    assert len(cat) == 0 and not (cat.path / "models.parquet").exists()
    cat.search("llama", limit=5)
    assert len(src.calls) == 2, "remembered queries are forgotten too"


# -- sql() ----------------------------------------------------------------------------------------
def test_sql_happy_paths(loaded: Catalog, frame: pd.DataFrame) -> None:
    df = loaded.sql(
        "SELECT author, sum(downloads) AS downloads FROM models GROUP BY author "
        "ORDER BY downloads DESC LIMIT 3"
    )
    want = frame.groupby("author")["downloads"].sum().sort_values(ascending=False).head(3)
    assert df["author"].tolist() == want.index.tolist()
    assert df["downloads"].tolist() == want.tolist()
    with_params = loaded.sql("SELECT count(*) AS n FROM models WHERE license = ?", ["mit"])
    assert with_params["n"].iloc[0] == (frame.license == "mit").sum()
    cte = loaded.sql(
        "WITH t AS (SELECT * FROM models WHERE list_contains(tasks, $t)) SELECT count(*) AS n FROM t",
        {"t": "embedding"},
    )
    assert cte["n"].iloc[0] == frame.tasks.apply(lambda t: "embedding" in t).sum()
    assert "tags" in loaded.sql("DESCRIBE models")["column_name"].tolist()
    assert loaded.sql("SELECT tags FROM models LIMIT 1")["tags"].map(type).tolist() == [list]
    assert len(loaded.sql("SELECT * FROM models LIMIT 2;")) == 2


@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE models",
        "INSERT INTO models (key, id, source) VALUES ('x:y', 'y', 'x')",
        "DELETE FROM models",
        "UPDATE models SET downloads = 0",
        "SELECT 1; DROP TABLE models",
        "SELECT 1; SELECT 2",
        "ATTACH 'other.duckdb' AS other",
        "COPY models TO 'out.csv'",
        "PRAGMA version",
        "CREATE TABLE x AS SELECT 1",
        "SET threads = 1",
    ],
)
def test_sql_rejects_anything_but_one_select(loaded: Catalog, query: str) -> None:
    before = len(loaded)
    with pytest.raises(SQLError, match="Only one SELECT query over the table 'models'"):
        loaded.sql(query)
    assert len(loaded) == before


def test_sql_errors_carry_duckdb_message_and_columns(loaded: Catalog, tmp_path: Path) -> None:
    with pytest.raises(SQLError, match=r'"nope" not found(.|\n)*its columns: key \(VARCHAR\)'):
        loaded.sql("SELECT nope FROM models")
    with pytest.raises(SQLError, match="syntax error"):
        loaded.sql("SELEKT * FROM models")
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(SQLError, match="disabled"):
        loaded.sql(f"SELECT * FROM read_csv('{secret}')")


# -- the module-level default -------------------------------------------------------------------
def test_module_functions_use_the_default_catalog(
    tmp_path: Path, records: list[ModelMetadata]
) -> None:
    cat = make(tmp_path, RecordSource())
    set_default_catalog(cat)
    assert default_catalog() is cat
    assert nbmodels.search is catalog_mod.search
    df = nbmodels.popular(5)
    assert df["downloads"].tolist() == sorted((r.downloads or 0 for r in records), reverse=True)[:5]
    embedders = sum(SupportedTask.EMBEDDING in r.tasks for r in records)
    assert 0 < embedders < 50
    assert len(nbmodels.by_task("embedding")) == embedders
    assert nbmodels.sql("SELECT count(*) AS n FROM models")["n"].iloc[0] == len(cat)
    assert nbmodels.model_info("01-ai/Yi-9B").version == "main"


def test_default_catalog_is_built_from_the_environment(isolated_env: Path) -> None:
    set_default_catalog(None)
    cat = default_catalog()
    assert cat is default_catalog()
    assert cat.path == isolated_env / "nbmodels-home" / "catalog"
    assert cat.source_names == ["huggingface", "ollama", "local"]
    with pytest.raises(ConfigurationError):
        set_default_catalog("nope")  # type: ignore[arg-type]


def test_the_names_other_modules_import_from_the_catalog_module_are_still_there() -> None:
    """catalog.py is split (catalog_storage, asking, search_args, sqlguard, downloaded);
    what others import from it still comes from there, the very same objects."""
    from nbmodels.discover import asking, search_args, sqlguard

    assert catalog_mod._warned is asking._warned  # conftest clears it through catalog._warned
    assert catalog_mod._READ_ONLY is sqlguard.READ_ONLY
    assert catalog_mod.fit_limit_bytes is search_args.fit_limit_bytes
    for name in ("model_info", "default_catalog", "hf_cached_repos", *catalog_mod.__all__):
        assert callable(getattr(catalog_mod, name)) or name == "SORT_KEYS", name


def test_a_warning_points_past_every_nbmodels_frame(tmp_path: Path) -> None:
    """Called through another nbmodels module (a widget, say), a warning still points at the
    person's line, not at the nbmodels module in between."""
    cat = make(tmp_path, RecordSource(), BrokenSource())
    inside = Path(nbmodels.__file__).resolve().parent / "widgets" / "_a_caller.py"
    code = compile("def call(cat):\n    return cat.search('phi', limit=5)\n", str(inside), "exec")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    with pytest.warns(SourceWarning, match="did not answer") as caught:
        namespace["call"](cat)
    assert caught[0].filename == __file__


# -- the benchmark runner, tiny -------------------------------------------------------------------
def test_benchmark_runner_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    assert run.main(["--rows", "3000", "--repeat", "1", "--skip-import"]) == 0
    out = capsys.readouterr().out
    assert "3,000 synthetic rows grown from real Hub records" in out
    assert "filter+sort+limit: sql()" in out and "text 'llama' top 50: sql()" in out
    for line in out.splitlines():
        if line.startswith(("filter+sort+limit", "text 'llama' top 50: sql")):
            assert line.rstrip().endswith("yes"), line  # same answer as pandas
