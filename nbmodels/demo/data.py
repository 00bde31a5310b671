"""Where the demo finds the real records it serves (``shared/data`` beside the project).

The files are optional extras: without them the demo hub serves only its tiny models and
the demo Ollama server has no library snapshot. Settings name them explicitly
(``NBMODELS_HUB_RECORDS``, ``NBMODELS_OLLAMA_LIBRARY``); otherwise they are looked for in a
``shared/data`` folder above this package or above the working directory.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings, default_settings

__all__ = [
    "LIBRARY_FILENAME",
    "RECORDS_FILENAME",
    "find_library",
    "find_records",
    "find_shared_data",
]

RECORDS_FILENAME = "hub-models.parquet"
LIBRARY_FILENAME = "ollama-library.json"


def find_shared_data(filename: str, *, start: Path | None = None) -> Path | None:
    """``shared/data/<filename>``, found by walking up from ``start`` when given, else from
    this package, then from the working directory; None when there is none.

    The package's own location goes first: a ``shared`` folder somewhere above an unrelated
    working directory (``/tmp/shared``, say) must not shadow the one beside the project."""
    origins = (start,) if start is not None else ()
    for origin in (*origins, Path(__file__).resolve().parent, Path.cwd()):
        for folder in (origin, *origin.parents):
            candidate = folder / "shared" / "data" / filename
            if candidate.is_file():
                return candidate
    return None


def find_records(settings: Settings | None = None) -> Path | None:
    """The real Hub records the demo hub serves: ``settings.hub_records`` when set (None if
    that file does not exist), else ``shared/data/hub-models.parquet``."""
    settings = settings or default_settings()
    if settings.hub_records is not None:
        return settings.hub_records if settings.hub_records.is_file() else None
    return find_shared_data(RECORDS_FILENAME)


def find_library(settings: Settings | None = None, *, start: Path | None = None) -> Path | None:
    """The Ollama library snapshot: ``settings.ollama_library`` when it is a file, else
    ``shared/data/ollama-library.json``."""
    settings = settings or default_settings()
    if settings.ollama_library and not settings.ollama_library.startswith(("http:", "https:")):
        path = Path(settings.ollama_library).expanduser()
        if path.is_file():
            return path
    return find_shared_data(LIBRARY_FILENAME, start=start)
