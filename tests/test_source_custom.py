"""The custom source: team catalogs in JSON, YAML, CSV and Parquet, from files and URLs.

The sample catalogs in tests/data/custom/ hold the same eight rows in each format, with
deliberate damage: row 4 has no id, row 5 has ``parameters: lots``, row 6 is broken in a
way each format allows (a repeated id, a plain string, too many CSV cells), row 7 has a
date that is not one, and values come in mixed types ("1.23B", 33400000, "512 MiB"...).
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

from nbmodels.discover.sources import get_source
from nbmodels.discover.sources.custom import CustomSource
from nbmodels.errors import (
    ConfigurationError,
    CustomCatalogError,
    CustomCatalogWarning,
    ModelNotFoundError,
    NBModelsWarning,
    SourceUnavailableError,
)
from nbmodels.settings import Settings
from nbmodels.types import ModelSource, ModelType, SupportedTask
from nbmodels.units import parse_count, parse_date, parse_size

DATA = Path(__file__).parent / "data" / "custom"
FORMATS = ("json", "yaml", "csv", "parquet")
IDS = [
    "meta-llama/Llama-3.2-1B-Instruct",
    "BAAI/bge-small-en-v1.5",
    "team/sentiment-v2",
    "team/coder-7b",
    "team/translator",
    "Qwen/Qwen2.5-0.5B",
]
ROW_6 = {
    "json": "row 6: id 'meta-llama/Llama-3.2-1B-Instruct' repeats row 1",
    "yaml": "row 6: is a str, not an object",
    "csv": "row 6: has 18 cells but the header has 15 columns",
    "parquet": "row 6: id 'meta-llama/Llama-3.2-1B-Instruct' repeats row 1",
}


def load(location: object, **kwargs: object) -> tuple[CustomSource, str]:
    """A source with its catalog read, and the text of the one warning it gave."""
    source = CustomSource(location, **kwargs)  # type: ignore[arg-type]
    with pytest.warns(CustomCatalogWarning) as record:
        source.models()
    assert len(record) == 1, [str(w.message) for w in record]
    return source, str(record[0].message)


# -- unit parsers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7_000_000_000, 7_000_000_000),
        (7e9, 7_000_000_000),
        ("7B", 7_000_000_000),
        ("7b", 7_000_000_000),
        ("1.5b", 1_500_000_000),
        ("1.23B", 1_230_000_000),
        ("350M", 350_000_000),
        ("0.5B", 500_000_000),
        ("7,000,000", 7_000_000),
        ("12k", 12_000),
        ("8x7B", 56_000_000_000),
        ("7 billion", 7_000_000_000),
        ("7B params", 7_000_000_000),
        ("1e9", 1_000_000_000),
        ("  42 ", 42),
        (Decimal("3"), 3),
    ],
)
def test_parse_count(value: object, expected: int) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    "value", ["lots", "7Q", "", "B", "-5", -1, True, float("nan"), [7], "1.2.3"]
)
def test_parse_count_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_count(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, 1024),
        (4.2e9, 4_200_000_000),
        ("4.2GB", 4_200_000_000),
        ("4.2 gb", 4_200_000_000),
        ("512 MiB", 512 * 2**20),
        ("1.5GiB", int(1.5 * 2**30)),
        ("133 MB", 133_000_000),
        ("900000000", 900_000_000),
        ("2 TB", 2 * 10**12),
        ("10 bytes", 10),
        ("3G", 3_000_000_000),
    ],
)
def test_parse_size(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["big", "4.2 GX", "GB", -3, False, {"gb": 1}])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-25", datetime(2024, 9, 25, tzinfo=UTC)),
        ("2024-09-25T10:00:00Z", datetime(2024, 9, 25, 10, tzinfo=UTC)),
        ("2024/09/25", datetime(2024, 9, 25, tzinfo=UTC)),
        (1714521600, datetime(2024, 5, 1, tzinfo=UTC)),
        (1714521600000, datetime(2024, 5, 1, tzinfo=UTC)),  # milliseconds
        ("1714521600", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_date(value: object, expected: datetime) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["not a date", "2024-13-45", -5, True])
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value)


# -- the four formats ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_each_format_with_tolerance(fmt: str) -> None:
    source, message = load(DATA / f"team.{fmt}")
    models = {m.id: m for m in source.models()}
    assert list(models) == IDS
    assert all(m.source is ModelSource.CUSTOM for m in models.values())

    llama = models["meta-llama/Llama-3.2-1B-Instruct"]
    assert llama.parameters == 1_230_000_000
    assert llama.size_bytes == 2_500_000_000
    assert llama.tags == ("llama", "conversational")
    assert llama.tasks == (SupportedTask.TEXT_GENERATION, SupportedTask.CHAT)
    assert llama.model_type is ModelType.INTERFACE_MODEL
    assert (llama.license, llama.language) == ("llama3.2", ("en", "de"))
    assert llama.downloads == 1_234_567
    assert llama.created_at is not None and llama.created_at.date().isoformat() == "2024-09-25"
    assert llama.created_at.tzinfo is not None
    assert (llama.author, llama.name) == ("meta-llama", "Llama-3.2-1B-Instruct")
    assert llama.description == "Small instruction-tuned Llama."

    bge = models["BAAI/bge-small-en-v1.5"]
    assert (bge.parameters, bge.size_bytes, bge.likes) == (33_400_000, 133_000_000, 300)
    assert bge.library == "sentence-transformers"
    assert bge.tags == ("embeddings", "mteb")
    assert SupportedTask.EMBEDDING in bge.tasks  # detected from the pipeline tag
    assert bge.model_type is ModelType.EMBEDDING_MODEL
    assert bge.extra["team_owner"] == "search-team"  # unknown columns are kept
    assert bge.extra["catalog"] == "team"

    sentiment = models["team/sentiment-v2"]
    assert sentiment.parameters == 110_000_000 and sentiment.downloads == 42
    assert sentiment.tasks == (SupportedTask.TEXT_CLASSIFICATION,)

    coder = models["team/coder-7b"]
    assert coder.parameters is None  # "lots" was dropped, the row kept
    assert (coder.name, coder.size_bytes) == ("Coder 7B", 4_200_000_000)
    assert SupportedTask.CODE_GENERATION in coder.tasks  # from its name and pipeline tag

    translator = models["team/translator"]
    assert translator.tasks == (SupportedTask.TRANSLATION,)
    assert translator.created_at is None and translator.likes == 12
    assert translator.size_bytes == 900_000_000

    qwen = models["Qwen/Qwen2.5-0.5B"]
    assert (qwen.parameters, qwen.size_bytes) == (500_000_000, 512 * 2**20)
    assert qwen.downloads is None and qwen.tags == ()

    assert str(DATA / f"team.{fmt}") in message
    assert "2 of 8 rows skipped" in message
    assert ("1 field dropped" if fmt == "parquet" else "2 fields dropped") in message
    assert "row 4: no id" in message
    assert "row 5: parameters 'lots' is not a number" in message
    assert ROW_6[fmt] in message
    if fmt != "parquet":  # Parquet's typed column cannot hold "not a date"
        assert "row 7: created" in message and "'not a date' is not a date" in message
    for good_row in ("row 1:", "row 2:", "row 3:", "row 8:"):
        assert good_row not in message


def test_updated_at_from_epoch_and_explicit_author() -> None:
    source, _ = load(DATA / "team.json")
    sentiment = source.model_info("team/sentiment-v2")
    assert sentiment.updated_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert sentiment.author == "nlp-team"  # the catalog's author wins over the id prefix


def test_clean_catalog_gives_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "clean.json"
    path.write_text(json.dumps({"models": [{"id": "a/b", "params": "1B"}, {"name": "solo"}]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models = CustomSource(path).models()
    assert [(m.id, m.author, m.parameters) for m in models] == [
        ("a/b", "a", 1_000_000_000),
        ("solo", None, None),
    ]


def test_jsonl_and_semicolon_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"id": "x/one", "size": "1GB"}\n\n{"id": "x/two"}\n')
    assert [m.id for m in CustomSource(jsonl).models()] == ["x/one", "x/two"]
    csv_path = tmp_path / "c.csv"
    csv_path.write_text('model_id;params;size;tags\nx/a;"1,5B";"4,2 GB";a,b\nx/b;2B;;c\n')
    models = CustomSource(csv_path).models()
    assert models[0].size_bytes == 4_200_000_000  # a comma is the decimal mark in a ; file
    assert [(m.id, m.parameters, m.tags) for m in models] == [
        ("x/a", 1_500_000_000, ("a", "b")),
        ("x/b", 2_000_000_000, ("c",)),
    ]


def test_unknown_task_and_model_type_are_dropped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "- id: a/x\n  tasks: [dancing]\n  model_type: embedding\n"
        "- id: a/y\n  model_type: weird\n  task: feature-extraction\n"
    )
    source, message = load(path)
    x, y = source.models()
    assert x.tasks == () and x.model_type is ModelType.EMBEDDING_MODEL
    assert y.tasks == (SupportedTask.EMBEDDING,) and y.model_type is ModelType.EMBEDDING_MODEL
    assert "row 1: tasks ['dancing'] has unknown task 'dancing'" in message
    assert "row 2: model_type 'weird' is not a model type" in message
    assert "0 of 2 rows skipped, 2 fields dropped" in message


def test_several_catalogs_report_ids_repeated_across_them(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"id": "team/coder-7b"}, {"id": "team/extra"}]))
    source = CustomSource([DATA / "team.parquet", other], name="all")
    with pytest.warns(CustomCatalogWarning) as record:
        models = source.models()
    assert len(record) == 2  # one per catalog
    assert [m.id for m in models] == [*IDS, "team/extra"]
    assert "row 1: id 'team/coder-7b' repeats row 5 of" in str(record[1].message)
    assert source.model_info("team/extra").extra["catalog"] == "all"


def test_default_locations_come_from_settings() -> None:
    settings = Settings.from_env(custom_catalogs=(str(DATA / "team.csv"),))
    source = get_source("custom", settings=settings)
    assert isinstance(source, CustomSource)
    assert source.locations == (str(DATA / "team.csv"),)
    with pytest.warns(CustomCatalogWarning):
        assert len(source.search()) == 6
    assert source.is_available()
    empty = CustomSource(settings=Settings.from_env())
    assert empty.search() == [] and not empty.is_available()
    with pytest.raises(ModelNotFoundError, match="NBMODELS_CATALOGS"):
        empty.model_info("x")


def test_reload_reads_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"id": "a/one"}]))
    source = CustomSource(path)
    assert [m.id for m in source.models()] == ["a/one"]
    path.write_text(json.dumps([{"id": "a/one"}, {"id": "a/two"}]))
    assert [m.id for m in source.models()] == ["a/one"]  # kept
    assert [m.id for m in source.reload()] == ["a/one", "a/two"]


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("bad.json", b'[{"id": "a"},', "not valid JSON: .* at line 1"),
        ("bad.yaml", b"models:\n  - id: a\n   bad: [unclosed\n", "not valid YAML"),
        ("bad.csv", b'id,tags\na,"unterminated\n', "not valid CSV"),
        ("bad.parquet", b"PAR1 but then nothing", "not a readable Parquet file"),
        ("obj.json", b'{"catalog": "x", "entries": []}', "without a 'models' list .*catalog"),
        ("num.yaml", b"42\n", "holds a int, not a list of models"),
        ("empty.json", b"[]", "no usable row .*it is empty"),
        ("noids.json", b'[{"x": 1}, {"params": "7B"}]', "no usable row .*row 1: no id"),
        ("nohead.csv", b"foo,bar\n1,2\n", "no header row"),
        ("latin1.csv", "id\ncaf\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_catalogs_raise_what_to_fix(
    tmp_path: Path, name: str, content: bytes, match: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CustomCatalogError, match=match):
        CustomSource(path).models()


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CustomCatalogError, match=r"does not exist\. Check the path"):
        CustomSource(tmp_path / "nope.csv").search()
    with pytest.raises(CustomCatalogError, match="is a folder"):
        CustomSource(tmp_path).search()
    assert not CustomSource(tmp_path / "nope.csv").is_available()


# -- URLs ---------------------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real http.server on port 0 serving the sample catalogs (and extension-less copies)."""
    root = tmp_path_factory.mktemp("www")
    for fmt in FORMATS:
        shutil.copy(DATA / f"team.{fmt}", root / f"team.{fmt}")
        shutil.copy(DATA / f"team.{fmt}", root / f"team-{fmt}")  # served as octet-stream
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("suffix", [".", "-"], ids=["by-extension", "sniffed"])
def test_reads_the_same_catalog_from_a_url(catalog_server: str, fmt: str, suffix: str) -> None:
    url = f"{catalog_server}/team{suffix}{fmt}"
    source, message = load(url)
    assert [m.id for m in source.models()] == IDS
    assert source.model_info("Qwen/Qwen2.5-0.5B").parameters == 500_000_000
    assert url in message and "row 4: no id" in message


def test_url_errors(catalog_server: str) -> None:
    with pytest.raises(CustomCatalogError, match="answered HTTP 404; check the URL"):
        CustomSource(f"{catalog_server}/missing.json").models()
    offline = Settings.from_env(offline=True)
    source = CustomSource(f"{catalog_server}/team.json", settings=offline)
    assert not source.is_available()
    with pytest.raises(SourceUnavailableError, match="offline"):
        source.models()


def test_unreachable_url_is_a_source_error(catalog_server: str) -> None:
    # the server is up for the fixture; port 9 (discard) has nothing listening on loopback
    with pytest.raises(SourceUnavailableError, match="cannot be fetched"):
        CustomSource("http://127.0.0.1:9/team.json", settings=Settings.from_env(timeout=2)).models()


# -- search and model_info ----------------------------------------------------------------


@pytest.fixture
def team() -> CustomSource:
    source, _ = load(DATA / "team.json")
    return source


def test_search_filters(team: CustomSource) -> None:
    assert [m.id for m in team.search("LLAMA")] == ["meta-llama/Llama-3.2-1B-Instruct"]
    assert [m.id for m in team.search("coder 7b")] == ["team/coder-7b"]  # matches the name
    assert [m.id for m in team.search(author="team")] == ["team/coder-7b", "team/translator"]
    assert [m.id for m in team.search(author="NLP-team")] == ["team/sentiment-v2"]
    assert [m.id for m in team.search(tags=("MTEB", "embeddings"))] == ["BAAI/bge-small-en-v1.5"]
    assert team.search(tags=("mteb", "llama")) == []
    assert [m.id for m in team.search(task=SupportedTask.TRANSLATION)] == ["team/translator"]
    assert [m.id for m in team.by_task("chat")] == ["meta-llama/Llama-3.2-1B-Instruct"]
    assert team.search("nothing-like-this") == []


def test_search_sorts_and_limits(team: CustomSource) -> None:
    by_params = [m.id for m in team.search(sort="parameters")]
    assert by_params[:4] == [
        "meta-llama/Llama-3.2-1B-Instruct",
        "Qwen/Qwen2.5-0.5B",
        "team/sentiment-v2",
        "BAAI/bge-small-en-v1.5",
    ]
    assert set(by_params[4:]) == {"team/coder-7b", "team/translator"}  # unknown ones last
    assert [m.id for m in team.search(sort="size", limit=2)] == [
        "team/coder-7b",
        "meta-llama/Llama-3.2-1B-Instruct",
    ]
    assert [m.name for m in team.search(sort="name")][:2] == ["bge-small-en-v1.5", "Coder 7B"]
    assert [m.id for m in team.popular(limit=1)] == ["meta-llama/Llama-3.2-1B-Instruct"]
    assert team.search(limit=0) == []
    with pytest.raises(ConfigurationError, match="Unknown sort 'stars'"):
        team.search(sort="stars")


def test_model_info(team: CustomSource) -> None:
    assert team.model_info("BAAI/bge-small-en-v1.5").likes == 300
    assert team.model_info("baai/BGE-small-en-v1.5").id == "BAAI/bge-small-en-v1.5"
    with pytest.raises(ModelNotFoundError, match="Did you mean 'team/coder-7b'") as excinfo:
        team.model_info("team/coder-7")
    assert str(DATA / "team.json") in str(excinfo.value)
    assert isinstance(excinfo.value, KeyError)


def test_explicit_tasks_win_over_detection(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    rows = [
        {"id": "a/guard-chat", "tasks": "text-classification", "pipeline_tag": "text-generation"},
        {"id": "a/guard-chat-2", "pipeline_tag": "text-generation", "tags": "conversational"},
    ]
    path.write_text(json.dumps(rows))
    explicit, detected = CustomSource(path).models()
    assert explicit.tasks == (SupportedTask.TEXT_CLASSIFICATION,)
    assert explicit.model_type is ModelType.SPECIALIZED_MODEL
    assert SupportedTask.TEXT_GENERATION in detected.tasks  # no tasks column: detected


# -- the column-wise CSV path gives what the general path gives ----------------------------


def _real_team_csv(shared_data: Path, path: Path, rows: int = 3000) -> Path:
    """A team catalog written the way benchmarks/bench_custom.py writes one (sizes as text,
    counts as "7.6B" or digits, tags as "a, b, c", an unmapped column), from real records:
    every record once, then again under new ids up to ``rows``."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(shared_data / "hub-models.parquet")
    picks = np.resize(np.arange(len(df)), rows)
    df = df.iloc[picks].reset_index(drop=True)
    rng = np.random.default_rng(0)

    def human(n: float, units: tuple[str, ...]) -> str:
        for unit in units[:-1]:
            if abs(n) < 1000:
                return f"{n:.1f}{unit}".replace(".0", "")
            n /= 1000
        return f"{n:.1f}{units[-1]}"

    params = [(st or {}).get("total") if isinstance(st, dict) else None for st in df["safetensors"]]
    out = pd.DataFrame(
        {
            "model_id": [i if k < len(set(picks)) else f"{i}-s{k}" for k, i in enumerate(df["id"])],
            "owner": df["author"].fillna(""),
            "tags": [", ".join(list(t)[:8]) if t is not None else "" for t in df["tags"]],
            "pipeline_tag": df["pipeline_tag"].fillna(""),
            "params": [
                ""
                if p is None
                else (human(float(p), ("", "K", "M", "B", "T")) if k % 2 else str(p))
                for k, p in enumerate(params)
            ],
            "size": [
                "" if p is None else human(float(p) * 2, (" B", " KB", " MB", " GB", " TB"))
                for p in params
            ],
            "downloads": df["downloads"].astype("Int64"),
            "created": df["createdAt"].map(lambda d: "" if pd.isna(d) else d.date().isoformat()),
            "library": df["library_name"].fillna(""),
            "team_owner": rng.choice(["search", "nlp", "N/A"], rows),
        }
    )
    out.to_csv(path, index=False)
    return path


MESSY_CSV = (
    "id,name,params,size,tags,task,license,created_at,pipeline_tag,library,downloads,"
    "capabilities,base_model,model_type,notes\n"
    'acme/llama-chat,Llama Chat,7B,4.2GB,"llama, conversational",,mit,2024-09-25,,,"1,234",'
    ",,,\n"
    "acme/plain,,7612345678,  512 MiB ,,,,2024/09/25,text-generation,transformers,12,,,,x\n"
    ",,1B,,,,,,,,,,,,orphan\n"  # no id
    "acme/rounding,,1.5,1.2345 GB,,,,not a date,,,-5,,,,\n"
    "acme/huge,,99999999999999999999,3G,,,,1714521600,,,,,,,\n"
    "acme/units,,350m,10 bytes,embed; mteb,,,,feature-extraction,sentence-transformers,n/a,"
    ",,,\n"
    "acme/spaces,\u3000Spaced\u3000,0.5b,1.5GiB,,,,,,,NULL,,,,\n"
    "acme/llama-chat,Again,1B,,,,,,,,,,,,\n"  # a repeated id
    "acme/derived,,8x7B,7 B,llama,,,,,,,,acme/llama-chat,,\n"
    "acme/quant,,lots,big,base_model:quantized:acme/units,,,,,,,,,,\n"
    'acme/tool,,1.23B,2.5 TB,,chat,,,,,,"completion, tools",,specialized,\n'
    'acme/json-tags,,12k,900000000,"[""a"", ""b""]",dancing,,,,,,,,weird,\n'
    "   ,   ,  ,  ,  ,  ,  ,  ,  ,  ,  ,  ,  ,  ,  \n"  # a row of blank cells: not a row
    'acme/multiline,"line one\nline two",1e9,1.5 PB,,,,,,,7,,,,\n'
    "acme/whisper-ft,,,,,,,,,,,,openai/whisper-small,,\n"
)
SEMICOLON_CSV = (
    "model_id;params;size;tags;downloads\n"
    'x/a;"1,5B";"4,2 GB";a,b;"1.234"\n'
    "x/b;2B;;c;7\n"
    'x/c;"1,2,3";"1.234,5 MB";;\n'
)


_Read = tuple[list, "pa.Table", list[str]]


def _both_paths(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[_Read, _Read]:
    import nbmodels.discover.sources.custom as custom

    stamp = datetime(2025, 1, 1, tzinfo=UTC)

    def read() -> _Read:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            source = CustomSource(path)
            table = source.table(fetched_at=stamp)
            models = source.models()
        # nbmodels' own warnings: a ResourceWarning of another test's socket, collected here
        # by the garbage collector, is not this read's
        return models, table, [str(w.message) for w in caught if issubclass(w.category, NBModelsWarning)]  # fmt: skip

    fast = read()
    assert custom._arrow_csv(path.read_bytes(), str(path)) is not None  # the fast path ran
    with monkeypatch.context() as m:
        m.setattr(custom, "_arrow_csv", lambda data, location: None)
        general = read()
    return fast, general


@pytest.mark.parametrize("content", [MESSY_CSV, SEMICOLON_CSV], ids=["messy", "semicolon"])
def test_column_wise_csv_reads_as_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    path = tmp_path / "team.csv"
    path.write_text(content, encoding="utf-8")
    (fast_models, fast_table, fast_said), (models, table, said) = _both_paths(path, monkeypatch)
    assert fast_models == models
    assert fast_table.equals(table)
    assert fast_said == said and len(said) == 1


def test_column_wise_csv_reads_real_records_as_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    path = _real_team_csv(shared_data, tmp_path / "real.csv")
    (fast_models, fast_table, fast_said), (models, table, said) = _both_paths(path, monkeypatch)
    assert len(models) == 3000
    assert fast_models == models
    assert fast_table.equals(table)
    assert fast_said == said


def test_messy_csv_values(tmp_path: Path) -> None:
    path = tmp_path / "team.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    source, message = load(path)
    m = {x.id: x for x in source.models()}
    assert m["acme/llama-chat"].name == "Llama Chat" and m["acme/llama-chat"].downloads == 1234
    assert m["acme/plain"].size_bytes == 512 * 2**20 and m["acme/plain"].parameters == 7612345678
    assert m["acme/rounding"].parameters == 2  # Decimal rounds half to even
    assert m["acme/rounding"].size_bytes == 1_234_500_000
    assert m["acme/huge"].parameters is None and m["acme/huge"].size_bytes == 3e9
    assert m["acme/units"].parameters == 350_000_000 and m["acme/units"].size_bytes == 10
    assert m["acme/units"].tasks == (SupportedTask.EMBEDDING,)
    assert m["acme/spaces"].name == "Spaced" and m["acme/spaces"].downloads is None
    assert m["acme/multiline"].name == "line one\nline two"
    assert m["acme/multiline"].size_bytes == 1_500_000_000_000_000
    # base models, from a base_model column or tags, resolved among the catalog's rows
    assert m["acme/derived"].extra["base_models"] == ["acme/llama-chat"]
    assert m["acme/derived"].tasks == (SupportedTask.TEXT_GENERATION, SupportedTask.CHAT)
    assert m["acme/quant"].tasks == (SupportedTask.EMBEDDING,)
    assert m["acme/quant"].model_type is ModelType.EMBEDDING_MODEL
    assert m["acme/whisper-ft"].tasks == (
        SupportedTask.AUDIO_TRANSCRIPTION,
        SupportedTask.TRANSLATION,
    )  # a base outside the catalog: judged by its id
    assert m["acme/tool"].extra["capabilities"] == ["completion", "tools"]
    assert m["acme/tool"].model_type is ModelType.SPECIALIZED_MODEL  # stated
    assert "2 of 14 rows skipped" in message  # no id; a repeated id (the blank row: no row)
    assert "row 3: no id" in message
    assert "row 8: id 'acme/llama-chat' repeats row 1" in message
    for said in (
        "row 4: created_at 'not a date' is not a date",
        "row 4: downloads '-5' is not a number",
        "row 10: params 'lots' is not a number",
        "row 10: size 'big' is not a size",
        "row 12: task 'dancing'",
        "row 12: model_type 'weird' is not a model type",
        "row 5: params '99999999999999999999' is too large",
    ):
        assert said in message, said
    assert "not understood" not in message  # "notes" is a description


def test_base_models_resolve_across_the_catalogs_of_a_source(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("id,library\nacme/vectors,sentence-transformers\n")
    second = tmp_path / "b.json"
    second.write_text(json.dumps([{"id": "acme/v2", "tags": "base_model:finetune:acme/vectors"}]))
    models = {m.id: m for m in CustomSource([first, second]).models()}
    assert models["acme/v2"].tasks == (SupportedTask.EMBEDDING,)
