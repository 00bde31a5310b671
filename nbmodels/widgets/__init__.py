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
    from ..catalog import Catalog
    from .browser import Browser

__all__ = ["Browser", "browse"]


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

    ``sources``/``settings`` build a fresh :class:`~nbmodels.catalog.Catalog` instead.
    Filters take what a person types: ``min_params="1B"``, ``max_size="4GB"``.
    The browser searches once at start; change a control (or press Enter) to search again.
    """
    from .browser import Browser

    if catalog is None:
        from .. import catalog as catalog_module

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


def __getattr__(name: str) -> Any:
    if name == "Browser":
        from .browser import Browser

        return Browser
    raise AttributeError(f"module 'nbmodels.widgets' has no attribute {name!r}")
