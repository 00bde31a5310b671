"""A catalog's rows normalised column by column (:class:`_Rows`), and the general path
that normalises a table of any format through pandas (:func:`_normalise`).

A team catalog of 100,000 rows is read column by column. A CSV is parsed by pyarrow
(``custom_arrow._arrow_csv``) and normalised with pyarrow kernels
(``custom_arrow._normalise_arrow``); other formats, and CSVs pyarrow cannot read as pandas
would, go through pandas (:func:`_normalise`, here): the cells are judged missing and
stripped with vectorised string methods, column names are matched once per column (not
once per cell), and each distinct value of a column is parsed once (catalogs repeat tags,
licences, dates and sizes). Tasks and model types are detected over the whole table at once
(nbmodels.discover.tasks.detect_columns: the name rules run with RE2 over the id column, and
rows alike to the rules share one answer), and the catalog gets its rows as one Arrow table
(``CustomSource.table``), so no ModelMetadata is built per row unless someone asks for the
models one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...types import ModelMetadata, ModelSource
from ..tasks import Coded
from .custom_fields import (
    _DECIMAL_COMMA_PARSERS,
    _MISSING_TEXT,
    _PARSERS,
    FIELD_ALIASES,
    _jsonable,
    _key,
    _missing,
    _show,
)

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
