"""The ``ollama`` source against the local Ollama server (real ``ollama`` client)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ollama
import pytest

from nbmodels.demo.ollama import OllamaServer
from nbmodels.demo.ollama.facts import add_manifest
from nbmodels.discover.sources import get_source
from nbmodels.discover.sources.ollama import OllamaSource, license_id
from nbmodels.errors import (
    ConfigurationError,
    InvalidModelIdError,
    ModelNotFoundError,
    OllamaNotRunningError,
    SourceUnavailableError,
    SourceWarning,
)
from nbmodels.storage.ollama_store import OllamaStore
from nbmodels.types import ModelSource, ModelType, SupportedTask

T = SupportedTask


@pytest.fixture
def library_path(shared_data: Path) -> Path:
    return shared_data / "ollama-library.json"


def test_not_running(library_path: Path) -> None:
    src = OllamaSource()  # OLLAMA_HOST points at a dead port (isolated_env)
    host = os.environ["OLLAMA_HOST"]
    assert src.host == host
    assert src.is_running() is False and src.is_available() is False
    with pytest.raises(OllamaNotRunningError) as info:
        src.require_running()
    assert str(info.value) == (
        f"Ollama is not running at {host}: start it with `ollama serve` or set OLLAMA_HOST."
    )
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(OllamaNotRunningError, match="ollama serve"):
        src.local_models()
    with pytest.raises(OllamaNotRunningError, match="NBMODELS_OLLAMA_LIBRARY"):
        src.search("llama")
    with pytest.raises(SourceUnavailableError, match="NBMODELS_OLLAMA_LIBRARY"):
        src.available_models()
    with pytest.raises(OllamaNotRunningError):
        src.model_info("llama3:8b")


def test_library_snapshot_without_a_server(
    library_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBMODELS_OLLAMA_LIBRARY", str(library_path))
    src = get_source("ollama")
    assert isinstance(src, OllamaSource) and not src.is_running()
    assert len(src.available_models()) == 507
    found = src.search("llama3")  # the library alone answers while the server is down
    assert found and all("llama3" in m.id for m in found)
    assert src.model_info("llama3:8b").parameters == 8_000_000_000


def test_local_models(ollama_host: str, tiny_models) -> None:
    from nbmodels.weights import read_safetensors

    folder = tiny_models["nbmodels-demo/tiny-llama-chat"]
    src = OllamaSource()
    assert src.is_running() and src.version()
    models = {m.id: m for m in src.local_models()}
    assert sorted(models) == [
        "tiny-embed:latest",
        "tiny-tools:latest",
        "tiny-vision:latest",
        "tinyllama-chat:latest",
    ]
    chat = models["tinyllama-chat:latest"]
    assert chat.source is ModelSource.OLLAMA and chat.is_downloaded
    # the demo blobs are the tiny Llama as a real GGUF: its header's count and window
    assert chat.parameters == read_safetensors(folder / "model.safetensors").total
    assert chat.license == "apache-2.0"
    assert chat.architectures == ("llama",)
    assert (
        chat.extra["context_length"]
        == json.loads((folder / "config.json").read_text())["max_position_embeddings"]
    )
    assert T.TEXT_GENERATION in chat.tasks and chat.model_type is ModelType.INTERFACE_MODEL
    embed = models["tiny-embed:latest"]
    assert embed.tasks == (T.EMBEDDING,) and embed.model_type is ModelType.EMBEDDING_MODEL
    vision = models["tiny-vision:latest"]
    assert T.MULTIMODAL_REASONING in vision.tasks
    assert vision.model_type is ModelType.MULTIMODAL_MODEL and vision.license == "mit"
    assert "tools" in models["tiny-tools:latest"].extra["capabilities"]


def test_parameters_from_details_when_the_blob_is_no_gguf(
    ollama_host: str, ollama_server: OllamaServer, library_path: Path
) -> None:
    manifest = json.loads(library_path.read_text())["manifests"]["llama3:8b"]
    add_manifest(OllamaStore(ollama_server.store.root), "llama3:8b", manifest)  # stand-in blobs
    meta = OllamaSource().model_info("llama3:8b")
    assert meta.is_downloaded and meta.parameters == 8_000_000_000
    assert meta.size_bytes == sum(layer["size"] for layer in manifest["layers"])


def test_available_models_from_the_server(ollama_host: str, library_path: Path) -> None:
    src = OllamaSource()
    models = src.available_models()
    manifests = json.loads(library_path.read_text())["manifests"]
    assert len(models) == len(manifests) == 507
    assert len({m.id for m in models}) == 507
    by_id = {m.id: m for m in models}
    llama = by_id["llama3:8b"]
    assert llama.size_bytes == sum(x["size"] for x in manifests["llama3:8b"]["layers"])
    assert "completion" in llama.tags and llama.version == "8b" and not llama.is_downloaded
    assert "application/vnd.ollama.image.model" in llama.extra["media_types"]
    assert by_id["llama3:latest"].parameters == 8_000_000_000  # same weights as llama3:8b
    llava = by_id["llava:7b"]
    assert "vision" in llava.extra["capabilities"] and T.MULTIMODAL_REASONING in llava.tasks
    for name in ("nomic-embed-text:latest", "all-minilm:22m", "mxbai-embed-large:335m"):
        assert by_id[name].tasks == (T.EMBEDDING,), name
        assert by_id[name].model_type is ModelType.EMBEDDING_MODEL
    again = src.available_models()
    assert again == models and again is not models  # a new list of the kept records
    assert src.library_manifests() is src.library_manifests()


def test_library_location_setting(
    ollama_server: OllamaServer, library_path: Path, tmp_path: Path
) -> None:
    by_url = OllamaSource(library=f"{ollama_server.url}/api/library")
    assert len(by_url.available_models()) == 507
    copy = tmp_path / "snapshot.json"
    copy.write_bytes(library_path.read_bytes())
    by_path = OllamaSource(library=copy)
    assert len(by_path.available_models()) == 507
    copy.unlink()  # cached on the instance
    assert len(by_path.available_models()) == 507
    with pytest.raises(SourceUnavailableError, match="Cannot read the Ollama library snapshot"):
        OllamaSource(library=tmp_path / "missing.json").available_models()
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": []}')
    with pytest.raises(ConfigurationError, match="no 'manifests'"):
        OllamaSource(library=bad).available_models()


def test_server_without_library(tmp_path: Path) -> None:
    with OllamaServer(tmp_path) as bare:
        src = OllamaSource(host=bare.url)
        with pytest.raises(SourceUnavailableError, match="/api/library did not answer"):
            src.available_models()
        with pytest.warns(SourceWarning, match="library is not shown"):
            assert src.search() == []  # the server answers; it has no models and no library


def test_search(ollama_host: str) -> None:
    src = OllamaSource()
    found = src.search("llama", limit=None)
    ids = [m.id for m in found]
    # downloaded models first: all four demo models are the tiny Llama (its family)
    assert set(ids[:4]) == {
        "tinyllama-chat:latest",
        "tiny-vision:latest",
        "tiny-embed:latest",
        "tiny-tools:latest",
    }
    assert "llama3:8b" in ids and "codellama:7b" in ids
    assert all("llama" in m.id or "llama" in m.tags for m in found)
    assert len(src.search("llama", limit=5)) == 5
    by_size = src.search("llama3", sort="size", limit=None)
    sizes = [m.size_bytes for m in by_size]
    assert sizes == sorted(sizes, reverse=True)
    by_name = [m.name for m in src.search("qwen", sort="name", limit=None)]
    assert by_name == sorted(by_name, key=str.lower)
    embeddings = src.search(task="embedding", limit=None)
    assert {"tiny-embed:latest", "nomic-embed-text:latest"} <= {m.id for m in embeddings}
    assert all(T.EMBEDDING in m.tasks for m in embeddings)
    vision = {m.id for m in src.search(task=T.MULTIMODAL_REASONING, limit=None)}
    assert {"tiny-vision:latest", "llava:7b", "moondream:latest"} <= vision
    assert src.search("no-such-model-anywhere") == []


def test_pulled_model_replaces_its_library_entry(ollama_host: str) -> None:
    src = OllamaSource()
    before = src.search("all-minilm:22m")
    assert [(m.id, m.is_downloaded) for m in before] == [("all-minilm:22m", False)]
    ollama.Client(host=ollama_host).pull("all-minilm:22m")
    after = src.search("all-minilm:22m")
    assert [(m.id, m.is_downloaded) for m in after] == [("all-minilm:22m", True)]
    assert after[0].size_bytes == before[0].size_bytes
    assert after[0].tasks == (T.EMBEDDING,)


def test_model_info(ollama_host: str) -> None:
    src = OllamaSource()
    local = src.model_info("tinyllama-chat")  # tag defaults to latest
    assert local.id == "tinyllama-chat:latest" and local.is_downloaded
    remote = src.model_info("llama3:8b")
    assert remote.id == "llama3:8b" and not remote.is_downloaded
    assert remote.download_url == "https://ollama.com/library/llama3:8b"
    with pytest.raises(ModelNotFoundError, match="llama3:8b"):  # suggests the real tags
        src.model_info("llama3:9b")
    with pytest.raises(ModelNotFoundError):
        src.model_info("nope")
    with pytest.raises(InvalidModelIdError):
        src.model_info("not a name")


def test_popular_and_by_task(ollama_host: str) -> None:
    src = OllamaSource()
    popular = src.popular(limit=10)
    assert len(popular) == 10
    assert [m.is_downloaded for m in popular[:4]] == [True] * 4
    assert all(m.version == "latest" for m in popular)
    assert src.trending(limit=10) == popular
    assert {m.id for m in src.by_task("embedding", limit=3)} <= {
        m.id for m in src.search(task="embedding", limit=None)
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apache License\nVersion 2.0, January 2004", "apache-2.0"),
        ("MIT License\n\nCopyright (c) 2024", "mit"),
        ("META LLAMA 3 COMMUNITY LICENSE AGREEMENT\nMeta Llama 3 Version Release", "llama3"),
        ("Gemma Terms of Use\n\nLast modified: February 21, 2024", "gemma"),
        ("Some bespoke terms", None),
        (None, None),
    ],
)
def test_license_id(text: str | None, expected: str | None) -> None:
    assert license_id(text) == expected
