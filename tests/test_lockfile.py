"""nbmodels.lock / nbmodels.sync: pin a notebook's models, fetch exactly those bytes again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

import nbmodels
from nbmodels import Settings
from nbmodels.errors import LockfileError

CHAT = "nbmodels-demo/tiny-llama-chat"


def _home(tmp_path: Path, name: str, hub_url: str) -> Settings:
    return Settings(home=tmp_path / name / "home", hf_endpoint=hub_url, hf_cache=tmp_path / name / "hf",
                    ollama_models=tmp_path / name / "ollama")  # fmt: skip


def _snapshot_hashes(settings: Settings, commit: str) -> dict[str, str]:
    folder = Path(settings.hf_cache) / f"models--{CHAT.replace('/', '--')}" / "snapshots" / commit
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_lock_in_one_home_sync_into_a_fresh_one(hub_server, tmp_path: Path) -> None:
    import dataclasses

    a = dataclasses.replace(_home(tmp_path, "a", hub_server.url), hf_token="hf_lockfileSECRET123")
    nbmodels.update_configuration(CHAT, settings=a, temperature=0.0, max_tokens=12)
    locked = nbmodels.lock([CHAT], tmp_path / "nbmodels.lock.yaml", settings=a)
    model = locked.models[0]
    assert (model.source, model.repository, len(model.commit)) == ("huggingface", CHAT, 40)
    assert {f.path for f in model.files} >= {"config.json", "model.safetensors", "tokenizer.json"}
    assert all(len(f.sha256) == 64 and f.size > 0 for f in model.files)
    assert (
        locked.versions["transformers"] and locked.versions["torch"] and locked.versions["nbmodels"]
    )
    text = (tmp_path / "nbmodels.lock.yaml").read_text()
    assert yaml.safe_load(text)["models"][0]["configuration"]["temperature"] == 0.0
    assert "hf_lockfileSECRET123" not in text and "hf_token" not in text  # no secret in it

    b = _home(tmp_path, "b", hub_server.url)
    report = nbmodels.sync(tmp_path / "nbmodels.lock.yaml", settings=b)
    assert report.models == {CHAT: "fetched"} and report.files_checked == len(model.files)
    assert _snapshot_hashes(b, model.commit) == _snapshot_hashes(a, model.commit)
    assert _snapshot_hashes(b, model.commit) == {f.path: f.sha256 for f in model.files}
    assert nbmodels.get_configuration(CHAT, settings=b).max_tokens == 12  # restored
    # identical greedy output from the two homes
    out_a = nbmodels.load(CHAT, settings=a).generate("Once upon", temperature=0, max_tokens=12).text
    out_b = nbmodels.load(CHAT, settings=b).generate("Once upon", temperature=0, max_tokens=12).text
    assert out_a == out_b and out_a
    # a second sync finds everything in the cache, checked again by hash
    assert nbmodels.sync(tmp_path / "nbmodels.lock.yaml", settings=b).models == {CHAT: "cached"}


def test_sync_refuses_when_the_pinned_commit_is_gone(hub_server, tmp_path: Path) -> None:
    a = _home(tmp_path, "a", hub_server.url)
    path = tmp_path / "nbmodels.lock.yaml"
    nbmodels.lock([CHAT], path, settings=a)
    data = yaml.safe_load(path.read_text())
    data["models"][0]["commit"] = "0" * 40  # history rewritten upstream
    path.write_text(yaml.safe_dump(data))
    b = _home(tmp_path, "b", hub_server.url)
    with pytest.raises(LockfileError, match=r"gone upstream.*lock the model again"):
        nbmodels.sync(path, settings=b)
    assert not (Path(b.hf_cache) / f"models--{CHAT.replace('/', '--')}" / "blobs").exists() or not any(
        (Path(b.hf_cache) / f"models--{CHAT.replace('/', '--')}" / "blobs").iterdir()
    )  # fmt: skip


def test_sync_refuses_when_a_pinned_file_is_gone_or_different(hub_server, tmp_path: Path) -> None:
    a = _home(tmp_path, "a", hub_server.url)
    path = tmp_path / "nbmodels.lock.yaml"
    nbmodels.lock([CHAT], path, settings=a)
    data = yaml.safe_load(path.read_text())
    data["models"][0]["files"].append({"path": "model-q4.gguf", "size": 10, "sha256": "a" * 64})
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LockfileError, match=r"gone upstream: model-q4\.gguf"):
        nbmodels.sync(path, settings=_home(tmp_path, "b", hub_server.url))
    data["models"][0]["files"].pop()
    weights = next(f for f in data["models"][0]["files"] if f["path"] == "model.safetensors")
    weights["sha256"] = "b" * 64  # re-quantized under the same name
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LockfileError, match=r"model\.safetensors"):
        nbmodels.sync(path, settings=_home(tmp_path, "c", hub_server.url))


def test_bad_lockfiles_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match=r"nbmodels\.lock"):
        nbmodels.sync(tmp_path / "missing.yaml")
    (tmp_path / "x.yaml").write_text("just: text\n")
    with pytest.raises(LockfileError, match="not an nbmodels lockfile"):
        nbmodels.sync(tmp_path / "x.yaml")
    with pytest.raises(LockfileError, match="Nothing to lock"):
        nbmodels.lock([], tmp_path / "l.yaml")


def test_ollama_models_are_pinned_by_their_manifest_digest(ollama_server, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", ollama_models=ollama_server.store.root)
    locked = nbmodels.lock(["ollama:tinyllama-chat"], tmp_path / "l.yaml", settings=settings)
    m = locked.models[0]
    stored = ollama_server.store.get("tinyllama-chat")
    assert (m.source, m.commit) == ("ollama", stored.digest)
    assert {f.sha256 for f in m.files} == {str(x["digest"]).removeprefix("sha256:") for x in [stored.manifest["config"], *stored.layers]}  # fmt: skip
    assert nbmodels.sync(tmp_path / "l.yaml", settings=settings).models == {
        "ollama:tinyllama-chat": "cached"
    }


# -- malformed lockfiles: every bad field is a LockfileError naming the model and the field --
MODEL = "org/pinned"
_GOOD_FILE = {"path": "config.json", "size": 10, "sha256": "a" * 64}


def _offline(tmp_path: Path) -> Settings:
    """A home that can reach no Hub: a lockfile refused at reading never gets that far."""
    return Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf", offline=True,
                    hf_endpoint="http://127.0.0.1:9", ollama_models=tmp_path / "ollama")  # fmt: skip


def _good_lockfile() -> dict:
    return {
        "nbmodels_lock": 1,
        "created": "2025-01-01T00:00:00+00:00",
        "versions": {"nbmodels": "0.1.0"},
        "models": [
            {
                "id": MODEL, "source": "huggingface", "repository": MODEL, "revision": "main",
                "commit": "c" * 40, "files": [],
                "configuration": {"model_id": MODEL, "temperature": 0.2, "max_tokens": 12},
            }
        ],
    }  # fmt: skip


def test_a_well_formed_lockfile_without_files_syncs_offline(tmp_path: Path) -> None:
    """The base the malformed cases below change one field of: it syncs as it is."""
    path = tmp_path / "nbmodels.lock.yaml"
    path.write_text(yaml.safe_dump(_good_lockfile()))
    s = _offline(tmp_path)
    assert nbmodels.sync(path, settings=s).models == {MODEL: "cached"}
    restored = nbmodels.get_configuration(MODEL, settings=s)
    assert restored is not None and restored.max_tokens == 12


def _set(key: str, value: object, *, file: bool = False) -> object:
    def change(data: dict) -> None:
        target = data["models"][0]
        if file:
            target["files"] = [dict(_GOOD_FILE)]
            target = target["files"][0]
        if value is _DROP:
            del target[key]
        else:
            target[key] = value

    return change


_DROP = object()


@pytest.mark.parametrize(
    ("change", "field", "names_model"),
    [
        (_set("configuration", "temperature=0.2"), "configuration", True),
        (_set("configuration", ["temperature", 0.2]), "configuration", True),
        (_set("configuration", {"model_id": MODEL, "temprature": 0.2}), "configuration", True),
        (_set("configuration", {"model_id": MODEL, "temperature": "hot"}), "configuration.temperature", True),
        (_set("configuration", {"model_id": MODEL, "enabled_tasks": ["flying"]}), "configuration", True),
        (_set("files", "config.json"), "files", True),
        (_set("files", ["config.json"]), "files[1]", True),
        (_set("size", "big", file=True), "files[1].size", True),
        (_set("size", -1, file=True), "files[1].size", True),
        (_set("size", True, file=True), "files[1].size", True),
        (_set("size", 2**70, file=True), "files[1].size", True),
        (_set("sha256", "xyz", file=True), "files[1].sha256", True),
        (_set("sha256", _DROP, file=True), "files[1].sha256", True),
        (_set("path", _DROP, file=True), "files[1].path", True),
        (_set("path", "../../outside.txt", file=True), "files[1].path", True),
        (_set("path", "/etc/passwd", file=True), "files[1].path", True),
        (_set("source", "github"), "source", True),
        (_set("repository", ""), "repository", True),
        (_set("repository", ["org", "pinned"]), "repository", True),
        (_set("commit", _DROP), "commit", True),
        (_set("commit", "main"), "commit", True),
        (_set("commit", 1234567), "commit", True),
        (_set("revision", ["main"]), "revision", True),
        (_set("id", _DROP), "id", False),
        (_set("id", {"org": "pinned"}), "id", False),
        (lambda data: data.update(models="org/pinned"), "models", False),
        (lambda data: data.update(models=["org/pinned"]), "models", False),
        (lambda data: data.update(versions="nbmodels 0.1"), "versions", False),
    ],
)  # fmt: skip
def test_every_malformed_field_is_a_lockfile_error_naming_model_and_field(
    tmp_path: Path, change, field: str, names_model: bool
) -> None:
    import re

    data = _good_lockfile()
    change(data)
    path = tmp_path / "nbmodels.lock.yaml"
    path.write_text(yaml.safe_dump(data))
    s = _offline(tmp_path)
    with pytest.raises(LockfileError) as info:
        nbmodels.sync(path, settings=s)
    message = str(info.value)
    assert re.search(rf"(^|\W){re.escape(field)}(\W|$)", message), message
    if names_model:
        assert repr(MODEL) in message, message
    assert "nbmodels.lock" in message, message  # what to do next
    assert nbmodels.get_configuration(MODEL, settings=s) is None  # nothing was restored
    assert not (tmp_path / "hf").exists()  # nothing was fetched


def test_a_lockfile_object_with_a_bad_configuration_is_refused_before_fetching(
    tmp_path: Path,
) -> None:
    from nbmodels.downloader.lockfile import LockedModel, Lockfile

    locked = Lockfile((LockedModel(MODEL, "huggingface", MODEL, "main", "c" * 40, (), "abc"),))  # type: ignore[arg-type]
    s = _offline(tmp_path)
    with pytest.raises(LockfileError, match=r"'org/pinned': configuration is 'abc', not a mapping"):
        nbmodels.sync(locked, settings=s)
    assert nbmodels.get_configuration(MODEL, settings=s) is None
