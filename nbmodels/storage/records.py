"""Registry records as stored: models and configurations <-> JSON text, and a row of the
``entries`` table (with its tags and dependencies) <-> a :class:`ModelRegistryEntry`.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config.stored import _configuration_from as _stored_configuration
from ..config.stored import configuration_dict
from ..types import (
    DownloadStatus,
    FileInfo,
    ModelConfiguration,
    ModelMetadata,
    ModelRegistryEntry,
    ModelSource,
    ModelType,
    SupportedTask,
)
from .backend import Row


def _jsonable(value: Any) -> Any:
    if isinstance(value, ModelType | SupportedTask | ModelSource | DownloadStatus):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _metadata_json(meta: ModelMetadata) -> str:
    return json.dumps(_jsonable(meta), sort_keys=True)


def _metadata_from(text: str) -> ModelMetadata:
    data = json.loads(text)
    names = {f.name for f in dataclasses.fields(ModelMetadata)}
    data = {k: v for k, v in data.items() if k in names}
    data["source"] = ModelSource.parse(data["source"])
    data["tasks"] = tuple(SupportedTask.parse(t) for t in data.get("tasks") or ())
    if data.get("model_type"):
        data["model_type"] = ModelType.parse(data["model_type"])
    data["files"] = tuple(FileInfo(**f) for f in data.get("files") or ())
    for key in ("language", "tags", "architectures"):
        data[key] = tuple(data.get(key) or ())
    for key in ("created_at", "updated_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    return ModelMetadata(**data)


def _configuration_json(cfg: ModelConfiguration | None) -> str | None:
    if cfg is None:
        return None
    return json.dumps(configuration_dict(cfg), sort_keys=True, default=str)


def _configuration_from(text: str | None) -> ModelConfiguration | None:
    if not text:
        return None
    return _stored_configuration(json.loads(text), Path("registry"))


def _as_origin(meta: ModelMetadata) -> ModelMetadata:
    """A model the local scan found in the HF cache or Ollama's store, under the source it
    came from (so a download and a later scan of it are one entry)."""
    origin = (meta.extra or {}).get("origin")
    if origin == "hf-cache":
        return dataclasses.replace(meta, source=ModelSource.HUGGING_FACE)
    if origin == "ollama":
        return dataclasses.replace(meta, source=ModelSource.OLLAMA)
    return meta


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _entry(r: Row, deps: list[str], dependents: list[str], tags: list[str]) -> ModelRegistryEntry:
    """The entry an ``entries`` row stands for, with its dependencies, dependents and tags."""
    usage = json.loads(r["usage"] or "{}")
    usage |= {"use_count": r["use_count"], "tokens_in": r["tokens_in"],
              "tokens_out": r["tokens_out"], "busy_seconds": r["busy_seconds"],
              "measured_peak_bytes": r["measured_peak_bytes"], "tags": sorted(tags)}  # fmt: skip
    return ModelRegistryEntry(
        metadata=_metadata_from(r["metadata"]),
        configuration=_configuration_from(r["configuration"]),
        download_status=DownloadStatus(r["download_status"]),
        is_available=bool(r["is_available"]),
        is_active=bool(r["is_active"]),
        last_used=_ts(r["last_used"]),
        last_updated=_ts(r["last_updated"]),
        usage_stats=usage,
        dependencies=sorted(deps),
        dependents=sorted(dependents),
    )
