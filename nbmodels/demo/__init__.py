"""The offline demo: an embedded Hub (and Ollama) so every notebook runs without internet.

Nothing in the product imports this package: it holds the demo servers (:mod:`.hub`, a
Hub-compatible server with tiny models; :mod:`.ollama`, an Ollama-API server), the data they
serve (:mod:`.data`) and :func:`ensure_hub`, the first call of every tutorial notebook. It
decides, in order:

1. ``NBMODELS_DEMO_HUB`` is set (``nbmodels demo`` sets it, with the demo's home and caches,
   for the JupyterLab it opens): use that running demo hub (and ``NBMODELS_DEMO_OLLAMA``).
2. ``NBMODELS_DEMO=1`` or ``offline=True``: start the embedded demo servers in this kernel.
3. An endpoint other than the real Hub is set (``HF_ENDPOINT``): use it as it is.
4. The real Hub answers within a couple of seconds: use it.
5. Otherwise start the embedded demo servers in this kernel.

The chosen endpoints travel as :class:`~nbmodels.settings.Settings` (``env.settings``, made
the process default with :func:`~nbmodels.settings.use_settings`), never by rewriting
``os.environ`` or patching ``huggingface_hub``. In demo mode nbmodels keeps its catalog and
its Hugging Face cache under ``$NBMODELS_HOME/demo`` so demo models never mix with yours.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import Settings, use_settings
from .data import find_library, find_records, find_shared_data

__all__ = [
    "REAL_HUB",
    "DemoEnvironment",
    "demo_settings",
    "ensure_hub",
    "find_library",
    "find_records",
    "find_shared_data",
    "hub_reachable",
    "settings_environ",
    "small_chat_model",
    "start_demo_servers",
]

REAL_HUB = "https://huggingface.co"
_lock = threading.Lock()
_embedded: DemoEnvironment | None = None  # servers this process started (one set per kernel)


@dataclass
class DemoEnvironment:
    """Which hub and Ollama this kernel talks to (``settings``), and the servers it started."""

    hub_url: str
    is_demo: bool
    settings: Settings
    ollama_url: str | None = None
    _servers: list[Any] = field(default_factory=list, repr=False)

    @property
    def description(self) -> str:
        if not self.is_demo:
            return f"the Hugging Face Hub at {self.hub_url}"
        where = (
            "running in this process" if self._servers else "started by the nbmodels demo command"
        )
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


def settings_environ(settings: Settings) -> dict[str, str]:
    """Environment variables that make ``Settings.from_env()`` of another process (the
    JupyterLab ``nbmodels demo`` opens, its kernels) equal the demo's ``settings``."""
    env = {
        "NBMODELS_HOME": str(settings.home),
        "HF_HUB_CACHE": str(settings.hf_cache),
        "HF_ENDPOINT": settings.hf_endpoint,  # plain huggingface_hub/transformers there too
        "NBMODELS_HF_ENDPOINT": settings.hf_endpoint,
        "OLLAMA_MODELS": str(settings.ollama_models),
        "OLLAMA_HOST": settings.ollama_host,
    }
    if settings.demo_hub:
        env["NBMODELS_DEMO_HUB"] = settings.demo_hub
    if settings.demo_ollama:
        env["NBMODELS_DEMO_OLLAMA"] = settings.demo_ollama
    return env


def demo_settings(
    settings: Settings, hub_url: str, ollama_url: str | None, *, home: Path | None = None
) -> Settings:
    """``settings`` pointed at a demo hub: its own catalog, HF cache and Ollama store.

    ``home`` is the nbmodels home the demo lives under (default ``settings.home``); the
    demo's files go to ``<home>/demo``.
    """
    root = (home or settings.home) / "demo"
    changes: dict[str, object] = {
        "home": root,
        "hf_endpoint": hub_url,
        "hf_cache": root / "hf-cache",
        "demo_hub": hub_url,
        "offline": False,
    }
    if ollama_url:
        changes.update(ollama_host=ollama_url, demo_ollama=ollama_url)
        changes["ollama_models"] = root / "ollama"
    return settings.with_(**changes)


def start_demo_servers(
    settings: Settings | None = None, *, port: int = 0, ollama_port: int = 0
) -> DemoEnvironment:
    """Start the embedded demo hub and local Ollama server in this process."""
    from .hub import HubServer, build_tiny_models
    from .ollama import OllamaServer, seed_demo_models

    settings = settings or Settings.from_env()
    build_home = settings.home / "demo-models"
    folders = build_tiny_models(build_home / "repos")
    hub = HubServer(build_home / "repos", records=find_records(settings), port=port).start()
    servers: list[Any] = [hub]
    ollama_url = None
    ollama_store = settings.home / "demo" / "ollama"
    try:
        seed_demo_models(ollama_store, chat_model=folders["nbmodels-demo/tiny-llama-chat"])
        ollama = OllamaServer(
            ollama_store, library=find_library(settings), port=ollama_port
        ).start()
        servers.append(ollama)
        ollama_url = ollama.url
    except Exception:  # the hub alone is still a useful demo
        ollama_url = None
    chosen = demo_settings(settings, hub.url, ollama_url)
    return DemoEnvironment(hub.url, True, chosen, ollama_url, servers)


def small_chat_model(settings: Settings | None = None) -> Path:
    """The folder of the demo's wider chat model (12M random weights, 384 wide: it loads in
    8-bit and nf4 with bitsandbytes on a CPU), built once under the demo's home (a few
    seconds). The demo hub does not serve it: load it, benchmark it, compare it by folder."""
    from .hub import CHAT, build_small_chat, build_tiny_models

    settings = settings or Settings.from_env()
    build_home = settings.home / "demo-models"
    chat = build_tiny_models(build_home / "repos")[CHAT]  # built already when the hub runs
    return build_small_chat(build_home / "extra", chat=chat)  # outside what the hub serves


def ensure_hub(*, offline: bool | None = None, settings: Settings | None = None) -> DemoEnvironment:
    """Point this kernel at the real Hub when it is reachable, else at an embedded demo hub.

    Call it first in a notebook; the returned object says which one is in use, and its
    ``settings`` are now what ``nbmodels.search()`` and the other module functions use.
    ``offline=True`` always uses the demo hub and ``offline=False`` the real Hub (a notebook's
    switch); ``NBMODELS_DEMO=1`` (set by the test command) wins over both.
    """
    global _embedded
    base = settings or Settings.from_env()
    force_demo = offline or base.demo
    if base.demo_hub:  # `nbmodels demo` set the demo's home and caches in the environment
        chosen = base.with_(hf_endpoint=base.demo_hub, offline=False)
        if base.demo_ollama:
            chosen = chosen.with_(ollama_host=base.demo_ollama)
        env = DemoEnvironment(base.demo_hub, True, chosen, base.demo_ollama)
    elif not force_demo and base.hf_endpoint != REAL_HUB:
        env = DemoEnvironment(base.hf_endpoint, False, base)
    elif not force_demo and (offline is False or (offline is None and hub_reachable())):
        env = DemoEnvironment(REAL_HUB, False, base)
    else:
        with _lock:
            if _embedded is None:
                _embedded = start_demo_servers(base)
            env = _embedded
    use_settings(env.settings)
    return env
