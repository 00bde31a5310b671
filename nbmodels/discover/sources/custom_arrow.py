"""The fast path for a CSV catalog: read by pyarrow's reader (:func:`_arrow_csv`) and
normalised column-wise with pyarrow kernels (:func:`_normalise_arrow`).

Every cell is text. Missing cells and stripping are pyarrow kernels; counts and sizes in
the shapes people write most ("7.6B", "4.2 GB", 1234567) are read as integers column-wise,
exactly as parse_count/parse_size would (anything else, and any value those shapes would
have to round, goes through them); other fields are parsed once per distinct value. The
result is the one ``custom_rows._normalise`` gives for the same table (tested).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...units import _SIZE_UNITS
from ..tasks import Coded, name_rule_bits
from .custom_fields import (
    _DECIMAL_COMMA_PARSERS,
    _KNOWN_COLUMNS,
    _MISSING_TEXT,
    _PARSERS,
    FIELD_ALIASES,
    _key,
    _no_header,
    _show,
)
from .custom_rows import Column, _Leftover, _Rows

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
