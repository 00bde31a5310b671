"""How a core object shows itself in a notebook, without the core importing a widget.

A core object's ``_repr_mimebundle_`` calls :func:`mimebundle`, which looks its class up in
:data:`VIEWS`, a table of where each view lives (``"module:factory"``), imports that module
only when the object is displayed, and asks ``factory(obj)`` for its mime bundle. The
widgets register themselves here by name, so the import graph has no arrow from the core to
``nbmodels.widgets`` (``tests/test_house.py`` checks it); a third party adds a view the same
way, with :func:`register_view`. Without ipywidgets (or a view) the object shows as text.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["VIEWS", "mimebundle", "register_view"]

#: class name -> "module:factory"; the factory takes the object and returns a widget
VIEWS: dict[str, str] = {
    "DownloadTask": "nbmodels.widgets.downloads:task_view",
    "Comparison": "nbmodels.widgets.compare:comparison_view",
}


def register_view(class_name: str, location: str) -> None:
    """Show objects of ``class_name`` with the widget ``location`` (``"module:factory"``)."""
    module, sep, factory = location.partition(":")
    if not sep or not module or not factory:
        from .errors import ConfigurationError

        raise ConfigurationError(
            f"register_view({class_name!r}, {location!r}): write the view as 'module:factory'."
        )
    VIEWS[class_name] = location


def mimebundle(obj: Any, text: str, **kwargs: Any) -> Any:
    """``obj``'s view as a mime bundle, or ``text`` when it has none (or no ipywidgets)."""
    location = VIEWS.get(type(obj).__name__)
    if location is None:
        return {"text/plain": text}
    module_name, _, factory = location.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # no ipywidgets here: the text
        return {"text/plain": text}
    return getattr(module, factory)(obj)._repr_mimebundle_(**kwargs)
