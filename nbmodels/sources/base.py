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
from typing import ClassVar

from ..settings import Settings
from ..types import ModelMetadata, ModelSource, SupportedTask

__all__ = ["SORT_KEYS", "Source"]

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
