"""The one interface every model source implements.

A source answers questions about the models it knows. Only :meth:`Source.search` and
:meth:`Source.model_info` are required; the seed's selector operations (popular, trending,
by author, by tag, by task) default to calls of ``search`` and can be overridden where a
source has a better way (the Hub sorts server-side, for example).

Sources return :class:`~nbmodels.types.ModelMetadata` with ``tasks`` and ``model_type``
already detected (see :mod:`nbmodels.tasks`). They raise errors from
:mod:`nbmodels.errors` only: a library's own exception never escapes a source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from ..errors import ConfigurationError
from ..settings import Settings
from ..types import ModelMetadata, ModelSource, SupportedTask

__all__ = ["SORT_KEYS", "Source", "filter_models"]

#: sort keys every source understands (descending, most first), "name" ascending
SORT_KEYS = ("downloads", "likes", "trending", "created", "updated", "parameters", "size", "name")


class Source(ABC):
    """A place models are found. Subclasses set ``name`` and ``kind``."""

    name: ClassVar[str]
    kind: ClassVar[ModelSource]

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()

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
        task: SupportedTask | None = None,
        sort: str | None = None,
        limit: int | None = 100,
    ) -> list[ModelMetadata]:
        """Models matching ``query`` (a case-insensitive substring of id/name) and filters.

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
        return self.search(task=SupportedTask.parse(task), limit=limit)


# -- in-memory selection, shared by sources that hold their models in memory ---------------


def _sort_value(meta: ModelMetadata, key: str) -> Any:
    return {
        "downloads": meta.downloads,
        "likes": meta.likes,
        "trending": meta.trending_score,
        "created": meta.created_at,
        "updated": meta.updated_at,
        "parameters": meta.parameters,
        "size": meta.size_bytes,
    }[key]


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

    ``query`` is a case-insensitive substring of id or name; ``author`` matches exactly
    (case-insensitive); every tag in ``tags`` must be present; ``sort`` is one of
    :data:`SORT_KEYS` (most first; ``"name"`` A-Z; unknown values last).
    """
    if sort is not None and sort not in SORT_KEYS:
        raise ConfigurationError(f"Unknown sort {sort!r}. Choose one of: {', '.join(SORT_KEYS)}.")
    wanted_task = SupportedTask.parse(task) if task is not None else None
    needle = (query or "").strip().lower()
    wanted_tags = {t.lower() for t in tags}
    found = []
    for meta in models:
        if needle and needle not in meta.id.lower() and needle not in meta.name.lower():
            continue
        if author and (meta.author or "").lower() != author.lower():
            continue
        if wanted_tags and not wanted_tags <= {t.lower() for t in meta.tags}:
            continue
        if wanted_task is not None and wanted_task not in meta.tasks:
            continue
        found.append(meta)
    if sort == "name":
        found.sort(key=lambda m: (m.name or m.id).lower())
    elif sort is not None:
        present = [m for m in found if _sort_value(m, sort) is not None]
        absent = [m for m in found if _sort_value(m, sort) is None]
        present.sort(key=lambda m: _sort_value(m, sort), reverse=True)
        found = present + absent
    return found if limit is None else found[: max(limit, 0)]
