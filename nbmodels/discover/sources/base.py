"""The one interface every model source implements.

A source answers questions about the models it knows. Only :meth:`Source.search` and
:meth:`Source.model_info` are required; the seed's selector operations (popular, trending,
by author, by tag, by task) default to calls of ``search`` and can be overridden where a
source has a better way (the Hub sorts server-side, for example).

Sources return :class:`~nbmodels.types.ModelMetadata` with ``tasks`` and ``model_type``
already detected (see :mod:`nbmodels.discover.tasks`). They raise errors from
:mod:`nbmodels.errors` only: a library's own exception never escapes a source.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from ...errors import ConfigurationError
from ...settings import Settings, default_settings
from ...types import ModelMetadata, ModelSource, SupportedTask
from ..tasks import TaskFilter, resolve_task

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SORT_FIELDS",
    "SORT_KEYS",
    "Source",
    "did_you_mean",
    "filter_models",
    "find_by_id",
    "sort_models",
    "task_matches",
    "text_matches",
]

#: sort keys every source understands (descending, most first), "name" ascending
SORT_KEYS = ("downloads", "likes", "trending", "created", "updated", "parameters", "size", "name")


class Source(ABC):
    """A place models are found. Subclasses set ``name`` and ``kind``."""

    name: ClassVar[str]
    kind: ClassVar[ModelSource]

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else default_settings()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- required -------------------------------------------------------------------------
    @abstractmethod
    def search(
        self,
        query: str | None = None,
        *,
        author: str | None = None,
        tags: tuple[str, ...] = (),
        task: SupportedTask | str | None = None,
        sort: str | None = None,
        limit: int | None = 100,
    ) -> list[ModelMetadata]:
        """Models matching every word of ``query`` (see :func:`text_matches`) and filters.

        ``task`` is a seed task, a Hub pipeline tag or an Ollama capability.

        ``sort`` is one of :data:`SORT_KEYS` or None (the source's own order).
        """

    @abstractmethod
    def model_info(self, model_id: str) -> ModelMetadata:
        """Everything the source knows about one model. Raises ModelNotFoundError."""

    # -- optional, with defaults ----------------------------------------------------------
    def is_available(self) -> bool:
        """Whether the source can be reached right now (never raises)."""
        return True

    def popular(self, limit: int = 50) -> list[ModelMetadata]:
        return self.search(sort="downloads", limit=limit)

    def trending(self, limit: int = 50) -> list[ModelMetadata]:
        return self.search(sort="trending", limit=limit)

    def by_author(self, author: str, limit: int = 100) -> list[ModelMetadata]:
        return self.search(author=author, limit=limit)

    def by_tag(self, tag: str, limit: int = 100) -> list[ModelMetadata]:
        return self.search(tags=(tag,), limit=limit)

    def by_task(self, task: SupportedTask | str, limit: int = 100) -> list[ModelMetadata]:
        return self.search(task=task, limit=limit)


class InMemorySource(Source):
    """A source that can list all its models at once (a folder scan, a catalog file, a
    snapshot): :meth:`models` lists them and ``search`` filters that list in memory."""

    @abstractmethod
    def models(self) -> list[ModelMetadata]:
        """Every model the source knows."""

    def table(self, *, fetched_at: datetime | None = None) -> pa.Table | None:
        """Every model as one Arrow table with the catalog's columns (``frame.SCHEMA``), for
        sources that can build it column by column (a large team catalog); None when the
        source has no such path. The catalog then takes the whole table at once and filters
        it itself, instead of one ModelMetadata per row."""
        return None

    def search(
        self,
        query: str | None = None,
        *,
        author: str | None = None,
        tags: tuple[str, ...] = (),
        task: SupportedTask | str | None = None,
        sort: str | None = None,
        limit: int | None = 100,
    ) -> list[ModelMetadata]:
        return filter_models(
            self.models(), query, author=author, tags=tags, task=task, sort=sort, limit=limit
        )


# -- in-memory selection, shared by sources that hold their models in memory ---------------


#: sort key -> the ModelMetadata field it orders by ("name" orders by name, then id)
SORT_FIELDS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trending_score",
    "created": "created_at",
    "updated": "updated_at",
    "parameters": "parameters",
    "size": "size_bytes",
}


def sort_models(models: Iterable[ModelMetadata], sort: str) -> list[ModelMetadata]:
    """``models`` sorted by a :data:`SORT_KEYS` key: most first, unknown values last;
    ``"name"`` A-Z."""
    if sort == "name":
        return sorted(models, key=lambda m: (m.name or m.id).lower())
    field = SORT_FIELDS[sort]
    known = [m for m in models if getattr(m, field) is not None]
    unknown = [m for m in models if getattr(m, field) is None]
    return sorted(known, key=lambda m: getattr(m, field), reverse=True) + unknown


def word_pattern(word: str) -> str:
    """The regular expression (RE2 and Python) for ``word`` at the start of a word."""
    return "(^|[^0-9a-z])" + re.escape(word)


def text_matches(meta: ModelMetadata, word: str) -> bool:
    """Whether one lower-case query ``word`` matches ``meta``: inside its id or name, at
    the start of a word of its description, or equal to a whole tag. The same test as the
    catalog's SQL (:func:`nbmodels.discover.frame.text_clause`), so both return the same rows."""
    if word in meta.id.lower() or word in meta.name.lower() or word in meta.tags:
        return True
    description = meta.description.lower()
    return word in description and re.search(word_pattern(word), description) is not None


def task_matches(meta: ModelMetadata, wanted: TaskFilter) -> bool:
    """Whether ``meta`` answers ``wanted`` (a resolved ``task=...``)."""
    if wanted.task is not None:
        return wanted.task in meta.tasks
    if wanted.pipeline_tag is not None:
        return meta.pipeline_tag == wanted.pipeline_tag
    return wanted.tag in meta.tags


def filter_models(
    models: Iterable[ModelMetadata],
    query: str | None = None,
    *,
    author: str | None = None,
    tags: Sequence[str] = (),
    task: SupportedTask | str | None = None,
    sort: str | None = None,
    limit: int | None = 100,
) -> list[ModelMetadata]:
    """Filter and sort records held in memory, with :meth:`Source.search`'s meaning.

    Every word of ``query`` must match (:func:`text_matches`); ``author`` matches exactly
    (case-insensitive); every tag in ``tags`` must be present; ``task`` is a seed task, a
    Hub pipeline tag or an Ollama capability (:func:`nbmodels.discover.tasks.resolve_task`);
    ``sort`` is one of :data:`SORT_KEYS` (most first; ``"name"`` A-Z; unknown values last).
    """
    if sort is not None and sort not in SORT_KEYS:
        raise ConfigurationError(f"Unknown sort {sort!r}. Choose one of: {', '.join(SORT_KEYS)}.")
    wanted_task = resolve_task(task) if task is not None else None
    words = (query or "").lower().split()
    wanted_tags = {t.lower() for t in tags}
    found = []
    for meta in models:
        if words and not all(text_matches(meta, w) for w in words):
            continue
        if author and (meta.author or "").lower() != author.lower():
            continue
        if wanted_tags and not wanted_tags <= {t.lower() for t in meta.tags}:
            continue
        if wanted_task is not None and not task_matches(meta, wanted_task):
            continue
        found.append(meta)
    if sort is not None:
        found = sort_models(found, sort)
    return found if limit is None else found[: max(limit, 0)]


def find_by_id(models: Sequence[ModelMetadata], model_id: str) -> ModelMetadata | None:
    """The model whose id is ``model_id``: an exact match first, then ignoring case."""
    for meta in models:
        if meta.id == model_id:
            return meta
    folded = model_id.strip().lower()
    for meta in models:
        if meta.id.lower() == folded:
            return meta
    return None


def did_you_mean(model_id: str, models: Iterable[ModelMetadata]) -> str:
    """`` Did you mean 'a', 'b'?`` naming up to three close ids, or ``""``."""
    close = difflib.get_close_matches(model_id, [m.id for m in models], n=3)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""
