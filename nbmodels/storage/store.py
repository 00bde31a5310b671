"""What nbmodels keeps on disk, safe when several kernels share one home.

Two engines, each for what it does best (measured: ``benchmarks/bench_registry.py``, and
``docs/architecture.md`` for the reasoning):

- :class:`SQLiteStore`: small records that many processes write (the registry, usage
  records). SQLite in WAL mode lets readers run beside one writer and queues writers with a
  bounded wait; every change is a transaction (``BEGIN IMMEDIATE``: a read-modify-write
  cannot lose another process's update); schema changes go through numbered migrations run
  inside such a transaction, so two processes starting on an old file migrate it once.
- :class:`DeltaTable`: the catalog, an analytic table of up to millions of rows that DuckDB
  queries. A write never rewrites the table: each writer adds its changed rows as a new
  Parquet file (a *delta*, written to a temporary name and renamed into place, so a killed
  process leaves no half file), and readers apply deltas in name order (a nanosecond clock
  first). No two writers touch the same file, so no update is lost. Now and then the deltas
  are compacted into the base file under a lock.

Both raise :class:`~nbmodels.errors.StorageError` (or a subclass) with what to do; a lock
held too long by another process is an error that names the holder, not a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LockTimeout, RegistryError, StorageError
from ..files import atomic_path, ensure_dir

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["DeltaSnapshot", "DeltaTable", "LockTimeout", "SQLiteStore"]


def _holder_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        age = time.time() - float(info.get("since", time.time()))
        return f"process {info.get('pid')} on {info.get('host')} (for {age:.0f} s)"
    except (OSError, ValueError, TypeError):
        return "another process"


# -- SQLite: many writers, small records -----------------------------------------------------------
Migration = Callable[[sqlite3.Connection], None] | str
#: the table in which a backup carries files beside the database (the registry's stored
#: configurations: the name its backups have always used); never part of a live database
BACKUP_FILES_TABLE = "stored_configurations"


class SQLiteStore:
    """One SQLite database file in WAL mode, with numbered migrations.

    ``migrations[i]`` (SQL text or a function of the connection) takes the schema from
    version ``i`` to ``i + 1``; ``PRAGMA user_version`` records where a file is. A file from
    a newer nbmodels is refused (nothing is changed). ``timeout`` bounds how long a write
    waits for another process's transaction.
    """

    def __init__(
        self, path: Path | str, migrations: Sequence[Migration], *, timeout: float = 15.0
    ) -> None:
        self.path = Path(path)
        self.migrations = list(migrations)
        self.timeout = timeout
        self._local = threading.local()
        self.commits = 0  # write transactions committed by this object (a cache key)
        self._ready = False
        self._ready_lock = threading.Lock()

    @property
    def version(self) -> int:
        """The schema version this code writes."""
        return len(self.migrations)

    @property
    def _holder_path(self) -> Path:
        return self.path.with_name(self.path.name + ".holder")

    def _open(self) -> sqlite3.Connection:
        ensure_dir(self.path.parent)
        try:
            con = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            con.execute("PRAGMA foreign_keys=ON")
            con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        return con

    def _corrupt(self, exc: BaseException) -> RegistryError:
        return RegistryError(
            f"{self.path} cannot be opened as a registry ({exc}). It was left as it is: "
            "restore a backup with Registry.restore(path), or move the file aside to start "
            "an empty registry."
        )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are per thread), migrated."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = self._open()
            self._local.con = con
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.migrate(con)
                    self._ready = True
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def _begin(self, con: sqlite3.Connection) -> None:
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LockTimeout(
                    f"{self.path} stayed locked for {self.timeout:.0f} s by "
                    f"{_describe_holder(self._holder_path)}: wait for it, or stop that "
                    "process if it hangs."
                ) from None
            raise self._corrupt(exc) from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        with contextlib.suppress(OSError):  # who holds the write lock, for the message above
            self._holder_path.write_text(_holder_text())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: every statement inside commits together or not at all."""
        con = self.connection()
        self._begin(con)
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            try:
                con.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                con.execute("ROLLBACK")
                raise self._corrupt(exc) from None
            self.commits += 1

    def data_version(self) -> tuple[int, int]:
        """Changes whenever any process commits to the file (SQLite's ``data_version`` for
        other connections' commits, :attr:`commits` for this object's own)."""
        return int(self.connection().execute("PRAGMA data_version").fetchone()[0]), self.commits

    def read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise LockTimeout(f"{self.path} is locked: {exc}") from None
            raise self._corrupt(exc) from None

    def migrate(self, con: sqlite3.Connection | None = None) -> int:
        """Bring the file to :attr:`version` (each step in one transaction with the version
        bump, so two processes starting at once migrate it once); returns the old version."""
        con = con or self._open()
        try:
            found = int(con.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        if found > self.version:
            raise RegistryError(
                f"{self.path} has schema {found}, newer than this nbmodels knows ({self.version}): "
                "upgrade nbmodels to use it."
            )
        if found == self.version:
            return found
        self._begin(con)
        try:
            current = int(con.execute("PRAGMA user_version").fetchone()[0])  # under the lock
            run_migration_steps(con, self.migrations, current)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return found

    def integrity(self) -> list[str]:
        """SQLite's own check of every page and index: ``[]`` when the file is sound."""
        rows = self.read("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems

    def backup_to(self, target: Path | str, *, files: Mapping[str, str] | None = None) -> Path:
        """A consistent copy of the whole database as one file (SQLite's online backup);
        with ``files`` (name -> text), the file carries them too (:meth:`backup_files`)."""
        target = Path(target)
        with atomic_path(target) as tmp:
            dest = sqlite3.connect(tmp)
            try:
                self.connection().backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dest.close()
            if files is not None:
                _write_files(tmp, files)
        return target

    def backup_files(self, source: Path | str) -> list[tuple[Any, Any]] | None:
        """The (name, text) pairs a backup carries, as stored (a damaged backup may hold
        anything: the caller checks them); None for a backup without them (or written
        before they went in) or a file that is no database (:meth:`restore_from` says so)."""
        try:
            con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        except sqlite3.Error:
            return None
        try:
            has = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [BACKUP_FILES_TABLE]).fetchone()  # fmt: skip
            if not has:
                return None
            return [tuple(r) for r in con.execute(f"SELECT file, text FROM {BACKUP_FILES_TABLE}")]
        except sqlite3.Error:
            return None
        finally:
            con.close()

    def restore_from(self, source: Path | str) -> int:
        """Replace the database's content with a backup file's (checked first, migrated to
        this version; the files it carries are left out: read them with
        :meth:`backup_files` first); returns the backup's schema version."""
        source = Path(source)
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            check = src.execute("PRAGMA integrity_check").fetchall()
            found = int(src.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{source} is not a registry backup ({exc}); nothing was changed.") from None  # fmt: skip
        if [r[0] for r in check] != ["ok"]:
            src.close()
            raise RegistryError(f"{source} is damaged ({check[0][0]}); nothing was changed.")
        if found > self.version:
            src.close()
            raise RegistryError(
                f"{source} has schema {found}, newer than this nbmodels ({self.version}); "
                "nothing was changed: upgrade nbmodels to restore it."
            )
        self.close()
        # the live file may be unreadable (that is why one restores): replace it whole
        for suffix in ("-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        with atomic_path(self.path) as tmp:
            dest = sqlite3.connect(tmp)
            try:
                src.backup(dest)
            finally:
                dest.close()
                src.close()
        self._ready = False
        self.connection()  # migrates an older backup to this version
        with self.transaction() as con:  # the files it carried live elsewhere
            con.execute(f"DROP TABLE IF EXISTS {BACKUP_FILES_TABLE}")
        return found


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _write_files(database: Path, files: Mapping[str, str]) -> None:
    """``files`` into the backup ``database``, in its :data:`BACKUP_FILES_TABLE`."""
    con = sqlite3.connect(database)
    try:
        with con:
            con.execute(f"DROP TABLE IF EXISTS {BACKUP_FILES_TABLE}")
            con.execute(f"CREATE TABLE {BACKUP_FILES_TABLE} (file TEXT PRIMARY KEY, text TEXT NOT NULL)")  # fmt: skip
            con.executemany(f"INSERT INTO {BACKUP_FILES_TABLE} VALUES (?, ?)", list(files.items()))
    finally:
        con.close()


# -- Parquet deltas: one analytic table, many writers ----------------------------------------------
@dataclass(frozen=True)
class DeltaSnapshot:
    """What is on disk at one moment: the base file (and its identity), and the deltas not
    yet merged into it, in the order they apply."""

    base: Path | None
    base_id: tuple[int, int] | None
    deltas: tuple[str, ...] = ()
    merged: frozenset[str] = field(default_factory=frozenset)


class DeltaTable:
    """A table as ``<name>.parquet`` (the base) plus ``<name>.deltas/*.parquet``.

    The caller owns the meaning of rows (keys, merges); this class owns files: atomic
    appends, listing in order, compaction under a lock, and what a reader needs to know to
    stay in step with other processes (:meth:`snapshot`).
    """

    METADATA_KEY = b"nbmodels_merged"

    def __init__(self, folder: Path | str, name: str) -> None:
        self.folder = Path(folder)
        self.name = name
        self.base_path = self.folder / f"{name}.parquet"
        self.delta_dir = self.folder / f"{name}.deltas"

    def snapshot(self) -> DeltaSnapshot:
        import pyarrow.parquet as pq

        base_id = None
        merged: frozenset[str] = frozenset()
        base: Path | None = None
        try:
            st = self.base_path.stat()
            base, base_id = self.base_path, (st.st_ino, st.st_mtime_ns)
            meta = pq.read_schema(self.base_path).metadata or {}
            if self.METADATA_KEY in meta:
                merged = frozenset(json.loads(meta[self.METADATA_KEY]))
        except (FileNotFoundError, NotADirectoryError):  # nothing written yet
            base, base_id = None, None
        except (OSError, ValueError) as exc:
            raise StorageError(f"{self.base_path} cannot be read ({exc}).") from None
        except Exception as exc:  # pyarrow's errors: a damaged footer
            raise StorageError(f"{self.base_path} cannot be read ({exc}).") from None
        names = self.list_deltas()
        return DeltaSnapshot(base, base_id, tuple(n for n in names if n not in merged), merged)

    def snapshot_or_corrupt(self, corrupt: Callable[[Path, object], Exception]) -> DeltaSnapshot:
        """:meth:`snapshot`, a damaged base raised as ``corrupt(path, reason)``."""
        try:
            return self.snapshot()
        except StorageError as exc:
            raise corrupt(self.base_path, exc) from None

    def list_deltas(self) -> list[str]:
        """Every delta file's name, in the order they apply (merged ones included)."""
        try:
            return sorted(
                e.name
                for e in os.scandir(self.delta_dir)
                if e.name.endswith(".parquet") and not e.name.startswith(".")
            )
        except (FileNotFoundError, NotADirectoryError):
            return []

    def changed(self, seen: DeltaSnapshot) -> bool:
        """Whether the base was replaced since ``seen`` (a compaction): a reader reloads."""
        try:
            st = self.base_path.stat()
            now = (st.st_ino, st.st_mtime_ns)
        except (FileNotFoundError, NotADirectoryError):
            now = None
        return now != seen.base_id

    def read_delta(self, name: str) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(self.delta_dir / name)

    def append(self, table: pa.Table) -> str:
        """Write ``table`` as a new delta (atomically); returns its name."""
        import pyarrow.parquet as pq

        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        with atomic_path(self.delta_dir / name) as tmp:
            pq.write_table(table, tmp)
        return name

    def write_base(self, table: pa.Table, merged: Sequence[str]) -> None:
        """Replace the base with ``table``, which holds every delta in ``merged``; those
        deltas are then removed (a reader that has not seen them sees the new base)."""
        import pyarrow.parquet as pq

        meta = dict(table.schema.metadata or {})
        meta[self.METADATA_KEY] = json.dumps(sorted(merged)).encode()
        with atomic_path(self.base_path, fsync=True) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp, row_group_size=64_000)
        for name in merged:
            with contextlib.suppress(FileNotFoundError):
                (self.delta_dir / name).unlink()
        self._sweep_temporaries()

    def _sweep_temporaries(self, older_than: float = 3600.0) -> None:
        """Temporary files of writers killed mid-write (never renamed into place)."""
        now = time.time()
        for folder in (self.folder, self.delta_dir):
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(folder):
                    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        with contextlib.suppress(OSError):
                            if now - entry.stat().st_mtime > older_than:
                                os.unlink(entry.path)

    @contextlib.contextmanager
    def compaction_lock(self, timeout: float = 0.0) -> Iterator[bool]:
        """The compaction lock; yields False when another process holds it (then skip)."""
        import filelock

        ensure_dir(self.folder)
        lock = filelock.FileLock(str(self.folder / f".{self.name}.compact.lock"))
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def remove_all(self) -> None:
        """Delete the base and every delta."""
        self.base_path.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.delta_dir):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def run_migration_steps(
    con: sqlite3.Connection, migrations: Sequence[Migration], start: int
) -> None:
    """``migrations[start:]`` on ``con``, inside the caller's transaction, each step recorded
    in ``PRAGMA user_version`` (the one loop the store and a backup file share)."""
    for step in range(start, len(migrations)):
        migration = migrations[step]
        if isinstance(migration, str):
            for statement in _statements(migration):
                con.execute(statement)
        else:
            migration(con)
        con.execute(f"PRAGMA user_version={step + 1}")
