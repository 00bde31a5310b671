"""Where the catalog keeps its rows: the DuckDB table ``models`` in memory, and on disk a
Parquet base file plus one delta per write (so that kernels writing at once all keep theirs).

:class:`CatalogStorage` loads, catches up with other processes, upserts, compacts, clears and
answers SQL; :class:`~nbmodels.discover.catalog.Catalog` builds searching on top of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import CorruptCatalogError, StorageError
from ..files import atomic_path
from ..storage.store import DeltaSnapshot, DeltaTable
from ..types import ModelMetadata
from . import frame as _frame
from .sqlguard import check_read_only, duckdb_message, sql_error

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


def _now() -> datetime:
    return datetime.now(UTC)


def _atomic_write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


class CatalogStorage:
    """The table ``models`` of one catalog folder, in DuckDB and on disk as Parquet."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._asked: dict[tuple[str, str], _Asked] = {}
        self._unsorted = 0  # rows appended out of order since the table was last sorted
        self.warnings: list[str] = []
        # on disk: a base file plus one delta per write (nbmodels.storage.store.DeltaTable), so two
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
            raise self._corrupt(path, duckdb_message(exc)) from None

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

    def __enter__(self) -> Self:
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

        Columns it lacks are filled (see :func:`nbmodels.discover.frame.normalize_frame`). This is
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
        check_read_only(query)
        try:
            return self._query(query, params)
        except duckdb.Error as exc:
            raise sql_error(exc) from None
