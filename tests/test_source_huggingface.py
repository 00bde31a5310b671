"""HuggingFaceSource through the real huggingface_hub client, against the local Hub server.

The server serves the 4,167 real records of hub-models.parquet (100 per page, so listings
page) and the tiny models on disk; expectations come from DuckDB over the same parquet file
and from the files on disk, never from the code under test.
"""

from __future__ import annotations

import hashlib
import math
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fixtures_hub import GATED_REPO, REVISIONS_REPO
from huggingface_hub import HfApi, ModelInfo

from nbmodels.demo.hub import HubServer
from nbmodels.discover.sources import get_source
from nbmodels.discover.sources.huggingface import (
    HUB_TASK_FILTERS,
    HuggingFaceSource,
    hub_error,
    summarize_card,
    to_metadata,
)
from nbmodels.errors import (
    AccessDeniedError,
    ConfigurationError,
    HubUnreachableError,
    InvalidModelIdError,
    ModelNotFoundError,
)
from nbmodels.settings import Settings
from nbmodels.types import FileInfo, ModelMetadata, ModelSource, ModelType, SupportedTask

CHAT = "nbmodels-demo/tiny-llama-chat"
EMBEDDER = "nbmodels-demo/tiny-embedder"
CLASSIFIER = "nbmodels-demo/tiny-classifier"
FAKE_TOKEN = "hf_FAKEtoken0123456789SECRETabcdef"


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def settings(hub_server: HubServer, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf-cache"
    )


@pytest.fixture
def hf(settings: Settings) -> HuggingFaceSource:
    return HuggingFaceSource(settings)


@pytest.fixture(scope="session")
def parquet(shared_data: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    path = str(shared_data / "hub-models.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW hub AS SELECT * FROM read_parquet('{path}')")
    yield con
    con.close()


def _ids(con: duckdb.DuckDBPyConnection, where: str, params: list[Any] | None = None) -> set[str]:
    rows = con.execute(f"SELECT id FROM hub WHERE {where}", params or []).fetchall()
    return {r[0] for r in rows}


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row


def _tag_sql(tag: str) -> tuple[str, list[str]]:
    """The Hub's filter semantics: a tag, the pipeline tag or the library."""
    return "(list_contains(tags, ?) OR pipeline_tag = ? OR library_name = ?)", [tag] * 3


def _disk_ids(hub: HubServer, pred: Any) -> set[str]:
    return {r["id"] for r in hub.served_records() if pred(r)}


def _has_tag(record: dict[str, Any], tag: str) -> bool:
    return tag in (record.get("tags") or []) or tag in (
        record.get("pipeline_tag"),
        record.get("library_name"),
    )


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _api_requests(hub: HubServer, start: int) -> list[str]:
    return [r.path for r in hub.requests[start:] if r.path.startswith("/api/models")]


def _check_types(m: ModelMetadata) -> None:
    assert isinstance(m.id, str) and m.id
    assert m.source is ModelSource.HUGGING_FACE
    assert m.name == m.id.rsplit("/", 1)[-1]
    assert m.author is None or isinstance(m.author, str)
    assert m.license is None or (isinstance(m.license, str) and m.license == m.license.lower())
    assert all(isinstance(x, str) and x for x in m.language)
    assert all(isinstance(x, str) for x in m.tags)
    assert all(isinstance(t, SupportedTask) for t in m.tasks)
    assert m.model_type is None or isinstance(m.model_type, ModelType)
    for value in (m.parameters, m.size_bytes, m.downloads, m.likes):
        assert value is None or (isinstance(value, int) and not isinstance(value, bool))
    assert m.parameters is None or m.parameters > 0
    assert m.trending_score is None or (
        isinstance(m.trending_score, float) and math.isfinite(m.trending_score)
    )
    for when in (m.created_at, m.updated_at):
        assert when is None or (isinstance(when, datetime) and when.tzinfo is not None)
    assert all(isinstance(a, str) for a in m.architectures)
    assert all(isinstance(f, FileInfo) for f in m.files)
    assert isinstance(m.extra, dict)


# -- search -----------------------------------------------------------------------------------


def test_search_text_pages_through_all_matches(
    hf: HuggingFaceSource, hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    start = len(hub_server.requests)
    results = hf.search("LLaMA", limit=None)
    expected = _ids(parquet, "lower(id) LIKE '%llama%'") | _disk_ids(
        hub_server, lambda r: "llama" in r["id"].lower()
    )
    assert len(expected) > 300  # several pages of 100
    assert all("llama" in m.id.lower() for m in results)
    assert len(results) == len(expected)
    assert {m.id for m in results} == expected
    assert CHAT in expected
    pages = [p for p in _api_requests(hub_server, start) if "search=" in p]
    assert len(pages) == math.ceil(len(expected) / hub_server.page_size)


def test_search_limit_stops_paging(hf: HuggingFaceSource, hub_server: HubServer) -> None:
    start = len(hub_server.requests)
    results = hf.search("llama", limit=7)
    assert len(results) == 7
    assert len([p for p in _api_requests(hub_server, start) if "search=" in p]) == 1
    assert hf.search("llama", limit=0) == []


def test_search_by_author(
    hf: HuggingFaceSource, hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    results = hf.search(author="Qwen", limit=None)
    expected = _ids(parquet, "lower(author) = 'qwen'")
    assert len(expected) > 10
    assert {m.id for m in results} == expected
    assert all(m.author == "Qwen" for m in results)
    assert {m.id for m in hf.by_author("nbmodels-demo")} == {CHAT, EMBEDDER, CLASSIFIER}


def test_search_by_tag(
    hf: HuggingFaceSource, hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    where, params = _tag_sql("license:mit")
    expected = _ids(parquet, where, params) | _disk_ids(
        hub_server, lambda r: _has_tag(r, "license:mit")
    )
    results = hf.search(tags=("license:mit",), limit=None)
    assert {m.id for m in results} == expected
    assert CLASSIFIER in expected and CHAT not in expected
    assert all(m.license == "mit" for m in results)
    by_tag = hf.by_tag("license:mit", limit=20)
    assert len(by_tag) == 20 and {m.id for m in by_tag} <= expected
    # tags and text together: both must hold
    both = hf.search("qwen", tags=("license:mit",), limit=None)
    assert {m.id for m in both} == {i for i in expected if "qwen" in i.lower()}


def test_search_by_task_embedding_merges_two_pipelines(
    hf: HuggingFaceSource, hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    assert HUB_TASK_FILTERS[SupportedTask.EMBEDDING] == (
        ("feature-extraction",),
        ("sentence-similarity",),
    )
    expected: set[str] = set()
    for tag in ("feature-extraction", "sentence-similarity"):
        where, params = _tag_sql(tag)
        expected |= _ids(parquet, where, params)
        expected |= _disk_ids(hub_server, lambda r, tag=tag: _has_tag(r, tag))
    results = hf.search(task="embedding", limit=None)
    assert {m.id for m in results} == expected
    assert len(results) == len(expected)  # merged without duplicates
    assert EMBEDDER in expected
    real_st = [m for m in results if m.library == "sentence-transformers" and m.id != EMBEDDER]
    assert real_st, "real sentence-transformers records are found too"
    assert all(SupportedTask.EMBEDDING in m.tasks for m in real_st)
    assert next(m for m in results if m.id == EMBEDDER).model_type is ModelType.EMBEDDING_MODEL
    downloads = [m.downloads or 0 for m in results]
    assert downloads == sorted(downloads, reverse=True)  # merged most downloaded first
    top = hf.by_task(SupportedTask.EMBEDDING, limit=5)
    assert [m.id for m in top] == [m.id for m in results[:5]]


def test_search_by_task_chat_and_code(
    hf: HuggingFaceSource, hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    chat = hf.search(task=SupportedTask.CHAT, limit=None)
    expected = _ids(
        parquet,
        "(list_contains(tags, 'text-generation') OR pipeline_tag = 'text-generation') "
        "AND list_contains(tags, 'conversational')",
    ) | _disk_ids(
        hub_server, lambda r: _has_tag(r, "text-generation") and _has_tag(r, "conversational")
    )
    assert CHAT in expected
    assert {m.id for m in chat} == expected
    assert all({"text-generation", "conversational"} <= {*m.tags, m.pipeline_tag} for m in chat)
    assert SupportedTask.CHAT in next(m for m in chat if m.id == CHAT).tasks

    code = hf.by_task("code-generation", limit=None)
    where, params = _tag_sql("text-generation")
    expected_code = _ids(parquet, f"{where} AND lower(id) LIKE '%code%'", params)
    assert len(expected_code) > 5
    assert {m.id for m in code} == expected_code
    # a text query with a word-based task: both apply
    coder = hf.search("qwen", task="code-generation", limit=None)
    assert {m.id for m in coder} == {i for i in expected_code if "qwen" in i.lower()}


def test_sort_by_downloads_matches_the_parquet_order(
    hf: HuggingFaceSource, parquet: duckdb.DuckDBPyConnection
) -> None:
    rows = parquet.execute("SELECT downloads FROM hub ORDER BY downloads DESC LIMIT 60").fetchall()
    results = hf.search(sort="downloads", limit=60)
    assert [m.downloads for m in results] == [r[0] for r in rows]
    popular = hf.popular(10)
    assert [m.id for m in popular] == [m.id for m in results[:10]]
    (top_id,) = _one(parquet, "SELECT id FROM hub ORDER BY downloads DESC LIMIT 1")
    assert popular[0].id == top_id


def test_trending_matches_the_parquet_order(
    hf: HuggingFaceSource, parquet: duckdb.DuckDBPyConnection
) -> None:
    rows = parquet.execute(
        "SELECT trendingScore FROM hub ORDER BY trendingScore DESC NULLS LAST LIMIT 30"
    ).fetchall()
    trending = hf.trending(30)
    assert [m.trending_score for m in trending] == [float(r[0]) for r in rows]
    assert trending[0].trending_score and trending[0].trending_score > 0


def test_sorts_the_hub_cannot_do(hf: HuggingFaceSource, parquet: duckdb.DuckDBPyConnection) -> None:
    by_params = hf.search("llama", sort="parameters", limit=None)
    known = [m.parameters for m in by_params if m.parameters is not None]
    assert known == sorted(known, reverse=True)
    first_unknown = next(i for i, m in enumerate(by_params) if m.parameters is None)
    assert all(m.parameters is None for m in by_params[first_unknown:])
    (biggest,) = _one(
        parquet, "SELECT max(safetensors.total) FROM hub WHERE lower(id) LIKE '%llama%'"
    )
    assert known[0] >= biggest
    names = hf.search("mistral", sort="name", limit=None)
    # "name" orders by the model's name (then id), as the catalog's sort="name" does
    keys = [(m.name or m.id).lower() for m in names]
    assert keys == sorted(keys) and len({m.name for m in names}) > 1
    with pytest.raises(ConfigurationError, match="downloads"):
        hf.search("llama", sort="stars")


# -- the converter ----------------------------------------------------------------------------


def test_converter_accepts_every_served_record(
    hub_server: HubServer, parquet: duckdb.DuckDBPyConnection
) -> None:
    infos = list(HfApi(endpoint=hub_server.url).list_models(full=True, cardData=True))
    (n_rows,) = _one(parquet, "SELECT count(*) FROM hub")
    assert len(infos) == n_rows + len(hub_server.served_records())
    metas = [to_metadata(info, endpoint=hub_server.url) for info in infos]
    for meta in metas:
        _check_types(meta)
    by_id = {m.id: m for m in metas}
    # spot checks against the parquet, odd shapes included
    (lic_list_id,) = _one(
        parquet, "SELECT id FROM hub WHERE json_type(cardData, '$.license') = 'ARRAY' LIMIT 1"
    )
    assert by_id[lic_list_id].license in ("mit", "apache-2.0")
    (lang_str_id, lang) = _one(
        parquet,
        "SELECT id, cardData->>'$.language' FROM hub "
        "WHERE json_type(cardData, '$.language') = 'VARCHAR' LIMIT 1",
    )
    assert by_id[lang_str_id].language == (lang,)
    for model_id, total in parquet.execute(
        "SELECT id, safetensors.total FROM hub WHERE safetensors IS NOT NULL LIMIT 50"
    ).fetchall():
        assert by_id[model_id].parameters == total
    (no_st,) = _one(parquet, "SELECT count(*) FROM hub WHERE safetensors IS NULL AND gguf IS NULL")
    assert sum(1 for m in metas if m.parameters is None) >= no_st - 5
    assert sum(1 for m in metas if m.model_type is not None) > 0.8 * len(metas)


def test_converter_tolerates_odd_shapes() -> None:
    odd = to_metadata(
        ModelInfo(
            id="someone/odd",
            cardData={"license": ["MIT", "Apache-2.0"], "language": "fr"},
            safetensors=None,
            tags=None,
            trendingScore=None,
        )
    )
    assert odd.license == "mit, apache-2.0"
    assert odd.language == ("fr",)
    assert odd.parameters is None and odd.created_at is None and odd.tags == ()
    assert odd.author == "someone"
    bare = to_metadata(
        ModelInfo(
            id="bare-model",
            tags=["text-generation", "en", "de", "moe", "license:Apache-2.0", "region:us"],
            gguf={"total": 1234, "context_length": 4096},
            createdAt="2024-01-02T03:04:05.000Z",
        ),
        endpoint="http://hub.local:8000/",
    )
    assert bare.language == ("en", "de")  # language tags used only when there is no card
    assert bare.license == "apache-2.0"
    assert bare.parameters == 1234 and bare.extra["context_length"] == 4096
    assert bare.created_at is not None
    assert bare.created_at.utcoffset() == timedelta(0)
    assert bare.download_url == "http://hub.local:8000/bare-model"
    assert bare.author is None and SupportedTask.TEXT_GENERATION in bare.tasks


def test_summarize_card() -> None:
    text = (
        "---\nlicense: mit\n---\n\n# Title\n\n![badge](x.svg)\n<div>html</div>\n\n"
        "This is **the** first [paragraph](http://x)\nof prose.\n\nSecond paragraph.\n"
    )
    assert summarize_card(text) == "This is the first paragraph of prose."
    assert summarize_card("# only a heading\n") == ""
    long = summarize_card("word " * 200, max_chars=50)
    assert len(long) <= 50 and long.endswith("…")


# -- model_info ---------------------------------------------------------------------------------


def _safetensors_parameters(path: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(path), framework="numpy") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            total += math.prod(f.get_slice(name).get_shape())
    return total


def _served_files(folder: Path) -> dict[str, Path]:
    return {
        p.relative_to(folder).as_posix(): p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".nbmodels")
    }


def test_model_info_of_a_tiny_model(
    hf: HuggingFaceSource, tiny_models: dict[str, Path], hub_server: HubServer
) -> None:
    folder = tiny_models[CHAT]
    meta = hf.model_info(CHAT)
    _check_types(meta)
    weights = folder / "model.safetensors"
    assert meta.parameters == _safetensors_parameters(weights)
    on_disk = _served_files(folder)
    assert {f.path for f in meta.files} == set(on_disk)
    assert meta.size_bytes == sum(p.stat().st_size for p in on_disk.values())
    files = {f.path: f for f in meta.files}
    assert files["model.safetensors"].sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert files["model.safetensors"].size == weights.stat().st_size
    assert files["config.json"].sha256 is None  # small files are not LFS
    assert meta.license == "apache-2.0" and meta.language == ("en",)
    assert meta.pipeline_tag == "text-generation" and meta.library == "transformers"
    assert meta.architectures == ("LlamaForCausalLM",)
    assert SupportedTask.CHAT in meta.tasks and meta.model_type is ModelType.INTERFACE_MODEL
    assert meta.description.startswith("A tiny Llama chat model with random weights")
    assert "---" not in meta.description and "#" not in meta.description
    assert meta.version and len(meta.version) == 40
    assert meta.download_url == f"{hub_server.url}/{CHAT}"
    assert meta.created_at is not None and meta.created_at.tzinfo is not None

    embedder = hf.model_info(f"{hub_server.url}/{EMBEDDER}")  # a pasted model page URL
    assert embedder.id == EMBEDDER and embedder.model_type is ModelType.EMBEDDING_MODEL
    assert "1_Pooling/config.json" in {f.path for f in embedder.files}

    light = hf.model_info(CLASSIFIER, files=False)
    assert light.files == () and light.description == "" and light.license == "mit"


def test_model_info_of_a_real_record(
    hf: HuggingFaceSource, parquet: duckdb.DuckDBPyConnection
) -> None:
    model_id = "Qwen/Qwen1.5-MoE-A2.7B"
    row = _one(
        parquet,
        "SELECT safetensors.total, downloads, likes, createdAt, cardData->>'$.license' "
        "FROM hub WHERE id = ?",
        [model_id],
    )
    meta = hf.model_info(model_id)
    _check_types(meta)
    assert meta.parameters == row[0]
    assert meta.downloads == row[1] and meta.likes == row[2]
    assert meta.created_at is not None
    assert meta.created_at.replace(tzinfo=None) == row[3]
    assert meta.license == row[4] == "other"
    assert meta.extra["license_name"] == "tongyi-qianwen"
    assert meta.language == ("en",)
    assert meta.tasks[0] is SupportedTask.TEXT_GENERATION


def test_model_info_at_a_revision(hf: HuggingFaceSource) -> None:
    main = hf.model_info(REVISIONS_REPO)
    dev = hf.model_info(REVISIONS_REPO, revision="dev")
    assert main.version != dev.version
    assert dev.description == "" and dev.license == "mit"


# -- errors ---------------------------------------------------------------------------------------


def test_unknown_repo_and_unknown_revision(hf: HuggingFaceSource) -> None:
    with pytest.raises(ModelNotFoundError, match="HF_TOKEN") as info:
        hf.model_info("nbmodels-demo/no-such-model")
    assert "nbmodels-demo/no-such-model" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(ModelNotFoundError, match="no revision 'nope'"):
        hf.model_info(REVISIONS_REPO, revision="nope")


@pytest.mark.parametrize("bad", ["a//b", "not a valid id!", "", "org/na--me", "a/b/c"])
def test_malformed_ids_fail_before_any_request(
    hf: HuggingFaceSource, hub_server: HubServer, bad: str
) -> None:
    start = len(hub_server.requests)
    with pytest.raises(InvalidModelIdError, match="'org/name'"):
        hf.model_info(bad)
    assert hub_server.requests[start:] == []


def test_gated_repo_gives_metadata_and_reads_the_card_only_with_a_token(
    settings: Settings, hub_server: HubServer
) -> None:
    start = len(hub_server.requests)
    meta = HuggingFaceSource(settings).model_info(GATED_REPO)
    assert meta.extra["gated"] == "manual" and meta.license == "mit"
    resolves = [r for r in hub_server.requests[start:] if "/resolve/" in r.path]
    assert resolves and all(r.status == 401 for r in resolves)

    start = len(hub_server.requests)
    HuggingFaceSource(settings, token=FAKE_TOKEN).model_info(GATED_REPO)
    resolves = [r for r in hub_server.requests[start:] if "/resolve/" in r.path]
    assert resolves and all(r.status == 200 for r in resolves)


def test_hub_error_for_real_download_errors(hub_server: HubServer, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub_server.url, token=False)

    def error_of(repo_id: str, filename: str, **kwargs: Any) -> BaseException:
        with pytest.raises(Exception) as info:
            api.hf_hub_download(repo_id, filename, cache_dir=tmp_path, **kwargs)
        return info.value

    gated = hub_error(
        error_of(GATED_REPO, "config.json"), endpoint=hub_server.url, repo_id=GATED_REPO
    )
    assert isinstance(gated, AccessDeniedError) and gated.reason == "gated"
    assert "gated" in str(gated) and "accept its licence" in str(gated)
    assert "HF_TOKEN" in str(gated) and f"{hub_server.url}/{GATED_REPO}" in str(gated)

    missing = hub_error(error_of(CHAT, "nope.bin"), endpoint=hub_server.url, repo_id=CHAT)
    assert isinstance(missing, ModelNotFoundError) and "no such file" in str(missing)

    revision = hub_error(
        error_of(CHAT, "config.json", revision="nope"),
        endpoint=hub_server.url,
        repo_id=CHAT,
        revision="nope",
    )
    assert isinstance(revision, ModelNotFoundError) and "'nope'" in str(revision)

    with pytest.raises(ZeroDivisionError):  # not a Hub answer: a bug, passed on as it is
        hub_error(ZeroDivisionError(), endpoint=hub_server.url)


@pytest.mark.timeout(15)  # the client's own retries would take ~23 s per call
def test_unreachable_endpoint(settings: Settings) -> None:
    dead = _dead_endpoint()
    hf = HuggingFaceSource(settings, endpoint=dead)
    assert hf.is_available() is False
    with pytest.raises(HubUnreachableError, match="HF_ENDPOINT") as info:
        hf.search("llama")
    assert dead in str(info.value)
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(HubUnreachableError, match="Cannot reach the Hugging Face Hub"):
        hf.model_info(CHAT)
    with pytest.raises(HubUnreachableError):
        hf.popular(5)


def test_an_endpoint_that_is_not_a_hub(settings: Settings, hub_server: HubServer) -> None:
    hf = HuggingFaceSource(settings, endpoint=f"{hub_server.url}/not-a-hub")
    assert hf.is_available() is False
    with pytest.raises(HubUnreachableError, match="HTTP 404") as info:
        hf.search("llama")
    assert "base URL" in str(info.value)


def test_offline_mode_makes_no_request(settings: Settings, hub_server: HubServer) -> None:
    hf = HuggingFaceSource(settings.with_(offline=True))
    start = len(hub_server.requests)
    assert hf.is_available() is False
    with pytest.raises(HubUnreachableError, match="Offline mode is on"):
        hf.search("llama")
    with pytest.raises(HubUnreachableError, match="Offline mode is on"):
        hf.model_info(CHAT)
    assert hub_server.requests[start:] == []


def test_token_never_shows(
    settings: Settings, hub_server: HubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    hf = HuggingFaceSource(settings, token=FAKE_TOKEN)
    assert FAKE_TOKEN not in repr(hf) and "token=<set>" in repr(hf)
    assert FAKE_TOKEN not in repr(hf.settings)
    with pytest.raises(ModelNotFoundError) as not_found:
        hf.model_info("nbmodels-demo/no-such-model")
    assert hf.search("tiny", limit=3)
    dead = HuggingFaceSource(settings, endpoint=_dead_endpoint(), token=FAKE_TOKEN)
    with pytest.raises(HubUnreachableError) as unreachable:
        dead.model_info(CHAT)
    for text in (str(not_found.value), str(unreachable.value), caplog.text):
        assert FAKE_TOKEN not in text


def test_registry_and_availability(hub_server: HubServer, settings: Settings) -> None:
    hf = get_source("hf", settings=settings)
    assert isinstance(hf, HuggingFaceSource)
    assert hf.name == "huggingface" and hf.kind is ModelSource.HUGGING_FACE
    assert hf.is_available() is True
    other = get_source("huggingface", endpoint=hub_server.url + "/")
    assert other.settings.hf_endpoint == hub_server.url


def test_the_names_others_import_from_the_huggingface_module_are_still_there() -> None:
    """huggingface.py is split (hub_errors, hub_records): what other modules import from it
    still comes from there, the very same objects."""
    from nbmodels.discover.sources import hub_errors, hub_records, huggingface

    assert hub_error is hub_errors.hub_error
    assert to_metadata is hub_records.to_metadata and summarize_card is hub_records.summarize_card
    assert huggingface.CHAT_TEMPLATE_FILES is hub_records.CHAT_TEMPLATE_FILES
    assert callable(huggingface.fetch_small_files)
    assert all(hasattr(huggingface, name) for name in huggingface.__all__)
