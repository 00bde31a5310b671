"""Model sources, looked up by name.

Built-in sources register themselves the same way a third party would::

    from nbmodels.discover.sources import register_source, Source

    @register_source("my-catalog")
    class MySource(Source): ...

``get_source("huggingface")`` builds one; ``available_sources()`` lists the names.
Imports of the implementations are lazy so that ``import nbmodels`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from ...errors import UnknownSourceError
from .base import SORT_KEYS, Source

__all__ = ["SORT_KEYS", "Source", "available_sources", "get_source", "register_source"]

_S = TypeVar("_S", bound=type[Source])

# name -> "module:Class" for built-ins (imported on first use), or the class itself
_REGISTRY: dict[str, str | type[Source]] = {
    "huggingface": "nbmodels.discover.sources.huggingface:HuggingFaceSource",
    "ollama": "nbmodels.discover.sources.ollama:OllamaSource",
    "local": "nbmodels.discover.sources.local:LocalSource",
    "custom": "nbmodels.discover.sources.custom:CustomSource",
}
_ALIASES = {"hf": "huggingface", "hugging_face": "huggingface", "hugging-face": "huggingface"}


def register_source(name: str) -> Callable[[_S], _S]:
    """Class decorator that makes a :class:`Source` subclass available as ``name``
    (names are case-insensitive: ``"MyCat"`` and ``"mycat"`` are the same source)."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownSourceError(f"A source name is a non-empty string, got {name!r}.")
    key = name.strip().lower()

    def decorator(cls: _S) -> _S:
        _REGISTRY[key] = cls
        return cls

    return decorator


def available_sources() -> list[str]:
    return sorted(_REGISTRY)


def _resolve(name: str) -> type[Source]:
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        target = _REGISTRY[key]
    except KeyError:
        close = difflib.get_close_matches(key, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownSourceError(
            f"Unknown source {name!r}.{hint} Available sources: {', '.join(available_sources())}."
        ) from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        _REGISTRY[key] = target
    return target


def get_source(name: str, /, **kwargs: Any) -> Source:
    """Build the source registered as ``name`` (keyword arguments go to its constructor)."""
    if not isinstance(name, str):
        raise UnknownSourceError(f"A source name is a string, got {type(name).__name__}.")
    return _resolve(name)(**kwargs)
