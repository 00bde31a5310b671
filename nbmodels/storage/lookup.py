"""The registry's footing: its backend (opened through :func:`~nbmodels.storage.backend.
open_backend`), references (a key, a model id or an ``@alias``) and entries read back.
:class:`~nbmodels.storage.registry.Registry` builds on it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, ModelNotFoundError
from ..settings import Settings, default_settings
from ..types import ModelMetadata, ModelRegistryEntry
from .backend import RegistryBackend, open_backend
from .records import _entry
from .schema import MIGRATIONS, REGISTRY_FILE


class RegistryLookup:
    """A registry's backend, and finding entries in it (the rest of :class:`Registry`
    adds writing, queries and upkeep)."""

    def __init__(self, path: Path | str | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or default_settings()
        # no location: the settings' team registry (NBMODELS_REGISTRY_URL), else the home's file
        location = path if path is not None else (self.settings.registry_url or self.settings.home / REGISTRY_FILE)  # fmt: skip
        self._store: RegistryBackend = open_backend(location, MIGRATIONS)
        self.path = self._store.path

    def __repr__(self) -> str:
        return f"<Registry {str(self.path)!r}>"

    def close(self) -> None:
        self._store.close()

    # -- references ---------------------------------------------------------------------------
    def _key(self, ref: str | ModelMetadata) -> str:
        if isinstance(ref, ModelMetadata):
            return ref.key
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigurationError(f"A registry reference is a model id, key or @alias; got {ref!r}.")  # fmt: skip
        ref = ref.strip()
        if ref.startswith("@"):
            rows = self._store.read("SELECT key FROM aliases WHERE alias = ?", [ref[1:]])
            if not rows:
                known = [r[0] for r in self._store.read("SELECT alias FROM aliases")]
                close = difflib.get_close_matches(ref[1:], known, n=1)
                hint = f" Did you mean '@{close[0]}'?" if close else ""
                raise ModelNotFoundError(f"No alias {ref!r} in the registry.{hint} Set one with set_alias().")  # fmt: skip
            return str(rows[0][0])
        rows = self._store.read("SELECT key FROM entries WHERE key = ? OR model_id = ?", [ref, ref])
        keys = sorted({str(r[0]) for r in rows})
        if len(keys) == 1:
            return keys[0]
        if len(keys) > 1:
            exact = [k for k in keys if k == ref]
            if exact:
                return exact[0]
            raise ModelNotFoundError(f"{ref!r} is registered from several sources ({', '.join(keys)}): use one of those keys.")  # fmt: skip
        known = [r[0] for r in self._store.read("SELECT model_id FROM entries")]
        close = difflib.get_close_matches(ref, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ModelNotFoundError(f"{ref!r} is not in the registry.{hint} register() it first.")

    # -- reading ------------------------------------------------------------------------------
    def _entries(self, where: str = "1", params: Sequence[Any] = (), tail: str = "ORDER BY key") -> list[ModelRegistryEntry]:  # fmt: skip
        rows = self._store.read(f"SELECT * FROM entries WHERE {where} {tail}", params)
        if not rows:
            return []
        keys = [r["key"] for r in rows]
        deps: dict[str, list[str]] = {k: [] for k in keys}
        dependents: dict[str, list[str]] = {k: [] for k in keys}
        tags: dict[str, list[str]] = {k: [] for k in keys}
        if len(keys) <= 500:
            marks = ", ".join("?" for _ in keys)
            dep_rows = self._store.read(f"SELECT key, depends_on FROM dependencies WHERE key IN ({marks}) OR depends_on IN ({marks})", [*keys, *keys])  # fmt: skip
            tag_rows = self._store.read(f"SELECT key, tag FROM tags WHERE key IN ({marks})", keys)
        else:
            dep_rows = self._store.read("SELECT key, depends_on FROM dependencies")
            tag_rows = self._store.read("SELECT key, tag FROM tags")
        for k, d in dep_rows:
            if k in deps:
                deps[k].append(d)
            if d in dependents:
                dependents[d].append(k)
        for k, t in tag_rows:
            if k in tags:
                tags[k].append(t)
        return [_entry(r, deps[r["key"]], dependents[r["key"]], tags[r["key"]]) for r in rows]

    def get(self, ref: str) -> ModelRegistryEntry:
        key = self._key(ref)
        found = self._entries("key = ?", [key])
        if not found:  # removed between the lookup and now
            raise ModelNotFoundError(f"{ref!r} is not in the registry.")
        return found[0]

    def __contains__(self, ref: object) -> bool:
        try:
            self._key(ref)  # type: ignore[arg-type]
        except (ModelNotFoundError, ConfigurationError):
            return False
        return True

    def __len__(self) -> int:
        return int(self._store.read("SELECT count(*) FROM entries")[0][0])
