"""Fixtures for a real local Ollama API: the server over a tiny Ollama store.

- ``ollama_server`` (function): a :class:`nbmodels.demo.ollama.OllamaServer` on port 0 over
  ``$OLLAMA_MODELS`` of the test (``tmp_path/"ollama-models"``, set by ``isolated_env``),
  seeded with the demo models (``tinyllama-chat``, ``tiny-embed``, ``tiny-vision``,
  ``tiny-tools``), pulling from the real library snapshot ``shared/data/ollama-library.json``.
- ``ollama_host`` (function): sets ``OLLAMA_HOST`` to that server; returns its url.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbmodels.demo.ollama import OllamaServer, seed_demo_models

__all__ = ["ollama_host", "ollama_server"]


@pytest.fixture
def ollama_server(isolated_env: Path, shared_data: Path, tiny_models: dict[str, Path]) -> Iterator[OllamaServer]:  # fmt: skip
    models_dir = Path(os.environ["OLLAMA_MODELS"])
    seed_demo_models(models_dir, chat_model=tiny_models["nbmodels-demo/tiny-llama-chat"])
    with OllamaServer(models_dir, library=shared_data / "ollama-library.json") as server:
        yield server


@pytest.fixture
def ollama_host(ollama_server: OllamaServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    return ollama_server.url
