"""A local server of Ollama's REST API, for tests and demos where no Ollama can run.

    >>> from nbmodels.ollama_server import OllamaServer, seed_demo_models
    >>> seed_demo_models(tmp / "models")
    >>> with OllamaServer(tmp / "models", library=find_library()) as server:
    ...     ollama.Client(host=server.url).list()

Run it from a shell with ``python -m nbmodels.ollama_server --port 11434``. Generation is a
seeded toy (see :mod:`nbmodels.ollama_server.toy`), pulls write stand-in blobs (see
:mod:`nbmodels.ollama_server.pull`); everything else reads and writes a real Ollama store.
"""

from __future__ import annotations

from .demo import DEMO_MODELS, seed_demo_models, tiny_gguf
from .server import LIBRARY_FILENAME, OllamaServer, find_library

__all__ = [
    "DEMO_MODELS",
    "LIBRARY_FILENAME",
    "OllamaServer",
    "find_library",
    "seed_demo_models",
    "tiny_gguf",
]
