"""Versions of registered models, aliases between them and rollback: real SQLite registries,
real processes recording at once, the local hub for files fetched again, the command line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nbmodels
from nbmodels.errors import ConfigurationError, LockfileError, ModelNotFoundError
from nbmodels.settings import Settings
from nbmodels.storage.registry import Registry
from nbmodels.storage.rollback import rollback
from nbmodels.storage.versions import (
    VersionNotFoundError,
    alias_history,
    current_version,
    get_version,
    history,
    record_version,
    set_alias,
    version_aliases,
    versions,
    versions_frame,
)
from nbmodels.types import ModelConfiguration, ModelMetadata, ModelSource

REPO = "nbmodels-test/revisions"  # branches main and dev (weights.txt differs), on the local hub


def meta(model_id: str, **kw: object) -> ModelMetadata:
    kw.setdefault("source", ModelSource.HUGGING_FACE)
    return ModelMetadata(id=model_id, **kw)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf")


@pytest.fixture
def reg(settings: Settings) -> Registry:
    return Registry(settings=settings)  # the home's own registry: its configurations are its


def _rows(reg: Registry) -> dict[str, list[tuple]]:
    """Everything the registry holds, to compare before and after."""
    tables = ("entries", "tags", "aliases", "versions", "version_aliases", "version_history")
    return {t: sorted(tuple(r) for r in reg._store.read(f"SELECT * FROM {t}")) for t in tables}


def test_versions_are_numbered_one_to_n_without_gaps(reg: Registry) -> None:
    reg.register(meta("org/a"), configuration=ModelConfiguration("org/a", temperature=0.1))
    reg.register(meta("org/b"))
    first = record_version(reg, "org/a", note="as registered", who="alice")
    assert (first.number, first.kind, first.created_by, first.is_current) == (1, "configuration", "alice", True)  # fmt: skip
    assert first.configuration is not None and first.configuration["temperature"] == 0.1
    assert first.created_at.endswith("+00:00")  # UTC
    commit = "a" * 40
    files = [{"path": "model.safetensors", "size": 10, "sha256": "b" * 64}]
    second = record_version(reg, "org/a", commit=commit, files=files, configuration={"temperature": 0.5})  # fmt: skip
    assert (second.number, second.kind, second.commit, second.size) == (2, "hub", commit, 10)
    assert (
        second.configuration is not None and second.configuration["model_id"] == "org/a"
    )  # completed
    for _ in range(3):
        record_version(reg, "huggingface:org/a")
    assert [v.number for v in versions(reg, "org/a")] == [1, 2, 3, 4, 5]
    assert [v.is_current for v in versions(reg, "org/a")] == [False] * 4 + [True]
    assert current_version(reg, "org/a") == 5
    assert record_version(reg, "org/b").number == 1  # numbered per model
    frame = versions_frame(reg, "org/a")
    assert list(frame["number"]) == [1, 2, 3, 4, 5] and list(frame["files"]) == [0, 1, 0, 0, 0]
    assert [r.action for r in history(reg, "org/a")] == ["record"] * 5
    # bad input is refused before anything is written
    before = _rows(reg)
    with pytest.raises(ConfigurationError, match="40 hex"):
        record_version(reg, "org/a", commit="main")
    with pytest.raises(ConfigurationError, match="sha256"):
        record_version(reg, "org/a", files=[{"path": "x", "size": 1}])
    with pytest.raises(ConfigurationError, match="temprature"):
        record_version(reg, "org/a", configuration={"temprature": 0.2})
    with pytest.raises(ModelNotFoundError):
        record_version(reg, "org/none")
    assert _rows(reg) == before
    # the database refuses a number twice, whatever a client believes
    con = sqlite3.connect(reg.path)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO versions (key, number, kind, created_at) VALUES (?, 3, 'configuration', 'x')",
            ["huggingface:org/a"],
        )
    con.close()


_RECORDER = textwrap.dedent(
    """
    import sys
    from nbmodels.storage.registry import Registry
    from nbmodels.storage.versions import record_version
    reg = Registry(sys.argv[1])
    for i in range(int(sys.argv[3])):
        record_version(reg, "org/shared", note=f"w{sys.argv[2]}-{i}", who=f"w{sys.argv[2]}")
    """
)


@pytest.mark.slow
def test_four_processes_recording_at_once_get_one_to_n_without_duplicates(tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "registry.db"
    Registry(path).register(meta("org/shared"))
    workers, n = 4, 25
    command = [sys.executable, "-c", _RECORDER, str(path)]
    procs = [subprocess.Popen([*command, str(w), str(n)], stderr=subprocess.PIPE, text=True) for w in range(workers)]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    reg = Registry(path)
    found = versions(reg, "org/shared")
    assert [v.number for v in found] == list(range(1, workers * n + 1))  # no gap, no duplicate
    assert sorted(v.note or "" for v in found) == sorted(f"w{w}-{i}" for w in range(workers) for i in range(n))  # fmt: skip
    for w in range(workers):  # each worker's versions in its own order
        mine = [int((v.note or "").split("-")[1]) for v in found if v.created_by == f"w{w}"]
        assert mine == list(range(n))
    records = history(reg, "org/shared")
    assert [r.to_number for r in records] == list(range(1, workers * n + 1))
    assert current_version(reg, "org/shared") == workers * n and reg.validate() == []


def test_aliases_move_between_versions_and_every_move_is_kept(reg: Registry) -> None:
    reg.register(meta("org/a"))
    reg.register(meta("org/b"))
    for _ in range(3):
        record_version(reg, "org/a")
    record_version(reg, "org/b")
    assert set_alias(reg, "org/a", "production", 1, who="alice").number == 1
    set_alias(reg, "org/a", "@staging", "2", who="bob")
    set_alias(reg, "org/a", "production", "staging", who="carol")  # to where staging points
    set_alias(reg, "org/a", "production", 2, who="dave")  # not a move: not kept
    set_alias(reg, "org/b", "production", 1)  # another model's production is its own
    assert version_aliases(reg, "org/a") == {"production": 2, "staging": 2}
    assert get_version(reg, "org/a", "production").number == 2
    assert get_version(reg, "org/a", "@staging").aliases == ("production", "staging")
    moves = [(m.alias, m.from_number, m.to_number, m.who) for m in alias_history(reg, "org/a")]
    assert moves == [("production", None, 1, "alice"), ("staging", None, 2, "bob"), ("production", 1, 2, "carol")]  # fmt: skip
    assert all(m.at.endswith("+00:00") for m in alias_history(reg, "org/a"))
    assert alias_history(reg, "org/b")[0].who  # the OS user by default
    before = _rows(reg)
    with pytest.raises(VersionNotFoundError, match=r"huggingface:org/a has no version 7.*1\.\.3"):
        set_alias(reg, "org/a", "production", 7)
    with pytest.raises(VersionNotFoundError, match="'canary'"):
        set_alias(reg, "org/a", "production", "canary")
    with pytest.raises(ConfigurationError, match="not a number"):
        set_alias(reg, "org/a", "3", 1)
    assert _rows(reg) == before
    reg.remove("org/a")  # its versions, aliases and history go with it
    rows = _rows(reg)
    assert {r[0] for t in ("versions", "version_aliases", "version_history") for r in rows[t]} == {"huggingface:org/b"}  # fmt: skip


def test_rollback_restores_the_stored_configuration(reg: Registry, settings: Settings) -> None:
    reg.register(meta("org/a"))
    nbmodels.save_configuration(ModelConfiguration("org/a", temperature=0.1, max_tokens=12), settings=settings)  # fmt: skip
    nbmodels.update_configuration("org/a", settings=settings, temperature=0.9, max_tokens=99)
    set_alias(reg, "org/a", "production", 1)
    assert reg.get("org/a").configuration.temperature == 0.9  # type: ignore[union-attr]
    report = rollback(reg, "org/a", to="production")
    assert (report.version, report.previous, report.files, report.configuration) == (1, 2, "none", True)  # fmt: skip
    stored = nbmodels.get_configuration("org/a", settings=settings)
    assert stored is not None and (stored.temperature, stored.max_tokens) == (0.1, 12)
    assert reg.get("org/a").configuration.max_tokens == 12  # type: ignore[union-attr]
    assert current_version(reg, "org/a") == 1
    last = history(reg, "org/a")[-1]
    assert (last.action, last.from_number, last.to_number) == ("rollback", 2, 1)
    assert [v.number for v in versions(reg, "org/a")] == [1, 2]  # a rollback records no version
    assert rollback(reg, "org/a", to=2).previous == 1
    assert nbmodels.get_configuration("org/a", settings=settings).temperature == 0.9  # type: ignore[union-attr]


def test_rollback_to_an_unknown_version_is_refused_and_changes_nothing(reg: Registry, settings: Settings) -> None:  # fmt: skip
    reg.register(meta("org/a"))
    reg.register(meta("org/new"))
    nbmodels.save_configuration(ModelConfiguration("org/a", temperature=0.3), settings=settings)
    record_version(reg, "org/a")
    nbmodels.update_configuration("org/a", settings=settings, temperature=0.4)
    config_file = settings.home / "configs" / "org--a.yaml"
    before, text = _rows(reg), config_file.read_bytes()
    for to in (9, "9", "production", "@nope"):
        with pytest.raises(VersionNotFoundError, match=r"huggingface:org/a has no version .*Nothing was changed"):  # fmt: skip
            rollback(reg, "org/a", to=to)
    with pytest.raises(VersionNotFoundError, match="no versions yet"):
        rollback(reg, "org/new", to=1)
    with pytest.raises(ModelNotFoundError):
        rollback(reg, "org/none", to=1)
    assert _rows(reg) == before and config_file.read_bytes() == text


def _download(settings: Settings, revision: str | None = None) -> Path:
    return Path(nbmodels.Downloader(settings).download(REPO, revision=revision).result())


def _hub_settings(tmp_path: Path, hub_url: str) -> Settings:
    return Settings(home=tmp_path / "home", hf_endpoint=hub_url, hf_cache=tmp_path / "hf")


def test_rollback_fetches_deleted_files_again_and_checks_them(hub_server, tmp_path: Path) -> None:
    settings = _hub_settings(tmp_path, hub_server.url)
    main = _download(settings)  # registers itself in the home's registry, and version 1
    reg = Registry(settings=settings)
    v1 = get_version(reg, REPO, 1)
    assert v1.kind == "hub" and v1.commit == main.name
    assert {f.path: f.sha256 for f in v1.files}["weights.txt"] == hashlib.sha256(b"main weights\n").hexdigest()  # fmt: skip
    dev = _download(settings, "dev")
    assert reg.get(REPO).metadata.local_path == str(dev)
    v2 = get_version(reg, REPO, 2)  # recorded by the download
    assert v2.commit == dev.name != v1.commit
    set_alias(reg, REPO, "production", 1)
    shutil.rmtree(
        tmp_path / "hf" / f"models--{REPO.replace('/', '--')}" / "blobs"
    )  # the bytes are gone
    assert not (main / "weights.txt").is_file()
    report = rollback(reg, REPO, to="production")
    assert (report.files, report.files_checked, report.previous) == ("fetched", len(v1.files), 2)
    assert report.bytes_fetched == v1.size and report.local_path == str(main)
    assert (main / "weights.txt").read_text() == "main weights\n"  # fetched, checked by sha256
    entry = reg.get(REPO)
    assert entry.metadata.local_path == str(main) and entry.metadata.version == v1.commit
    assert entry.is_available and current_version(reg, REPO) == 1
    assert rollback(reg, REPO, to=1).files == "cached"  # all here now, checked again


def test_a_rollback_whose_files_cannot_be_had_changes_nothing(hub_server, tmp_path: Path) -> None:
    settings = _hub_settings(tmp_path, hub_server.url)
    main = _download(settings)
    reg = Registry(settings=settings)
    good = get_version(reg, REPO, 1)  # recorded by the download
    wrong = [{"path": f.path, "size": f.size, "sha256": "b" * 64 if f.path == "weights.txt" else f.sha256} for f in good.files]  # fmt: skip
    record_version(reg, REPO, commit=good.commit, files=wrong, configuration={"temperature": 0.0}, note="tampered")  # fmt: skip
    dev = _download(settings, "dev")
    nbmodels.save_configuration(ModelConfiguration(REPO, temperature=0.8), settings=settings)
    config_file = settings.home / "configs" / f"{REPO.replace('/', '--')}.yaml"
    before, text = _rows(reg), config_file.read_bytes()
    with pytest.raises(LockfileError, match=rf"{REPO} cannot roll back to version 2: .*weights\.txt.*left as they were"):  # fmt: skip
        rollback(reg, REPO, to=2)
    assert _rows(reg) == before and config_file.read_bytes() == text
    assert reg.get(REPO).metadata.local_path == str(dev)
    assert not (main / "weights.txt").exists()  # nothing unverified stays in the cache


def _nbmodels(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbmodels", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_command_line_lists_versions_and_rolls_back(hub_server, tmp_path: Path) -> None:
    settings = _hub_settings(tmp_path, hub_server.url)
    env = {"NBMODELS_HOME": str(settings.home), "NBMODELS_HF_ENDPOINT": hub_server.url,
           "HF_HUB_CACHE": str(settings.hf_cache)}  # fmt: skip
    # versions recorded by themselves: 1 (main, 0.2), 2 (dev, 0.2), 3 (dev, 0.7)
    nbmodels.save_configuration(ModelConfiguration(REPO, temperature=0.2), settings=settings)
    main = _download(settings)
    reg = Registry(settings=settings)
    _download(settings, "dev")
    nbmodels.update_configuration(REPO, settings=settings, temperature=0.7)
    set_alias(reg, REPO, "production", 1, who="alice")
    set_alias(reg, REPO, "production", 3, who="bob")
    set_alias(reg, REPO, "production", 1, who="carol")

    listed = _nbmodels("versions", REPO, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "3 version(s)" in listed.stdout and "@production" in listed.stdout
    assert "alias moves:" in listed.stdout and "bob" in listed.stdout and "3 -> 1" in listed.stdout
    data = json.loads(_nbmodels("versions", REPO, "--json", env=env).stdout)
    assert data["model"] == f"huggingface:{REPO}" and data["current"] == 3
    assert [v["number"] for v in data["versions"]] == [1, 2, 3]
    assert data["versions"][0]["aliases"] == ["production"] and data["versions"][0]["files"]
    assert [(m["from_number"], m["to_number"], m["who"]) for m in data["alias_history"]] == [(None, 1, "alice"), (1, 3, "bob"), (3, 1, "carol")]  # fmt: skip

    shutil.rmtree(Path(settings.hf_cache) / f"models--{REPO.replace('/', '--')}" / "blobs")
    rolled = _nbmodels("rollback", REPO, "--to", "production", "--json", env=env)
    assert rolled.returncode == 0, rolled.stderr
    report = json.loads(rolled.stdout)
    assert (report["version"], report["previous"], report["files"], report["configuration"]) == (1, 3, "fetched", True)  # fmt: skip
    assert report["local_path"] == str(main) and (main / "weights.txt").read_text() == "main weights\n"  # fmt: skip
    assert nbmodels.get_configuration(REPO, settings=settings).temperature == 0.2  # type: ignore[union-attr]
    again = _nbmodels("rollback", REPO, "--to", "1", env=env)
    assert again.returncode == 0 and "files cached" in again.stdout and "#1 -> #1" in again.stdout
    before = _rows(reg)
    unknown = _nbmodels("rollback", REPO, "--to", "9", env=env)
    assert unknown.returncode == 2 and unknown.stderr.startswith("nbmodels: ")
    assert f"huggingface:{REPO} has no version '9'" in unknown.stderr and "Traceback" not in unknown.stderr  # fmt: skip
    assert _rows(reg) == before
    missing = _nbmodels("versions", "org/none", env=env)
    assert missing.returncode == 2 and "not in the registry" in missing.stderr


def test_the_registry_view_shows_versions_and_alias_moves(reg: Registry) -> None:
    pytest.importorskip("ipywidgets")
    from nbmodels.widgets.registry import RegistryView

    reg.register(meta("org/a"), configuration=ModelConfiguration("org/a"))
    reg.register(meta("org/b"))
    record_version(reg, "org/a", commit="c" * 40, note="first")
    record_version(reg, "org/a", note="second <b>")
    set_alias(reg, "org/a", "production", 1, who="alice")
    set_alias(reg, "org/a", "production", 2, who="bob")
    view = RegistryView(reg)
    view.picker.value = "huggingface:org/a"
    shown = view.versions.value
    assert shown.count("<tr>") == 2 + 1 + 2 + 1  # two versions, two moves, their headers
    assert "cccccccccccc" in shown and "production" in shown and "second &lt;b&gt;" in shown
    assert "alice" in shown and "bob" in shown
    view.picker.value = "huggingface:org/b"
    assert "No versions recorded yet" in view.versions.value


def test_ollama_models_are_versioned_by_their_manifest_digest(ollama_server, tmp_path: Path) -> None:  # fmt: skip
    settings = Settings(home=tmp_path / "home", ollama_models=ollama_server.store.root)
    reg = Registry(settings=settings)
    reg.register(meta("tinyllama-chat", source=ModelSource.OLLAMA), available=True)
    stored = ollama_server.store.get("tinyllama-chat")
    v = record_version(reg, "ollama:tinyllama-chat")
    assert (v.kind, v.digest, v.commit) == ("ollama", stored.digest, None)
    assert {f.sha256 for f in v.files} == {str(x["digest"]).removeprefix("sha256:") for x in [stored.manifest["config"], *stored.layers]}  # fmt: skip
    report = rollback(reg, "tinyllama-chat", to=1)
    assert (report.files, report.files_checked, report.digest) == ("cached", len(v.files), stored.digest)  # fmt: skip


def test_versions_work_on_a_team_postgresql_registry(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf")
    reg = Registry(pg_url, settings=settings)
    reg.register(meta("org/a"), configuration=ModelConfiguration("org/a", temperature=0.1))
    record_version(reg, "org/a", who="alice")
    reg.set_configuration("org/a", ModelConfiguration("org/a", temperature=0.9))
    record_version(reg, "org/a", commit="d" * 40, files=[{"path": "w", "size": 1, "sha256": "e" * 64}])  # fmt: skip
    set_alias(reg, "org/a", "production", 1)
    set_alias(reg, "org/a", "production", 2)
    assert [v.number for v in versions(reg, "org/a")] == [1, 2]
    assert [(m.from_number, m.to_number) for m in alias_history(reg, "org/a")] == [(None, 1), (1, 2)]  # fmt: skip
    with pytest.raises(VersionNotFoundError, match="no version 3"):
        rollback(reg, "org/a", to=3)
    report = rollback(reg, "org/a", to=1)
    assert report.configuration and reg.get("org/a").configuration.temperature == 0.1  # type: ignore[union-attr]
    assert current_version(reg, "org/a") == 1 and history(reg, "org/a")[-1].action == "rollback"
    # a backup carries the versions, aliases and history, from the server to a file
    as_file = Registry(tmp_path / "file" / "registry.db", settings=settings)
    as_file.restore(reg.backup(tmp_path / "backup.db"))
    assert versions(as_file, "org/a") == versions(reg, "org/a")
    assert history(as_file, "org/a") == history(reg, "org/a")


def test_a_download_at_a_new_commit_records_a_version_by_itself(hub_server, tmp_path: Path) -> None:  # fmt: skip
    settings = _hub_settings(tmp_path, hub_server.url)
    main = _download(settings)
    reg = Registry(settings=settings)
    [first] = versions(reg, REPO)
    assert (first.number, first.kind, first.commit, first.is_current) == (1, "hub", main.name, True)
    assert {f.path for f in first.files} >= {"weights.txt"}
    _download(settings)  # the same commit again: nothing new
    assert [v.number for v in versions(reg, REPO)] == [1]
    dev = _download(settings, "dev")
    assert [(v.number, v.commit) for v in versions(reg, REPO)] == [(1, main.name), (2, dev.name)]
    assert current_version(reg, REPO) == 2 and [r.action for r in history(reg, REPO)] == ["record"] * 2  # fmt: skip


def test_a_changed_stored_configuration_records_a_revision_by_itself(reg: Registry, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    reg.register(meta("org/a"))
    nbmodels.save_configuration(ModelConfiguration("org/a", temperature=0.1), settings=settings)
    assert [(v.number, v.kind) for v in versions(reg, "org/a")] == [(1, "configuration")]
    nbmodels.update_configuration("org/a", settings=settings, temperature=0.1)  # no change
    nbmodels.save_configuration(ModelConfiguration("org/a", temperature=0.1), settings=settings)
    assert [v.number for v in versions(reg, "org/a")] == [1]
    nbmodels.update_configuration("org/a", settings=settings, temperature=0.6)
    found = versions(reg, "org/a")
    assert [v.number for v in found] == [1, 2] and found[-1].is_current
    assert found[-1].configuration is not None and found[-1].configuration["temperature"] == 0.6
    nbmodels.save_configuration(
        ModelConfiguration("org/unregistered"), settings=settings
    )  # nothing
    # a version that cannot be recorded is said; the configuration is saved all the same
    from nbmodels.errors import RegistryError, RegistryWarning
    from nbmodels.storage import versions as versions_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RegistryError("the versions table is locked")

    monkeypatch.setattr(versions_module, "record_if_changed", broken)
    with pytest.warns(RegistryWarning, match="version could not be recorded: the versions table"):
        nbmodels.update_configuration("org/a", settings=settings, temperature=0.7)
    assert nbmodels.get_configuration("org/a", settings=settings).temperature == 0.7  # type: ignore[union-attr]
    assert [v.number for v in versions(reg, "org/a")] == [1, 2]


def test_a_rollback_holds_back_only_the_version_it_restores(reg: Registry) -> None:
    """While a rollback fetches the files of commit A again (a download, which would record
    a version), another download, at commit B, is still recorded: nothing dropped unsaid."""
    from nbmodels.storage.versions import _recording_held, record_if_changed

    reg.register(meta("org/a"))
    key = reg._key("org/a")
    a, b = "a" * 40, "b" * 40
    with _recording_held(key, a):
        assert record_if_changed(reg, "org/a", commit=a, files=()) is None
        other = record_if_changed(reg, "org/a", commit=b, files=())
    assert other is not None and other.commit == b
    assert [v.commit for v in versions(reg, "org/a")] == [b]
