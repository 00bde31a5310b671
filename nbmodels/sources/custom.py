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
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import (
    ConfigurationError,
    CustomCatalogError,
    CustomCatalogWarning,
    ModelNotFoundError,
    SourceUnavailableError,
)
from ..settings import Settings
from ..tasks import _chat_template, classify_model_type, detect_tasks
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


# -- normalising a catalog, column by column ------------------------------------------------
# A team catalog of 100,000 rows must not take a second per 10,000 rows: the cells are
# judged missing and stripped with pandas' vectorised string methods, column names are
# matched once per column (not once per cell), each distinct value of a column is parsed
# once (catalogs repeat tags, licences, dates and sizes), and the catalog gets its rows as
# one Arrow table (:meth:`CustomSource.table`), so no ModelMetadata is built per row unless
# someone asks for the models one by one. Task detection is the one step left per row
# (rules over names and tags, ~20 us a row; the tag-derived parts are memoised in tasks.py).

_OK = object()  # marks a parsed value in the per-unique results


def _missing_mask(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(missing, values)`` for one raw column: text stripped, missing cells marked, the
    values as Python objects (None where missing)."""
    if isinstance(col.dtype, pd.StringDtype) or (
        col.dtype == object and all(type(v) is str for v in col)
    ):
        stripped = col.str.strip()
        missing = (col.isna() | stripped.str.lower().isin(_MISSING_TEXT)).astype(bool)
        return missing, stripped.astype(object).where(~missing, None)
    if col.dtype != object:  # typed columns (Parquet, JSON numbers): only NA is missing
        missing = col.isna()
        return missing, col.astype(object).where(~missing, None)
    missing = col.map(_missing).astype(bool)
    values = col.map(lambda v: v.strip() if isinstance(v, str) else v).astype(object)
    return missing, values.where(~missing, None)


def _parse_column(
    values: pd.Series, parse: Callable[[object], Any]
) -> tuple[list[Any], list[tuple[int, object, str]]]:
    """``parse`` applied to each non-missing value (each distinct value once): the parsed
    values (None where missing or unreadable) and ``(position, raw, reason)`` failures."""
    out: list[Any] = [None] * len(values)
    failures: list[tuple[int, object, str]] = []
    present = np.flatnonzero(values.notna().to_numpy())
    if not len(present):
        return out, failures
    raw = values.to_numpy(dtype=object)[present]
    try:
        codes, uniques = pd.factorize(raw)
        if any(isinstance(u, bool) for u in uniques):  # True == 1 to a hash table
            raise TypeError
    except TypeError:  # lists in cells (JSON/YAML): parse each cell
        codes, uniques = np.arange(len(raw)), raw
    results: list[tuple[object, Any]] = []
    for value in uniques:
        try:
            results.append((_OK, parse(value)))
        except ValueError as exc:
            results.append((None, str(exc)))
    for position, code in zip(present.tolist(), codes.tolist(), strict=True):
        ok, result = results[code]
        if ok is _OK:
            out[position] = result
        else:
            failures.append((position, uniques[code], result))
    return out, failures


@dataclasses.dataclass
class _Rows:
    """One catalog's rows, normalised: a column (list) per ModelMetadata field."""

    numbers: list[int]  # the row numbers in the file (from 1)
    fields: dict[str, list[Any]]
    extra: list[dict[str, Any]]
    unmapped: list[str]

    def __len__(self) -> int:
        return len(self.numbers)

    def select(self, positions: list[int]) -> _Rows:
        if len(positions) == len(self.numbers):
            return self
        return _Rows(
            [self.numbers[p] for p in positions],
            {k: [v[p] for p in positions] for k, v in self.fields.items()},
            [self.extra[p] for p in positions],
            self.unmapped,
        )

    def metadata(self, position: int) -> ModelMetadata:
        # a None leaves ModelMetadata's default ("" for name and description, () for lists)
        values = {k: v[position] for k, v in self.fields.items() if v[position] is not None}
        return ModelMetadata(source=ModelSource.CUSTOM, extra=self.extra[position], **values)


def _normalise(
    table: pd.DataFrame, catalog: str, issues: list[tuple[int, int, str]], *, decimal_comma: bool
) -> _Rows:
    """The rows of ``table`` (raw cells, index = row numbers) as normalised columns.

    Per field, the first alias column with a value in that row wins (a column may feed two
    fields: "name" as id and name); other values go to the row's ``extra``. Notes go to
    ``issues`` as ``(row, order, text)``.
    """
    numbers = [int(n) for n in table.index]
    columns = [str(c) for c in table.columns]
    present: dict[str, list[tuple[str, pd.Series, pd.Series]]] = {}
    for column, name in zip(table.columns, columns, strict=True):
        missing, values = _missing_mask(table[column])
        present.setdefault(_key(name), []).append((name, missing, values))
    won = {name: pd.Series(False, index=table.index) for name in columns}
    fields: dict[str, list[Any]] = {}
    for order, (fld, aliases) in enumerate(FIELD_ALIASES.items()):
        candidates = [
            c for key in dict.fromkeys(_key(a) for a in aliases) for c in present.get(key, ())
        ]
        if not candidates:
            continue
        chosen = pd.Series(None, index=table.index, dtype=object)
        source = pd.Series(None, index=table.index, dtype=object)
        taken = pd.Series(False, index=table.index)
        for name, missing, values in candidates:
            here = ~missing & ~taken
            if here.any():
                chosen = chosen.where(~here, values)
                source = source.where(~here, name)
                won[name] |= here
                taken |= here
        parse = (_DECIMAL_COMMA_PARSERS.get(fld) if decimal_comma else None) or _PARSERS[fld]
        parsed, failures = _parse_column(chosen, parse)
        sources = source.to_list()
        for position, raw, reason in failures:
            n = numbers[position]
            issues.append((n, order, f"row {n}: {sources[position]} {_show(raw)} {reason}"))
        fields[fld] = parsed
    # what no field took stays with the row, under its own column name
    leftover: list[tuple[str, np.ndarray, list[Any]]] = []
    for entries in present.values():
        for name, missing, values in entries:
            unused = (~missing & ~won[name]).to_numpy()
            if unused.any():
                leftover.append((name, unused, values.to_list()))
    extra: list[dict[str, Any]] = [{} for _ in numbers]
    for name, unused, cells in leftover:
        for position in np.flatnonzero(unused).tolist():
            extra[position].setdefault(name, _jsonable(cells[position]))
    return _Rows(numbers, fields, extra, sorted({name for name, _, _ in leftover}))


def _detect(
    pipeline_tag: str | None,
    tags: tuple[str, ...],
    library: str | None,
    architectures: tuple[str, ...],
    capabilities: tuple[str, ...],
    name: str,
    chat_template: bool | None,
) -> tuple[tuple[SupportedTask, ...], ModelType | None]:
    tasks = detect_tasks(
        pipeline_tag=pipeline_tag,
        tags=tags,
        library=library,
        architectures=architectures,
        capabilities=capabilities,
        name=name,
        chat_template=chat_template,
    )
    return tasks, classify_model_type(tasks, tags=tags, name=name)


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


def _parse_rows(data: bytes, fmt: str, location: str) -> list[Any] | pd.DataFrame:
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


def _csv_rows(text: str, location: str) -> list[Any] | pd.DataFrame:
    """The rows of a CSV catalog: a frame of text cells (index: row numbers from 1) from
    pandas' C parser; where that parser refuses the file (a row with too many cells, odd
    quoting), a list read by the csv module, which says which row is wrong."""
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    # the delimiter the header uses most: ",", ";" (spreadsheets in many locales), tab or "|"
    delimiter = max(",;\t|", key=header.count) if header else ","
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, csv.Error):
        return _csv_module_rows(text, location, header, delimiter)
    except pd.errors.EmptyDataError:
        return []
    table.columns = [str(c).strip() for c in table.columns]
    if not any(_key(c) in _KNOWN_COLUMNS for c in table.columns):
        _no_header(location, header)
    table = table.fillna("")  # a short row's missing cells
    blank = np.logical_and.reduce([table[c].str.strip().eq("").to_numpy() for c in table.columns])
    table = table[~blank]  # rows of empty cells are not rows (and are not counted)
    table.index = pd.RangeIndex(1, len(table) + 1)
    table.attrs["decimal_comma"] = delimiter == ";"
    return table


def _no_header(location: str, header: str) -> None:
    raise CustomCatalogError(
        f"Custom catalog {location} has no header row nbmodels understands (first line: "
        f"{header[:80]!r}). Start the CSV with column names such as id,parameters,tags."
    )


def _csv_module_rows(text: str, location: str, header: str, delimiter: str) -> list[Any]:
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
        _no_header(location, header)
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
        self._rows: list[_Rows] | None = None
        self._models: list[ModelMetadata] | None = None

    def __repr__(self) -> str:
        return f"<CustomSource {self.catalog_name!r} {list(self.locations)!r}>"

    # -- reading ----------------------------------------------------------------------------
    def _read(self) -> list[_Rows]:
        """Every catalog's rows, normalised (read once, then kept)."""
        if self._rows is None:
            seen: dict[str, tuple[str, int]] = {}
            self._rows = [self._read_catalog(location, seen) for location in self.locations]
        return self._rows

    def models(self) -> list[ModelMetadata]:
        """Every model of every catalog, in catalog order (read once, then kept)."""
        if self._models is None:
            self._models = [r.metadata(i) for r in self._read() for i in range(len(r))]
        return list(self._models)

    def table(self, *, fetched_at: datetime | None = None) -> pa.Table:
        """Every model as one Arrow table with the catalog's columns (``frame.SCHEMA``),
        built column by column: how the catalog takes a large team catalog in."""
        from .. import frame as _frame

        stamp = _frame._utc(fetched_at) or datetime.now(UTC)
        parts = self._read()
        n = sum(len(r) for r in parts)

        def column(name: str) -> list[Any]:
            return [v for r in parts for v in (r.fields.get(name) or [None] * len(r))]

        ids = column("id")

        def texts(name: str) -> list[str | None]:
            return [v or None for v in column(name)]

        def when(name: str) -> list[datetime | None]:
            return [_frame._utc(v) for v in column(name)]

        data = {
            "key": [f"{ModelSource.CUSTOM.value}:{i}" for i in ids],
            "id": ids,
            "source": [ModelSource.CUSTOM.value] * n,
            "name": column("name"),
            "author": column("author"),
            "description": texts("description"),
            "tasks": [[t.value for t in ts] for ts in column("tasks")],
            "model_type": [t.value if t else None for t in column("model_type")],
            "pipeline_tag": column("pipeline_tag"),
            "library": column("library"),
            "parameters": column("parameters"),
            "size_bytes": column("size_bytes"),
            "license": column("license"),
            "language": [list(v or ()) for v in column("language")],
            "downloads": column("downloads"),
            "likes": column("likes"),
            "trending_score": column("trending_score"),
            "created_at": when("created_at"),
            "updated_at": when("updated_at"),
            "tags": [list(v or ()) for v in column("tags")],
            "version": column("version"),
            "local_path": column("local_path"),
            "is_downloaded": [False] * n,
            "fetched_at": [stamp] * n,
        }
        return pa.table(data, schema=_frame.SCHEMA)

    def reload(self) -> list[ModelMetadata]:
        """Read the catalogs again (after they changed)."""
        self._rows = None
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

    def _read_catalog(self, location: str, seen: dict[str, tuple[str, int]]) -> _Rows:
        data, fmt = self._load_bytes(location)
        parsed = _parse_rows(data, fmt, location)
        issues: list[tuple[int, int, str]] = []  # (row, order, text): said in row order
        if isinstance(parsed, pd.DataFrame):
            table, total = parsed, len(parsed)
            decimal_comma = bool(parsed.attrs.get("decimal_comma"))
        else:
            good: list[Mapping[Any, Any]] = []
            numbers: list[int] = []
            for number, row in enumerate(parsed, 1):
                if isinstance(row, _BadRow):
                    issues.append((number, -1, f"row {number}: {row.reason}"))
                elif not isinstance(row, Mapping):
                    issues.append(
                        (number, -1, f"row {number}: is a {type(row).__name__}, not an object")
                    )
                else:
                    good.append(row)
                    numbers.append(number)
            table = pd.DataFrame.from_records(good, index=numbers) if good else pd.DataFrame()
            table = table[[c for c in table.columns if c is not None]]
            total = len(parsed)
            decimal_comma = bool(getattr(parsed, "decimal_comma", False))
        rows = _normalise(table, self.catalog_name, issues, decimal_comma=decimal_comma)
        keep = self._keep(rows, location, seen, issues)
        rows = rows.select(keep)
        if not len(rows):
            detail = "; ".join(text for *_, text in sorted(issues)[:5]) or "it is empty"
            raise CustomCatalogError(
                f"Custom catalog {location} has no usable row ({detail}). Each row needs an "
                "id (a column id, model_id, repo_id or name)."
            )
        self._complete(rows)
        self._say(location, total, len(rows), [text for *_, text in sorted(issues)], rows.unmapped)
        return rows

    def _keep(
        self,
        rows: _Rows,
        location: str,
        seen: dict[str, tuple[str, int]],
        issues: list[tuple[int, int, str]],
    ) -> list[int]:
        """Positions of the rows to keep: with an id, and the first row of each id."""
        keep: list[int] = []
        last = len(FIELD_ALIASES)
        for position, (model_id, number) in enumerate(
            zip(rows.fields.get("id") or [None] * len(rows), rows.numbers, strict=True)
        ):
            if not model_id:
                issues.append(
                    (number, last, f"row {number}: no id (give an id, model_id, repo_id or name)")
                )
                continue
            if model_id in seen:
                where, first = seen[model_id]
                of = "" if where == location else f" of {where}"
                issues.append(
                    (number, last, f"row {number}: id {model_id!r} repeats row {first}{of}")
                )
                continue
            seen[model_id] = (location, number)
            keep.append(position)
        return keep

    def _complete(self, rows: _Rows) -> None:
        """Defaults from the id (name, author), the catalog's name, tasks and model type."""
        f = rows.fields
        n = len(rows)
        ids: list[str] = f["id"]
        f["name"] = [
            v or i.rsplit("/", 1)[-1] for v, i in zip(f.get("name") or [None] * n, ids, strict=True)
        ]
        f["author"] = [
            v if v is not None else (i.split("/", 1)[0] if "/" in i else None)
            for v, i in zip(f.get("author") or [None] * n, ids, strict=True)
        ]
        none = [None] * n
        explicit = f.pop("tasks", none)
        caps = f.pop("capabilities", none)
        given_type = f.get("model_type") or none
        tasks_out: list[tuple[SupportedTask, ...]] = []
        types_out: list[ModelType | None] = []
        columns = [f.get(k) or none for k in ("pipeline_tag", "tags", "library", "architectures")]
        for i in range(n):
            extra = rows.extra[i]
            extra["catalog"] = self.catalog_name
            capabilities = caps[i] or ()
            if capabilities:
                extra["capabilities"] = list(capabilities)
            if explicit[i]:  # the catalog's own word wins over detection
                tasks = explicit[i]
                kind = given_type[i] or classify_model_type(tasks, name=ids[i])
            else:
                pipeline, tags, library, archs = (c[i] for c in columns)
                tasks, kind = _detect(
                    pipeline,
                    tags or (),
                    library,
                    archs or (),
                    tuple(capabilities),
                    ids[i],
                    _chat_template(extra) if len(extra) > 1 else None,
                )
                kind = given_type[i] or kind
            tasks_out.append(tasks)
            types_out.append(kind)
        f["tasks"] = tasks_out
        f["model_type"] = types_out

    def _say(
        self, location: str, total: int, kept: int, issues: list[str], unmapped: list[str]
    ) -> None:
        """One CustomCatalogWarning for everything skipped, dropped or not understood."""
        notes = []
        if issues:
            skipped = total - kept
            dropped = len(issues) - skipped
            shown = "; ".join(issues[:25])
            more = f"; and {len(issues) - 25} more" if len(issues) > 25 else ""
            notes.append(
                f"{skipped} of {total} rows skipped, {dropped} field"
                f"{'s' if dropped != 1 else ''} dropped. {shown}{more}. "
                "Fix these rows to include them fully."
            )
        if unmapped:
            shown = ", ".join(unmapped[:20]) + (
                f" and {len(unmapped) - 20} more" if len(unmapped) > 20 else ""
            )
            notes.append(
                f"column{'s' if len(unmapped) != 1 else ''} not understood, kept in each "
                f"model's 'extra': {shown} (rename to one of {', '.join(sorted(FIELD_ALIASES))} "
                "to use)."
            )
        if notes:
            warnings.warn(
                f"Custom catalog {location}: " + " Also: ".join(notes),
                CustomCatalogWarning,
                stacklevel=5,
            )

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
