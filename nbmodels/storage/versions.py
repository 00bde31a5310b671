"""Versions of a registered model and aliases that move between them (rollback is
:mod:`nbmodels.storage.rollback`, above this module).

    >>> from nbmodels.storage.versions import record_version, set_alias, versions
    >>> from nbmodels.storage.rollback import rollback
    >>> v = record_version(reg, "org/name", note="before the new prompt")  # what it is now
    >>> set_alias(reg, "org/name", "production", v.number)
    >>> rollback(reg, "org/name", to="production")                         # or to=3

Versions are also recorded by themselves (:func:`record_if_changed`): a download at a new
Hub commit or a pull of a new Ollama manifest digest, and a saved stored configuration that
differs from the current version's. Nothing is recorded when nothing changed.

A version is what a model ran on: a Hub commit, an Ollama manifest digest or a configuration
revision (a kind each), with what restoring it takes: the commit or digest, the stored
configuration (as :func:`~nbmodels.config.stored.configuration_dict` writes it) and, when
known, every file with its size and sha256 (:class:`VersionFile`, the lockfile's form).
Numbers run 1..N per model and are handed out by the database inside the write transaction; the ``versions`` table's
primary key ``(key, number)`` refuses a number twice, whatever a client believes.

Aliases (``production``, ``staging``, any name but a number) belong to one model each and
move between its versions; every move is kept (who, when in UTC, from, to) in
``version_history``, beside each recording and each rollback. The *current* version is the
one last recorded or rolled back to.

This module reads and writes the registry only (and the stored configurations through
:mod:`nbmodels.config.stored`): the downloader and the configuration module record versions
through it without an import circle.

Everything goes through the registry's backend (``read`` and ``transaction`` with ``?``
placeholders, SQLite's dialect), so it works on a team's PostgreSQL registry too.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, NBModelsError, RegistryError
from ..settings import Settings
from ..types import ModelConfiguration, ModelSource, PinnedFile

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .backend import Connection
    from .registry import Registry

__all__ = [
    "AliasMove",
    "HistoryRecord",
    "Version",
    "VersionFile",
    "VersionNotFoundError",
    "alias_history",
    "current_version",
    "get_version",
    "history",
    "record_if_changed",
    "record_version",
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
VersionFile = PinnedFile  # a version's file: path, size, sha256 (the lockfile's form too)


@dataclass(frozen=True)
class Version:
    """One version of a registered model (``model`` is its registry key)."""

    model: str
    number: int
    kind: str  # "hub" (a commit), "ollama" (a manifest digest) or "configuration"
    commit: str | None = None
    digest: str | None = None
    configuration: dict[str, Any] | None = None
    files: tuple[VersionFile, ...] = ()
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


def _locked_files(files: Iterable[Any], model: str) -> tuple[VersionFile, ...]:
    """``files`` (VersionFile, LockedFile, FileInfo or mappings of path, size and sha256) as
    VersionFiles; ConfigurationError naming the model and the file when one lacks its size or
    sha256."""
    out = []
    for item in files:
        data = item if isinstance(item, Mapping) else {k: getattr(item, k, None) for k in ("path", "size", "sha256")}  # fmt: skip
        path, size, sha = data.get("path"), data.get("size"), data.get("sha256")
        if not isinstance(path, str) or not path or isinstance(size, bool) or not isinstance(size, int) or size < 0 or not _hex(sha, (64,)):  # fmt: skip
            raise ConfigurationError(f"{model}: a version's file needs a path, a size and a sha256 (64 hex digits); got {item!r}.")  # fmt: skip
        out.append(VersionFile(path, size, str(sha)))
    return tuple(sorted(out, key=lambda f: f.path))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _folder_files(folder: Path) -> tuple[VersionFile, ...]:
    """Every file under ``folder`` (a snapshot or a model folder) with its size and sha256."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if _SKIPPED_PARTS & set(rel.parts) or p.name.endswith((".lock", ".incomplete")):
            continue
        if p.is_file():
            out.append(VersionFile(rel.as_posix(), p.stat().st_size, _sha256(p)))
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
    files = tuple(VersionFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in json.loads(row["files"] or "[]"))  # fmt: skip
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
    from ..config.stored import configuration_dict, configuration_path, load_configuration

    meta = entry.metadata
    for name in (meta.id, meta.key):
        try:
            path = configuration_path(name, registry.settings)
            cfg = load_configuration(path) if path.exists() else None
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
    found: tuple[VersionFile, ...] | None = None
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


# -- recorded by themselves -----------------------------------------------------------------------
_held: dict[tuple[str, str], int] = {}  # (key, commit or digest) -> rollbacks restoring it
_held_lock = threading.Lock()


@contextmanager
def _recording_held(key: str, pin: str | None) -> Iterator[None]:
    """No version of ``key`` at ``pin`` (the commit or digest a rollback restores) recorded by
    itself meanwhile: the rollback fetching its files again downloads them (in the
    downloader's threads), which is no new version. Anything else (another commit, a saved
    configuration) is still recorded."""
    held = (key, pin or "")
    with _held_lock:
        _held[held] = _held.get(held, 0) + 1
    try:
        yield
    finally:
        with _held_lock:
            _held[held] -= 1
            if not _held[held]:
                del _held[held]


def _is_held(key: str, pin: str) -> bool:
    with _held_lock:
        return (key, pin) in _held


def _comparable(config: Mapping[str, Any] | None) -> Any:
    """A configuration as the versions table holds it (JSON), to compare two."""
    return None if not config else json.loads(json.dumps(dict(config), sort_keys=True, default=str))  # fmt: skip


def record_if_changed(
    registry: Registry,
    model: str,
    *,
    commit: str | None = None,
    configuration: ModelConfiguration | Mapping[str, Any] | None = None,
    files: Iterable[Any] | None = None,
    note: str | None = None,
    who: str | None = None,
) -> Version | None:
    """Record a version of ``model`` when it changed since its current version, else nothing
    (None); what a finished download and a saved stored configuration call. ``files`` (with
    ``commit``): the files the download checked, so nothing is hashed again.

    - with ``commit`` (a Hub download): a version when the commit is not the current one's;
    - with ``configuration`` (a saved configuration): a configuration revision (the files
      as they are now, this configuration) when it is not the current one's;
    - with neither, for an Ollama model (a pull): a version when the manifest digest in
      Ollama's store is not the current one's (nothing when the store has no such model).

    A model without versions yet gets its first one."""
    from ..config.stored import configuration_dict

    key = registry._key(model)
    number = current_version(registry, key)
    now = None if number is None else get_version(registry, key, number)
    if configuration is not None:
        data = configuration_dict(configuration) if isinstance(configuration, ModelConfiguration) else dict(configuration)  # fmt: skip
        if now is not None and _comparable(now.configuration) == _comparable(data):
            return None
        return record_version(registry, key, configuration=data, note=note, who=who)
    if commit is not None:
        if (now is not None and now.commit == commit) or _is_held(key, commit):
            return None
        return record_version(registry, key, commit=commit, files=files, note=note, who=who)
    meta = registry.get(key).metadata
    if meta.source is not ModelSource.OLLAMA:
        return None  # nothing to tell a change by
    from .ollama_store import OllamaStore

    try:
        stored = OllamaStore(registry.settings.ollama_models).get(meta.id)
    except (NBModelsError, OSError):
        stored = None
    if stored is None:
        return None
    digest = stored.digest.removeprefix("sha256:")
    if (now is not None and now.digest == digest) or _is_held(key, digest):
        return None
    return record_version(registry, key, digest=stored.digest, note=note, who=who)
