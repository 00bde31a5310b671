"""Hub records as nbmodels sees them: :func:`to_metadata` turns a ``huggingface_hub``
``ModelInfo`` of any shape into a :class:`~nbmodels.types.ModelMetadata`, and
:func:`summarize_card` a model card into a short description."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from huggingface_hub import ModelCard, ModelInfo

from ...types import FileInfo, ModelMetadata, ModelSource
from ...weights import bytes_from_parameters
from ..tasks import annotate

__all__ = ["CHAT_TEMPLATE_FILES", "summarize_card", "to_metadata"]

# Language codes, to pick languages out of tags when a record has no card data. No ISO 639
# table is among nbmodels' dependencies (babel or langcodes would be one just for this), so
# the two-letter ISO 639-1 codes are listed here, with the three-letter codes the Hub uses.
_ISO639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv
    kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr
    nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
    sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu""".split()  # noqa: SIM905 - a table, kept compact
)
_ISO639_3 = frozenset(
    """ara ceb deu doi eng fil fon fra haw hmn ita jpn kok kor mai mni nso por rus sat spa
    tha tum vie yue zho""".split()  # noqa: SIM905
)
_DESCRIPTION_CHARS = 300


def to_metadata(
    info: ModelInfo, *, endpoint: str = "https://huggingface.co", with_files: bool = True
) -> ModelMetadata:
    """A :class:`ModelMetadata` (tasks and model type detected) for one Hub record.

    Tolerant of every shape the Hub sends: missing card data, licence as a list, language
    as a string or a list, no safetensors, no dates, unknown keys.
    """
    model_id = str(info.id)
    card = _card_dict(getattr(info, "card_data", None))
    tags = tuple(str(t) for t in (getattr(info, "tags", None) or ()) if t)
    siblings = list(getattr(info, "siblings", None) or ()) if with_files else []
    files = tuple(
        FileInfo(
            path=str(s.rfilename),
            size=_int(getattr(s, "size", None)),
            sha256=_lfs_sha256(getattr(s, "lfs", None)),
        )
        for s in siblings
        if getattr(s, "rfilename", None)
    )
    # the files' own sizes where every one is known; else the weights' exact size from the
    # safetensors parameter counts per dtype (listings carry those, not the files); else the
    # repo's storage as the Hub reports it
    if files and all(f.size is not None for f in files):
        size_bytes: int | None = sum(f.size or 0 for f in files)
    else:
        size_bytes = bytes_from_parameters(
            _get(getattr(info, "safetensors", None), "parameters")
        ) or _int(getattr(info, "used_storage", None))
    gguf = getattr(info, "gguf", None)
    gguf = gguf if isinstance(gguf, Mapping) else _json_dict(gguf)
    extra: dict[str, Any] = {}
    for key, value in (
        ("gated", getattr(info, "gated", None)),
        ("private", getattr(info, "private", None)),
        ("downloads_all_time", _int(getattr(info, "downloads_all_time", None))),
        ("license_name", _str(card.get("license_name"))),
        ("base_models", _base_models(card, getattr(info, "base_models", None)) or None),
        ("context_length", _int(gguf.get("context_length")) if gguf else None),
        ("has_chat_template", True if _has_chat_template(info, gguf) else None),
    ):
        if value is not None:
            extra[key] = value
    meta = ModelMetadata(
        id=model_id,
        source=ModelSource.HUGGING_FACE,
        name=model_id.rsplit("/", 1)[-1],
        author=_str(getattr(info, "author", None))
        or (model_id.split("/", 1)[0] if "/" in model_id else None),
        license=_license(tags, card.get("license")),
        version=_str(getattr(info, "sha", None)),
        language=_languages(card, tags, has_card=getattr(info, "card_data", None) is not None),
        tags=tags,
        parameters=_parameters(getattr(info, "safetensors", None), gguf),
        size_bytes=size_bytes,
        downloads=_int(getattr(info, "downloads", None)),
        likes=_int(getattr(info, "likes", None)),
        trending_score=_float(getattr(info, "trending_score", None)),
        created_at=_datetime(getattr(info, "created_at", None)),
        updated_at=_datetime(getattr(info, "last_modified", None)),
        pipeline_tag=_str(getattr(info, "pipeline_tag", None)),
        library=_str(getattr(info, "library_name", None)),
        architectures=_architectures(getattr(info, "config", None)),
        files=files,
        download_url=f"{endpoint.rstrip('/')}/{model_id}",
        extra=extra,
    )
    return annotate(meta)


def _with_card(meta: ModelMetadata, card: ModelCard) -> ModelMetadata:
    """``meta`` with a description from the card's body, and licence/language from its
    front matter where the Hub record had none."""
    import dataclasses

    data = _card_dict(card.data)
    return dataclasses.replace(
        meta,
        description=meta.description or summarize_card(card.text or ""),
        license=meta.license or _license((), data.get("license")),
        language=meta.language or _languages(data, (), has_card=True),
    )


_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*\n", re.S)
_MARKUP_LINE = re.compile(r"^\s*(#|<|!\[|\[!\[|\||```|>\s*\[!|-{3,}|={3,}|\*{3,})")


def summarize_card(text: str, *, max_chars: int = _DESCRIPTION_CHARS) -> str:
    """The first paragraph of prose of a model card body (front matter, headings, badges,
    HTML, tables and code skipped), shortened to ``max_chars``."""
    body = _FRONT_MATTER.sub("", text, count=1)
    paragraph: list[str] = []
    in_code = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            if paragraph:
                break
            continue
        if in_code:
            continue
        if not stripped or _MARKUP_LINE.match(stripped):
            if paragraph:
                break
            continue
        paragraph.append(stripped)
    summary = " ".join(paragraph)
    summary = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", summary)  # inline images
    summary = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", summary)  # links -> their text
    summary = re.sub(r"(\*\*|__|`)", "", summary)  # bold and code marks
    summary = re.sub(r"\s+", " ", summary).strip()
    if len(summary) > max_chars:
        summary = summary[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return summary


_CARD_KEYS = ("license", "license_name", "language", "base_model")


def _card_dict(card: Any) -> dict[str, Any]:
    """The card-data keys nbmodels reads, from a dict, a CardData or JSON text."""
    if card is None:
        return {}
    if isinstance(card, str):
        card = _json_dict(card)
    get = getattr(card, "get", None)  # Mapping and CardData both have .get
    if not callable(get):
        return {}
    try:
        return {key: get(key) for key in _CARD_KEYS}
    except Exception:  # odd card data is no reason to fail
        return {}


def _json_dict(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _license(tags: Iterable[str], card_license: Any) -> str | None:
    """From ``license:`` tags (the Hub's normalised form) or the card; lower-case; several
    licences joined with ", "."""
    values = [t.split(":", 1)[1] for t in tags if t.lower().startswith("license:")]
    if not values:
        if isinstance(card_license, str):
            values = [card_license]
        elif isinstance(card_license, (list, tuple)):
            values = [v for v in card_license if isinstance(v, str)]
    cleaned = list(dict.fromkeys(v.strip().lower() for v in values if v and v.strip()))
    return ", ".join(cleaned) or None


def _languages(card: Mapping[str, Any], tags: Iterable[str], *, has_card: bool) -> tuple[str, ...]:
    value = card.get("language")
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, (list, tuple)):
        values = [v for v in value if isinstance(v, str)]
    elif not has_card:  # no card data at all: the Hub copies card languages into the tags
        values = [t for t in tags if t in _ISO639_1 or t in _ISO639_3]
    else:
        values = []
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _parameters(safetensors: Any, gguf: Mapping[str, Any] | None) -> int | None:
    total = None
    if safetensors is not None:
        total = _int(_get(safetensors, "total"))
        if total is None:
            per_dtype = _get(safetensors, "parameters")
            if isinstance(per_dtype, Mapping):
                counts = [_int(v) for v in per_dtype.values()]
                total = sum(c for c in counts if c) or None
    if total is None and gguf:
        total = _int(gguf.get("total"))
    return total if total else None


#: files in which transformers keeps chat templates (it writes chat_template.jinja now)
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def _has_chat_template(info: ModelInfo, gguf: Mapping[str, Any] | None) -> bool:
    """Whether the record shows a chat template: a chat template file among the repo's files,
    config's tokenizer_config, or the GGUF's.

    Listings often leave all of them out, so False means "not shown", never "has none"."""
    for sibling in getattr(info, "siblings", None) or ():
        name = str(getattr(sibling, "rfilename", "") or "")
        if name in CHAT_TEMPLATE_FILES or name.startswith("additional_chat_templates/"):
            return True
    config = getattr(info, "config", None)
    tokenizer_config = config.get("tokenizer_config") if isinstance(config, Mapping) else None
    if isinstance(tokenizer_config, Mapping) and tokenizer_config.get("chat_template"):
        return True
    return bool(gguf and gguf.get("chat_template"))


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _lfs_sha256(lfs: Any) -> str | None:
    if lfs is None:
        return None
    value = _get(lfs, "sha256") or _get(lfs, "oid")
    return value if isinstance(value, str) and len(value) == 64 else None


def _architectures(config: Any) -> tuple[str, ...]:
    if not isinstance(config, Mapping):
        return ()
    value = config.get("architectures")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def _base_models(card: Mapping[str, Any], base_models: Any) -> list[str]:
    value = card.get("base_model")
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    # hub-stats shape: {"relation": ..., "models": [{"id": ...}]}
    models = _get(base_models, "models") if base_models is not None else None
    if isinstance(models, (list, tuple)):
        return [str(m["id"]) for m in models if isinstance(m, Mapping) and m.get("id")]
    return []


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    return None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
