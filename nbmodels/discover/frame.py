"""The catalog's column schema, the conversion between ModelMetadata and DataFrame rows,
and the SQL the schema implies (search filters, sort orders, the upsert merge).

The schema is defined once, here, as an Arrow schema: the DuckDB table, the Parquet file and
every DataFrame the catalog returns share it. Columns, in order:

| column          | dtype (pandas)        | meaning                                           |
|-----------------|-----------------------|---------------------------------------------------|
| key             | str                   | ``"<source>:<id>"``, unique                        |
| id              | str                   | the model id at its source                         |
| source          | str                   | ``huggingface``, ``ollama``, ``local``, ``custom`` |
| name            | str                   | display name                                      |
| author          | str                   | organisation or user                              |
| description     | str                   |                                                   |
| tasks           | list of str           | :class:`~nbmodels.types.SupportedTask` values      |
| model_type      | str                   | :class:`~nbmodels.types.ModelType` value           |
| pipeline_tag    | str                   | the Hub's pipeline tag                            |
| library         | str                   | transformers, gguf, sentence-transformers...      |
| parameters      | Int64                 | parameter count                                   |
| size_bytes      | Int64                 | total size of the weights                         |
| license         | str                   |                                                   |
| language        | list of str           |                                                   |
| downloads       | Int64                 |                                                   |
| likes           | Int64                 |                                                   |
| trending_score  | Float64               |                                                   |
| created_at      | datetime64[us, UTC]   |                                                   |
| updated_at      | datetime64[us, UTC]   |                                                   |
| tags            | list of str           |                                                   |
| version         | str                   | revision, tag or catalog version                  |
| local_path      | str                   | where the files are on this machine, if anywhere  |
| is_downloaded   | bool                  |                                                   |
| fetched_at      | datetime64[us, UTC]   | when the catalog last heard of this row           |

Also here: :func:`parse_count` (``"7B"``) and :func:`parse_size` (``"500MB"``) for the bounds
people type into filters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import units as _units
from ..errors import ConfigurationError
from ..types import ModelMetadata, ModelSource, ModelType, SupportedTask
from .sources.base import word_pattern
from .tasks import resolve_task

__all__ = [
    "COLUMNS",
    "LIST_COLUMNS",
    "SCHEMA",
    "SORTS",
    "Clause",
    "arrow_to_frame",
    "columns_hint",
    "duckdb_type",
    "empty_frame",
    "from_row",
    "merge_expr",
    "normalize_frame",
    "order_by",
    "parse_count",
    "parse_size",
    "quote_ident",
    "text_clause",
    "to_arrow",
    "to_frame",
    "where_clauses",
]

_TS = pa.timestamp("us", tz="UTC")
_STR_LIST = pa.list_(pa.string())

#: the catalog's columns, in order, as an Arrow schema (DuckDB and Parquet use it as is)
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("name", pa.string()),
        ("author", pa.string()),
        ("description", pa.string()),
        ("tasks", _STR_LIST),
        ("model_type", pa.string()),
        ("pipeline_tag", pa.string()),
        ("library", pa.string()),
        ("parameters", pa.int64()),
        ("size_bytes", pa.int64()),
        ("license", pa.string()),
        ("language", _STR_LIST),
        ("downloads", pa.int64()),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("created_at", _TS),
        ("updated_at", _TS),
        ("tags", _STR_LIST),
        ("version", pa.string()),
        ("local_path", pa.string()),
        ("is_downloaded", pa.bool_()),
        ("fetched_at", _TS),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
LIST_COLUMNS = ("tasks", "language", "tags")
_INT_COLUMNS = ("parameters", "size_bytes", "downloads", "likes")
_TIME_COLUMNS = ("created_at", "updated_at", "fetched_at")
_STR_COLUMNS = tuple(f.name for f in SCHEMA if pa.types.is_string(f.type))


# -- ModelMetadata <-> rows ---------------------------------------------------------------
def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(meta: ModelMetadata, fetched_at: datetime) -> dict[str, Any]:
    return {
        "key": meta.key,
        "id": meta.id,
        "source": meta.source.value,
        "name": meta.name or meta.id,
        "author": meta.author,
        "description": meta.description or None,
        "tasks": [t.value for t in meta.tasks],
        "model_type": meta.model_type.value if meta.model_type else None,
        "pipeline_tag": meta.pipeline_tag,
        "library": meta.library,
        "parameters": meta.parameters,
        "size_bytes": meta.size_bytes,
        "license": meta.license,
        "language": list(meta.language),
        "downloads": meta.downloads,
        "likes": meta.likes,
        "trending_score": meta.trending_score,
        "created_at": _utc(meta.created_at),
        "updated_at": _utc(meta.updated_at),
        "tags": list(meta.tags),
        "version": meta.version,
        "local_path": meta.local_path,
        "is_downloaded": bool(meta.is_downloaded),
        "fetched_at": fetched_at,
    }


def to_arrow(models: Iterable[ModelMetadata], *, fetched_at: datetime | None = None) -> pa.Table:
    """The models as an Arrow table with :data:`SCHEMA`."""
    stamp = _utc(fetched_at) or datetime.now(UTC)
    rows = [_row(m, stamp) for m in models]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def to_frame(
    models: Iterable[ModelMetadata], *, fetched_at: datetime | None = None
) -> pd.DataFrame:
    """The models as a DataFrame with the catalog's columns and dtypes."""
    return arrow_to_frame(to_arrow(models, fetched_at=fetched_at))


def _opt(value: Any) -> Any:
    """None for every flavour of missing (None, NaN, NaT, pd.NA)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _strs(value: Any) -> tuple[str, ...]:
    value = _opt(value) if not isinstance(value, list | tuple | np.ndarray) else value
    return tuple(str(v) for v in value) if value is not None else ()


def from_row(row: Mapping[str, Any] | pd.Series) -> ModelMetadata:
    """The :class:`ModelMetadata` of one catalog row (a dict, or a DataFrame row)."""
    get = row.get

    def text(name: str) -> str | None:
        v = _opt(get(name))
        return None if v is None else str(v)

    def num(name: str) -> int | None:
        v = _opt(get(name))
        return None if v is None else int(v)

    def when(name: str) -> datetime | None:
        v = _opt(get(name))
        if v is None:
            return None
        return _utc(pd.Timestamp(v).to_pydatetime())

    tasks = []
    for t in _strs(get("tasks")):
        try:
            tasks.append(SupportedTask.parse(t))
        except ConfigurationError:  # a value written by a newer nbmodels: keep the rest
            continue
    model_type = text("model_type")
    trending = _opt(get("trending_score"))
    return ModelMetadata(
        id=str(get("id")),
        source=ModelSource.parse(str(get("source"))),
        name=text("name") or "",
        author=text("author"),
        description=text("description") or "",
        license=text("license"),
        version=text("version"),
        language=_strs(get("language")),
        tags=_strs(get("tags")),
        tasks=tuple(tasks),
        model_type=ModelType.parse(model_type) if model_type else None,
        parameters=num("parameters"),
        size_bytes=num("size_bytes"),
        downloads=num("downloads"),
        likes=num("likes"),
        trending_score=None if trending is None else float(trending),
        created_at=when("created_at"),
        updated_at=when("updated_at"),
        pipeline_tag=text("pipeline_tag"),
        library=text("library"),
        local_path=text("local_path"),
        is_downloaded=bool(_opt(get("is_downloaded")) or False),
    )


# -- frames -------------------------------------------------------------------------------
def empty_frame() -> pd.DataFrame:
    """A DataFrame with the catalog's columns and no rows."""
    return arrow_to_frame(SCHEMA.empty_table())


_PANDAS_TYPES = {
    pa.int8(): pd.Int64Dtype(),
    pa.int16(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.Int64Dtype(),
    pa.uint16(): pd.Int64Dtype(),
    pa.uint32(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
}


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """A query result (Arrow) as the DataFrame people expect.

    Numbers become nullable ``Int64``/``Float64``; times ``datetime64[us, UTC]``; list
    cells Python lists (Arrow and DuckDB hand them over as NumPy arrays, which print as
    ``['a' 'b']`` and do not compare with ``==`` as people expect).
    """
    lists: dict[int, pd.Series] = {}
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            lists[i] = pd.Series(table.column(i).to_pylist(), dtype=object, name=field.name)
            table = table.set_column(i, field.name, pa.nulls(table.num_rows, pa.null()))
        elif pa.types.is_timestamp(field.type) and field.type.tz not in (None, "UTC"):
            utc = pa.timestamp(field.type.unit, tz="UTC")
            table = table.set_column(i, field.name, table.column(i).cast(utc))
    df = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    for i, series in lists.items():
        df.isetitem(i, series)
    return df


def normalize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A frame someone built by hand, brought to the catalog's schema (for bulk loading).

    Missing columns are filled (``key`` from ``source`` and ``id``; ``name`` from ``id``);
    extra columns are dropped. Raises ConfigurationError when ``id`` or ``source`` is missing.
    """
    missing = [c for c in ("id", "source") if c not in df.columns]
    if missing:
        raise ConfigurationError(
            f"A catalog frame needs the columns 'id' and 'source'; missing: {', '.join(missing)}."
        )
    out = pd.DataFrame(index=df.index)
    for col in COLUMNS:
        if col in df.columns:
            out[col] = df[col]
        elif col == "key":
            out[col] = df["source"].astype(str) + ":" + df["id"].astype(str)
        elif col == "name":
            out[col] = df["id"]
        elif col in LIST_COLUMNS:
            out[col] = [[] for _ in range(len(df))]
        elif col == "is_downloaded":
            out[col] = False
        elif col == "fetched_at":
            out[col] = pd.Timestamp.now(tz="UTC")
        else:
            out[col] = None
    for col in _TIME_COLUMNS:
        values = pd.to_datetime(out[col], utc=True)
        out[col] = values.dt.as_unit("us") if hasattr(values, "dt") else values
    return out.reset_index(drop=True)


def frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """A frame with the catalog's columns (see :func:`normalize_frame`) as Arrow."""
    try:
        return pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False, safe=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"This frame does not fit the catalog's columns ({exc}). "
            f"Columns and types: {', '.join(f'{f.name}: {f.type}' for f in SCHEMA)}."
        ) from None


# -- bounds people type in ----------------------------------------------------------------
# nbmodels.units parses "7B", "8x7B", "7 billion", "4.2GB", "512 MiB"...; the catalog turns
# its ValueError into a message for the person typing.
def parse_count(value: int | float | str) -> int:
    """A parameter count: ``7_000_000_000``, ``"7B"``, ``"1.5b"``, ``"350M"``, ``"8x7B"``."""
    try:
        return _units.parse_count(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"Cannot read {value!r} as a parameter count ({exc}). Write a number or a "
            "string like '7B', '1.5b', '350M'."
        ) from None


def parse_size(value: int | float | str) -> int:
    """A size in bytes: ``"500MB"``, ``"1.5 GB"``, ``"4GiB"``, ``1024``. GB = 10⁹, GiB = 2³⁰."""
    try:
        return _units.parse_size(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"Cannot read {value!r} as a size ({exc}). Write a number of bytes or a string "
            "like '500MB', '1.5GB', '4GiB'."
        ) from None


#: sort key -> (SQL expression, descending by default)
SORTS: dict[str, tuple[str, bool]] = {
    "downloads": ("downloads", True),
    "likes": ("likes", True),
    "trending": ("trending_score", True),
    "created": ("created_at", True),
    "updated": ("updated_at", True),
    "parameters": ("parameters", True),
    "size": ("size_bytes", True),
    "name": ("lower(name)", False),
}


# -- the SQL the schema implies (used by the catalog) ---------------------------------------------------------------------------
def merge_expr(col: str) -> str:
    if col in ("key", "is_downloaded", "fetched_at"):
        return f"n.{col}"
    if col in LIST_COLUMNS:
        return f"CASE WHEN len(coalesce(n.{col}, [])) = 0 THEN o.{col} ELSE n.{col} END AS {col}"
    if col in ("name", "description"):
        return f"coalesce(nullif(n.{col}, ''), o.{col}) AS {col}"
    return f"coalesce(n.{col}, o.{col}) AS {col}"


def order_by(
    sort: str | None, descending: bool | None, *, query: str | None = None
) -> tuple[str, list[Any]]:
    """ORDER BY text (and its parameters): exact id/name hits of a text ``query`` first
    (a name, id or id tail equal to the query), then ``sort``, then the key."""
    if sort is not None and (not isinstance(sort, str) or sort.strip().lower() not in SORTS):
        raise ConfigurationError(f"Unknown sort {sort!r}. Choose one of: {', '.join(SORTS)}.")
    parts: list[str] = []
    params: list[Any] = []
    exact = exact_clause(query)
    if exact is not None:
        parts.append(f"CASE WHEN {exact.sql} THEN 0 ELSE 1 END")
        params += list(exact.params)
    if sort is not None:
        expr, desc = SORTS[sort.strip().lower()]
        if descending is not None:
            desc = bool(descending)
        parts.append(f"{expr} {'DESC' if desc else 'ASC'} NULLS LAST")
    parts.append("key")
    return ", ".join(parts), params


def exact_clause(query: str | None) -> Clause | None:
    """The rows a text ``query`` names exactly (a name, id or id tail equal to it): ranked
    first. None without a query."""
    exact = " ".join((query or "").lower().split()) if isinstance(query, str) else ""
    if not exact:
        return None
    # ILIKE without wildcards is DuckDB's fast case-insensitive equality (lower() = ? is
    # twice as slow at a million rows); % and _ are escaped so they match themselves
    escaped = "".join("\\" + c if c in "%_\\" else c for c in exact)
    return Clause(
        "(name ILIKE ? ESCAPE '\\' OR id ILIKE ? ESCAPE '\\' OR id ILIKE ? ESCAPE '\\')",
        (escaped, escaped, "%/" + escaped),
    )


@dataclass(frozen=True)
class Clause:
    """One condition of a search: its SQL, its parameters, and the column a range bound
    applies to (``parameters``/``size_bytes``), so rows left out for an unknown value can
    be counted."""

    sql: str
    params: tuple[Any, ...] = ()
    bound: str | None = None
    text: bool = False  # a query word's clause (an exact id/name hit satisfies it)


def text_clause(word: str) -> Clause:
    """Rows matching one query word (lower-case): inside the id or the name (as the Hub
    searches ids), at the start of a word of the description (so "llama" does not match
    "Ollama"), or equal to a whole tag. :func:`nbmodels.discover.sources.base.text_matches` is the
    same test in Python."""
    if any(c in word for c in "%_\\"):
        escaped = "%" + "".join("\\" + c if c in "%_\\" else c for c in word) + "%"
        like = "ILIKE ? ESCAPE '\\'"
    else:  # plain ILIKE is DuckDB's fastest case-insensitive substring test
        escaped, like = f"%{word}%", "ILIKE ?"
    return Clause(
        f"(id {like} OR name {like} OR (description {like} AND "
        "regexp_matches(lower(description), ?)) OR list_contains(tags, ?))",
        (escaped, escaped, escaped, word_pattern(word), word),
        text=True,
    )


def where_clauses(
    *,
    query: str | None,
    task: SupportedTask | str | None,
    author: str | None,
    tag: str | None,
    license: str | None,
    language: str | None,
    model_type: ModelType | str | None,
    min_params: int | str | None,
    max_params: int | str | None,
    min_size: int | str | None,
    max_size: int | str | None,
) -> list[Clause]:
    """The conditions of a search; raises ConfigurationError on bad values."""
    clauses: list[Clause] = []

    def text(name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}.")
        return value.strip().lower()

    if query is not None:
        if not isinstance(query, str):
            raise ConfigurationError(f"query must be a string, got {query!r}.")
        clauses += [text_clause(word) for word in query.lower().split()]
    if task is not None:
        wanted = resolve_task(task)
        if wanted.task is not None:
            clauses.append(Clause("list_contains(tasks, ?)", (wanted.task.value,)))
        elif wanted.pipeline_tag is not None:
            clauses.append(Clause("pipeline_tag = ?", (wanted.pipeline_tag,)))
        else:
            clauses.append(Clause("list_contains(tags, ?)", (wanted.tag,)))
    if author is not None:
        clauses.append(Clause("lower(author) = ?", (text("author", author),)))
    if tag is not None:
        clauses.append(
            Clause("len(list_filter(tags, lambda t: lower(t) = ?)) > 0", (text("tag", tag),))
        )
    if license is not None:
        clauses.append(Clause("lower(license) = ?", (text("license", license),)))
    if language is not None:
        clauses.append(
            Clause(
                "len(list_filter(language, lambda t: lower(t) = ?)) > 0",
                (text("language", language),),
            )
        )
    if model_type is not None:
        clauses.append(Clause("model_type = ?", (ModelType.parse(model_type).value,)))
    for col, bound, op, parse in (
        ("parameters", min_params, ">=", parse_count),
        ("parameters", max_params, "<=", parse_count),
        ("size_bytes", min_size, ">=", parse_size),
        ("size_bytes", max_size, "<=", parse_size),
    ):
        if bound is not None:
            clauses.append(Clause(f"{col} {op} ?", (parse(bound),), bound=col))
    return clauses


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns_hint() -> str:
    cols = ", ".join(f"{f.name} ({duckdb_type(f.type)})" for f in SCHEMA)
    return f"The table is 'models'; its columns: {cols}."


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return "VARCHAR[]"
    return {
        "string": "VARCHAR",
        "int64": "BIGINT",
        "double": "DOUBLE",
        "bool": "BOOLEAN",
    }.get(str(t), "TIMESTAMPTZ")


def conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly the catalog's columns, in order and type (a column a file from
    an older schema lacks comes back empty; one the schema no longer has is dropped)."""
    arrays = []
    for f in SCHEMA:
        if f.name in table.column_names:
            arrays.append(table[f.name].cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
