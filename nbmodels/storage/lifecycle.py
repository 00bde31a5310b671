"""A registry entry's life: registering models (one or many at once), their state
(available, active, configured), usage counted atomically, tags, ``@aliases``, and the
dependencies between models (a cycle is refused). Each change is one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, RegistryError
from ..types import DownloadStatus, ModelConfiguration, ModelMetadata, ModelRegistryEntry
from .backend import Connection
from .lookup import RegistryLookup
from .records import _configuration_json, _metadata_json


class RegistryLifecycle(RegistryLookup):
    """Registering, changing and forgetting entries, their tags, aliases and dependencies."""

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
            from ..discover.catalog import model_info

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

    def _alias(self, con: Connection, alias: str, key: str) -> None:
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
    def _path(con: Connection, start: str, goal: str) -> list[str] | None:
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
