"""What a pack carries from this home: each model found on disk, every file accounted for.

A model is named as the registry knows it (a key, a model id, an ``@alias``), as a Hub id in
the HF cache (``org/name``, ``org/name@<commit or ref>``), or as ``ollama:<name>``. Its files
are the snapshot's (each link followed to its blob: a dangling link is a missing file, and
so is a file the registry's version of that commit lists but the snapshot lacks) or the
blobs its Ollama manifest names. A model with a missing file is refused, all of them named,
before anything is written. Small files (named in the cache by their git blob sha1) are
hashed here and checked against that name; files named by their sha256 are checked while
they are written into the archive (:mod:`nbmodels.packing.archive`), so a damaged cache is
found on this machine, not on the one without a network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError
from ..settings import Settings
from .oci import Layer, PackedModel, PackError, git_blob_sha1, layer_media_type

if TYPE_CHECKING:  # pragma: no cover
    from ..downloader.lockfile import LockedModel
    from ..storage.registry import Registry

__all__ = ["Collected", "collect", "home_registry"]

_HEX40 = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Collected:
    """One model to pack: what the archive says of it, where each blob's bytes are on disk,
    its lockfile entry and its registry record in this home (None when not registered)."""

    model: PackedModel
    files: dict[str, Path]  # sha256 -> a file with those bytes
    locked: LockedModel
    record: dict[str, Any] | None = None
    checked: frozenset[str] = field(default_factory=frozenset)  # digests hashed already


def home_registry(settings: Settings, registry: Registry | None) -> Registry | None:
    """``registry``, else the home's when there is one (packing never creates one)."""
    if registry is not None:
        return registry
    from ..storage.registry import Registry
    from ..storage.schema import REGISTRY_FILE

    if settings.registry_url or (settings.home / REGISTRY_FILE).is_file():
        return Registry(settings=settings)
    return None


def collect(models: str | Sequence[str], settings: Settings, registry: Registry | None) -> list[Collected]:  # fmt: skip
    """Every model of ``models`` found and checked (see the module); PackError naming every
    missing file of every model, ModelNotFoundError naming a model this home does not have."""
    refs = [models] if isinstance(models, str) else list(models)
    if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise PackError("Nothing to pack: name the models, e.g. pack(['org/name', 'ollama:llama3.2:1b'], 'models.tar').")  # fmt: skip
    out: list[Collected] = []
    missing: list[str] = []
    for ref in dict.fromkeys(r.strip() for r in refs):
        found, lost = _collect(ref, settings, registry)
        missing += [f"{found.model.id}: {name}" for name in lost]
        if any(c.model.id == found.model.id for c in out):
            raise PackError(f"{found.model.id} is named twice (as {ref!r}): pack one commit of a model at a time.")  # fmt: skip
        out.append(found)
    if missing:
        raise PackError(
            "Not every file is on disk whole, so nothing was written. Missing: " + "; ".join(missing)
            + ". Download the model again (nbmodels.download, or nbmodels.verify(..., repair=True) "
            "then download) and pack again."
        )  # fmt: skip
    return out


def _collect(ref: str, settings: Settings, registry: Registry | None) -> tuple[Collected, list[str]]:  # fmt: skip
    from ..types import ModelSource

    base, _, revision = ref.partition("@") if not ref.startswith("@") else (ref, "", "")
    if ref.startswith("ollama:"):
        entry = registry.get(ref) if registry is not None and ref in registry else None
        return _ollama(ref, ref.removeprefix("ollama:"), settings, registry, entry)
    entry = registry.get(base) if registry is not None and base in registry else None
    if entry is not None:
        meta = entry.metadata
        if meta.source is ModelSource.OLLAMA:
            return _ollama(f"ollama:{meta.id}", meta.id, settings, registry, entry)
        if meta.source is not ModelSource.HUGGING_FACE:
            raise PackError(f"{ref} is a {meta.source.value} model ({meta.local_path}): a pack carries models of the Hugging Face cache and Ollama's store; copy a plain folder with tar.")  # fmt: skip
        return _hub(meta.id, revision or _entry_commit(meta), settings, registry, entry)
    if base.count("/") != 1:
        raise ModelNotFoundError(f"{ref!r} is not in this home's registry, and is no Hub id (org/name) or ollama:<name>: name a model that is downloaded here.")  # fmt: skip
    return _hub(base, revision, settings, registry, None)


def _entry_commit(meta: Any) -> str:
    if isinstance(meta.version, str) and _HEX40.fullmatch(meta.version):
        return meta.version
    path = Path(meta.local_path) if meta.local_path else None
    if path is not None and path.parent.name == "snapshots" and _HEX40.fullmatch(path.name):
        return path.name
    return ""


def _record(registry: Registry, entry: Any) -> dict[str, Any]:
    """What the registry of this home says of a model, for the other home's registry."""
    from ..config.stored import configuration_dict
    from ..storage.records import _metadata_json

    key = entry.metadata.key
    return {
        "key": key,
        "metadata": json.loads(_metadata_json(entry.metadata)),
        "tags": sorted(entry.usage_stats.get("tags") or []),
        "aliases": sorted(a for a, k in registry.aliases().items() if k == key),
        "configuration": configuration_dict(entry.configuration) if entry.configuration else None,
    }


# -- a Hugging Face model ---------------------------------------------------------------------------
def _commit(folder: Path, repo: str, revision: str, cache: Path) -> str:
    snapshots = folder / "snapshots"
    if not snapshots.is_dir():
        raise ModelNotFoundError(f"{repo} is not in the Hugging Face cache at {cache}: download it first (nbmodels.download({repo!r})).")  # fmt: skip
    have = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    if revision and _HEX40.fullmatch(revision) and revision in have:
        return revision
    ref = folder / "refs" / (revision or "main")
    if ref.is_file() and ".." not in (revision or "main").split("/"):
        commit = ref.read_text().strip()
        if commit in have:
            return commit
    if not revision and len(have) == 1:
        return have[0]
    asked = f"at {revision!r}" if revision else "at main"
    raise ModelNotFoundError(f"{repo} has no snapshot {asked} in {cache} (snapshots: {', '.join(c[:12] for c in have) or 'none'}); name one as {repo}@<commit>.")  # fmt: skip


def _refs(folder: Path, commit: str) -> tuple[str, ...]:
    """The refs (``main``, a tag) of this cache that point at ``commit``; ``main`` first."""
    refs = folder / "refs"
    found = []
    for path in sorted(refs.rglob("*")) if refs.is_dir() else []:
        if path.is_file() and path.read_text().strip() == commit:
            found.append(path.relative_to(refs).as_posix())
    return tuple(sorted(found, key=lambda r: (r != "main", r)))


def _hash(path: Path, size: int) -> tuple[str, str]:
    """sha256 and git blob id of a file."""
    sha, git = hashlib.sha256(), git_blob_sha1(size)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            git.update(chunk)
    return sha.hexdigest(), git.hexdigest()


def _hub(repo: str, revision: str, settings: Settings, registry: Registry | None, entry: Any) -> tuple[Collected, list[str]]:  # fmt: skip
    from ..downloader.lockfile import LockedFile, LockedModel, _configuration
    from ..downloader.plan import repo_folder
    from ..storage.versions import versions

    folder = repo_folder(settings.hf_cache, repo)
    commit = _commit(folder, repo, revision, settings.hf_cache)
    snapshot = folder / "snapshots" / commit
    blobs = (folder / "blobs").resolve()
    layers: list[Layer] = []
    files: dict[str, Path] = {}
    checked: set[str] = set()
    missing: list[str] = []
    for dirpath, _dirs, names in os.walk(snapshot):
        for name in sorted(names):
            link = Path(dirpath) / name
            rel = link.relative_to(snapshot).as_posix()
            target = link.resolve()
            if not target.is_file():
                missing.append(rel)
                continue
            size = target.stat().st_size
            etag = target.name if target.parent == blobs else ""
            if _HEX64.fullmatch(etag):
                digest = etag  # checked while it is written
            else:
                digest, git = _hash(target, size)
                if _HEX40.fullmatch(etag) and git != etag:
                    raise PackError(f"{repo}: {rel} in the cache does not match its git blob id {etag[:12]}...: the cache is damaged; run nbmodels.verify({repo!r}, repair=True) and download it again.")  # fmt: skip
                checked.add(digest)
                etag = etag if _HEX40.fullmatch(etag) else digest
            layers.append(Layer(rel, digest, size, layer_media_type(rel), etag))
            files[digest] = target
    layers.sort(key=lambda x: x.path)
    record = _record(registry, entry) if registry is not None and entry is not None else None
    if registry is not None and entry is not None:  # what the registry's version of it lists
        listed = [
            v for v in versions(registry, entry.metadata.key) if v.commit == commit and v.files
        ]
        have = {x.path for x in layers}
        missing += (
            sorted({f.path for f in listed[-1].files} - have - set(missing)) if listed else []
        )
    refs = _refs(folder, commit)
    model = PackedModel(repo, "huggingface", repo, commit, refs, tuple(layers))
    locked = LockedModel(repo, "huggingface", repo, refs[0] if refs else commit, commit,
                         tuple(LockedFile(x.path, x.size, x.digest) for x in layers),
                         _configuration(repo, settings))  # fmt: skip
    return Collected(model, files, locked, record, frozenset(checked)), missing


# -- an Ollama model ------------------------------------------------------------------------------
def _ollama(model_id: str, name: str, settings: Settings, registry: Registry | None, entry: Any) -> tuple[Collected, list[str]]:  # fmt: skip
    from ..downloader.lockfile import _lock_ollama
    from ..storage.ollama_store import OllamaStore

    store = OllamaStore(settings.ollama_models)
    stored = store.get(name)  # ModelNotFoundError: pull it first
    raw = stored.manifest_path.read_bytes()
    layers: list[Layer] = []
    files: dict[str, Path] = {}
    missing: list[str] = []
    for desc in [stored.manifest.get("config") or {}, *stored.layers]:
        if not desc.get("digest"):
            continue
        media, digest, size = str(desc.get("mediaType", "")), str(desc["digest"]), int(desc.get("size") or 0)  # fmt: skip
        blob = store.blob_path(digest)  # InvalidModelIdError on a digest that is not one
        hexdigest = digest.removeprefix("sha256:")
        if not blob.is_file():
            missing.append(f"{media} ({digest[:19]}...)")
        elif blob.stat().st_size != size:
            missing.append(f"{media} ({digest[:19]}...: {blob.stat().st_size} bytes on disk, the manifest says {size})")  # fmt: skip
        layers.append(Layer(media, hexdigest, size, media))
        files[hexdigest] = blob
    full = f"{stored.host}/{stored.namespace}/{stored.model}:{stored.tag}"
    model = PackedModel(model_id, "ollama", full, stored.digest, (), tuple(layers), raw)
    locked = _lock_ollama(model_id, settings)
    record = _record(registry, entry) if registry is not None and entry is not None else None
    return Collected(model, files, locked, record), missing
