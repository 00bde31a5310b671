"""Ollama's model store on disk (``$OLLAMA_MODELS``), read and written without a server.

Layout, as Ollama itself writes it::

    $OLLAMA_MODELS/
        manifests/<host>/<namespace>/<model>/<tag>    OCI-style manifest (JSON)
        blobs/sha256-<64 hex>                         content-addressed layers

The default host is ``registry.ollama.ai`` and the default namespace ``library``, so
``llama3:8b`` lives at ``manifests/registry.ollama.ai/library/llama3/8b``. Each manifest
lists layers with a ``mediaType`` (``application/vnd.ollama.image.model`` for the GGUF
weights, ``.template``, ``.system``, ``.params``, ``.license``, ``.projector``, ``.adapter``),
a ``digest`` (``sha256:<hex>``, the blob's name) and a ``size``.

    >>> store = OllamaStore(Settings.from_env().ollama_models)
    >>> [m.name for m in store.models()]
    ['llama3:8b', 'nomic-embed-text:latest']
    >>> store.get("llama3:8b").template

Every write goes to a temporary file first and is moved into place
(:func:`nbmodels.files.atomic_write`), so a reader never sees half a manifest or half a
blob, and a blob is only ever stored under its own sha256. In a team's store (``shared=True``,
or a store folder with its setgid bit set) folders are written ``2775`` and files ``0664``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidModelIdError, ModelNotFoundError
from ..files import atomic_write, is_shared_folder
from ..types import FileInfo

_HEX64 = re.compile(r"^[0-9a-f]{64}$")

__all__ = [
    "CONFIG_MEDIA_TYPE",
    "DEFAULT_HOST",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TAG",
    "MANIFEST_MEDIA_TYPE",
    "MEDIA_TYPE_PREFIX",
    "OllamaStore",
    "StoredModel",
    "blob_name",
    "format_model_name",
    "format_parameter_size",
    "layer_files",
    "media_type",
    "parameter_count_from_tag",
    "parse_model_name",
    "parse_parameter_size",
    "quantization_from_bits",
    "sibling_parameter_count",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MEDIA_TYPE_PREFIX = "application/vnd.ollama.image."
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"

# Ollama's own limits (types/model/name.go): parts are letters, digits, "_", "-", "."
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,349}(:[0-9]{1,5})?$")
_DIGEST = re.compile(r"^sha256[:\-]([0-9a-f]{64})$")


def parse_model_name(name: str) -> tuple[str, str, str, str]:
    """``(host, namespace, model, tag)`` of an Ollama model name.

    Accepts ``"llama3"``, ``"llama3:8b"``, ``"ns/model:tag"`` and ``"host/ns/model:tag"``;
    the tag defaults to ``"latest"``. Raises InvalidModelIdError on anything else.
    """
    if not isinstance(name, str):
        raise InvalidModelIdError(f"An Ollama model name is a string, got {type(name).__name__}.")
    text = name.strip()
    head, _, last = text.rpartition("/")
    model, sep, tag = last.partition(":")
    if not sep:
        tag = DEFAULT_TAG
    parts = head.split("/") if head else []
    if len(parts) == 0:
        host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    elif len(parts) == 1:
        host, namespace = DEFAULT_HOST, parts[0]
    elif len(parts) == 2:
        host, namespace = parts
    else:
        host, namespace = "", ""  # too many parts: rejected below
    if not (
        _PART.match(model)
        and _PART.match(tag)
        and _PART.match(namespace)
        and _HOST.match(host)
        and ".." not in (host + namespace + model + tag)
    ):
        raise InvalidModelIdError(
            f"{name!r} is not an Ollama model name. Use 'model', 'model:tag', "
            "'namespace/model:tag' or 'host/namespace/model:tag' (letters, digits, '_', '-', '.'), "
            "e.g. 'llama3:8b'."
        )
    return host, namespace, model, tag


def format_model_name(host: str, namespace: str, model: str, tag: str) -> str:
    """The shortest name Ollama shows: default host and ``library`` namespace are dropped."""
    if host == DEFAULT_HOST:
        prefix = "" if namespace == DEFAULT_NAMESPACE else f"{namespace}/"
    else:
        prefix = f"{host}/{namespace}/"
    return f"{prefix}{model}:{tag}"


def media_type(kind: str) -> str:
    """``"template"`` -> ``"application/vnd.ollama.image.template"``; full types unchanged."""
    return kind if "/" in kind else MEDIA_TYPE_PREFIX + kind


def blob_name(digest: str) -> str:
    """``"sha256:<hex>"`` (or ``"sha256-<hex>"``) -> the blob file name ``"sha256-<hex>"``."""
    match = _DIGEST.match(digest or "")
    if not match:
        raise InvalidModelIdError(f"{digest!r} is not a sha256 digest ('sha256:' + 64 hex digits).")
    return f"sha256-{match.group(1)}"


@dataclass(frozen=True)
class StoredModel:
    """One model in an Ollama store (one manifest)."""

    name: str  # shortest form, e.g. "llama3:8b"
    model: str
    tag: str
    namespace: str
    host: str
    manifest: dict[str, Any] = field(repr=False)
    digest: str  # sha256 hex of the manifest file, as Ollama's /api/tags reports it
    size: int  # sum of layer sizes in the manifest (the real download size)
    modified_at: datetime
    manifest_path: Path = field(repr=False)
    blobs_dir: Path = field(repr=False)

    @property
    def layers(self) -> list[dict[str, Any]]:
        return [layer for layer in self.manifest.get("layers", []) if isinstance(layer, dict)]

    @property
    def media_types(self) -> list[str]:
        return [str(layer.get("mediaType", "")) for layer in self.layers]

    def layer(self, kind: str) -> dict[str, Any] | None:
        """The first layer of a media type (``"model"`` or the full type), or None."""
        wanted = media_type(kind)
        return next((lay for lay in self.layers if lay.get("mediaType") == wanted), None)

    def blob_path(self, digest: str) -> Path:
        return self.blobs_dir / blob_name(digest)

    @property
    def model_blob(self) -> Path | None:
        """Path of the GGUF weights blob (it may be a stand-in), or None without a model layer."""
        layer = self.layer("model")
        return self.blob_path(layer["digest"]) if layer and layer.get("digest") else None

    @property
    def has_projector(self) -> bool:
        return self.layer("projector") is not None

    def read_text(self, kind: str) -> str | None:
        """Text of the first layer of this kind, or None if absent or its blob is missing."""
        layer = self.layer(kind)
        if not layer or not layer.get("digest"):
            return None
        try:
            return self.blob_path(layer["digest"]).read_text(encoding="utf-8", errors="replace")
        except (OSError, InvalidModelIdError):
            return None

    @property
    def template(self) -> str | None:
        return self.read_text("template")

    @property
    def system(self) -> str | None:
        return self.read_text("system")

    @property
    def license(self) -> str | None:
        return self.read_text("license")

    @property
    def params(self) -> dict[str, Any]:
        """The ``params`` layer as a dict ({} if absent or not JSON)."""
        return _json_object(self.read_text("params"))

    @property
    def config(self) -> dict[str, Any]:
        """The manifest's config blob as a dict (model_format, model_family, file_type...)."""
        cfg = self.manifest.get("config")
        if not isinstance(cfg, dict) or not cfg.get("digest"):
            return {}
        try:
            return _json_object(self.blob_path(cfg["digest"]).read_text(encoding="utf-8"))
        except (OSError, InvalidModelIdError, UnicodeDecodeError):
            return {}


def layer_files(layers: Iterable[Mapping[str, Any]]) -> tuple[FileInfo, ...]:
    """A manifest's layers as files of the store (``blobs/sha256-<hex>``, size, sha256)."""
    files = []
    for layer in layers:
        hexdigest = str(layer.get("digest", "")).partition(":")[2]
        files.append(
            FileInfo(
                path=f"blobs/sha256-{hexdigest}",
                size=layer.get("size"),
                sha256=hexdigest if _HEX64.match(hexdigest) else None,
            )
        )
    return tuple(files)


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class OllamaStore:
    """An Ollama models folder (``$OLLAMA_MODELS``): list, read, add, copy, delete models.

    ``shared``: a team's store, whose folders are written 2775 and files 0664 (None: when
    the store's folder has its setgid bit set)."""

    def __init__(self, root: Path | str, *, shared: bool | None = None) -> None:
        self.root = Path(root).expanduser()
        self._shared = shared

    @property
    def shared(self) -> bool:
        """Whether files are written for a team (group-writable; see the class)."""
        return is_shared_folder(self.root) if self._shared is None else self._shared

    def __repr__(self) -> str:
        return f"OllamaStore({str(self.root)!r})"

    @property
    def manifests_dir(self) -> Path:
        return self.root / "manifests"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    def manifest_path(self, name: str) -> Path:
        host, namespace, model, tag = parse_model_name(name)
        return self.manifests_dir / host / namespace / model / tag

    def blob_path(self, digest: str) -> Path:
        return self.blobs_dir / blob_name(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    # -- reading --------------------------------------------------------------------------
    def models(self) -> list[StoredModel]:
        """Every readable manifest, sorted by name. Junk files are skipped (logged at debug)."""
        found: list[StoredModel] = []
        if not self.manifests_dir.is_dir():
            return found
        for path in sorted(self.manifests_dir.glob("*/*/*/*")):
            if not path.is_file() or any(p.startswith(".") for p in path.parts[-4:]):
                continue
            host, namespace, model, tag = path.parts[-4:]
            try:
                parse_model_name(f"{host}/{namespace}/{model}:{tag}")
                found.append(self._load(path, host, namespace, model, tag))
            except (OSError, ValueError) as exc:  # InvalidModelIdError is a ValueError
                log.debug("skipping %s: not an Ollama manifest (%s)", path, exc)
        return sorted(found, key=lambda m: m.name)

    def get(self, name: str) -> StoredModel:
        """The model called ``name`` (``"llama3"`` means ``"llama3:latest"``)."""
        host, namespace, model, tag = parse_model_name(name)
        path = self.manifests_dir / host / namespace / model / tag
        if not path.is_file():
            # Ollama names are case-insensitive; manifests keep the case they were pulled with
            path = self._find_case_insensitive(host, namespace, model, tag) or path
        try:
            return self._load(path, *path.parts[-4:])
        except FileNotFoundError:
            raise ModelNotFoundError(
                f"model '{format_model_name(host, namespace, model, tag)}' not found in "
                f"{self.root}. Pull it first (`ollama pull {model}:{tag}`), or check the name "
                "with OllamaStore.models()."
            ) from None
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"model '{name}' has an unreadable manifest at {path} ({exc}); pull it again."
            ) from None

    def __contains__(self, name: object) -> bool:
        try:
            self.get(str(name))
        except (ModelNotFoundError, InvalidModelIdError):
            return False
        return True

    def _find_case_insensitive(self, *parts: str) -> Path | None:
        current = self.manifests_dir
        for part in parts:
            if not current.is_dir():
                return None
            match = next((p for p in current.iterdir() if p.name.lower() == part.lower()), None)
            if match is None:
                return None
            current = match
        return current

    def _load(self, path: Path, host: str, namespace: str, model: str, tag: str) -> StoredModel:
        raw = path.read_bytes()
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
            raise ValueError("no 'layers' list")
        size = sum(
            int(layer.get("size") or 0) for layer in manifest["layers"] if isinstance(layer, dict)
        )
        return StoredModel(
            name=format_model_name(host, namespace, model, tag),
            model=model,
            tag=tag,
            namespace=namespace,
            host=host,
            manifest=manifest,
            digest=hashlib.sha256(raw).hexdigest(),
            size=size,
            modified_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            manifest_path=path,
            blobs_dir=self.blobs_dir,
        )

    # -- writing --------------------------------------------------------------------------
    def write_blob(self, data: bytes, *, digest: str | None = None) -> str:
        """Store ``data`` as a blob; returns its digest ``"sha256:<hex>"``.

        ``digest``, when given, must be the data's sha256 (else InvalidModelIdError): a blob's
        name is its content's hash, and nothing else is written under it.
        """
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest is not None and blob_name(digest) != blob_name(actual):
            raise InvalidModelIdError(
                f"blob data has digest {actual}, not {digest}: refusing to store it under "
                "the wrong name."
            )
        digest = actual
        path = self.blob_path(digest)
        if not path.is_file():
            atomic_write(path, data, shared=self.shared)
        return digest

    def write_manifest(self, name: str, manifest: Mapping[str, Any]) -> StoredModel:
        """Write ``manifest`` as the model ``name`` (atomically) and return it."""
        path = self.manifest_path(name)
        atomic_write(path, json.dumps(manifest, separators=(",", ":")).encode(), shared=self.shared)
        return self.get(name)

    def add(
        self,
        name: str,
        layers: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
        *,
        config: Mapping[str, Any] | None = None,
    ) -> StoredModel:
        """Add a model made of ``layers`` (media type or short kind -> bytes).

        ``config`` is written as the manifest's config blob (Ollama keeps ``model_format``,
        ``model_family``, ``model_families``, ``model_type`` and ``file_type`` there).
        """
        pairs = list(layers.items()) if isinstance(layers, Mapping) else list(layers)
        entries = []
        for kind, data in pairs:
            digest = self.write_blob(bytes(data))
            entries.append({"mediaType": media_type(kind), "digest": digest, "size": len(data)})
        cfg = dict(config or {})
        cfg.setdefault("model_format", "gguf")
        cfg.setdefault("rootfs", {"type": "layers", "diff_ids": [e["digest"] for e in entries]})
        cfg_bytes = json.dumps(cfg, sort_keys=True).encode()
        cfg_digest = self.write_blob(cfg_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": cfg_digest,
                "size": len(cfg_bytes),
            },
            "layers": entries,
        }
        return self.write_manifest(name, manifest)

    def copy(self, src: str, dst: str) -> StoredModel:
        """Make ``dst`` another name for ``src`` (same manifest, same blobs)."""
        source = self.get(src)
        path = self.manifest_path(dst)
        atomic_write(path, source.manifest_path.read_bytes(), shared=self.shared)
        return self.get(dst)

    def delete(self, name: str) -> None:
        """Remove the model ``name`` and the blobs no other model uses."""
        model = self.get(name)
        model.manifest_path.unlink()
        self._prune_dirs(model.manifest_path.parent)
        self.prune_blobs()

    def prune_blobs(self) -> list[str]:
        """Delete blobs no manifest references; returns their file names."""
        used: set[str] = set()
        for m in self.models():
            for layer in [*m.layers, m.manifest.get("config") or {}]:
                if isinstance(layer, dict) and layer.get("digest"):
                    try:
                        used.add(blob_name(layer["digest"]))
                    except InvalidModelIdError:
                        continue
        removed = []
        if self.blobs_dir.is_dir():
            for blob in self.blobs_dir.iterdir():
                if _DIGEST.match(blob.name) and blob.name not in used:
                    blob.unlink(missing_ok=True)
                    removed.append(blob.name)
        return removed

    def _prune_dirs(self, folder: Path) -> None:
        while folder != self.manifests_dir and folder.is_relative_to(self.manifests_dir):
            try:
                folder.rmdir()
            except OSError:  # not empty
                return
            folder = folder.parent


# -- sizes in names ----------------------------------------------------------------------
# Ollama names the size of a model in its tag ("8b", "0.5b", "22m") and in details
# (``parameter_size``: "8.0B"); a ``latest`` tag borrows it from a size tag with the same weights.

_SIZE_TAG = re.compile(r"^(\d+(?:\.\d+)?)([bmk])(?:-|$)", re.IGNORECASE)
_SIZE_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt])\s*$", re.IGNORECASE)
_SCALE = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parameter_count_from_tag(tag: str) -> int | None:
    """``"8b"`` -> 8_000_000_000, ``"0.5b"``, ``"22m"``, ``"7b-instruct"``; else None."""
    match = _SIZE_TAG.match(tag or "")
    return int(float(match.group(1)) * _SCALE[match.group(2).lower()]) if match else None


def parse_parameter_size(text: str | None) -> int | None:
    """Ollama's ``parameter_size`` (``"8.0B"``, ``"137M"``) as a number; None if unreadable."""
    match = _SIZE_TEXT.match(text or "")
    return int(float(match.group(1)) * _SCALE[match.group(2).lower()]) if match else None


def quantization_from_bits(bits_per_weight: float) -> str:
    """A likely GGUF quantization for an average number of bits per weight."""
    for limit, name in ((3.0, "Q2_K"), (4.2, "Q3_K_M"), (5.2, "Q4_K_M"), (6.2, "Q5_K_M"),
                        (7.0, "Q6_K"), (10.0, "Q8_0"), (20.0, "F16")):  # fmt: skip
        if bits_per_weight < limit:
            return name
    return "F32"


def format_parameter_size(count: int | None) -> str:
    """8_030_261_248 -> ``"8.0B"``, 22_565_376 -> ``"22.6M"`` (Ollama's style)."""
    if not count:
        return ""
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"
    return str(count)


def sibling_parameter_count(
    manifests: Mapping[str, Mapping[str, Any]], model: str, tag: str
) -> int | None:
    """Parameter count of ``model:tag`` from its tag, or from a size tag with the same weights.

    ``llama3:latest`` names no size, but ``llama3:8b`` has the same model layer.
    """
    count = parameter_count_from_tag(tag)
    if count:
        return count
    mine = manifests.get(f"{model}:{tag}") or {}
    weights = {
        lay.get("digest")
        for lay in mine.get("layers", [])
        if isinstance(lay, Mapping) and lay.get("mediaType") == media_type("model")
    }
    for key, other in manifests.items():
        name, _, other_tag = key.partition(":")
        if name != model or other_tag == tag or not parameter_count_from_tag(other_tag):
            continue
        if any(
            isinstance(lay, Mapping) and lay.get("digest") in weights
            for lay in other.get("layers", [])
        ):
            return parameter_count_from_tag(other_tag)
    return None
