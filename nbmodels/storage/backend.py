"""The one seam between the registry and where its tables live: :class:`RegistryBackend`,
what a storage backend provides, and :func:`open_backend`, which picks one for a location.

Two backends implement it: :class:`~nbmodels.storage.store.SQLiteStore` (a file in WAL
mode, shared by every kernel on the home; the default) and
:class:`~nbmodels.storage.postgres.PostgresStore` (one PostgreSQL database shared by a
team, chosen by its ``postgresql://`` URL); nothing in the registry tells them apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigurationError
from .store import Migration, SQLiteStore

__all__ = ["Connection", "Cursor", "RegistryBackend", "Row", "open_backend"]


class Row(Protocol):
    """One result row, as ``sqlite3.Row`` gives it: by position (``row[0]``), by column
    name (``row["key"]``), unpacked (``key, tag = row``), and its ``keys()``."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """What :meth:`Connection.execute` returns (DB-API): rows one by one (``fetchone``,
    iteration; None when there are no more) or all at once, and ``description``, a sequence
    with each column's name first."""

    @property
    def description(self) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the registry uses: ``execute`` and ``executemany``
    with ``?`` placeholders (SQLite's dialect: ``INSERT OR IGNORE``, ``ON CONFLICT ... DO
    UPDATE``, ``json_each``; a backend on another database translates what it must)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


@runtime_checkable
class RegistryBackend(Protocol):
    """Where the registry's tables live, safe for many processes at once.

    Errors are nbmodels' own: a database that cannot be read or written raises
    :class:`~nbmodels.errors.RegistryError` (or :class:`~nbmodels.errors.StorageError`; a
    write lock held too long, :class:`~nbmodels.errors.LockTimeout` naming the holder),
    never the driver's exceptions, and says what to do.
    """

    @property
    def path(self) -> Path:
        """The database file (it tells registries apart and names the home's)."""
        ...

    def read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Sequence[Row]:
        """The rows of one query, outside any transaction (:class:`Row`: by position and by
        column name); it sees every change committed so far, by any process."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction (``with store.transaction() as con: con.execute(...)``):
        every statement inside commits together or not at all, and holds the write lock
        from the start, so a read-modify-write cannot lose another process's update."""
        ...

    def connection(self) -> Connection:
        """This thread's connection, migrated, for reads that need a :class:`Cursor`'s
        ``description`` (the column names of an empty result)."""
        ...

    def data_version(self) -> object:
        """A value that changes whenever any process commits (a cache key: compare with
        ``==``)."""
        ...

    def migrate(self, con: Any = None) -> int:
        """Bring the schema to the version this code writes, once even when several
        processes start together (``migrations[i]`` takes it from ``i`` to ``i + 1``);
        returns the version found. A schema newer than this code is refused, unchanged."""
        ...

    def integrity(self) -> list[str]:
        """The database's own consistency check: ``[]`` when sound, else the problems."""
        ...

    def backup_to(self, target: Path | str, *, files: Mapping[str, str] | None = None) -> Path:
        """A consistent copy of the whole database as one file at ``target`` (written
        atomically), carrying ``files`` (name -> text) when given; returns ``target``."""
        ...

    def backup_files(self, source: Path | str) -> list[tuple[Any, Any]] | None:
        """The (name, text) pairs a backup carries, as stored, unchecked; None when it
        carries none or is not a backup at all (:meth:`restore_from` then says so)."""
        ...

    def restore_from(self, source: Path | str) -> int:
        """Replace everything with a backup's content (checked first: a bad backup
        changes nothing; an older schema is migrated; the files it carries are left out);
        returns the backup's schema version."""
        ...

    def close(self) -> None:
        """Let go of this thread's connection (the next use opens another)."""
        ...


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def open_backend(location: Path | str, migrations: Sequence[Migration]) -> RegistryBackend:
    """The backend for ``location``: a file path or ``sqlite:///path`` (SQLAlchemy's form:
    ``sqlite:////abs/path.db`` is absolute) opens a :class:`SQLiteStore` there, migrated
    with ``migrations`` on first use; a ``postgresql://`` URL (``postgres://``,
    ``postgresql+psycopg://``) a :class:`~nbmodels.storage.postgres.PostgresStore` on that
    database (it connects on first use; without psycopg a
    :class:`~nbmodels.errors.ConfigurationError` says what to install). The URL may hold a
    password: it is never echoed."""
    if isinstance(location, str) and (match := _SCHEME.match(location)):
        scheme = match.group(1).lower()  # the URL itself may hold a password: never echoed
        if scheme == "sqlite":
            path = location[len(match.group(0)) :]
            if not path.startswith("/") or path == "/":
                raise ConfigurationError(
                    "A SQLite registry URL names a file: sqlite:///registry.db (relative) or "
                    "sqlite:////abs/path/registry.db, or give the path itself."
                )
            return SQLiteStore(Path(path[1:]).expanduser(), migrations)
        if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
            from .postgres import PostgresStore

            return PostgresStore(location, migrations)
        raise ConfigurationError(
            f"No registry backend for {scheme}:// URLs. Use the SQLite default: leave the "
            "location out for the home's registry.db, or give a file path or "
            "sqlite:///path/to/registry.db."
        )
    return SQLiteStore(Path(location).expanduser(), migrations)
