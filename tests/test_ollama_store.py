"""Ollama's on-disk store: real library manifests laid out with stand-in blobs, read back."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from nbmodels.demo.ollama.facts import add_manifest, manifest_facts
from nbmodels.errors import InvalidModelIdError, ModelNotFoundError
from nbmodels.storage.ollama_store import (
    DEFAULT_HOST,
    OllamaStore,
    blob_name,
    format_model_name,
    format_parameter_size,
    parameter_count_from_tag,
    parse_model_name,
    parse_parameter_size,
    sibling_parameter_count,
)

REAL = [
    "llama3:8b",
    "nomic-embed-text:latest",
    "llava:7b",
    "all-minilm:22m",
    "qwen2.5:0.5b",
    "alfred:40b",
]


@pytest.fixture
def library(shared_data: Path) -> dict:
    return json.loads((shared_data / "ollama-library.json").read_text())["manifests"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llama3", (DEFAULT_HOST, "library", "llama3", "latest")),
        ("llama3:8b", (DEFAULT_HOST, "library", "llama3", "8b")),
        ("jmorgan/mixtral:q4", (DEFAULT_HOST, "jmorgan", "mixtral", "q4")),
        ("example.com:5000/ns/model:v1.2", ("example.com:5000", "ns", "model", "v1.2")),
        (" qwen2.5:0.5b ", (DEFAULT_HOST, "library", "qwen2.5", "0.5b")),
    ],
)
def test_parse_model_name(name: str, expected: tuple[str, str, str, str]) -> None:
    assert parse_model_name(name) == expected


@pytest.mark.parametrize(
    "bad", ["", "a b", "x/y/z/w:t", "../etc:passwd", "model:", ":tag", "m:t:u", "a//b"]
)
def test_parse_model_name_rejects_garbage(bad: str) -> None:
    with pytest.raises(InvalidModelIdError, match="not an Ollama model name"):
        parse_model_name(bad)


def test_format_model_name_is_the_shortest() -> None:
    assert format_model_name(DEFAULT_HOST, "library", "llama3", "8b") == "llama3:8b"
    assert format_model_name(DEFAULT_HOST, "me", "m", "latest") == "me/m:latest"
    assert format_model_name("h:1", "ns", "m", "t") == "h:1/ns/m:t"


def test_real_manifests_round_trip(tmp_path: Path, library: dict) -> None:
    store = OllamaStore(tmp_path / "models")
    for name in REAL:
        add_manifest(store, name, library[name])
    listed = store.models()
    assert [m.name for m in listed] == sorted(REAL)
    for name in REAL:
        model = store.get(name)
        manifest = library[name]
        assert model.manifest == manifest
        assert model.size == sum(layer["size"] for layer in manifest["layers"])
        assert model.size > 10_000_000  # real sizes, though the files on disk are tiny
        raw = (
            (tmp_path / "models/manifests/registry.ollama.ai/library")
            .joinpath(*name.split(":"))
            .read_bytes()
        )
        assert model.digest == hashlib.sha256(raw).hexdigest()
        assert model.model_blob is not None and model.model_blob.stat().st_size < 1000
        for layer in [*manifest["layers"], manifest["config"]]:
            assert store.has_blob(layer["digest"])
    assert store.get("llava:7b").has_projector
    assert not store.get("llama3:8b").has_projector
    assert store.get("llama3:8b").template  # stand-in template text is readable
    assert store.get("llama3:8b").params == {}


def test_add_writes_content_addressed_blobs_and_text_helpers(tmp_path: Path) -> None:
    store = OllamaStore(tmp_path)
    model = store.add(
        "me/tiny:v1",
        {
            "model": b"GGUF....",
            "template": b"{{ .Prompt }}",
            "params": b'{"stop": ["</s>"]}',
            "license": b"MIT License\n\nCopyright",
            "system": b"Be brief.",
        },
        config={"model_family": "llama"},
    )
    assert model.name == "me/tiny:v1" and model.namespace == "me" and model.tag == "v1"
    assert model.template == "{{ .Prompt }}"
    assert model.params == {"stop": ["</s>"]}
    assert model.license.startswith("MIT License")
    assert model.system == "Be brief."
    assert model.config["model_family"] == "llama"
    blob = model.model_blob
    assert blob is not None and blob.name == "sha256-" + hashlib.sha256(b"GGUF....").hexdigest()
    assert model.size == sum(
        len(b)
        for b in (
            b"GGUF....",
            b"{{ .Prompt }}",
            b'{"stop": ["</s>"]}',
            b"MIT License\n\nCopyright",
            b"Be brief.",
        )
    )
    assert store.get("me/tiny:v1") == model
    assert "me/tiny:v1" in store and "me/tiny:v2" not in store


def test_junk_files_are_ignored(tmp_path: Path, library: dict) -> None:
    store = OllamaStore(tmp_path)
    add_manifest(store, "llama3:8b", library["llama3:8b"])
    lib = tmp_path / "manifests" / DEFAULT_HOST / "library"
    (lib / "llama3" / "broken").write_text("{not json")
    (lib / "llama3" / "list").write_text("[1, 2]")
    (lib / "llama3" / "nolayers").write_text('{"schemaVersion": 2}')
    (lib / "llama3" / ".DS_Store").write_bytes(b"\0\1")
    (lib / "stray-file").write_text("x")
    (tmp_path / "manifests" / "README").write_text("hello")
    (lib / "deep" / "er" / "still").mkdir(parents=True)
    (tmp_path / "blobs" / "garbage.txt").write_text("x")
    assert [m.name for m in store.models()] == ["llama3:8b"]
    with pytest.raises(ModelNotFoundError, match="unreadable manifest"):
        store.get("llama3:broken")


def test_get_unknown_and_case_insensitive(tmp_path: Path, library: dict) -> None:
    store = OllamaStore(tmp_path)
    with pytest.raises(ModelNotFoundError, match="model 'nope:latest' not found"):
        store.get("nope")
    assert store.models() == []  # no manifests folder yet
    add_manifest(store, "llama3:8b", library["llama3:8b"])
    assert store.get("Llama3:8B").name == "llama3:8b"


def test_copy_and_delete_prune_unused_blobs(tmp_path: Path, library: dict) -> None:
    store = OllamaStore(tmp_path)
    add_manifest(store, "llama3:8b", library["llama3:8b"])
    add_manifest(store, "all-minilm:22m", library["all-minilm:22m"])
    copy = store.copy("llama3:8b", "mine/llama:fav")
    assert copy.digest == store.get("llama3:8b").digest
    store.delete("llama3:8b")
    assert "llama3:8b" not in store
    assert store.get("mine/llama:fav").model_blob.is_file()  # still used by the copy
    store.delete("mine/llama:fav")
    assert [m.name for m in store.models()] == ["all-minilm:22m"]
    left = {p.name for p in (tmp_path / "blobs").iterdir()}
    wanted = {blob_name(x["digest"]) for x in library["all-minilm:22m"]["layers"]}
    wanted.add(blob_name(library["all-minilm:22m"]["config"]["digest"]))
    assert left == wanted
    assert not (tmp_path / "manifests" / DEFAULT_HOST / "library" / "llama3").exists()
    with pytest.raises(ModelNotFoundError):
        store.delete("llama3:8b")


def test_writes_are_atomic(tmp_path: Path, library: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    store = OllamaStore(tmp_path)
    add_manifest(store, "llama3:8b", library["llama3:8b"])
    before = store.get("llama3:8b").manifest_path.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write_manifest("llama3:8b", {"layers": []})
    monkeypatch.undo()
    assert store.get("llama3:8b").manifest_path.read_bytes() == before
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_bad_digest_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelIdError, match="sha256 digest"):
        OllamaStore(tmp_path).blob_path("sha256:../../etc/passwd")


@pytest.mark.parametrize(
    ("tag", "count"),
    [("8b", 8 * 10**9), ("0.5b", 5 * 10**8), ("22m", 22 * 10**6), ("7b-instruct", 7 * 10**9),
     ("latest", None), ("8x7b", None), ("e2b", None)],
)  # fmt: skip
def test_parameter_count_from_tag(tag: str, count: int | None) -> None:
    assert parameter_count_from_tag(tag) == count


def test_parameter_size_round_trip() -> None:
    assert format_parameter_size(8_030_261_248) == "8.0B"
    assert format_parameter_size(22_565_376) == "22.6M"
    assert format_parameter_size(137_000_000) == "137M"
    assert format_parameter_size(None) == ""
    assert parse_parameter_size("8.0B") == 8_000_000_000
    assert parse_parameter_size("137M") == 137_000_000
    assert parse_parameter_size("lots") is None


def test_manifest_facts_of_real_manifests(library: dict) -> None:
    llama = manifest_facts("llama3", "8b", library["llama3:8b"])
    assert (llama.family, llama.parameter_count, llama.quantization_level) == (
        "llama", 8 * 10**9, "Q4_K_M"
    )  # fmt: skip
    assert llama.capabilities == ("completion",)
    llava = manifest_facts("llava", "7b", library["llava:7b"])
    assert llava.capabilities == ("completion", "vision") and llava.families == ["llama", "clip"]
    minilm = manifest_facts("all-minilm", "22m", library["all-minilm:22m"])
    assert minilm.capabilities == ("embedding",) and minilm.quantization_level == "F16"
    assert minilm.details()["parameter_size"] == "22.0M"
    tools = manifest_facts("x", "1b", {"layers": []}, template="{{ if .Tools }}{{ .Suffix }}")
    assert tools.capabilities == ("completion", "tools", "insert")
    assert manifest_facts("qwen2.5", "0.5b", library["qwen2.5:0.5b"]).family == "qwen2"


def test_sibling_parameter_count(library: dict) -> None:
    assert sibling_parameter_count(library, "llama3", "latest") == 8 * 10**9
    assert sibling_parameter_count(library, "llama3", "70b") == 70 * 10**9
    assert sibling_parameter_count(library, "no-such", "latest") is None
