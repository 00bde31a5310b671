"""A local server of Ollama's REST API, for tests and demos where no Ollama can run.

    >>> from nbmodels.demo.ollama import OllamaServer, seed_demo_models
    >>> seed_demo_models(tmp / "models")
    >>> with OllamaServer(tmp / "models", library=find_library()) as server:
    ...     ollama.Client(host=server.url).list()

Run it from a shell with ``python -m nbmodels.demo.ollama --port 11434``. The demo models
are tiny real GGUF Llamas, run through nbmodels' engine; pulls write stand-in blobs (see
:mod:`nbmodels.demo.ollama.pull`) that a seeded toy answers for (see
:mod:`nbmodels.demo.ollama.toy`), and every answer about them says so. Everything else
reads and writes a real Ollama store.
"""

from __future__ import annotations

from ..data import find_library
from .seed import DEMO_MODELS, seed_demo_models, tiny_gguf
from .server import OllamaServer

__all__ = ["DEMO_MODELS", "OllamaServer", "find_library", "seed_demo_models", "tiny_gguf"]
