"""nbmodels.pack / nbmodels.unpack: models carried in one archive to a home with no network.

Home A downloads a model from the local hub and pulls one from the local Ollama; the pack
is unpacked into a fresh home B whose every endpoint is a dead port, with HF_HUB_OFFLINE=1.
Every check is made on the disk itself: sha256 of every file, Ollama's manifest bytes, the
greedy output of the model loaded from each home, the registry and configurations of B. A
damaged archive (truncated, a byte flipped, a blob swapped, a member climbing out) is refused
naming the file, and leaves nothing installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import _dead_port

import nbmodels
from nbmodels import Settings
from nbmodels.downloader.core import Downloader, DownloadTask, repo_folder
from nbmodels.packing import PackError, PackProgress, pack, unpack
from nbmodels.storage.ollama_store import OllamaStore
from nbmodels.storage.registry import Registry
from nbmodels.storage.versions import versions

CHAT = "nbmodels-demo/tiny-llama-chat"
PULLED = "tinyllama-chat:latest"  # real blobs (the library pulls of the demo are stand-ins)


def _home(root: Path, name: str, **kw: object) -> Settings:
    kw.setdefault("ollama_models", root / name / "ollama")
    return Settings(home=root / name / "home", hf_cache=root / name / "hf", **kw)  # type: ignore[arg-type]


def _offline(root: Path, name: str) -> Settings:
    dead = f"http://127.0.0.1:{_dead_port()}"
    return _home(root, name, hf_endpoint=dead, ollama_host=dead, offline=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(settings: Settings, repo: str = CHAT) -> dict[str, str]:
    """path -> sha256 of every file of the repo's snapshots (links followed)."""
    folder = repo_folder(settings.hf_cache, repo) / "snapshots"
    return {p.relative_to(folder).as_posix(): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _nothing_installed(b: Settings) -> None:
    hf, store = Path(b.hf_cache), Path(b.ollama_models)
    assert not any(hf.glob("models--*")) and not any(hf.glob(".nbmodels-unpack-*"))
    assert not (store / "manifests").exists() and not any(store.glob("*"))
    assert not (b.home / "registry.db").exists() or len(Registry(settings=b)) == 0


def _download(settings: Settings, *args: object, **kw: object) -> None:
    task = Downloader(settings).download(*args, **kw)  # type: ignore[arg-type]
    assert isinstance(task, DownloadTask)
    task.wait(60)


@pytest.fixture(scope="module")
def packed(hub_server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """Home A with the chat model (downloaded, configured, tagged and aliased) and its pack."""
    root = tmp_path_factory.mktemp("pack-module")
    a = _home(root, "a", hf_endpoint=hub_server.url)
    _download(a, CHAT)
    nbmodels.update_configuration(CHAT, settings=a, temperature=0.0, max_tokens=12)
    reg = Registry(settings=a)
    reg.tag(CHAT, "carried")
    reg.set_alias("chat-default", CHAT)
    archive = root / "chat.tar"
    pack([CHAT], archive, settings=a)
    return a, archive


# -- the round trip -------------------------------------------------------------------------------
@pytest.mark.slow
def test_pack_in_one_home_unpack_offline_in_a_fresh_one(
    hub_server, ollama_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmodels.demo.ollama.registry import RegistryServer

    a = _home(tmp_path, "a", hf_endpoint=hub_server.url, ollama_host=ollama_server.url)
    _download(a, CHAT)
    with RegistryServer(ollama_server.store.root) as registry:  # the demo Ollama's store, pulled
        task = Downloader(a, ollama_registry=registry.url).download(PULLED, source="ollama", via="registry")  # fmt: skip
        assert isinstance(task, DownloadTask)
        task.wait(60)
    nbmodels.update_configuration(CHAT, settings=a, temperature=0.0, max_tokens=12)
    seen: list[PackProgress] = []
    report = pack([CHAT, f"ollama:{PULLED}"], tmp_path / "models.tar", settings=a, progress=seen.append)  # fmt: skip
    assert report.models == (CHAT, f"ollama:{PULLED}") and report.bytes == (tmp_path / "models.tar").stat().st_size  # fmt: skip
    assert seen and seen[-1].done_bytes == seen[-1].total_bytes > 0
    assert "models.tar" in report._repr_html_()
    assert not list(tmp_path.glob(".models.tar.*"))  # written under a temporary name, renamed

    # the archive is an OCI image layout; the chat model a CNCF ModelPack artifact
    with tarfile.open(tmp_path / "models.tar") as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        entry = next(e for e in index["manifests"] if e["annotations"]["io.nbmodels.model"] == CHAT)  # fmt: skip
        manifest = json.loads(tar.extractfile("blobs/sha256/" + entry["digest"][7:]).read())  # type: ignore[union-attr]  # fmt: skip
    assert names[:2] == ["oci-layout", "index.json"] and all(n.startswith("blobs/sha256/") for n in names[2:])  # fmt: skip
    assert manifest["artifactType"] == "application/vnd.cncf.model.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.model.config.v1+json"
    commit = (repo_folder(a.hf_cache, CHAT) / "refs" / "main").read_text()
    weights = next(x for x in manifest["layers"] if x["annotations"]["org.opencontainers.image.title"] == "model.safetensors")  # fmt: skip
    assert weights["mediaType"] == "application/vnd.cncf.model.weight.v1.raw"
    assert weights["digest"] == "sha256:" + _snapshot(a)[f"{commit}/model.safetensors"]

    # home B: nothing reachable, HF offline
    b = _offline(tmp_path, "b")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", b.hf_endpoint)
    monkeypatch.setenv("OLLAMA_HOST", b.ollama_host)
    done = unpack(tmp_path / "models.tar", settings=b)
    assert done.models == {CHAT: "installed", f"ollama:{PULLED}": "installed"}
    pulled = OllamaStore(a.ollama_models).get(PULLED)
    assert done.files_checked == len(_snapshot(a)) + 1 + len(pulled.layers)
    assert done.blobs_present == 0 and done.bytes_written > 0 and not done.notes
    assert _snapshot(b) == _snapshot(a)  # every file, same sha256
    assert (repo_folder(b.hf_cache, CHAT) / "refs" / "main").read_text() == commit
    mine, theirs = (
        OllamaStore(a.ollama_models).get(PULLED),
        OllamaStore(b.ollama_models).get(PULLED),
    )
    assert theirs.manifest_path.read_bytes() == mine.manifest_path.read_bytes()
    assert theirs.digest == mine.digest
    for layer in [mine.manifest["config"], *mine.layers]:
        assert _sha(theirs.blob_path(layer["digest"])) == _sha(mine.blob_path(layer["digest"])) == layer["digest"][7:]  # fmt: skip
    # registry, versions, configuration and lockfile of B
    reg = Registry(settings=b)
    entry_b = reg.get(CHAT)
    assert entry_b.is_available and entry_b.metadata.local_path == str(repo_folder(b.hf_cache, CHAT) / "snapshots" / commit)  # fmt: skip
    assert f"ollama:{PULLED}" in reg
    hub_version = next(v for v in versions(reg, CHAT) if v.kind == "hub")
    assert hub_version.commit == commit and {f.path: f.sha256 for f in hub_version.files} == {
        k.split("/", 1)[1]: v for k, v in _snapshot(a).items()
    }
    assert nbmodels.get_configuration(CHAT, settings=b).max_tokens == 12  # type: ignore[union-attr]
    assert done.lockfile is not None and yaml.safe_load(done.lockfile.read_text())["models"][0]["commit"] == commit  # fmt: skip
    # transformers loads it offline; the same greedy output as in home A
    out_a = nbmodels.load(CHAT, settings=a).generate("Once upon", temperature=0, max_tokens=12).text
    out_b = nbmodels.load(CHAT, settings=b).generate("Once upon", temperature=0, max_tokens=12).text
    assert out_a and out_a == out_b
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(CHAT, cache_dir=str(b.hf_cache), local_files_only=True)
    # again: every blob is already there, nothing is written
    again = unpack(tmp_path / "models.tar", settings=b)
    assert again.models == {CHAT: "present", f"ollama:{PULLED}": "present"}
    assert again.bytes_written == 0 and again.blobs_present == again.files_checked


def test_the_registry_record_travels_with_the_model(packed: tuple[Settings, Path], tmp_path: Path) -> None:  # fmt: skip
    _, archive = packed
    b = _offline(tmp_path, "b")
    done = unpack(archive, settings=b, lockfile=tmp_path / "nbmodels.lock.yaml")
    assert done.lockfile == tmp_path / "nbmodels.lock.yaml" and done.lockfile.is_file()
    reg = Registry(settings=b)
    assert reg.get("@chat-default").metadata.id == CHAT
    assert "carried" in reg.get(CHAT).usage_stats["tags"]
    # the lockfile syncs offline: everything is in the cache already
    assert nbmodels.sync(done.lockfile, settings=b).models == {CHAT: "cached"}


def test_a_model_with_a_missing_file_is_refused_before_anything_is_written(
    packed: tuple[Settings, Path], tmp_path: Path
) -> None:
    a, _ = packed
    home = _home(tmp_path, "a2")
    shutil.copytree(a.hf_cache, home.hf_cache, symlinks=True)
    blob = next(p for p in (repo_folder(home.hf_cache, CHAT) / "snapshots").rglob("tokenizer.json"))
    blob.resolve().unlink()
    with pytest.raises(PackError, match=r"Missing: nbmodels-demo/tiny-llama-chat: tokenizer\.json"):
        pack([CHAT], tmp_path / "x.tar", settings=home)
    assert not list(tmp_path.glob("*x.tar*"))
    with pytest.raises(nbmodels.errors.ModelNotFoundError, match="download it first"):
        pack(["org/absent"], tmp_path / "x.tar", settings=home)
    # a blob of the cache whose bytes are not its name: refused, no archive left
    weights = next((repo_folder(home.hf_cache, CHAT) / "snapshots").rglob("model.safetensors")).resolve()  # fmt: skip
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    tokenizer = repo_folder(a.hf_cache, CHAT)
    shutil.copy(next(tokenizer.glob("snapshots/*/tokenizer.json")), blob.resolve())
    with pytest.raises(PackError, match=r"model\.safetensors.*do not match"):
        pack([CHAT], tmp_path / "x.tar", settings=home)
    assert not list(tmp_path.glob("*x.tar*"))


# -- bad archives: refused naming the file, nothing installed -----------------------------------
def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def _blob_of(archive: Path, path: str) -> tarfile.TarInfo:
    """The member holding the chat model's file ``path``."""
    members = _members(archive)
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        entry = next(e for e in index["manifests"] if e["annotations"].get("io.nbmodels.model") == CHAT)  # fmt: skip
        manifest = json.loads(tar.extractfile("blobs/sha256/" + entry["digest"][7:]).read())  # type: ignore[union-attr]  # fmt: skip
    layer = next(x for x in manifest["layers"] if x["annotations"]["org.cncf.model.filepath"] == path)  # fmt: skip
    return members["blobs/sha256/" + layer["digest"][7:]]


def _copy(archive: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.tar"
    shutil.copyfile(archive, target)
    return target


def test_a_truncated_archive_is_refused_naming_the_file(packed: tuple[Settings, Path], tmp_path: Path) -> None:  # fmt: skip
    _, archive = packed
    target = _copy(archive, tmp_path)
    weights = _blob_of(target, "model.safetensors")
    with open(target, "r+b") as fh:
        fh.truncate(weights.offset_data + weights.size // 2)
    b = _offline(tmp_path, "b")
    with pytest.raises(PackError, match=r"truncated.*tiny-llama-chat: model\.safetensors"):
        unpack(target, settings=b)
    _nothing_installed(b)
    with open(target, "r+b") as fh:  # cut inside the first member: not a pack at all
        fh.truncate(300)
    with pytest.raises(PackError):
        unpack(target, settings=b)
    _nothing_installed(b)


@pytest.mark.parametrize("how", ["flipped byte", "swapped blob"])
def test_a_tampered_archive_is_refused_naming_the_file(packed: tuple[Settings, Path], tmp_path: Path, how: str) -> None:  # fmt: skip
    _, archive = packed
    target = _copy(archive, tmp_path)
    victim = _blob_of(target, "tokenizer.json")
    with open(target, "r+b") as fh:
        if how == "flipped byte":
            fh.seek(victim.offset_data + victim.size // 2)
            byte = fh.read(1)
            fh.seek(-1, io.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0x01]))
        else:  # another blob's bytes, as many as the victim holds
            donor = _blob_of(target, "model.safetensors")
            assert donor.size >= victim.size
            fh.seek(donor.offset_data)
            data = fh.read(victim.size)
            fh.seek(victim.offset_data)
            fh.write(data)
    b = _offline(tmp_path, "b")
    with pytest.raises(
        PackError, match=r"tiny-llama-chat: tokenizer\.json does not match its digest"
    ):
        unpack(target, settings=b)
    _nothing_installed(b)


def test_members_that_climb_out_or_link_are_refused(packed: tuple[Settings, Path], tmp_path: Path) -> None:  # fmt: skip
    _, archive = packed
    b = _offline(tmp_path, "b")
    for name, kind in (("../x", tarfile.REGTYPE), ("/etc/x", tarfile.REGTYPE), ("blobs/sha256/" + "0" * 64, tarfile.SYMTYPE)):  # fmt: skip
        target = tmp_path / "evil.tar"
        with tarfile.open(archive) as src, tarfile.open(target, "w") as out:
            for m in src.getmembers():
                out.addfile(m, src.extractfile(m))
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            info.size = 0 if kind == tarfile.SYMTYPE else 3
            out.addfile(info, io.BytesIO(b"bad") if kind == tarfile.REGTYPE else None)
        with pytest.raises(PackError, match=r"outside the pack|is a link"):
            unpack(target, settings=b)
        _nothing_installed(b)
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()
    with pytest.raises(PackError, match="No pack at"):
        unpack(tmp_path / "nope.tar", settings=b)
    (tmp_path / "plain.txt").write_text("not a tar")
    with pytest.raises(PackError, match="not a pack"):
        unpack(tmp_path / "plain.txt", settings=b)
