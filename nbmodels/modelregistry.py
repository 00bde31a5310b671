"""The model registry: what this home has, how it is configured, what it is used for.

    >>> reg = nbmodels.registry                     # the default one, in $NBMODELS_HOME
    >>> reg.register(nbmodels.model_info("org/name"), tags=["chat"], aliases=["chat-default"])
    >>> reg.get("@chat-default").is_active
    >>> reg.sql("SELECT model_id, use_count FROM entries ORDER BY use_count DESC")

One SQLite file (``$NBMODELS_HOME/registry.db``, WAL mode, through :class:`nbmodels.store.
SQLiteStore`) shared safely by every kernel on the home: each change is one transaction, so
two processes registering, activating or counting usage at once lose nothing. ``sql()`` runs
DuckDB over the registry's tables beside the catalog's ``models``. Downloads and stored
configurations register themselves; the engine records usage.

Named ``modelregistry``, not ``registry``: ``nbmodels.registry`` is the default registry
object, and a submodule of that name would replace it on the package once imported.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, ModelNotFoundError, NBModelsError, RegistryError
from .settings import Settings, default_settings, settings_generation
from .store import SQLiteStore
from .types import (
    DownloadStatus,
    FileInfo,
    ModelConfiguration,
    ModelMetadata,
    ModelRegistryEntry,
    ModelSource,
    ModelType,
    SupportedTask,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MIGRATIONS", "Registry", "RestoreReport", "default_registry"]

REGISTRY_FILE = "registry.db"
#: the table of a backup holding the home's stored configurations (file name, YAML text)
_CONFIGS_TABLE = "stored_configurations"


def _log(version: int) -> str:
    return (
        "INSERT INTO schema_log (version, applied_at, pid) "
        f"VALUES ({version}, strftime('%s','now'), {os.getpid()})"
    )


def _v1(con: sqlite3.Connection) -> None:
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


def _v2(con: sqlite3.Connection) -> None:
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


#: numbered schema migrations: MIGRATIONS[i] takes a file from version i to i + 1
MIGRATIONS = [_v1, _v2]
_TABLES = ("entries", "dependencies", "tags", "aliases")
_SQL_ENTRY_COLUMNS = (
    "key, model_id, source, name, model_type, tasks, license, parameters, size_bytes, "
    "local_path, configuration, download_status, is_available, is_active, registered_at, "
    "last_updated, last_used, use_count, tokens_in, tokens_out, busy_seconds, "
    "measured_peak_bytes, usage"
)


# -- records <-> JSON ---------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, ModelType | SupportedTask | ModelSource | DownloadStatus):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _metadata_json(meta: ModelMetadata) -> str:
    return json.dumps(_jsonable(meta), sort_keys=True)


def _metadata_from(text: str) -> ModelMetadata:
    data = json.loads(text)
    names = {f.name for f in dataclasses.fields(ModelMetadata)}
    data = {k: v for k, v in data.items() if k in names}
    data["source"] = ModelSource.parse(data["source"])
    data["tasks"] = tuple(SupportedTask.parse(t) for t in data.get("tasks") or ())
    if data.get("model_type"):
        data["model_type"] = ModelType.parse(data["model_type"])
    data["files"] = tuple(FileInfo(**f) for f in data.get("files") or ())
    for key in ("language", "tags", "architectures"):
        data[key] = tuple(data.get(key) or ())
    for key in ("created_at", "updated_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    return ModelMetadata(**data)


def _configuration_json(cfg: ModelConfiguration | None) -> str | None:
    if cfg is None:
        return None
    from .configuration import configuration_dict

    return json.dumps(configuration_dict(cfg), sort_keys=True, default=str)


def _configuration_from(text: str | None) -> ModelConfiguration | None:
    if not text:
        return None
    from .configuration import _configuration_from

    return _configuration_from(json.loads(text), Path("registry"))


def _as_origin(meta: ModelMetadata) -> ModelMetadata:
    """A model the local scan found in the HF cache or Ollama's store, under the source it
    came from (so a download and a later scan of it are one entry)."""
    origin = (meta.extra or {}).get("origin")
    if origin == "hf-cache":
        return dataclasses.replace(meta, source=ModelSource.HUGGING_FACE)
    if origin == "ollama":
        return dataclasses.replace(meta, source=ModelSource.OLLAMA)
    return meta


def register_download(settings: Settings, model_id: str, kind: str, target: Path, commit: str | None) -> None:  # fmt: skip
    """What a finished download does: the model, read from its folder, registered as
    available and completed in the home's registry."""
    from .sources.local import LocalSource

    source = ModelSource.OLLAMA if kind.startswith("ollama") else ModelSource.HUGGING_FACE
    meta = None
    if source is ModelSource.HUGGING_FACE and Path(target).is_dir():
        meta = LocalSource(settings, paths=[])._folder_model(Path(target), model_id)
    if meta is None:
        meta = ModelMetadata(id=model_id, source=source, is_downloaded=True)
    meta = dataclasses.replace(
        meta,
        source=source,
        version=commit or meta.version,
        local_path=str(target),
        is_downloaded=True,
    )
    Registry(settings=settings).register(
        meta, download_status=DownloadStatus.COMPLETED, available=True
    )


class RestoreReport(int):
    """What :meth:`Registry.restore` did. As a number: the entries the registry now holds.

    ``replaced_entries``: how many it held before (None: it could not be read);
    ``configurations``: the models whose stored configuration came from the backup;
    ``moved_aside``: the home's configuration files set aside in ``moved_to``."""

    replaced_entries: int | None
    configurations: list[str]
    moved_aside: list[Path]
    moved_to: Path | None

    def __new__(
        cls,
        entries: int,
        *,
        replaced_entries: int | None = None,
        configurations: Sequence[str] = (),
        moved_aside: Sequence[Path] = (),
        moved_to: Path | None = None,
    ) -> RestoreReport:
        report = super().__new__(cls, entries)
        report.replaced_entries = replaced_entries
        report.configurations = list(configurations)
        report.moved_aside = list(moved_aside)
        report.moved_to = moved_to
        return report

    @property
    def entries(self) -> int:
        return int(self)

    def __str__(self) -> str:  # f"restored {report} entries" reads as before
        return int.__repr__(self)

    def __repr__(self) -> str:
        was = "?" if self.replaced_entries is None else self.replaced_entries
        text = f"<RestoreReport: {int(self)} entries (replacing {was}); {len(self.configurations)} configuration(s) from the backup"  # fmt: skip
        if self.moved_aside:
            names = ", ".join(p.name for p in self.moved_aside)
            text += f"; the home's {names} set aside in {self.moved_to}"
        return text + ">"


def _backup_configurations(source: Path) -> dict[str, str] | None:
    """The stored configurations a backup holds (file name -> YAML), each checked; None for
    a backup without them (written before they went in) or a file that is no database
    (``restore_from`` says so). RegistryError when one cannot be restored."""
    from .configuration import _configuration_from

    try:
        con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        has = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [_CONFIGS_TABLE]).fetchone()  # fmt: skip
        rows = con.execute(f"SELECT file, text FROM {_CONFIGS_TABLE}").fetchall() if has else None
    except sqlite3.Error:
        return None
    finally:
        con.close()
    if rows is None:
        return None
    import yaml

    found: dict[str, str] = {}
    for name, text in rows:
        try:
            if not isinstance(name, str) or Path(name).name != name or not name.endswith(".yaml") or name.startswith("."):  # fmt: skip
                raise ValueError(f"{name!r} is not a configuration file name")
            data = yaml.safe_load(str(text))
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
            _configuration_from(data, Path(name))
        except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
            raise RegistryError(
                f"{source}: its stored configuration {name!r} cannot be restored ({exc}); "
                "nothing was changed. Restore another backup, or mend that one."
            ) from None
        found[name] = str(text)
    return found


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class Registry:
    """A persistent registry of models in one SQLite file (default: the home's).

    References (``ref``) are a catalog key (``"huggingface:org/name"``), a model id
    (``"org/name"``, when one source has it) or an alias (``"@chat-default"``).
    """

    def __init__(self, path: Path | str | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or default_settings()
        self.path = (
            Path(path).expanduser() if path is not None else self.settings.home / REGISTRY_FILE
        )
        self._store = SQLiteStore(self.path, MIGRATIONS)

    def __repr__(self) -> str:
        return f"<Registry {str(self.path)!r}>"

    def close(self) -> None:
        self._store.close()

    # -- references ---------------------------------------------------------------------------
    def _key(self, ref: str | ModelMetadata) -> str:
        if isinstance(ref, ModelMetadata):
            return ref.key
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigurationError(f"A registry reference is a model id, key or @alias; got {ref!r}.")  # fmt: skip
        ref = ref.strip()
        if ref.startswith("@"):
            rows = self._store.read("SELECT key FROM aliases WHERE alias = ?", [ref[1:]])
            if not rows:
                known = [r[0] for r in self._store.read("SELECT alias FROM aliases")]
                close = difflib.get_close_matches(ref[1:], known, n=1)
                hint = f" Did you mean '@{close[0]}'?" if close else ""
                raise ModelNotFoundError(f"No alias {ref!r} in the registry.{hint} Set one with set_alias().")  # fmt: skip
            return str(rows[0][0])
        rows = self._store.read("SELECT key FROM entries WHERE key = ? OR model_id = ?", [ref, ref])
        keys = sorted({str(r[0]) for r in rows})
        if len(keys) == 1:
            return keys[0]
        if len(keys) > 1:
            exact = [k for k in keys if k == ref]
            if exact:
                return exact[0]
            raise ModelNotFoundError(f"{ref!r} is registered from several sources ({', '.join(keys)}): use one of those keys.")  # fmt: skip
        known = [r[0] for r in self._store.read("SELECT model_id FROM entries")]
        close = difflib.get_close_matches(ref, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ModelNotFoundError(f"{ref!r} is not in the registry.{hint} register() it first.")

    # -- writing ------------------------------------------------------------------------------
    def register(
        self,
        model: ModelMetadata | str,
        *,
        configuration: ModelConfiguration | None = None,
        download_status: DownloadStatus | None = None,
        available: bool | None = None,
        tags: Iterable[str] = (),
        aliases: Iterable[str] = (),
        dependencies: Iterable[str] = (),
    ) -> ModelRegistryEntry:
        """Add ``model`` (or update it: what is not given stays as it was); returns the entry.

        A model id is looked up with ``nbmodels.model_info``. A model on disk
        (``is_downloaded``) registers as available and completed."""
        if isinstance(model, str):
            from .catalog import model_info

            model = model_info(model)
        meta = model
        now = time.time()
        if download_status is None and meta.is_downloaded:
            download_status = DownloadStatus.COMPLETED
        if available is None and meta.is_downloaded:
            available = True
        with self._store.transaction() as con:
            old = con.execute("SELECT key FROM entries WHERE key = ?", [meta.key]).fetchone()
            values = {
                "model_id": meta.id,
                "source": meta.source.value,
                "name": meta.name or meta.id.rsplit("/", 1)[-1],
                "model_type": meta.model_type.value if meta.model_type else None,
                "tasks": json.dumps([t.value for t in meta.tasks]),
                "license": meta.license,
                "parameters": meta.parameters,
                "size_bytes": meta.size_bytes,
                "local_path": meta.local_path,
                "metadata": _metadata_json(meta),
                "last_updated": now,
            }
            if configuration is not None:
                values["configuration"] = _configuration_json(configuration)
            if download_status is not None:
                values["download_status"] = DownloadStatus(download_status).value
            if available is not None:
                values["is_available"] = int(bool(available))
            if old is None:
                values |= {"key": meta.key, "registered_at": now}
                cols = ", ".join(values)
                con.execute(
                    f"INSERT INTO entries ({cols}) VALUES ({', '.join('?' for _ in values)})",
                    list(values.values()),
                )
            else:
                sets = ", ".join(f"{k} = ?" for k in values)
                con.execute(
                    f"UPDATE entries SET {sets} WHERE key = ?", [*values.values(), meta.key]
                )
            for tag in tags:
                con.execute("INSERT OR IGNORE INTO tags VALUES (?, ?)", [meta.key, str(tag)])
            for alias in aliases:
                self._alias(con, alias, meta.key)
        for dep in dependencies:
            self.add_dependency(meta.key, dep)
        return self.get(meta.key)

    def register_many(
        self, models: Iterable[ModelMetadata], *, available: bool | None = None
    ) -> int:
        """Register many models in one transaction (an index of a big cache, an import);
        returns how many. Existing entries are updated as :meth:`register` does."""
        now = time.time()
        rows = []
        for meta in models:
            avail = available if available is not None else meta.is_downloaded
            rows.append((meta.key, meta.id, meta.source.value, meta.name or meta.id.rsplit("/", 1)[-1],
                         meta.model_type.value if meta.model_type else None,
                         json.dumps([t.value for t in meta.tasks]), meta.license, meta.parameters,
                         meta.size_bytes, meta.local_path, _metadata_json(meta),
                         "completed" if meta.is_downloaded else "pending", int(bool(avail)), now, now))  # fmt: skip
        with self._store.transaction() as con:
            con.executemany(
                "INSERT INTO entries (key, model_id, source, name, model_type, tasks, license, "
                "parameters, size_bytes, local_path, metadata, download_status, is_available, "
                "registered_at, last_updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET model_id=excluded.model_id, name=excluded.name, "
                "model_type=excluded.model_type, tasks=excluded.tasks, license=excluded.license, "
                "parameters=excluded.parameters, size_bytes=excluded.size_bytes, "
                "local_path=excluded.local_path, metadata=excluded.metadata, "
                "last_updated=excluded.last_updated",
                rows,
            )
        return len(rows)

    def remove(self, ref: str) -> None:
        """Forget a model (its dependencies and aliases go with it; its files stay)."""
        key = self._key(ref)
        with self._store.transaction() as con:
            con.execute("DELETE FROM entries WHERE key = ?", [key])

    def _set(self, ref: str, **values: Any) -> ModelRegistryEntry:
        key = self._key(ref)
        values["last_updated"] = time.time()
        with self._store.transaction() as con:
            sets = ", ".join(f"{k} = ?" for k in values)
            con.execute(f"UPDATE entries SET {sets} WHERE key = ?", [*values.values(), key])
        return self.get(key)

    def activate(self, ref: str) -> ModelRegistryEntry:
        return self._set(ref, is_active=1)

    def deactivate(self, ref: str) -> ModelRegistryEntry:
        return self._set(ref, is_active=0)

    def set_configuration(self, ref: str, configuration: ModelConfiguration) -> ModelRegistryEntry:
        return self._set(ref, configuration=_configuration_json(configuration))

    def set_download_status(
        self, ref: str, status: DownloadStatus, *, local_path: str | Path | None = None
    ) -> ModelRegistryEntry:
        values: dict[str, Any] = {"download_status": DownloadStatus(status).value,
                                  "is_available": int(status is DownloadStatus.COMPLETED)}  # fmt: skip
        if local_path is not None:
            values["local_path"] = str(local_path)
        return self._set(ref, **values)

    def record_usage(
        self,
        ref: str,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        seconds: float = 0.0,
        peak_bytes: int | None = None,
        task: str | None = None,
    ) -> None:
        """Count one use (atomically: several kernels counting at once all count)."""
        key = self._key(ref)
        now = time.time()
        with self._store.transaction() as con:
            row = con.execute("SELECT usage FROM entries WHERE key = ?", [key]).fetchone()
            usage = json.loads(row[0] or "{}") if row else {}
            if task:
                by_task = usage.setdefault("by_task", {})
                by_task[task] = by_task.get(task, 0) + 1
            con.execute(
                "UPDATE entries SET use_count = use_count + 1, last_used = ?, "
                "tokens_in = tokens_in + ?, tokens_out = tokens_out + ?, "
                "busy_seconds = busy_seconds + ?, usage = ?, "
                "measured_peak_bytes = coalesce(?, measured_peak_bytes) WHERE key = ?",
                [now, int(tokens_in), int(tokens_out), float(seconds), json.dumps(usage), peak_bytes, key],
            )  # fmt: skip

    def record_load(self, ref: str, peak_bytes: int) -> None:
        """A load of the model, with the peak memory it measured (``estimate_memory``
        shows it beside the estimate)."""
        key = self._key(ref)
        with self._store.transaction() as con:
            row = con.execute("SELECT usage FROM entries WHERE key = ?", [key]).fetchone()
            usage = json.loads(row[0] or "{}") if row else {}
            usage["loads"] = int(usage.get("loads", 0)) + 1
            con.execute(
                "UPDATE entries SET measured_peak_bytes = ?, usage = ?, last_updated = ? WHERE key = ?",
                [int(peak_bytes), json.dumps(usage), time.time(), key],
            )

    def tag(self, ref: str, *tags: str) -> None:
        key = self._key(ref)
        with self._store.transaction() as con:
            con.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", [(key, t) for t in tags])

    def untag(self, ref: str, *tags: str) -> None:
        key = self._key(ref)
        with self._store.transaction() as con:
            con.executemany("DELETE FROM tags WHERE key = ? AND tag = ?", [(key, t) for t in tags])

    def _alias(self, con: sqlite3.Connection, alias: str, key: str) -> None:
        name = str(alias).lstrip("@").strip()
        if not name:
            raise ConfigurationError("An alias needs a name, e.g. 'chat-default'.")
        con.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", [name, key])

    def set_alias(self, alias: str, ref: str) -> None:
        """Point ``@alias`` at a model (moving it from another model if it was set)."""
        key = self._key(ref)
        with self._store.transaction() as con:
            self._alias(con, alias, key)

    def remove_alias(self, alias: str) -> None:
        with self._store.transaction() as con:
            con.execute("DELETE FROM aliases WHERE alias = ?", [alias.lstrip("@")])

    def aliases(self) -> dict[str, str]:
        return {str(r[0]): str(r[1]) for r in self._store.read("SELECT alias, key FROM aliases")}

    # -- dependencies -------------------------------------------------------------------------
    def add_dependency(self, ref: str, depends_on: str) -> None:
        """``ref`` needs ``depends_on`` (a draft model, an embedder, a base model). A
        dependency that would close a cycle is refused, naming the cycle."""
        key, dep = self._key(ref), self._key(depends_on)
        if key == dep:
            raise RegistryError(f"{key} cannot depend on itself.")
        with self._store.transaction() as con:
            # is there a path dep -> ... -> key already? then key -> dep closes a cycle
            path = self._path(con, dep, key)
            if path is not None:
                cycle = " -> ".join([key, *path])
                raise RegistryError(f"Refused: {key} -> {dep} would close the cycle {cycle}. Remove one of those dependencies first.")  # fmt: skip
            con.execute("INSERT OR IGNORE INTO dependencies VALUES (?, ?)", [key, dep])

    @staticmethod
    def _path(con: sqlite3.Connection, start: str, goal: str) -> list[str] | None:
        previous: dict[str, str | None] = {start: None}
        frontier = [start]
        while frontier:
            nxt = []
            for node in frontier:
                for (child,) in con.execute("SELECT depends_on FROM dependencies WHERE key = ?", [node]):  # fmt: skip
                    if child in previous:
                        continue
                    previous[child] = node
                    if child == goal:
                        path = [child]
                        while (p := previous[path[-1]]) is not None:
                            path.append(p)
                        return path[::-1]
                    nxt.append(child)
            frontier = nxt
        return None

    def remove_dependency(self, ref: str, depends_on: str) -> None:
        key, dep = self._key(ref), self._key(depends_on)
        with self._store.transaction() as con:
            con.execute("DELETE FROM dependencies WHERE key = ? AND depends_on = ?", [key, dep])

    def dependencies(self, ref: str) -> list[str]:
        key = self._key(ref)
        rows = self._store.read(
            "SELECT depends_on FROM dependencies WHERE key = ? ORDER BY 1", [key]
        )
        return [str(r[0]) for r in rows]

    def dependents(self, ref: str) -> list[str]:
        key = self._key(ref)
        rows = self._store.read(
            "SELECT key FROM dependencies WHERE depends_on = ? ORDER BY 1", [key]
        )
        return [str(r[0]) for r in rows]

    # -- reading ------------------------------------------------------------------------------
    def _entries(self, where: str = "1", params: Sequence[Any] = (), tail: str = "ORDER BY key") -> list[ModelRegistryEntry]:  # fmt: skip
        rows = self._store.read(f"SELECT * FROM entries WHERE {where} {tail}", params)
        if not rows:
            return []
        keys = [r["key"] for r in rows]
        deps: dict[str, list[str]] = {k: [] for k in keys}
        dependents: dict[str, list[str]] = {k: [] for k in keys}
        tags: dict[str, list[str]] = {k: [] for k in keys}
        if len(keys) <= 500:
            marks = ", ".join("?" for _ in keys)
            dep_rows = self._store.read(f"SELECT key, depends_on FROM dependencies WHERE key IN ({marks}) OR depends_on IN ({marks})", [*keys, *keys])  # fmt: skip
            tag_rows = self._store.read(f"SELECT key, tag FROM tags WHERE key IN ({marks})", keys)
        else:
            dep_rows = self._store.read("SELECT key, depends_on FROM dependencies")
            tag_rows = self._store.read("SELECT key, tag FROM tags")
        for k, d in dep_rows:
            if k in deps:
                deps[k].append(d)
            if d in dependents:
                dependents[d].append(k)
        for k, t in tag_rows:
            if k in tags:
                tags[k].append(t)
        return [self._entry(r, deps[r["key"]], dependents[r["key"]], tags[r["key"]]) for r in rows]

    def _entry(self, r: sqlite3.Row, deps: list[str], dependents: list[str], tags: list[str]) -> ModelRegistryEntry:  # fmt: skip
        usage = json.loads(r["usage"] or "{}")
        usage |= {"use_count": r["use_count"], "tokens_in": r["tokens_in"],
                  "tokens_out": r["tokens_out"], "busy_seconds": r["busy_seconds"],
                  "measured_peak_bytes": r["measured_peak_bytes"], "tags": sorted(tags)}  # fmt: skip
        return ModelRegistryEntry(
            metadata=_metadata_from(r["metadata"]),
            configuration=_configuration_from(r["configuration"]),
            download_status=DownloadStatus(r["download_status"]),
            is_available=bool(r["is_available"]),
            is_active=bool(r["is_active"]),
            last_used=_ts(r["last_used"]),
            last_updated=_ts(r["last_updated"]),
            usage_stats=usage,
            dependencies=sorted(deps),
            dependents=sorted(dependents),
        )

    def get(self, ref: str) -> ModelRegistryEntry:
        key = self._key(ref)
        found = self._entries("key = ?", [key])
        if not found:  # removed between the lookup and now
            raise ModelNotFoundError(f"{ref!r} is not in the registry.")
        return found[0]

    def __contains__(self, ref: object) -> bool:
        try:
            self._key(ref)  # type: ignore[arg-type]
        except (ModelNotFoundError, ConfigurationError):
            return False
        return True

    def __len__(self) -> int:
        return int(self._store.read("SELECT count(*) FROM entries")[0][0])

    def all(self) -> list[ModelRegistryEntry]:
        return self._entries()

    def by_type(self, model_type: ModelType | str) -> list[ModelRegistryEntry]:
        return self._entries("model_type = ?", [ModelType.parse(model_type).value])

    def by_task(self, task: SupportedTask | str) -> list[ModelRegistryEntry]:
        value = SupportedTask.parse(task).value
        return self._entries("EXISTS (SELECT 1 FROM json_each(entries.tasks) WHERE value = ?)", [value])  # fmt: skip

    def by_source(self, source: ModelSource | str) -> list[ModelRegistryEntry]:
        return self._entries("source = ?", [ModelSource.parse(source).value])

    def by_license(self, license: str) -> list[ModelRegistryEntry]:
        return self._entries("lower(license) = lower(?)", [license])

    def available(self) -> list[ModelRegistryEntry]:
        return self._entries("is_available = 1")

    def active(self) -> list[ModelRegistryEntry]:
        return self._entries("is_active = 1")

    def is_available(self, ref: str) -> bool:
        return self.get(ref).is_available

    def is_active(self, ref: str) -> bool:
        return self.get(ref).is_active

    def search(self, query: str = "", *, tag: str | None = None, limit: int | None = 100) -> list[ModelRegistryEntry]:  # fmt: skip
        """Entries whose id, name, task, licence or tag contains ``query`` (any case)."""
        like = f"%{query.strip().lower()}%"
        where = ("(lower(model_id) LIKE ? OR lower(name) LIKE ? OR lower(tasks) LIKE ? OR "
                 "lower(coalesce(license, '')) LIKE ? OR key IN (SELECT key FROM tags WHERE lower(tag) LIKE ?))")  # fmt: skip
        params: list[Any] = [like] * 5
        if tag is not None:
            where += " AND key IN (SELECT key FROM tags WHERE tag = ?)"
            params.append(tag)
        tail = "ORDER BY use_count DESC, key" + (f" LIMIT {int(limit) + 1}" if limit else "")
        found = self._entries(where, params, tail)
        if limit and len(found) > limit:  # a cap is said, never silent
            import warnings

            from .errors import TruncatedWarning

            warnings.warn(
                f"registry.search({query!r}) has more than {limit} matches; the {limit} most used "
                "are returned. Pass limit=None for all, or narrow the query.",
                TruncatedWarning,
                stacklevel=2,
            )
            found = found[:limit]
        return found

    def recently_used(self, n: int = 10) -> list[ModelRegistryEntry]:
        return self._entries("last_used IS NOT NULL", (), f"ORDER BY last_used DESC LIMIT {int(n)}")

    def popular(self, n: int = 10) -> list[ModelRegistryEntry]:
        return self._entries("use_count > 0", (), f"ORDER BY use_count DESC, key LIMIT {int(n)}")

    def stats(self, ref: str) -> dict[str, Any]:
        """One model's usage: uses, tokens, busy time, tokens/s, last used, measured peak."""
        e = self.get(ref)
        u = e.usage_stats
        busy = float(u.get("busy_seconds") or 0)
        return {
            "key": e.metadata.key,
            "use_count": u.get("use_count", 0),
            "tokens_in": u.get("tokens_in", 0),
            "tokens_out": u.get("tokens_out", 0),
            "busy_seconds": busy,
            "tokens_per_second": (u.get("tokens_out", 0) / busy) if busy else None,
            "last_used": e.last_used,
            "measured_peak_bytes": u.get("measured_peak_bytes"),
            "by_task": u.get("by_task", {}),
        }

    def registry_stats(self) -> dict[str, Any]:
        """Counts over the whole registry: entries, available, active, configured, by
        source and type, uses, bytes on disk."""
        r = self._store.read(
            "SELECT count(*), sum(is_available), sum(is_active), sum(configuration IS NOT NULL), "
            "sum(use_count), sum(CASE WHEN is_available = 1 THEN size_bytes ELSE 0 END) FROM entries"
        )[0]
        by_source = {str(s): int(n) for s, n in self._store.read("SELECT source, count(*) FROM entries GROUP BY 1")}  # fmt: skip
        by_type = {str(t): int(n) for t, n in self._store.read("SELECT coalesce(model_type, 'unknown'), count(*) FROM entries GROUP BY 1")}  # fmt: skip
        return {"entries": int(r[0] or 0), "available": int(r[1] or 0), "active": int(r[2] or 0),
                "configured": int(r[3] or 0), "uses": int(r[4] or 0), "bytes_available": int(r[5] or 0),
                "by_source": by_source, "by_type": by_type,
                "dependencies": int(self._store.read("SELECT count(*) FROM dependencies")[0][0])}  # fmt: skip

    def frame(self) -> pd.DataFrame:
        """The registry as a DataFrame (one row per entry, tags and dependencies as lists)."""
        return self.sql("SELECT * FROM registry ORDER BY key")

    # -- SQL -----------------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """A DuckDB SELECT over the registry (``entries``, ``dependencies``, ``tags``,
        ``aliases``, and ``registry``: entries with their tags and dependencies as lists),
        joinable with the catalog's ``models``."""
        import duckdb

        from .catalog import _READ_ONLY, default_catalog
        from .errors import SQLError

        first = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
        if first not in _READ_ONLY and first != "WITH":
            raise SQLError("registry.sql() runs SELECT statements only (the registry changes through its methods).")  # fmt: skip
        con = self._duckdb()
        if "models" in query:
            from .catalog import Catalog

            catalog = (
                default_catalog() if self.settings == default_settings() else Catalog(self.settings)
            )
            con.register("models", catalog._connection().sql("SELECT * FROM models").to_arrow_table())  # fmt: skip
        try:
            return con.execute(query, params or []).df()
        except duckdb.Error as exc:
            raise SQLError(f"{exc}".split("\n")[0]) from None
        finally:
            if "models" in query:
                con.unregister("models")

    def _duckdb(self) -> Any:
        """A DuckDB copy of the registry's tables, rebuilt only when some process has written
        since (DuckDB cannot read SQLite files here without its sqlite extension, which
        would be a download: the copy is what that extension would scan)."""
        import duckdb
        import pyarrow as pa

        version = self._store.data_version()
        cached = getattr(self, "_duck", None)
        if cached is not None and cached[0] == version:
            return cached[1]
        con = duckdb.connect(":memory:")
        sqlite_con = self._store.connection()
        for table in _TABLES:
            # the entries without their metadata JSON (the columns hold what SQL needs)
            select = f"SELECT {_SQL_ENTRY_COLUMNS} FROM entries" if table == "entries" else f"SELECT * FROM {table}"  # fmt: skip
            cur = sqlite_con.execute(select)
            names = [d[0] for d in cur.description]
            columns = list(zip(*cur.fetchall(), strict=True)) or [() for _ in names]
            data = pa.table({n: pa.array(list(col)) if col else pa.array([], pa.string()) for n, col in zip(names, columns, strict=True)})  # fmt: skip
            con.register(f"_{table}", data)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM _{table}")
            con.unregister(f"_{table}")
        con.execute(
            "CREATE VIEW registry AS SELECT e.*, "
            "e.configuration IS NOT NULL AS is_configured, "
            "coalesce((SELECT list(tag ORDER BY tag) FROM tags t WHERE t.key = e.key), []) AS tags, "
            "coalesce((SELECT list(depends_on ORDER BY depends_on) FROM dependencies d WHERE d.key = e.key), []) AS dependencies "
            "FROM entries e"
        )  # fmt: skip
        con.execute("SET enable_external_access = false")
        if cached is not None:
            cached[1].close()
        self._duck = (version, con)
        return con

    # -- keeping it true ------------------------------------------------------------------------
    def cleanup(
        self,
        *,
        unused_for: timedelta = timedelta(days=30),
        dry_run: bool = True,
        delete_files: bool = False,
    ) -> list[ModelRegistryEntry]:
        """Entries not used for ``unused_for`` (never used: registered that long ago), not
        active and nothing depending on them. ``dry_run`` (the default) only lists them;
        otherwise they are removed, and with ``delete_files`` their files in the HF cache
        or Ollama store too."""
        cutoff = time.time() - unused_for.total_seconds()
        stale = self._entries(
            "is_active = 0 AND coalesce(last_used, registered_at) < ? "
            "AND key NOT IN (SELECT depends_on FROM dependencies)",
            [cutoff],
        )
        if dry_run:
            return stale
        for e in stale:
            if delete_files:
                self._delete_files(e)
            with self._store.transaction() as con:
                con.execute("DELETE FROM entries WHERE key = ?", [e.metadata.key])
        return stale

    def _delete_files(self, e: ModelRegistryEntry) -> None:
        meta = e.metadata
        if meta.source is ModelSource.OLLAMA or meta.key.startswith("local:ollama"):
            from .ollama_store import OllamaStore

            OllamaStore(self.settings.ollama_models).delete(meta.id)
            return
        from huggingface_hub import scan_cache_dir

        try:
            cache = scan_cache_dir(self.settings.hf_cache)
        except Exception:
            return
        hashes = [rev.commit_hash for repo in cache.repos if repo.repo_id == meta.id for rev in repo.revisions]  # fmt: skip
        if hashes:
            cache.delete_revisions(*hashes).execute()

    def update_index(self) -> dict[str, list[str]]:
        """Re-sync with what is really on disk: models downloaded by other tools (the HF
        cache, Ollama's store) are registered; entries whose files were deleted behind the
        registry's back become unavailable. Returns what changed."""
        from .sources.local import LocalSource

        found = LocalSource(self.settings).search("", limit=None)
        on_disk = {}
        for m in found:
            if not m.is_downloaded:
                continue
            m = _as_origin(m)
            on_disk[m.key] = m
        added, gone, back = [], [], []
        known = {
            r["key"]: r
            for r in self._store.read("SELECT key, local_path, is_available FROM entries")
        }
        for key, m in on_disk.items():
            if key not in known:
                self.register(m, download_status=DownloadStatus.COMPLETED, available=True)
                added.append(key)
            elif not known[key]["is_available"]:
                self._set(key, is_available=1, download_status="completed", local_path=m.local_path)
                back.append(key)
        for key, row in known.items():
            path = row["local_path"]
            if row["is_available"] and key not in on_disk and (not path or not Path(path).exists()):
                self._set(key, is_available=0, download_status="pending")
                gone.append(key)
        return {"added": added, "unavailable": gone, "available_again": back}

    def validate(self, *, repair: bool = False) -> list[str]:
        """Problems found (SQLite's integrity check, entries that cannot be read, available
        models whose folder is gone); with ``repair``, what can be fixed is, and each
        message says what was done."""
        problems = [f"integrity: {p}" for p in self._store.integrity()]
        for r in self._store.read(
            "SELECT key, metadata, configuration, local_path, is_available FROM entries"
        ):
            try:
                _metadata_from(r["metadata"])
                _configuration_from(r["configuration"])
            except Exception as exc:
                problems.append(
                    f"{r['key']}: unreadable record ({exc})" + ("; removed" if repair else "")
                )
                if repair:
                    with self._store.transaction() as con:
                        con.execute("DELETE FROM entries WHERE key = ?", [r["key"]])
                continue
            if r["is_available"] and r["local_path"] and not Path(r["local_path"]).exists():
                problems.append(f"{r['key']}: marked available but {r['local_path']} is gone" + ("; marked unavailable" if repair else ""))  # fmt: skip
                if repair:
                    self._set(r["key"], is_available=0, download_status="pending")
        return problems

    def _configurations_folder(self) -> Path | None:
        """The home's stored configurations, for the home's own registry (None for a
        registry file elsewhere: those configurations are not its own)."""
        from .configuration import configurations_folder

        home = self.settings.home / REGISTRY_FILE
        return configurations_folder(self.settings) if self.path.resolve() == home.resolve() else None  # fmt: skip

    def backup(self, path: Path | str) -> Path:
        """The whole registry as one file (an SQLite database) to keep or move; the home's
        registry takes the home's stored configurations along (``restore`` puts both back)."""
        folder = self._configurations_folder()
        if folder is None:
            return self._store.backup_to(path)
        from .files import atomic_path

        target = Path(path)
        with atomic_path(target) as tmp:
            self._store.backup_to(tmp)
            files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
            con = sqlite3.connect(tmp)
            try:
                with con:
                    con.execute(f"DROP TABLE IF EXISTS {_CONFIGS_TABLE}")
                    con.execute(f"CREATE TABLE {_CONFIGS_TABLE} (file TEXT PRIMARY KEY, text TEXT NOT NULL)")  # fmt: skip
                    con.executemany(f"INSERT INTO {_CONFIGS_TABLE} VALUES (?, ?)",
                                    [(f.name, f.read_text(encoding="utf-8")) for f in files])  # fmt: skip
            finally:
                con.close()
        return target

    def restore(self, path: Path | str) -> RestoreReport:
        """Replace the registry with a backup (checked first, configurations included: a bad
        backup changes nothing; an older schema is migrated).

        For the home's registry the stored configurations become the backup's too. The
        home's configuration files the backup does not hold as they are (a model it lacks,
        or another version) are moved, never deleted, to ``<home>/replaced/configs-<date>``.
        A backup written without configurations keeps those of the models it registers.
        Returns a :class:`RestoreReport`: the entries it holds, and what it replaced."""
        source = Path(path)
        folder = self._configurations_folder()
        stored = _backup_configurations(source) if folder is not None else None
        try:
            before: int | None = len(self)
        except (NBModelsError, sqlite3.Error):
            before = None  # unreadable: that is why one restores
        self._store.restore_from(source)
        with self._store.transaction() as con:  # the configurations live in their files
            con.execute(f"DROP TABLE IF EXISTS {_CONFIGS_TABLE}")
        if folder is None:
            return RestoreReport(len(self), replaced_entries=before)
        aside, moved = self._replace_configurations(folder, stored)
        restored = sorted(_model_id_of(folder / name) for name in (stored or {}))
        return RestoreReport(len(self), replaced_entries=before, configurations=restored,
                             moved_aside=moved, moved_to=aside if moved else None)  # fmt: skip

    def _replace_configurations(
        self, folder: Path, stored: dict[str, str] | None
    ) -> tuple[Path, list[Path]]:
        """The configurations folder made the backup's (``stored``; None: keep those of the
        registered models); each file replaced is moved aside. Returns where, and what."""
        from .configuration import _store_lock
        from .files import atomic_write, ensure_dir, storage_error

        if stored is None:
            known = {str(r[0]) for r in self._store.read("SELECT model_id FROM entries")}
            keep = {f.name for f in folder.glob("*.yaml") if _model_id_of(f) in known}
        else:
            keep = {n for n, text in stored.items() if (folder / n).is_file() and _same_text(folder / n, text)}  # fmt: skip
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = self.settings.home / "replaced" / f"configs-{stamp}"
        n = 1
        while aside.exists():
            n += 1
            aside = aside.with_name(f"configs-{stamp}-{n}")
        moved: list[Path] = []
        try:
            for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
                if f.name in keep:
                    continue
                with _store_lock(f):
                    ensure_dir(aside)
                    os.replace(f, aside / f.name)
                moved.append(aside / f.name)
            for name, text in (stored or {}).items():
                if name not in keep:
                    with _store_lock(folder / name):
                        atomic_write(folder / name, text.encode("utf-8"))
        except OSError as exc:
            raise storage_error(folder, exc) from None
        return aside, moved


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _model_id_of(path: Path) -> str:
    """The model id a configuration file is of ("" when it cannot be read)."""
    from .configuration import load_configuration

    try:
        return load_configuration(path).model_id
    except (ConfigurationError, TypeError, ValueError):
        return ""


# -- the default registry ---------------------------------------------------------------------
_default: tuple[int, Registry] | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of the current settings' home (rebuilt after ``use_settings``)."""
    global _default
    with _default_lock:
        generation = settings_generation()
        settings = default_settings()
        if (
            _default is None
            or _default[0] != generation
            or _default[1].settings.home != settings.home
        ):
            _default = (generation, Registry(settings=settings))
        return _default[1]
