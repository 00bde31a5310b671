"""Reading a catalog's bytes as rows: the format from the name, the content type or the
bytes themselves, then JSON, JSON lines, YAML, CSV (the general path, through pandas or
the csv module) or Parquet. A CSV is first tried by the fast path
(``custom_arrow._arrow_csv``, chosen by ``custom._parse_rows``)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from ...errors import CustomCatalogError
from .custom_fields import _KNOWN_COLUMNS, _key, _no_header

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


def _read_rows(data: bytes, fmt: str, location: str) -> list[Any] | pd.DataFrame:
    """The rows of a catalog read by the general path (a CSV: pandas, or the csv module),
    or CustomCatalogError when the file cannot be parsed."""
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
