"""The offline demo: an embedded Hub (and Ollama) so every notebook runs without internet.

:func:`ensure_hub` is the first call of every tutorial notebook. It decides, in order:

1. ``NBMODELS_DEMO_HUB`` is set (``python -m nbmodels demo`` sets it for the JupyterLab it
   opens): use that already-running demo hub (and ``NBMODELS_DEMO_OLLAMA``).
2. ``NBMODELS_DEMO=1`` or ``offline=True``: start the embedded demo servers in this kernel.
3. ``HF_ENDPOINT``/``NBMODELS_HF_ENDPOINT`` is set: use that endpoint as it is.
4. The real Hub answers within a couple of seconds: use it.
5. Otherwise start the embedded demo servers in this kernel.

The embedded demo serves three tiny models built on first use (random weights, a few
hundred KB each, under ``$NBMODELS_HOME/demo-models``) plus the real Hub records of
``shared/data`` when they can be found, and a local Ollama server with the library snapshot.
In demo mode nbmodels keeps its catalog under ``$NBMODELS_HOME/demo`` so demo records never
mix with a real catalog.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import Settings

__all__ = [
    "DemoEnvironment",
    "ensure_hub",
    "find_shared_data",
    "hub_reachable",
    "start_demo_servers",
]

REAL_HUB = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}
_lock = threading.Lock()
_embedded: DemoEnvironment | None = None  # servers this process started (one set per kernel)


@dataclass
class DemoEnvironment:
    """Which hub and Ollama this kernel talks to, and the servers it started (if any)."""

    hub_url: str
    is_demo: bool
    ollama_url: str | None = None
    home: Path | None = None
    _servers: list[Any] = field(default_factory=list, repr=False)

    @property
    def description(self) -> str:
        if not self.is_demo:
            return f"the Hugging Face Hub at {self.hub_url}"
        where = "running in this process" if self._servers else "started by `nbmodels demo`"
        text = f"the embedded demo hub at {self.hub_url} ({where})"
        if self.ollama_url:
            text += f", and a local Ollama API at {self.ollama_url}"
        return text

    def __repr__(self) -> str:
        return f"<nbmodels: searching {self.description}>"

    def _repr_html_(self) -> str:
        import html

        return f"<b>nbmodels</b>: searching {html.escape(self.description)}"

    def close(self) -> None:
        """Stop the servers this environment started (a no-op otherwise)."""
        global _embedded
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        with _lock:
            if _embedded is self:
                _embedded = None


def hub_reachable(endpoint: str = REAL_HUB, *, timeout: float = 3.0) -> bool:
    """Whether ``endpoint`` answers an HTTP request within ``timeout`` seconds (never raises)."""
    import httpx

    try:
        httpx.head(f"{endpoint.rstrip('/')}/api/models?limit=1", timeout=timeout)
    except Exception:
        return False
    return True


def find_shared_data(filename: str, *, start: Path | None = None) -> Path | None:
    """``shared/data/<filename>`` (the real records the demo serves), found by walking up
    from ``start`` (default: the working directory), then from this package."""
    for origin in (start or Path.cwd(), Path(__file__).resolve().parent):
        for folder in (origin, *origin.parents):
            candidate = folder / "shared" / "data" / filename
            if candidate.is_file():
                return candidate
    return None


def _repo_root() -> Path | None:
    """The checkout this package runs from (the folder holding ``notebooks/``), if any."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else None


def start_demo_servers(
    settings: Settings | None = None, *, port: int = 0, ollama_port: int = 0
) -> DemoEnvironment:
    """Start the embedded demo hub and local Ollama server in this process."""
    from .hub import HubServer, build_tiny_models, find_shared_records
    from .ollama_server import OllamaServer, find_library, seed_demo_models

    settings = settings or Settings.from_env()
    demo_home = settings.home / "demo-models"
    build_tiny_models(demo_home / "repos")
    hub = HubServer(demo_home / "repos", records=find_shared_records(), port=port).start()
    servers: list[Any] = [hub]
    ollama_url = None
    try:
        models_dir = demo_home / "ollama"
        seed_demo_models(models_dir)
        ollama = OllamaServer(models_dir, library=find_library(), port=ollama_port).start()
        servers.append(ollama)
        ollama_url = ollama.url
    except Exception:  # the hub alone is still a useful demo
        ollama_url = None
    return DemoEnvironment(hub.url, True, ollama_url, settings.home, servers)


def _point_kernel_at(env: DemoEnvironment) -> None:
    """Make this process's default settings, catalog and HF clients use ``env``."""
    os.environ["NBMODELS_HF_ENDPOINT"] = env.hub_url
    os.environ["HF_ENDPOINT"] = env.hub_url
    if env.ollama_url:
        os.environ["OLLAMA_HOST"] = env.ollama_url
    if env.is_demo and env.home is not None:
        os.environ["NBMODELS_HOME"] = str(env.home / "demo")
    import sys

    hf_constants = sys.modules.get("huggingface_hub.constants")
    if hf_constants is not None:  # read once at import: transformers honours only the patch
        hf_constants.ENDPOINT = env.hub_url  # type: ignore[attr-defined]
        hf_constants.HUGGINGFACE_CO_URL_TEMPLATE = (  # type: ignore[attr-defined]
            env.hub_url + "/{repo_id}/resolve/{revision}/{filename}"
        )
    from . import catalog

    catalog.set_default_catalog(catalog.Catalog(Settings.from_env()))


def ensure_hub(*, offline: bool | None = None) -> DemoEnvironment:
    """Point this kernel at the real Hub when it is reachable, else at an embedded demo hub.

    Call it first in a notebook; the returned object says which one is in use.
    """
    global _embedded
    env_vars = os.environ
    demo_hub = env_vars.get("NBMODELS_DEMO_HUB")
    force_demo = offline or env_vars.get("NBMODELS_DEMO", "").strip().lower() in _TRUE
    if demo_hub:
        home = Settings.from_env().home
        if env_vars.get("NBMODELS_HOME", "").endswith("demo"):
            home = home.parent
        env = DemoEnvironment(demo_hub, True, env_vars.get("NBMODELS_DEMO_OLLAMA"), home)
    elif not force_demo and (env_vars.get("NBMODELS_HF_ENDPOINT") or env_vars.get("HF_ENDPOINT")):
        endpoint = env_vars.get("NBMODELS_HF_ENDPOINT") or env_vars["HF_ENDPOINT"]
        env = DemoEnvironment(endpoint.rstrip("/"), False, None)
    elif not force_demo and offline is None and hub_reachable():
        env = DemoEnvironment(REAL_HUB, False, None)
    else:
        with _lock:
            if _embedded is None:
                _embedded = start_demo_servers()
            env = _embedded
    _point_kernel_at(env)
    return env
