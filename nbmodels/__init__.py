"""nbmodels: find, download, configure, register and run open LLMs from a notebook.

The public API is small and imports nothing heavy: torch, transformers and ipywidgets are
imported only by the functions that need them.

    >>> import nbmodels
    >>> df = nbmodels.search("llama", task="text-generation", limit=20)
    >>> nbmodels.sql("SELECT id, downloads FROM models ORDER BY downloads DESC LIMIT 5")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import NBModelsError
from .errors import use_readable_warnings as _use_readable_warnings
from .settings import Settings
from .types import (
    DownloadProgress,
    DownloadStatus,
    ModelConfiguration,
    ModelMetadata,
    ModelSource,
    ModelType,
    SupportedTask,
)

__version__ = "0.1.0"

_use_readable_warnings()  # one line per nbmodels warning, in notebooks and terminals

# name -> module that defines it; loaded on first attribute access (PEP 562)
_LAZY = {
    "Catalog": "nbmodels.discover.catalog",
    "search": "nbmodels.discover.catalog",
    "sql": "nbmodels.discover.catalog",
    "popular": "nbmodels.discover.catalog",
    "trending": "nbmodels.discover.catalog",
    "by_author": "nbmodels.discover.catalog",
    "by_tag": "nbmodels.discover.catalog",
    "by_task": "nbmodels.discover.catalog",
    "model_info": "nbmodels.discover.catalog",
    "refresh": "nbmodels.discover.catalog",
    "get_source": "nbmodels.discover.sources",
    "available_sources": "nbmodels.discover.sources",
    "register_source": "nbmodels.discover.sources",
    "Source": "nbmodels.discover.sources",
    "detect_tasks": "nbmodels.discover.tasks",
    "classify_model_type": "nbmodels.discover.tasks",
    "browse": "nbmodels.widgets",
    "download": "nbmodels.downloader.core",
    "downloads": "nbmodels.downloader.core",
    "downloaded_models": "nbmodels.downloader.core",
    "verify": "nbmodels.downloader.core",
    "Downloader": "nbmodels.downloader.core",
    "DownloadTask": "nbmodels.downloader.core",
    "hardware": "nbmodels.machine",
    "configure": "nbmodels.config.configuration",
    "validate": "nbmodels.config.configuration",
    "templates": "nbmodels.config.configuration",
    "get_configuration": "nbmodels.config.configuration",
    "update_configuration": "nbmodels.config.configuration",
    "save_configuration": "nbmodels.config.configuration",
    "config_editor": "nbmodels.widgets",
    "registry_view": "nbmodels.widgets",
    "playground": "nbmodels.widgets",
    "estimate_memory": "nbmodels.config.memory",
    "Registry": "nbmodels.storage.registry",
    "load": "nbmodels.engine.handle",
    "lock": "nbmodels.downloader.lockfile",
    "sync": "nbmodels.downloader.lockfile",
    "Lockfile": "nbmodels.downloader.lockfile",
    "ModelManager": "nbmodels.modelmanager",
    "manager": "nbmodels.modelmanager",
    "MemoryEstimate": "nbmodels.config.memory",
    "benchmark": "nbmodels.bench.run",
    "BenchmarkCard": "nbmodels.bench.card",
    "compare": "nbmodels.bench.compare",
    "export": "nbmodels.exporter",
    "Export": "nbmodels.exporter",
    "pack": "nbmodels.packing",
    "unpack": "nbmodels.packing",
}

__all__ = [
    "BenchmarkCard",
    "Catalog",
    "DownloadProgress",
    "DownloadStatus",
    "DownloadTask",
    "Downloader",
    "Export",
    "Lockfile",
    "MemoryEstimate",
    "ModelConfiguration",
    "ModelManager",
    "ModelMetadata",
    "ModelSource",
    "ModelType",
    "NBModelsError",
    "Registry",
    "Settings",
    "Source",
    "SupportedTask",
    "__version__",
    "available_sources",
    "benchmark",
    "browse",
    "by_author",
    "by_tag",
    "by_task",
    "classify_model_type",
    "compare",
    "config_editor",
    "configure",
    "detect_tasks",
    "download",
    "downloaded_models",
    "downloads",
    "estimate_memory",
    "export",
    "get_configuration",
    "get_source",
    "hardware",
    "load",
    "lock",
    "manager",
    "model_info",
    "pack",
    "playground",
    "popular",
    "refresh",
    "register_source",
    "registry",
    "registry_view",
    "rollback",
    "save_configuration",
    "search",
    "sql",
    "sync",
    "templates",
    "trending",
    "unpack",
    "update_configuration",
    "validate",
    "verify",
    "versions",
]

if TYPE_CHECKING:  # pragma: no cover
    from .bench.card import BenchmarkCard
    from .bench.compare import compare
    from .bench.run import benchmark
    from .config.configuration import (
        configure,
        get_configuration,
        save_configuration,
        templates,
        update_configuration,
        validate,
    )
    from .config.memory import MemoryEstimate, estimate_memory
    from .discover.catalog import (
        Catalog,
        by_author,
        by_tag,
        by_task,
        model_info,
        popular,
        refresh,
        search,
        sql,
        trending,
    )
    from .discover.sources import Source, available_sources, get_source, register_source
    from .discover.tasks import classify_model_type, detect_tasks
    from .downloader.core import (
        Downloader,
        DownloadTask,
        download,
        downloaded_models,
        downloads,
        verify,
    )
    from .downloader.lockfile import Lockfile, lock, sync
    from .engine.handle import load
    from .exporter import Export, export
    from .machine import hardware
    from .modelmanager import ModelManager, manager
    from .packing import pack, unpack
    from .storage.registry import Registry
    from .widgets import browse, config_editor, playground, registry_view


def versions(model: str, *, registry: Any = None) -> Any:
    """Every version of a registered model (a Hub commit, an Ollama digest, a configuration
    revision), oldest first, as a DataFrame; ``registry`` defaults to the home's (or
    ``NBMODELS_REGISTRY_URL``'s). See :mod:`nbmodels.storage.versions`."""
    from .storage import versions as _versions
    from .storage.registry import default_registry

    return _versions.versions_frame(registry or default_registry(), model)


def rollback(model: str, to: int | str, *, registry: Any = None, **options: Any) -> Any:
    """Restore the files (fetched again by their sha256 when gone) and the configuration of
    an earlier version of ``model`` (a number or an alias such as ``"production"``)."""
    from .storage import rollback as _rollback
    from .storage.registry import default_registry

    return _rollback.rollback(registry or default_registry(), model, to, **options)


def __getattr__(name: str) -> Any:
    if name == "registry":  # the default registry of the current settings: never cached here
        from .storage.registry import default_registry

        return default_registry()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
