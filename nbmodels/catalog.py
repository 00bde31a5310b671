"""The catalog: every model nbmodels has heard of, searchable at once and offline.

``search()`` asks the sources (concurrently), keeps what they answer in a DuckDB table
``models`` saved as Parquet under ``Settings.catalog_dir``, and answers from that table with
one SQL query. A question already asked is answered from disk without the network, until
``refresh=True``. ``sql()`` runs any read-only SELECT over ``models``.

    >>> import nbmodels
    >>> nbmodels.search("llama", task="text-generation", max_params="8B", limit=10)
    >>> nbmodels.sql("SELECT author, sum(downloads) AS d FROM models GROUP BY 1 ORDER BY d DESC")

:class:`Catalog` is a plain class; the module-level functions use a default instance built
on first use from :meth:`Settings.from_env` (swap it with :func:`set_default_catalog`).
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import frame as _frame
from .errors import (
    ConfigurationError,
    CorruptCatalogError,
    FilterWarning,
    InvalidModelIdError,
    ModelNotFoundError,
    NBModelsError,
    NBModelsWarning,
    SourceWarning,
    SQLError,
    StorageError,
    TruncatedWarning,
)
from .files import atomic_path
from .settings import Settings, default_settings, settings_generation
from .sources import SORT_KEYS, Source, get_source
from .sources.base import InMemorySource
from .store import DeltaSnapshot, DeltaTable
from .tasks import resolve_task
from .types import ModelMetadata, ModelSource, ModelType, SupportedTask

__all__ = [
    "SORT_KEYS",
    "Catalog",
    "by_author",
    "by_tag",
    "by_task",
    "default_catalog",
    "model_info",
    "popular",
    "refresh",
    "search",
    "set_default_catalog",
    "sql",
    "trending",
]

_QUERY_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("query", pa.string()),
        ("limit", pa.int64()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("count", pa.int64()),
    ]
)
MODELS_FILE = "models.parquet"
QUERIES_FILE = "queries.parquet"
SCHEMA_VERSION = 1

#: the physical order of the table and of models.parquet (see Catalog._sort_table)
_PHYSICAL = "downloads DESC NULLS LAST, key"
_DEFAULT_SOURCES = ("huggingface", "ollama", "local")
_MAX_SERVER_LIMIT = 1000
#: the largest number DuckDB's BIGINT holds: the catalog's counts and sizes, and a LIMIT
_BIGINT_MAX = 2**63 - 1
_READ_ONLY = {"SELECT", "EXPLAIN"}  # DESCRIBE, SUMMARIZE, SHOW and FROM-first parse as SELECT


@dataclass(frozen=True)
class _Asked:
    """One question asked of one source, remembered so it is not asked again."""

    source: str
    query: str  # canonical JSON of the server-side part (query, author, tags, task, sort)
    limit: int | None  # how many rows were asked for (None: all)
    fetched_at: datetime
    count: int

    def covers(self, limit: int | None) -> bool:
        return self.limit is None or (limit is not None and limit <= self.limit)


def _checked_limit(limit: object) -> int | None:
    """``limit`` as search() can hand it to DuckDB; ConfigurationError saying what is allowed."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _BIGINT_MAX:
        raise ConfigurationError(
            f"limit must be a whole number from 0 to {_BIGINT_MAX}, or None for every match; "
            f"got {limit!r}."
        )
    return limit


def _checked_bound(name: str, value: object) -> int | None:
    """A min/max bound of search(), parsed ("7B", "4GB") and within the column's BIGINT."""
    if value is None:
        return None
    parse = _frame.parse_size if name.endswith("_size") else _frame.parse_count
    number = parse(value)  # type: ignore[arg-type]  # parse refuses what is not a number
    if number > _BIGINT_MAX:
        what = "bytes" if name.endswith("_size") else "parameters"
        raise ConfigurationError(
            f"{name} must be at most {_BIGINT_MAX} {what} (the largest number the catalog "
            f"holds); got {value!r}. Leave it out to set no bound."
        )
    return number


def _checked_switch(name: str, value: object, *, none: bool = False) -> Any:
    """A True/False argument of search() (None too where ``none``), as a bool."""
    if value is None and none:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if none else "True or False"
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}.")
    return bool(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _server_limit(limit: int | None) -> int | None:
    """How many rows to ask a source for: generous, because filters apply locally too."""
    if limit is None:
        return _MAX_SERVER_LIMIT
    return min(_MAX_SERVER_LIMIT, max(100, 4 * limit))


def _atomic_write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


class Catalog:
    """Models found by the sources, kept in DuckDB and on disk as Parquet.

    ``sources`` are source names (see :func:`nbmodels.available_sources`) or
    :class:`~nbmodels.sources.Source` objects; by default huggingface, ollama, local, and
    custom when ``settings.custom_catalogs`` is set. ``path`` is the folder of the Parquet
    files (default ``settings.catalog_dir``). Nothing is read or built until first use.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        sources: Sequence[str | Source] | None = None,
        path: Path | str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else default_settings()
        if sources is None:
            sources = list(_DEFAULT_SOURCES)
            if self.settings.custom_catalogs:
                sources.append("custom")
        self._specs: dict[str, str | Source] = {}
        for spec in sources:
            name = spec.name if isinstance(spec, Source) else str(spec).strip().lower()
            self._specs[name] = spec
        self._sources: dict[str, Source] = {}
        self._path = Path(path).expanduser() if path is not None else self.settings.catalog_dir
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._asked: dict[tuple[str, str], _Asked] = {}
        self._unsorted = 0  # rows appended out of order since the table was last sorted
        self.warnings: list[str] = []
        # on disk: a base file plus one delta per write (nbmodels.store.DeltaTable), so two
        # kernels adding models at once both keep theirs; what this process has applied:
        self._store = DeltaTable(self._path, "models")
        self._qstore = DeltaTable(self._path, "queries")
        self._seen: DeltaSnapshot | None = None
        self._applied: list[str] = []  # models deltas applied (in the order they came)
        self._key_delta: dict[str, str] = {}  # key -> the newest delta that wrote it
        self._qapplied: set[str] = set()
        self._delta_rows = 0  # rows in deltas since the base was written
        self._dirty: set[str] = set()  # keys changed here and not yet written
        self._qdirty: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        rows = len(self) if self._con is not None else "not loaded"
        return f"<Catalog {str(self._path)!r} rows={rows} sources={list(self._specs)}>"

    @property
    def path(self) -> Path:
        """The folder holding ``models.parquet`` and ``queries.parquet``."""
        return self._path

    @property
    def source_names(self) -> list[str]:
        return list(self._specs)

    # -- storage ----------------------------------------------------------------------------
    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is not None:
                self._sync()
            if self._con is None:
                for attempt in range(5):
                    try:
                        self._load()
                        break
                    except FileNotFoundError:  # a delta merged away while we read: again
                        self.close()
                        if attempt == 4:
                            raise
            assert self._con is not None
            return self._con

    def _load(self) -> None:
        """Base file, then every delta in order (other processes' writes included)."""
        snap = self._store.snapshot_or_corrupt(self._corrupt)
        asked = self._read_queries()
        con = duckdb.connect(":memory:")
        try:
            self._con = con
            self._load_models(con)
            self._applied, self._delta_rows, self._key_delta = [], 0, {}
            self._apply_deltas(snap.deltas)
        except BaseException:
            con.close()
            self._con = None
            raise
        # sql() may run what a person typed: no files, no network, no extensions.
        # From here on the catalog writes its Parquet files through pyarrow.
        con.execute("SET enable_external_access = false")
        self._seen, self._asked = snap, asked

    def _apply_deltas(self, names: Sequence[str]) -> None:
        """Apply deltas (one upsert for all of them). A row whose key a newer delta wrote is
        skipped, so deltas may arrive in any order and every process ends with the same
        table: the newest write of each row, by the deltas' clock-first names."""
        tables = []
        newer = self._key_delta
        for name in sorted(names):
            table = self._read_delta(self._store, name)
            keys = table["key"].to_pylist()
            keep = [newer.get(k, "") < name for k in keys]
            if not all(keep):
                table = table.filter(pa.array(keep))
            for k, kept in zip(keys, keep, strict=True):
                if kept:
                    newer[k] = name
            tables.append(_frame.conform(table))
            self._delta_rows += table.num_rows
        if tables:  # in name order: of two rows of one key, the later (newer) one wins
            self._upsert(pa.concat_tables(tables), save=False, track=False)
        self._applied.extend(sorted(names))

    def _read_delta(self, store: DeltaTable, name: str) -> pa.Table:
        """One delta file; a damaged one is a CorruptCatalogError naming it. FileNotFoundError
        (merged into the base by another process meanwhile) is the caller's to handle."""
        try:
            return store.read_delta(name)
        except FileNotFoundError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(store.delta_dir / name, exc) from None

    def _sync(self) -> None:
        """Catch up with what other processes wrote since this one last looked: their new
        deltas, applied in order (a compaction elsewhere, or a delta older than one already
        applied: reload). A directory listing when nothing changed."""
        seen = self._seen
        if seen is None or self._store.changed(seen):
            self.close()
            return
        done = set(self._applied) | seen.merged
        new = [n for n in self._store.list_deltas() if n not in done]
        if not new:
            self._sync_queries()
            return
        try:
            self._apply_deltas(new)
        except FileNotFoundError:
            self.close()
            return
        self._sync_queries()

    def _sync_queries(self) -> None:
        new = [n for n in self._qstore.list_deltas() if n not in self._qapplied]
        for name in new:
            try:
                self._asked.update(self._asked_from(self._read_delta(self._qstore, name), name))
            except FileNotFoundError:
                continue  # merged into the base: read with it at the next load
            self._qapplied.add(name)

    def _corrupt(self, path: Path, reason: object) -> CorruptCatalogError:
        return CorruptCatalogError(
            f"The catalog file {path} cannot be read ({reason}). It was left as it is: "
            f"delete {path} or call Catalog.clear() to start over (clear() keeps a copy "
            "beside it)."
        )

    def _read_parquet(self, path: Path) -> pa.Table | None:
        if not path.exists():
            return None
        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(path, exc) from None

    def _load_models(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the table ``models`` from models.parquet (DuckDB reads Parquet fastest)."""
        path = self._path / MODELS_FILE
        if not path.exists():
            con.register("_empty", _frame.SCHEMA.empty_table())
            con.execute("CREATE TABLE models AS SELECT * FROM _empty")
            con.unregister("_empty")
            return
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise self._corrupt(path, exc) from None
        version = int((schema.metadata or {}).get(b"nbmodels_schema", b"1"))
        if version > SCHEMA_VERSION:
            raise CorruptCatalogError(
                f"The catalog {path} was written by a newer nbmodels (schema {version}); "
                "upgrade nbmodels, or call Catalog.clear() to start over."
            )
        # columns the file lacks (an older schema) come back empty; unknown ones are dropped
        select = ", ".join(
            f"CAST({_frame.quote_ident(f.name) if f.name in schema.names else 'NULL'} "
            f"AS {_frame.duckdb_type(f.type)}) AS {f.name}"
            for f in _frame.SCHEMA
        )
        source = "'" + str(path).replace("'", "''") + "'"
        try:
            con.execute(f"CREATE TABLE models AS SELECT {select} FROM read_parquet({source})")
        except duckdb.Error as exc:
            raise self._corrupt(path, _duckdb_message(exc)) from None

    def _read_queries(self) -> dict[tuple[str, str], _Asked]:
        asked: dict[tuple[str, str], _Asked] = {}
        table = self._read_parquet(self._path / QUERIES_FILE)
        if table is not None:
            asked.update(self._asked_from(table, QUERIES_FILE))
        self._qapplied = set()
        snap = self._qstore.snapshot_or_corrupt(self._corrupt)
        for name in snap.deltas:
            try:
                table = self._read_delta(self._qstore, name)
            except FileNotFoundError:
                continue
            asked.update(self._asked_from(table, name))
            self._qapplied.add(name)
        return asked

    def _asked_from(self, table: pa.Table, where: str) -> dict[tuple[str, str], _Asked]:
        asked: dict[tuple[str, str], _Asked] = {}
        for row in table.to_pylist():
            try:
                item = _Asked(
                    source=str(row["source"]),
                    query=str(row["query"]),
                    limit=None if row["limit"] is None else int(row["limit"]),
                    fetched_at=row["fetched_at"],
                    count=int(row["count"] or 0),
                )
            except (KeyError, TypeError, ValueError) as exc:
                path = self._path / where
                raise CorruptCatalogError(
                    f"The catalog file {path} has a bad row ({exc}). "
                    f"Delete {path} or call Catalog.clear() to start over."
                ) from None
            asked[(item.source, item.query)] = item
        return asked

    def _save(self) -> None:
        """Write what changed here as one delta each for models and queries (never the whole
        table); :meth:`_maybe_compact` merges them when they have grown."""
        con = self._con
        if con is None:
            return
        if self._dirty:
            keys = pa.table({"key": pa.array(sorted(self._dirty), pa.string())})
            con.register("_dirty", keys)
            try:
                table = con.sql(
                    "SELECT * FROM models WHERE key IN (SELECT key FROM _dirty)"
                ).to_arrow_table()
            finally:
                con.unregister("_dirty")
            table = table.replace_schema_metadata({"nbmodels_schema": str(SCHEMA_VERSION)})
            name = self._store.append(table)
            self._applied.append(name)
            for k in self._dirty:
                self._key_delta[k] = name
            self._delta_rows += table.num_rows
            self._dirty = set()
        if self._qdirty:
            rows = [
                self._query_row(self._asked[k]) for k in sorted(self._qdirty) if k in self._asked
            ]
            self._qapplied.add(
                self._qstore.append(pa.Table.from_pylist(rows, schema=_QUERY_SCHEMA))
            )
            self._qdirty = set()

    def compact(self) -> None:
        """Merge every delta (this process's and others') into ``models.parquet`` now, as
        happens by itself when they grow; waits for a compaction running elsewhere."""
        with self._lock:
            self._connection()
            with self._store.compaction_lock(timeout=30) as mine:
                if not mine:
                    raise StorageError(f"{self._path} is being compacted by another process for more than 30 s.")  # fmt: skip
            self._maybe_compact(force=True)

    @staticmethod
    def _query_row(a: _Asked) -> dict[str, Any]:
        return {"source": a.source, "query": a.query, "limit": a.limit,
                "fetched_at": a.fetched_at, "count": a.count}  # fmt: skip

    def _maybe_compact(self, *, force: bool = False) -> bool:
        """Merge the deltas into the base when there are many (a few hundred small files
        would slow every load) or they hold many rows; skipped while another process
        compacts. Returns whether it compacted."""
        con = self._con
        if con is None:
            return False
        total = int(con.execute("SELECT count(*) FROM models").fetchall()[0][0])
        many = len(self._applied) >= 64 or self._delta_rows > max(50_000, total // 10)
        if not (force or many):
            return False
        with self._store.compaction_lock() as mine:
            if not mine:
                return False
            self._sync()  # everything on disk now, in order
            if self._con is None:  # the sync reloaded (someone compacted): done for now
                self._connection()
                return False
            self._sort_table(self._con)
            table = self._con.sql("SELECT * FROM models").to_arrow_table()
            table = table.replace_schema_metadata({"nbmodels_schema": str(SCHEMA_VERSION)})
            merged = list(self._applied)
            self._store.write_base(table, merged)
            rows = [self._query_row(a) for a in self._asked.values()]
            self._qstore.write_base(
                pa.Table.from_pylist(rows, schema=_QUERY_SCHEMA), sorted(self._qapplied)
            )
            self._seen = self._store.snapshot()
            self._applied, self._delta_rows, self._key_delta = [], 0, {}
            self._qapplied = set()
        return True

    def clear(self) -> None:
        """Forget every model and remembered query, in memory and on disk.

        A catalog file that cannot be read is not deleted but moved aside, to
        ``<name>.corrupt-<timestamp>``, so nothing is lost silently.
        """
        with self._lock:
            stamp = _now().strftime("%Y%m%dT%H%M%S%fZ")
            for name in (MODELS_FILE, QUERIES_FILE):
                path = self._path / name
                if not path.exists():
                    continue
                try:  # all of it: a good footer does not make good pages
                    pq.read_table(path)
                    readable = True
                except (OSError, pa.ArrowException):
                    readable = False
                if readable:
                    path.unlink()
                else:
                    path.replace(path.with_name(f"{name}.corrupt-{stamp}"))
            self._store.remove_all()
            self._qstore.remove_all()
            self.close()
            self._asked = {}
            self._dirty, self._qdirty = set(), set()
            self.warnings = []

    def close(self) -> None:
        """Free the in-memory table (everything is on disk; the next call loads it again)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None
            self._seen = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT count(*) FROM models").fetchall()[0]
            return int(row[0]) if row else 0

    # -- adding rows ------------------------------------------------------------------------
    def add(self, models: Iterable[ModelMetadata], *, fetched_at: datetime | None = None) -> int:
        """Insert or update models (by ``key``); returns how many rows were given."""
        return self._upsert(_frame.to_arrow(models, fetched_at=fetched_at))

    def add_frame(self, df: pd.DataFrame) -> int:
        """Bulk insert-or-update from a DataFrame with the catalog's columns.

        Columns it lacks are filled (see :func:`nbmodels.frame.normalize_frame`). This is
        the fast path for large catalogs (a million rows load in seconds).
        """
        return self._upsert(_frame.frame_to_arrow(_frame.normalize_frame(df)))

    def _upsert(self, incoming: pa.Table, *, save: bool = True, track: bool = True) -> int:
        if incoming.num_rows == 0:
            return 0
        if track:  # rows of this process's own, to write as a delta (not others' deltas)
            self._dirty.update(incoming["key"].to_pylist())
        # input order, so that the last row of a key wins (row_number() OVER () has none)
        incoming = incoming.append_column("_n", pa.array(range(incoming.num_rows), pa.int64()))
        cols = ", ".join(_frame.COLUMNS)
        with self._lock:
            # no catch-up with other processes here: a reload would drop rows of this
            # process not yet written (reads catch up; the order of deltas settles the rest)
            con = self._con if self._con is not None else self._connection()
            con.register("_incoming", incoming)
            try:
                con.execute("BEGIN")
                unique = pc.count_distinct(incoming["key"]).as_py() == incoming.num_rows
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _new AS SELECT {cols} FROM _incoming"
                    + ("" if unique else " QUALIFY _n = max(_n) OVER (PARTITION BY key)")
                )
                total = con.execute("SELECT count(*) FROM models").fetchall()[0]
                if total == (0,):
                    con.execute(f"INSERT INTO models SELECT * FROM _new ORDER BY {_PHYSICAL}")
                    self._unsorted = 0
                else:
                    # a new row keeps what the old one knew and the new one does not (a
                    # search listing has fewer fields than model_info)
                    merged = ", ".join(_frame.merge_expr(c) for c in _frame.COLUMNS)
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE _merged AS SELECT {merged} "
                        "FROM _new n LEFT JOIN models o ON n.key = o.key"
                    )
                    con.execute("DELETE FROM models WHERE key IN (SELECT key FROM _new)")
                    con.execute(f"INSERT INTO models SELECT * FROM _merged ORDER BY {_PHYSICAL}")
                    con.execute("DROP TABLE _merged")
                    self._unsorted += incoming.num_rows
                    if self._unsorted > max(10_000, (total[0] if total else 0) // 8):
                        self._sort_table(con)
                con.execute("DROP TABLE _new")
                if save:  # inside the transaction: a failed write leaves memory as it was
                    self._save()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                if track:
                    self._dirty.difference_update(incoming["key"].to_pylist())
                raise
            finally:
                con.unregister("_incoming")
            if save:
                self._maybe_compact()
            return incoming.num_rows

    def _sort_table(self, con: duckdb.DuckDBPyConnection) -> None:
        """Lay the rows out by downloads, most first.

        The default sort is by downloads, and DuckDB's top-N pushes its running threshold
        into the scan, where row-group min/max statistics then skip most of the table: on
        a table in this order, "top 50 by downloads" reads only the first row groups.
        """
        con.execute(f"CREATE OR REPLACE TABLE models AS SELECT * FROM models ORDER BY {_PHYSICAL}")
        self._unsorted = 0

    # -- the whole catalog and SQL ----------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Every row of the catalog, most downloaded first (then by key)."""
        return self._query(f"SELECT * FROM models ORDER BY {_PHYSICAL}")

    def _query(self, query: str, params: Any = None) -> pd.DataFrame:
        with self._lock:
            relation = self._connection().sql(query, params=params)
            if relation is None:  # pragma: no cover - sql() lets only queries through
                return pd.DataFrame()
            return _frame.arrow_to_frame(relation.to_arrow_table())

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one read-only SQL query (SELECT, WITH ... SELECT, DESCRIBE, SUMMARIZE,
        EXPLAIN) over the table ``models``; ``params`` fill ``?`` or ``$name`` placeholders.
        """
        if not isinstance(query, str) or not query.strip():
            raise SQLError("sql() needs a query, e.g. 'SELECT id, downloads FROM models LIMIT 5'.")
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            raise SQLError(f"{_duckdb_message(exc)}\n{_frame.columns_hint()}") from None
        kinds = [s.type.name for s in statements]
        if len(statements) != 1 or kinds[0] not in _READ_ONLY:
            what = "several statements" if len(statements) > 1 else " ".join(kinds) or "nothing"
            raise SQLError(
                f"Only one SELECT query over the table 'models' is allowed (got {what}). "
                "The catalog changes through search(), add() and clear(), not through sql()."
            )
        try:
            return self._query(query, params)
        except duckdb.Error as exc:
            raise SQLError(f"{_duckdb_message(exc)}\n{_frame.columns_hint()}") from None

    # -- sources ----------------------------------------------------------------------------
    def _source(self, name: str) -> Source:
        with self._lock:
            key = name.strip().lower()
            if key in self._sources:
                return self._sources[key]
            spec = self._specs.get(key, key)
            src = spec if isinstance(spec, Source) else get_source(spec, settings=self.settings)
            self._sources[key] = src
            if src.name != key:  # an alias ("hf") also answers to the real name
                self._sources.setdefault(src.name, src)
            return src

    def _selected(self, source: str | Sequence[str | Source] | None) -> list[str]:
        names, extra = self._selected_with_objects(source)
        if extra:
            raise ConfigurationError(
                "Source objects are taken by search(); here name a source of this catalog."
            )
        return names

    def _selected_with_objects(
        self, source: str | Source | Sequence[str | Source] | None
    ) -> tuple[list[str], dict[str, Source]]:
        """The source names a call selects, and the Source objects it passed itself (used
        for that call only: they do not join the catalog's sources)."""
        if source is None:
            return list(self._specs), {}
        names = [source] if isinstance(source, str | Source) else list(source)
        if not names:
            raise ConfigurationError("source=[] selects nothing; pass None for every source.")
        out: list[str] = []
        extra: dict[str, Source] = {}
        for name in names:
            if isinstance(name, Source):
                if name.name not in self._specs or self._specs[name.name] is not name:
                    extra[name.name] = name
                out.append(name.name)
                continue
            if not isinstance(name, str):
                raise ConfigurationError(f"A source is a name or a Source, got {name!r}.")
            name = name.strip().lower()
            if name not in self._specs:
                name = self._source(name).name  # UnknownSourceError for a typo, at once
            out.append(name)
        return list(dict.fromkeys(out)), extra

    def _kind(self, name: str, extra: dict[str, Source] | None = None) -> str:
        """The ``source`` column value of rows from the source called ``name``."""
        if extra and name in extra:
            return extra[name].kind.value
        spec = self._specs.get(name)
        if isinstance(spec, Source) or name in self._sources:
            return (spec if isinstance(spec, Source) else self._sources[name]).kind.value
        try:  # built-in names need no import to be known
            return ModelSource.parse(name).value
        except ConfigurationError:
            return self._source(name).kind.value

    def _ask(
        self,
        names: list[str],
        server: dict[str, Any],
        limit: int | None,
        *,
        refresh: bool,
        extra: dict[str, Source] | None = None,
    ) -> list[str]:
        """Ask every source in ``names`` that has not answered this question yet, at once;
        returns the names of remote sources whose answer stopped at ``limit`` (capped).

        Sources that hold their whole catalog in memory (local, custom, the Ollama library:
        :class:`~nbmodels.sources.base.InMemorySource`) are never capped: they are asked for
        every match and the catalog filters. The lock is not held while the sources work,
        so sql() and answers from disk stay quick meanwhile (the widget calls from threads).
        """
        question = json.dumps(server, sort_keys=True, default=str)
        todo: dict[str, Source] = {}
        capped: list[str] = []

        def key_of(name: str) -> str:
            # a source that hands over its whole table answers every question at once
            return _WHOLE_TABLE if name in whole else question

        whole: set[str] = set()
        with self._lock:
            self._connection()  # loads the remembered queries
            for name in names:
                try:
                    src = extra[name] if extra and name in extra else self._source(name)
                except Exception as exc:
                    self._warn(name, exc)
                    continue
                if getattr(type(src), "table", InMemorySource.table) is not InMemorySource.table:
                    whole.add(name)
                asked = None if extra and name in extra else self._asked.get((name, key_of(name)))
                if asked is not None and asked.covers(limit) and not refresh:
                    if asked.limit is not None and asked.count >= asked.limit:
                        capped.append(name)
                    continue
                todo[name] = src
        if not todo:
            return capped

        def wanted(src: Source) -> int | None:
            return None if isinstance(src, InMemorySource) else limit

        def run(src: Source) -> list[ModelMetadata] | pa.Table:
            if isinstance(src, InMemorySource):
                table = src.table(fetched_at=_now())
                if table is not None:
                    return table
            return src.search(
                server["query"],
                author=server["author"],
                tags=tuple(server["tags"]),
                task=server["task"],
                sort=server["sort"],
                limit=wanted(src),
            )

        with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="nbmodels") as pool:
            futures = {name: pool.submit(run, src) for name, src in todo.items()}
        changed = False
        with self._lock:
            for name, future in futures.items():
                error = future.exception()
                if error is None:
                    stamp = _now()
                    try:  # a source answering something other than ModelMetadata fails too
                        answer = future.result()
                        if isinstance(answer, pa.Table):
                            table = answer.cast(_frame.SCHEMA)
                        else:
                            table = _frame.to_arrow(answer, fetched_at=stamp)
                    except Exception as exc:
                        error = exc
                if error is not None:
                    self._warn(name, error)
                    continue
                self._upsert(table, save=False)
                asked_for = wanted(todo[name])
                if not (extra and name in extra):  # a one-off source object is not remembered
                    qkey = key_of(name)
                    self._asked[(name, qkey)] = _Asked(name, qkey, asked_for, stamp, table.num_rows)
                    self._qdirty.add((name, qkey))
                if asked_for is not None and table.num_rows >= asked_for:
                    capped.append(name)
                changed = True
            if changed:
                try:
                    self._save()
                    self._maybe_compact()
                except StorageError as exc:  # the answer is shown; it is not kept: say so
                    self._note(f"{exc} This answer is not kept on disk.", SourceWarning)
        return capped

    def _note(self, text: str, category: type[NBModelsWarning], once: object = None) -> None:
        """Say ``text`` in :attr:`warnings` (the status line) every time, and as a Python
        warning once per process for each ``once`` key (every time when it is None)."""
        self.warnings.append(text)
        if once is not None:
            with _warned_lock:
                if once in _warned:
                    return
                _warned.add(once)
        warnings.warn(category(text), stacklevel=_outside_stacklevel())

    def _warn(self, name: str, exc: BaseException) -> None:
        reason = str(exc) if isinstance(exc, NBModelsError) else f"{type(exc).__name__}: {exc}"
        reason = reason.rstrip()
        if not reason.endswith((".", "!", "?")):
            reason += "."
        message = f"{name} did not answer: {reason} Showing the other sources and the catalog."
        self._note(message, SourceWarning, once=("source", name, type(exc).__name__))

    def _online(self, online: bool | None, refresh: bool) -> bool:
        live = (not self.settings.offline) if online is None else bool(online)
        if refresh and not live:
            raise ConfigurationError(
                "refresh=True asks the sources, but nbmodels is offline (online=False or "
                "NBMODELS_OFFLINE); drop refresh=True to answer from the catalog on disk."
            )
        return live

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        source: str | Sequence[str] | None = None,
        task: SupportedTask | str | None = None,
        author: str | None = None,
        tag: str | None = None,
        license: str | None = None,
        language: str | None = None,
        model_type: ModelType | str | None = None,
        min_params: int | str | None = None,
        max_params: int | str | None = None,
        min_size: int | str | None = None,
        max_size: int | str | None = None,
        sort: str | None = "downloads",
        descending: bool | None = None,
        limit: int | None = 50,
        refresh: bool = False,
        online: bool | None = None,
        fits: bool = False,
    ) -> pd.DataFrame:
        """Models matching every filter given, as a DataFrame (see :mod:`nbmodels.frame`).

        ``fits=True`` keeps models whose weights, as stored, plus the runtime fit this
        machine now (usable RAM, or the emptiest GPU's free memory if larger): a quick rule
        from the size column; :func:`nbmodels.estimate_memory` gives the full estimate for
        one model. Models of unknown size are left out and counted in a FilterWarning.

        ``query`` matches case-insensitively in id, name and description, or equals a tag;
        several words must all match. ``task``, ``tag`` and ``language`` match one element of the
        row's list. ``min_params``/``max_params`` take counts (``"7B"``), ``min_size``/
        ``max_size`` bytes (``"500MB"``). ``sort`` is one of downloads, likes, trending,
        created, updated, parameters, size (most first) or name (A to Z); ``descending``
        flips that. Missing values sort last. ``limit=None`` returns every match. Numbers
        above 2**63 - 1 (DuckDB's BIGINT) are a ConfigurationError saying what is allowed.

        Sources are asked (all at once) only for questions not asked before; a failing
        source gives a :class:`~nbmodels.errors.SourceWarning` and the rest still answer.
        ``refresh=True`` asks again; ``online=False`` never asks.
        """
        self.warnings = []
        bounds = {name: _checked_bound(name, value) for name, value in (("min_params", min_params), ("max_params", max_params), ("min_size", min_size), ("max_size", max_size))}  # fmt: skip
        limit = _checked_limit(limit)
        descending = _checked_switch("descending", descending, none=True)
        fits = _checked_switch("fits", fits)
        online = _checked_switch("online", online, none=True)
        refresh = _checked_switch("refresh", refresh)
        clauses = _frame.where_clauses(
            query=query,
            task=task,
            author=author,
            tag=tag,
            license=license,
            language=language,
            model_type=model_type,
            **bounds,
        )
        if fits:
            clauses.append(_fits_clause())
        order, order_params = _frame.order_by(sort, descending, query=query)
        names, extra = self._selected_with_objects(source)
        capped: list[str] = []
        if self._online(online, refresh):
            server = {
                "query": " ".join((query or "").lower().split()) or None,
                "author": author,
                "tags": [tag] if tag else [],
                "task": resolve_task(task).word if task else None,
                "sort": sort.strip().lower() if sort else None,
            }
            capped = self._ask(names, server, _server_limit(limit), refresh=refresh, extra=extra)
        if source is not None:
            kinds = sorted({self._kind(n, extra) for n in names})
            clauses.append(
                _frame.Clause(f"source IN ({', '.join('?' for _ in kinds)})", tuple(kinds))
            )
        where = " AND ".join(c.sql for c in clauses)
        params = [p for c in clauses for p in c.params]
        exact = _frame.exact_clause(query)
        if exact is not None and limit is not None:
            # exact hits first, as two top-N queries: a CASE in front of the ORDER BY would
            # stop DuckDB from skipping row groups by the sort key (4x slower at 1M rows)
            plain, plain_params = _frame.order_by(sort, descending)
            # an exact id/name hit contains every query word: the text clauses are implied
            others = [c for c in clauses if not c.text]
            hits = self._query(
                f"SELECT * FROM models WHERE {' AND '.join([*(c.sql for c in others), exact.sql])}"
                f" ORDER BY {plain} LIMIT {int(limit)}",
                [*(p for c in others for p in c.params), *exact.params, *plain_params],
            )
            rest = self._query(
                "SELECT * FROM models"
                + (f" WHERE {where}" if where else "")
                + f" ORDER BY {plain} LIMIT {min(int(limit) + len(hits), _BIGINT_MAX)}",
                [*params, *plain_params],
            )
            if len(hits):
                rest = rest[~rest["key"].isin(set(hits["key"]))]
                result = pd.concat([hits, rest], ignore_index=True).head(int(limit))
            else:
                result = rest
        else:
            sql = "SELECT * FROM models" + (f" WHERE {where}" if where else "")
            sql += f" ORDER BY {order}"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            result = self._query(sql, [*params, *order_params])
        self._say_what_was_left_out(clauses, result, limit, capped)
        return _downloaded_from_disk(result, self.settings.hf_cache)

    def _say_what_was_left_out(
        self,
        clauses: list[_frame.Clause],
        result: pd.DataFrame,
        limit: int | None,
        capped: list[str],
    ) -> None:
        """Notes for rows a filter dropped for want of a value, and for capped sources."""
        for column in dict.fromkeys(c.bound for c in clauses if c.bound):
            others = [c for c in clauses if c.bound != column]
            where = " AND ".join([*(c.sql for c in others), f"{column} IS NULL"])
            params = [p for c in others for p in c.params]
            with self._lock:
                # fetchall: DuckDB 2 keeps a connection busy until a result is read out
                rows = (
                    self._connection()
                    .execute(f"SELECT count(*) FROM models WHERE {where}", params)
                    .fetchall()
                )
            unknown = int(rows[0][0]) if rows else 0
            if unknown:
                what = "size" if column == "size_bytes" else "parameter count"
                self._note(
                    f"{unknown:,} model{'s' if unknown != 1 else ''} with no known {what} "
                    f"{'were' if unknown != 1 else 'was'} left out by the {what} filter.",
                    FilterWarning,
                )
        if capped and (limit is None or len(result) < limit):
            for name in capped:
                self._note(
                    f"{name} answered with its first {_MAX_SERVER_LIMIT:,} matches at most; "
                    "more may exist there: narrow the query to see them.",
                    TruncatedWarning,
                )

    def popular(
        self, limit: int = 20, *, source: str | Sequence[str] | None = None, **filters: Any
    ) -> pd.DataFrame:
        """The most downloaded models."""
        return self.search(source=source, sort="downloads", limit=limit, **filters)

    def trending(
        self, limit: int = 20, *, source: str | Sequence[str] | None = None, **filters: Any
    ) -> pd.DataFrame:
        """The models trending now (the Hub's trending score)."""
        return self.search(source=source, sort="trending", limit=limit, **filters)

    def by_author(self, author: str, *, limit: int | None = 50, **filters: Any) -> pd.DataFrame:
        """Models of one author or organisation (case-insensitive)."""
        return self.search(author=author, limit=limit, **filters)

    def by_tag(self, tag: str, *, limit: int | None = 50, **filters: Any) -> pd.DataFrame:
        """Models with one tag."""
        return self.search(tag=tag, limit=limit, **filters)

    def by_task(
        self, task: SupportedTask | str, *, limit: int | None = 50, **filters: Any
    ) -> pd.DataFrame:
        """Models that can do one task (``"text-generation"``, ``SupportedTask.EMBEDDING``...)."""
        return self.search(task=task, limit=limit, **filters)

    def refresh(self, *, source: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Ask the sources again every question asked before; returns the rows refreshed."""
        self.warnings = []
        self._online(None, True)
        self._connection()
        names = set(self._selected(source))
        started = _now()
        questions: dict[str, tuple[list[str], int | None]] = {}
        with self._lock:
            for asked in self._asked.values():
                if asked.source in names:  # the same question to several sources: at once
                    who, limit = questions.get(asked.query, ([], 0))
                    if limit is None or asked.limit is None:
                        limit = None
                    else:
                        limit = max(limit, asked.limit)
                    questions[asked.query] = ([*who, asked.source], limit)
        for qkey, (who, limit) in questions.items():
            self._ask(who, json.loads(qkey), limit, refresh=True)
        return self._query(
            "SELECT * FROM models WHERE fetched_at >= ? ORDER BY downloads DESC NULLS LAST, key",
            [started],
        )

    def model_info(
        self, model_id: str, *, source: str | None = None, revision: str | None = None
    ) -> ModelMetadata:
        """Everything the source(s) know about one model; the catalog keeps the answer.

        ``model_id`` may be a catalog key (``"ollama:llama3.2:1b"``). Without ``source``,
        the sources are asked in order and the first that knows the model answers. When no
        source can be reached, the catalog's row answers (with a SourceWarning). When none
        knows it, the error says what each source answered. ``revision`` (a branch, tag or
        commit) goes to the sources that have revisions (the Hub); that answer is not kept.
        """
        self.warnings = []
        if not isinstance(model_id, str) or not model_id.strip():
            raise ConfigurationError(f"model_info() needs a model id, got {model_id!r}.")
        model_id = model_id.strip()
        prefix, sep, rest = model_id.partition(":")
        kind_values = {s.value for s in ModelSource}
        if source is None and sep and prefix in kind_values:
            source, model_id = prefix, rest
        if isinstance(source, str) and source.strip().lower() in kind_values - set(self._specs):
            # a row's ``source`` column ("huggingface"): the catalog's sources of that kind
            kind = source.strip().lower()
            candidates = [n for n in self._specs if self._kind(n) == kind] or [kind]
        else:
            candidates = self._selected(source)
        if revision is not None:
            candidates = [n for n in candidates if _takes_revision(self._source(n))]
            if not candidates:
                raise ConfigurationError(
                    f"revision={revision!r} needs a source with revisions (the Hub); "
                    "drop revision= or name such a source with source=..."
                )
        answers: dict[str, str] = {}  # what each source said, for the error
        invalid = 0
        unanswered = self.settings.offline
        if self.settings.offline:
            answers = dict.fromkeys(candidates, "not asked (offline)")
        else:
            for name in candidates:
                src = self._source(name)
                try:
                    if revision is None:
                        meta = src.model_info(model_id)
                    else:
                        meta = src.model_info(model_id, revision=revision)  # type: ignore[call-arg]
                except ModelNotFoundError as exc:
                    answers[name] = _first_sentence(exc) if revision else "no such model"
                    continue
                except InvalidModelIdError as exc:
                    answers[name] = f"not a valid id there ({_first_sentence(exc)})"
                    invalid += 1
                    continue
                except Exception as exc:
                    self._warn(name, exc)
                    answers[name] = f"did not answer ({_first_sentence(exc)})"
                    unanswered = True
                    continue
                if revision is None:
                    self._upsert(_frame.to_arrow([meta]))
                return meta  # with what the catalog has no columns for (files, extra...)
        said = "; ".join(f"{name}: {text}" for name, text in answers.items())
        if not unanswered:
            error = InvalidModelIdError if invalid == len(candidates) else ModelNotFoundError
            raise error(
                f"No model {model_id!r}. {said}. Check the id (search() lists what is known), "
                "or name the source with source=..."
            )
        kinds = [self._kind(n) for n in candidates]
        df = self._query(
            f"SELECT * FROM models WHERE id = ? AND source IN ({', '.join('?' for _ in kinds)}) "
            "ORDER BY fetched_at DESC LIMIT 1",
            [model_id, *kinds],
        )
        if len(df) and revision is None:
            return _frame.from_row(df.iloc[0])
        raise ModelNotFoundError(
            f"No model {model_id!r} in the catalog, and not every source could be asked. "
            f"{said}. Check the id, or try again when the source can be reached."
        )

    def get(self, key: str) -> ModelMetadata:
        """The catalog's row for ``key`` (``"<source>:<id>"``), without asking any source."""
        df = self._query("SELECT * FROM models WHERE key = ?", [key])
        if not len(df):
            raise ModelNotFoundError(
                f"No row {key!r} in the catalog; search() or model_info() first."
            )
        return _frame.from_row(df.iloc[0])


def hf_cached_repos(cache: Path) -> set[str]:
    """Repo ids with at least one snapshot in the Hugging Face cache at ``cache``: what is on
    disk now (a listing of folders, no hashing; ``nbmodels.verify`` checks the bytes)."""
    found: set[str] = set()
    try:
        entries = list(Path(cache).iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.startswith("models--"):
            continue
        snapshots = entry / "snapshots"
        try:
            if any(any(commit.iterdir()) for commit in snapshots.iterdir() if commit.is_dir()):
                found.add(entry.name.removeprefix("models--").replace("--", "/", 1))
        except OSError:
            continue
    return found


def _downloaded_from_disk(frame: pd.DataFrame, cache: Path) -> pd.DataFrame:
    """``is_downloaded`` of Hub rows as the disk says now, not as it was when the row was
    fetched (a flag stored then goes stale when a model is downloaded or deleted later)."""
    if not len(frame) or "is_downloaded" not in frame:
        return frame
    hub = frame["source"] == ModelSource.HUGGING_FACE.value
    if hub.any():
        frame.loc[hub, "is_downloaded"] = frame.loc[hub, "id"].isin(hf_cached_repos(cache))
    return frame


def _takes_revision(source: Source) -> bool:
    try:
        return "revision" in inspect.signature(source.model_info).parameters
    except (TypeError, ValueError):
        return False


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of an error, for a one-line summary of several answers."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    head, dot, _ = text.partition(". ")
    return (head + dot).rstrip(". ")


def _outside_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside nbmodels."""
    package = str(Path(__file__).resolve().parent)
    level = 1
    frame: FrameType | None = sys._getframe(2)  # 2: the caller of the function that warns
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back
    return level + 1


def _duckdb_message(exc: BaseException) -> str:
    return str(exc).strip()


#: the question a source that hands over its whole table (``InMemorySource.table``) answers
_WHOLE_TABLE = '{"whole table": true}'

# -- the default catalog --------------------------------------------------------------------
#: (source, error type) pairs already warned about in this process: once is enough
_warned: set[object] = set()
_warned_lock = threading.Lock()

_default: Catalog | None = None
_default_for: int | None = None  # the settings generation it was built for; None: chosen
_default_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The catalog the module-level functions use: built on first use from
    :func:`~nbmodels.settings.default_settings`, again after :func:`~nbmodels.settings.use_settings`."""
    global _default, _default_for
    with _default_lock:
        generation = settings_generation()
        if _default is None or (_default_for is not None and _default_for != generation):
            if _default is not None:
                _default.close()
            _default, _default_for = Catalog(default_settings()), generation
        return _default


def set_default_catalog(catalog: Catalog | None) -> None:
    """Use ``catalog`` for the module-level functions (None: build a fresh one next time)."""
    global _default, _default_for
    if catalog is not None and not isinstance(catalog, Catalog):
        raise ConfigurationError(f"set_default_catalog() takes a Catalog, got {catalog!r}.")
    with _default_lock:
        _default, _default_for = catalog, None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _delegate(method: Callable[Concatenate[Catalog, _P], _R]) -> Callable[_P, _R]:
    """A module-level function calling ``method`` on the default catalog."""

    @functools.wraps(method)
    def function(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return method(default_catalog(), *args, **kwargs)

    sig = inspect.signature(method)
    function.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    function.__qualname__ = method.__name__
    return function


search = _delegate(Catalog.search)
sql = _delegate(Catalog.sql)
popular = _delegate(Catalog.popular)
trending = _delegate(Catalog.trending)
by_author = _delegate(Catalog.by_author)
by_tag = _delegate(Catalog.by_tag)
by_task = _delegate(Catalog.by_task)
model_info = _delegate(Catalog.model_info)
refresh = _delegate(Catalog.refresh)


def fit_limit_bytes() -> int:
    """The largest model size (bytes on disk) this machine can run now: weights x 1.2 (KV
    cache and activations at a modest context) + 256 MiB of runtime (``nbmodels.memory``'s
    calibration) within the usable RAM or the largest free GPU memory."""
    from .machine import hardware

    hw = hardware()
    room = max([hw.usable_ram_bytes, *(g.free_bytes or 0 for g in hw.gpus)])
    return int(max(0.0, (room - 256 * 2**20) / 1.2))


def _fits_clause() -> _frame.Clause:
    """``size_bytes`` small enough for this machine (:func:`fit_limit_bytes`)."""
    return _frame.Clause("size_bytes <= ?", (fit_limit_bytes(),), bound="size_bytes")
