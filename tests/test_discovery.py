"""Discovery loses nothing silently (issue 5): each test here failed on the code before it.

Custom catalogs are never capped, unknown sizes are counted when a filter leaves them
out, query words match words (not the inside of "ollama"), every Hub pipeline tag is a
task, decimal commas in ``;`` files, columns nobody maps are named, and a failed write
changes nothing.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from nbmodels import Catalog, ModelMetadata, Settings
from nbmodels.discover.sources import get_source, register_source
from nbmodels.discover.sources.base import InMemorySource, text_matches
from nbmodels.discover.sources.custom import CustomSource
from nbmodels.errors import (
    ConfigurationError,
    CustomCatalogWarning,
    FilterWarning,
    StorageError,
    UnknownSourceError,
)
from nbmodels.types import ModelSource, SupportedTask
from nbmodels.units import parse_count, parse_size


def _meta(**fields: object) -> ModelMetadata:
    return ModelMetadata(source=ModelSource.CUSTOM, **fields)  # type: ignore[arg-type]


def _catalog(tmp_path: Path, *sources: object) -> Catalog:
    return Catalog(Settings(home=tmp_path / "home"), sources=list(sources))  # type: ignore[arg-type]


def _team_csv(tmp_path: Path, rows: int = 1500) -> Path:
    path = tmp_path / "team.csv"
    lines = ["id,downloads,parameters"]
    lines += [f"team/m{i},{rows - i},{i}M" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_custom_catalog_is_never_capped(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, CustomSource(_team_csv(tmp_path)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and nothing to warn about: every row is there
        assert len(cat.search(source="custom", limit=None)) == 1500
        assert len(cat.search(source="custom", min_params="1200M", limit=None)) == 301
    assert len(cat.sql("SELECT * FROM models")) == 1500


class _Sized(InMemorySource):
    name = "sized"
    kind = ModelSource.CUSTOM

    def models(self) -> list[ModelMetadata]:
        return [
            _meta(id="a/small", size_bytes=1_000_000_000, parameters=500_000_000),
            _meta(id="a/big", size_bytes=9_000_000_000, parameters=4_000_000_000),
            _meta(id="a/unknown-1"),
            _meta(id="a/unknown-2"),
        ]

    def model_info(self, model_id: str) -> ModelMetadata:  # pragma: no cover - unused
        raise NotImplementedError


def test_fits_keeps_models_this_machine_can_hold_and_says_what_it_could_not_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses as dc

    import nbmodels.machine as machine

    real = machine.hardware()
    small = dc.replace(real, gpus=(), ram_available_bytes=4 * 10**9, ram_limit_bytes=None)
    monkeypatch.setattr(machine, "hardware", lambda **_: small)
    cat = _catalog(tmp_path, _Sized())
    with pytest.warns(FilterWarning, match="2 models with no known size were left out"):
        found = cat.search(fits=True, limit=None)
    assert found["id"].tolist() == ["a/small"]  # 1 GB fits 4 GB; 9 GB does not
    big = dc.replace(small, ram_available_bytes=64 * 10**9)
    monkeypatch.setattr(machine, "hardware", lambda **_: big)
    with pytest.warns(FilterWarning):
        assert sorted(cat.search(fits=True, limit=None)["id"]) == ["a/big", "a/small"]


def test_a_size_filter_says_how_many_rows_had_no_size(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, _Sized())
    with pytest.warns(FilterWarning, match="2 models with no known size were left out"):
        found = cat.search(max_size="4GB", limit=None)
    assert found["id"].tolist() == ["a/small"]
    assert any("no known size" in w for w in cat.warnings)
    with pytest.warns(FilterWarning, match="2 models with no known parameter count"):
        cat.search(min_params="1B", limit=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bound, nothing left out, nothing said
        assert len(cat.search(limit=None)) == 4


def test_a_query_word_does_not_match_inside_another_word() -> None:
    ollama_tagged = _meta(id="qwen2:7b", tags=("ollama", "qwen2"))
    described = _meta(id="x/y", description="Runs with Ollama and llama.cpp")
    tagged = _meta(id="phi3:mini", tags=("llama",))
    assert not text_matches(ollama_tagged, "llama")
    assert text_matches(described, "llama")  # "llama.cpp" starts a word
    assert text_matches(tagged, "llama")
    assert text_matches(_meta(id="meta/Llama-3"), "llama")


def test_exact_id_hits_come_first(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.add(
        [
            _meta(id="big/phi-tuned", downloads=10_000),
            _meta(id="ms/phi", downloads=5),
        ]
    )
    assert cat.search("phi", sort="downloads", online=False)["id"].tolist()[0] == "ms/phi"
    cat.add([_meta(id=f"team/phi-{i}", downloads=1000 + i) for i in range(30)])
    cat.add([_meta(id="x/PHI", downloads=1), _meta(id="y/phi_", name="phi_", downloads=7)])
    for limit in (1, 3, 10, None):  # a limit takes another path (two top-N queries)
        found = cat.search("phi", sort="downloads", online=False, limit=limit)["id"].tolist()
        everything = cat.search("phi", sort="downloads", online=False, limit=None)["id"].tolist()
        assert found == everything[: limit or len(everything)]
        assert found[:2] == ["ms/phi", "x/PHI"][: len(found)]
    assert (
        "y/phi_" not in cat.search("phi", online=False, limit=2)["id"].tolist()
    )  # _ is not a wildcard
    assert cat.search("phi_", online=False, limit=1)["id"].tolist() == ["y/phi_"]


@pytest.mark.parametrize("task", ["sentence-similarity", "feature-extraction", "embedding"])
def test_hub_pipeline_tags_are_tasks(tmp_path: Path, task: str) -> None:
    cat = _catalog(tmp_path)
    cat.add(
        [
            _meta(
                id="s/minilm", pipeline_tag="sentence-similarity", tasks=(SupportedTask.EMBEDDING,)
            ),
            _meta(id="g/gpt", pipeline_tag="text-generation"),
        ]
    )
    assert cat.search(task=task, online=False)["id"].tolist() == ["s/minilm"]


def test_a_pipeline_tag_with_no_seed_task_filters_by_the_tag(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.add(
        [
            _meta(id="v/vit", pipeline_tag="image-classification"),
            _meta(id="g/gpt", pipeline_tag="text-generation"),
        ]
    )
    assert cat.search(task="image-classification", online=False)["id"].tolist() == ["v/vit"]
    with pytest.raises(ConfigurationError, match="Unknown task 'flyng'"):
        cat.search(task="flyng", online=False)


def test_a_source_object_is_used_for_one_call_only(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    once = _Sized()
    with pytest.warns(FilterWarning):
        cat.search(source=[once], max_size="4GB")
    assert "sized" not in cat.source_names


def test_register_source_names_are_case_insensitive() -> None:
    @register_source("MyCat")
    class MyCat(_Sized):
        name = "mycat"

    assert isinstance(get_source("MyCat"), MyCat)
    assert isinstance(get_source("mycat"), MyCat)
    with pytest.raises(UnknownSourceError, match="Did you mean 'mycat'"):
        get_source("mycatt")


def test_decimal_commas() -> None:
    assert parse_count("1,5B", decimal_comma=True) == 1_500_000_000
    assert parse_size("4,2 GB", decimal_comma=True) == 4_200_000_000
    assert parse_count("7,000,000") == 7_000_000  # thousands, grouped by three
    for ambiguous in ("1,5B", "12,5"):
        with pytest.raises(ValueError, match="ambiguous"):
            parse_count(ambiguous)
    with pytest.raises(ValueError, match="ambiguous"):
        parse_size("4,2 GB")


def test_unmapped_columns_are_named_in_the_warning(tmp_path: Path) -> None:
    path = tmp_path / "team.csv"
    path.write_text("id,parameters,owner_team,gpu_hours\nteam/a,1B,nlp,12\n")
    with pytest.warns(CustomCatalogWarning, match="not understood.*gpu_hours, owner_team"):
        (meta,) = CustomSource(path).models()
    assert meta.extra["owner_team"] == "nlp"


def test_a_models_mapping_keyed_by_id(tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text(json.dumps({"models": {"team/a": {"parameters": "1B"}, "team/b": {}}}))
    models = CustomSource(path).models()
    assert [(m.id, m.parameters) for m in models] == [("team/a", 10**9), ("team/b", None)]


def test_a_bad_home_is_a_storage_error_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder")
    cat = Catalog(Settings(home=home), sources=[])
    with pytest.raises(StorageError, match="is a file, not a folder"):
        cat.add([_meta(id="a/b")])
    assert len(cat) == 0, "memory and disk agree: the failed write changed nothing"


# -- Ollama: a partial API, a slow server, a missing library -----------------------------------
def test_a_model_that_api_show_does_not_know_is_kept_from_api_tags(
    ollama_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ollama

    from nbmodels.demo.ollama import server as ollama_server
    from nbmodels.discover.sources.ollama import OllamaSource
    from nbmodels.errors import SourceWarning

    routes = {k: v for k, v in ollama_server._ROUTES.items() if k != "/api/show"}
    monkeypatch.setattr(ollama_server, "_ROUTES", routes)  # an older or partial Ollama API
    client = ollama.Client(host=ollama_host)
    listed = {m.model for m in client.list().models}
    client._client.close()
    src = OllamaSource(host=ollama_host)
    with pytest.warns(SourceWarning, match="/api/show answered 404"):
        local = src.local_models()
    assert {m.id for m in local} == listed and listed
    chat = next(m for m in local if m.id == "tinyllama-chat:latest")
    assert chat.size_bytes and chat.parameters and chat.is_downloaded
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src.local_models()  # said once, not at every call


def test_a_slow_ollama_is_a_timeout_not_not_running() -> None:
    import socket

    from nbmodels.discover.sources.ollama import OllamaSource
    from nbmodels.errors import OllamaNotRunningError, SourceTimeoutError

    with socket.socket() as listening:  # accepts connections, never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        host = f"http://127.0.0.1:{listening.getsockname()[1]}"
        src = OllamaSource(Settings(timeout=0.5), host=host)
        with pytest.raises(SourceTimeoutError, match=r"did not answer within 0\.5 s") as caught:
            src.local_models()
        assert not isinstance(caught.value, OllamaNotRunningError)
        assert isinstance(caught.value, TimeoutError)


def test_a_library_snapshot_that_fails_to_load_is_a_warning(
    ollama_host: str, tmp_path: Path
) -> None:
    from nbmodels.discover.sources.ollama import OllamaSource
    from nbmodels.errors import SourceWarning

    src = OllamaSource(host=ollama_host, library=tmp_path / "missing.json")
    with pytest.warns(SourceWarning, match="library is not shown.*missing.json"):
        found = src.search(limit=None)
    assert found and all(m.is_downloaded for m in found)  # the local models are still there


# -- the Hub: refused access says why --------------------------------------------------------
def _hub_answer(status: int, headers: dict[str, str]) -> Exception:
    """The exception huggingface_hub itself raises for such an answer."""
    import httpx2
    from huggingface_hub.utils import hf_raise_for_status

    request = httpx2.Request("GET", "http://hub.test/api/models/meta/llama")
    try:
        hf_raise_for_status(httpx2.Response(status, headers=headers, request=request))
    except Exception as exc:  # what the library raises is the point
        return exc
    raise AssertionError("no error raised")


@pytest.mark.parametrize(
    ("status", "headers", "token", "reason", "says"),
    [
        (403, {"X-Error-Code": "GatedRepo"}, None, "gated", "accept its licence"),
        (401, {}, None, "no-token", "needs a token"),
        (403, {}, "hf_secret123", "bad-token", "refused the token"),
    ],
)
def test_refused_access_is_an_auth_error_that_says_which(
    status: int, headers: dict[str, str], token: str | None, reason: str, says: str
) -> None:
    from nbmodels.discover.sources.huggingface import hub_error
    from nbmodels.errors import AccessDeniedError

    err = hub_error(
        _hub_answer(status, headers), endpoint="http://hub.test", repo_id="meta/llama", token=token
    )
    assert isinstance(err, AccessDeniedError) and isinstance(err, PermissionError)
    assert not isinstance(err, ConnectionError)
    assert err.reason == reason and err.model_id == "meta/llama"
    assert says in str(err) and "HF_TOKEN" in str(err)
    assert "hf_secret123" not in str(err) + repr(err)


# -- Hub records: sizes from safetensors, chat templates as files -------------------------------
def test_hub_rows_have_sizes_from_their_safetensors_parameters(
    hub_server: object, tmp_path: Path
) -> None:
    from nbmodels.discover.sources.huggingface import HuggingFaceSource
    from nbmodels.weights import bytes_from_parameters

    url = hub_server.url  # type: ignore[attr-defined]
    settings = Settings(home=tmp_path / "home", hf_endpoint=url, hf_cache=tmp_path / "hf")
    found = HuggingFaceSource(settings).search("qwen", limit=None)
    assert found
    sized = [m for m in found if m.size_bytes]
    assert len(sized) >= 0.8 * len(found), "most listed Hub models carry safetensors counts"
    # the size is the weights' exact size: BF16 parameters x 2 bytes
    assert bytes_from_parameters({"BF16": 8_537_683_968, "F32": None}) == 2 * 8_537_683_968
    assert bytes_from_parameters({"miku": 5}) is None  # a dtype nobody can size: unknown

    cat = Catalog(settings, sources=[HuggingFaceSource(settings)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small = cat.search("qwen", source="huggingface", max_size="4GB", limit=None)
    assert len(small) > 0 and set(small["source"]) == {"huggingface"}
    assert all(s <= 4 * 10**9 for s in small["size_bytes"])
    unknown = len(found) - len(sized)
    if unknown:  # the rows left out for an unknown size are counted, not dropped in silence
        said = [str(w.message) for w in caught if issubclass(w.category, FilterWarning)]
        assert any(f"{unknown} model" in text and "no known size" in text for text in said)


def test_a_chat_template_file_is_a_chat_signal() -> None:
    from huggingface_hub.hf_api import ModelInfo

    from nbmodels.discover.sources.huggingface import to_metadata

    base = {"id": "team/plain", "tags": ["transformers"], "pipeline_tag": "text-generation"}
    plain = to_metadata(ModelInfo(**base, siblings=[{"rfilename": "config.json"}]))
    templated = to_metadata(
        ModelInfo(
            **base, siblings=[{"rfilename": "config.json"}, {"rfilename": "chat_template.jinja"}]
        )
    )
    assert plain.extra.get("has_chat_template") is None
    assert templated.extra["has_chat_template"] is True
    assert SupportedTask.CHAT in templated.tasks and SupportedTask.CHAT not in plain.tasks


def test_the_demo_hub_serves_a_chat_template_file_as_a_file(hub_server: object) -> None:
    from huggingface_hub import HfApi

    from nbmodels.demo.hub.tinymodels import CHAT

    info = HfApi(endpoint=hub_server.url, token=False).model_info(CHAT)  # type: ignore[attr-defined]
    assert "chat_template.jinja" in {s.rfilename for s in info.siblings or ()}
    assert "chat_template" not in (info.config or {}).get("tokenizer_config", {})
    assert "conversational" in (info.tags or [])


# -- model_info says what each source answered --------------------------------------------------
def _dead_host() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class _Team(InMemorySource):
    name = "team"
    kind = ModelSource.CUSTOM

    def models(self) -> list[ModelMetadata]:
        return [_meta(id="team/a")]

    def model_info(self, model_id: str) -> ModelMetadata:
        from nbmodels.errors import ModelNotFoundError

        for meta in self.models():
            if meta.id == model_id:
                return meta
        raise ModelNotFoundError(f"No model {model_id!r} in team.")


def _hub_and_dead_ollama(hub_server: object, tmp_path: Path) -> Catalog:
    from nbmodels.discover.sources.huggingface import HuggingFaceSource
    from nbmodels.discover.sources.ollama import OllamaSource

    settings = Settings(
        home=tmp_path / "home",
        hf_endpoint=hub_server.url,  # type: ignore[attr-defined]
        hf_cache=tmp_path / "hf",
    )
    team = _Team()
    return Catalog(
        settings,
        sources=[HuggingFaceSource(settings), OllamaSource(settings, host=_dead_host()), team],
    )


def test_model_info_says_what_each_source_answered(hub_server: object, tmp_path: Path) -> None:
    from nbmodels.errors import InvalidModelIdError, ModelNotFoundError, SourceWarning

    cat = _hub_and_dead_ollama(hub_server, tmp_path)
    with pytest.warns(SourceWarning), pytest.raises(ModelNotFoundError) as missing:
        cat.model_info("nobody/nothing-here")
    text = str(missing.value)
    assert "huggingface: no such model" in text and "team: no such model" in text
    assert "ollama: did not answer" in text
    assert "huggingface" not in text.split("ollama")[1].split(";")[0], text

    with pytest.raises(ModelNotFoundError) as invalid:
        cat.model_info("not a repo!!", source=["huggingface", "team"])  # type: ignore[arg-type]
    assert "huggingface: not a valid id there" in str(invalid.value)
    with pytest.raises(InvalidModelIdError, match="not a valid id"):
        cat.model_info("not a repo!!", source="huggingface")


def test_model_info_takes_a_revision(hub_server: object, tmp_path: Path) -> None:
    from nbmodels.errors import ModelNotFoundError

    cat = _hub_and_dead_ollama(hub_server, tmp_path)
    repo = "nbmodels-test/revisions"
    main = cat.model_info(repo, source="huggingface")
    dev = cat.model_info(repo, source="huggingface", revision="dev")
    assert dev.version and main.version and dev.version != main.version
    assert cat.get(f"huggingface:{repo}").version == main.version  # a revision is not kept
    with pytest.raises(ModelNotFoundError, match="nope"):
        cat.model_info(repo, source="huggingface", revision="nope")
    with pytest.raises(ConfigurationError, match="revision"):
        cat.model_info("team/a", source="team", revision="dev")


def test_a_mirror_that_answers_only_revision_main(
    hub_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmodels.demo.hub import server as hub_module

    original = hub_module._Handler._model_api

    def only_revisions(self: object, rest: list[str], params: object, *, head: bool) -> None:
        if len(rest) == 2:  # /api/models/{org}/{name}: not served by this mirror
            raise hub_module._HubError(404, None, "only /revision/{rev} here")
        return original(self, rest, params, head=head)  # type: ignore[arg-type]

    monkeypatch.setattr(hub_module._Handler, "_model_api", only_revisions)
    from nbmodels.demo.hub.tinymodels import CHAT
    from nbmodels.discover.sources.huggingface import HuggingFaceSource

    settings = Settings(
        home=tmp_path / "home",
        hf_endpoint=hub_server.url,  # type: ignore[attr-defined]
        hf_cache=tmp_path / "hf",
    )
    meta = HuggingFaceSource(settings).model_info(CHAT)
    assert meta.id == CHAT and meta.files


# -- a large team catalog is read column by column -----------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "json", "yaml", "parquet"])
def test_the_column_wise_table_is_the_models_row_for_row(fmt: str) -> None:
    from nbmodels.discover.frame import to_arrow

    data = Path(__file__).parent / "data" / "custom" / f"team.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CustomCatalogWarning)
        src = CustomSource(data)
        table = src.table().drop_columns(["fetched_at"])
        rows = to_arrow(src.models()).drop_columns(["fetched_at"])
    assert table.num_rows == len(src.models()) > 0
    assert table.to_pylist() == rows.to_pylist()


def test_the_catalog_takes_a_team_catalog_whole_once(tmp_path: Path) -> None:
    calls: list[str] = []

    class Counting(CustomSource):
        def table(self, **kwargs: object):  # type: ignore[no-untyped-def,override]
            calls.append("table")
            return super().table(**kwargs)  # type: ignore[arg-type]

        def search(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
            calls.append("search")
            return super().search(*args, **kwargs)  # type: ignore[arg-type]

    cat = _catalog(tmp_path, Counting(_team_csv(tmp_path, rows=3000)))
    assert len(cat.search(source="custom", limit=None)) == 3000
    assert cat.search("m12", source="custom", limit=None)["id"].tolist()[0] == "team/m12"
    assert len(cat.search(source="custom", min_params="2500M", limit=None)) == 501
    assert calls == ["table"], "one table, no per-row search"


# -- warnings read as one line -------------------------------------------------------------------
def test_nbmodels_warnings_are_one_readable_line_and_others_keep_their_format() -> None:
    import subprocess
    import sys

    code = (
        "import warnings, nbmodels\n"
        "from nbmodels.errors import SourceWarning\n"
        "warnings.warn('ollama did not answer: start it.', SourceWarning)\n"
        "warnings.warn('plain', UserWarning)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stderr.splitlines()
    assert lines[0] == "SourceWarning: ollama did not answer: start it."
    assert "nbmodels" not in lines[0].split(":")[0]
    assert any("UserWarning: plain" in line and "<string>" in line for line in lines[1:])


def test_model_info_shows_no_progress_bar_for_the_card(
    hub_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub.utils import tqdm as hf_tqdm

    from nbmodels.demo.hub.tinymodels import CHAT
    from nbmodels.discover.sources.huggingface import HuggingFaceSource

    shown: list[object] = []  # bars that draw (in a notebook: a widget in the cell)
    plain_init = hf_tqdm.__init__

    def spy(self: hf_tqdm, *args: object, **kwargs: object) -> None:
        # disable=None draws wherever the output is a notebook or a terminal
        if kwargs.get("disable") is not True:
            shown.append(kwargs.get("desc"))
        plain_init(self, *args, **kwargs)

    monkeypatch.setattr(hf_tqdm, "__init__", spy)
    import importlib

    tqdm_module = importlib.import_module("huggingface_hub.utils.tqdm")  # on, for this test

    monkeypatch.setattr(tqdm_module, "are_progress_bars_disabled", lambda name=None: False)
    settings = Settings(
        home=tmp_path / "home",
        hf_endpoint=hub_server.url,  # type: ignore[attr-defined]
        hf_cache=tmp_path / "hf",
    )
    meta = HuggingFaceSource(settings).model_info(CHAT)
    assert meta.description  # the card was read
    assert shown == []


def test_the_demo_says_where_it_runs_without_markup() -> None:
    from nbmodels.demo import DemoEnvironment

    env = DemoEnvironment(
        hub_url="http://127.0.0.1:1", is_demo=True, settings=Settings(), ollama_url=None
    )
    assert "`" not in repr(env) and "`" not in env._repr_html_()
    assert "nbmodels demo command" in env.description
