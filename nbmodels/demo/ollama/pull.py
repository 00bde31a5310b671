"""``POST /api/pull`` of the local server: a library model laid out with stand-in blobs.

The manifests are the real ones from the library snapshot; the layers (GBs each) cannot be
downloaded here, so each is "transferred" in a few progress steps with its real size and
then written as a small deterministic stand-in (a tiny GGUF for the weights). Progress is
kept in ``blobs/sha256-<hex>-partial`` after every step, like Ollama's partial files, so
a pull cancelled mid-way resumes where it stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from ...files import atomic_write
from ...storage.ollama_store import (
    CONFIG_MEDIA_TYPE,
    DEFAULT_HOST,
    DEFAULT_NAMESPACE,
    OllamaStore,
    blob_name,
    media_type,
    parse_model_name,
    sibling_parameter_count,
)
from .facts import add_manifest, manifest_facts, write_stand_in
from .seed import tiny_gguf

__all__ = ["PullError", "pull_events"]


class PullError(Exception):
    """The model cannot be pulled (the message is Ollama's)."""


def _stand_in_blob(key: str, facts: Any, layer: Mapping[str, Any]) -> bytes:
    kind = str(layer.get("mediaType", ""))
    if kind == media_type("model"):
        return tiny_gguf(
            arch=facts.family,
            name=key,
            parameter_count=facts.parameter_count or 0,
            context_length=facts.context_length,
            embedding_length=facts.embedding_length,
            file_type=facts.quantization_level,
            pooling="embedding" in facts.capabilities,
        )
    if kind == CONFIG_MEDIA_TYPE:
        config = {
            "model_format": "gguf",
            "model_family": facts.family,
            "model_families": facts.families,
            "model_type": facts.parameter_size,
            "file_type": facts.quantization_level,
            "stand_in": True,
        }
        return json.dumps(config, sort_keys=True).encode()
    if kind == media_type("template"):
        return b"{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"
    if kind == media_type("params"):
        return b"{}"
    return f"nbmodels stand-in for the {kind.rsplit('.', 1)[-1]} layer of {key}\n".encode()


def pull_events(
    store: OllamaStore,
    library: Mapping[str, Mapping[str, Any]],
    name: str,
    *,
    steps: int = 4,
) -> Iterator[dict[str, Any]]:
    """Progress events of pulling ``name`` from ``library`` into ``store``.

    Raises PullError (before the first event) for a model the library does not have.
    Closing the generator early leaves the partial state for the next pull.
    """
    try:
        host, namespace, model, tag = parse_model_name(name)
    except ValueError:
        raise PullError(f"invalid model name {name!r}") from None
    key = f"{model}:{tag}"
    manifest = library.get(key) if (host, namespace) == (DEFAULT_HOST, DEFAULT_NAMESPACE) else None
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("layers"), list):
        raise PullError("pull model manifest: file does not exist")
    return _events(store, library, key, model, tag, manifest, steps)


def _events(
    store: OllamaStore,
    library: Mapping[str, Mapping[str, Any]],
    key: str,
    model: str,
    tag: str,
    manifest: Mapping[str, Any],
    steps: int,
) -> Iterator[dict[str, Any]]:
    yield {"status": "pulling manifest"}
    facts = manifest_facts(
        model, tag, manifest, parameter_count=sibling_parameter_count(library, model, tag)
    )
    layers = list(manifest["layers"])
    if isinstance(manifest.get("config"), Mapping):
        layers.append(manifest["config"])
    seen: set[str] = set()
    for layer in layers:
        digest, total = str(layer.get("digest", "")), int(layer.get("size") or 0)
        if digest in seen:
            continue
        seen.add(digest)
        status = f"pulling {digest.removeprefix('sha256:')[:12]}"
        event = {"status": status, "digest": digest, "total": total}
        if store.has_blob(digest):
            yield {**event, "completed": total}
            continue
        partial = store.blobs_dir / f"{blob_name(digest)}-partial"
        try:
            done = int(json.loads(partial.read_text()).get("completed", 0))
        except (OSError, ValueError, AttributeError):
            done = 0
        done = max(0, min(done, total))
        yield {**event, "completed": done}
        chunk = max(1, math.ceil(total / max(1, steps)))
        while done < total:
            done = min(total, done + chunk)
            atomic_write(partial, json.dumps({"completed": done, "total": total}).encode())
            yield {**event, "completed": done}
        write_stand_in(store, _stand_in_blob(key, facts, layer), digest)
        partial.unlink(missing_ok=True)
    # Stand-ins cannot match the real digests: verification is reported, not performed.
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    add_manifest(store, key, manifest, blob_bytes=lambda lay: _stand_in_blob(key, facts, lay))
    yield {"status": "success"}
