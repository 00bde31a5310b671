"""Reading counts and sizes the way people write them: ``"7B"``, ``"8x7B"``, ``"4.2GB"``.

Shared by the custom catalogs (values typed by hand), the catalog's filters
(``search(min_params="1B", max_size="4GB")``) and the local source. The parsers raise a
plain ``ValueError`` naming what was expected; callers turn it into their own error.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

__all__ = ["format_size", "parse_count", "parse_date", "parse_size"]

_COUNT_WORDS = {"": 1, "k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "million": 10**6}
_COUNT_WORDS |= {"b": 10**9, "bn": 10**9, "billion": 10**9, "t": 10**12, "trillion": 10**12}
_COUNT_RE = re.compile(
    r"(?:(?P<experts>\d+)\s*[x×]\s*)?"  # "8x7B" (mixture of experts: 8 x 7B, nominal)
    r"(?P<num>\d+(?:\.\d*)?|\.\d+)(?:e(?P<exp>[+-]?\d+))?"
    r"\s*(?P<unit>[a-z]*)"
)
_SIZE_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1}
for _power, _prefix in enumerate("kmgtp", 1):
    # "GB" and a bare "G" are decimal, as Ollama, the Hub and disk vendors print them
    _SIZE_UNITS[_prefix] = _SIZE_UNITS[_prefix + "b"] = 1000**_power
    _SIZE_UNITS[_prefix + "ib"] = 1024**_power
_SIZE_RE = re.compile(r"(?P<num>\d+(?:\.\d*)?|\.\d+)(?:e(?P<exp>[+-]?\d+))?\s*(?P<unit>[a-z]*)")


def _decimal(num: str, exp: str | None) -> Decimal:
    value = Decimal(num)
    return value.scaleb(int(exp)) if exp else value


def _number(value: object, what: str) -> Decimal | None:
    """A plain number as a Decimal, or None if ``value`` is text to parse."""
    if isinstance(value, bool):
        raise ValueError(f"is not {what}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"is not {what}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise ValueError(f"is not {what}")
    return None


_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_NUMBER_AT_START = re.compile(r"[\d.,]+")


def _commas(text: str, what: str, decimal_comma: bool) -> str:
    """``text`` with its commas read: as the decimal mark where ``decimal_comma`` (a file
    separated by ``;``), else as thousands separators, where they group digits by three.
    Any other comma is ambiguous ("1,5B": 1.5B or 15B?) and refused, never guessed."""
    if "," not in text:
        return text
    if decimal_comma:
        match = _NUMBER_AT_START.match(text)
        number = match.group() if match else ""
        if number.count(",") == 1:  # "4,2" and "1.234,5" (dots group thousands there)
            return number.replace(".", "").replace(",", ".") + text[len(number) :]
        raise ValueError(f"is not {what} (more than one decimal comma)")
    match = _NUMBER_AT_START.match(text)
    if match and _THOUSANDS.fullmatch(match.group()):
        return text.replace(",", "")
    example = "1.5B or 1500M" if what == "a number" else "4.2GB or 4200MB"
    raise ValueError(
        f"is not {what}: the comma is ambiguous (a decimal mark or a thousands separator?); "
        f"write {example}"
    )


def _whole(value: Decimal, what: str) -> int:
    if value < 0:
        raise ValueError(f"is negative, not {what}")
    return int(value.to_integral_value())


def parse_count(value: object, *, decimal_comma: bool = False) -> int:
    """A count such as a number of parameters or downloads, from a number or text.

    ``7000000000``, ``7e9``, ``"7B"``, ``"1.5b"``, ``"350M"``, ``"7,000,000"``,
    ``"12k"``, ``"8x7B"`` (56B), ``"7 billion"``, ``"7B params"``. With ``decimal_comma``
    (text from a ``;``-separated file) ``"1,5B"`` is 1.5B; without it, a comma that does
    not group thousands is refused as ambiguous. Raises ValueError.
    """
    what = "a number"
    number = _number(value, what)
    if number is not None:
        return _whole(number, what)
    text = _commas(str(value).strip().lower().replace("_", ""), what, decimal_comma)
    text = re.sub(r"\s*(parameters|params|param)$", "", text)
    match = _COUNT_RE.fullmatch(text)
    if not match or match["unit"] not in _COUNT_WORDS:
        raise ValueError(f"is not {what}")
    try:
        result = _decimal(match["num"], match["exp"]) * _COUNT_WORDS[match["unit"]]
    except InvalidOperation:
        raise ValueError(f"is not {what}") from None
    if match["experts"]:
        result *= int(match["experts"])
    return _whole(result, what)


def parse_size(value: object, *, decimal_comma: bool = False) -> int:
    """A size in bytes from a number or text: ``4200000000``, ``"4.2GB"``, ``"512 MiB"``.

    ``kB/MB/GB/TB`` (and a bare ``K/M/G/T``) are decimal, ``KiB/MiB/GiB/TiB`` binary.
    Commas as in :func:`parse_count` (``"4,2 GB"`` with ``decimal_comma``). Raises
    ValueError.
    """
    what = "a size"
    number = _number(value, what)
    if number is not None:
        return _whole(number, what)
    text = _commas(str(value).strip().lower().replace("_", ""), what, decimal_comma)
    match = _SIZE_RE.fullmatch(text)
    if not match or match["unit"] not in _SIZE_UNITS:
        raise ValueError(f"is not {what} (e.g. 4.2GB, 512 MiB, 1073741824)")
    try:
        result = _decimal(match["num"], match["exp"]) * _SIZE_UNITS[match["unit"]]
    except InvalidOperation:
        raise ValueError(f"is not {what}") from None
    return _whole(result, what)


def parse_date(value: object) -> datetime:
    """A timezone-aware datetime from ISO text, epoch seconds (or milliseconds), or a date."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("is not a date")
    epoch: float | None = None
    numeric_text = isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)
    if isinstance(value, int | float) or numeric_text:
        epoch = float(value)  # type: ignore[arg-type]
    if epoch is not None:
        if not math.isfinite(epoch) or epoch < 0:
            raise ValueError("is not a date")
        if epoch > 1e11:  # milliseconds (1e11 s is the year 5138)
            epoch /= 1000
        try:
            return datetime.fromtimestamp(epoch, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("is not a date") from None
    if not isinstance(value, str):
        raise ValueError("is not a date")
    text = value.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a date (use ISO 8601, e.g. 2024-05-01)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_size(n: float | None) -> str:
    """Bytes as ``"1.2 GB"`` (decimal units, like the Hub); ``""`` when unknown."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or n != n:
        return ""
    value = float(n)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
