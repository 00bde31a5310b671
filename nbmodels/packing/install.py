"""Installing a pack's checked files where this machine's tools look for them.

* **Hugging Face models** go into the HF cache exactly as a download puts them
  (``models--org--name/blobs/<etag>``, ``snapshots/<commit>/<path>`` links, ``refs/main``):
  through the downloader's own :class:`~nbmodels.downloader.layout.DiskLayout`, which
  publishes a verified file under its blob name (a hard link, tolerating a copy already
  there), links the snapshot and writes the ref, in a team's shared cache with the team's
  modes. So ``transformers`` loads the model with ``HF_HUB_OFFLINE=1`` and ``nbmodels.download``
  of the same commit finds every file cached. A ref of this home that points at another
  commit is left as it is, and said.
* **Ollama models** go into ``$OLLAMA_MODELS``: each blob under ``blobs/sha256-<hex>`` (the
  same publishing), then the manifest, byte for byte as it was packed (its sha256 is the
  model's digest), written last, atomically: the model appears whole or not at all.
* **Blobs already here** (the cache names a blob by its hash, and only a verified file
  becomes one) are not written again: what the downloader trusts, this trusts.
* **The registry** of this home gets each model (home A's record when it had one: metadata,
  tags, aliases, else what the files say), its current version (the commit and every file's
  sha256, or the Ollama digest), and the stored configurations the lockfile carries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..downloader.layout import DiskLayout
from ..downloader.plan import DownloadPlan, PlannedFile, RemoteFile, repo_folder
from ..files import atomic_write, ensure_dir, share_file, storage_error
from ..settings import Settings
from .oci import PackedModel

if TYPE_CHECKING:  # pragma: no cover
    from ..downloader.lockfile import Lockfile
    from ..storage.registry import Registry

__all__ = ["Layout", "Target", "install", "register", "targets"]

UNPACK_SUFFIX = ".nbmodels-unpack"


class Layout(DiskLayout):
    """The downloader's layout of the HF cache and Ollama's store, without a downloader."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease_timeout = 15.0
        self.fsync = False


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one packed model goes: its plan (as a download's) and each file's blob."""

    model: PackedModel
    plan: DownloadPlan
    files: tuple[tuple[RemoteFile, str], ...]  # (the file as the layout knows it, its sha256)

    def missing(self, layout: Layout) -> list[tuple[RemoteFile, str]]:
        return [(f, d) for f, d in self.files if not layout._have(self.plan, f, hash_unrecorded=False)]  # fmt: skip


def targets(layout: Layout, models: Iterable[PackedModel]) -> list[Target]:
    """Each model's plan; a team's shared folder its group cannot write is refused now,
    before anything is written (StorageError naming it)."""
    from ..storage.ollama_store import OllamaStore

    out = []
    for model in models:
        if model.source == "ollama":
            store = OllamaStore(layout.settings.ollama_models)
            files = tuple((RemoteFile("sha256:" + x.digest, x.size, sha256=x.digest), x.digest) for x in model.layers)  # fmt: skip
            plan = DownloadPlan(model.repository, model.repository.rpartition(":")[2], model.commit,
                                tuple(PlannedFile(f, False) for f, _ in files),
                                store.manifest_path(model.repository), kind="ollama-registry")  # fmt: skip
        else:
            files = tuple(
                (RemoteFile(x.path, x.size, sha256=x.digest if x.etag == x.digest else None,
                            blob_id=x.etag if x.etag != x.digest else None), x.digest)
                for x in model.layers
            )  # fmt: skip
            folder = repo_folder(layout.settings.hf_cache, model.repository)
            plan = DownloadPlan(model.repository, model.commit, model.commit,
                                tuple(PlannedFile(f, False) for f, _ in files),
                                folder / "snapshots" / model.commit)  # fmt: skip
        layout._check_shared(plan)
        out.append(Target(model, plan, files))
    return out


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: a copy of the checked file
        shutil.copyfile(source, target)


def install(layout: Layout, plan: list[Target], staged: Mapping[str, Path], notes: list[str]) -> tuple[dict[str, str], int]:  # fmt: skip
    """Publish every missing file from ``staged`` (sha256 -> a checked file), then link each
    snapshot (or write each Ollama manifest). Returns each model's state and the bytes written."""
    states: dict[str, str] = {}
    written = 0
    for target in plan:
        model, p = target.model, target.plan
        wrote = False
        for f, digest in target.missing(layout):
            final = layout._final_path(p, f)
            mine = final.with_name(f"{final.name}.{os.getpid()}{UNPACK_SUFFIX}")
            try:
                ensure_dir(final.parent, shared=layout._shared(p))
                _link_or_copy(staged[digest], mine)
                if layout._shared(p):  # a team's cache: group-writable, as a download's
                    share_file(mine)
            except OSError as exc:
                mine.unlink(missing_ok=True)
                raise storage_error(final, exc) from None
            layout._publish(p, f, mine)
            written += f.size
            wrote = True
        if model.source == "ollama":
            wrote = _manifest(layout, target, notes) or wrote
        else:
            wrote = _snapshot(layout, target, notes) or wrote
        states[model.id] = "installed" if wrote else "present"
    return states, written


def _manifest(layout: Layout, target: Target, notes: list[str]) -> bool:
    """The Ollama manifest, as it was packed, written last; whether it changed anything."""
    path = target.plan.target
    with contextlib.suppress(OSError):
        old = path.read_bytes()
        if old == target.model.manifest:
            return False
        notes.append(f"{target.model.id}: this home's manifest (digest {hashlib.sha256(old).hexdigest()[:12]}) was replaced by the pack's ({target.model.commit[:12]}).")  # fmt: skip
    atomic_write(path, target.model.manifest, shared=layout._shared(target.plan))
    return True


def _snapshot(layout: Layout, target: Target, notes: list[str]) -> bool:
    """Snapshot links and the refs of home A that this home has not pointed elsewhere."""
    model, p = target.model, target.plan
    existed = p.target.is_dir() and all((p.target / f.path).exists() for f, _ in target.files)
    folder = repo_folder(layout.settings.hf_cache, model.repository)
    linked = False
    for ref in model.refs:
        path = folder / "refs" / ref
        with contextlib.suppress(OSError):
            old = path.read_text().strip()
            if old != model.commit:
                notes.append(f"{model.id}: refs/{ref} of this home stays at {old[:12]}; the pack's commit is {model.commit[:12]} (load it with revision={model.commit!r}).")  # fmt: skip
                continue
        layout._link(dataclasses.replace(p, revision=ref))
        linked = True
    if not linked:
        layout._link(p)  # the snapshot only: no ref of the pack to write
    return not existed


# -- the registry, configurations, the lockfile ----------------------------------------------------
def _metadata(model: PackedModel, record: Mapping[str, Any] | None, target: Target, settings: Settings) -> Any:  # fmt: skip
    """The model as this home registers it: home A's record (its folder, this home's), else
    what its files say (as a download registers it)."""
    from ..discover.sources.local import LocalSource
    from ..storage.records import _metadata_from
    from ..types import ModelMetadata, ModelSource

    ollama = model.source == "ollama"
    source = ModelSource.OLLAMA if ollama else ModelSource.HUGGING_FACE
    meta = None
    if record is not None:
        with contextlib.suppress(Exception):  # an unreadable record: the files speak instead
            meta = _metadata_from(json.dumps(record["metadata"]))
    if meta is None and not ollama:
        meta = LocalSource(settings, paths=[])._folder_model(target.plan.target, model.repository)
    if meta is None:
        name = model.id.removeprefix("ollama:") if ollama else model.repository
        meta = ModelMetadata(id=name, source=source, is_downloaded=True)
    return dataclasses.replace(meta, source=source, local_path=str(target.plan.target),
                               is_downloaded=True, version=meta.version if ollama else model.commit)  # fmt: skip


def register(plan: list[Target], records: list[dict[str, Any]], lock: Lockfile, settings: Settings,
             registry: Registry | None, archive: str, notes: list[str]) -> list[str]:  # fmt: skip
    """Each model registered (available, its version recorded), home A's tags and aliases
    (an alias this home gives another model stays, and is said), the lockfile's stored
    configurations saved. Returns the registry keys."""
    from ..config.configuration import save_configuration
    from ..downloader.lockfile import _locked_configuration
    from ..storage.records import _configuration_from
    from ..storage.registry import Registry
    from ..storage.versions import record_if_changed
    from ..types import DownloadStatus

    reg = registry if registry is not None else Registry(settings=settings)
    by_key = {str(r.get("key")): r for r in records if isinstance(r, dict)}
    keys = []
    for target in plan:
        model = target.model
        key = f"ollama:{model.id.removeprefix('ollama:')}" if model.source == "ollama" else f"huggingface:{model.repository}"  # fmt: skip
        record = by_key.get(key)
        meta = _metadata(model, record, target, settings)
        config = None
        if record and record.get("configuration"):
            with contextlib.suppress(Exception):
                config = _configuration_from(json.dumps(record["configuration"]))
        reg.register(meta, configuration=config, download_status=DownloadStatus.COMPLETED,
                     available=True, tags=[str(t) for t in (record or {}).get("tags") or []])  # fmt: skip
        taken = reg.aliases()
        for alias in (record or {}).get("aliases") or []:
            if taken.get(str(alias), meta.key) != meta.key:
                notes.append(f"{model.id}: the alias @{alias} stays on {taken[str(alias)]} in this home.")  # fmt: skip
                continue
            reg.set_alias(str(alias), meta.key)
        note = f"unpacked from {archive}"
        if model.source == "ollama":
            record_if_changed(reg, meta.key, note=note)
        else:
            files = [{"path": x.path, "size": x.size, "sha256": x.digest} for x in model.layers]
            record_if_changed(reg, meta.key, commit=model.commit, files=files, note=note)
        keys.append(meta.key)
    where = f"the lockfile of {archive}"
    for m in lock.models:
        if m.configuration:
            save_configuration(
                _locked_configuration(m.configuration, where, m.id), settings=settings
            )
    return keys


def write_lockfile(data: bytes, target: Path) -> Path:
    atomic_write(target, data)
    return target
