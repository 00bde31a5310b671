"""The registry's backup format, for a backend that is not SQLite: one SQLite database file
(``PRAGMA user_version`` its schema version, the registry's tables, and, when given, the
files it carries in :data:`~nbmodels.storage.store.BACKUP_FILES_TABLE`), exactly what
:meth:`SQLiteStore.backup_to <nbmodels.storage.store.SQLiteStore.backup_to>` writes, so a
backup moves between backends.

:func:`write_backup` builds such a file from rows read elsewhere; :func:`open_backup`
checks one and hands back its tables, migrated to this version in a temporary copy when
it is older (the backup itself is never changed).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RegistryError
from ..files import atomic_path
from .store import BACKUP_FILES_TABLE, Migration, _write_files, run_migration_steps

__all__ = ["apply_migrations", "open_backup", "write_backup"]

#: (table name, column names, rows) for each table a backup holds
TableRows = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def apply_migrations(con: sqlite3.Connection, migrations: Sequence[Migration], start: int) -> None:
    """``migrations[start:]`` on an SQLite connection in one transaction, each step
    recorded in ``PRAGMA user_version`` (what :class:`SQLiteStore` does, without its lock
    file: this file is private until it is renamed into place)."""
    con.execute("BEGIN")
    try:
        run_migration_steps(con, migrations, start)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def write_backup(
    target: Path | str,
    migrations: Sequence[Migration],
    tables: Callable[[Mapping[str, list[str]]], Iterator[TableRows]],
    *,
    files: Mapping[str, str] | None = None,
) -> Path:
    """A backup file at ``target`` (written atomically) with this version's schema and the
    rows ``tables(columns)`` yields: ``columns`` maps each table of the schema to its
    columns; each table yielded is emptied first (the migrations' own rows, such as the
    schema log, give way to the source's)."""
    target = Path(target)
    with atomic_path(target) as tmp:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            apply_migrations(con, migrations, 0)
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
            columns = {n: [str(r[1]) for r in con.execute(f'PRAGMA table_info("{n}")')] for n in names}  # fmt: skip
            con.execute("BEGIN")
            for table, cols, rows in tables(columns):
                con.execute(f'DELETE FROM "{table}"')
                marks = ", ".join("?" for _ in cols)
                con.executemany(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({marks})', rows)  # fmt: skip
            con.execute("COMMIT")
        finally:
            con.close()
        if files is not None:
            _write_files(tmp, files)
    return target


def _check(source: Path, version: int) -> int:
    """The backup's schema version, after SQLite's integrity check (RegistryError, saying
    that nothing was changed, when it is no backup, damaged or newer)."""
    try:
        con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RegistryError(f"{source} is not a registry backup ({exc}); nothing was changed.") from None  # fmt: skip
    try:
        check = con.execute("PRAGMA integrity_check").fetchall()
        found = int(con.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise RegistryError(f"{source} is not a registry backup ({exc}); nothing was changed.") from None  # fmt: skip
    finally:
        con.close()
    if [r[0] for r in check] != ["ok"]:
        raise RegistryError(f"{source} is damaged ({check[0][0]}); nothing was changed.")
    if found > version:
        raise RegistryError(
            f"{source} has schema {found}, newer than this nbmodels ({version}); "
            "nothing was changed: upgrade nbmodels to restore it."
        )
    return found


@contextlib.contextmanager
def open_backup(
    source: Path | str, migrations: Sequence[Migration]
) -> Iterator[tuple[int, sqlite3.Connection, dict[str, list[str]]]]:
    """A checked backup, read only: (its schema version, a connection to it at this
    version, each table's columns; the carried files' table left out)."""
    source = Path(source)
    found = _check(source, len(migrations))
    with tempfile.TemporaryDirectory(prefix="nbmodels-restore-") as folder:
        path = source
        if found < len(migrations):  # an older backup: migrated in a copy
            path = Path(folder) / "backup.db"
            shutil.copyfile(source, path)
            con = sqlite3.connect(path, isolation_level=None)
            try:
                apply_migrations(con, migrations, found)
            except sqlite3.Error as exc:
                raise RegistryError(f"{source} cannot be brought to this version ({exc}); nothing was changed.") from None  # fmt: skip
            finally:
                con.close()
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [str(r[0]) for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
            tables = {n: [str(r[1]) for r in con.execute(f'PRAGMA table_info("{n}")')]
                      for n in names if n != BACKUP_FILES_TABLE}  # fmt: skip
            yield found, con, tables
        finally:
            con.close()
