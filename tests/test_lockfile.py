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
