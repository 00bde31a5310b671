"""Notebook widgets: thin ipywidgets views over the core objects.

Importing this package is cheap; ipywidgets loads when a widget is built. (The module is
``browser.py``, not ``browse.py``: importing a submodule binds its name on the package, and a
module ``browse`` would replace the function ``browse`` here after its first call.)

    >>> import nbmodels
    >>> nbmodels.browse(query="llama")   # last expression of a cell: the browser shows
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..settings import Settings
from ..types import SupportedTask

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from ..discover.catalog import Catalog
    from ..storage.registry import Registry
    from ..types import ModelConfiguration, ModelMetadata
    from .browser import Browser
    from .chatbox import Playground
    from .configure import ConfigEditor
    from .registry import RegistryView

__all__ = [
    "Browser",
    "ConfigEditor",
    "Playground",
    "RegistryView",
    "browse",
    "config_editor",
    "playground",
    "registry_view",
]


def browse(
    catalog: Catalog | None = None,
    *,
    query: str = "",
    source: str | None = None,
    task: str | SupportedTask | None = None,
    license: str | None = None,
    author: str | None = None,
    min_params: str | int | None = None,
    max_params: str | int | None = None,
    min_size: str | int | None = None,
    max_size: str | int | None = None,
    sort: str = "downloads",
    ascending: bool | None = None,
    page_size: int = 15,
    limit: int = 300,
    sources: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> Browser:
    """A model browser over ``catalog`` (default: the one ``nbmodels.search`` uses).

    ``sources``/``settings`` build a fresh :class:`~nbmodels.discover.catalog.Catalog` instead.
    Filters take what a person types: ``min_params="1B"``, ``max_size="4GB"``.
    The browser searches once at start; change a control (or press Enter) to search again.
    """
    from .browser import Browser

    if catalog is None:
        from ..discover import catalog as catalog_module

        if sources is None and settings is None:
            catalog = catalog_module.default_catalog()
        else:
            catalog = catalog_module.Catalog(settings, sources=sources)
    return Browser(
        catalog,
        query=query,
        source=source,
        task=task,
        license=license,
        author=author,
        min_params=min_params,
        max_params=max_params,
        min_size=min_size,
        max_size=max_size,
        sort=sort,
        ascending=ascending,
        page_size=page_size,
        limit=limit,
    )


def config_editor(
    model: ModelMetadata | str | Path,
    config: ModelConfiguration | None = None,
    *,
    batch: int = 1,
    settings: Settings | None = None,
) -> ConfigEditor:
    """A configuration editor for ``model`` (a folder, ``.gguf``, Hub id or ``model_info``'s
    answer): ``config`` if given, else the model's stored configuration, else
    ``nbmodels.configure(model)``. Fields are validated as they change, the memory bar
    follows context, batch and quantization, Save writes the model's YAML."""
    from ..config.configuration import get_configuration
    from .configure import ConfigEditor

    if config is None and isinstance(model, str) and not model.startswith(("/", ".", "~")):
        config = get_configuration(model, settings)
    return ConfigEditor(model, config, batch=batch, settings=settings)


def playground(model: Any = None, *, registry: Any = None) -> Any:
    """A chat playground over ``model`` (a handle from ``nbmodels.load``, or a model to load:
    a folder or Hub id), or with no model a picker of the registry's available models."""
    from .chatbox import Playground

    if model is not None and not hasattr(model, "chat"):
        from ..engine.handle import load

        model = load(model)
    return Playground(model, registry=registry)


def registry_view(registry: Registry | None = None, *, page_size: int = 25) -> RegistryView:
    """A view of ``registry`` (default: ``nbmodels.registry``): badges, actions, backup."""
    from ..storage.registry import default_registry
    from .registry import RegistryView

    return RegistryView(registry or default_registry(), page_size=page_size)


def __getattr__(name: str) -> Any:
    if name == "Browser":
        from .browser import Browser

        return Browser
    if name == "Playground":
        from .chatbox import Playground

        return Playground
    if name == "RegistryView":
        from .registry import RegistryView

        return RegistryView
    if name == "ConfigEditor":
        from .configure import ConfigEditor

        return ConfigEditor
    raise AttributeError(f"module 'nbmodels.widgets' has no attribute {name!r}")
