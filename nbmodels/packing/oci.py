"""The OCI image layout of a pack: what each JSON document holds, written and read back.

A pack is an `OCI image layout <https://github.com/opencontainers/image-spec/blob/main/image-layout.md>`_
(``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``) in one tar file. ``index.json``
names one manifest per model and one for the pack's own records:

* **a Hugging Face model** is a `CNCF ModelPack <https://github.com/modelpack/model-spec>`_
  artifact: an OCI image manifest whose ``artifactType`` is
  ``application/vnd.cncf.model.manifest.v1+json``, its config a
  ``application/vnd.cncf.model.config.v1+json`` document (``descriptor``: name, revision;
  ``config``: format; ``modelfs``: the layers' digests), one layer per file, *raw* (the
  file's bytes as they are, so its digest is the file's sha256, the Hub's own LFS hash):
  ``application/vnd.cncf.model.weight.v1.raw`` for weights, ``.weight.config.v1.raw`` for
  ``config.json`` and the tokenizer, ``.doc.v1.raw`` for the card and licence,
  ``.code.v1.raw`` for Python files; each layer says its path in the repository with
  ``org.opencontainers.image.title`` and ``org.cncf.model.filepath`` (what ORAS and KitOps
  read). Followed: those media types, annotations and the manifest's shape. Not followed:
  the spec's tar layers (``.v1.tar``: one file per layer needs no tar inside the tar) and
  its ``mtime``/``uid`` file attributes (the cache has no meaning for them). nbmodels' own
  annotations (``io.nbmodels.*``) carry what the HF cache needs to be rebuilt exactly: the
  repository, the commit, the refs that pointed at it, and each file's blob name in the
  cache (``io.nbmodels.hf.etag``: the sha256 of an LFS file, the git blob sha1 of a small one).
* **an Ollama model** is Ollama's own manifest, byte for byte (a Docker v2 manifest whose
  layers are Ollama's media types: the model's digest stays the manifest's sha256, what
  Ollama and the lockfile name it by); its config and layers are blobs as in Ollama's store.
* **the pack's records**: an OCI artifact (``application/vnd.nbmodels.pack.v1+json``, the
  empty config of the artifacts guidance) whose layers are the lockfile (every model's
  files with sizes and sha256, its stored configuration, the library versions) and the
  registry entries of home A (metadata, tags, aliases).

Reading back (:func:`read_index`, :func:`read_model`) checks every field that later names a
file or a path: digests are 64 hex digits, paths stay inside the model's folder, commits
are 40 hex digits; a pack that breaks one is a :class:`PackError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..errors import NBModelsError, PackError

__all__ = [
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "MODEL_ARTIFACT_TYPE",
    "MODEL_CONFIG_MEDIA_TYPE",
    "PACK_ARTIFACT_TYPE",
    "Layer",
    "PackError",
    "PackedModel",
    "json_bytes",
    "layer_media_type",
    "model_manifest",
    "ollama_entry",
    "pack_record",
]


# -- media types and annotation keys ------------------------------------------------------------
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
MODEL_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG_MEDIA_TYPE = "application/vnd.cncf.model.config.v1+json"
WEIGHT_RAW = "application/vnd.cncf.model.weight.v1.raw"
WEIGHT_CONFIG_RAW = "application/vnd.cncf.model.weight.config.v1.raw"
DOC_RAW = "application/vnd.cncf.model.doc.v1.raw"
CODE_RAW = "application/vnd.cncf.model.code.v1.raw"
PACK_ARTIFACT_TYPE = "application/vnd.nbmodels.pack.v1+json"
LOCKFILE_MEDIA_TYPE = "application/vnd.nbmodels.lockfile.v1+yaml"
REGISTRY_MEDIA_TYPE = "application/vnd.nbmodels.registry.v1+json"

TITLE = "org.opencontainers.image.title"
REF_NAME = "org.opencontainers.image.ref.name"
FILEPATH = "org.cncf.model.filepath"
NB_MODEL = "io.nbmodels.model"  # the model as the lockfile names it
NB_SOURCE = "io.nbmodels.source"  # huggingface, ollama, pack
NB_REPOSITORY = "io.nbmodels.repository"
NB_COMMIT = "io.nbmodels.commit"
NB_REFS = "io.nbmodels.refs"  # comma-separated refs of home A that pointed at the commit
NB_ETAG = "io.nbmodels.hf.etag"
NB_FORMAT = "io.nbmodels.pack.format"
FORMAT = "1"

_EMPTY = b"{}"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt")  # fmt: skip
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX40 = re.compile(r"[0-9a-f]{40}")
MAX_JSON = 16 << 20  # an index, a manifest, a lockfile: more than this is not one


# -- records --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One file of a packed model: its path (an Ollama layer: its media type), sha256, size,
    media type, and (Hugging Face) its blob's name in the cache."""

    path: str
    digest: str  # sha256, 64 hex digits
    size: int
    media_type: str
    etag: str | None = None


@dataclass(frozen=True)
class PackedModel:
    """A model in a pack: ``id`` as the lockfile names it (``org/name``, ``ollama:name:tag``),
    ``repository`` (the Hub repo, or Ollama's full name ``host/namespace/model:tag``),
    ``commit`` (an Ollama model: its manifest's sha256), ``refs`` (Hugging Face: the refs of
    home A that pointed at the commit), ``layers`` (an Ollama model: its config first), and an
    Ollama model's ``manifest`` bytes as they were in its store."""

    id: str
    source: str
    repository: str
    commit: str
    refs: tuple[str, ...]
    layers: tuple[Layer, ...]
    manifest: bytes = b""
    config: tuple[str, int] | None = None  # Hugging Face: the ModelPack config blob

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


# -- writing --------------------------------------------------------------------------------------
def json_bytes(data: Any) -> bytes:
    """A JSON document as a blob: compact, keys in the order given (a digest names it)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "size": len(data), **extra}  # fmt: skip


def layer_media_type(path: str) -> str:
    """The ModelPack media type of a repository file (weights, their configuration, docs, code)."""
    name = PurePosixPath(path).name.lower()
    if name.endswith(_WEIGHT_SUFFIXES):
        return WEIGHT_RAW
    if name.endswith(".py"):
        return CODE_RAW
    if name.endswith(".md") or name.startswith(("license", "licence", "notice", "readme")):
        return DOC_RAW
    return WEIGHT_CONFIG_RAW


def model_manifest(model: PackedModel) -> tuple[bytes, bytes, dict[str, Any]]:
    """A Hugging Face model's manifest, its config blob, and its entry in ``index.json``."""
    config = json_bytes({
        "descriptor": {"name": model.repository, "revision": model.commit},
        "config": {"format": _format(model)},
        "modelfs": {"type": "layers", "diffIds": [f"sha256:{x.digest}" for x in model.layers]},
    })  # fmt: skip
    layers = []
    for x in model.layers:
        notes = {TITLE: x.path, FILEPATH: x.path} | ({NB_ETAG: x.etag} if x.etag else {})
        layers.append({"mediaType": x.media_type, "digest": f"sha256:{x.digest}", "size": x.size,
                       "annotations": notes})  # fmt: skip
    notes = {"org.cncf.model.name": model.repository, "org.cncf.model.revision": model.commit,
             NB_SOURCE: "huggingface", NB_MODEL: model.id, NB_REPOSITORY: model.repository,
             NB_COMMIT: model.commit, NB_REFS: ",".join(model.refs), NB_FORMAT: FORMAT}  # fmt: skip
    manifest = json_bytes({
        "schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "artifactType": MODEL_ARTIFACT_TYPE,
        "config": descriptor(MODEL_CONFIG_MEDIA_TYPE, config), "layers": layers, "annotations": notes,
    })  # fmt: skip
    entry = descriptor(MANIFEST_MEDIA_TYPE, manifest, artifactType=MODEL_ARTIFACT_TYPE,
                       annotations={REF_NAME: f"{model.repository}@{model.commit}",
                                    NB_SOURCE: "huggingface", NB_MODEL: model.id,
                                    NB_FORMAT: FORMAT})  # fmt: skip
    return manifest, config, entry


def _format(model: PackedModel) -> str:
    names = [x.path.lower() for x in model.layers if x.media_type == WEIGHT_RAW]
    for suffix, name in ((".safetensors", "safetensors"), (".gguf", "gguf"), (".onnx", "onnx")):
        if any(n.endswith(suffix) for n in names):
            return name
    return "pytorch" if names else ""


def ollama_entry(model: PackedModel) -> dict[str, Any]:
    """An Ollama model's entry in ``index.json`` (its manifest is the blob as it was)."""
    kind = _media_type_of(model.manifest) or "application/vnd.docker.distribution.manifest.v2+json"
    return descriptor(kind, model.manifest, annotations={
        REF_NAME: model.repository, NB_SOURCE: "ollama", NB_MODEL: model.id, NB_FORMAT: FORMAT,
    })  # fmt: skip


def _media_type_of(manifest: bytes) -> str | None:
    try:
        value = json.loads(manifest).get("mediaType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def pack_record(lockfile: bytes, registry: bytes) -> tuple[bytes, dict[str, Any]]:
    """The pack's own records as an artifact: its manifest and its entry in ``index.json``."""
    layers = [descriptor(LOCKFILE_MEDIA_TYPE, lockfile, annotations={TITLE: "nbmodels.lock.yaml"}),
              descriptor(REGISTRY_MEDIA_TYPE, registry, annotations={TITLE: "registry.json"})]  # fmt: skip
    manifest = json_bytes({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                           "artifactType": PACK_ARTIFACT_TYPE,
                           "config": descriptor(EMPTY_MEDIA_TYPE, _EMPTY), "layers": layers,
                           "annotations": {NB_FORMAT: FORMAT}})  # fmt: skip
    entry = descriptor(MANIFEST_MEDIA_TYPE, manifest, artifactType=PACK_ARTIFACT_TYPE,
                       annotations={NB_SOURCE: "pack", NB_FORMAT: FORMAT})  # fmt: skip
    return manifest, entry


def index_json(entries: list[dict[str, Any]]) -> bytes:
    return json_bytes({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": entries})


# -- reading ----------------------------------------------------------------------------------
def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise PackError(
            f"{what} is not JSON: the pack is damaged; pack the models again."
        ) from None
    if not isinstance(value, dict):
        raise PackError(f"{what} is not a JSON object: the pack is damaged; pack the models again.")
    return value


def digest_of(desc: Any, what: str) -> tuple[str, int]:
    """``(hex, size)`` of a descriptor; PackError naming ``what`` when either is malformed."""
    if not isinstance(desc, dict):
        raise PackError(f"{what}: not a descriptor (digest, size).")
    digest, size = desc.get("digest"), desc.get("size")
    text = digest.removeprefix("sha256:") if isinstance(digest, str) else ""
    if not (isinstance(digest, str) and digest.startswith("sha256:") and _HEX64.fullmatch(text)):
        raise PackError(f"{what}: digest {str(digest)[:80]!r} is not 'sha256:' and 64 hex digits.")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise PackError(f"{what}: size {size!r} is not a number of bytes.")
    return text, size


def read_index(data: bytes) -> list[tuple[str, str, int, dict[str, str]]]:
    """``index.json``'s entries: ``(kind, digest, size, annotations)``, kind being
    ``huggingface``, ``ollama`` or ``pack``."""
    doc = parse_json(data, "index.json")
    entries = doc.get("manifests")
    if doc.get("schemaVersion") != 2 or not isinstance(entries, list):
        raise PackError("index.json is not an OCI image index (schemaVersion 2, manifests).")
    out = []
    for i, desc in enumerate(entries, 1):
        digest, size = digest_of(desc, f"index.json entry {i}")
        notes = desc.get("annotations") if isinstance(desc.get("annotations"), dict) else {}
        kind = notes.get(NB_SOURCE)
        if kind not in ("huggingface", "ollama", "pack"):
            raise PackError(f"index.json entry {i} ({notes.get(REF_NAME, digest[:12])}) is not "
                            "one nbmodels writes (no io.nbmodels.source): nbmodels.unpack reads "
                            "the archives nbmodels.pack makes.")  # fmt: skip
        if notes.get(NB_FORMAT) != FORMAT:
            raise PackError(f"index.json entry {i} is pack format {notes.get(NB_FORMAT)!r}; this "
                            f"nbmodels reads format {FORMAT}: upgrade nbmodels on this machine.")  # fmt: skip
        out.append((str(kind), digest, size, {str(k): str(v) for k, v in notes.items()}))
    if [e[0] for e in out].count("pack") != 1:
        raise PackError("index.json has no pack record (or more than one): pack the models again.")
    return out


def read_pack_record(manifest: bytes) -> dict[str, tuple[str, int]]:
    """The pack record's layers by title: ``{"nbmodels.lock.yaml": (digest, size), ...}``."""
    doc = parse_json(manifest, "the pack record")
    found = {}
    for i, desc in enumerate(doc.get("layers") or [], 1):
        title = (desc.get("annotations") or {}).get(TITLE) if isinstance(desc, dict) else None
        found[str(title)] = digest_of(desc, f"the pack record's layer {i}")
    for title in ("nbmodels.lock.yaml", "registry.json"):
        if title not in found:
            raise PackError(f"The pack record has no {title}: pack the models again.")
    return found


def read_model(kind: str, manifest: bytes, notes: dict[str, str]) -> PackedModel:
    """The model a manifest describes, every name in it checked (see the module)."""
    from ..downloader.plan import safe_relative_path
    from ..errors import UnsafePathError

    model_id = notes.get(NB_MODEL, "")
    if not model_id:
        raise PackError("An index.json entry names no model (io.nbmodels.model).")
    doc = parse_json(manifest, f"the manifest of {model_id}")
    if kind == "ollama":
        from ..storage.ollama_store import parse_model_name

        name = notes.get(REF_NAME, "")
        try:
            parse_model_name(name)
        except NBModelsError:
            raise PackError(f"{model_id}: {name!r} is not an Ollama model name.") from None
        layers = []
        for i, desc in enumerate([doc.get("config"), *(doc.get("layers") or [])]):
            digest, size = digest_of(desc, f"{model_id}: layer {i}")
            media = str(desc.get("mediaType", "")) if isinstance(desc, dict) else ""
            layers.append(Layer(media, digest, size, media))
        commit = hashlib.sha256(manifest).hexdigest()
        return PackedModel(model_id, "ollama", name, commit, (), tuple(layers), manifest)
    found = doc.get("annotations")
    mine: dict[str, Any] = found if isinstance(found, dict) else {}
    repository, commit = str(mine.get(NB_REPOSITORY, "")), str(mine.get(NB_COMMIT, ""))
    if not _HEX40.fullmatch(commit) or repository.count("/") != 1 or mine.get(NB_MODEL) != model_id:
        raise PackError(f"{model_id}: the manifest's repository or commit is malformed "
                        f"({repository!r} at {commit[:40]!r}).")  # fmt: skip
    refs = tuple(r for r in str(mine.get(NB_REFS, "")).split(",") if r)
    layers, seen = [], set()
    try:
        for r in refs:
            safe_relative_path(r)
        for i, desc in enumerate(doc.get("layers") or [], 1):
            digest, size = digest_of(desc, f"{model_id}: layer {i}")
            layer_notes = desc.get("annotations") or {}
            path = str(layer_notes.get(FILEPATH) or layer_notes.get(TITLE) or "")
            safe_relative_path(path)
            etag = layer_notes.get(NB_ETAG) or digest
            if not (_HEX40.fullmatch(etag) or etag == digest) or path in seen:
                raise PackError(f"{model_id}: {path}: its blob name {etag[:64]!r} is neither its "
                                "sha256 nor a git blob id, or the path is listed twice.")  # fmt: skip
            seen.add(path)
            layers.append(Layer(path, digest, size, str(desc.get("mediaType", "")), etag))
    except UnsafePathError as exc:
        raise PackError(f"{model_id}: {exc}") from None
    config = digest_of(doc.get("config"), f"{model_id}: config")
    return PackedModel(
        model_id, "huggingface", repository, commit, refs, tuple(layers), b"", config
    )


def git_blob_sha1(size: int) -> Any:
    """A hash fed with a file's bytes gives its git blob id (what the Hub names small files by)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\x00" % size)
    return h
