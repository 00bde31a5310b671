"""A model catalog a team keeps: JSON, YAML, CSV or Parquet, from a path or an http(s) URL.

    >>> src = CustomSource("team-models.csv")
    >>> src.search("llama", sort="parameters")

A catalog is a list of rows, one model each (JSON/YAML: a list of objects, or an object
with a ``"models"`` list). Rows are read leniently because people write them by hand:

* column names are matched loosely (``id``, ``model_id``, ``modelId``, ``repo_id``;
  ``parameters``, ``params``, ``num_parameters``...; see :data:`FIELD_ALIASES`);
* values may be oddly typed: ``"7B"``, ``"1.5b"``, ``"7,000,000"`` parameters
  (:func:`parse_count`), ``"4.2GB"``, ``"512 MiB"`` sizes (:func:`parse_size`), tags as a
  list or a ``"a, b; c"`` string, dates as ISO text or epoch seconds;
* a row without an id is skipped, a field that cannot be read is dropped (the row stays),
  and everything skipped or dropped is reported in ONE :class:`CustomCatalogWarning` per
  catalog (``"row 7: no id; row 12: parameters 'lots' is not a number"``);
* a catalog that cannot be read at all, or has no usable row, raises
  :class:`CustomCatalogError` saying what to fix.

Rows are numbered from 1 in file order (for CSV, the first line after the header is row 1).
Columns nbmodels does not know go to ``ModelMetadata.extra``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import (
    ConfigurationError,
    CustomCatalogError,
    CustomCatalogWarning,
    ModelNotFoundError,
    SourceUnavailableError,
)
from ..settings import Settings
from ..tasks import annotate, classify_model_type, detect_tasks
from ..types import ModelMetadata, ModelSource, ModelType, SupportedTask
from ..units import parse_count, parse_date, parse_size
from .base import InMemorySource, did_you_mean, find_by_id

__all__ = ["FIELD_ALIASES", "CustomSource"]

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


def _string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):  # a JSON list written into a CSV cell
            try:
                value = json.loads(text)
            except ValueError:
                value = text.strip("[]")
        if isinstance(value, str):
            words = (p.strip().strip("'\"") for p in re.split(r"[,;|]", value))
            return tuple(dict.fromkeys(w for w in words if w))
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
    "parameters": parse_count,
    "size_bytes": parse_size,
    "downloads": parse_count,
    "likes": parse_count,
    "trending_score": _float,
    "created_at": parse_date,
    "updated_at": parse_date,
    "library": _one_line,
    "architectures": _string_list,
    "download_url": _one_line,
    "local_path": _one_line,
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
    "parameters": lambda v: parse_count(v, decimal_comma=True),
    "size_bytes": lambda v: parse_size(v, decimal_comma=True),
    "downloads": lambda v: parse_count(v, decimal_comma=True),
    "likes": lambda v: parse_count(v, decimal_comma=True),
}


def _row_to_metadata(
    row: Mapping[Any, Any],
    number: int,
    catalog: str,
    issues: list[str],
    *,
    decimal_comma: bool = False,
    unmapped: set[str] | None = None,
) -> ModelMetadata | None:
    """One catalog row as ModelMetadata (None if it has no usable id); notes go to issues."""
    by_key: dict[str, tuple[str, Any]] = {}
    for column, raw in row.items():
        if column is not None and not _missing(raw):
            by_key.setdefault(_key(column), (str(column), raw))
    values: dict[str, Any] = {}
    used: set[str] = set()
    for fld, aliases in FIELD_ALIASES.items():
        # the first alias present wins; a column may feed two fields ("name" as id and name)
        hit = next((_key(a) for a in aliases if _key(a) in by_key), None)
        if hit is None:
            continue
        used.add(hit)
        column, raw = by_key[hit]
        parse = (_DECIMAL_COMMA_PARSERS.get(fld) if decimal_comma else None) or _PARSERS[fld]
        try:
            values[fld] = parse(raw)
        except ValueError as exc:
            issues.append(f"row {number}: {column} {_show(raw)} {exc}")
    extra = {column: _jsonable(raw) for key, (column, raw) in by_key.items() if key not in used}
    if unmapped is not None:
        unmapped.update(extra)

    model_id = values.pop("id", None)
    if not model_id:
        issues.append(f"row {number}: no id (give an id, model_id, repo_id or name)")
        return None
    if "name" not in values:
        values["name"] = model_id.rsplit("/", 1)[-1]
    if "author" not in values and "/" in model_id:
        values["author"] = model_id.split("/", 1)[0]
    explicit_tasks: tuple[SupportedTask, ...] = values.pop("tasks", ())
    capabilities: tuple[str, ...] = values.pop("capabilities", ())
    extra["catalog"] = catalog
    if capabilities:
        extra["capabilities"] = list(capabilities)
    meta = ModelMetadata(id=model_id, source=ModelSource.CUSTOM, extra=extra, **values)
    if explicit_tasks:  # the catalog's own word wins over detection
        model_type = meta.model_type or classify_model_type(explicit_tasks, name=model_id)
        return dataclasses.replace(meta, tasks=explicit_tasks, model_type=model_type)
    return annotate(meta, capabilities=capabilities)


# -- reading catalogs ---------------------------------------------------------------------

_EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_CONTENT_TYPES = {
    "application/json": "json",
    "text/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
_ROW_LIST_KEYS = ("models", "items", "data", "rows")


def _is_url(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def _sniff(data: bytes) -> str:
    """Guess a format from the bytes: parquet magic, JSON, YAML, else CSV."""
    if data[:4] == b"PAR1":
        return "parquet"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"[", b"{"):
        return "json"
    text = data[:4096].decode("utf-8", "replace")
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    if first.startswith(("- ", "---", "models:")) or re.match(r"^[\w\-]+:\s", first):
        return "yaml"
    return "csv"


def _parse_rows(data: bytes, fmt: str, location: str) -> list[Any]:
    """The rows of a catalog, or CustomCatalogError when the file cannot be parsed."""
    if fmt == "parquet":
        return _parquet_rows(data, location)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CustomCatalogError(
            f"Custom catalog {location} is not UTF-8 text (byte {exc.start}); "
            "save it as UTF-8 JSON, YAML or CSV, or as Parquet."
        ) from None
    if fmt == "csv":
        return _csv_rows(text, location)
    if fmt == "jsonl":
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CustomCatalogError(
                        f"Custom catalog {location} line {lineno} is not valid JSON ({exc.msg}); "
                        "write one JSON object per line."
                    ) from None
        return rows
    if fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CustomCatalogError(
                f"Custom catalog {location} is not valid JSON: {exc.msg} at line {exc.lineno} "
                f'column {exc.colno}. Fix the file (a list of objects, or {{"models": [...]}}).'
            ) from None
    else:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise CustomCatalogError(
                f"Custom catalog {location} is not valid YAML: {problem}{where}. Fix the file "
                "(a list of mappings, or a mapping with a 'models' list)."
            ) from None
    return _rows_of(doc, location)


def _rows_of(doc: object, location: str) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in _ROW_LIST_KEYS:
            if isinstance(doc.get(key), list):
                return list(doc[key])
        for key in _ROW_LIST_KEYS:
            value = doc.get(key)
            if isinstance(value, dict) and value:
                # {"models": {"team/a": {...}}}: a mapping keyed by id
                if all(isinstance(v, dict | type(None)) for v in value.values()):
                    return [{"id": str(k), **(v or {})} for k, v in value.items()]
                raise CustomCatalogError(
                    f"Custom catalog {location}: '{key}' is a mapping whose values are not all "
                    "objects. Write it as {id: {fields...}} or as a list of model objects."
                )
        keys = ", ".join(map(str, list(doc)[:8])) or "none"
        raise CustomCatalogError(
            f"Custom catalog {location} is an object without a 'models' list (its keys: {keys}). "
            "Write a list of model objects, or put them under 'models'."
        )
    raise CustomCatalogError(
        f"Custom catalog {location} holds a {type(doc).__name__}, not a list of models. "
        "Write a list of model objects, or an object with a 'models' list."
    )


def _csv_rows(text: str, location: str) -> list[Any]:
    lines = text.splitlines()
    header = next((ln for ln in lines if ln.strip()), "")
    # the delimiter the header uses most: ",", ";" (spreadsheets in many locales), tab or "|"
    delimiter = max(",;\t|", key=header.count) if header else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        table = [r for r in reader if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise CustomCatalogError(
            f"Custom catalog {location} is not valid CSV (line {reader.line_num}: {exc}); "
            "check the quoting on that line."
        ) from None
    if not table:
        return []
    columns = [c.strip() for c in table[0]]
    if not any(_key(c) in _KNOWN_COLUMNS for c in columns):
        raise CustomCatalogError(
            f"Custom catalog {location} has no header row nbmodels understands (first line: "
            f"{header[:80]!r}). Start the CSV with column names such as id,parameters,tags."
        )
    rows: list[Any] = _CommaRows() if delimiter == ";" else []
    for cells in table[1:]:
        if len(cells) > len(columns):
            rows.append(
                _BadRow(f"has {len(cells)} cells but the header has {len(columns)} columns")
            )
            continue
        rows.append(dict(zip(columns, cells, strict=False)))
    return rows


def _parquet_rows(data: bytes, location: str) -> list[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(data)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CustomCatalogError(
            f"Custom catalog {location} is not a readable Parquet file ({exc}); write it again."
        ) from None


class _CommaRows(list[Any]):
    """Rows of a ``;``-separated file: a comma in a number there is the decimal mark."""

    decimal_comma = True


@dataclasses.dataclass(frozen=True)
class _BadRow:
    reason: str


# -- the source ---------------------------------------------------------------------------


class CustomSource(InMemorySource):
    """Models listed in one or more team catalogs (paths or http(s) URLs).

    ``CustomSource()`` reads ``settings.custom_catalogs`` (``NBMODELS_CATALOGS``).
    Catalogs are read on first use and kept; :meth:`reload` reads them again.
    """

    name = "custom"
    kind = ModelSource.CUSTOM

    def __init__(
        self,
        location: str | Path | Sequence[str | Path] | None = None,
        *,
        settings: Settings | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(settings)
        if location is None:
            locations: Sequence[str | Path] = self.settings.custom_catalogs
        elif isinstance(location, str | Path):
            locations = [location]
        else:
            locations = list(location)
        self.locations: tuple[str, ...] = tuple(str(loc) for loc in locations)
        first = self.locations[0] if self.locations else ""
        self.catalog_name = name or (Path(first.split("?")[0]).stem if first else "custom")
        self._models: list[ModelMetadata] | None = None

    def __repr__(self) -> str:
        return f"<CustomSource {self.catalog_name!r} {list(self.locations)!r}>"

    # -- reading ----------------------------------------------------------------------------
    def models(self) -> list[ModelMetadata]:
        """Every model of every catalog, in catalog order (read once, then kept)."""
        if self._models is None:
            seen: dict[str, tuple[str, int]] = {}
            models: list[ModelMetadata] = []
            for location in self.locations:
                for meta in self._read_catalog(location, seen):
                    models.append(meta)
            self._models = models
        return list(self._models)

    def reload(self) -> list[ModelMetadata]:
        """Read the catalogs again (after they changed)."""
        self._models = None
        return self.models()

    def _load_bytes(self, location: str) -> tuple[bytes, str]:
        """The catalog's bytes and its format."""
        if _is_url(location):
            data, content_type = self._fetch(location)
            suffix = Path(location.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
            ctype = (content_type or "").split(";", 1)[0].strip().lower()
            fmt = _EXTENSIONS.get(suffix) or _CONTENT_TYPES.get(ctype) or _sniff(data)
            return data, fmt
        path = Path(location).expanduser()
        if not path.exists():
            raise CustomCatalogError(
                f"Custom catalog {path} does not exist. Check the path, or remove it from "
                "NBMODELS_CATALOGS / the locations given to CustomSource."
            )
        if path.is_dir():
            raise CustomCatalogError(
                f"Custom catalog {path} is a folder; give the path of a .json, .yaml, .csv "
                "or .parquet file (to scan model folders use the 'local' source)."
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CustomCatalogError(
                f"Custom catalog {path} cannot be read ({exc.strerror or exc}); check its "
                "permissions."
            ) from None
        return data, _EXTENSIONS.get(path.suffix.lower()) or _sniff(data)

    def _fetch(self, url: str) -> tuple[bytes, str | None]:
        if self.settings.offline:
            raise SourceUnavailableError(
                f"Custom catalog {url} is a URL but nbmodels is offline (NBMODELS_OFFLINE / "
                "HF_HUB_OFFLINE). Go online, or point at a local copy of the catalog."
            )
        import httpx

        try:
            response = httpx.get(url, timeout=self.settings.timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise SourceUnavailableError(
                f"Custom catalog {url} cannot be fetched ({type(exc).__name__}: {exc}). "
                "Check the URL and your network, or use a local copy."
            ) from None
        if response.status_code >= 400:
            raise CustomCatalogError(
                f"Custom catalog {url} answered HTTP {response.status_code}; check the URL."
            )
        return response.content, response.headers.get("content-type")

    def _read_catalog(self, location: str, seen: dict[str, tuple[str, int]]) -> list[ModelMetadata]:
        data, fmt = self._load_bytes(location)
        rows = _parse_rows(data, fmt, location)
        issues: list[str] = []
        models: list[ModelMetadata] = []
        decimal_comma = bool(getattr(rows, "decimal_comma", False))
        unmapped: set[str] = set()
        for number, row in enumerate(rows, 1):
            if isinstance(row, _BadRow):
                issues.append(f"row {number}: {row.reason}")
                continue
            if not isinstance(row, Mapping):
                issues.append(f"row {number}: is a {type(row).__name__}, not an object")
                continue
            meta = _row_to_metadata(
                row,
                number,
                self.catalog_name,
                issues,
                decimal_comma=decimal_comma,
                unmapped=unmapped,
            )
            if meta is None:
                continue
            if meta.id in seen:
                where, first = seen[meta.id]
                of = "" if where == location else f" of {where}"
                issues.append(f"row {number}: id {meta.id!r} repeats row {first}{of}")
                continue
            seen[meta.id] = (location, number)
            models.append(meta)
        if not models:
            detail = "; ".join(issues[:5]) or "it is empty"
            raise CustomCatalogError(
                f"Custom catalog {location} has no usable row ({detail}). Each row needs an "
                "id (a column id, model_id, repo_id or name)."
            )
        notes = []
        if issues:
            skipped = len(rows) - len(models)
            dropped = len(issues) - skipped
            shown = "; ".join(issues[:25])
            more = f"; and {len(issues) - 25} more" if len(issues) > 25 else ""
            notes.append(
                f"{skipped} of {len(rows)} rows skipped, {dropped} field"
                f"{'s' if dropped != 1 else ''} dropped. {shown}{more}. "
                "Fix these rows to include them fully."
            )
        if unmapped:
            names = sorted(unmapped)
            shown = ", ".join(names[:20]) + (
                f" and {len(names) - 20} more" if len(names) > 20 else ""
            )
            notes.append(
                f"column{'s' if len(names) != 1 else ''} not understood, kept in each model's "
                f"'extra': {shown} (rename to one of {', '.join(sorted(FIELD_ALIASES))} to use)."
            )
        if notes:
            warnings.warn(
                f"Custom catalog {location}: " + " Also: ".join(notes),
                CustomCatalogWarning,
                stacklevel=4,
            )
        return models

    # -- Source -----------------------------------------------------------------------------
    def is_available(self) -> bool:
        """Whether every catalog is there to read: files exist, URLs only when online."""
        if not self.locations:
            return False
        for location in self.locations:
            if _is_url(location):
                if self.settings.offline:
                    return False
            elif not Path(location).expanduser().is_file():
                return False
        return True

    def model_info(self, model_id: str) -> ModelMetadata:
        models = self.models()
        found = find_by_id(models, model_id)
        if found is not None:
            return found
        if not self.locations:
            raise ModelNotFoundError(
                f"{model_id!r}: no custom catalog is configured. Pass CustomSource('path.csv') "
                "or set NBMODELS_CATALOGS."
            )
        hint = did_you_mean(model_id, models)
        raise ModelNotFoundError(
            f"{model_id!r} is not in the custom catalog(s) {', '.join(self.locations)}.{hint}"
        )
