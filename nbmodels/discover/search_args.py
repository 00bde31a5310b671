"""``search()``'s arguments, checked and turned into what DuckDB and the sources take:
limits, min/max bounds, switches, and the clause for models that fit this machine."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigurationError
from . import frame as _frame

_MAX_SERVER_LIMIT = 1000
#: the largest number DuckDB's BIGINT holds: the catalog's counts and sizes, and a LIMIT
_BIGINT_MAX = 2**63 - 1


def _checked_limit(limit: object) -> int | None:
    """``limit`` as search() can hand it to DuckDB; ConfigurationError saying what is allowed."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _BIGINT_MAX:
        raise ConfigurationError(
            f"limit must be a whole number from 0 to {_BIGINT_MAX}, or None for every match; "
            f"got {limit!r}."
        )
    return limit


def _checked_bound(name: str, value: object) -> int | None:
    """A min/max bound of search(), parsed ("7B", "4GB") and within the column's BIGINT."""
    if value is None:
        return None
    parse = _frame.parse_size if name.endswith("_size") else _frame.parse_count
    number = parse(value)  # type: ignore[arg-type]  # parse refuses what is not a number
    if number > _BIGINT_MAX:
        what = "bytes" if name.endswith("_size") else "parameters"
        raise ConfigurationError(
            f"{name} must be at most {_BIGINT_MAX} {what} (the largest number the catalog "
            f"holds); got {value!r}. Leave it out to set no bound."
        )
    return number


def _checked_switch(name: str, value: object, *, none: bool = False) -> Any:
    """A True/False argument of search() (None too where ``none``), as a bool."""
    if value is None and none:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if none else "True or False"
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}.")
    return bool(value)


def _server_limit(limit: int | None) -> int | None:
    """How many rows to ask a source for: generous, because filters apply locally too."""
    if limit is None:
        return _MAX_SERVER_LIMIT
    return min(_MAX_SERVER_LIMIT, max(100, 4 * limit))


def fit_limit_bytes() -> int:
    """The largest model size (bytes on disk) this machine can run now: weights x 1.2 (KV
    cache and activations at a modest context) + 256 MiB of runtime (``nbmodels.config.memory``'s
    calibration) within the usable RAM or the largest free GPU memory."""
    from ..machine import hardware

    hw = hardware()
    room = max([hw.usable_ram_bytes, *(g.free_bytes or 0 for g in hw.gpus)])
    return int(max(0.0, (room - 256 * 2**20) / 1.2))


def _fits_clause() -> _frame.Clause:
    """``size_bytes`` small enough for this machine (:func:`fit_limit_bytes`)."""
    return _frame.Clause("size_bytes <= ?", (fit_limit_bytes(),), bound="size_bytes")
