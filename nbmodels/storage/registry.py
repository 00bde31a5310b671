"""The model registry: what this home has, how it is configured, what it is used for.

    >>> reg = nbmodels.registry                     # the default one, in $NBMODELS_HOME
    >>> reg.register(nbmodels.model_info("org/name"), tags=["chat"], aliases=["chat-default"])
    >>> reg.get("@chat-default").is_active
    >>> reg.sql("SELECT model_id, use_count FROM entries ORDER BY use_count DESC")

One SQLite file (``$NBMODELS_HOME/registry.db``, WAL mode) shared safely by every kernel on
the home, reached only through the :class:`~nbmodels.storage.backend.RegistryBackend` seam
(:func:`~nbmodels.storage.backend.open_backend`): each change is one transaction, so two
processes registering, activating or counting usage at once lose nothing. ``sql()`` runs
DuckDB over the registry's tables beside the catalog's ``models``. Downloads and stored
configurations register themselves; the engine records usage.

:class:`Registry` is put together from its parts: ``lookup`` (the backend, references),
``lifecycle`` (writing), ``queries`` (reading, SQL), ``backup``, ``records`` and ``schema``;
this module adds the upkeep (cleanup, re-indexing, validation, backup and restore) and the
default registry. Named ``registry`` inside ``nbmodels.storage``, so it cannot shadow the
object ``nbmodels.registry``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta
from pathlib import Path

from ..config.stored import configurations_folder
from ..errors import NBModelsError
from ..settings import Settings, default_settings, settings_generation
from ..types import DownloadStatus, ModelMetadata, ModelRegistryEntry, ModelSource
from .backup import (
    RestoreReport,
    _model_id_of,
    backup_configurations,
    configuration_files,
    replace_configurations,
)
from .lifecycle import RegistryLifecycle
from .queries import RegistryQueries
from .records import _as_origin, _configuration_from, _metadata_from
from .schema import MIGRATIONS, REGISTRY_FILE

__all__ = ["MIGRATIONS", "Registry", "RestoreReport", "default_registry"]


class Registry(RegistryLifecycle, RegistryQueries):
    """A persistent registry of models in one SQLite file (default: the home's).

    References (``ref``) are a catalog key (``"huggingface:org/name"``), a model id
    (``"org/name"``, when one source has it) or an alias (``"@chat-default"``).

    ``path`` is the file, a ``sqlite:///`` URL or a team's ``postgresql://`` URL
    (:func:`~nbmodels.storage.backend.open_backend`); left out, ``settings.registry_url``
    (``NBMODELS_REGISTRY_URL``) when set, else the home's file.
    """

    # -- keeping it true ------------------------------------------------------------------------
    def cleanup(
        self,
        *,
        unused_for: timedelta = timedelta(days=30),
        dry_run: bool = True,
        delete_files: bool = False,
    ) -> list[ModelRegistryEntry]:
        """Entries not used for ``unused_for`` (never used: registered that long ago), not
        active and nothing depending on them. ``dry_run`` (the default) only lists them;
        otherwise they are removed, and with ``delete_files`` their files in the HF cache
        or Ollama store too."""
        cutoff = time.time() - unused_for.total_seconds()
        stale = self._entries(
            "is_active = 0 AND coalesce(last_used, registered_at) < ? "
            "AND key NOT IN (SELECT depends_on FROM dependencies)",
            [cutoff],
        )
        if dry_run:
            return stale
        for e in stale:
            if delete_files:
                self._delete_files(e)
            with self._store.transaction() as con:
                con.execute("DELETE FROM entries WHERE key = ?", [e.metadata.key])
        return stale

    def _delete_files(self, e: ModelRegistryEntry) -> None:
        meta = e.metadata
        if meta.source is ModelSource.OLLAMA or meta.key.startswith("local:ollama"):
            from .ollama_store import OllamaStore

            OllamaStore(self.settings.ollama_models).delete(meta.id)
            return
        from huggingface_hub import scan_cache_dir

        try:
            cache = scan_cache_dir(self.settings.hf_cache)
        except Exception:
            return
        hashes = [rev.commit_hash for repo in cache.repos if repo.repo_id == meta.id for rev in repo.revisions]  # fmt: skip
        if hashes:
            cache.delete_revisions(*hashes).execute()

    def update_index(self) -> dict[str, list[str]]:
        """Re-sync with what is really on disk: models downloaded by other tools (the HF
        cache, Ollama's store) are registered; entries whose files were deleted behind the
        registry's back become unavailable. Returns what changed."""
        from ..discover.sources.local import LocalSource

        found = LocalSource(self.settings).search("", limit=None)
        on_disk = {}
        for m in found:
            if not m.is_downloaded:
                continue
            m = _as_origin(m)
            on_disk[m.key] = m
        added, gone, back = [], [], []
        known = {
            r["key"]: r
            for r in self._store.read("SELECT key, local_path, is_available FROM entries")
        }
        for key, m in on_disk.items():
            if key not in known:
                self.register(m, download_status=DownloadStatus.COMPLETED, available=True)
                added.append(key)
            elif not known[key]["is_available"]:
                self._set(key, is_available=1, download_status="completed", local_path=m.local_path)
                back.append(key)
        for key, row in known.items():
            path = row["local_path"]
            if row["is_available"] and key not in on_disk and (not path or not Path(path).exists()):
                self._set(key, is_available=0, download_status="pending")
                gone.append(key)
        return {"added": added, "unavailable": gone, "available_again": back}

    def validate(self, *, repair: bool = False) -> list[str]:
        """Problems found (the database's own integrity check, entries that cannot be
        read, available models whose folder is gone); with ``repair``, what can be fixed
        is, and each message says what was done."""
        problems = [f"integrity: {p}" for p in self._store.integrity()]
        for r in self._store.read(
            "SELECT key, metadata, configuration, local_path, is_available FROM entries"
        ):
            try:
                _metadata_from(r["metadata"])
                _configuration_from(r["configuration"])
            except Exception as exc:
                problems.append(
                    f"{r['key']}: unreadable record ({exc})" + ("; removed" if repair else "")
                )
                if repair:
                    with self._store.transaction() as con:
                        con.execute("DELETE FROM entries WHERE key = ?", [r["key"]])
                continue
            if r["is_available"] and r["local_path"] and not Path(r["local_path"]).exists():
                problems.append(f"{r['key']}: marked available but {r['local_path']} is gone" + ("; marked unavailable" if repair else ""))  # fmt: skip
                if repair:
                    self._set(r["key"], is_available=0, download_status="pending")
        return problems

    def _configurations_folder(self) -> Path | None:
        """The home's stored configurations, for the home's own registry (None for a
        registry file elsewhere: those configurations are not its own)."""
        home = self.settings.home / REGISTRY_FILE
        return configurations_folder(self.settings) if self.path.resolve() == home.resolve() else None  # fmt: skip

    def move_to(
        self, destination: Path | str | Registry, *, replace: bool = False
    ) -> dict[str, int]:
        """Copy this whole registry to ``destination`` (a file path, ``sqlite:///`` or a team's
        ``postgresql://`` URL, or a Registry): entries, configurations, usage, tags, aliases,
        dependencies; this one is left as it was. Returns what the destination holds (see
        :func:`nbmodels.storage.transfer.migrate_registry`)."""
        from .transfer import migrate_registry

        return migrate_registry(self, destination, replace=replace)

    def backup(self, path: Path | str) -> Path:
        """The whole registry as one file (an SQLite database) to keep or move; the home's
        registry takes the home's stored configurations along (``restore`` puts both back)."""
        folder = self._configurations_folder()
        if folder is None:
            return self._store.backup_to(path)
        return self._store.backup_to(path, files=configuration_files(folder))

    def restore(self, path: Path | str) -> RestoreReport:
        """Replace the registry with a backup (checked first, configurations included: a bad
        backup changes nothing; an older schema is migrated).

        For the home's registry the stored configurations become the backup's too. The
        home's configuration files the backup does not hold as they are (a model it lacks,
        or another version) are moved, never deleted, to ``<home>/replaced/configs-<date>``.
        A backup written without configurations keeps those of the models it registers.
        Returns a :class:`RestoreReport`: the entries it holds, and what it replaced."""
        source = Path(path)
        folder = self._configurations_folder()
        stored = backup_configurations(self._store, source) if folder is not None else None
        try:
            before: int | None = len(self)
        except NBModelsError:  # the backend's errors are nbmodels' own
            before = None  # unreadable: that is why one restores
        self._store.restore_from(source)  # leaves the configurations out: they live in files
        if folder is None:
            return RestoreReport(len(self), replaced_entries=before)
        aside, moved = replace_configurations(self._store, self.settings, folder, stored)
        restored = sorted(_model_id_of(folder / name) for name in (stored or {}))
        return RestoreReport(len(self), replaced_entries=before, configurations=restored,
                             moved_aside=moved, moved_to=aside if moved else None)  # fmt: skip


def register_download(settings: Settings, model_id: str, kind: str, target: Path, commit: str | None) -> Registry:  # fmt: skip
    """What a finished download does: the model, read from its folder, registered as
    available and completed in the home's registry (returned, for the version to follow)."""
    from ..discover.sources.local import LocalSource

    source = ModelSource.OLLAMA if kind.startswith("ollama") else ModelSource.HUGGING_FACE
    meta = None
    if source is ModelSource.HUGGING_FACE and Path(target).is_dir():
        meta = LocalSource(settings, paths=[])._folder_model(Path(target), model_id)
    if meta is None:
        meta = ModelMetadata(id=model_id, source=source, is_downloaded=True)
    meta = dataclasses.replace(
        meta,
        source=source,
        version=commit or meta.version,
        local_path=str(target),
        is_downloaded=True,
    )
    registry = Registry(settings=settings)
    registry.register(meta, download_status=DownloadStatus.COMPLETED, available=True)
    return registry


# -- the default registry ---------------------------------------------------------------------
_default: tuple[int, Registry] | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of the current settings' home (rebuilt after ``use_settings``)."""
    global _default
    with _default_lock:
        generation = settings_generation()
        settings = default_settings()
        if (
            _default is None
            or _default[0] != generation
            or _default[1].settings.home != settings.home
            or _default[1].settings.registry_url != settings.registry_url
        ):
            _default = (generation, Registry(settings=settings))
        return _default[1]
