"""Versions of a registered model, aliases that move between them, and rollback.

    >>> from nbmodels.storage.versions import record_version, set_alias, rollback, versions
    >>> v = record_version(reg, "org/name", note="before the new prompt")  # what it is now
    >>> set_alias(reg, "org/name", "production", v.number)
    >>> rollback(reg, "org/name", to="production")                         # or to=3

A version is what a model ran on: a Hub commit, an Ollama manifest digest or a configuration
revision (a kind each), with what restoring it takes: the commit or digest, the stored
configuration (as :func:`~nbmodels.config.stored.configuration_dict` writes it) and, when
known, every file with its size and sha256 (the lockfile's form). Numbers run 1..N per model
and are handed out by the database inside the write transaction; the ``versions`` table's
primary key ``(key, number)`` refuses a number twice, whatever a client believes.

Aliases (``production``, ``staging``, any name but a number) belong to one model each and
move between its versions; every move is kept (who, when in UTC, from, to) in
``version_history``, beside each recording and each rollback. The *current* version is the
one last recorded or rolled back to.

:func:`rollback` restores a version's files (from the cache when each file there matches its
sha256, else fetched again at the pinned commit by :func:`~nbmodels.downloader.lockfile.sync`
and checked) and its configuration (saved back as the model's stored configuration), then
points the registry entry at them, with a ``rollback`` record, in one transaction. Anything
refused (an unknown version, a pinned file gone upstream) changes nothing.

Everything goes through the registry's backend (``read`` and ``transaction`` with ``?``
placeholders, SQLite's dialect), so it works on a team's PostgreSQL registry too.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, LockfileError, NBModelsError, RegistryError
from ..settings import Settings
from ..types import ModelConfiguration, ModelSource

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..downloader.lockfile import LockedFile
    from .backend import Connection
    from .registry import Registry

__all__ = [
    "AliasMove",
    "HistoryRecord",
    "RollbackReport",
    "Version",
    "VersionNotFoundError",
    "alias_history",
    "current_version",
    "get_version",
    "history",
    "record_version",
    "rollback",
    "set_alias",
    "version_aliases",
    "versions",
    "versions_frame",
]

_HEX = re.compile(r"[0-9a-f]+")
_SKIPPED_PARTS = frozenset({".git", ".cache"})  # huggingface_hub's local_dir bookkeeping


class VersionNotFoundError(RegistryError, LookupError):
    """A model has no version of that number or alias."""


# -- records --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Version:
    """One version of a registered model (``model`` is its registry key)."""

    model: str
    number: int
    kind: str  # "hub" (a commit), "ollama" (a manifest digest) or "configuration"
    commit: str | None = None
    digest: str | None = None
    configuration: dict[str, Any] | None = None
    files: tuple[LockedFile, ...] = ()
    note: str | None = None
    created_at: str = ""  # UTC, ISO 8601
    created_by: str = ""
    aliases: tuple[str, ...] = ()  # the aliases that point here now
    is_current: bool = False

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["files"] = [dataclasses.asdict(f) for f in self.files]
        data["aliases"] = list(self.aliases)
        return data

    def __repr__(self) -> str:
        pin = self.commit or self.digest
        said = [self.kind] + ([pin[:12]] if pin else []) + [f"{len(self.files)} files"]
        said += ["configured"] if self.configuration else []
        said += [f"@{a}" for a in self.aliases] + (["current"] if self.is_current else [])
        return f"<Version {self.model} #{self.number}: {', '.join(said)}>"


@dataclass(frozen=True)
class HistoryRecord:
    """One line of a model's version history: a ``record``, an ``alias`` move or a ``rollback``
    (``from_number`` -> ``to_number``; ``alias`` for a move)."""

    model: str
    action: str
    to_number: int | None
    from_number: int | None = None
    alias: str | None = None
    who: str = ""
    at: str = ""  # UTC, ISO 8601
    note: str | None = None


#: an alias move is a history record whose action is "alias"
AliasMove = HistoryRecord


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


# -- helpers --------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _who(who: str | None) -> str:
    if who:
        return str(who)
    try:
        return getpass.getuser()
    except Exception:  # no user name to be had (a container without one)
        return "unknown"


def _hex(value: object, lengths: tuple[int, ...]) -> bool:
    return isinstance(value, str) and len(value) in lengths and bool(_HEX.fullmatch(value))


def _locked_files(files: Iterable[Any], model: str) -> tuple[LockedFile, ...]:
    """``files`` (LockedFile, FileInfo or mappings of path, size and sha256) as LockedFiles;
    ConfigurationError naming the model and the file when one lacks its size or sha256."""
    from ..downloader.lockfile import LockedFile

    out = []
    for item in files:
        data = item if isinstance(item, Mapping) else {k: getattr(item, k, None) for k in ("path", "size", "sha256")}  # fmt: skip
        path, size, sha = data.get("path"), data.get("size"), data.get("sha256")
        if not isinstance(path, str) or not path or isinstance(size, bool) or not isinstance(size, int) or size < 0 or not _hex(sha, (64,)):  # fmt: skip
            raise ConfigurationError(f"{model}: a version's file needs a path, a size and a sha256 (64 hex digits); got {item!r}.")  # fmt: skip
        out.append(LockedFile(path, size, str(sha)))
    return tuple(sorted(out, key=lambda f: f.path))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _folder_files(folder: Path) -> tuple[LockedFile, ...]:
    """Every file under ``folder`` (a snapshot or a model folder) with its size and sha256."""
    from ..downloader.lockfile import LockedFile

    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if _SKIPPED_PARTS & set(rel.parts) or p.name.endswith((".lock", ".incomplete")):
            continue
        if p.is_file():
            out.append(LockedFile(rel.as_posix(), p.stat().st_size, _sha256(p)))
    return tuple(out)


def _snapshot(settings: Settings, repository: str, commit: str) -> Path:
    return Path(settings.hf_cache) / ("models--" + repository.replace("/", "--")) / "snapshots" / commit  # fmt: skip


def _commit_of(meta: Any) -> str | None:
    """The Hub commit an entry's files are at: its ``version`` or its snapshot folder's name."""
    if _hex(meta.version, (40,)):
        return str(meta.version)
    path = Path(meta.local_path) if meta.local_path else None
    if path is not None and path.parent.name == "snapshots" and _hex(path.name, (40,)):
        return path.name
    return None


def _version(row: Any, aliases: Sequence[str] = (), current: int | None = None) -> Version:
    from ..downloader.lockfile import LockedFile

    files = tuple(LockedFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in json.loads(row["files"] or "[]"))  # fmt: skip
    return Version(
        model=str(row["key"]), number=int(row["number"]), kind=str(row["kind"]),
        commit=row["commit_hash"], digest=row["digest"],
        configuration=json.loads(row["configuration"]) if row["configuration"] else None,
        files=files, note=row["note"], created_at=str(row["created_at"]),
        created_by=str(row["created_by"] or ""), aliases=tuple(sorted(aliases)),
        is_current=current is not None and int(row["number"]) == current,
    )  # fmt: skip


def _record(row: Any) -> HistoryRecord:
    return HistoryRecord(
        model=str(row["key"]), action=str(row["action"]),
        to_number=None if row["to_number"] is None else int(row["to_number"]),
        from_number=None if row["from_number"] is None else int(row["from_number"]),
        alias=row["alias"], who=str(row["who"] or ""), at=str(row["happened_at"]), note=row["note"],
    )  # fmt: skip


_CURRENT = (
    "SELECT to_number FROM version_history WHERE key = ? AND action IN ('record', 'rollback') "
    "ORDER BY seq DESC LIMIT 1"
)


def _current(read: Any, key: str) -> int | None:
    rows = list(read(_CURRENT, [key]))
    return None if not rows or rows[0][0] is None else int(rows[0][0])


def _alias_name(alias: str) -> str:
    name = str(alias).strip().lstrip("@").strip()
    if not name or name.isdigit():
        raise ConfigurationError(f"A version alias needs a name that is not a number (e.g. 'production'); got {alias!r}.")  # fmt: skip
    return name


def _number(read: Any, key: str, ref: int | str) -> int:
    """The version ``ref`` names (a number, "3", or an alias, "production" or "@production");
    VersionNotFoundError naming the model, what was asked and what there is."""
    number: int | None = None
    text = str(ref).strip().lstrip("@").strip()
    if isinstance(ref, int) and not isinstance(ref, bool):
        number = ref
    elif text.isdigit():
        number = int(text)
    if number is not None:
        if list(read("SELECT 1 FROM versions WHERE key = ? AND number = ?", [key, number])):
            return number
    elif text:
        rows = list(read("SELECT number FROM version_aliases WHERE key = ? AND alias = ?", [key, text]))  # fmt: skip
        if rows:
            return int(rows[0][0])
    numbers = [int(r[0]) for r in read("SELECT number FROM versions WHERE key = ? ORDER BY number", [key])]  # fmt: skip
    aliases = {str(r[0]): int(r[1]) for r in read("SELECT alias, number FROM version_aliases WHERE key = ? ORDER BY alias", [key])}  # fmt: skip
    if not numbers:
        there = "it has no versions yet (record one with record_version)"
    else:
        there = (
            f"its versions are {numbers[0]}..{numbers[-1]}"
            if len(numbers) > 1
            else "its only version is 1"
        )
        there += ("; aliases: " + ", ".join(f"{a} -> {n}" for a, n in aliases.items())) if aliases else ""  # fmt: skip
    raise VersionNotFoundError(f"{key} has no version {ref!r}: {there}. Nothing was changed.")


# -- reading --------------------------------------------------------------------------------------
def versions(registry: Registry, model: str) -> list[Version]:
    """Every version of ``model`` (a registry reference), oldest first."""
    key = registry._key(model)
    read = registry._store.read
    aliases: dict[int, list[str]] = {}
    for alias, number in read("SELECT alias, number FROM version_aliases WHERE key = ?", [key]):
        aliases.setdefault(int(number), []).append(str(alias))
    current = _current(read, key)
    rows = read("SELECT * FROM versions WHERE key = ? ORDER BY number", [key])
    return [_version(r, aliases.get(int(r["number"]), ()), current) for r in rows]


def versions_frame(registry: Registry, model: str) -> pd.DataFrame:
    """:func:`versions` as a DataFrame: one row per version (files as a count and bytes)."""
    import pandas as pd

    columns = ["number", "kind", "commit", "digest", "files", "size_bytes", "configured",
               "aliases", "current", "created_at", "created_by", "note"]  # fmt: skip
    rows = [
        {"number": v.number, "kind": v.kind, "commit": v.commit, "digest": v.digest,
         "files": len(v.files), "size_bytes": v.size, "configured": v.configuration is not None,
         "aliases": list(v.aliases), "current": v.is_current, "created_at": v.created_at,
         "created_by": v.created_by, "note": v.note}
        for v in versions(registry, model)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def get_version(registry: Registry, model: str, version: int | str) -> Version:
    """One version of ``model``: by number or by alias (``"production"``)."""
    key = registry._key(model)
    number = _number(registry._store.read, key, version)
    return next(v for v in versions(registry, key) if v.number == number)


def current_version(registry: Registry, model: str) -> int | None:
    """The number of the version last recorded or rolled back to (None: no versions yet)."""
    return _current(registry._store.read, registry._key(model))


def version_aliases(registry: Registry, model: str) -> dict[str, int]:
    """``{alias: version number}`` of ``model``."""
    key = registry._key(model)
    rows = registry._store.read("SELECT alias, number FROM version_aliases WHERE key = ? ORDER BY alias", [key])  # fmt: skip
    return {str(a): int(n) for a, n in rows}


def history(registry: Registry, model: str) -> list[HistoryRecord]:
    """Everything that happened to ``model``'s versions, oldest first: recordings, alias
    moves and rollbacks."""
    key = registry._key(model)
    return [_record(r) for r in registry._store.read("SELECT * FROM version_history WHERE key = ? ORDER BY seq", [key])]  # fmt: skip


def alias_history(registry: Registry, model: str) -> list[AliasMove]:
    """Every alias move of ``model``, oldest first (who, when, alias, from, to)."""
    key = registry._key(model)
    rows = registry._store.read("SELECT * FROM version_history WHERE key = ? AND action = 'alias' ORDER BY seq", [key])  # fmt: skip
    return [_record(r) for r in rows]


# -- writing --------------------------------------------------------------------------------------
def _history(con: Connection, key: str, action: str, to: int | None, *, was: int | None = None,
             alias: str | None = None, who: str = "", note: str | None = None) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO version_history (key, seq, action, alias, from_number, to_number, who, "
        "happened_at, note) SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
        "FROM version_history WHERE key = ?",
        [key, action, alias, was, to, who, _now(), note, key],
    )


def _stored_configuration(registry: Registry, entry: Any) -> dict[str, Any] | None:
    """The model's stored configuration (its file under the settings' home, by id or key),
    else the registry entry's; as plain data."""
    from ..config.configuration import get_configuration
    from ..config.stored import configuration_dict

    meta = entry.metadata
    for name in (meta.id, meta.key):
        try:
            cfg = get_configuration(name, registry.settings)
        except (NBModelsError, OSError):
            cfg = None
        if cfg is not None:
            return configuration_dict(cfg)
    return configuration_dict(entry.configuration) if entry.configuration is not None else None


def _checked_configuration(data: Mapping[str, Any], key: str, model_id: str) -> ModelConfiguration:
    from ..config.stored import _configuration_from

    return _configuration_from({"model_id": model_id, **dict(data)}, Path(f"{key} version"))


def record_version(
    registry: Registry,
    model: str,
    *,
    commit: str | None = None,
    digest: str | None = None,
    configuration: ModelConfiguration | Mapping[str, Any] | None = None,
    files: Iterable[Any] | None = None,
    note: str | None = None,
    who: str | None = None,
) -> Version:
    """Record a new version of ``model`` (numbered N + 1 by the database) and make it the
    current one. What is left out is read from the model as it is now:

    - ``commit``: a Hub model's commit (its entry's revision, or its snapshot folder's name);
      ``digest``: an Ollama model's manifest digest (from Ollama's store);
    - ``configuration``: the model's stored configuration (else the entry's);
    - ``files``: each file's path, size and sha256 (LockedFile, FileInfo or mappings), taken
      from an earlier version at the same commit, else hashed from the commit's folder in
      the HF cache (or the entry's own folder) when it is there; ``files=()`` records none.
    """
    from ..config.stored import configuration_dict

    key = registry._key(model)
    entry = registry.get(key)
    meta = entry.metadata
    settings = registry.settings
    if commit is not None and not _hex(commit, (40,)):
        raise ConfigurationError(f"{key}: commit {commit!r} is not a Hub commit (40 hex digits).")
    if digest is not None:
        digest = digest.removeprefix("sha256:")
        if not _hex(digest, (64,)):
            raise ConfigurationError(f"{key}: digest is not an Ollama manifest digest (64 hex digits).")  # fmt: skip
    is_ollama = meta.source is ModelSource.OLLAMA
    found: tuple[LockedFile, ...] | None = None
    if is_ollama and commit is None:
        from .ollama_store import OllamaStore

        try:
            stored = OllamaStore(settings.ollama_models).get(meta.id)
        except (NBModelsError, OSError):
            stored = None
        if stored is not None and digest in (None, stored.digest):
            digest = stored.digest
            layers = [stored.manifest.get("config") or {}, *stored.layers]
            found = _locked_files(({"path": str(x.get("mediaType", "")), "size": int(x.get("size", 0)),
                                    "sha256": str(x["digest"]).removeprefix("sha256:")} for x in layers if x.get("digest")), key)  # fmt: skip
    elif not is_ollama and digest is None and commit is None:
        commit = _commit_of(meta)
    if configuration is None:
        config = _stored_configuration(registry, entry)
    else:
        data = configuration_dict(configuration) if isinstance(configuration, ModelConfiguration) else dict(configuration)  # fmt: skip
        # an unusable one is refused (nothing written); a partial one is completed
        config = configuration_dict(_checked_configuration(data, key, meta.id))
    if files is not None:
        pinned = _locked_files(files, key)
    elif found is not None:
        pinned = found
    elif commit is not None:
        earlier = [v for v in versions(registry, key) if v.commit == commit and v.files]
        folder = _snapshot(settings, meta.id, commit)
        local = Path(meta.local_path) if meta.local_path else None
        if earlier:
            pinned = earlier[-1].files
        elif folder.is_dir():
            pinned = _folder_files(folder)
        elif local is not None and local.is_dir() and commit == _commit_of(meta):
            pinned = _folder_files(local)
        else:
            pinned = ()
    else:
        pinned = ()
    kind = "ollama" if digest else "hub" if commit else "configuration"
    person, at = _who(who), _now()
    with registry._store.transaction() as con:
        # the number is the database's: the next one under the write lock, the key refuses twice
        con.execute(
            "INSERT INTO versions (key, number, kind, commit_hash, digest, configuration, files, "
            "note, created_at, created_by) SELECT ?, coalesce(max(number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? "
            "FROM versions WHERE key = ?",
            [key, kind, commit, digest, json.dumps(config, sort_keys=True, default=str) if config else None,
             json.dumps([dataclasses.asdict(f) for f in pinned]), note, at, person, key],
        )  # fmt: skip
        number = int(con.execute("SELECT max(number) FROM versions WHERE key = ?", [key]).fetchone()[0])  # fmt: skip
        was = con.execute(_CURRENT, [key]).fetchone()
        _history(con, key, "record", number, was=None if was is None else was[0], who=person, note=note)  # fmt: skip
    return get_version(registry, key, number)


def set_alias(
    registry: Registry, model: str, alias: str, version: int | str, *, who: str | None = None
) -> Version:
    """Point ``alias`` (``production``, ``staging``, any name but a number) of ``model`` at
    ``version`` (a number or another alias); the move is kept in the history. Returns the
    version it now points at."""
    key = registry._key(model)
    name = _alias_name(alias)
    person = _who(who)
    with registry._store.transaction() as con:

        def read(sql: str, params: Sequence[Any]) -> list[Any]:
            return list(con.execute(sql, params).fetchall())

        number = _number(read, key, version)
        old = con.execute("SELECT number FROM version_aliases WHERE key = ? AND alias = ?", [key, name]).fetchone()  # fmt: skip
        was = None if old is None else int(old[0])
        if was != number:
            con.execute("INSERT OR REPLACE INTO version_aliases (key, alias, number) VALUES (?, ?, ?)", [key, name, number])  # fmt: skip
            _history(con, key, "alias", number, was=was, alias=name, who=person)
    return get_version(registry, key, number)


# -- rollback -------------------------------------------------------------------------------------
def _restore_files(target: Version, meta: Any, settings: Settings, progress: bool) -> tuple[str, int, int, str | None]:  # fmt: skip
    """The version's files in place (nothing in the registry is written here): their state,
    files checked, bytes fetched and the folder they are in (None: the entry's stays)."""
    from ..downloader.lockfile import LockedModel, Lockfile, sync

    if target.digest:  # an Ollama model: by its manifest digest, as sync() does
        name = meta.id.removeprefix("ollama:")
        locked = LockedModel(f"ollama:{name}", "ollama", name, "", target.digest, target.files)
    elif target.commit:
        folder = _snapshot(settings, meta.id, target.commit)
        if not target.files:  # nothing to check the files by
            if not folder.is_dir():
                raise RegistryError(f"{target.model} version {target.number} pins commit {target.commit[:12]} but no files, and the commit is not in the cache ({folder}). Nothing was changed; download it (nbmodels.download({meta.id!r}, revision={target.commit!r})) and roll back again.")  # fmt: skip
            return "unverified", 0, 0, str(folder)
        locked = LockedModel(meta.id, "huggingface", meta.id, target.commit, target.commit, target.files)  # fmt: skip
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
