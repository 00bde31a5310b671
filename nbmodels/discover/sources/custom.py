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

The source is this module; the reading is in its neighbours: ``custom_fields`` (the
columns accepted and how a cell is read), ``custom_read`` (a catalog's bytes as rows),
``custom_rows`` (rows normalised column by column, the general path), ``custom_arrow``
(the fast path for CSV, through pyarrow) and ``custom_table`` (tasks detected over every
catalog at once, the catalog table's columns).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import (
    CustomCatalogError,
    CustomCatalogWarning,
    ModelNotFoundError,
    SourceUnavailableError,
)
from ...settings import Settings
from ...types import ModelMetadata, ModelSource
from ..tasks import _after_last_slash
from .base import InMemorySource, did_you_mean, find_by_id
from .custom_arrow import _arrow_csv, _ArrowCSV, _id_codes, _normalise_arrow
from .custom_fields import FIELD_ALIASES
from .custom_read import _CONTENT_TYPES, _EXTENSIONS, _BadRow, _is_url, _read_rows, _sniff
from .custom_rows import _arrow, _normalise, _Rows
from .custom_table import _concat_arrays, _detect, _table_columns

__all__ = ["FIELD_ALIASES", "CustomSource"]


def _parse_rows(data: bytes, fmt: str, location: str) -> list[Any] | pd.DataFrame | _ArrowCSV:
    """The rows of a catalog, or CustomCatalogError when the file cannot be parsed: a CSV
    read by pyarrow (:func:`_arrow_csv`) where it can read it as pandas would, else what the
    general path reads (``custom_read._read_rows``)."""
    if fmt == "csv" and (fast := _arrow_csv(data, location)) is not None:
        return fast
    return _read_rows(data, fmt, location)


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
