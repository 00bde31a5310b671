"""The registry on a team's PostgreSQL server (a real one: ``fixtures_postgres``): the
registry's own tests again, processes sharing it, backups and moves between the file and
the server in both directions, and the errors of a server that is down, a refused password
and a newer schema."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fixtures_postgres import GUARDED_PASSWORD, PostgresServer

# the registry's own tests, run here against PostgreSQL through the `reg` fixture below
from test_registry import (  # noqa: F401
    SEAM,
    _protocol_only,
    meta,
    test_a_capped_search_says_so,
    test_cleanup_lists_first_and_keeps_what_is_needed,
    test_every_registry_operation,
)

import nbmodels
from nbmodels.errors import ConfigurationError, LockTimeout, RegistryError
from nbmodels.settings import Settings
from nbmodels.storage.pg_dialect import row_class, translate
from nbmodels.storage.registry import MIGRATIONS, Registry
from nbmodels.types import ModelConfiguration, ModelSource, ModelType
from nbmodels.types import SupportedTask as T


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf", **kw)  # type: ignore[arg-type]


@pytest.fixture
def reg(pg_url: str, tmp_path: Path) -> Registry:
    """What tests/test_registry.py's `reg` is, on a fresh PostgreSQL database."""
    return Registry(pg_url, settings=_settings(tmp_path))


def _fill(reg: Registry) -> None:
    """A registry with a bit of everything: configurations, usage, tags, aliases, deps."""
    reg.register(
        meta("org/chat", tasks=(T.CHAT, T.TEXT_GENERATION), model_type=ModelType.INTERFACE_MODEL,
             license="apache-2.0", size_bytes=7_000_000_000, parameters=3_800_000_000),
        tags=["demo", "team"], aliases=["chat-default"],
        configuration=ModelConfiguration("org/chat", temperature=0.2, max_tokens=64, system_prompt="Be brief."),
    )  # fmt: skip
    reg.register(meta("org/embed", tasks=(T.EMBEDDING,), license="mit"), available=True)
    reg.register(meta("llama3.2:1b", source=ModelSource.OLLAMA), aliases=["small"])
    reg.register_many([meta(f"bulk/m{i}", license="mit") for i in range(20)])
    reg.add_dependency("org/chat", "org/embed")
    reg.record_usage("org/chat", tokens_in=5, tokens_out=40, seconds=2.5, task="chat", peak_bytes=1234)  # fmt: skip
    reg.record_usage("org/chat", tokens_out=10, seconds=0.25, task="chat")
    reg.record_load("org/embed", 4321)
    reg.activate("org/embed")
    reg.tag("bulk/m3", "odd", "three")


def _records(reg: Registry, query: str) -> list[dict[str, object]]:
    df = reg.sql(query)
    return df.astype(object).where(df.notna(), None).to_dict("records")  # type: ignore[return-value]


def _everything(reg: Registry) -> tuple[object, ...]:
    """All a registry holds, comparable across backends."""
    entries = reg.all()
    return (
        entries,
        [e.configuration for e in entries],
        {e.metadata.key: e.usage_stats for e in entries},
        reg.aliases(),
        sorted((k, d) for e in entries for k, d in [(e.metadata.key, x) for x in e.dependencies]),
        _records(reg, "SELECT * FROM entries ORDER BY key"),
        _records(reg, "SELECT * FROM tags ORDER BY key, tag"),
        reg.registry_stats(),
    )


# -- the SQL and its rows, without a server -----------------------------------------------------
def test_the_registrys_sqlite_statements_in_postgresqls_dialect() -> None:
    info = lambda table: (["alias", "key"], ["alias"])  # noqa: E731
    assert translate("INSERT OR IGNORE INTO tags VALUES (?, ?)") == "INSERT INTO tags VALUES (%s, %s) ON CONFLICT DO NOTHING"  # fmt: skip
    assert translate("INSERT OR REPLACE INTO aliases VALUES (?, ?)", table_info=info) == (
        "INSERT INTO aliases VALUES (%s, %s) ON CONFLICT (alias) DO UPDATE SET key = EXCLUDED.key"
    )
    assert translate("SELECT * FROM entries WHERE 1 ORDER BY key") == "SELECT * FROM entries WHERE TRUE ORDER BY key"  # fmt: skip
    assert "json_array_elements_text((entries.tasks)::json) AS json_each(value)" in translate(
        "SELECT 1 FROM json_each(entries.tasks) WHERE value = ?"
    )
    assert "extract(epoch from now())" in translate(
        "INSERT INTO l VALUES (1, strftime('%s','now'))"
    )
    assert translate("SELECT sum(configuration IS NOT NULL) FROM entries") == (
        "SELECT sum(CASE WHEN configuration IS NOT NULL THEN 1 ELSE 0 END) FROM entries"
    )
    # literals, quoted names and comments are left alone; % is psycopg's, so doubled
    assert translate("SELECT '?', \"a?\" FROM t -- what?\nWHERE x LIKE ? AND y = '50%'") == (
        "SELECT '?', \"a?\" FROM t  \nWHERE x ILIKE %s ESCAPE '' AND y = '50%%'"
    )
    ddl = translate("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, at REAL, u TEXT DEFAULT '{}')")
    assert ddl == "CREATE TABLE t (k TEXT COLLATE \"C\" PRIMARY KEY, n BIGINT, at DOUBLE PRECISION, u TEXT COLLATE \"C\" DEFAULT '{}')"  # fmt: skip
    assert translate("SELECT * FROM t WHERE k = :key", named=True) == "SELECT * FROM t WHERE k = %(key)s"  # fmt: skip
    row = row_class(("key", "tag"))(("huggingface:org/a", "x"))
    key, tag = row
    assert (row[0], row["key"], row["TAG"], key, tag, row.keys(), len(row)) == (
        "huggingface:org/a", "huggingface:org/a", "x", "huggingface:org/a", "x", ["key", "tag"], 2,
    )  # fmt: skip
    with pytest.raises(IndexError):
        row["nope"]


# -- the registry on the server -----------------------------------------------------------------
def test_the_registry_url_setting_picks_the_server_and_never_shows_the_password(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = postgres_server.new_database()
    url = postgres_server.url(db, user="guarded", password=GUARDED_PASSWORD)
    monkeypatch.setenv("NBMODELS_REGISTRY_URL", url)
    monkeypatch.setenv("NBMODELS_HOME", str(tmp_path / "home"))
    reg = nbmodels.registry
    reg.register(meta("org/a"), tags=["x"])
    assert str(reg.path) == f"postgresql://guarded@127.0.0.1:{postgres_server.port}/{db}"
    assert reg.path.exists() and Registry().get("org/a").usage_stats["tags"] == ["x"]
    for text in (repr(reg), str(reg.path), repr(reg.settings), repr(reg._store)):
        assert GUARDED_PASSWORD not in text
    assert not (tmp_path / "home" / "registry.db").exists()  # the home's file is not used
    monkeypatch.delenv("NBMODELS_REGISTRY_URL")
    assert nbmodels.registry.path == tmp_path / "home" / "registry.db"  # back to the file


def test_sql_sees_every_write_of_another_connection(reg: Registry, pg_url: str, tmp_path: Path) -> None:  # fmt: skip
    reg.register(meta("org/a"))
    assert reg.sql("SELECT count(*) AS n FROM registry")["n"][0] == 1
    other = Registry(pg_url, settings=_settings(tmp_path))  # its own session, as another kernel
    before = reg._store.data_version()
    other.register(meta("org/b"), tags=["t"])
    assert reg._store.data_version() != before
    df = reg.sql("SELECT model_id, tags FROM registry ORDER BY 1")
    assert df["model_id"].tolist() == ["org/a", "org/b"] and list(df["tags"][1]) == ["t"]


def test_a_write_that_fails_keeps_nothing(reg: Registry) -> None:
    reg.register(meta("org/a"))
    with pytest.raises(RegistryError, match=r"foreign key|violates") as err, reg._store.transaction() as con:  # fmt: skip
        con.execute("INSERT INTO entries (key, model_id, source, metadata, registered_at, last_updated) VALUES (?, ?, ?, ?, 1, 1)",
                    ["huggingface:org/half", "org/half", "huggingface", '{"id": "org/half", "source": "huggingface"}'])  # fmt: skip
        con.execute("INSERT INTO tags VALUES (?, ?)", ["huggingface:org/missing", "x"])
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no psycopg traceback
    assert "org/half" not in reg and len(reg) == 1
    reg.register(meta("org/b"))  # the connection is usable again
    assert len(reg) == 2


def test_a_dropped_connection_is_opened_again(reg: Registry, postgres_server: PostgresServer) -> None:  # fmt: skip
    reg.register(meta("org/a"))
    for then in (lambda: reg.get("org/a"), lambda: reg.activate("org/a")):  # a read, a write
        pid = reg._store.read("SELECT pg_backend_pid()")[0][0]
        with postgres_server.admin() as admin:  # as a server restart or an idle timeout does
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert then().metadata.id == "org/a"
    assert reg.is_active("org/a")


def test_a_lock_held_too_long_names_the_holder(reg: Registry, pg_url: str, tmp_path: Path) -> None:
    reg.register(meta("org/a"))
    waiting = Registry(pg_url, settings=_settings(tmp_path))
    waiting._store.timeout = 0.3  # type: ignore[attr-defined]
    with reg._store.transaction():
        assert waiting.get("org/a").metadata.id == "org/a"  # readers are not blocked
        with pytest.raises(LockTimeout, match=f"by process {os.getpid()} on .* wait for it"):
            waiting.activate("org/a")
    waiting.activate("org/a")  # the lock went with the transaction
    assert reg.is_active("org/a")


def test_the_registry_works_through_the_backend_protocol_alone(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmodels.storage import backend, lookup
    from nbmodels.storage.postgres import PostgresStore

    calls: set[str] = set()

    def open_only_the_seam(location: Path | str, migrations: object) -> object:
        return _protocol_only(backend.open_backend(location, migrations), calls)  # type: ignore[arg-type]

    monkeypatch.setattr(lookup, "open_backend", open_only_the_seam)
    reg = Registry(settings=_settings(tmp_path, registry_url=pg_url))
    assert isinstance(reg._store, backend.RegistryBackend)
    assert not isinstance(reg._store, PostgresStore)
    _fill(reg)
    assert reg.validate() == [] and len(reg.search("mit", limit=None)) == 21
    assert reg.sql("SELECT count(*) AS n FROM registry WHERE len(tags) > 0")["n"][0] == 2
    backup = reg.backup(tmp_path / "backup.db")
    reg.remove("org/embed")
    assert reg.restore(backup) == 23 and reg.dependencies("org/chat") == ["huggingface:org/embed"]
    reg.close()
    assert calls == set(SEAM) - {"migrate", "backup_files"}  # files: the home's registry only


# -- several processes --------------------------------------------------------------------------
_WORKER = textwrap.dedent(
    """
    import sys
    from nbmodels.storage.registry import Registry
    from nbmodels.types import ModelMetadata, ModelSource
    url, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reg = Registry(url)
    for i in range(n):
        reg.register(ModelMetadata(id=f"w{worker}/m{i}", source=ModelSource.HUGGING_FACE), tags=[f"w{worker}"])
        reg.record_usage(f"w{worker}/m{i}", tokens_out=i, seconds=0.5)
        reg.record_usage("org/shared", tokens_in=1, tokens_out=2, task=f"w{worker}")
    """
)


@pytest.mark.slow
def test_four_processes_lose_no_registration_and_no_usage(reg: Registry, pg_url: str) -> None:
    reg.register(meta("org/shared"))
    assert reg.sql("SELECT count(*) AS n FROM entries")["n"][0] == 1  # cached, then stale
    workers, n = 4, 50
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, pg_url, str(w), str(n)],
                              stderr=subprocess.PIPE, text=True) for w in range(workers)]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert len(reg) == workers * n + 1
    shared = reg.stats("org/shared")
    assert shared["use_count"] == workers * n and shared["tokens_in"] == workers * n
    assert shared["tokens_out"] == 2 * workers * n
    assert shared["by_task"] == {f"w{w}": n for w in range(workers)}  # read-modify-write: exact
    totals = reg.sql(
        "SELECT count(*) AS entries, sum(use_count) AS uses, sum(tokens_out) AS tokens, "
        "sum(busy_seconds) AS busy FROM entries WHERE model_id <> 'org/shared'"
    ).iloc[0]
    assert (totals["entries"], totals["uses"]) == (workers * n, workers * n)
    assert totals["tokens"] == workers * sum(range(n)) and totals["busy"] == workers * n * 0.5
    assert {t: len(reg.search(t, tag=t, limit=None)) for t in ("w0", "w3")} == {"w0": n, "w3": n}
    assert reg.validate() == []


def test_two_starting_on_an_empty_or_old_database_migrate_it_once(
    pg_url: str, tmp_path: Path
) -> None:
    from nbmodels.storage.postgres import PostgresStore

    old = PostgresStore(pg_url, MIGRATIONS[:1])  # a database of the version-1 nbmodels
    with old.transaction() as con:
        con.execute(
            "INSERT INTO entries (key, model_id, source, metadata, registered_at, last_updated) "
            "VALUES (?, ?, ?, ?, 1, 1)",
            ["huggingface:org/old", "org/old", "huggingface", '{"id": "org/old", "source": "huggingface"}'],
        )  # fmt: skip
    old.close()
    found: list[object] = []

    def start() -> None:
        try:
            found.append(Registry(pg_url, settings=_settings(tmp_path)).get("org/old").usage_stats["use_count"])  # fmt: skip
        except Exception as exc:  # pragma: no cover (the assertion shows it)
            found.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert found == [0, 0, 0]
    reg = Registry(pg_url, settings=_settings(tmp_path))
    log = reg._store.read("SELECT version, count(*) FROM schema_log GROUP BY 1 ORDER BY 1")
    assert [tuple(r) for r in log] == [(v, 1) for v in range(1, len(MIGRATIONS) + 1)]
    assert reg._store.read("SELECT version FROM schema_version")[0][0] == len(MIGRATIONS)


# -- backups and moves, both ways ---------------------------------------------------------------
def test_backups_move_between_the_file_and_the_server(reg: Registry, tmp_path: Path) -> None:
    _fill(reg)
    on_server = _everything(reg)
    backup = reg.backup(tmp_path / "from-server.db")
    with sqlite3.connect(backup) as con:  # the SQLite store's own format
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    as_file = Registry(tmp_path / "file" / "registry.db")
    assert as_file.restore(backup) == 23 and _everything(as_file) == on_server
    as_file.record_usage("org/embed", tokens_out=3)
    back = as_file.backup(tmp_path / "from-file.db")
    reg.register(meta("org/gone"))  # replaced by the restore
    assert reg.restore(back) == 23 and _everything(reg) == _everything(as_file)
    assert "org/gone" not in reg
    # a bad backup changes nothing on the server either
    (tmp_path / "bad.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryError, match=r"not a registry backup.*nothing was changed"):
        reg.restore(tmp_path / "bad.db")
    assert _everything(reg) == _everything(as_file)


def test_an_old_backup_restores_on_the_server_migrated(reg: Registry, tmp_path: Path) -> None:
    from nbmodels.storage.store import SQLiteStore

    old = SQLiteStore(tmp_path / "old.db", MIGRATIONS[:1])
    with old.transaction() as con:
        con.execute(
            "INSERT INTO entries (key, model_id, source, metadata, registered_at, last_updated) "
            "VALUES (?, ?, ?, ?, 1, 1)",
            ["huggingface:org/old", "org/old", "huggingface", '{"id": "org/old", "source": "huggingface"}'],
        )  # fmt: skip
    old.close()
    reg.register(meta("org/new"))
    assert reg.restore(tmp_path / "old.db") == 1
    assert [e.metadata.id for e in reg.all()] == ["org/old"]
    assert reg.stats("org/old")["use_count"] == 0  # the column version 2 added


def test_moving_a_registry_to_the_server_and_back_loses_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    from nbmodels.storage.transfer import migrate_registry

    home = Registry(tmp_path / "home" / "registry.db")
    _fill(home)
    counts = migrate_registry(home.path, pg_url)
    versions = {"versions": 0, "version_aliases": 0, "version_history": 0, "cards": 0}
    assert counts == {
        "entries": 23,
        "dependencies": 1,
        "tags": 4,
        "aliases": 2,
        "uses": 2,
        **versions,
    }
    server = Registry(pg_url, settings=_settings(tmp_path))
    assert _everything(server) == _everything(home)
    assert server.get("@chat-default").configuration == ModelConfiguration("org/chat", temperature=0.2, max_tokens=64, system_prompt="Be brief.")  # fmt: skip
    # the team works on the server; then it all comes back to a file
    server.record_usage("org/embed", tokens_out=7, task="embedding")
    server.set_alias("embedder", "org/embed")
    server.untag("org/chat", "team")
    with pytest.raises(RegistryError, match="already holds 23 entries: nothing was moved"):
        migrate_registry(server, home)
    assert len(home) == 23 and home.aliases() != server.aliases()
    again = migrate_registry(pg_url, home.path, replace=True)
    assert again == {
        "entries": 23,
        "dependencies": 1,
        "tags": 3,
        "aliases": 3,
        "uses": 3,
        **versions,
    }
    assert _everything(Registry(home.path)) == _everything(server)
    schema_log = "SELECT version, applied_at, pid FROM schema_log ORDER BY version"
    assert [tuple(r) for r in server._store.read(schema_log)] == [tuple(r) for r in home._store.read(schema_log)]  # fmt: skip


# -- what goes wrong, said plainly ------------------------------------------------------------------
def test_a_refused_password_is_a_clear_error_without_the_password(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    db = postgres_server.new_database()
    url = postgres_server.url(db, user="guarded", password="wrong-Pa55word")
    reg = Registry(url, settings=_settings(tmp_path))
    with pytest.raises(RegistryError, match="refused the password of user 'guarded'") as err:
        len(reg)
    text = str(err.value)
    assert f"'{db}' on 127.0.0.1:{postgres_server.port}" in text and "NBMODELS_REGISTRY_URL" in text
    assert "wrong-Pa55word" not in text + repr(reg) + str(reg.path)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    good = Registry(postgres_server.url(db, user="guarded", password=GUARDED_PASSWORD))
    assert len(good) == 0  # the right one works (and nothing was written before)


def test_a_server_that_is_down_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reg = Registry(f"postgresql://team:hunter2@127.0.0.1:{port}/models", settings=_settings(tmp_path))  # fmt: skip
    started = time.perf_counter()
    with pytest.raises(RegistryError, match=f"No PostgreSQL server answers .*'models' on 127.0.0.1:{port}.*start the server") as err:  # fmt: skip
        reg.register(meta("org/a"))
    assert time.perf_counter() - started < 5
    assert "hunter2" not in str(err.value) and err.value.__cause__ is None


def test_a_missing_database_and_a_bad_url_say_what_to_do(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with pytest.raises(RegistryError, match=r"'nowhere' on .* does not exist\. Create it"):
        len(Registry(postgres_server.url("nowhere"), settings=_settings(tmp_path)))
    with pytest.raises(ConfigurationError, match="cannot be read") as err:
        Registry("postgresql://team:s3cret@db:notaport:/x?=", settings=_settings(tmp_path))
    assert "s3cret" not in str(err.value)


def test_a_database_with_a_newer_schema_is_refused_unchanged(reg: Registry, pg_url: str, tmp_path: Path) -> None:  # fmt: skip
    reg.register(meta("org/a"))
    with reg._store.transaction() as con:
        con.execute("UPDATE schema_version SET version = 99")
    newer = Registry(pg_url, settings=_settings(tmp_path))
    with pytest.raises(RegistryError, match=rf"has schema 99, newer than this nbmodels knows \({len(MIGRATIONS)}\): upgrade nbmodels") as err:  # fmt: skip
        newer.register(meta("org/b"))
    assert "on 127.0.0.1:" in str(err.value)
    rows = reg._store.read("SELECT (SELECT version FROM schema_version), (SELECT count(*) FROM entries)")  # fmt: skip
    assert tuple(rows[0]) == (99, 1)
