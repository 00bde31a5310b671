"""Benchmark cards in the registry: what a model measured on this machine, stored against the
version it ran (:mod:`nbmodels.storage.versions`) and the configuration it ran with.

    >>> from nbmodels.storage.cards import save_card, cards, cards_frame
    >>> number = save_card(reg, "org/name", card.to_dict())   # one row, one transaction
    >>> cards(reg, "org/name")[-1].card["decode_tokens_per_s"]
    >>> cards_frame(reg)                                       # every model's cards

A card is whatever JSON mapping the benchmark writes (:class:`nbmodels.bench.card.BenchmarkCard`
``.to_dict()``); this module keeps it whole and reads back a few fields as columns: its
configuration (hashed, so cards of one configuration are found together), whether it is
complete, and the figures a table of cards shows. Numbers run 1..N per model and are handed
out by the database inside the write transaction, as versions' are. A card is written in one
transaction or not at all: an interrupted benchmark leaves no half row.

Everything goes through the registry's backend (``read`` and ``transaction``), so cards live
on a team's PostgreSQL registry too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .registry import Registry

__all__ = ["StoredCard", "cards", "cards_frame", "config_hash", "save_card"]

#: the figures a table of cards shows, read from each card (a missing one is None)
_FIGURES = (
    "prefill_tokens_per_s",
    "decode_tokens_per_s",
    "ttft_s",
    "load_s",
    "peak_bytes",
    "perplexity",
    "kl_divergence",
    "top_token_agreement",
)


@dataclass(frozen=True)
class StoredCard:
    """One stored card: its number, the model's version when it was measured, the hash of
    its configuration, whether every measurement was taken, and the card itself."""

    model: str
    number: int
    version: int | None
    config_hash: str
    complete: bool
    created_at: str
    created_by: str
    card: dict[str, Any] = field(repr=False)


def config_hash(configuration: Mapping[str, Any] | None) -> str:
    """sha256 of a configuration mapping, keys sorted (the same settings, the same hash)."""
    text = json.dumps(dict(configuration or {}), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_card(registry: Registry, model: str, card: Mapping[str, Any], *, who: str | None = None) -> int:  # fmt: skip
    """Store ``card`` (a JSON-able mapping) for ``model`` (a registry reference) against its
    current version; returns the card's number (1..N per model). The card's
    ``configuration`` mapping (if any) is hashed; ``complete`` (default False) is kept as a
    column. One transaction: on any error nothing is written."""
    from .versions import _current, _now, _who

    key = registry._key(model)
    try:
        text = json.dumps(dict(card), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{key}: a benchmark card must be plain JSON data ({exc}); nothing was stored.") from None  # fmt: skip
    configuration = card.get("configuration")
    digest = config_hash(configuration if isinstance(configuration, Mapping) else None)
    person, at = _who(who), _now()
    with registry._store.transaction() as con:
        version = _current(lambda sql, params: con.execute(sql, params).fetchall(), key)
        con.execute(
            "INSERT INTO cards (key, number, version, config_hash, complete, card, created_at, "
            "created_by) SELECT ?, coalesce(max(number), 0) + 1, ?, ?, ?, ?, ?, ? "
            "FROM cards WHERE key = ?",
            [key, version, digest, 1 if card.get("complete") else 0, text, at, person, key],
        )
        number = int(con.execute("SELECT max(number) FROM cards WHERE key = ?", [key]).fetchone()[0])  # fmt: skip
    return number


def _stored(row: Any) -> StoredCard:
    return StoredCard(
        model=str(row["key"]),
        number=int(row["number"]),
        version=None if row["version"] is None else int(row["version"]),
        config_hash=str(row["config_hash"]),
        complete=bool(row["complete"]),
        created_at=str(row["created_at"]),
        created_by=str(row["created_by"] or ""),
        card=json.loads(row["card"]),
    )


def cards(registry: Registry, model: str | None = None) -> list[StoredCard]:
    """The cards of ``model`` (a registry reference), oldest first; every model's when None."""
    if model is None:
        rows = registry._store.read("SELECT * FROM cards ORDER BY key, number")
    else:
        key = registry._key(model)
        rows = registry._store.read("SELECT * FROM cards WHERE key = ? ORDER BY number", [key])
    return [_stored(r) for r in rows]


def cards_frame(registry: Registry, model: str | None = None) -> pd.DataFrame:
    """:func:`cards` as a DataFrame: one row per card, its figures as columns (None where the
    card did not measure it), and ``not_measured``: what it could not measure, and why."""
    import pandas as pd

    columns = ["model", "number", "version", "complete", "backend", "quantization",
               *_FIGURES, "not_measured", "created_at", "config_hash"]  # fmt: skip
    rows = []
    for c in cards(registry, model):
        configuration = c.card.get("configuration") or {}
        row: dict[str, Any] = {
            "model": c.model, "number": c.number, "version": c.version, "complete": c.complete,
            "backend": c.card.get("backend"),
            "quantization": configuration.get("quantization") if isinstance(configuration, Mapping) else None,
            "not_measured": dict(c.card.get("not_measured") or {}),
            "created_at": c.created_at, "config_hash": c.config_hash,
        }  # fmt: skip
        row.update({f: c.card.get(f) for f in _FIGURES})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
