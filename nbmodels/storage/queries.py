"""Asking the registry: entries by type, task, source, licence or state, a search,
usage figures, the whole registry as a DataFrame, and DuckDB SQL over its tables
(joinable with the catalog's ``models``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..settings import default_settings
from ..types import ModelRegistryEntry, ModelSource, ModelType, SupportedTask
from .lookup import RegistryLookup
from .schema import _SQL_ENTRY_COLUMNS, _TABLES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class RegistryQueries(RegistryLookup):
    """Reading the registry: lists of entries, figures, SQL."""

    # -- lists --------------------------------------------------------------------------------
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

            from ..errors import TruncatedWarning

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

        from ..discover.catalog import _READ_ONLY, default_catalog
        from ..errors import SQLError

        first = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
        if first not in _READ_ONLY and first != "WITH":
            raise SQLError("registry.sql() runs SELECT statements only (the registry changes through its methods).")  # fmt: skip
        con = self._duckdb()
        if "models" in query:
            from ..discover.catalog import Catalog

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
