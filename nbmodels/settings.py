"""Settings, read from the environment in one place.

Every option has a keyword argument and an environment variable; the keyword wins.
Nothing here is global: :func:`Settings.from_env` builds a fresh object, and objects that
need settings take one (or build a default) when they are constructed.

| setting        | environment                               | default                         |
|----------------|-------------------------------------------|---------------------------------|
| home           | ``NBMODELS_HOME``                         | ``~/.cache/nbmodels``           |
| hf_endpoint    | ``NBMODELS_HF_ENDPOINT``, ``HF_ENDPOINT`` | ``https://huggingface.co``      |
| hf_token       | ``HF_TOKEN``                              | none (never shown in a repr)    |
| ollama_host    | ``OLLAMA_HOST``                           | ``http://127.0.0.1:11434``      |
| ollama_library | ``NBMODELS_OLLAMA_LIBRARY``               | none (path or URL of a snapshot)|
| offline        | ``NBMODELS_OFFLINE``, ``HF_HUB_OFFLINE``  | false                           |
| timeout        | ``NBMODELS_TIMEOUT``                      | 10 seconds                      |
| custom_catalogs| ``NBMODELS_CATALOGS`` (``os.pathsep``)    | none (paths or URLs)            |
| local_paths    | ``NBMODELS_LOCAL_PATHS`` (``os.pathsep``) | none (extra folders to scan)    |
| ollama_models  | ``OLLAMA_MODELS``                         | ``~/.ollama/models``            |
| hf_cache       | ``HF_HUB_CACHE``, ``HF_HOME``/hub         | ``~/.cache/huggingface/hub``    |
| registry_url   | ``NBMODELS_REGISTRY_URL``                 | none (the home's registry.db)   |
| shared_cache   | ``NBMODELS_SHARED_CACHE``                 | false (a team's cache: group rw)|
| mirrors        | ``NBMODELS_MIRRORS`` (comma-separated)    | none (Hub mirrors, team caches) |
| openai_api_key | ``NBMODELS_OPENAI_API_KEY``,              | none (an OpenAI-compatible      |
|                | ``OPENAI_API_KEY``                        | server's key; never shown)      |
| demo           | ``NBMODELS_DEMO``                         | false (use the embedded demo)   |
| demo_hub       | ``NBMODELS_DEMO_HUB``                     | none (a running demo hub's URL) |
| demo_ollama    | ``NBMODELS_DEMO_OLLAMA``                  | none (its Ollama API's URL)     |
| hub_records    | ``NBMODELS_HUB_RECORDS``                  | none (Hub records for the demo) |

:func:`default_settings` is what the module-level functions (``nbmodels.search`` ...) use:
``Settings.from_env()`` unless :func:`use_settings` chose others for this process (the demo
does, to point the kernel at its hub without rewriting ``os.environ``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["TRUE_STRINGS", "Settings", "default_settings", "is_true", "use_settings"]

#: what counts as "on" in an environment variable or a query parameter (case-insensitive)
TRUE_STRINGS = frozenset({"1", "true", "yes", "on"})


def is_true(value: object) -> bool:
    """Whether ``value`` (an environment variable's text, a flag) means "on"."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_STRINGS


def _normalize_host(host: str) -> str:
    host = host.strip().rstrip("/")
    if not host:
        return "http://127.0.0.1:11434"
    if "://" not in host:
        # OLLAMA_HOST is often given as "0.0.0.0:11434" or "localhost"
        host = "http://" + host
    scheme, rest = host.split("://", 1)
    if ":" not in rest.split("/")[0]:
        rest = rest + ":11434"
    if rest.startswith("0.0.0.0"):
        rest = "127.0.0.1" + rest[len("0.0.0.0") :]
    return f"{scheme}://{rest}"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".cache" / "nbmodels")
    hf_endpoint: str = "https://huggingface.co"
    hf_token: str | None = field(default=None, repr=False)
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_library: str | None = None
    offline: bool = False
    timeout: float = 10.0
    custom_catalogs: tuple[str, ...] = ()
    local_paths: tuple[Path, ...] = ()
    ollama_models: Path = field(default_factory=lambda: Path.home() / ".ollama" / "models")
    hf_cache: Path = field(default_factory=lambda: Path.home() / ".cache" / "huggingface" / "hub")
    demo: bool = False
    demo_hub: str | None = None
    demo_ollama: str | None = None
    hub_records: Path | None = None
    # a team's registry (postgresql://user@host/db; may hold a password: never shown)
    registry_url: str | None = field(default=None, repr=False)
    shared_cache: bool = False  # the HF cache / Ollama store is shared by a team's homes
    # where downloads take files' bytes from, in order (Hub-compatible URLs, team cache
    # folders), each checked against the primary endpoint's hash (downloader.mirrors)
    mirrors: tuple[str, ...] = ()
    # the key of an OpenAI-compatible server (load(..., backend="openai")): never shown
    openai_api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())
        object.__setattr__(self, "ollama_models", Path(self.ollama_models).expanduser())
        object.__setattr__(self, "hf_cache", Path(self.hf_cache).expanduser())
        object.__setattr__(self, "custom_catalogs", tuple(str(c) for c in self.custom_catalogs))
        object.__setattr__(self, "mirrors", tuple(str(m) for m in self.mirrors))
        object.__setattr__(
            self, "local_paths", tuple(Path(p).expanduser() for p in self.local_paths)
        )
        if self.hub_records is not None:
            object.__setattr__(self, "hub_records", Path(self.hub_records).expanduser())
        object.__setattr__(self, "hf_endpoint", self.hf_endpoint.rstrip("/"))
        object.__setattr__(self, "ollama_host", _normalize_host(self.ollama_host))
        if not self.hf_endpoint.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"hf_endpoint must be an http(s) URL, got {self.hf_endpoint!r}; "
                "e.g. 'https://huggingface.co' or 'http://127.0.0.1:8000'."
            )
        if self.timeout <= 0:
            raise ConfigurationError(f"timeout must be positive seconds, got {self.timeout!r}.")

    def __repr__(self) -> str:  # the token never appears, only whether one is set
        token = "set" if self.hf_token else "none"
        return (
            f"Settings(home={str(self.home)!r}, hf_endpoint={self.hf_endpoint!r}, "
            f"hf_token=<{token}>, ollama_host={self.ollama_host!r}, "
            f"ollama_library={self.ollama_library!r}, offline={self.offline}, "
            f"timeout={self.timeout}, custom_catalogs={self.custom_catalogs!r}, "
            f"local_paths={[str(p) for p in self.local_paths]!r}, "
            f"ollama_models={str(self.ollama_models)!r}, hf_cache={str(self.hf_cache)!r}, "
            f"demo={self.demo}, demo_hub={self.demo_hub!r}, "
            f"registry_url=<{'set' if self.registry_url else 'none'}>, "
            f"shared_cache={self.shared_cache}, mirrors={self.mirrors!r}, "
            f"openai_api_key=<{'set' if self.openai_api_key else 'none'}>)"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("NBMODELS_HOME"):
            values["home"] = Path(env["NBMODELS_HOME"])
        endpoint = env.get("NBMODELS_HF_ENDPOINT") or env.get("HF_ENDPOINT")
        if endpoint:
            values["hf_endpoint"] = endpoint
        token = env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN")
        if token:
            values["hf_token"] = token
        if env.get("OLLAMA_HOST"):
            values["ollama_host"] = env["OLLAMA_HOST"]
        if env.get("NBMODELS_OLLAMA_LIBRARY"):
            values["ollama_library"] = env["NBMODELS_OLLAMA_LIBRARY"]
        values["offline"] = is_true(env.get("NBMODELS_OFFLINE") or env.get("HF_HUB_OFFLINE"))
        values["demo"] = is_true(env.get("NBMODELS_DEMO"))
        values["shared_cache"] = is_true(env.get("NBMODELS_SHARED_CACHE"))
        if env.get("NBMODELS_MIRRORS", "").strip():
            values["mirrors"] = tuple(
                m.strip() for m in env["NBMODELS_MIRRORS"].split(",") if m.strip()
            )
        openai_key = (env.get("NBMODELS_OPENAI_API_KEY") or env.get("OPENAI_API_KEY") or "").strip()
        if openai_key:
            values["openai_api_key"] = openai_key
        if env.get("NBMODELS_REGISTRY_URL", "").strip():
            values["registry_url"] = env["NBMODELS_REGISTRY_URL"].strip()
        for var, name in (
            ("NBMODELS_DEMO_HUB", "demo_hub"),
            ("NBMODELS_DEMO_OLLAMA", "demo_ollama"),
        ):
            if env.get(var, "").strip():
                values[name] = env[var].strip().rstrip("/")
        if env.get("NBMODELS_HUB_RECORDS", "").strip():
            values["hub_records"] = Path(env["NBMODELS_HUB_RECORDS"].strip())
        if env.get("NBMODELS_TIMEOUT"):
            try:
                values["timeout"] = float(env["NBMODELS_TIMEOUT"])
            except ValueError:
                raise ConfigurationError(
                    f"NBMODELS_TIMEOUT must be a number of seconds, got {env['NBMODELS_TIMEOUT']!r}."
                ) from None
        if env.get("NBMODELS_CATALOGS"):
            values["custom_catalogs"] = tuple(
                c for c in env["NBMODELS_CATALOGS"].split(os.pathsep) if c.strip()
            )
        if env.get("NBMODELS_LOCAL_PATHS"):
            values["local_paths"] = tuple(
                Path(c) for c in env["NBMODELS_LOCAL_PATHS"].split(os.pathsep) if c.strip()
            )
        if env.get("OLLAMA_MODELS"):
            values["ollama_models"] = Path(env["OLLAMA_MODELS"])
        if env.get("HF_HUB_CACHE"):
            values["hf_cache"] = Path(env["HF_HUB_CACHE"])
        elif env.get("HF_HOME"):
            values["hf_cache"] = Path(env["HF_HOME"]) / "hub"
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"


# -- the settings of the module-level functions ---------------------------------------------
_chosen: Settings | None = None
_generation = 0  # bumped by use_settings(): default objects built before it are rebuilt


def default_settings() -> Settings:
    """The settings the module-level functions use: those given to :func:`use_settings`,
    else a fresh ``Settings.from_env()``."""
    return _chosen if _chosen is not None else Settings.from_env()


def use_settings(settings: Settings | None) -> None:
    """Make the module-level functions (and their default catalog) use ``settings``;
    ``None`` goes back to the environment."""
    global _chosen, _generation
    if settings is not None and not isinstance(settings, Settings):
        raise ConfigurationError(f"use_settings() takes a Settings, got {settings!r}.")
    _chosen = settings
    _generation += 1


def settings_generation() -> int:
    """A number that changes whenever :func:`use_settings` is called."""
    return _generation
