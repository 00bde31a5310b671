"""The catalog: every model nbmodels has heard of, searchable at once and offline.

``search()`` asks the sources (concurrently), keeps what they answer in a DuckDB table
``models`` saved as Parquet under ``Settings.catalog_dir``, and answers from that table with
one SQL query. A question already asked is answered from disk without the network, until
``refresh=True``. ``sql()`` runs any read-only SELECT over ``models``.

    >>> import nbmodels
    >>> nbmodels.search("llama", task="text-generation", max_params="8B", limit=10)
    >>> nbmodels.sql("SELECT author, sum(downloads) AS d FROM models GROUP BY 1 ORDER BY d DESC")

:class:`Catalog` is a plain class; the module-level functions use a default instance built
on first use from :meth:`Settings.from_env` (swap it with :func:`set_default_catalog`).
Its storage is :mod:`.catalog_storage`, the asking of sources :mod:`.asking`, the checks of
search()'s arguments :mod:`.search_args`, the guard of sql() :mod:`.sqlguard`.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import pandas as pd

from ..errors import (
    ConfigurationError,
    FilterWarning,
    InvalidModelIdError,
    ModelNotFoundError,
    TruncatedWarning,
)
from ..settings import Settings, default_settings, settings_generation
from ..types import ModelMetadata, ModelSource, ModelType, SupportedTask
from . import frame as _frame

# `name as name`: what this module held before it was split, still importable from here
from .asking import _WHOLE_TABLE as _WHOLE_TABLE
from .asking import CatalogSources
from .asking import _outside_stacklevel as _outside_stacklevel
from .asking import _warned as _warned
from .asking import _warned_lock as _warned_lock
from .catalog_storage import _PHYSICAL as _PHYSICAL
from .catalog_storage import _QUERY_SCHEMA as _QUERY_SCHEMA
from .catalog_storage import MODELS_FILE as MODELS_FILE
from .catalog_storage import QUERIES_FILE as QUERIES_FILE
from .catalog_storage import SCHEMA_VERSION as SCHEMA_VERSION
from .catalog_storage import CatalogStorage as CatalogStorage
from .catalog_storage import _Asked as _Asked
from .catalog_storage import _now
from .downloaded import _downloaded_from_disk
from .downloaded import hf_cached_repos as hf_cached_repos
from .search_args import (
    _BIGINT_MAX,
    _MAX_SERVER_LIMIT,
    _checked_bound,
    _checked_limit,
    _checked_switch,
    _fits_clause,
    _server_limit,
)
from .search_args import fit_limit_bytes as fit_limit_bytes
from .sources import SORT_KEYS, Source
from .sqlguard import READ_ONLY
from .tasks import resolve_task

_READ_ONLY = READ_ONLY  # its old name (nbmodels.storage.registry reads it)

__all__ = [
    "SORT_KEYS",
    "Catalog",
    "by_author",
    "by_tag",
    "by_task",
    "default_catalog",
    "model_info",
    "popular",
    "refresh",
    "search",
    "set_default_catalog",
    "sql",
    "trending",
]

_DEFAULT_SOURCES = ("huggingface", "ollama", "local")


class Catalog(CatalogSources):
    """Models found by the sources, kept in DuckDB and on disk as Parquet.

    ``sources`` are source names (see :func:`nbmodels.available_sources`) or
    :class:`~nbmodels.discover.sources.Source` objects; by default huggingface, ollama, local, and
    custom when ``settings.custom_catalogs`` is set. ``path`` is the folder of the Parquet
    files (default ``settings.catalog_dir``). Nothing is read or built until first use.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        sources: Sequence[str | Source] | None = None,
        path: Path | str | None = None,
    ) -> None:
        settings = settings if settings is not None else default_settings()
        if sources is None:
            sources = list(_DEFAULT_SOURCES)
            if settings.custom_catalogs:
                sources.append("custom")
        folder = Path(path).expanduser() if path is not None else settings.catalog_dir
        super().__init__(settings, sources, folder)

    def __repr__(self) -> str:
        rows = len(self) if self._con is not None else "not loaded"
        return f"<Catalog {str(self._path)!r} rows={rows} sources={list(self._specs)}>"

    @property
    def path(self) -> Path:
        """The folder holding ``models.parquet`` and ``queries.parquet``."""
        return self._path

    @property
    def source_names(self) -> list[str]:
        return list(self._specs)

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        source: str | Sequence[str] | None = None,
        task: SupportedTask | str | None = None,
        author: str | None = None,
        tag: str | None = None,
        license: str | None = None,
        language: str | None = None,
        model_type: ModelType | str | None = None,
        min_params: int | str | None = None,
        max_params: int | str | None = None,
        min_size: int | str | None = None,
        max_size: int | str | None = None,
        sort: str | None = "downloads",
        descending: bool | None = None,
        limit: int | None = 50,
        refresh: bool = False,
        online: bool | None = None,
        fits: bool = False,
    ) -> pd.DataFrame:
        """Models matching every filter given, as a DataFrame (see :mod:`nbmodels.discover.frame`).

        ``fits=True`` keeps models whose weights, as stored, plus the runtime fit this
        machine now (usable RAM, or the emptiest GPU's free memory if larger): a quick rule
        from the size column; :func:`nbmodels.estimate_memory` gives the full estimate for
        one model. Models of unknown size are left out and counted in a FilterWarning.

        ``query`` matches case-insensitively in id, name and description, or equals a tag;
        several words must all match. ``task``, ``tag`` and ``language`` match one element of the
        row's list. ``min_params``/``max_params`` take counts (``"7B"``), ``min_size``/
        ``max_size`` bytes (``"500MB"``). ``sort`` is one of downloads, likes, trending,
        created, updated, parameters, size (most first) or name (A to Z); ``descending``
        flips that. Missing values sort last. ``limit=None`` returns every match. Numbers
        above 2**63 - 1 (DuckDB's BIGINT) are a ConfigurationError saying what is allowed.

        Sources are asked (all at once) only for questions not asked before; a failing
        source gives a :class:`~nbmodels.errors.SourceWarning` and the rest still answer.
        ``refresh=True`` asks again; ``online=False`` never asks.
        """
        self.warnings = []
        bounds = {name: _checked_bound(name, value) for name, value in (("min_params", min_params), ("max_params", max_params), ("min_size", min_size), ("max_size", max_size))}  # fmt: skip
        limit = _checked_limit(limit)
        descending = _checked_switch("descending", descending, none=True)
        fits = _checked_switch("fits", fits)
        online = _checked_switch("online", online, none=True)
        refresh = _checked_switch("refresh", refresh)
        clauses = _frame.where_clauses(
            query=query,
            task=task,
            author=author,
            tag=tag,
            license=license,
            language=language,
            model_type=model_type,
            **bounds,
        )
        if fits:
            clauses.append(_fits_clause())
        order, order_params = _frame.order_by(sort, descending, query=query)
        names, extra = self._selected_with_objects(source)
        capped: list[str] = []
        if self._online(online, refresh):
            server = {
                "query": " ".join((query or "").lower().split()) or None,
                "author": author,
                "tags": [tag] if tag else [],
                "task": resolve_task(task).word if task else None,
                "sort": sort.strip().lower() if sort else None,
            }
            capped = self._ask(names, server, _server_limit(limit), refresh=refresh, extra=extra)
        if source is not None:
            kinds = sorted({self._kind(n, extra) for n in names})
            clauses.append(
                _frame.Clause(f"source IN ({', '.join('?' for _ in kinds)})", tuple(kinds))
            )
        where = " AND ".join(c.sql for c in clauses)
        params = [p for c in clauses for p in c.params]
        exact = _frame.exact_clause(query)
        if exact is not None and limit is not None:
            # exact hits first, as two top-N queries: a CASE in front of the ORDER BY would
            # stop DuckDB from skipping row groups by the sort key (4x slower at 1M rows)
            plain, plain_params = _frame.order_by(sort, descending)
            # an exact id/name hit contains every query word: the text clauses are implied
            others = [c for c in clauses if not c.text]
            hits = self._query(
                f"SELECT * FROM models WHERE {' AND '.join([*(c.sql for c in others), exact.sql])}"
                f" ORDER BY {plain} LIMIT {int(limit)}",
                [*(p for c in others for p in c.params), *exact.params, *plain_params],
            )
            rest = self._query(
                "SELECT * FROM models"
                + (f" WHERE {where}" if where else "")
                + f" ORDER BY {plain} LIMIT {min(int(limit) + len(hits), _BIGINT_MAX)}",
                [*params, *plain_params],
            )
            if len(hits):
                rest = rest[~rest["key"].isin(set(hits["key"]))]
                result = pd.concat([hits, rest], ignore_index=True).head(int(limit))
            else:
                result = rest
        else:
            sql = "SELECT * FROM models" + (f" WHERE {where}" if where else "")
            sql += f" ORDER BY {order}"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            result = self._query(sql, [*params, *order_params])
        self._say_what_was_left_out(clauses, result, limit, capped)
        return _downloaded_from_disk(result, self.settings.hf_cache)

    def _say_what_was_left_out(
        self,
        clauses: list[_frame.Clause],
        result: pd.DataFrame,
        limit: int | None,
        capped: list[str],
    ) -> None:
        """Notes for rows a filter dropped for want of a value, and for capped sources."""
        for column in dict.fromkeys(c.bound for c in clauses if c.bound):
            others = [c for c in clauses if c.bound != column]
            where = " AND ".join([*(c.sql for c in others), f"{column} IS NULL"])
            params = [p for c in others for p in c.params]
            with self._lock:
                # fetchall: DuckDB 2 keeps a connection busy until a result is read out
                rows = (
                    self._connection()
                    .execute(f"SELECT count(*) FROM models WHERE {where}", params)
                    .fetchall()
                )
            unknown = int(rows[0][0]) if rows else 0
            if unknown:
                what = "size" if column == "size_bytes" else "parameter count"
                self._note(
                    f"{unknown:,} model{'s' if unknown != 1 else ''} with no known {what} "
                    f"{'were' if unknown != 1 else 'was'} left out by the {what} filter.",
                    FilterWarning,
                )
        if capped and (limit is None or len(result) < limit):
            for name in capped:
                self._note(
                    f"{name} answered with its first {_MAX_SERVER_LIMIT:,} matches at most; "
                    "more may exist there: narrow the query to see them.",
                    TruncatedWarning,
                )

    def popular(
        self, limit: int = 20, *, source: str | Sequence[str] | None = None, **filters: Any
    ) -> pd.DataFrame:
        """The most downloaded models."""
        return self.search(source=source, sort="downloads", limit=limit, **filters)

    def trending(
        self, limit: int = 20, *, source: str | Sequence[str] | None = None, **filters: Any
    ) -> pd.DataFrame:
        """The models trending now (the Hub's trending score)."""
        return self.search(source=source, sort="trending", limit=limit, **filters)

    def by_author(self, author: str, *, limit: int | None = 50, **filters: Any) -> pd.DataFrame:
        """Models of one author or organisation (case-insensitive)."""
        return self.search(author=author, limit=limit, **filters)

    def by_tag(self, tag: str, *, limit: int | None = 50, **filters: Any) -> pd.DataFrame:
        """Models with one tag."""
        return self.search(tag=tag, limit=limit, **filters)

    def by_task(
        self, task: SupportedTask | str, *, limit: int | None = 50, **filters: Any
    ) -> pd.DataFrame:
        """Models that can do one task (``"text-generation"``, ``SupportedTask.EMBEDDING``...)."""
        return self.search(task=task, limit=limit, **filters)

    def refresh(self, *, source: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Ask the sources again every question asked before; returns the rows refreshed."""
        self.warnings = []
        self._online(None, True)
        self._connection()
        names = set(self._selected(source))
        started = _now()
        questions: dict[str, tuple[list[str], int | None]] = {}
        with self._lock:
            for asked in self._asked.values():
                if asked.source in names:  # the same question to several sources: at once
                    who, limit = questions.get(asked.query, ([], 0))
                    if limit is None or asked.limit is None:
                        limit = None
                    else:
                        limit = max(limit, asked.limit)
                    questions[asked.query] = ([*who, asked.source], limit)
        for qkey, (who, limit) in questions.items():
            self._ask(who, json.loads(qkey), limit, refresh=True)
        return self._query(
            "SELECT * FROM models WHERE fetched_at >= ? ORDER BY downloads DESC NULLS LAST, key",
            [started],
        )

    def model_info(
        self, model_id: str, *, source: str | None = None, revision: str | None = None
    ) -> ModelMetadata:
        """Everything the source(s) know about one model; the catalog keeps the answer.

        ``model_id`` may be a catalog key (``"ollama:llama3.2:1b"``). Without ``source``,
        the sources are asked in order and the first that knows the model answers. When no
        source can be reached, the catalog's row answers (with a SourceWarning). When none
        knows it, the error says what each source answered. ``revision`` (a branch, tag or
        commit) goes to the sources that have revisions (the Hub); that answer is not kept.
        """
        self.warnings = []
        if not isinstance(model_id, str) or not model_id.strip():
            raise ConfigurationError(f"model_info() needs a model id, got {model_id!r}.")
        model_id = model_id.strip()
        prefix, sep, rest = model_id.partition(":")
        kind_values = {s.value for s in ModelSource}
        if source is None and sep and prefix in kind_values:
            source, model_id = prefix, rest
        if isinstance(source, str) and source.strip().lower() in kind_values - set(self._specs):
            # a row's ``source`` column ("huggingface"): the catalog's sources of that kind
            kind = source.strip().lower()
            candidates = [n for n in self._specs if self._kind(n) == kind] or [kind]
        else:
            candidates = self._selected(source)
        if revision is not None:
            candidates = [n for n in candidates if _takes_revision(self._source(n))]
            if not candidates:
                raise ConfigurationError(
                    f"revision={revision!r} needs a source with revisions (the Hub); "
                    "drop revision= or name such a source with source=..."
                )
        answers: dict[str, str] = {}  # what each source said, for the error
        invalid = 0
        unanswered = self.settings.offline
        if self.settings.offline:
            answers = dict.fromkeys(candidates, "not asked (offline)")
        else:
            for name in candidates:
                src = self._source(name)
                try:
                    if revision is None:
                        meta = src.model_info(model_id)
                    else:
                        meta = src.model_info(model_id, revision=revision)  # type: ignore[call-arg]
                except ModelNotFoundError as exc:
                    answers[name] = _first_sentence(exc) if revision else "no such model"
                    continue
                except InvalidModelIdError as exc:
                    answers[name] = f"not a valid id there ({_first_sentence(exc)})"
                    invalid += 1
                    continue
                except Exception as exc:
                    self._warn(name, exc)
                    answers[name] = f"did not answer ({_first_sentence(exc)})"
                    unanswered = True
                    continue
                if revision is None:
                    self._upsert(_frame.to_arrow([meta]))
                return meta  # with what the catalog has no columns for (files, extra...)
        said = "; ".join(f"{name}: {text}" for name, text in answers.items())
        if not unanswered:
            error = InvalidModelIdError if invalid == len(candidates) else ModelNotFoundError
            raise error(
                f"No model {model_id!r}. {said}. Check the id (search() lists what is known), "
                "or name the source with source=..."
            )
        kinds = [self._kind(n) for n in candidates]
        df = self._query(
            f"SELECT * FROM models WHERE id = ? AND source IN ({', '.join('?' for _ in kinds)}) "
            "ORDER BY fetched_at DESC LIMIT 1",
            [model_id, *kinds],
        )
        if len(df) and revision is None:
            return _frame.from_row(df.iloc[0])
        raise ModelNotFoundError(
            f"No model {model_id!r} in the catalog, and not every source could be asked. "
            f"{said}. Check the id, or try again when the source can be reached."
        )

    def get(self, key: str) -> ModelMetadata:
        """The catalog's row for ``key`` (``"<source>:<id>"``), without asking any source."""
        df = self._query("SELECT * FROM models WHERE key = ?", [key])
        if not len(df):
            raise ModelNotFoundError(
                f"No row {key!r} in the catalog; search() or model_info() first."
            )
        return _frame.from_row(df.iloc[0])


def _takes_revision(source: Source) -> bool:
    try:
        return "revision" in inspect.signature(source.model_info).parameters
    except (TypeError, ValueError):
        return False


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of an error, for a one-line summary of several answers."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    head, dot, _ = text.partition(". ")
    return (head + dot).rstrip(". ")


# -- the default catalog --------------------------------------------------------------------
_default: Catalog | None = None
_default_for: int | None = None  # the settings generation it was built for; None: chosen
_default_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The catalog the module-level functions use: built on first use from
    :func:`~nbmodels.settings.default_settings`, again after :func:`~nbmodels.settings.use_settings`."""
    global _default, _default_for
    with _default_lock:
        generation = settings_generation()
        if _default is None or (_default_for is not None and _default_for != generation):
            if _default is not None:
                _default.close()
            _default, _default_for = Catalog(default_settings()), generation
        return _default


def set_default_catalog(catalog: Catalog | None) -> None:
    """Use ``catalog`` for the module-level functions (None: build a fresh one next time)."""
    global _default, _default_for
    if catalog is not None and not isinstance(catalog, Catalog):
        raise ConfigurationError(f"set_default_catalog() takes a Catalog, got {catalog!r}.")
    with _default_lock:
        _default, _default_for = catalog, None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _delegate(method: Callable[Concatenate[Catalog, _P], _R]) -> Callable[_P, _R]:
    """A module-level function calling ``method`` on the default catalog."""

    @functools.wraps(method)
    def function(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return method(default_catalog(), *args, **kwargs)

    sig = inspect.signature(method)
    function.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    function.__qualname__ = method.__name__
    function.__module__ = __name__  # sql() is CatalogStorage's: still catalog.sql
    return function


search = _delegate(Catalog.search)
sql = _delegate(Catalog.sql)
popular = _delegate(Catalog.popular)
trending = _delegate(Catalog.trending)
by_author = _delegate(Catalog.by_author)
by_tag = _delegate(Catalog.by_tag)
by_task = _delegate(Catalog.by_task)
model_info = _delegate(Catalog.model_info)
refresh = _delegate(Catalog.refresh)
