"""Moving a registry from one backend to another: the home's file to a team's PostgreSQL
database and back, with nothing lost.

    >>> from nbmodels.storage.transfer import migrate_registry
    >>> migrate_registry("~/.cache/nbmodels/registry.db", "postgresql://team@db/models")
    {'entries': 412, 'tags': 97, 'aliases': 12, 'dependencies': 8, 'uses': 5310}

The move goes through the backup format both backends share (one SQLite file): the source
writes a backup in one consistent snapshot, the destination restores it in one transaction
(checked first: a bad one changes nothing), then both are counted and must agree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import RegistryError
from .backend import RegistryBackend, open_backend
from .schema import _TABLES, MIGRATIONS

__all__ = ["migrate_registry", "registry_counts"]


def _backend(where: Any) -> RegistryBackend:
    """A backend for a location (path, ``sqlite:///`` or ``postgresql://`` URL), a
    :class:`~nbmodels.storage.registry.Registry` or a backend itself."""
    store = getattr(where, "_store", None)
    if store is not None:
        return store  # type: ignore[no-any-return]
    if isinstance(where, RegistryBackend):
        return where
    return open_backend(str(where) if isinstance(where, str) else Path(where), MIGRATIONS)


def registry_counts(where: Any) -> dict[str, int]:
    """How many entries, tags, aliases and dependencies a registry holds, and its uses
    (the sum of every entry's use count)."""
    store = _backend(where)
    counts = {t: int(store.read(f"SELECT count(*) FROM {t}")[0][0]) for t in _TABLES}
    counts["uses"] = int(store.read("SELECT coalesce(sum(use_count), 0) FROM entries")[0][0])
    return counts


def _backup_counts(path: Path) -> dict[str, int]:
    """:func:`registry_counts` of a backup file (read only: the file is not changed)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _TABLES}
        counts["uses"] = int(con.execute("SELECT coalesce(sum(use_count), 0) FROM entries").fetchone()[0])  # fmt: skip
    finally:
        con.close()
    return counts


def migrate_registry(source: Any, destination: Any, *, replace: bool = False) -> dict[str, int]:
    """Copy the whole registry at ``source`` to ``destination`` (each a file path, a
    ``sqlite:///`` or ``postgresql://`` URL, or a Registry): every entry with its stored
    configuration and usage, tags, aliases, dependencies and the schema log. The source is
    left as it was. Returns what the destination now holds (:func:`registry_counts`).

    A destination that already holds entries is refused unless ``replace`` (then its
    content is replaced, in one transaction). RegistryError when the counts disagree
    afterwards (a source written to during the move: run it again)."""
    src, dst = _backend(source), _backend(destination)
    if str(src.path) == str(dst.path):
        raise RegistryError(f"{src.path} is both the source and the destination: nothing to move.")  # fmt: skip
    held = int(dst.read("SELECT count(*) FROM entries")[0][0])
    if held and not replace:
        raise RegistryError(
            f"{dst.path} already holds {held} entries: nothing was moved. Pass replace=True "
            "to replace them with the source's (back them up first with Registry.backup)."
        )
    with tempfile.TemporaryDirectory(prefix="nbmodels-move-") as folder:
        backup = src.backup_to(Path(folder) / "registry.db")
        before = _backup_counts(backup)
        dst.restore_from(backup)
    after = registry_counts(dst)
    if after != before:
        raise RegistryError(
            f"{dst.path} holds {after} after the move, the source's snapshot {before}: "
            "another process wrote during it; run the move again."
        )
    return after
