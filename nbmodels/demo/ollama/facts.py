"""What the demo Ollama server makes up for models it cannot really have.

A library manifest carries names, sizes and media types, not the GGUF header, and the
layers (GBs) cannot be downloaded here. To answer ``/api/tags`` and ``/api/show`` like a
real Ollama, the demo server derives ``details`` and ``capabilities`` from what is there (the
tag usually names the size: "8b", "0.5b", "22m") and guesses the rest from names; it lays
library models out with small stand-in blobs. GGUF headers, when readable, win over every
guess here. None of this is product code: the ``ollama`` source reads what a real server says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidModelIdError
from ...files import atomic_write
from ...storage.ollama_store import (
    CONFIG_MEDIA_TYPE,
    MEDIA_TYPE_PREFIX,
    OllamaStore,
    StoredModel,
    format_parameter_size,
    media_type,
    parameter_count_from_tag,
    quantization_from_bits,
)

__all__ = [
    "EMBEDDING_NAME_WORDS",
    "ModelFacts",
    "add_manifest",
    "family_from_name",
    "is_embedding_name",
    "manifest_facts",
    "write_stand_in",
]

EMBEDDING_NAME_WORDS = (
    "embed",
    "minilm",
    "bge",
    "e5-",
    "gte-",
    "paraphrase",
    "nomic-embed",
    "granite-embedding",
)
_LLAMA_FAMILY = ("llama", "llava", "bakllava", "codellama", "tinyllama", "mistral", "mixtral")


def is_embedding_name(model: str) -> bool:
    lowered = model.lower()
    return any(word in lowered for word in EMBEDDING_NAME_WORDS)


def family_from_name(model: str) -> str:
    """The GGUF architecture a library model most likely has (``"qwen2.5"`` -> ``"qwen2"``)."""
    lowered = model.lower()
    if is_embedding_name(lowered):
        return "nomic-bert" if lowered.startswith("nomic") else "bert"
    if lowered.startswith(_LLAMA_FAMILY):
        return "llama"
    return re.split(r"[-.:_]", lowered, maxsplit=1)[0] or lowered


@dataclass(frozen=True)
class ModelFacts:
    """Ollama's ``details`` and ``capabilities`` for a model, derived from its manifest."""

    family: str
    parameter_count: int | None
    quantization_level: str
    context_length: int
    embedding_length: int
    capabilities: tuple[str, ...]
    format: str = "gguf"

    @property
    def parameter_size(self) -> str:
        return format_parameter_size(self.parameter_count)

    @property
    def families(self) -> list[str]:
        return [self.family, "clip"] if "vision" in self.capabilities else [self.family]

    def details(self) -> dict[str, Any]:
        """The ``details`` object of /api/tags and /api/show."""
        return {
            "parent_model": "",
            "format": self.format,
            "family": self.family,
            "families": self.families,
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


def manifest_facts(
    model: str,
    tag: str,
    manifest: Mapping[str, Any],
    *,
    template: str | None = None,
    params: Mapping[str, Any] | None = None,
    parameter_count: int | None = None,
) -> ModelFacts:
    """Facts of ``model:tag`` from its manifest (and, when known, template and params).

    ``parameter_count`` overrides the tag (e.g. the size tag of a ``latest`` alias).
    Capabilities follow Ollama's rules where the data allows: a projector layer means
    vision, ``.Tools`` / ``.Suffix`` / ``.Think`` in the template mean tools / insert /
    thinking; embedding models (by name) have ``embedding`` instead of ``completion``.
    """
    layers = [lay for lay in manifest.get("layers", []) if isinstance(lay, Mapping)]
    kinds = {str(lay.get("mediaType", "")) for lay in layers}
    model_size = sum(
        int(lay.get("size") or 0) for lay in layers if lay.get("mediaType") == media_type("model")
    )
    embedding = is_embedding_name(model)
    count = parameter_count or parameter_count_from_tag(tag)
    if count and model_size:
        quantization = quantization_from_bits(model_size * 8 / count)
    else:
        quantization = "F16" if embedding else "Q4_K_M"  # the library's usual defaults
        count = count or (int(model_size * 8 / (16 if embedding else 4.85)) or None)
    caps: list[str] = ["embedding"] if embedding else ["completion"]
    if media_type("projector") in kinds:
        caps.append("vision")
    text = template or ""
    if ".Tools" in text:
        caps.append("tools")
    if ".Suffix" in text:
        caps.append("insert")
    if ".Think" in text:
        caps.append("thinking")
    ctx = (params or {}).get("num_ctx")
    big = (count or 0) >= 6 * 10**9
    return ModelFacts(
        family=family_from_name(model),
        parameter_count=count,
        quantization_level=quantization,
        context_length=int(ctx) if isinstance(ctx, int) else (512 if embedding else 4096),
        embedding_length=768 if embedding else (4096 if big else 2048),
        capabilities=tuple(caps),
    )


def write_stand_in(store: OllamaStore, data: bytes, digest: str) -> None:
    """Store ``data`` under ``digest`` although its content differs: a stand-in for a
    layer too large to download here. (The product's ``write_blob`` refuses that.)"""
    path = store.blob_path(digest)
    if not path.is_file():
        atomic_write(path, data)


def _stand_in(layer: Mapping[str, Any]) -> bytes:
    """Small, deterministic bytes standing in for a library layer we cannot download."""
    kind = str(layer.get("mediaType", "")).removeprefix(MEDIA_TYPE_PREFIX)
    digest = str(layer.get("digest", ""))
    if kind == "template":
        return b"{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"
    if kind == "params":
        return b"{}"
    if kind == CONFIG_MEDIA_TYPE:
        return json.dumps({"model_format": "gguf", "stand_in": True}).encode()
    return f"nbmodels stand-in for {kind or 'blob'} {digest}\n".encode()


def add_manifest(
    store: OllamaStore,
    name: str,
    manifest: Mapping[str, Any],
    *,
    blob_bytes: Callable[[Mapping[str, Any]], bytes] | None = None,
) -> StoredModel:
    """Lay out a real ``manifest`` as ``name``, with stand-in blobs for its layers.

    ``blob_bytes(layer)`` gives the bytes for a layer (and for the config, whose
    ``mediaType`` is the docker config type); the default writes a few deterministic
    bytes. Blobs already present are kept. Sizes in the manifest stay the real ones.
    """
    if not isinstance(manifest.get("layers"), list):
        raise InvalidModelIdError(f"manifest for {name!r} has no 'layers' list.")
    make = blob_bytes or _stand_in
    layers = list(manifest["layers"])
    if isinstance(manifest.get("config"), Mapping):
        layers.append(manifest["config"])
    for layer in layers:
        if layer.get("digest") and not store.has_blob(layer["digest"]):
            write_stand_in(store, make(layer), layer["digest"])
    return store.write_manifest(name, manifest)
