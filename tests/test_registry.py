"""The registry: every operation of the seed's registry section on a real SQLite file, and
real processes sharing it (contention, kill -9, corruption and restore, migrations)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

import nbmodels
from nbmodels.errors import ModelNotFoundError, RegistryError, SQLError
from nbmodels.settings import Settings
from nbmodels.storage.registry import MIGRATIONS, Registry
from nbmodels.storage.store import SQLiteStore
from nbmodels.types import DownloadStatus, ModelMetadata, ModelSource, ModelType, SupportedTask

T = SupportedTask


def meta(model_id: str, **kw: object) -> ModelMetadata:
    kw.setdefault("source", ModelSource.HUGGING_FACE)
    return ModelMetadata(id=model_id, **kw)  # type: ignore[arg-type]


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(settings=Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf"))


def test_every_registry_operation(reg: Registry) -> None:
    chat = reg.register(
        meta("org/chat", tasks=(T.CHAT, T.TEXT_GENERATION), model_type=ModelType.INTERFACE_MODEL,
             license="apache-2.0", size_bytes=1000),
        tags=["demo"], aliases=["chat-default"],
    )  # fmt: skip
    reg.register(meta("org/embed", tasks=(T.EMBEDDING,), model_type=ModelType.EMBEDDING_MODEL, license="mit"))  # fmt: skip
    reg.register(meta("llama3.2:1b", source=ModelSource.OLLAMA, tasks=(T.CHAT,)), available=True)
    assert chat.metadata.id == "org/chat" and chat.download_status is DownloadStatus.PENDING
    assert len(reg) == 3 and "org/chat" in reg and "org/none" not in reg
    # one entry by key, by id, by alias
    assert reg.get("huggingface:org/chat") == reg.get("org/chat") == reg.get("@chat-default")
    with pytest.raises(ModelNotFoundError, match="Did you mean 'org/chat'"):
        reg.get("org/chta")
    with pytest.raises(ModelNotFoundError, match="'@chat-default'"):
        reg.get("@chat-defualt")
    ids = lambda entries: sorted(e.metadata.id for e in entries)  # noqa: E731
    assert ids(reg.all()) == ["llama3.2:1b", "org/chat", "org/embed"]
    assert ids(reg.by_type("embedding")) == ["org/embed"]
    assert ids(reg.by_task("chat")) == ["llama3.2:1b", "org/chat"]
    assert ids(reg.by_source("ollama")) == ["llama3.2:1b"]
    assert ids(reg.by_license("MIT")) == ["org/embed"]
    assert ids(reg.available()) == ["llama3.2:1b"] and reg.is_available("llama3.2:1b")
    assert ids(reg.search("demo")) == ["org/chat"] and ids(reg.search("EMBED")) == ["org/embed"]
    # lifecycle
    reg.activate("org/chat")
    assert reg.is_active("org/chat") and ids(reg.active()) == ["org/chat"]
    reg.deactivate("@chat-default")
    assert not reg.is_active("org/chat")
    # usage: counts, recently used, popular, per-model stats
    reg.record_usage("org/chat", tokens_in=5, tokens_out=40, seconds=2.0, task="chat")
    reg.record_usage("org/chat", tokens_out=10, seconds=0.5, peak_bytes=123)
    time.sleep(0.01)
    reg.record_usage("org/embed", task="embedding")
    assert [e.metadata.id for e in reg.recently_used(2)] == ["org/embed", "org/chat"]
    assert [e.metadata.id for e in reg.popular(2)] == ["org/chat", "org/embed"]
    stats = reg.stats("org/chat")
    assert (
        stats["use_count"] == 2 and stats["tokens_out"] == 50 and stats["tokens_per_second"] == 20.0
    )
    assert stats["measured_peak_bytes"] == 123 and stats["by_task"] == {"chat": 1}
    total = reg.registry_stats()
    assert total["entries"] == 3 and total["uses"] == 3 and total["by_source"] == {"huggingface": 2, "ollama": 1}  # fmt: skip
    # dependencies: both directions, and a cycle refused with the cycle named
    reg.add_dependency("org/chat", "org/embed")
    reg.add_dependency("org/embed", "llama3.2:1b")
    assert reg.dependencies("org/chat") == ["huggingface:org/embed"]
    assert reg.dependents("org/embed") == ["huggingface:org/chat"]
    with pytest.raises(RegistryError, match=r"cycle .*ollama:llama3\.2:1b -> huggingface:org/chat"):
        reg.add_dependency("llama3.2:1b", "org/chat")
    assert reg.get("org/embed").dependents == ["huggingface:org/chat"]
    # updating keeps what was not given; tags and aliases
    reg.register(meta("org/chat", downloads=7))
    again = reg.get("org/chat")
    assert again.metadata.downloads == 7 and again.usage_stats["use_count"] == 2
    assert again.usage_stats["tags"] == ["demo"]
    reg.set_alias("chat-default", "llama3.2:1b")
    assert reg.get("@chat-default").metadata.id == "llama3.2:1b"
    # SQL through DuckDB
    df = reg.sql("SELECT model_id, use_count, tags FROM registry ORDER BY use_count DESC, model_id")
    assert df["model_id"].tolist()[0] == "org/chat" and list(df["tags"][0]) == ["demo"]
    with pytest.raises(SQLError):
        reg.sql("DELETE FROM entries")


def test_cleanup_lists_first_and_keeps_what_is_needed(reg: Registry) -> None:
    for name in ("a", "b", "c"):
        reg.register(meta(f"org/{name}"))
    reg.add_dependency("org/a", "org/b")  # b is needed by a
    reg.activate("org/c")  # c is in use
    reg.record_usage("org/a")
    plan = reg.cleanup(unused_for=timedelta(0))
    assert [e.metadata.id for e in plan] == ["org/a"] and len(reg) == 3  # a dry run
    removed = reg.cleanup(unused_for=timedelta(0), dry_run=False)
    assert [e.metadata.id for e in removed] == ["org/a"] and "org/a" not in reg
    assert reg.dependents("org/b") == []  # its dependencies went with it
    assert reg.cleanup(unused_for=timedelta(days=1)) == []


def test_downloads_register_themselves_and_update_index_follows_the_disk(hub_server, tmp_path: Path) -> None:  # fmt: skip
    settings = Settings(
        home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf"
    )
    task = nbmodels.Downloader(settings).download("nbmodels-demo/tiny-llama-chat")
    folder = task.result()
    reg = Registry(settings=settings)
    entry = reg.get("nbmodels-demo/tiny-llama-chat")
    assert entry.is_available and entry.download_status is DownloadStatus.COMPLETED
    assert entry.metadata.local_path == str(folder) and T.CHAT in entry.metadata.tasks
    # a configuration stored for it is the registry's too
    cfg = nbmodels.configure(folder)
    nbmodels.save_configuration(dataclasses_replace(cfg, model_id="nbmodels-demo/tiny-llama-chat"), settings=settings)  # fmt: skip
    assert reg.get("nbmodels-demo/tiny-llama-chat").configuration is not None
    # files deleted behind its back: validate says so, update_index marks it unavailable
    shutil.rmtree(tmp_path / "hf")
    assert any("is gone" in p for p in reg.validate())
    changed = reg.update_index()
    assert changed["unavailable"] == ["huggingface:nbmodels-demo/tiny-llama-chat"]
    assert not reg.is_available("nbmodels-demo/tiny-llama-chat") and reg.validate() == []
    # a model another tool put in the cache is found and registered
    nbmodels.Downloader(settings).download("nbmodels-demo/tiny-embedder").wait()
    Registry(settings=settings).remove("nbmodels-demo/tiny-embedder")
    assert "huggingface:nbmodels-demo/tiny-embedder" in reg.update_index()["added"]
    # cleanup with delete_files: the entry and its files in the HF cache go
    repo = tmp_path / "hf" / "models--nbmodels-demo--tiny-embedder"
    assert repo.is_dir()
    gone = reg.cleanup(unused_for=timedelta(0), dry_run=False, delete_files=True)
    assert "nbmodels-demo/tiny-embedder" in [e.metadata.id for e in gone]
    assert "nbmodels-demo/tiny-embedder" not in reg and not list(repo.glob("snapshots/*"))


def dataclasses_replace(obj, **kw):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(obj, **kw)


def test_backup_restores_on_another_home_and_after_corruption(tmp_path: Path, reg: Registry) -> None:  # fmt: skip
    reg.register(meta("org/a"), tags=["x"], aliases=["main"])
    reg.register(meta("org/b"))
    reg.add_dependency("org/a", "org/b")
    backup = reg.backup(tmp_path / "registry-backup.db")
    elsewhere = Registry(tmp_path / "other" / "registry.db")
    assert elsewhere.restore(backup) == 2
    assert elsewhere.get("@main").dependencies == ["huggingface:org/b"]
    # a damaged file: a clear error that says what to do; restore brings it back
    reg.close()
    reg.path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(reg.path) + suffix).unlink(missing_ok=True)
    broken = Registry(reg.path)
    with pytest.raises(RegistryError, match="restore a backup"):
        broken.get("org/a")
    assert broken.restore(backup) == 2 and broken.get("org/a").usage_stats["tags"] == ["x"]
    with pytest.raises(RegistryError, match="not a registry backup"):
        broken.restore(tmp_path / "other" / "missing.db")


def _home_with(tmp_path: Path, name: str, configured: dict[str, float], registered: list[str]) -> Registry:  # fmt: skip
    """A home whose registry holds ``registered`` and whose configurations folder holds a
    configuration (with that temperature) for each model of ``configured``."""
    from nbmodels.config.configuration import save_configuration
    from nbmodels.types import ModelConfiguration

    settings = Settings(home=tmp_path / name, hf_cache=tmp_path / "hf")
    home = Registry(settings=settings)
    for model_id in registered:
        home.register(meta(model_id))
    for model_id, temperature in configured.items():
        save_configuration(ModelConfiguration(model_id, temperature=temperature), settings=settings)
    return home


def test_restore_brings_back_the_backups_configurations_and_sets_the_homes_own_aside(
    tmp_path: Path,
) -> None:
    import re

    from nbmodels.config.configuration import (
        configuration_path,
        get_configuration,
        stored_configurations,
    )

    a = _home_with(tmp_path, "a", {"org/kept": 0.1}, ["org/kept"])
    backup = a.backup(tmp_path / "registry-backup.db")
    b = _home_with(tmp_path, "b", {"org/old": 0.5, "org/kept": 0.9}, ["org/old", "org/kept"])
    old_text = configuration_path("org/old", b.settings).read_text()
    report = b.restore(backup)
    assert report == 1 and f"{report}" == "1"  # as before: the entries it now holds
    # registry and stored configurations agree again: both are the backup's
    assert [e.metadata.id for e in b.all()] == ["org/kept"]
    assert stored_configurations(b.settings) == ["org/kept"]
    stored, registered = get_configuration("org/kept", b.settings), b.get("org/kept").configuration
    assert stored is not None and registered is not None
    assert stored.temperature == registered.temperature == 0.1
    # what it replaced is said, and nothing of the home's was deleted: set aside, dated
    assert report.replaced_entries == 2 and report.configurations == ["org/kept"]
    assert sorted(p.name for p in report.moved_aside) == ["org--kept.yaml", "org--old.yaml"]
    assert report.moved_to is not None and report.moved_to.is_relative_to(b.settings.home)
    assert re.search(r"\d{8}-\d{6}", report.moved_to.name)
    assert all(p.parent == report.moved_to and p.is_file() for p in report.moved_aside)
    assert (report.moved_to / "org--old.yaml").read_text() == old_text
    assert "org--old.yaml" in repr(report) and str(report.moved_to) in repr(report)
    # restoring the same backup again changes nothing more and sets nothing aside
    again = b.restore(backup)
    assert again == 1 and again.moved_aside == [] and again.moved_to is None


def test_restoring_an_older_backup_keeps_the_configurations_of_models_it_registers(
    tmp_path: Path,
) -> None:
    from nbmodels.config.configuration import stored_configurations

    a = _home_with(tmp_path, "a", {}, ["org/kept"])
    older = a.backup(tmp_path / "older.db")
    with sqlite3.connect(older) as con:  # a backup written before configurations went in
        con.execute("DROP TABLE IF EXISTS stored_configurations")
    b = _home_with(tmp_path, "b", {"org/old": 0.5, "org/kept": 0.9}, ["org/old", "org/kept"])
    report = b.restore(older)
    assert stored_configurations(b.settings) == ["org/kept"]  # the model it still knows
    assert [p.name for p in report.moved_aside] == ["org--old.yaml"]


@pytest.mark.parametrize("damage", ["not-sqlite", "bad-yaml", "unknown-field", "outside"])
def test_a_bad_backup_changes_neither_the_registry_nor_the_configurations(
    tmp_path: Path, damage: str
) -> None:
    a = _home_with(tmp_path, "a", {"org/kept": 0.1}, ["org/kept"])
    backup = a.backup(tmp_path / "registry-backup.db")
    if damage == "not-sqlite":
        backup.write_bytes(b"this is not a database" * 100)
    else:
        text, name = {
            "bad-yaml": ("temperature: [", "org--kept.yaml"),
            "unknown-field": ("model_id: org/kept\ntemprature: 0.2\n", "org--kept.yaml"),
            "outside": ("model_id: org/x\n", "../../registry.db"),
        }[damage]
        with sqlite3.connect(backup) as con:
            con.execute("UPDATE stored_configurations SET file = ?, text = ?", [name, text])
    b = _home_with(tmp_path, "b", {"org/old": 0.5}, ["org/old"])
    files = sorted(p.name for p in b.settings.home.rglob("*") if p.is_file())
    config = (b.settings.home / "configs" / "org--old.yaml").read_text()
    with pytest.raises(RegistryError, match="nothing was changed"):
        b.restore(backup)
    assert [e.metadata.id for e in b.all()] == ["org/old"]
    assert (b.settings.home / "configs" / "org--old.yaml").read_text() == config
    assert sorted(p.name for p in b.settings.home.rglob("*") if p.is_file()) == files


def test_the_default_registry_is_the_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBMODELS_HOME", str(tmp_path / "h1"))
    assert nbmodels.registry.path == tmp_path / "h1" / "registry.db"
    nbmodels.settings.use_settings(Settings(home=tmp_path / "h2"))
    try:
        assert nbmodels.registry.path == tmp_path / "h2" / "registry.db"
    finally:
        nbmodels.settings.use_settings(None)
    assert isinstance(nbmodels.registry, nbmodels.Registry)


# -- several processes ---------------------------------------------------------------------------
_WORKER = textwrap.dedent(
    """
    import random, sys
    from nbmodels.storage.registry import Registry
    from nbmodels.types import ModelMetadata, ModelSource
    path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reg = Registry(path)
    rng = random.Random(worker)
    for i in range(n):
        op = rng.random()
        if op < 0.4:
            reg.register(ModelMetadata(id=f"w{worker}/m{i}", source=ModelSource.HUGGING_FACE), tags=[f"w{worker}"])
        elif op < 0.8:
            reg.record_usage("org/shared", tokens_out=1)
        elif op < 0.9:
            (reg.activate if i % 2 else reg.deactivate)("org/shared")
        else:
            reg.search("m1")
    """
)


def _expected(workers: int, n: int) -> tuple[set[str], int]:
    import random

    ids, uses = set(), 0
    for w in range(workers):
        rng = random.Random(w)
        for i in range(n):
            op = rng.random()
            if op < 0.4:
                ids.add(f"w{w}/m{i}")
            elif op < 0.8:
                uses += 1
    return ids, uses


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 4])
def test_processes_sharing_a_registry_lose_no_write(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "registry.db"
    Registry(path).register(meta("org/shared"))
    n = 1000
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), str(w), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    reg = Registry(path)
    ids, uses = _expected(workers, n)
    assert {e.metadata.id for e in reg.all()} == ids | {"org/shared"}
    assert reg.stats("org/shared")["use_count"] == uses  # every increment counted
    assert reg.stats("org/shared")["tokens_out"] == uses
    assert reg.validate() == []


@pytest.mark.slow
def test_a_process_killed_mid_write_leaves_a_registry_that_opens(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    script = textwrap.dedent(
        """
        import sys
        from nbmodels.storage.registry import Registry
        from nbmodels.types import ModelMetadata, ModelSource
        reg = Registry(sys.argv[1])
        i = 0
        while True:
            reg.register(ModelMetadata(id=f"k/m{i}", source=ModelSource.HUGGING_FACE), tags=["t"])
            reg.record_usage(f"k/m{i}")
            i += 1
            if i % 100 == 0:
                print(i, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    while int(proc.stdout.readline() or 0) < 300:
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reg = Registry(path)
    assert reg.validate() == []
    n = len(reg)
    assert n >= 300
    # every entry whole: registered with its tag, usage counted (or the last one not yet)
    counted = reg.sql("SELECT count(*) AS c FROM registry WHERE use_count = 1 AND len(tags) = 1")
    assert int(counted["c"][0]) >= n - 1


@pytest.mark.slow
def test_two_processes_starting_on_an_old_schema_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    old = SQLiteStore(path, MIGRATIONS[:1])  # a file written by the version-1 nbmodels
    with old.transaction() as con:
        con.execute(
            "INSERT INTO entries (key, model_id, source, metadata, registered_at, last_updated) "
            "VALUES (?, ?, ?, ?, 1, 1)",
            [
                "huggingface:org/old",
                "org/old",
                "huggingface",
                '{"id": "org/old", "source": "huggingface"}',
            ],
        )
    old.close()
    backup = tmp_path / "old-backup.db"
    shutil.copy(path, backup)  # a backup made by the version-1 nbmodels
    script = "import sys; from nbmodels.storage.registry import Registry; print(Registry(sys.argv[1]).get('org/old').metadata.id)"  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == ["org/old", "org/old"]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert con.execute("SELECT version, count(*) FROM schema_log GROUP BY 1 ORDER BY 1").fetchall() == [(v, 1) for v in range(1, len(MIGRATIONS) + 1)]  # fmt: skip
    con.close()
    # a backup from the old schema restores, migrated
    fresh = Registry(tmp_path / "fresh.db")
    assert fresh.restore(backup) == 1 and fresh.get("org/old").usage_stats["use_count"] == 0


def test_a_registry_from_a_newer_nbmodels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(RegistryError, match="newer than this nbmodels"):
        len(Registry(path))


def test_a_lock_held_too_long_is_an_error_that_names_the_holder(tmp_path: Path) -> None:
    from nbmodels.errors import LockTimeout

    path = tmp_path / "registry.db"
    Registry(path).register(meta("org/a"))
    holder = textwrap.dedent(
        """
        import sys, time
        from nbmodels.storage.registry import Registry
        reg = Registry(sys.argv[1])
        with reg._store.transaction():
            print("holding", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        waiting = Registry(path)
        waiting._store.timeout = 0.5
        waiting.get("org/a")  # readers are not blocked (WAL)
        with pytest.raises(LockTimeout, match=f"process {proc.pid} on"):
            waiting.activate("org/a")
    finally:
        proc.kill()
        proc.wait()
    Registry(path).activate("org/a")  # the lock went with the process


def test_a_capped_search_says_so(reg: Registry) -> None:
    from nbmodels.errors import TruncatedWarning

    reg.register_many([meta(f"org/m{i}") for i in range(5)])
    with pytest.warns(TruncatedWarning, match="more than 3 matches"):
        assert len(reg.search("org", limit=3)) == 3
    assert len(reg.search("org", limit=5)) == 5  # exactly the limit: nothing left out
    assert len(reg.search("org", limit=None)) == 5


# -- the storage seam ---------------------------------------------------------------------------
#: what a registry backend provides (nbmodels.storage.backend.RegistryBackend)
SEAM = ("read", "transaction", "connection", "data_version", "migrate", "integrity",
        "backup_to", "backup_files", "restore_from", "close")  # fmt: skip


def _protocol_only(inner: object, calls: set[str]) -> object:
    """A backend with the protocol's members and nothing else (an SQLiteStore underneath):
    a registry that reached past the seam would fail on it."""

    class OnlyTheSeam:
        __slots__ = ()
        path = property(lambda self: inner.path)  # type: ignore[attr-defined]

    for name in SEAM:

        def method(self: object, *args: object, _name: str = name, **kw: object) -> object:
            calls.add(_name)
            return getattr(inner, _name)(*args, **kw)

        setattr(OnlyTheSeam, name, method)
    return OnlyTheSeam()


def test_the_registry_works_through_the_backend_protocol_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmodels.config.configuration import save_configuration
    from nbmodels.storage import backend, lookup
    from nbmodels.types import ModelConfiguration

    store = backend.open_backend(tmp_path / "plain.db", MIGRATIONS)
    assert isinstance(store, SQLiteStore) and isinstance(store, backend.RegistryBackend)
    calls: set[str] = set()

    def open_only_the_seam(location: Path | str, migrations: object) -> object:
        return _protocol_only(backend.open_backend(location, migrations), calls)  # type: ignore[arg-type]

    monkeypatch.setattr(lookup, "open_backend", open_only_the_seam)
    settings = Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf")
    reg = Registry(settings=settings)
    assert isinstance(reg._store, backend.RegistryBackend)
    assert not isinstance(reg._store, SQLiteStore)
    reg.register(meta("org/a", license="mit"), tags=["x"], aliases=["a"])
    reg.register(meta("org/b"), dependencies=["org/a"])
    save_configuration(ModelConfiguration("org/a", temperature=0.3), settings=settings)
    reg.record_usage("@a", tokens_out=5, seconds=1.0)
    assert reg.get("@a").configuration.temperature == 0.3  # type: ignore[union-attr]
    assert reg.sql("SELECT model_id FROM entries ORDER BY 1")["model_id"].tolist() == ["org/a", "org/b"]  # fmt: skip
    assert [e.metadata.id for e in reg.search("mit")] == ["org/a"] and reg.validate() == []
    backup = reg.backup(tmp_path / "backup.db")
    reg.remove("org/b")
    assert reg.restore(backup) == 2 and reg.dependencies("org/b") == ["huggingface:org/a"]
    assert reg.get("org/a").configuration is not None
    reg.close()
    assert calls == set(SEAM) - {"migrate"}  # connection() migrates on first use


def test_a_registry_location_is_a_path_a_sqlite_url_or_a_postgresql_url(
    tmp_path: Path,
) -> None:
    from nbmodels.errors import ConfigurationError
    from nbmodels.storage.backend import open_backend
    from nbmodels.storage.postgres import PostgresStore

    by_url = Registry(f"sqlite:///{tmp_path / 'reg.db'}")  # sqlite:////abs/path, as SQLAlchemy
    by_url.register(meta("org/a"))
    assert by_url.path == tmp_path / "reg.db"
    assert Registry(tmp_path / "reg.db").get("org/a").metadata.id == "org/a"
    for url in ("postgresql://team:secret@db.example/nbmodels", "postgres://db/x",
                "postgresql+psycopg://db/x"):  # fmt: skip
        reg = Registry(url)  # connects on first use: no server needed to choose the backend
        assert isinstance(reg._store, PostgresStore)
        assert "secret" not in repr(reg) and "secret" not in str(reg.path)  # never echoed
    with pytest.raises(ConfigurationError, match="No registry backend for mysql://"):
        open_backend("mysql://db/x", MIGRATIONS)
    with pytest.raises(ConfigurationError, match="names a file"):
        open_backend("sqlite://", MIGRATIONS)
