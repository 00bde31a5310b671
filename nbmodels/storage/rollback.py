"""Rollback: bring a registered model back to one of its versions.

    >>> from nbmodels.storage.rollback import rollback
    >>> rollback(reg, "org/name", to="production")                         # or to=3

:func:`rollback` restores a version's files (from the cache when each file there matches its
sha256, else fetched again at the pinned commit by :func:`~nbmodels.downloader.lockfile.sync`
and checked) and its configuration (saved back as the model's stored configuration), then
points the registry entry at them, with a ``rollback`` record, in one transaction. Anything
refused (an unknown version, a pinned file gone upstream) changes nothing.

It sits above :mod:`nbmodels.storage.versions` (which records and lists the versions) and the
downloader's lockfile (which fetches files again), so neither of those imports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LockfileError, NBModelsError, RegistryError
from ..settings import Settings
from .versions import (
    _CURRENT,
    Version,
    VersionNotFoundError,
    _checked_configuration,
    _history,
    _number,
    _recording_held,
    _snapshot,
    _who,
    versions,
)

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

__all__ = ["RollbackReport", "rollback"]


@dataclass(frozen=True)
class RollbackReport:
    """What :func:`rollback` did. ``files``: ``"cached"`` (every pinned file here, matching its
    sha256), ``"fetched"`` (fetched again at the pinned commit, then checked), ``"unverified"``
    (the commit's folder is here but the version holds no hashes to check it by) or ``"none"``
    (the version pins no files)."""

    model: str
    version: int
    previous: int | None
    commit: str | None
    digest: str | None
    files: str
    files_checked: int = 0
    bytes_fetched: int = 0
    configuration: bool = False  # the stored configuration was restored
    local_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        was = "?" if self.previous is None else f"#{self.previous}"
        conf = "configuration restored" if self.configuration else "configuration kept"
        return (f"<RollbackReport {self.model}: {was} -> #{self.version}; files {self.files} "
                f"({self.files_checked} checked by sha256, {self.bytes_fetched:,} bytes fetched); {conf}>")  # fmt: skip


# -- rollback -------------------------------------------------------------------------------------
def _restore_files(target: Version, meta: Any, settings: Settings, progress: bool) -> tuple[str, int, int, str | None]:  # fmt: skip
    """The version's files in place (nothing in the registry is written here): their state,
    files checked, bytes fetched and the folder they are in (None: the entry's stays)."""
    from ..downloader.lockfile import LockedModel, Lockfile, sync

    files = target.files  # the lockfile's own form (both are types.PinnedFile)
    if target.digest:  # an Ollama model: by its manifest digest, as sync() does
        name = meta.id.removeprefix("ollama:")
        locked = LockedModel(f"ollama:{name}", "ollama", name, "", target.digest, files)
    elif target.commit:
        folder = _snapshot(settings, meta.id, target.commit)
        if not target.files:  # nothing to check the files by
            if not folder.is_dir():
                raise RegistryError(f"{target.model} version {target.number} pins commit {target.commit[:12]} but no files, and the commit is not in the cache ({folder}). Nothing was changed; download it (nbmodels.download({meta.id!r}, revision={target.commit!r})) and roll back again.")  # fmt: skip
            return "unverified", 0, 0, str(folder)
        locked = LockedModel(meta.id, "huggingface", meta.id, target.commit, target.commit, files)  # fmt: skip
    else:
        return "none", 0, 0, None
    report = sync(Lockfile((locked,)), settings=settings, progress=progress)
    state = report.models.get(locked.id, "cached")
    where = str(_snapshot(settings, meta.id, target.commit)) if target.commit else None
    return state, report.files_checked, report.bytes_fetched, where


def rollback(
    registry: Registry,
    model: str,
    to: int | str,
    *,
    settings: Settings | None = None,
    who: str | None = None,
    progress: bool = False,
) -> RollbackReport:
    """Bring ``model`` back to version ``to`` (a number, or an alias such as ``"production"``):
    its files (from the cache when they match their sha256, else fetched again at the pinned
    commit and checked), its configuration (saved back as the model's stored configuration),
    the registry entry's folder and commit, and a ``rollback`` record in the history.

    An unknown version is a :class:`VersionNotFoundError` naming the model and the version;
    a version whose files cannot be had again (gone upstream, another sha256) a
    :class:`~nbmodels.errors.LockfileError`. Either way nothing is changed.
    ``settings`` (default: the registry's) says where the caches and the stored
    configurations are."""
    from ..config.stored import _store_lock, _yaml_text, configuration_path
    from ..files import atomic_write
    from .records import _configuration_json, _metadata_from, _metadata_json

    settings = settings or registry.settings
    key = registry._key(model)
    read = registry._store.read
    number = _number(read, key, to)  # refused here, before anything is touched
    target = next(v for v in versions(registry, key) if v.number == number)
    before = read(f"SELECT {', '.join(_ENTRY_STATE)} FROM entries WHERE key = ?", [key])
    if not before:
        raise VersionNotFoundError(f"{key} was removed from the registry meanwhile. Nothing was changed.")  # fmt: skip
    was_row = dict(zip(_ENTRY_STATE, before[0], strict=True))
    meta = _metadata_from(was_row["metadata"])
    cfg = None
    if target.configuration is not None:  # checked before any file is fetched
        cfg = _checked_configuration(target.configuration, key, meta.id)
        if not cfg.model_id:
            cfg = dataclasses.replace(cfg, model_id=meta.id)
    person = _who(who)
    path: Path | None = None
    old_text: bytes | None = None
    try:
        try:
            with _recording_held(
                key, target.commit or target.digest
            ):  # fetched again: no new version
                state, checked, fetched, folder = _restore_files(target, meta, settings, progress)
        except LockfileError as exc:
            raise LockfileError(f"{key} cannot roll back to version {number}: {exc} The registry and the stored configuration were left as they were.") from exc  # fmt: skip
        if cfg is not None:
            path = configuration_path(cfg.model_id, settings)
            with _store_lock(path):
                old_text = path.read_bytes() if path.is_file() else None
                atomic_write(path, _yaml_text(cfg).encode())
        values: dict[str, Any] = {"last_updated": datetime.now(UTC).timestamp()}
        if cfg is not None:
            values["configuration"] = _configuration_json(cfg)
        if folder is not None:
            restored = dataclasses.replace(meta, local_path=folder, is_downloaded=True,
                                           version=target.commit or meta.version)  # fmt: skip
            values |= {"local_path": folder, "metadata": _metadata_json(restored),
                       "is_available": 1, "download_status": "completed"}  # fmt: skip
        with registry._store.transaction() as con:
            if con.execute("SELECT 1 FROM versions WHERE key = ? AND number = ?", [key, number]).fetchone() is None:  # fmt: skip
                raise VersionNotFoundError(f"{key} version {number} was removed meanwhile. Nothing was changed.")  # fmt: skip
            was = con.execute(_CURRENT, [key]).fetchone()
            previous = None if was is None or was[0] is None else int(was[0])
            sets = ", ".join(f"{k} = ?" for k in values)
            con.execute(f"UPDATE entries SET {sets} WHERE key = ?", [*values.values(), key])
            _history(con, key, "rollback", number, was=previous, who=person,
                     note=f"files {state}" + ("; configuration restored" if cfg is not None else ""))  # fmt: skip
    except BaseException:
        _undo(registry, key, was_row, path, old_text)
        raise
    return RollbackReport(key, number, previous, target.commit, target.digest, state, checked,
                          fetched, cfg is not None, folder or meta.local_path)  # fmt: skip


#: an entry's columns a rollback (or a download on its way) writes; usage is left alone
_ENTRY_STATE = ("model_id", "source", "name", "model_type", "tasks", "license", "parameters",
                "size_bytes", "local_path", "metadata", "configuration", "download_status",
                "is_available", "last_updated")  # fmt: skip


def _undo(registry: Registry, key: str, was: dict[str, Any], path: Path | None, old_text: bytes | None) -> None:  # fmt: skip
    """A refused or failed rollback leaves nothing half: the stored configuration as it was,
    and the entry as it was (a download on the way registers itself: that is put back too)."""
    import contextlib

    from ..config.stored import _store_lock
    from ..files import atomic_write

    if path is not None:
        with contextlib.suppress(OSError), _store_lock(path):
            if old_text is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, old_text)
    with contextlib.suppress(NBModelsError):
        now = registry._store.read(f"SELECT {', '.join(_ENTRY_STATE)} FROM entries WHERE key = ?", [key])  # fmt: skip
        if now and tuple(now[0]) != tuple(was.values()):
            with registry._store.transaction() as con:
                sets = ", ".join(f"{c} = ?" for c in was)
                con.execute(f"UPDATE entries SET {sets} WHERE key = ?", [*was.values(), key])
