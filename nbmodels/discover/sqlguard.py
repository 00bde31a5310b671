"""The guard in front of ``Catalog.sql()``: one read-only statement over ``models``, and
DuckDB's errors said as :class:`~nbmodels.errors.SQLError` with the catalog's columns."""

from __future__ import annotations

import duckdb

from ..errors import SQLError
from . import frame as _frame

__all__ = ["READ_ONLY", "check_read_only", "duckdb_message", "sql_error"]

READ_ONLY = {"SELECT", "EXPLAIN"}  # DESCRIBE, SUMMARIZE, SHOW and FROM-first parse as SELECT


def duckdb_message(exc: BaseException) -> str:
    return str(exc).strip()


def sql_error(exc: BaseException) -> SQLError:
    """A DuckDB error of a query a person typed, with the columns they can use."""
    return SQLError(f"{duckdb_message(exc)}\n{_frame.columns_hint()}")


def check_read_only(query: object) -> None:
    """SQLError unless ``query`` is one read-only statement (SELECT, WITH ... SELECT,
    DESCRIBE, SUMMARIZE, EXPLAIN)."""
    if not isinstance(query, str) or not query.strip():
        raise SQLError("sql() needs a query, e.g. 'SELECT id, downloads FROM models LIMIT 5'.")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise sql_error(exc) from None
    kinds = [s.type.name for s in statements]
    if len(statements) != 1 or kinds[0] not in READ_ONLY:
        what = "several statements" if len(statements) > 1 else " ".join(kinds) or "nothing"
        raise SQLError(
            f"Only one SELECT query over the table 'models' is allowed (got {what}). "
            "The catalog changes through search(), add() and clear(), not through sql()."
        )
