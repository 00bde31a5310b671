"""The ``ollama`` source: models of a running Ollama, and the Ollama library catalog.

    >>> src = OllamaSource()                 # OLLAMA_HOST, default http://127.0.0.1:11434
    >>> src.is_running()
    >>> src.local_models()                   # what `ollama list` shows, with tasks detected
    >>> src.search("llama", task="embedding")

Local models come from the server through the official ``ollama`` client (``/api/tags`` and
``/api/show``), so this works unchanged against a real Ollama or the project's local server
(:mod:`nbmodels.ollama_server`).

Ollama has no API to list its public library: the library exists only as a web site. The
catalog of *available* models therefore comes from a snapshot of library manifests
(``{"manifests": {"model:tag": manifest}}``): ``settings.ollama_library``
(``NBMODELS_OLLAMA_LIBRARY``, a path or URL) if set, else ``GET {host}/api/library`` (an
extension our local server offers; a real Ollama does not). Library entries carry real
names, tags, layer sizes and media types; parameter counts come from the size in the tag
(``8b``; a ``latest`` tag borrows it from the size tag that has the same weights), and
quantization is estimated from bits per weight.

The library has no download counts, likes or dates, so ``popular()`` and ``trending()``
cannot rank by popularity: both list the downloaded models first, then one entry per
library model (its ``latest`` tag), by name.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import (
    ConfigurationError,
    ModelNotFoundError,
    NBModelsError,
    OllamaNotRunningError,
    SourceTimeoutError,
    SourceUnavailableError,
    SourceWarning,
)
from ...settings import Settings
from ...storage.ollama_store import (
    DEFAULT_HOST,
    DEFAULT_NAMESPACE,
    format_parameter_size,
    layer_files,
    media_type,
    parse_model_name,
    parse_parameter_size,
    quantization_from_bits,
    sibling_parameter_count,
)
from ...types import ModelMetadata, ModelSource
from ..tasks import annotate, capabilities_from_media_types
from .base import InMemorySource

if TYPE_CHECKING:  # pragma: no cover
    import ollama

__all__ = ["OllamaSource", "license_id"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

LIBRARY_URL = "https://ollama.com/library"

# first line of a license text (lower-case, starts with) -> SPDX-like id, as the Hub spells it
_LICENSES = (
    ("apache license", "apache-2.0"),
    ("mit license", "mit"),
    ("the mit license", "mit"),
    ("meta llama 3 community license", "llama3"),
    ("llama 3.1 community license", "llama3.1"),
    ("llama 3.2 community license", "llama3.2"),
    ("llama 3.3 community license", "llama3.3"),
    ("llama 4 community license", "llama4"),
    ("llama 2 community license", "llama2"),
    ("gemma terms of use", "gemma"),
    ("attribution-noncommercial 4.0", "cc-by-nc-4.0"),
    ("creative commons attribution-noncommercial 4.0", "cc-by-nc-4.0"),
    ("creative commons attribution 4.0", "cc-by-4.0"),
    ("bsd 3-clause", "bsd-3-clause"),
    ("gnu general public license", "gpl-3.0"),
    ("tongyi qianwen license", "qwen"),
    ("deepseek license", "deepseek"),
)


def license_id(text: str | None) -> str | None:
    """A license id (``"apache-2.0"``, ``"mit"``, ``"llama3"``...) from a license text's
    first lines, or None if it is not one nbmodels recognises."""
    lines = [ln.strip().lower() for ln in (text or "").splitlines() if ln.strip()][:3]
    for line in lines:
        for prefix, ident in _LICENSES:
            if line.startswith(prefix) or f" {prefix}" in line:
                return ident
    return None


def _first_line(text: str | None) -> str | None:
    return next((ln.strip()[:120] for ln in (text or "").splitlines() if ln.strip()), None)


def _show(client: ollama.Client, *, name: str) -> Any:
    return client.show(name)


class OllamaSource(InMemorySource):
    """Models of the Ollama at ``settings.ollama_host``, and the library catalog.

    ``host`` and ``library`` override the settings (``OLLAMA_HOST``,
    ``NBMODELS_OLLAMA_LIBRARY``). The library snapshot is read once and kept.
    """

    name = "ollama"
    kind = ModelSource.OLLAMA

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        host: str | None = None,
        library: str | Path | None = None,
    ) -> None:
        super().__init__(settings)
        if host is not None:
            self.settings = self.settings.with_(ollama_host=host)
        self.host = self.settings.ollama_host
        self.library = str(library) if library is not None else self.settings.ollama_library
        self._client: ollama.Client | None = None
        self._library: dict[str, dict[str, Any]] | None = None
        self._library_models: list[ModelMetadata] | None = None
        self._warned_unshown: tuple[str, ...] = ()
        self._warned_library = False

    def __repr__(self) -> str:
        return f"<OllamaSource host={self.host!r} library={self.library!r}>"

    # -- the server -----------------------------------------------------------------------
    @property
    def client(self) -> ollama.Client:
        """The official ``ollama`` client for ``self.host`` (made on first use)."""
        if self._client is None:
            import ollama

            self._client = ollama.Client(host=self.host, timeout=self.settings.timeout)
        return self._client

    def _not_running(self, detail: str = "") -> OllamaNotRunningError:
        why = f" ({detail})" if detail else ""
        return OllamaNotRunningError(
            f"Ollama is not running at {self.host}{why}: start it with `ollama serve` "
            "or set OLLAMA_HOST."
        )

    def _call(self, fn: Callable[[ollama.Client], _T], *, model: str | None = None) -> _T:
        """Run ``fn(client)``, turning the client's and httpx's errors into nbmodels errors."""
        import httpx
        import ollama

        try:
            return fn(self.client)
        except NBModelsError:
            raise
        except ollama.ResponseError as exc:
            if exc.status_code == 404 and model is not None:
                raise ModelNotFoundError(
                    f"Ollama at {self.host} has no model {model!r} ({exc.error}). "
                    f"Pull it with `ollama pull {model}`, or list what is there with "
                    "local_models()."
                ) from None
            raise SourceUnavailableError(
                f"Ollama at {self.host} answered {exc.status_code}: {exc.error}"
            ) from None
        except httpx.TimeoutException:  # it runs, but is slow or busy (loading a model)
            raise SourceTimeoutError(
                f"Ollama at {self.host} did not answer within {self.settings.timeout:g} s "
                "(busy loading a model?): try again, or raise NBMODELS_TIMEOUT."
            ) from None
        except (ConnectionError, httpx.TransportError):
            raise self._not_running() from None

    def version(self) -> str:
        """The server's version (``GET /api/version``)."""
        import httpx

        def get(client: ollama.Client) -> str:
            response = httpx.get(f"{self.host}/api/version", timeout=self.settings.timeout)
            response.raise_for_status()
            return str(response.json().get("version", ""))

        try:
            return self._call(get)
        except httpx.HTTPStatusError as exc:
            raise SourceUnavailableError(
                f"{self.host} answered {exc.response.status_code} to /api/version: "
                "is it an Ollama server?"
            ) from None
        except ValueError:
            raise SourceUnavailableError(
                f"{self.host} did not answer /api/version with JSON: is it an Ollama server?"
            ) from None

    def is_running(self) -> bool:
        """Whether an Ollama server answers at ``self.host`` (never raises)."""
        try:
            self.version()
        except Exception:
            return False
        return True

    def is_available(self) -> bool:
        return self.is_running()

    def require_running(self) -> None:
        """Raise OllamaNotRunningError (saying how to start it) unless the server answers."""
        if not self.is_running():
            raise self._not_running()

    # -- local models ---------------------------------------------------------------------
    def local_models(self) -> list[ModelMetadata]:
        """The models the server has (``ollama list``), each described by ``/api/show``."""
        listed = self._call(lambda c: c.list()).models
        models = []
        unshown: list[str] = []
        for entry in listed:
            name = entry.model or ""
            try:
                shown = self._call(functools.partial(_show, name=name), model=name)
            except ModelNotFoundError:
                # an older or partial Ollama API, or a delete racing us: the /api/tags entry
                # still has size, family, parameter size and quantization: keep the model
                shown = None
                unshown.append(name)
            models.append(self._local_meta(name, entry, shown))
        if unshown and tuple(unshown) != self._warned_unshown:
            self._warned_unshown = tuple(unshown)
            warnings.warn(
                SourceWarning(
                    f"Ollama at {self.host} lists {', '.join(unshown)} but /api/show answered "
                    "404: described from /api/tags only (no template, capabilities or "
                    "license)."
                ),
                stacklevel=3,
            )
        return models

    def _local_meta(self, name: str, entry: Any, shown: Any) -> ModelMetadata:
        host, namespace, model, tag = parse_model_name(name)
        details = (shown.details if shown is not None else None) or (
            entry.details if entry is not None else None
        )
        info = dict((shown.modelinfo if shown is not None else None) or {})
        caps = list((shown.capabilities if shown is not None else None) or [])
        arch = info.get("general.architecture") or (details.family if details else None)
        params = info.get("general.parameter_count")
        if not isinstance(params, int) or params <= 0:
            params = parse_parameter_size(details.parameter_size if details else None)
        license_text = shown.license if shown is not None else None
        extra: dict[str, Any] = {
            "capabilities": caps,
            "details": details.model_dump(exclude_none=True) if details else {},
            "digest": entry.digest if entry is not None else None,
            "host": self.host,
        }
        if arch and info.get(f"{arch}.context_length"):
            extra["context_length"] = info[f"{arch}.context_length"]
        if details and details.quantization_level:
            extra["quantization"] = details.quantization_level
        if license_text and not license_id(license_text):
            extra["license_name"] = _first_line(license_text)
        if shown is not None and shown.template:
            extra["template"] = shown.template
        tag_words = ["gguf", "ollama", *([arch] if arch else []), *caps]
        size = int(entry.size) if entry is not None and entry.size is not None else None
        if size is None:
            manifest = self._library_or_empty().get(f"{model}:{tag}")
            if manifest:
                size = sum(int(lay.get("size") or 0) for lay in manifest.get("layers", []))
        meta = ModelMetadata(
            id=name,
            source=ModelSource.OLLAMA,
            name=model,
            author=None if namespace == DEFAULT_NAMESPACE else namespace,
            description=f"{model}:{tag} on the Ollama at {self.host}",
            license=license_id(license_text),
            version=tag,
            tags=tuple(dict.fromkeys(t.lower() for t in tag_words)),
            parameters=params,
            size_bytes=size,
            updated_at=entry.modified_at if entry is not None else shown.modified_at,
            library="gguf",
            architectures=(str(arch),) if arch else (),
            download_url=self._library_url(host, namespace, model, tag),
            is_downloaded=True,
            extra=extra,
        )
        return annotate(meta, capabilities=caps)

    @staticmethod
    def _library_url(host: str, namespace: str, model: str, tag: str) -> str | None:
        if host != DEFAULT_HOST:
            return None
        if namespace == DEFAULT_NAMESPACE:
            return f"{LIBRARY_URL}/{model}:{tag}"
        return f"{LIBRARY_URL.removesuffix('/library')}/{namespace}/{model}:{tag}"

    # -- the library ----------------------------------------------------------------------
    def _read_library(self) -> bytes:
        import httpx

        location = self.library
        if location:
            try:
                if location.startswith(("http://", "https://")):
                    response = httpx.get(location, timeout=self.settings.timeout)
                    response.raise_for_status()
                    return response.content
                return Path(location).expanduser().read_bytes()
            except (OSError, httpx.HTTPError) as exc:
                raise SourceUnavailableError(
                    f"Cannot read the Ollama library snapshot {location!r} ({exc}). Point "
                    "NBMODELS_OLLAMA_LIBRARY at a readable snapshot (a path or URL of an "
                    "ollama-library.json)."
                ) from None
        try:
            response = httpx.get(f"{self.host}/api/library", timeout=self.settings.timeout)
            response.raise_for_status()
            return response.content
        except httpx.HTTPError as exc:
            raise SourceUnavailableError(
                f"Ollama has no API that lists its library and {self.host}/api/library did "
                f"not answer ({type(exc).__name__}); set NBMODELS_OLLAMA_LIBRARY to a snapshot "
                "(path or URL of an ollama-library.json)."
            ) from None

    def library_manifests(self) -> dict[str, dict[str, Any]]:
        """``{"model:tag": manifest}`` of the library snapshot (read once, then kept)."""
        if self._library is None:
            raw = self._read_library()
            try:
                doc = json.loads(raw)
            except ValueError as exc:
                raise ConfigurationError(
                    f"The Ollama library snapshot is not JSON ({exc}); expected "
                    '{"manifests": {"model:tag": manifest}}.'
                ) from None
            manifests = doc.get("manifests") if isinstance(doc, dict) else None
            if not isinstance(manifests, dict):
                raise ConfigurationError(
                    "The Ollama library snapshot has no 'manifests' object; expected "
                    '{"manifests": {"model:tag": manifest}}.'
                )
            self._library = {
                str(k): v
                for k, v in manifests.items()
                if isinstance(v, dict) and isinstance(v.get("layers"), list) and ":" in str(k)
            }
        return self._library

    def _library_or_empty(self) -> dict[str, dict[str, Any]]:
        try:
            return self.library_manifests()
        except NBModelsError:
            return {}

    def available_models(self) -> list[ModelMetadata]:
        """One entry per ``model:tag`` of the library snapshot (built once, then kept)."""
        if self._library_models is None:
            manifests = self.library_manifests()
            self._library_models = [
                self._library_meta(key, manifest, manifests) for key, manifest in manifests.items()
            ]
        return list(self._library_models)

    def _library_meta(
        self, key: str, manifest: Mapping[str, Any], manifests: Mapping[str, Any]
    ) -> ModelMetadata:
        """A library entry as a model: what its manifest shows, nothing guessed from names
        (tasks and model type then come from :func:`nbmodels.discover.tasks.annotate`)."""
        model, _, tag = key.partition(":")
        layers = [lay for lay in manifest.get("layers", []) if isinstance(lay, Mapping)]
        media = [str(lay.get("mediaType", "")) for lay in layers]
        weights = next((lay for lay in layers if lay.get("mediaType") == media_type("model")), {})
        count = sibling_parameter_count(manifests, model, tag)
        weights_size = int(weights.get("size") or 0)
        quantization = (
            quantization_from_bits(weights_size * 8 / count) if count and weights_size else None
        )
        caps = capabilities_from_media_types(media)
        meta = ModelMetadata(
            id=key,
            source=ModelSource.OLLAMA,
            name=model,
            description=f"{model}:{tag} from the Ollama library",
            version=tag,
            tags=tuple(dict.fromkeys(["gguf", "ollama", *caps])),
            parameters=count,
            size_bytes=sum(int(lay.get("size") or 0) for lay in layers),
            library="gguf",
            files=layer_files(layers),
            download_url=f"{LIBRARY_URL}/{key}",
            extra={
                "media_types": media,
                "capabilities": list(caps),
                "digest": weights.get("digest"),
                "parameter_size": format_parameter_size(count),
                "quantization": quantization,  # estimated from bits per weight
                "origin": "library",
            },
        )
        return annotate(meta, capabilities=caps)

    # -- Source ---------------------------------------------------------------------------
    def models(self) -> list[ModelMetadata]:
        """Downloaded models first, then the library's by name (what ``search`` filters)."""
        return self._all_models()

    def _all_models(self) -> list[ModelMetadata]:
        """Local models first, then library entries not downloaded; whichever answers."""
        local: list[ModelMetadata] = []
        library: list[ModelMetadata] = []
        errors: list[NBModelsError] = []
        try:
            local = self.local_models()
        except SourceUnavailableError as exc:
            errors.append(exc)
        try:
            library = self.available_models()
        except (SourceUnavailableError, ConfigurationError) as exc:
            errors.append(exc)
            if len(errors) == 1 and not self._warned_library:
                self._warned_library = True  # the server answered: say what is missing
                warnings.warn(
                    SourceWarning(f"The Ollama library is not shown: {exc}"), stacklevel=3
                )
        if len(errors) == 2:
            first = errors[0]
            cls = (
                type(first) if isinstance(first, SourceUnavailableError) else SourceUnavailableError
            )
            raise cls(
                f"{first} Without a server, NBMODELS_OLLAMA_LIBRARY can name a library snapshot."
            )
        have = {m.id for m in local}
        return local + [m for m in library if m.id not in have]

    def model_info(self, model_id: str) -> ModelMetadata:
        """The local model if the server has it (``/api/show``), else the library entry."""
        host, namespace, model, tag = parse_model_name(model_id)  # InvalidModelIdError
        name = (
            f"{model}:{tag}" if (host, namespace) == (DEFAULT_HOST, DEFAULT_NAMESPACE) else model_id
        )
        not_running: OllamaNotRunningError | None = None
        try:
            shown = self._call(lambda c: c.show(name), model=name)
            entry = next(
                (e for e in self._call(lambda c: c.list()).models if e.model == name), None
            )
            return self._local_meta(name, entry, shown)
        except ModelNotFoundError:
            pass
        except OllamaNotRunningError as exc:
            not_running = exc
        try:
            manifests = self.library_manifests()
        except (SourceUnavailableError, ConfigurationError):
            if not_running is not None:
                raise not_running from None
            manifests = {}
        if name in manifests:
            return self._library_meta(name, manifests[name], manifests)
        close = sorted(k for k in manifests if k.startswith(f"{model}:"))[:5]
        hint = f" Tags of {model!r} in the library: {', '.join(close)}." if close else ""
        raise ModelNotFoundError(
            f"No Ollama model {name!r} on {self.host} or in the library snapshot.{hint} "
            "Search with nbmodels.search(..., source='ollama')."
        )

    def popular(self, limit: int = 50) -> list[ModelMetadata]:
        """Downloaded models, then each library model's ``latest`` tag by name (the library
        publishes no popularity)."""
        models = self._all_models()
        local = [m for m in models if m.is_downloaded]
        latest = sorted(
            (m for m in models if not m.is_downloaded and m.version == "latest"),
            key=lambda m: m.name,
        )
        return (local + latest)[: max(limit, 0)]

    def trending(self, limit: int = 50) -> list[ModelMetadata]:
        """The same as :meth:`popular`: the library has no dates or download counts."""
        return self.popular(limit)
