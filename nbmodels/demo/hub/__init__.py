"""A local Hugging Face Hub for tests and demos, and the tiny models it serves.

    >>> from nbmodels.hub import HubServer, build_tiny_models, find_shared_records
    >>> folders = build_tiny_models(Path("/tmp/demo-models"))
    >>> with HubServer(Path("/tmp/demo-models"), records=find_shared_records()) as hub:
    ...     print(hub.url)  # point HF_ENDPOINT (or HfApi(endpoint=...)) here

Or from a shell: ``python -m nbmodels.hub`` (see ``--help``). Nothing heavy is imported
here: torch and transformers load only when :func:`build_tiny_models` runs.
"""

from __future__ import annotations

from .records import find_shared_records
from .server import HubServer, RequestRecord
from .tinymodels import (
    CHAT,
    SMALL_CHAT,
    TINY_MODELS,
    TINY_MODELS_VERSION,
    build_small_chat,
    build_tiny_models,
)

__all__ = [
    "CHAT",
    "SMALL_CHAT",
    "TINY_MODELS",
    "TINY_MODELS_VERSION",
    "HubServer",
    "RequestRecord",
    "build_small_chat",
    "build_tiny_models",
    "find_shared_records",
]
