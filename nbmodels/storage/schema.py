"""The registry's tables: the numbered schema migrations (``MIGRATIONS``) that build and
change them, and the names the rest of the registry reads them by.
"""

from __future__ import annotations

import os

from .backend import Connection

__all__ = ["MIGRATIONS", "REGISTRY_FILE"]

#: the home's registry: ``$NBMODELS_HOME/registry.db``
REGISTRY_FILE = "registry.db"


def _log(version: int) -> str:
    return (
        "INSERT INTO schema_log (version, applied_at, pid) "
        f"VALUES ({version}, strftime('%s','now'), {os.getpid()})"
    )


def _v1(con: Connection) -> None:
    for statement in (
        """CREATE TABLE schema_log (version INTEGER NOT NULL, applied_at REAL NOT NULL,
                                    pid INTEGER NOT NULL)""",
        """CREATE TABLE entries (
            key TEXT PRIMARY KEY,            -- "<source>:<id>", as in the catalog
            model_id TEXT NOT NULL,
            source TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            model_type TEXT,
            tasks TEXT NOT NULL DEFAULT '[]', -- JSON list of task values
            license TEXT,
            parameters INTEGER,
            size_bytes INTEGER,
            local_path TEXT,
            metadata TEXT NOT NULL,          -- the ModelMetadata, JSON
            configuration TEXT,              -- the ModelConfiguration, JSON
            download_status TEXT NOT NULL DEFAULT 'pending',
            is_available INTEGER NOT NULL DEFAULT 0,
            is_active INTEGER NOT NULL DEFAULT 0,
            registered_at REAL NOT NULL,
            last_updated REAL NOT NULL,
            last_used REAL,
            use_count INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX entries_model_id ON entries (model_id)",
        "CREATE INDEX entries_last_used ON entries (last_used)",
        """CREATE TABLE dependencies (
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            depends_on TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            PRIMARY KEY (key, depends_on))""",
        "CREATE INDEX dependencies_on ON dependencies (depends_on)",
        """CREATE TABLE tags (
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            tag TEXT NOT NULL, PRIMARY KEY (key, tag))""",
        """CREATE TABLE aliases (
            alias TEXT PRIMARY KEY,
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE)""",
        _log(1),
    ):
        con.execute(statement)


def _v2(con: Connection) -> None:
    # usage beyond a count (the engine's figures), and the memory a load really took
    for statement in (
        "ALTER TABLE entries ADD COLUMN tokens_in INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE entries ADD COLUMN tokens_out INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE entries ADD COLUMN busy_seconds REAL NOT NULL DEFAULT 0",
        "ALTER TABLE entries ADD COLUMN measured_peak_bytes INTEGER",
        "ALTER TABLE entries ADD COLUMN usage TEXT NOT NULL DEFAULT '{}'",
        # search() and popular() walk entries most used first and stop at their limit
        "CREATE INDEX entries_use_count ON entries (use_count DESC, key)",
        _log(2),
    ):
        con.execute(statement)


def _v3(con: Connection) -> None:
    # versions of a model (a Hub commit, an Ollama digest, a configuration revision), numbered
    # 1..N per model by the database: the key (key, number) refuses a number twice; the
    # aliases that point at them (production, staging), and every record, move and rollback
    for statement in (
        """CREATE TABLE versions (
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            number INTEGER NOT NULL,           -- 1..N per model
            kind TEXT NOT NULL,                -- hub, ollama or configuration
            commit_hash TEXT,                  -- the Hub commit (40 hex)
            digest TEXT,                       -- the Ollama manifest digest (64 hex)
            configuration TEXT,                -- the stored configuration, JSON
            files TEXT NOT NULL DEFAULT '[]',  -- JSON [{path, size, sha256}], as in a lockfile
            note TEXT,
            created_at TEXT NOT NULL,          -- UTC, ISO 8601
            created_by TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (key, number))""",
        """CREATE TABLE version_aliases (
            key TEXT NOT NULL,
            alias TEXT NOT NULL,
            number INTEGER NOT NULL,
            PRIMARY KEY (key, alias),
            FOREIGN KEY (key, number) REFERENCES versions(key, number) ON DELETE CASCADE)""",
        """CREATE TABLE version_history (
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            seq INTEGER NOT NULL,              -- 1..N per model, in the order things happened
            action TEXT NOT NULL,              -- record, alias or rollback
            alias TEXT,
            from_number INTEGER,
            to_number INTEGER,
            who TEXT NOT NULL DEFAULT '',
            happened_at TEXT NOT NULL,         -- UTC, ISO 8601
            note TEXT,
            PRIMARY KEY (key, seq))""",
        "CREATE INDEX version_history_action ON version_history (key, action, seq)",
        _log(3),
    ):
        con.execute(statement)


def _v4(con: Connection) -> None:
    # benchmark cards: what a model measured on this machine (speed, memory, perplexity...),
    # numbered 1..N per model by the database, against the version and configuration it ran
    for statement in (
        """CREATE TABLE cards (
            key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
            number INTEGER NOT NULL,           -- 1..N per model
            version INTEGER,                   -- the model's current version then (NULL: none)
            config_hash TEXT NOT NULL,         -- sha256 of the configuration it ran with
            complete INTEGER NOT NULL,         -- 1: every measurement was taken
            card TEXT NOT NULL,                -- the card, JSON (BenchmarkCard.to_dict())
            created_at TEXT NOT NULL,          -- UTC, ISO 8601
            created_by TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (key, number))""",
        "CREATE INDEX cards_config ON cards (key, config_hash)",
        _log(4),
    ):
        con.execute(statement)


#: numbered schema migrations: MIGRATIONS[i] takes a file from version i to i + 1
MIGRATIONS = [_v1, _v2, _v3, _v4]
_TABLES = (
    "entries",
    "dependencies",
    "tags",
    "aliases",
    "versions",
    "version_aliases",
    "version_history",
    "cards",
)
_SQL_ENTRY_COLUMNS = (
    "key, model_id, source, name, model_type, tasks, license, parameters, size_bytes, "
    "local_path, configuration, download_status, is_available, is_active, registered_at, "
    "last_updated, last_used, use_count, tokens_in, tokens_out, busy_seconds, "
    "measured_peak_bytes, usage"
)
