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
Columns nbmodels does not know go to ``ModelMetadata.extra``. A ``base_model`` column (or
``base_model:`` tags) names the model a row is derived from: its tasks and type are then
inherited as :mod:`nbmodels.discover.tasks` says, from that model's row when the catalogs have one.
Counts and sizes larger than a 64-bit integer are dropped (and said), like any value that
cannot be read.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import (
    ConfigurationError,
    CustomCatalogError,
    CustomCatalogWarning,
    ModelNotFoundError,
    SourceUnavailableError,
)
from ...settings import Settings
from ...types import ModelMetadata, ModelSource, ModelType, SupportedTask
from ...units import _SIZE_UNITS, parse_count, parse_date, parse_size
from ..tasks import Coded, _chat_template, detect_columns, detect_tasks, name_rule_bits
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


# -- normalising a catalog, column by column ------------------------------------------------
# A team catalog of 100,000 rows is read column by column. A CSV is parsed by pyarrow
# (_arrow_csv) and normalised with pyarrow kernels (_normalise_arrow); other formats, and
# CSVs pyarrow cannot read as pandas would, go through pandas (_normalise, below): the
# cells are judged missing and stripped with vectorised string methods, column names are
# matched once per column (not once per cell), and each distinct value of a column is
# parsed once (catalogs repeat tags, licences, dates and sizes). Tasks and model types are
# detected over the whole table at once (nbmodels.discover.tasks.detect_columns: the name rules run
# with RE2 over the id column, and rows alike to the rules share one answer), and the
# catalog gets its rows as one Arrow table (:meth:`CustomSource.table`), so no
# ModelMetadata is built per row unless someone asks for the models one by one.

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


# A field's column is a list (one Python value per row), a pyarrow array (text and counts
# read column-wise) or a Coded column (each distinct value parsed once): see _py/_take/_arrow.
Column: TypeAlias = list[Any] | pa.Array | Coded


def _py(column: Column | None, n: int) -> list[Any]:
    """The column as one Python value per row (None where empty)."""
    if column is None:
        return [None] * n
    if isinstance(column, list):
        return column
    if isinstance(column, Coded):
        values = column.values
        return [None if c < 0 else values[c] for c in column.codes.tolist()]
    return column.to_pylist()


def _take(column: Column, positions: np.ndarray) -> Column:
    if isinstance(column, list):
        return [column[p] for p in positions.tolist()]
    if isinstance(column, Coded):
        return Coded(column.codes[positions], column.values)
    return column.take(pa.array(positions, pa.int64()))


def _coded(column: Column | None, n: int) -> Coded | None:
    """The column coded (for detection, which answers each distinct value once)."""
    if column is None or isinstance(column, Coded):
        return column
    if isinstance(column, list):
        return Coded.of(column)
    encoded = pc.dictionary_encode(column)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return Coded(codes.astype(np.int64), encoded.dictionary.to_pylist())


def _arrow(
    column: Column | None,
    n: int,
    kind: pa.DataType,
    convert: Callable[[Any], Any] | None = None,
    empty: Any = None,
) -> pa.Array:
    """The column as a pyarrow array of ``kind``: ``convert`` applied to each Python value,
    ``empty`` where there is none."""

    def one(v: Any) -> Any:
        return empty if v is None else (v if convert is None else convert(v))

    if column is None:
        return pa.nulls(n, kind) if empty is None else pa.array([empty] * n, kind)
    if isinstance(column, pa.Array) and convert is None and empty is None:
        return column if column.type == kind else column.cast(kind)
    if isinstance(column, Coded):
        uniques = pa.array([*map(one, column.values), empty], kind)
        codes = np.where(column.codes < 0, len(column.values), column.codes)
        if empty is None:
            return uniques.take(pa.array(codes, pa.int64(), mask=column.codes < 0))
        return uniques.take(pa.array(codes, pa.int64()))
    return pa.array([one(v) for v in _py(column, n)], kind)


@dataclasses.dataclass
class _Leftover:
    """The cells no field took (per row: column name -> value), built only when asked."""

    columns: list[tuple[str, np.ndarray, pa.Array]]  # name, unused mask, cells

    def rows(self, n: int) -> list[dict[str, Any]]:
        """The leftover cells of each of the ``n`` rows (each column converted once)."""
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, unused, cells in self.columns:
            values = cells.to_pylist()
            for i in np.flatnonzero(unused).tolist():
                out[i].setdefault(name, _jsonable(values[i]))
        return out

    def take(self, positions: np.ndarray) -> _Leftover:
        index = pa.array(positions, pa.int64())
        return _Leftover([(c, m[positions], v.take(index)) for c, m, v in self.columns])


@dataclasses.dataclass
class _Rows:
    """One catalog's rows, normalised: a column per ModelMetadata field."""

    numbers: np.ndarray  # the row numbers in the file (from 1)
    fields: dict[str, Column]
    extra: list[dict[str, Any]] | _Leftover  # what no field took, per row
    unmapped: list[str]
    catalog: str = ""
    # name_rule_bits of the ids, being computed on another thread, and the rows kept since
    name_bits: tuple[Future[tuple[Any, Any]], np.ndarray | None] | None = None
    id_codes: Future[np.ndarray] | None = None  # _id_codes of the ids as normalised
    _python: dict[str, list[Any]] = dataclasses.field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.numbers)

    def select(self, positions: list[int] | np.ndarray) -> _Rows:
        if len(positions) == len(self.numbers):
            return self
        at = np.asarray(positions, dtype=np.int64)
        extra = (
            self.extra.take(at)
            if isinstance(self.extra, _Leftover)
            else [self.extra[p] for p in at.tolist()]
        )
        fields = {k: _take(v, at) for k, v in self.fields.items()}
        bits = None
        if self.name_bits is not None:
            future, kept = self.name_bits
            bits = (future, at if kept is None else kept[at])
        return _Rows(self.numbers[at], fields, extra, self.unmapped, self.catalog, bits)

    def rule_bits(self) -> tuple[Any, Any] | None:
        """The ids' name_rule_bits, if they were computed while the rows were read."""
        if self.name_bits is None:
            return None
        future, kept = self.name_bits
        word, ascii_names = future.result()
        return (word, ascii_names) if kept is None else (word[kept], ascii_names[kept])

    def column(self, name: str) -> list[Any]:
        """A field as Python values (converted once)."""
        if name not in self._python:
            self._python[name] = _py(self.fields.get(name), len(self))
        return self._python[name]

    def metadata(self) -> list[ModelMetadata]:
        """One ModelMetadata per row (each column converted to Python values once)."""
        n = len(self)
        names = [k for k in self.fields if k not in _NOT_METADATA]
        columns = [self.column(k) for k in names]
        none = [None] * n
        capabilities = self.column("capabilities") if "capabilities" in self.fields else none
        bases = self.column("base_models") if "base_models" in self.fields else none
        leftover = self.extra.rows(n) if isinstance(self.extra, _Leftover) else self.extra
        out = []
        for i in range(n):
            extra = dict(leftover[i])
            extra["catalog"] = self.catalog
            if caps := capabilities[i]:
                extra["capabilities"] = list(caps)
            if parents := bases[i]:
                extra["base_models"] = list(parents)
            # a None leaves ModelMetadata's default ("" for name and description, () lists)
            values = {k: c[i] for k, c in zip(names, columns, strict=True) if c[i] is not None}
            out.append(ModelMetadata(source=ModelSource.CUSTOM, extra=extra, **values))
        return out


#: fields read from a catalog that are not ModelMetadata fields (they go to ``extra``)
_NOT_METADATA = frozenset({"capabilities", "base_models"})


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
    fields: dict[str, Column] = {}
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
    unmapped = sorted({name for name, _, _ in leftover})
    return _Rows(np.asarray(numbers, dtype=np.int64), fields, extra, unmapped)


# -- the same, column-wise, for a CSV read by pyarrow ---------------------------------------
# Every cell is text. Missing cells and stripping are pyarrow kernels; counts and sizes in
# the shapes people write most ("7.6B", "4.2 GB", 1234567) are read as integers column-wise,
# exactly as parse_count/parse_size would (anything else, and any value those shapes would
# have to round, goes through them); other fields are parsed once per distinct value. The
# result is the one _normalise gives for the same table (tested).

#: what Python's str.strip() strips
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NOT_ONE_LINE = "is not one line of text (empty, or with tabs/line breaks)"
_TEXT_FIELDS = frozenset({"name", "description", "version", "license"})
_LINE_FIELDS = frozenset({"id", "author", "download_url", "local_path"})
_COUNT_FIELDS = frozenset({"parameters", "downloads", "likes"})
_COUNT_SHAPE = r"^(?P<i>[0-9]{1,18})(?:\.(?P<f>[0-9]{1,12}))?(?P<u>[kKmMbBtT]?)$"
_COUNT_POWER = {"": 0, "k": 3, "m": 6, "b": 9, "t": 12}
_SIZE_SHAPE = (
    r"^(?P<i>[0-9]{1,15})(?:\.(?P<f>[0-9]{1,3}))? ?"
    r"(?P<u>(?:[bB](?:[yY][tT][eE][sS]?)?)|[kKmMgGtTpP](?:[bB]|[iI][bB])?)?$"
)


def _arrow_missing(column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """``(missing, values)`` of a text column: cells stripped, missing ones null."""
    stripped = pc.utf8_trim(column, _WHITESPACE)
    # the missing words are short: look at the cells of at most 4 bytes only
    short = pc.less_equal(pc.binary_length(stripped), 4).to_numpy(zero_copy_only=False)
    if short.all():
        missing = pc.is_in(stripped, value_set=_MISSING_ARROW).to_numpy(zero_copy_only=False)
    else:
        missing = np.zeros(len(column), dtype=bool)
        at = np.flatnonzero(short)
        if at.size:
            cells = stripped.take(pa.array(at))
            missing[at] = pc.is_in(cells, value_set=_MISSING_ARROW).to_numpy(zero_copy_only=False)
    if missing.any():
        stripped = _with_nulls(stripped, missing)
    return missing, stripped


def _with_nulls(values: pa.Array, null: np.ndarray) -> pa.Array:
    """``values`` with nulls where ``null`` is true (a new validity bitmap, no copy)."""
    if values.null_count or values.offset or not pa.types.is_string(values.type):
        return pc.if_else(pa.array(null), pa.scalar(None, values.type), values)
    validity = pa.array(~null).buffers()[1]
    _, offsets, data = values.buffers()
    return pa.StringArray.from_buffers(len(values), offsets, data, validity)


# every spelling of the missing words ("NULL", "N/A", "NaN"...): no lower-casing needed
_MISSING_ARROW = pa.array(
    sorted(
        {
            "".join(spelling)
            for word in _MISSING_TEXT
            for spelling in itertools.product(*({c.lower(), c.upper()} for c in word))
        }
    ),
    pa.string(),
)
_Failures = list[tuple[int, object, str]]


def _per_value(values: pa.Array, parse: Callable[[object], Any]) -> tuple[Coded, _Failures]:
    """``parse`` applied once per distinct value: a Coded column and the failures."""
    encoded = pc.dictionary_encode(values)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    uniques = encoded.dictionary.to_pylist()
    parsed: list[Any] = []
    bad: dict[int, str] = {}
    for code, value in enumerate(uniques):
        try:
            parsed.append(parse(value))
        except ValueError as exc:
            parsed.append(None)
            bad[code] = str(exc)
    failures: _Failures = []
    if bad:
        rows = np.flatnonzero(np.isin(codes, np.fromiter(bad, dtype=np.int64)))
        failures = [(r, uniques[codes[r]], bad[int(codes[r])]) for r in rows.tolist()]
        codes[rows] = -1
    return Coded(codes, parsed), failures


def _one_line_column(values: pa.Array) -> tuple[pa.Array, _Failures]:
    # only cells with a character that is not printable ASCII can hold a tab or line break
    odd = ~pc.fill_null(pc.ascii_is_printable(values), True).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(odd)
    if rows.size:
        breaks = pc.match_substring_regex(values.take(pa.array(rows)), "[\r\n\t\x00]")
        rows = rows[breaks.to_numpy(zero_copy_only=False)]
    if not rows.size:
        return values, []
    failures = [(r, values[r].as_py(), _NOT_ONE_LINE) for r in rows.tolist()]
    bad = np.zeros(len(values), dtype=bool)
    bad[rows] = True
    return _with_nulls(values, bad | ~values.is_valid().to_numpy(zero_copy_only=False)), failures


def _whole_numbers(
    values: pa.Array, shape: str, unit: Callable[[str], int], parse: Callable[[object], Any]
) -> tuple[Column, _Failures]:
    """Counts or sizes as int64. Plain integers column-wise; every other distinct value
    once: the common shapes column-wise (exact integers only), the rest through ``parse``."""
    n = len(values)
    out = np.zeros(n, dtype=np.int64)
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    # plain integers (up to 18 digits: inside int64) as they are
    digits_only = pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 18))
    done = pc.fill_null(digits_only, False).to_numpy(zero_copy_only=False)
    plain = np.flatnonzero(done)
    if plain.size:
        out[plain] = pc.cast(values.take(pa.array(plain)), pa.int64()).to_numpy(
            zero_copy_only=False
        )
    rest = np.flatnonzero(~done & valid)
    failures: _Failures = []
    if rest.size:
        encoded = pc.dictionary_encode(values.take(pa.array(rest)))
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary
        number, ok = _shaped(uniques, shape, unit)
        reasons: dict[int, str] = {}
        texts = uniques.to_pylist()
        for k in np.flatnonzero(~ok).tolist():
            try:
                number[k] = parse(texts[k])
                ok[k] = True
            except ValueError as exc:
                reasons[k] = str(exc)
        out[rest] = number[codes]
        done[rest] = ok[codes]
        for r in np.flatnonzero(~ok[codes]).tolist():
            failures.append((int(rest[r]), texts[codes[r]], reasons[int(codes[r])]))
    return pa.array(out, pa.int64(), mask=~done), failures


def _shaped(texts: pa.Array, shape: str, unit: Callable[[str], int]) -> tuple[Any, Any]:
    """``(numbers, ok)``: ``texts`` in the common shape (``_COUNT_SHAPE``/``_SIZE_SHAPE``)
    read as integers where that is exact and fits int64 (parse_count/parse_size give the
    same); ok is false where the parser must decide (it rounds half to even)."""
    number = np.zeros(len(texts), dtype=np.int64)
    ok = np.zeros(len(texts), dtype=bool)
    found = pc.extract_regex(texts, shape)
    matched = np.flatnonzero(found.is_valid().to_numpy(zero_copy_only=False))
    if not matched.size:
        return number, ok
    parts = found.filter(found.is_valid())
    whole = pc.struct_field(parts, "i")
    units = pc.dictionary_encode(pc.utf8_lower(pc.struct_field(parts, "u")))
    factors = [unit(u) for u in units.dictionary.to_pylist()]
    unit_codes = units.indices.to_numpy(zero_copy_only=False)
    mult = np.array(factors, dtype=np.int64)[unit_codes]
    power = np.array([len(str(f)) - 1 for f in factors], dtype=np.int64)[unit_codes]
    digits = pc.utf8_length(whole).to_numpy(zero_copy_only=False)
    width = 12 if shape is _COUNT_SHAPE else 3
    fraction = pc.cast(pc.utf8_rpad(pc.struct_field(parts, "f"), width, "0"), pa.int64())
    fraction = fraction.to_numpy(zero_copy_only=False)
    integer = pc.cast(whole, pa.int64()).to_numpy(zero_copy_only=False)
    fits = (digits + power <= 18) & (integer.astype(np.float64) * mult < 9.0e18)
    scale = 10**width
    if shape is _COUNT_SHAPE:  # mult is a power of ten
        divisor = scale // mult
        exact = fraction % divisor == 0
        value = integer * mult + fraction // divisor
    else:
        with np.errstate(over="ignore"):
            product = fraction * mult
        exact = product % scale == 0
        value = integer * mult + product // scale
    good = fits & exact
    number[matched[good]] = value[good]
    ok[matched[good]] = True
    return number, ok


def _count_unit(unit: str) -> int:
    return 10 ** _COUNT_POWER[unit]


def _size_unit(unit: str) -> int:
    return 1 if unit in ("", "b", "byte", "bytes") else _SIZE_UNITS[unit]


def _parse_arrow_field(
    field: str, values: pa.Array, decimal_comma: bool
) -> tuple[Column, _Failures]:
    parse = (_DECIMAL_COMMA_PARSERS.get(field) if decimal_comma else None) or _PARSERS[field]
    if field in _TEXT_FIELDS:
        return values, []
    if field in _LINE_FIELDS:
        return _one_line_column(values)
    if field in _COUNT_FIELDS:
        return _whole_numbers(values, _COUNT_SHAPE, _count_unit, parse)
    if field == "size_bytes":
        return _whole_numbers(values, _SIZE_SHAPE, _size_unit, parse)
    return _per_value(values, parse)


def _normalise_arrow(
    table: pa.Table,
    issues: list[tuple[int, int, str]],
    *,
    decimal_comma: bool,
    pool: Executor | None = None,
) -> _Rows:
    """:func:`_normalise` for a table of text cells (a CSV read by pyarrow), column-wise.
    With ``pool``, the name rules run over the ids on it while the other columns are read
    (pyarrow's regular expressions let go of the GIL)."""
    n = table.num_rows
    numbers = np.arange(1, n + 1, dtype=np.int64)
    bits: tuple[Future[tuple[Any, Any]], None] | None = None
    id_codes: Future[np.ndarray] | None = None
    present: dict[str, list[tuple[str, np.ndarray, pa.Array]]] = {}
    won = {name: np.zeros(n, dtype=bool) for name in table.column_names}
    fields: dict[str, Column] = {}

    def judge(names: list[str]) -> None:
        for name in names:
            missing, values = _arrow_missing(table.column(name).combine_chunks())
            present.setdefault(_key(name), []).append((name, missing, values))

    def read(order: int, fld: str, aliases: tuple[str, ...]) -> None:
        candidates = [
            c for key in dict.fromkeys(_key(a) for a in aliases) for c in present.get(key, ())
        ]
        if not candidates:
            return
        taken = np.zeros(n, dtype=bool)
        source = np.full(n, -1, dtype=np.int64)
        for k, (name, missing, _) in enumerate(candidates):
            here = ~missing & ~taken
            won[name] |= here
            source[here] = k
            taken |= here
        chosen = (
            candidates[0][2]
            if len(candidates) == 1
            else pc.coalesce(*(values for _, _, values in candidates))
        )
        fields[fld], failures = _parse_arrow_field(fld, chosen, decimal_comma)
        for position, raw, reason in failures:
            number = int(numbers[position])
            where = candidates[int(source[position])][0]
            issues.append((number, order, f"row {number}: {where} {_show(raw)} {reason}"))

    # the ids first, so that the name rules run over them (on ``pool``) meanwhile
    id_keys = {_key(a) for a in FIELD_ALIASES["id"]}
    judge([c for c in table.column_names if _key(c) in id_keys])
    read(0, "id", FIELD_ALIASES["id"])
    if pool is not None and "id" in fields:
        bits = (pool.submit(name_rule_bits, pc.fill_null(fields["id"], "")), None)
        id_codes = pool.submit(_id_codes, fields["id"])
    judge([c for c in table.column_names if _key(c) not in id_keys])
    for order, (fld, aliases) in enumerate(FIELD_ALIASES.items()):
        if fld != "id":
            read(order, fld, aliases)
    leftover = [
        (name, unused, values)
        for entries in present.values()
        for name, missing, values in entries
        if (unused := ~missing & ~won[name]).any()
    ]
    unmapped = sorted({name for name, _, _ in leftover})
    return _Rows(numbers, fields, _Leftover(leftover), unmapped, name_bits=bits, id_codes=id_codes)


def _id_codes(ids: pa.Array) -> np.ndarray:
    """A code per id (-1 where there is none), equal codes for equal ids."""
    return pc.fill_null(pc.dictionary_encode(ids).indices, -1).to_numpy(zero_copy_only=False)


@dataclasses.dataclass(frozen=True)
class _ArrowCSV:
    """A CSV read by pyarrow: every cell as text, rows of empty cells left out."""

    table: pa.Table
    decimal_comma: bool


def _quote_left_open(body: bytes, table: pa.Table) -> bool:
    """Whether a quote is not closed. pyarrow then reads to the end of the file as that
    cell (pandas refuses the file): so the last cell runs on to the file's last line
    break, and only then are the quotes counted (a count costs a pass over the file)."""
    if table.num_rows and table.num_columns and body.endswith(b"\n"):
        last = table.column(table.num_columns - 1)[table.num_rows - 1].as_py() or ""
        if not last.endswith(("\n", "\r")):
            return False
    return body.count(b'"') % 2 == 1


def _arrow_csv(data: bytes, location: str) -> _ArrowCSV | None:
    """The CSV read by pyarrow's reader (multi-threaded, no Python object per cell), or None
    where it cannot read it as pandas would (a row with too many or too few cells, odd
    quoting, bytes that are not UTF-8, an unusual header): the general path then reads it
    and says what is wrong."""
    import pyarrow.csv as pacsv

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    end = body.find(b"\n")
    first = body[: end if end >= 0 else len(body)].rstrip(b"\r")
    try:
        header = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not header.strip() or '"' in header:
        return None
    delimiter = max(",;\t|", key=header.count)
    raw_names = header.split(delimiter)
    columns = [c.strip() for c in raw_names]
    if len(set(raw_names)) != len(raw_names) or len(set(columns)) != len(columns) or "" in columns:
        return None
    if not any(_key(c) in _KNOWN_COLUMNS for c in columns):
        _no_header(location, header)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in raw_names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=True,
    )
    table = None
    # A quoted line break in a cell splits pyarrow's blocks wrongly unless it is told to look
    # for them (slower); it then stops with an error rather than guess, so try without first.
    for newlines in (False, True):
        options = pacsv.ParseOptions(
            delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
            newlines_in_values=newlines, ignore_empty_lines=True,
        )  # fmt: skip
        try:
            table = pacsv.read_csv(
                pa.BufferReader(body), parse_options=options, convert_options=convert
            )
            break
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError):
            continue
    if table is None:
        return None
    if table.column_names != raw_names or _quote_left_open(body, table):
        return None
    table = table.rename_columns(columns)
    if table.num_rows:
        # rows of empty cells are not rows (and are not counted); rare, so the first column
        # decides which rows to look at closely
        blank = pc.equal(pc.binary_length(pc.utf8_trim(table.column(0), _WHITESPACE)), 0)
        candidates = np.flatnonzero(blank.to_numpy(zero_copy_only=False))
        if candidates.size:
            sub = table.take(pa.array(candidates))
            empty = np.ones(candidates.size, dtype=bool)
            for column in sub.columns:
                trimmed = pc.utf8_trim(column, _WHITESPACE)
                empty &= pc.equal(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
            if empty.any():
                keep = np.ones(table.num_rows, dtype=bool)
                keep[candidates[empty]] = False
                table = table.filter(pa.array(keep))
    return _ArrowCSV(table, delimiter == ";")


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


def _parse_rows(data: bytes, fmt: str, location: str) -> list[Any] | pd.DataFrame | _ArrowCSV:
    """The rows of a catalog, or CustomCatalogError when the file cannot be parsed."""
    if fmt == "parquet":
        return _parquet_rows(data, location)
    if fmt == "csv" and (fast := _arrow_csv(data, location)) is not None:
        return fast
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


def _concat(columns: list[Coded | None], lengths: list[int]) -> Coded | None:
    """Coded columns of several catalogs as one (None where no catalog has the column)."""
    if all(c is None for c in columns):
        return None
    codes: list[np.ndarray] = []
    values: list[Any] = []
    for column, n in zip(columns, lengths, strict=True):
        if column is None:
            codes.append(np.full(n, -1, dtype=np.int64))
            continue
        shift = np.where(column.codes >= 0, column.codes + len(values), -1)
        codes.append(shift.astype(np.int64))
        values.extend(column.values)
    return Coded(np.concatenate(codes) if codes else np.zeros(0, np.int64), values)


def _detect(parts: list[_Rows]) -> None:
    """Tasks and model type of every row of every catalog, column-wise
    (:func:`nbmodels.discover.tasks.detect_columns`): base models are looked up among all of them;
    a row's own ``tasks`` replace detection, its own ``model_type`` wins."""
    lengths = [len(r) for r in parts]
    total = sum(lengths)
    if not total:
        return

    def column(name: str) -> Coded | None:
        return _concat([_coded(r.fields.get(name), len(r)) for r in parts], lengths)

    templates: list[bool | None] | None = None
    if any(not isinstance(r.extra, _Leftover) for r in parts):
        # a GGUF's flag or Ollama media types a JSON/YAML catalog carries (CSV cells are text)
        templates = []
        for r in parts:
            if isinstance(r.extra, _Leftover):
                templates.extend([None] * len(r))
            else:
                templates.extend(_chat_template(e) if e else None for e in r.extra)
        if all(t is None for t in templates):
            templates = None
    ids = pa.concat_arrays([_arrow(r.fields["id"], len(r), pa.string()) for r in parts])
    bits = [r.rule_bits() for r in parts]
    name_bits = None
    if all(b is not None for b in bits):
        name_bits = tuple(np.concatenate([b[k] for b in bits if b is not None]) for k in (0, 1))
    codes, answers = detect_columns(
        ids,
        pipeline_tags=column("pipeline_tag"),
        tags=column("tags"),
        libraries=column("library"),
        architectures=column("architectures"),
        capabilities=column("capabilities"),
        chat_templates=templates,
        base_models=column("base_models"),
        tasks=column("tasks"),
        model_types=column("model_type"),
        name_bits=name_bits,
    )
    tasks = [a[0] for a in answers]
    kinds = [a[1] for a in answers]
    start = 0
    for r, n in zip(parts, lengths, strict=True):
        part = codes[start : start + n]
        r.fields["tasks"] = Coded(part, tasks)
        r.fields["model_type"] = Coded(part, kinds)
        r._python.pop("tasks", None)
        r._python.pop("model_type", None)
        start += n


def _concat_arrays(
    parts: list[_Rows],
    name: str,
    kind: pa.DataType,
    convert: Callable[[Any], Any] | None = None,
    empty: Any = None,
) -> pa.Array:
    """A field of every catalog as one pyarrow array (see :func:`_arrow`)."""
    arrays = [_arrow(r.fields.get(name), len(r), kind, convert, empty) for r in parts]
    if len(arrays) == 1:
        return arrays[0]
    return pa.concat_arrays(arrays) if arrays else pa.nulls(0, kind)


def _table_columns(parts: list[_Rows]) -> dict[str, pa.Array]:
    """The catalog table's columns that do not depend on task detection (pyarrow's
    kernels: built on another thread while the tasks are detected)."""
    from .. import frame as _frame

    schema = _frame.SCHEMA
    n = sum(len(r) for r in parts)

    def column(name: str, convert: Callable[[Any], Any] | None = None) -> pa.Array:
        return _concat_arrays(parts, name, schema.field(name).type, convert)

    def lists(name: str) -> pa.Array:  # no value: an empty list
        return _concat_arrays(parts, name, schema.field(name).type, list, [])

    ids = column("id")
    description = column("description")
    description = pc.if_else(
        pc.equal(pc.binary_length(description), 0), pa.scalar(None, pa.string()), description
    )
    return {
        "key": pc.binary_join_element_wise(ModelSource.CUSTOM.value, ids, ":"),
        "id": ids,
        "source": pa.repeat(pa.scalar(ModelSource.CUSTOM.value), n),
        "name": column("name"),
        "author": column("author"),
        "description": description,
        "pipeline_tag": column("pipeline_tag"),
        "library": column("library"),
        "parameters": column("parameters"),
        "size_bytes": column("size_bytes"),
        "license": column("license"),
        "language": lists("language"),
        "downloads": column("downloads"),
        "likes": column("likes"),
        "trending_score": column("trending_score"),
        "created_at": column("created_at", _frame._utc),
        "updated_at": column("updated_at", _frame._utc),
        "tags": lists("tags"),
        "version": column("version"),
        "local_path": column("local_path"),
        "is_downloaded": pa.repeat(pa.scalar(False), n),
    }


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
        self._columns: dict[str, pa.Array] | None = None  # the table's, but tasks and types
        self._models: list[ModelMetadata] | None = None

    def __repr__(self) -> str:
        return f"<CustomSource {self.catalog_name!r} {list(self.locations)!r}>"

    # -- reading ----------------------------------------------------------------------------
    def _read(self) -> list[_Rows]:
        """Every catalog's rows, normalised and typed (read once, then kept)."""
        if self._rows is None:
            from concurrent.futures import ThreadPoolExecutor

            seen: list[tuple[str, pa.Array, np.ndarray]] = []
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbmodels") as pool:
                parts = [self._read_catalog(loc, seen, pool) for loc in self.locations]
                columns = pool.submit(_table_columns, parts)  # while the tasks are detected
                _detect(parts)
                self._columns = columns.result()
            self._rows = parts
        return self._rows

    def models(self) -> list[ModelMetadata]:
        """Every model of every catalog, in catalog order (read once, then kept)."""
        if self._models is None:
            self._models = [m for r in self._read() for m in r.metadata()]
        return list(self._models)

    def table(self, *, fetched_at: datetime | None = None) -> pa.Table:
        """Every model as one Arrow table with the catalog's columns (``frame.SCHEMA``),
        built column by column: how the catalog takes a large team catalog in."""
        from .. import frame as _frame

        stamp = _frame._utc(fetched_at) or datetime.now(UTC)
        parts = self._read()
        if self._columns is None:
            self._columns = _table_columns(parts)
        n = sum(len(r) for r in parts)
        schema = _frame.SCHEMA
        data = dict(self._columns)
        data["tasks"] = _concat_arrays(
            parts, "tasks", schema.field("tasks").type, lambda ts: [t.value for t in ts], []
        )
        data["model_type"] = _concat_arrays(
            parts, "model_type", schema.field("model_type").type, lambda t: t.value
        )
        data["fetched_at"] = pa.repeat(pa.scalar(stamp, schema.field("fetched_at").type), n)
        return pa.table([data[name] for name in schema.names], schema=schema)

    def reload(self) -> list[ModelMetadata]:
        """Read the catalogs again (after they changed)."""
        self._rows = None
        self._columns = None
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

    def _read_catalog(
        self,
        location: str,
        seen: list[tuple[str, pa.Array, np.ndarray]],
        pool: Executor | None = None,
    ) -> _Rows:
        data, fmt = self._load_bytes(location)
        parsed = _parse_rows(data, fmt, location)
        issues: list[tuple[int, int, str]] = []  # (row, order, text): said in row order
        if isinstance(parsed, _ArrowCSV):
            total = parsed.table.num_rows
            rows = _normalise_arrow(
                parsed.table, issues, decimal_comma=parsed.decimal_comma, pool=pool
            )
        else:
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
        rows = rows.select(self._keep(rows, location, seen, issues))
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
        seen: list[tuple[str, pa.Array, np.ndarray]],
        issues: list[tuple[int, int, str]],
    ) -> np.ndarray:
        """Positions of the rows to keep: with an id, and the first row of each id (in this
        catalog and in the ones read before it, ``seen``: their kept ids and row numbers)."""
        n = len(rows)
        last = len(FIELD_ALIASES)
        numbers = rows.numbers
        ids = _arrow(rows.fields.get("id"), n, pa.string())
        has_id = pc.fill_null(pc.greater(pc.binary_length(ids), 0), False)
        has_id = has_id.to_numpy(zero_copy_only=False)
        for p in np.flatnonzero(~has_id).tolist():
            number = int(numbers[p])
            issues.append(
                (number, last, f"row {number}: no id (give an id, model_id, repo_id or name)")
            )
        repeats = np.zeros(n, dtype=bool)
        for where, earlier, their_numbers in seen:
            found = pc.index_in(ids, value_set=earlier)
            hits = np.flatnonzero(found.is_valid().to_numpy(zero_copy_only=False) & ~repeats)
            of = "" if where == location else f" of {where}"
            for p, j in zip(hits.tolist(), found.take(pa.array(hits)).to_pylist(), strict=True):
                number = int(numbers[p])
                text = f"row {number}: id {ids[p].as_py()!r} repeats row {their_numbers[j]}{of}"
                issues.append((number, last, text))
            repeats[hits] = True
        codes = rows.id_codes.result() if rows.id_codes is not None else _id_codes(ids)
        firsts = np.full(int(codes.max(initial=-1)) + 2, -1, dtype=np.int64)
        order = np.arange(n, dtype=np.int64)
        # the first row of each id (a later row never overwrites: assign in reverse)
        firsts[codes[::-1] + 1] = order[::-1]
        first = firsts[codes + 1]
        again = has_id & ~repeats & (first != order)
        for p in np.flatnonzero(again).tolist():
            number = int(numbers[p])
            text = f"row {number}: id {ids[p].as_py()!r} repeats row {int(numbers[first[p]])}"
            issues.append((number, last, text))
        keep = np.flatnonzero(has_id & ~repeats & ~again)
        seen.append((location, ids.take(pa.array(keep)), numbers[keep]))
        return keep

    def _complete(self, rows: _Rows) -> None:
        """Defaults from the id (name, author) and the catalog's name; tasks and model type
        come later, over every catalog at once (:func:`_detect`)."""
        from ..tasks import _after_last_slash

        f = rows.fields
        n = len(rows)
        ids = _arrow(f["id"], n, pa.string())
        f["id"] = ids
        name = _arrow(f.get("name"), n, pa.string())
        given = pc.fill_null(pc.greater(pc.binary_length(name), 0), False)
        if not pc.all(given).as_py():
            name = pc.if_else(given, name, _after_last_slash(ids))
        f["name"] = name
        author = _arrow(f.get("author"), n, pa.string())
        if author.null_count:
            has_slash = pc.match_substring(ids, "/")
            prefix = pc.list_element(pc.split_pattern(ids, "/", max_splits=1), 0)
            default = pc.if_else(has_slash, prefix, pa.scalar(None, pa.string()))
            author = pc.coalesce(author, default)
        f["author"] = author
        rows.catalog = self.catalog_name
        rows._python.clear()

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
