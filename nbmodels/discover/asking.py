"""How the catalog asks its sources: picking them by name or object, asking those that have
not answered a question yet (all at once, in threads), keeping their answers, and saying in
a warning (once per process) when one does not answer."""

from __future__ import annotations

import json
import sys
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import pyarrow as pa

from ..errors import ConfigurationError, NBModelsError, NBModelsWarning, SourceWarning, StorageError
from ..settings import Settings
from ..types import ModelMetadata, ModelSource
from . import frame as _frame
from .catalog_storage import CatalogStorage, _Asked, _now
from .sources import Source, get_source
from .sources.base import InMemorySource

#: the question a source that hands over its whole table (``InMemorySource.table``) answers
_WHOLE_TABLE = '{"whole table": true}'

#: (source, error type) pairs already warned about in this process: once is enough
_warned: set[object] = set()
_warned_lock = threading.Lock()


def _outside_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside nbmodels."""
    package = str(Path(__file__).resolve().parents[1])  # nbmodels/, not nbmodels/discover/
    level = 1
    frame: FrameType | None = sys._getframe(2)  # 2: the caller of the function that warns
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back
    return level + 1


class CatalogSources(CatalogStorage):
    """A :class:`CatalogStorage` with sources to fill it: ``sources`` maps each name to a
    source name (built on first use) or a :class:`~nbmodels.discover.sources.Source` object."""

    def __init__(self, settings: Settings, sources: Sequence[str | Source], path: Path) -> None:
        self.settings = settings
        self._specs: dict[str, str | Source] = {}
        for spec in sources:
            name = spec.name if isinstance(spec, Source) else str(spec).strip().lower()
            self._specs[name] = spec
        self._sources: dict[str, Source] = {}
        super().__init__(path)

    def _source(self, name: str) -> Source:
        with self._lock:
            key = name.strip().lower()
            if key in self._sources:
                return self._sources[key]
            spec = self._specs.get(key, key)
            src = spec if isinstance(spec, Source) else get_source(spec, settings=self.settings)
            self._sources[key] = src
            if src.name != key:  # an alias ("hf") also answers to the real name
                self._sources.setdefault(src.name, src)
            return src

    def _selected(self, source: str | Sequence[str | Source] | None) -> list[str]:
        names, extra = self._selected_with_objects(source)
        if extra:
            raise ConfigurationError(
                "Source objects are taken by search(); here name a source of this catalog."
            )
        return names

    def _selected_with_objects(
        self, source: str | Source | Sequence[str | Source] | None
    ) -> tuple[list[str], dict[str, Source]]:
        """The source names a call selects, and the Source objects it passed itself (used
        for that call only: they do not join the catalog's sources)."""
        if source is None:
            return list(self._specs), {}
        names = [source] if isinstance(source, str | Source) else list(source)
        if not names:
            raise ConfigurationError("source=[] selects nothing; pass None for every source.")
        out: list[str] = []
        extra: dict[str, Source] = {}
        for name in names:
            if isinstance(name, Source):
                if name.name not in self._specs or self._specs[name.name] is not name:
                    extra[name.name] = name
                out.append(name.name)
                continue
            if not isinstance(name, str):
                raise ConfigurationError(f"A source is a name or a Source, got {name!r}.")
            name = name.strip().lower()
            if name not in self._specs:
                name = self._source(name).name  # UnknownSourceError for a typo, at once
            out.append(name)
        return list(dict.fromkeys(out)), extra

    def _kind(self, name: str, extra: dict[str, Source] | None = None) -> str:
        """The ``source`` column value of rows from the source called ``name``."""
        if extra and name in extra:
            return extra[name].kind.value
        spec = self._specs.get(name)
        if isinstance(spec, Source) or name in self._sources:
            return (spec if isinstance(spec, Source) else self._sources[name]).kind.value
        try:  # built-in names need no import to be known
            return ModelSource.parse(name).value
        except ConfigurationError:
            return self._source(name).kind.value

    def _ask(
        self,
        names: list[str],
        server: dict[str, Any],
        limit: int | None,
        *,
        refresh: bool,
        extra: dict[str, Source] | None = None,
    ) -> list[str]:
        """Ask every source in ``names`` that has not answered this question yet, at once;
        returns the names of remote sources whose answer stopped at ``limit`` (capped).

        Sources that hold their whole catalog in memory (local, custom, the Ollama library:
        :class:`~nbmodels.discover.sources.base.InMemorySource`) are never capped: they are asked for
        every match and the catalog filters. The lock is not held while the sources work,
        so sql() and answers from disk stay quick meanwhile (the widget calls from threads).
        """
        question = json.dumps(server, sort_keys=True, default=str)
        todo: dict[str, Source] = {}
        capped: list[str] = []

        def key_of(name: str) -> str:
            # a source that hands over its whole table answers every question at once
            return _WHOLE_TABLE if name in whole else question

        whole: set[str] = set()
        with self._lock:
            self._connection()  # loads the remembered queries
            for name in names:
                try:
                    src = extra[name] if extra and name in extra else self._source(name)
                except Exception as exc:
                    self._warn(name, exc)
                    continue
                if getattr(type(src), "table", InMemorySource.table) is not InMemorySource.table:
                    whole.add(name)
                asked = None if extra and name in extra else self._asked.get((name, key_of(name)))
                if asked is not None and asked.covers(limit) and not refresh:
                    if asked.limit is not None and asked.count >= asked.limit:
                        capped.append(name)
                    continue
                todo[name] = src
        if not todo:
            return capped

        def wanted(src: Source) -> int | None:
            return None if isinstance(src, InMemorySource) else limit

        def run(src: Source) -> list[ModelMetadata] | pa.Table:
            if isinstance(src, InMemorySource):
                table = src.table(fetched_at=_now())
                if table is not None:
                    return table
            return src.search(
                server["query"],
                author=server["author"],
                tags=tuple(server["tags"]),
                task=server["task"],
                sort=server["sort"],
                limit=wanted(src),
            )

        with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="nbmodels") as pool:
            futures = {name: pool.submit(run, src) for name, src in todo.items()}
        changed = False
        with self._lock:
            for name, future in futures.items():
                error = future.exception()
                if error is None:
                    stamp = _now()
                    try:  # a source answering something other than ModelMetadata fails too
                        answer = future.result()
                        if isinstance(answer, pa.Table):
                            table = answer.cast(_frame.SCHEMA)
                        else:
                            table = _frame.to_arrow(answer, fetched_at=stamp)
                    except Exception as exc:
                        error = exc
                if error is not None:
                    self._warn(name, error)
                    continue
                self._upsert(table, save=False)
                asked_for = wanted(todo[name])
                if not (extra and name in extra):  # a one-off source object is not remembered
                    qkey = key_of(name)
                    self._asked[(name, qkey)] = _Asked(name, qkey, asked_for, stamp, table.num_rows)
                    self._qdirty.add((name, qkey))
                if asked_for is not None and table.num_rows >= asked_for:
                    capped.append(name)
                changed = True
            if changed:
                try:
                    self._save()
                    self._maybe_compact()
                except StorageError as exc:  # the answer is shown; it is not kept: say so
                    self._note(f"{exc} This answer is not kept on disk.", SourceWarning)
        return capped

    def _note(self, text: str, category: type[NBModelsWarning], once: object = None) -> None:
        """Say ``text`` in :attr:`warnings` (the status line) every time, and as a Python
        warning once per process for each ``once`` key (every time when it is None)."""
        self.warnings.append(text)
        if once is not None:
            with _warned_lock:
                if once in _warned:
                    return
                _warned.add(once)
        warnings.warn(category(text), stacklevel=_outside_stacklevel())

    def _warn(self, name: str, exc: BaseException) -> None:
        reason = str(exc) if isinstance(exc, NBModelsError) else f"{type(exc).__name__}: {exc}"
        reason = reason.rstrip()
        if not reason.endswith((".", "!", "?")):
            reason += "."
        message = f"{name} did not answer: {reason} Showing the other sources and the catalog."
        self._note(message, SourceWarning, once=("source", name, type(exc).__name__))

    def _online(self, online: bool | None, refresh: bool) -> bool:
        live = (not self.settings.offline) if online is None else bool(online)
        if refresh and not live:
            raise ConfigurationError(
                "refresh=True asks the sources, but nbmodels is offline (online=False or "
                "NBMODELS_OFFLINE); drop refresh=True to answer from the catalog on disk."
            )
        return live
