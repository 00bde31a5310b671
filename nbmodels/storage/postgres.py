"""A team's registry on PostgreSQL: :class:`PostgresStore`, the
:class:`~nbmodels.storage.backend.RegistryBackend` over one database, through psycopg 3
(``pip install 'nbmodels[team]'``).

    >>> reg = nbmodels.Registry("postgresql://team@db.example:5432/models")
    >>> # or NBMODELS_REGISTRY_URL=postgresql://... for every registry of the settings

What it keeps true, as the SQLite store does:

- **One transaction per write, one writer at a time.** A write transaction starts by taking
  the registry's write lock (``pg_advisory_xact_lock``, so a read-modify-write such as
  counting usage cannot lose another process's update; it runs at READ COMMITTED, where
  every statement sees what committed before it, so there is no serialization failure to
  retry) and bumping the ``registry_state`` counter (``UPDATE ... RETURNING``: the database
  hands out the number), which is what :meth:`data_version` reads. A lock held past
  ``timeout`` is a :class:`~nbmodels.errors.LockTimeout` that names the holder (its
  ``application_name``: process and host).
- **Numbered migrations, once.** ``schema_version`` holds the version; the migrations run
  in one transaction under another advisory lock, so processes starting together on an old
  database migrate it once; a newer schema is refused, unchanged. The migrations are the
  SQLite store's own, translated (:mod:`~nbmodels.storage.pg_dialect`).
- **Backups in the SQLite format** (:mod:`~nbmodels.storage.backup_file`): a backup made
  here restores into a file registry and the other way round.
- **nbmodels' errors only.** A server that is down, a refused password, a missing database,
  a newer schema: a :class:`~nbmodels.errors.RegistryError` that names the server and the
  database (never the password) and says what to do. Nothing is written half: every change
  is one transaction.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PosixPath
from typing import Any

from ..errors import ConfigurationError, LockTimeout, RegistryError
from . import backup_file
from .pg_dialect import UnsupportedSQL, row_class, statements, translate
from .store import SQLiteStore

__all__ = ["PostgresStore", "ServerPath", "redact_url"]

# pg_advisory_xact_lock(class, id): the registry's write lock, and the migration lock
_LOCK_CLASS = 0x6E626D  # "nbm"
_WRITE_LOCK, _MIGRATE_LOCK = 1, 2
#: what this store adds beside the registry's own tables (never part of a backup)
_OWN_TABLES = ("schema_version", "registry_state")


class ServerPath(PosixPath):
    """A registry's location on a server, where the protocol wants a path: it reads as the
    URL without its password (``postgresql://user@host:5432/db``), two of the same
    database are equal, and it "exists" (the database is the registry: whether it is
    reachable is for the first operation to say)."""

    _text: str

    def __new__(cls, text: str) -> ServerPath:
        self = super().__new__(cls, text)
        self._text = text
        return self

    def __str__(self) -> str:
        return getattr(self, "_text", None) or super().__str__()

    def __fspath__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"ServerPath({str(self)!r})"

    def __reduce__(self) -> Any:
        return (ServerPath, (str(self),))

    def exists(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def is_file(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def resolve(self, strict: bool = False) -> ServerPath:
        return self

    def expanduser(self) -> ServerPath:
        return self


def _parse(url: str) -> dict[str, str]:
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ConfigurationError(
            "A PostgreSQL registry needs psycopg: pip install 'nbmodels[team]' "
            "(or 'psycopg[binary]>=3.1'), or leave NBMODELS_REGISTRY_URL unset for the "
            "home's registry.db."
        ) from None
    scheme, sep, rest = url.partition("://")
    try:  # postgresql+psycopg:// (SQLAlchemy's spelling) is libpq's postgresql://
        return {k: str(v) for k, v in conninfo_to_dict(scheme.split("+", 1)[0] + sep + rest).items()}  # fmt: skip
    except Exception:
        raise ConfigurationError(
            "The PostgreSQL registry URL cannot be read: write it as "
            "postgresql://user[:password]@host[:port]/database (the password may also "
            "come from ~/.pgpass or PGPASSWORD)."
        ) from None


def redact_url(url: str) -> str:
    """A ``postgresql://`` URL as it may be shown: user, host, port and database, never a
    password (nor any other parameter, which might hold one)."""
    info = _parse(url)
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"postgresql://{user}{host}:{port}/{info.get('dbname') or info.get('user') or ''}"


class _Cursor:
    """A psycopg cursor as an sqlite3 one reads: rows (:class:`PGRow`), None when a
    statement returned none, ``description`` with each column's name first."""

    __slots__ = ("_cur",)

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description is not None else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PGConnection:
    """One psycopg connection as the registry writes to it (:class:`~nbmodels.storage.
    backend.Connection`): SQLite's dialect with ``?`` placeholders, translated."""

    def __init__(self, store: PostgresStore, raw: Any) -> None:
        self.store = store
        self.raw = raw
        self.pid = os.getpid()

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> _Cursor:
        import psycopg

        named = isinstance(parameters, Mapping)
        query = self.store._translate(sql, named)
        cur = self.raw.cursor()
        try:
            cur.execute(query, parameters if named else tuple(parameters))
        except psycopg.Error as exc:
            raise self.store._error(exc) from None
        return _Cursor(cur)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _Cursor:
        import psycopg

        rows = list(parameters)
        named = bool(rows) and isinstance(rows[0], Mapping)
        query = self.store._translate(sql, named)
        cur = self.raw.cursor()
        try:
            cur.executemany(query, rows if named else [tuple(r) for r in rows])
        except psycopg.Error as exc:
            raise self.store._error(exc) from None
        return _Cursor(cur)


def _row_factory(cursor: Any) -> Any:
    if cursor.description is None:
        return tuple
    return row_class(tuple(c.name for c in cursor.description))


_number_loader: Any = None


def _numbers() -> Any:
    """A loader of ``numeric`` as int or float (what SQLite gives for a ``sum()``, an
    ``extract(epoch ...)``), never ``Decimal``."""
    global _number_loader
    if _number_loader is None:
        from psycopg.adapt import Loader

        class NumberLoader(Loader):
            def load(self, data: Any) -> Any:
                text = bytes(data).decode()
                try:
                    return int(text)
                except ValueError:
                    return float(text)

        _number_loader = NumberLoader
    return _number_loader


class PostgresStore:
    """The registry's tables in one PostgreSQL database (see the module's docstring).

    ``url`` is a ``postgresql://`` URL (libpq's: ``postgresql://user:password@host:port/db
    ?sslmode=require``; ``postgres://`` and ``postgresql+psycopg://`` too);
    ``migrations`` are the SQLite store's. ``timeout`` bounds the wait for the write lock,
    ``connect_timeout`` a server that does not answer. Connections are per thread (and per
    process: a forked child opens its own)."""

    def __init__(
        self,
        url: str,
        migrations: Sequence[Any],
        *,
        timeout: float = 15.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._info = _parse(url)
        self._secret = self._info.get("password") or ""
        self.path: Path = ServerPath(redact_url(url))
        self.migrations = list(migrations)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.commits = 0
        self._local = threading.local()
        # every connection this store opened, closed when the store goes (psycopg warns about a
        # connection collected open, and a thread's local one is collected with its thread)
        self._opened: list[Any] = []
        weakref.finalize(self, _close_all, self._opened)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._sql: dict[tuple[str, bool], str] = {}
        self._columns: dict[str, tuple[list[str], list[str]]] = {}

    def __repr__(self) -> str:
        return f"<PostgresStore {str(self.path)!r}>"

    @property
    def version(self) -> int:
        """The schema version this code writes."""
        return len(self.migrations)

    @property
    def where(self) -> str:
        """The database and server, as messages name them (never the password)."""
        host = self._info.get("host") or "localhost"
        port = self._info.get("port") or "5432"
        user = self._info.get("user")
        db = self._info.get("dbname") or user or "?"
        return f"database {db!r} on {host}:{port}" + (f" (as {user!r})" if user else "")

    # -- connections ------------------------------------------------------------------------------
    def _connect(self) -> PGConnection:
        import psycopg

        info = dict(self._info)
        info.setdefault("connect_timeout", str(max(2, int(self.connect_timeout))))
        info.setdefault("application_name", f"nbmodels pid {os.getpid()} on {socket.gethostname()}"[:63])  # fmt: skip
        try:
            connect: Any = psycopg.connect  # libpq's keywords, as the URL gave them
            raw = connect(autocommit=True, row_factory=_row_factory, **info)
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None
        raw.adapters.register_loader("numeric", _numbers())
        self._opened[:] = [(pid, c) for pid, c in self._opened if not c.closed]
        self._opened.append((os.getpid(), raw))
        return PGConnection(self, raw)

    def _raw(self) -> PGConnection:
        con: PGConnection | None = getattr(self._local, "con", None)
        if con is not None and (con.pid != os.getpid() or con.raw.closed or con.raw.broken):
            if con.pid == os.getpid():  # a forked child leaves its parent's connection be
                with contextlib.suppress(Exception):
                    con.raw.close()
            con = None
        if con is None:
            con = self._connect()
            self._local.con = con
        return con

    def connection(self) -> PGConnection:
        """This thread's connection (autocommit: each read sees every commit), migrated."""
        con = self._raw()
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.migrate(con)
                    self._ready = True
        return con

    def close(self) -> None:
        """Close every connection this process opened on this store (every thread's)."""
        self._local.con = None
        _close_all(self._opened)

    # -- errors -----------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        text = str(text).strip()
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def _unreachable(self, exc: BaseException) -> RegistryError:
        """A connection that failed, as a message that says what to do."""
        text = self._scrub(str(exc))
        low = text.lower()
        user = self._info.get("user") or "(the default user)"
        where = self.where
        if "password authentication failed" in low or "no password supplied" in low or "authentication failed" in low:  # fmt: skip
            return RegistryError(
                f"The PostgreSQL registry ({where}) refused the password of user {user!r}. "
                "Check the password in NBMODELS_REGISTRY_URL (postgresql://user:PASSWORD@host/"
                "db) or in ~/.pgpass; nothing was changed."
            )
        if "does not exist" in low and "database" in low:
            return RegistryError(
                f"The PostgreSQL registry's {where} does not exist. Create it (createdb, or "
                "CREATE DATABASE) or correct the database name in NBMODELS_REGISTRY_URL."
            )
        if "role" in low and "does not exist" in low:
            return RegistryError(
                f"The PostgreSQL server of the registry ({where}) has no user {user!r}: "
                "correct the user in NBMODELS_REGISTRY_URL, or ask its administrator."
            )
        if any(s in low for s in ("connection refused", "could not connect", "timeout expired",
                                  "could not translate host", "no route", "is the server running",
                                  "server closed the connection", "connection timed out")):  # fmt: skip
            return RegistryError(
                f"No PostgreSQL server answers for the registry ({where}): start the server "
                "(or wait for it), or correct the host and port in NBMODELS_REGISTRY_URL. "
                f"Nothing was changed. ({text.splitlines()[0] if text else 'no answer'})"
            )
        return RegistryError(
            f"The PostgreSQL registry ({where}) cannot be opened: "
            f"{text.splitlines()[0] if text else type(exc).__name__}. Nothing was changed."
        )

    def _error(self, exc: BaseException, doing: str = "") -> RegistryError:
        """A database error during an operation, as nbmodels' own (nothing of it was kept)."""
        import psycopg

        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):  # fmt: skip
            con: PGConnection | None = getattr(self._local, "con", None)
            if con is None or con.raw.closed or con.raw.broken:
                return self._unreachable(exc)
        diag = getattr(exc, "diag", None)
        text = self._scrub(getattr(diag, "message_primary", None) or str(exc))
        return RegistryError(
            f"The PostgreSQL registry ({self.where}) refused {doing or 'a statement'}: "
            f"{text.splitlines()[0] if text else type(exc).__name__}. Nothing of it was kept."
        )

    # -- SQL --------------------------------------------------------------------------------------
    def _table(self, table: str) -> tuple[list[str], list[str]]:
        """A table's columns, in order, and its primary key's (for INSERT OR REPLACE)."""
        if table not in self._columns:
            rows = (
                self._raw()
                .raw.execute(
                    "SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false) FROM pg_attribute a "
                    "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
                    "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
                    "ORDER BY a.attnum",
                    [table],
                )
                .fetchall()
            )
            self._columns[table] = ([r[0] for r in rows], [r[0] for r in rows if r[1]])
        return self._columns[table]

    def _translate(self, sql: str, named: bool) -> str:
        query = self._sql.get((sql, named))
        if query is None:
            try:
                query = translate(sql, named=named, table_info=self._table)
            except UnsupportedSQL as exc:
                raise RegistryError(f"The PostgreSQL registry cannot run this SQLite statement ({exc}).") from None  # fmt: skip
            if len(self._sql) > 2048:
                self._sql.clear()
            self._sql[(sql, named)] = query
        return query

    def read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """The rows of one query (its own snapshot: it sees every commit before it). A
        connection lost since the last use (a server restart) is opened again, once."""
        for attempt in (1, 2):
            con = self.connection()
            try:
                return con.execute(sql, params).fetchall()
            except RegistryError:
                if attempt == 2 or not (con.raw.closed or con.raw.broken):
                    raise
                self.close()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writing ----------------------------------------------------------------------------------
    def _begin(self) -> PGConnection:
        """BEGIN, the write lock (bounded by ``timeout``) and the write counter, in one
        round trip; a connection found lost is opened again, once (nothing was done yet)."""
        import psycopg

        sql = (
            f"BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = {int(self.timeout * 1000)}; "
            f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, {_WRITE_LOCK}); "
            "UPDATE registry_state SET writes = writes + 1 WHERE id = 1 RETURNING writes"
        )  # fmt: skip
        for attempt in (1, 2):
            con = self.connection()
            try:
                con.raw.execute(sql)
                return con
            except psycopg.errors.LockNotAvailable:
                self._rollback(con)
                raise self._lock_timeout(con) from None
            except psycopg.Error as exc:
                self._rollback(con)
                if attempt == 1 and (con.raw.closed or con.raw.broken):
                    self.close()
                    continue
                raise self._error(exc, "to start a change") from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _rollback(con: PGConnection) -> None:
        with contextlib.suppress(Exception):
            if not con.raw.closed and not con.raw.broken:
                con.raw.execute("ROLLBACK")

    def _lock_timeout(self, con: PGConnection) -> LockTimeout:
        holder = "another process"
        with contextlib.suppress(Exception):
            row = con.raw.execute(
                "SELECT a.application_name, a.pid, a.client_addr, "
                "extract(epoch from now() - a.xact_start) FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2",
                [_LOCK_CLASS, _WRITE_LOCK],
            ).fetchone()
            if row is not None:
                name = str(row[0] or "")
                if name.startswith("nbmodels pid "):  # what _connect names its sessions
                    holder = "process " + name.removeprefix("nbmodels pid ")
                else:
                    holder = f"server process {row[1]} ({name or row[2] or 'no name'})"
                holder += f" (for {float(row[3] or 0):.0f} s)"
        return LockTimeout(
            f"The PostgreSQL registry ({self.where}) stayed locked for {self.timeout:.0f} s by "
            f"{holder}: wait for it, or stop that process if it hangs."
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PGConnection]:
        """A write transaction: every statement inside commits together or not at all,
        under the registry's write lock."""
        import psycopg

        con = self._begin()
        try:
            yield con
        except BaseException:
            self._rollback(con)
            raise
        try:
            con.raw.execute("COMMIT")
        except psycopg.Error as exc:
            self._rollback(con)
            raise self._error(exc, "the change (it was not saved)") from None
        self.commits += 1

    def data_version(self) -> int:
        """The number of write transactions any process has committed (a cache key)."""
        return int(self.read("SELECT writes FROM registry_state WHERE id = 1")[0][0])

    # -- the schema -------------------------------------------------------------------------------
    def _found_version(self, con: PGConnection) -> int | None:
        """The database's schema version (None: no registry there yet)."""
        there = con.raw.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not there or not there[0]:
            return None
        row = con.raw.execute("SELECT max(version) FROM schema_version").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _newer(self, found: int) -> RegistryError:
        return RegistryError(
            f"The PostgreSQL registry ({self.where}) has schema {found}, newer than this "
            f"nbmodels knows ({self.version}): upgrade nbmodels to use it (nothing was changed)."
        )

    def migrate(self, con: Any = None) -> int:
        """Bring the database to :attr:`version` in one transaction, under the migration
        lock (processes starting together migrate it once); returns the version found
        (0: an empty database). A newer schema is refused, unchanged."""
        import psycopg

        con = con if isinstance(con, PGConnection) else self._raw()
        try:
            found = self._found_version(con)
            if found is not None and found > self.version:
                raise self._newer(found)
            if found == self.version:
                return found
            con.raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({_LOCK_CLASS}, {_MIGRATE_LOCK})")
            try:
                current = self._found_version(con)  # under the lock: another may have done it
                if current is not None and current > self.version:
                    raise self._newer(current)
                if current is None:
                    con.raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    con.raw.execute("INSERT INTO schema_version VALUES (0)")
                    con.raw.execute("CREATE TABLE registry_state (id INTEGER PRIMARY KEY CHECK (id = 1), writes BIGINT NOT NULL)")  # fmt: skip
                    con.raw.execute("INSERT INTO registry_state VALUES (1, 0)")
                for step in range(current or 0, self.version):
                    migration = self.migrations[step]
                    if isinstance(migration, str):
                        for statement in statements(migration):
                            con.execute(statement)
                    else:
                        migration(con)
                    con.raw.execute("UPDATE schema_version SET version = %s", [step + 1])
                con.raw.execute("COMMIT")
            except BaseException:
                self._rollback(con)
                raise
        except psycopg.Error as exc:
            raise self._error(exc, "to bring its schema up to date") from None
        finally:
            self._columns.clear()
        return found or 0

    def integrity(self) -> list[str]:
        """What is wrong with the database as a registry: ``[]`` when sound (the schema at
        this version; every tag, alias and dependency naming an entry)."""
        problems = []
        found = self._found_version(self.connection())
        if found != self.version:
            problems.append(f"schema version {found}, expected {self.version}")
        for table, column in (("tags", "key"), ("aliases", "key"), ("dependencies", "key"),
                              ("dependencies", "depends_on")):  # fmt: skip
            if table in self._tables():
                n = self.read(f"SELECT count(*) FROM {table} WHERE {column} NOT IN (SELECT key FROM entries)")[0][0]  # fmt: skip
                if n:
                    problems.append(f"{n} row(s) of {table} name a missing entry")
        return problems

    def _tables(self) -> list[str]:
        """The registry's tables in this database (this store's own left out), entries first."""
        rows = self.read(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name <> 'entries', table_name"
        )
        return [str(r[0]) for r in rows if r[0] not in _OWN_TABLES]

    # -- backup and restore -----------------------------------------------------------------------
    def backup_to(self, target: Path | str, *, files: Mapping[str, str] | None = None) -> Path:
        """The whole registry as one SQLite backup file (as :class:`SQLiteStore` writes it),
        read in one snapshot; with ``files`` (name -> text), the file carries them too."""
        import psycopg

        con = self.connection()
        mine = set(self._tables())

        def rows(columns: Mapping[str, list[str]]) -> Iterator[backup_file.TableRows]:
            for table, cols in columns.items():
                if table not in mine:
                    continue
                here = set(self._table(table)[0])
                both = [c for c in cols if c in here]
                cur = con.raw.cursor()
                cur.execute(f"SELECT {', '.join(both)} FROM {table}")
                yield table, both, (tuple(r) for r in cur)

        try:
            con.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                return backup_file.write_backup(target, self.migrations, rows, files=files)
            finally:
                self._rollback(con)
        except psycopg.Error as exc:
            raise self._error(exc, "a backup") from None

    def backup_files(self, source: Path | str) -> list[tuple[Any, Any]] | None:
        """The (name, text) pairs a backup carries (the format is the SQLite store's)."""
        return SQLiteStore(Path(source), self.migrations).backup_files(source)

    def restore_from(self, source: Path | str) -> int:
        """Replace every table's rows with a backup's, in one transaction (checked first:
        a bad backup changes nothing; an older one is migrated in a copy); returns the
        backup's schema version."""
        import psycopg

        with (
            backup_file.open_backup(source, self.migrations) as (found, src, columns),
            self.transaction() as con,
        ):
            mine = self._tables()
            if mine:
                con.execute(f"TRUNCATE {', '.join(mine)}")
            for table in sorted(columns, key=lambda t: (t != "entries", t)):
                if table not in mine:
                    continue
                here = set(self._table(table)[0])
                cols = [c for c in columns[table] if c in here]
                try:
                    with con.raw.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # fmt: skip
                        for row in src.execute(f'SELECT {", ".join(cols)} FROM "{table}"'):
                            copy.write_row(row)
                except psycopg.Error as exc:
                    raise RegistryError(
                        f"{source} cannot be restored into the PostgreSQL registry "
                        f"({self.where}): its table {table} was refused "
                        f"({self._scrub(str(getattr(exc.diag, 'message_primary', '') or exc))}); "
                        "nothing was changed."
                    ) from None
        return found


def _close_all(opened: list[Any]) -> None:
    """Close a store's connections that this process opened (a forked child leaves its
    parent's alone: closing one would end the parent's session on the shared socket)."""
    mine = os.getpid()
    for pid, raw in opened:
        if pid == mine:
            with contextlib.suppress(Exception):
                raw.close()
    opened[:] = [(pid, raw) for pid, raw in opened if pid != mine]
