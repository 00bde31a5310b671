"""What the local Ollama server says about a stored model: ``details``, ``model_info``,
``capabilities`` and the rest of ``/api/show`` and ``/api/tags``.

The model blob's GGUF header is read with :mod:`nbmodels.gguf_info` when the blob is a GGUF
file (our demo models, anything pulled through this server, a real Ollama store). Stand-in
blobs that are not GGUF fall back to :func:`.facts.manifest_facts`.

A model whose blob has no weights (a pulled library model's stand-in, or a demo model seeded
without torch) is answered by the toy generator: :func:`describe` says so (``toy``), and
``/api/tags``, ``/api/ps`` and ``/api/show`` carry :data:`.toy.TOY_NOTE`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import GGUFError
from ...gguf_info import is_gguf, read_gguf_info
from ...storage.ollama_store import StoredModel, parse_parameter_size
from .facts import ModelFacts, manifest_facts
from .toy import TOY_NOTE

__all__ = [
    "Description",
    "describe",
    "has_weights",
    "read_gguf_fields",
    "show_payload",
    "tags_entry",
]

log = logging.getLogger(__name__)

_EMBEDDING_ARCHS = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "xlm-roberta"}


def read_gguf_fields(path: Path | None) -> dict[str, Any]:
    """Scalar and short-list key/values of a GGUF header ({} if ``path`` is not GGUF).

    Read with :mod:`nbmodels.gguf_info` (the product's one GGUF reader); long arrays (the
    vocabulary...) appear as None, as Ollama shows them without ``verbose``.
    """
    if path is None or not is_gguf(path):
        return {}
    try:
        info = read_gguf_info(path)
    except GGUFError as exc:  # a damaged GGUF is described like a stand-in, not a crash
        log.debug("cannot read GGUF header of %s: %s", path, exc)
        return {}
    fields: dict[str, Any] = {
        k: (None if isinstance(v, list) and len(v) > 16 else v) for k, v in info.metadata.items()
    }
    fields.update(dict.fromkeys(info.array_lengths))
    if info.chat_template:
        fields["tokenizer.chat_template"] = info.chat_template
    return fields


def has_weights(blob: Path | None) -> bool:
    """Whether a model blob is a GGUF with transformer blocks (the demo's real models, run by
    the engine), not a header-only stand-in (pulled library models, or a demo seeded without
    torch), which the toy generator answers."""
    if blob is None:
        return False
    try:
        info = read_gguf_info(blob)
    except (GGUFError, OSError, ValueError):
        return False
    return info.tensor_count > 1 and f"{info.architecture}.block_count" in info.metadata


def _file_type_name(value: Any) -> str | None:
    if not isinstance(value, int):
        return None
    try:
        from gguf import LlamaFileType

        return LlamaFileType(value).name.removeprefix("MOSTLY_").replace("ALL_", "")
    except ValueError:
        return None


@dataclass(frozen=True)
class Description:
    facts: ModelFacts
    model_info: dict[str, Any]
    toy: bool = False  # no weights: the toy generator answers for it

    def details(self) -> dict[str, Any]:
        """``details`` of /api/tags, /api/ps and /api/show (a toy's parent is the toy)."""
        details = self.facts.details()
        if self.toy:
            details["parent_model"] = TOY_NOTE
        return details


def describe(stored: StoredModel) -> Description:
    """Facts and ``model_info`` of a stored model: GGUF header first, then the manifest."""
    config = stored.config
    template = stored.template
    base = manifest_facts(
        stored.model,
        stored.tag,
        stored.manifest,
        template=template,
        params=stored.params,
        parameter_count=parse_parameter_size(config.get("model_type")),
    )
    fields = read_gguf_fields(stored.model_blob)
    arch = str(fields.get("general.architecture") or config.get("model_family") or base.family)
    count = fields.get("general.parameter_count") or base.parameter_count
    ctx = fields.get(f"{arch}.context_length") or base.context_length
    emb = fields.get(f"{arch}.embedding_length") or base.embedding_length
    quant = (
        _file_type_name(fields.get("general.file_type"))
        or config.get("file_type")
        or base.quantization_level
    )
    caps = list(base.capabilities)
    if fields:  # Ollama's rule: a pooling type (or an encoder architecture) means embedding
        embedding = f"{arch}.pooling_type" in fields or arch in _EMBEDDING_ARCHS
        caps = [c for c in caps if c not in ("completion", "embedding")]
        caps.insert(0, "embedding" if embedding else "completion")
        if f"{arch}.vision.block_count" in fields and "vision" not in caps:
            caps.append("vision")
    facts = ModelFacts(
        family=arch,
        parameter_count=int(count) if count else None,
        quantization_level=str(quant),
        context_length=int(ctx),
        embedding_length=int(emb),
        capabilities=tuple(caps),
    )
    info: dict[str, Any] = {
        "general.architecture": arch,
        "general.parameter_count": facts.parameter_count,
        f"{arch}.context_length": facts.context_length,
        f"{arch}.embedding_length": facts.embedding_length,
    }
    for key, value in fields.items():
        info.setdefault(key, value)
    toy = not has_weights(stored.model_blob)
    if toy:
        info["nbmodels.toy"] = TOY_NOTE
    return Description(facts=facts, model_info=info, toy=toy)


def tags_entry(stored: StoredModel) -> dict[str, Any]:
    """One model of ``GET /api/tags``."""
    return {
        "name": stored.name,
        "model": stored.name,
        "modified_at": stored.modified_at.isoformat(),
        "size": stored.size,
        "digest": stored.digest,
        "details": describe(stored).details(),
    }


def _parameters_text(params: dict[str, Any]) -> str:
    """The params layer as ``ollama show --parameters`` prints it."""
    lines = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            text = json.dumps(item) if isinstance(item, str) else str(item)
            lines.append(f"{key:<30} {text}")
    return "\n".join(lines)


def _modelfile(stored: StoredModel, params: dict[str, Any]) -> str:
    blob = stored.model_blob
    lines = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {stored.name}",
        "",
        f"FROM {blob if blob else stored.name}",
    ]
    if stored.template is not None:
        lines.append(f'TEMPLATE """{stored.template}"""')
    if stored.system is not None:
        lines.append(f'SYSTEM """{stored.system}"""')
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    if stored.license is not None:
        lines.append(f'LICENSE """{stored.license}"""')
    return "\n".join(lines) + "\n"


def show_payload(stored: StoredModel) -> dict[str, Any]:
    """The body of ``POST /api/show``."""
    desc = describe(stored)
    params = stored.params
    payload: dict[str, Any] = {
        "license": stored.license or "",
        "modelfile": _modelfile(stored, params),
        "parameters": _parameters_text(params),
        "template": stored.template or "",
        "details": desc.details(),
        "model_info": desc.model_info,
        "capabilities": list(desc.facts.capabilities),
        "modified_at": stored.modified_at.isoformat(),
    }
    if stored.system is not None:
        payload["system"] = stored.system
    if stored.has_projector:
        payload["projector_info"] = {"general.architecture": "clip"}
    return payload
