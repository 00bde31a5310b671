"""The fields of a team catalog (:data:`FIELD_ALIASES`: the column names accepted for
each) and how one cell of each is read, leniently (see :mod:`.custom`)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ...errors import ConfigurationError, CustomCatalogError
from ...types import ModelType, SupportedTask
from ...units import parse_count, parse_date, parse_size
from ..tasks import detect_tasks

# -- rows ---------------------------------------------------------------------------------

#: field -> column names accepted for it (compared lower-case, without "_", "-", spaces)
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "model_id", "repo_id", "repo", "model", "model_name", "name"),
    "name": ("name", "title", "display_name"),
    "author": ("author", "owner", "organization", "organisation", "org", "publisher"),
    "description": ("description", "desc", "summary", "notes"),
    "license": ("license", "licence", "license_name"),
    "version": ("version", "revision"),
    "language": ("language", "languages", "lang"),
    "tags": ("tags", "keywords", "labels"),
    "tasks": ("tasks", "task", "supported_tasks"),
    "capabilities": ("capabilities",),  # Ollama's words: completion, embedding, vision, tools
    "pipeline_tag": ("pipeline_tag", "pipeline"),
    "model_type": ("model_type", "category"),
    "parameters": (
        "parameters",
        "params",
        "parameter_count",
        "num_parameters",
        "n_params",
        "num_params",
        "param_count",
        "parameter_size",
    ),
    "size_bytes": ("size_bytes", "size", "model_size", "file_size", "bytes", "disk_size"),
    "downloads": ("downloads", "download_count", "pulls"),
    "likes": ("likes", "stars", "hearts"),
    "trending_score": ("trending_score", "trending", "trendingscore"),
    "created_at": ("created_at", "created", "date_created", "release_date", "released"),
    "updated_at": ("updated_at", "updated", "last_modified", "modified", "modified_at"),
    "library": ("library", "library_name", "framework"),
    "architectures": ("architectures", "architecture", "arch"),
    "download_url": ("download_url", "url", "link", "homepage", "source_url"),
    "local_path": ("local_path", "path"),
    # the model(s) this one is derived from (a fine-tune, quantization, adapter, merge);
    # kept in ``extra["base_models"]``, used to type the model (see nbmodels.discover.tasks)
    "base_models": ("base_models", "base_model"),
}


def _key(column: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(column).lower())


_KNOWN_COLUMNS = {_key(name) for names in FIELD_ALIASES.values() for name in names}

_MISSING_TEXT = {"", "null", "none", "nan", "n/a", "na", "-", "?"}


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value.strip().lower() in _MISSING_TEXT:
        return True
    return isinstance(value, list | tuple) and not value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | dict | list | tuple):
        raise ValueError("is not text")
    return str(value)


def _one_line(value: object) -> str:
    text = _text(value)
    if not text or any(c in text for c in "\r\n\t\x00"):
        raise ValueError("is not one line of text (empty, or with tabs/line breaks)")
    return text


_WORD_SEPARATORS = re.compile(r"[,;|]")


def _string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):  # a JSON list written into a CSV cell
            try:
                value = json.loads(text)
            except ValueError:
                value = text.strip("[]")
        if isinstance(value, str):
            words = [w for p in _WORD_SEPARATORS.split(value) if (w := p.strip().strip("'\""))]
            return tuple(dict.fromkeys(words))
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, dict | list | tuple) or item is None:
                raise ValueError("is not a list of words")
            if str(item).strip():
                items.append(str(item).strip())
        return tuple(dict.fromkeys(items))
    raise ValueError("is not a list (give a list, or words separated by ',' or ';')")


def _task_list(value: object) -> tuple[SupportedTask, ...]:
    found: list[SupportedTask] = []
    for word in _string_list(value):
        try:
            found.append(SupportedTask.parse(word))
            continue
        except ConfigurationError:
            pass
        mapped = detect_tasks(pipeline_tag=word)  # a Hub pipeline tag, e.g. feature-extraction
        if not mapped:
            raise ValueError(
                f"has unknown task {word!r} (use SupportedTask values such as "
                "text-generation, chat, embedding, or Hub pipeline tags)"
            )
        found += mapped
    return tuple(dict.fromkeys(found))


def _model_type(value: object) -> ModelType:
    text = _text(value).lower()
    text = text.removesuffix(" model").removesuffix("_model").removesuffix("-model")
    try:
        return ModelType.parse(text)
    except ConfigurationError:
        choices = ", ".join(t.value for t in ModelType)
        raise ValueError(f"is not a model type ({choices})") from None


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("is not a number")
    try:
        result = float(str(value).replace(",", "")) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("is not a number") from None
    if not math.isfinite(result):
        raise ValueError("is not a number")
    return result


_INT64_MAX = 2**63 - 1


def _int64(parse: Callable[..., int]) -> Callable[..., int]:
    """``parse``, refusing what a catalog column (int64) cannot hold."""

    def parse_int64(value: object, **options: Any) -> int:
        result = parse(value, **options)
        if result > _INT64_MAX:
            raise ValueError(f"is too large (over {_INT64_MAX:,})")
        return result

    return parse_int64


_count = _int64(parse_count)
_size = _int64(parse_size)

_PARSERS: dict[str, Callable[[object], Any]] = {
    "id": _one_line,
    "name": _text,
    "author": _one_line,
    "description": _text,
    "license": lambda v: _text(v[0] if isinstance(v, list) and len(v) == 1 else v),
    "version": _text,
    "language": _string_list,
    "tags": _string_list,
    "tasks": _task_list,
    "capabilities": _string_list,
    "pipeline_tag": _one_line,
    "model_type": _model_type,
    "parameters": _count,
    "size_bytes": _size,
    "downloads": _count,
    "likes": _count,
    "trending_score": _float,
    "created_at": parse_date,
    "updated_at": parse_date,
    "library": _one_line,
    "architectures": _string_list,
    "download_url": _one_line,
    "local_path": _one_line,
    "base_models": _string_list,
}


def _jsonable(value: object) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


_DECIMAL_COMMA_PARSERS: dict[str, Any] = {
    "parameters": lambda v: _count(v, decimal_comma=True),
    "size_bytes": lambda v: _size(v, decimal_comma=True),
    "downloads": lambda v: _count(v, decimal_comma=True),
    "likes": lambda v: _count(v, decimal_comma=True),
}


def _no_header(location: str, header: str) -> None:
    raise CustomCatalogError(
        f"Custom catalog {location} has no header row nbmodels understands (first line: "
        f"{header[:80]!r}). Start the CSV with column names such as id,parameters,tags."
    )
