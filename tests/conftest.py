"""Shared test fixtures.

Every test runs with every home and cache pointed at its own ``tmp_path`` and no token,
no HF endpoint and an Ollama host where nothing listens, so no test can touch the user's
files or reach the internet by accident. Servers (the local hub, the local Ollama) are
real HTTP servers on 127.0.0.1, port 0; their fixtures live in ``fixtures_*.py``.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports huggingface_hub (it reads these once, at import).
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="nbmodels-tests-"))
os.environ["HF_HOME"] = str(_SESSION_TMP / "hf-home")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens: never the real Hub
os.environ["NBMODELS_HOME"] = str(_SESSION_TMP / "nbmodels-home")
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "NBMODELS_OFFLINE"):
    os.environ.pop(_var, None)

from fixtures_hub import *  # noqa: E402,F403
from fixtures_ollama import *  # noqa: E402,F403
from fixtures_postgres import *  # noqa: E402,F403


def _dead_port() -> int:
    """A loopback port where nothing listens (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every home and cache at tmp_path; no token; no reachable default servers."""
    home = tmp_path / "nbmodels-home"
    monkeypatch.setenv("NBMODELS_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama-models"))
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for var in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "NBMODELS_HF_ENDPOINT",
        "NBMODELS_OFFLINE",
        "HF_HUB_OFFLINE",
        "NBMODELS_CATALOGS",
        "NBMODELS_LOCAL_PATHS",
        "NBMODELS_OLLAMA_LIBRARY",
        "NBMODELS_DEMO",  # `nbmodels demo` exports these into its JupyterLab's terminals
        "NBMODELS_DEMO_HUB",
        "NBMODELS_DEMO_OLLAMA",
        "NBMODELS_HUB_RECORDS",
        "NBMODELS_TIMEOUT",
        "NBMODELS_REGISTRY_URL",
        "NBMODELS_SHARED_CACHE",
        "OPENAI_API_KEY",
        "NBMODELS_MIRRORS",
        "NBMODELS_OPENAI_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    try:  # huggingface_hub reads its cache location once, at import: patch the constants
        import huggingface_hub.constants as hfc

        monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
        monkeypatch.setattr(hfc, "HF_HOME", str(tmp_path / "hf-home"))
    except ImportError:  # pragma: no cover
        pass
    from nbmodels import settings
    from nbmodels.discover import catalog, sources

    catalog._warned.clear()  # "once per process" means once per test here
    settings.use_settings(None)
    # sources a test registers leave with it
    monkeypatch.setattr(sources, "_REGISTRY", dict(sources._REGISTRY))
    yield tmp_path
    settings.use_settings(None)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real Hub and Ollama records nobody here wrote)."""
    if not (SHARED_DATA / "hub-models.parquet").exists():
        pytest.fail(f"real records not found at {SHARED_DATA}; the repo must sit beside shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def llama_384(tiny_models) -> Path:
    """The demo's wider chat model (``nbmodels.demo.hub.build_small_chat``: hidden 384, 8
    layers, grouped-query heads, the tiny chat model's tokenizer and chat template):
    bitsandbytes' CPU 4-bit kernels need rows of at least one 64-block, which the 32-wide
    demo model does not have, and it generates slowly enough to watch tokens arrive. Built
    once (a few seconds) and cached."""
    from nbmodels.demo.hub import build_small_chat

    cache = os.environ.get("NBMODELS_TEST_MODELS_CACHE")
    base = Path(cache) if cache else Path.home() / ".cache" / "nbmodels-test-models"
    return build_small_chat(base / "engine", chat=tiny_models["nbmodels-demo/tiny-llama-chat"])
