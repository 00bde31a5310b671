"""Model records in the Hub's JSON shape, and the ``/api/models`` query over them.

Two kinds of records meet here: the real ones of ``hub-models.parquet`` (the hub-stats
schema, nulls and all) and the repos the server serves from disk. Both become the full dict
the Hub would send for ``model_info``; a listing then filters, sorts, pages and projects
them the way ``GET /api/models`` does.

Absent values are left out of the JSON, as the Hub does (``ModelInfo`` reads them as None).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbmodels.errors import ConfigurationError
from nbmodels.settings import is_true

from .repos import Revision, read_front_matter, safetensors_parameters

__all__ = [
    "EXPAND_KEYS",
    "SORT_KEYS",
    "ModelQuery",
    "QueryError",
    "find_shared_records",
    "load_records",
    "project",
    "record_from_revision",
    "record_from_row",
]


SORT_KEYS = ("downloads", "downloadsAllTime", "likes", "lastModified", "createdAt", "trendingScore")
#: Keys of a listing item without ``full``/``expand`` (what the real Hub sends).
LIST_KEYS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
#: Properties ``expand`` may ask for.
EXPAND_KEYS = frozenset(
    {
        "author",
        "baseModels",
        "cardData",
        "childrenModelCount",
        "config",
        "createdAt",
        "disabled",
        "downloads",
        "downloadsAllTime",
        "evalResults",
        "gated",
        "gguf",
        "inference",
        "inferenceProviderMapping",
        "lastModified",
        "library_name",
        "likes",
        "mask_token",
        "model-index",
        "pipeline_tag",
        "private",
        "resourceGroup",
        "safetensors",
        "securityRepoStatus",
        "sha",
        "siblings",
        "spaces",
        "tags",
        "transformersInfo",
        "trendingScore",
        "usedStorage",
        "widgetData",
    }
)


class QueryError(ValueError):
    """A query parameter the server cannot use (answered with 400)."""


def find_shared_records() -> Path | None:
    """The real Hub records (``shared/data/hub-models.parquet``, or ``NBMODELS_HUB_RECORDS``)."""
    from ..data import find_records

    return find_records()


# -- records of the parquet file --------------------------------------------------------


def load_records(path: Path) -> list[dict[str, Any]]:
    """Every row of a hub-stats parquet file as a full Hub record."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(
            f"Hub records file {path} does not exist; pass records=None to serve only the "
            f"repos on disk, or point NBMODELS_HUB_RECORDS at hub-models.parquet."
        )
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise ConfigurationError(
            f"Cannot read hub records from {path} ({exc}); it must be a parquet file in the "
            "hub-stats schema."
        ) from None
    records = []
    for row in rows:
        record = record_from_row(row)
        if record is not None:
            records.append(record)
    return records


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (
            value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, str) and value:
        return value
    return None


def _json_obj(text: Any) -> Any:
    """Parse a JSON text column; None for null, the literal 'None', or bad JSON."""
    if isinstance(text, dict | list):
        return text
    if not isinstance(text, str) or text in ("", "None", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _object_id(repo_id: str) -> str:
    """A stable 24-hex ``_id`` like the Hub's Mongo ids."""
    return hashlib.sha1(f"nbmodels-id:{repo_id}".encode()).hexdigest()[:24]


def record_from_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """One hub-stats row as the Hub's model JSON; None for a row without an id."""
    repo_id = row.get("id")
    if not isinstance(repo_id, str) or not repo_id:
        return None
    card = _json_obj(row.get("cardData"))
    safetensors = row.get("safetensors")
    if isinstance(safetensors, dict):
        params = {k: v for k, v in (safetensors.get("parameters") or {}).items() if v is not None}
        safetensors = {"parameters": params, "total": safetensors.get("total")}
    last_modified = _iso(row.get("lastModified"))
    record: dict[str, Any] = {
        "_id": _object_id(repo_id),
        "id": repo_id,
        "modelId": repo_id,
        "author": row.get("author") or repo_id.partition("/")[0],
        "sha": hashlib.sha1(f"nbmodels-record:{repo_id}:{last_modified}".encode()).hexdigest(),
        "createdAt": _iso(row.get("createdAt")),
        "lastModified": last_modified,
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": row.get("downloads"),
        "downloadsAllTime": row.get("downloadsAllTime"),
        "likes": row.get("likes"),
        "trendingScore": row.get("trendingScore"),
        "tags": list(row.get("tags") or []),
        "pipeline_tag": row.get("pipeline_tag"),
        "library_name": row.get("library_name"),
        "cardData": card if isinstance(card, dict) else None,
        "safetensors": safetensors if isinstance(safetensors, dict) else None,
        "gguf": _json_obj(row.get("gguf")),
        "baseModels": row.get("baseModels"),
        "siblings": [],
    }
    return {k: v for k, v in record.items() if v is not None}


# -- records of repos served from disk --------------------------------------------------

_TASK_MODELS = {
    "text-generation": "AutoModelForCausalLM",
    "text-classification": "AutoModelForSequenceClassification",
    "feature-extraction": "AutoModel",
    "sentence-similarity": "AutoModel",
    "fill-mask": "AutoModelForMaskedLM",
    "token-classification": "AutoModelForTokenClassification",
}


def record_from_revision(
    rev: Revision, *, gated: bool = False, blobs: bool = False
) -> dict[str, Any]:
    """The full model info of a repo served from disk, at one revision."""
    card = _card(rev)
    config = _config(rev)
    safetensors = safetensors_parameters(
        [f.local for f in rev.files if f.path.endswith(".safetensors")]
    )
    pipeline_tag = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    if library is None and rev.file("config.json"):
        library = "transformers"
    siblings = []
    for f in rev.files:
        sibling: dict[str, Any] = {"rfilename": f.path}
        if blobs:
            sibling |= {"blobId": f.blob_id, "size": f.size}
            if f.sha256:
                sibling["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
        siblings.append(sibling)
    org = rev.repo_id.partition("/")[0]
    record: dict[str, Any] = {
        "_id": _object_id(rev.repo_id),
        "id": rev.repo_id,
        "modelId": rev.repo_id,
        "author": org,
        "sha": rev.commit,
        "createdAt": _iso(rev.created_at),
        "lastModified": _iso(rev.last_modified),
        "private": False,
        "gated": "manual" if gated else False,
        "disabled": False,
        "downloads": 0,
        "downloadsAllTime": 0,
        "likes": 0,
        "trendingScore": 0,
        "tags": _tags(rev, card, config, library, pipeline_tag, safetensors is not None),
        "pipeline_tag": pipeline_tag,
        "library_name": library,
        "cardData": card or None,
        "config": config,
        "safetensors": safetensors,
        "transformersInfo": _transformers_info(config, pipeline_tag),
        "usedStorage": rev.used_storage,
        "siblings": siblings,
    }
    return {k: v for k, v in record.items() if v is not None}


def _card(rev: Revision) -> dict[str, Any]:
    readme = rev.file("README.md")
    return (read_front_matter(readme.local) if readme else None) or {}


def _config(rev: Revision) -> dict[str, Any] | None:
    f = rev.file("config.json")
    if f is None:
        return None
    try:
        raw = json.loads(f.local.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    config = {k: raw[k] for k in ("architectures", "model_type") if k in raw}
    tok = rev.file("tokenizer_config.json")
    tokenizer_config: dict[str, Any] = {}
    if tok:
        try:
            data = json.loads(tok.local.read_text())
            if isinstance(data, dict):
                keys = ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template")
                tokenizer_config = {k: data[k] for k in keys if k in data}
        except (OSError, ValueError):
            pass
    # served as on disk: a chat_template.jinja file stays a file (the Hub does not copy it
    # into tokenizer_config), so clients must look for it among the siblings
    if tokenizer_config:
        config["tokenizer_config"] = tokenizer_config
    return config


def _tags(
    rev: Revision,
    card: dict[str, Any],
    config: dict[str, Any] | None,
    library: str | None,
    pipeline_tag: str | None,
    has_safetensors: bool,
) -> list[str]:
    """Tags as the Hub computes them: library, formats, model type, task, card tags, licence..."""
    tags: list[str] = []
    if library:
        tags.append(library)
    if has_safetensors:
        tags.append("safetensors")
    if config and isinstance(config.get("model_type"), str):
        tags.append(config["model_type"])
    if pipeline_tag:
        tags.append(pipeline_tag)
    tags += [t for t in _as_list(card.get("tags")) if isinstance(t, str)]
    if (config and "chat_template" in config.get("tokenizer_config", {})) or rev.file(
        "chat_template.jinja"
    ):
        tags.append("conversational")
    tags += [lang for lang in _as_list(card.get("language")) if isinstance(lang, str)]
    for base in _as_list(card.get("base_model")):
        if isinstance(base, str):
            tags.append(f"base_model:{base}")
    if isinstance(card.get("license"), str):
        tags.append(f"license:{card['license']}")
    tags += ["endpoints_compatible", "region:us"]
    return list(dict.fromkeys(tags))  # de-duplicated, first occurrence kept


def _transformers_info(
    config: dict[str, Any] | None, pipeline_tag: str | None
) -> dict[str, Any] | None:
    auto = _TASK_MODELS.get(pipeline_tag or "")
    if not config or not auto:
        return None
    return {"auto_model": auto, "pipeline_tag": pipeline_tag, "processor": "AutoTokenizer"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- the query --------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def _parse_size(text: str) -> float:
    match = _SIZE.match(text)
    if not match:
        raise QueryError(f"num_parameters: {text!r} is not a size such as 7B, 500M or 1.5B")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class ModelQuery:
    """The parameters of ``GET /api/models``, parsed from a query string's ``parse_qs`` dict."""

    search: str | None = None
    author: str | None = None
    filters: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    library: str | None = None
    gated: bool | None = None
    min_params: float | None = None
    max_params: float | None = None
    sort: str | None = None
    ascending: bool = False
    limit: int | None = None
    full: bool = False
    card_data: bool = False
    config: bool = False
    expand: tuple[str, ...] = ()
    offset: int = 0

    @classmethod
    def parse(cls, params: dict[str, list[str]]) -> ModelQuery:
        def one(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        sort = one("sort")
        if sort is not None and sort not in SORT_KEYS:
            raise QueryError(f"sort must be one of {', '.join(SORT_KEYS)}, not {sort!r}")
        expand = tuple(v for value in params.get("expand", []) for v in value.split(",") if v)
        unknown = sorted(set(expand) - EXPAND_KEYS)
        if unknown:
            raise QueryError(f"expand: unknown properties {unknown}")
        full, card_data, config = (is_true(one(k) or "") for k in ("full", "cardData", "config"))
        if expand and (full or card_data or config):
            raise QueryError("expand cannot be combined with full, cardData or config")
        min_params = max_params = None
        for part in (one("num_parameters") or "").split(","):
            key, _, value = part.partition(":")
            if key.strip() == "min":
                min_params = _parse_size(value)
            elif key.strip() == "max":
                max_params = _parse_size(value)
            elif part.strip():
                raise QueryError(f"num_parameters: expected 'min:1B,max:8B', got {part!r}")
        try:
            raw_limit = one("limit")
            limit = int(raw_limit) if raw_limit else None
            direction = int(one("direction") or -1)
        except ValueError:
            raise QueryError("limit and direction must be integers") from None
        gated = one("gated")
        return cls(
            search=one("search"),
            author=one("author"),
            filters=tuple(v for value in params.get("filter", []) for v in value.split(",") if v),
            pipeline_tag=one("pipeline_tag"),
            library=one("library"),
            gated=None if gated is None else is_true(gated),
            min_params=min_params,
            max_params=max_params,
            sort=sort,
            ascending=direction > 0,
            limit=limit if limit is None or limit > 0 else None,
            full=full,
            card_data=card_data,
            config=config,
            expand=expand,
            offset=decode_cursor(one("cursor")),
        )

    def matches(self, item: dict[str, Any]) -> bool:
        tags = item.get("tags") or []
        if self.search and self.search.lower() not in item["id"].lower():
            return False
        if self.author and (item.get("author") or "").lower() != self.author.lower():
            return False
        for wanted in self.filters:
            if wanted not in tags and wanted not in (
                item.get("pipeline_tag"),
                item.get("library_name"),
            ):
                return False
        if self.pipeline_tag and item.get("pipeline_tag") != self.pipeline_tag:
            return False
        if self.library and self.library != item.get("library_name") and self.library not in tags:
            return False
        if self.gated is not None and bool(item.get("gated")) != self.gated:
            return False
        if self.min_params is not None or self.max_params is not None:
            total = _parameters(item)
            if total is None:
                return False
            if self.min_params is not None and total < self.min_params:
                return False
            if self.max_params is not None and total > self.max_params:
                return False
        return True

    def run(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter and sort (nulls last, stable); paging and projection are the caller's."""
        found = [item for item in items if self.matches(item)]
        if self.sort:
            key = self.sort
            present = [i for i in found if i.get(key) is not None]
            missing = [i for i in found if i.get(key) is None]
            present.sort(key=lambda i: i[key], reverse=not self.ascending)
            found = present + missing
        return found

    def fields(self) -> Sequence[str]:
        """The keys each listed item keeps."""
        if self.expand:
            return ("_id", "id", *self.expand)
        keys = list(LIST_KEYS)
        if self.full:
            keys += _FULL_EXTRA
        if self.card_data:
            keys.append("cardData")
        if self.config:
            keys.append("config")
        return keys


_FULL_EXTRA = (
    "author",
    "sha",
    "lastModified",
    "gated",
    "disabled",
    "downloadsAllTime",
    "safetensors",
    "gguf",
    "baseModels",
    "transformersInfo",
    "usedStorage",
    "siblings",
)


def _parameters(item: dict[str, Any]) -> float | None:
    for key in ("safetensors", "gguf"):
        block = item.get(key)
        if isinstance(block, dict) and isinstance(block.get("total"), int | float):
            return float(block["total"])
    return None


def project(item: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Keep only ``fields`` of a full record (all when None)."""
    if fields is None:
        return dict(item)
    return {k: item[k] for k in fields if k in item}


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise QueryError(
            "cursor is not one this server sent; follow the Link header as is"
        ) from None
    if offset < 0:
        raise QueryError("cursor is not one this server sent; follow the Link header as is")
    return offset
