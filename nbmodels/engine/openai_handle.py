"""A model served by a server of the OpenAI API (vLLM, llama.cpp's llama-server, LM Studio,
Ollama's ``/v1``...): :class:`OpenAIHandle`, with the methods of
:class:`~nbmodels.engine.handle.ModelHandle`.

    >>> model = nbmodels.load("Qwen/Qwen2.5-0.5B-Instruct", backend="openai",
    ...                       base_url="http://localhost:8000/v1")
    >>> model.generate("Once upon a time").text      # POST /v1/completions
    >>> model.chat("hi").text                        # POST /v1/chat/completions, history kept
    >>> model.embed(["a sentence"])                  # POST /v1/embeddings

The requests are written here with httpx (already a dependency), not with the ``openai``
package: five endpoints and their server-sent events are a small surface, and a second
client library would only add a dependency and its own error tree to map.

Sampling: the model's stored configuration (``nbmodels.configure``), else only what a call
or ``load(...)`` sets, goes out as OpenAI's fields: ``temperature`` (0 when
``do_sample=False``), ``top_p``, ``max_tokens`` (always sent: vLLM's default is 16),
``stop``, ``seed``; ``frequency_penalty`` and ``presence_penalty`` as call keywords (or in
the configuration's ``parameters``). The API has no field for ``top_k`` nor for a
repetition penalty: they go as extra body fields (``top_k``; ``repetition_penalty`` as vLLM
names it and ``repeat_penalty`` as llama-server does), which those servers read and
others ignore; ``num_beams`` cannot go at all. Each of these is said once per handle (a
:class:`~nbmodels.errors.EngineWarning`). Loading settings (``dtype``, ``quantization``...)
belong to the server.

The API key (``api_key=``, else the settings' ``openai_api_key`` when it has one) goes as
``Authorization: Bearer``; it is never shown, logged, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import (
    AccessDeniedError,
    ConfigurationError,
    EngineError,
    EngineWarning,
    ModelNotFoundError,
    NBModelsError,
    SourceTimeoutError,
    SourceUnavailableError,
)
from ..settings import Settings
from ..types import ModelConfiguration
from .response import Response

__all__ = ["OpenAIHandle"]

_ALIASES = {"max_new_tokens": "max_tokens", "stop": "stop_sequences"}
_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelConfiguration))
_PENALTIES = ("frequency_penalty", "presence_penalty")  # OpenAI's, not the configuration's
#: what the configuration says about sampling (the rest is about loading: the server's)
_SAMPLING = ("max_tokens", "temperature", "do_sample", "top_p", "top_k", "seed",
             "stop_sequences", "repetition_penalty", "num_beams")  # fmt: skip
#: how the model is loaded: the server decided that when it loaded the model
_LOADING = ("dtype", "device_map", "quantization", "double_quant", "compute_dtype",
            "attn_implementation", "trust_remote_code", "safetensors_only", "use_half_precision",
            "use_quantization", "quantization_type", "max_context_length")  # fmt: skip


class _NoEndpoint(Exception):
    """The server has the model but not this endpoint (404/405 on /completions)."""


class OpenAIHandle:
    """A model served over the OpenAI API at ``base_url`` (e.g. ``http://localhost:8000/v1``):
    the same methods as :class:`ModelHandle`. ``config`` (default: the model's stored
    configuration) and ``overrides`` set the sampling; ``transport`` (an httpx transport)
    is for tests."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None = None,
        config: ModelConfiguration | None = None,
        settings: Settings,
        transport: Any = None,
        **overrides: Any,
    ) -> None:
        import httpx

        if not base_url or not str(base_url).startswith(("http://", "https://")):
            raise ConfigurationError(
                f"backend='openai' needs base_url=, the server's OpenAI API (got {base_url!r}): "
                "e.g. 'http://localhost:8000/v1' (vLLM), 'http://localhost:8080/v1' "
                "(llama-server), 'http://localhost:11434/v1' (Ollama)."
            )
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"A served model is named by a string; got {model!r}.")
        self.model_id = model.strip()
        self.base_url = str(base_url).rstrip("/")
        self.settings = settings
        self.history: list[dict[str, str]] = []
        self.last_response: Response | None = None
        self._api_key = api_key or getattr(settings, "openai_api_key", None) or None
        from ..config.configuration import get_configuration

        stored = config or get_configuration(self.model_id, settings)
        self._stored = stored is not None  # a configuration someone wrote: all of it goes
        self._given = set(overrides)
        cfg = self._apply(stored or ModelConfiguration(self.model_id), overrides)
        penalties = {k: overrides[k] for k in _PENALTIES if k in overrides}
        self.config = dataclasses.replace(cfg, parameters={**cfg.parameters, **penalties})
        self._stop = threading.Event()
        self._completions = True  # False once the server showed it has no /completions
        self._said: set[str] = set()  # what was said once (a warning) for this handle
        loading = [k for k in overrides if k in _LOADING]
        if loading:
            self._say_once("loading", f"{self.model_id}: {', '.join(loading)} change nothing here: the server at {self.base_url} loaded the model with its own settings.")  # fmt: skip
        self._closed = False
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url + "/", headers=headers, transport=transport,
            timeout=httpx.Timeout(max(settings.timeout, 120.0), connect=settings.timeout),
        )  # fmt: skip

    def __repr__(self) -> str:  # the key never: only whether one is set
        key = "an API key" if self._api_key else "no API key"
        return f"<OpenAIHandle {self.model_id!r} at {self.base_url}, {key}>"

    # -- settings ----------------------------------------------------------------------------------
    def _apply(self, cfg: ModelConfiguration, overrides: dict[str, Any]) -> ModelConfiguration:
        from ..config.configuration import validate

        changes = {_ALIASES.get(k, k): v for k, v in overrides.items() if k not in _PENALTIES}
        unknown = [k for k in changes if k not in _FIELDS]
        if unknown:
            raise ConfigurationError(f"Unknown generation setting(s): {', '.join(unknown)}.")
        temperature = changes.get("temperature")
        if "do_sample" not in changes and isinstance(temperature, int | float) and temperature > 0:
            changes["do_sample"] = None  # a temperature asked for means sampling (as ModelHandle)
        if isinstance(changes.get("stop_sequences"), str):
            changes["stop_sequences"] = (changes["stop_sequences"],)
        cfg = dataclasses.replace(cfg, **changes)
        validate(cfg).raise_for_errors()
        return cfg

    def _sampling(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The request's sampling fields for this call (see the module's docstring)."""
        cfg = self._apply(self.config, overrides)
        chosen = set(_SAMPLING) if self._stored else {_ALIASES.get(k, k) for k in {*self._given, *overrides}}  # fmt: skip
        body: dict[str, Any] = {"max_tokens": cfg.max_tokens}
        if chosen & {"temperature", "do_sample"}:
            body["temperature"] = 0.0 if cfg.do_sample is False else float(cfg.temperature)
        if "top_p" in chosen:
            body["top_p"] = cfg.top_p
        if "seed" in chosen and cfg.seed is not None:
            body["seed"] = cfg.seed
        if "stop_sequences" in chosen and cfg.stop_sequences:
            body["stop"] = list(cfg.stop_sequences)
        for name in _PENALTIES:
            value = overrides.get(name, cfg.parameters.get(name))
            if value is not None:
                body[name] = float(value)
        extra, lost = [], []
        if "top_k" in chosen and cfg.top_k > 0 and body.get("temperature") != 0:
            body["top_k"] = cfg.top_k
            extra.append(f"top_k={cfg.top_k}")
        if "repetition_penalty" in chosen and cfg.repetition_penalty != 1.0:
            body["repetition_penalty"] = body["repeat_penalty"] = cfg.repetition_penalty
            extra.append(f"repetition_penalty={cfg.repetition_penalty}")
        if "num_beams" in chosen and cfg.num_beams > 1:
            lost.append(f"num_beams={cfg.num_beams}")
        if extra:
            self._say_once("extra", f"{self.model_id}: {', '.join(extra)} are not fields of the OpenAI API: they go as extra fields, which vLLM and llama-server read and other servers (Ollama's /v1, OpenAI's) ignore.")  # fmt: skip
        if lost:
            self._say_once("lost", f"{self.model_id}: {', '.join(lost)} cannot go over the OpenAI API: the server decodes without beam search.")  # fmt: skip
        return body

    def _say_once(self, what: str, message: str) -> None:
        if what not in self._said:
            self._said.add(what)
            warnings.warn(message, EngineWarning, stacklevel=4)

    # -- generation ---------------------------------------------------------------------------------
    def generate(self, prompt: str | Sequence[str], **overrides: Any) -> Any:
        """Complete ``prompt`` (or each of a list of prompts, one request each); ``overrides``
        change any configuration field for this call (``temperature=0``, ``max_tokens=64``,
        ``stop=["\\n"]``, ``seed=0``) or set ``frequency_penalty`` / ``presence_penalty``.
        A server without ``/completions`` gets the prompt as one user message (said once)."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        sampling = self._sampling(overrides)
        responses = []
        for text in prompts:
            start = time.perf_counter()
            r = self._complete(text, sampling)
            responses.append(self._response(r, time.perf_counter() - start, chat=not self._completions))  # fmt: skip
        self._record(responses)
        return responses[0] if isinstance(prompt, str) else responses

    def _complete(self, prompt: str, sampling: dict[str, Any]) -> dict[str, Any]:
        if self._completions:
            try:
                return self._post("completions", {"prompt": prompt, **sampling})
            except _NoEndpoint:
                self._no_completions()
        return self._post("chat/completions", {"messages": [{"role": "user", "content": prompt}], **sampling})  # fmt: skip

    def _no_completions(self) -> None:
        self._completions = False
        self._say_once("chat", f"{self.base_url} has no /completions endpoint: generate() and stream() send the prompt as one user message to /chat/completions (the model's chat template applies).")  # fmt: skip

    def stream(self, prompt: str, **overrides: Any) -> Iterator[str]:
        """Text chunks as the server sends them (server-sent events); ``handle.stop()`` ends
        the stream at the next chunk and closes the connection, which stops the server's
        generation. ``handle.last_response`` holds the counts after."""
        sampling = self._sampling(overrides)
        if self._completions:
            events = self._events("completions", {"prompt": prompt, **sampling})
            try:
                first = next(events)
            except _NoEndpoint:
                self._no_completions()
            except StopIteration:
                return
            else:
                yield from _chain(first, events)
                return
        yield from self._events("chat/completions", {"messages": [{"role": "user", "content": prompt}], **sampling})  # fmt: skip

    def stop(self) -> None:
        """End the stream running now, at its next chunk."""
        self._stop.set()

    def chat(self, message: str, *, stream: bool = False, **overrides: Any) -> Any:
        """One turn of a conversation (the server applies the model's chat template), with
        the configured system prompt; the history is kept (``handle.history``, ``reset()``)."""
        messages = list(self.history)
        if not messages and self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        messages.append({"role": "user", "content": message})
        sampling = self._sampling(overrides)
        if stream:
            return self._chat_stream(messages, sampling)
        start = time.perf_counter()
        r = self._post("chat/completions", {"messages": messages, **sampling})
        response = self._response(r, time.perf_counter() - start, chat=True)
        self.history = [*messages, {"role": "assistant", "content": response.text}]
        self._record([response])  # a chat is a generation, as ModelHandle counts it
        return response

    def _chat_stream(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Iterator[str]:  # fmt: skip
        parts = []
        for chunk in self._events("chat/completions", {"messages": messages, **sampling}):
            parts.append(chunk)
            yield chunk
        self.history = [*messages, {"role": "assistant", "content": "".join(parts)}]

    def reset(self) -> None:
        """Forget the conversation."""
        self.history = []

    def embed(
        self, texts: str | Sequence[str], *, normalize: bool = True, dimensions: int | None = None
    ) -> Any:
        """Embeddings of ``texts`` (a numpy array, one row each), L2-normalised unless
        ``normalize=False`` (as ModelHandle.embed; most servers normalise already);
        ``dimensions`` asks the server for shorter vectors."""
        import numpy as np

        items = [texts] if isinstance(texts, str) else list(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        body: dict[str, Any] = {"input": items, "encoding_format": "float"}
        if dimensions is not None:
            body["dimensions"] = int(dimensions)
        start = time.perf_counter()
        r = self._post("embeddings", body)
        rows = sorted(r.get("data") or [], key=lambda d: d.get("index", 0))
        if len(rows) != len(items):
            raise EngineError(f"{self.base_url} sent {len(rows)} embeddings for {len(items)} texts.")  # fmt: skip
        vectors = np.asarray([d["embedding"] for d in rows], dtype=np.float32)
        if normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        usage = r.get("usage") or {}
        self._record(tokens_in=int(usage.get("prompt_tokens") or 0), seconds=time.perf_counter() - start, task="embedding")  # fmt: skip
        return vectors

    def models(self) -> list[str]:
        """The models the server has (``GET /models``)."""
        r = self._request("GET", "models")
        return sorted(str(m.get("id")) for m in (r.get("data") or []) if isinstance(m, dict))

    def unload(self) -> int:
        """Nothing of the model is in this kernel: closes the connections; returns 0 bytes."""
        self._closed = True
        self._client.close()
        return 0

    def __del__(self) -> None:  # a handle dropped without unload(): its sockets closed, not leaked
        client = getattr(self, "_client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    # -- answers -------------------------------------------------------------------------------
    def _response(self, r: dict[str, Any], seconds: float, *, chat: bool) -> Response:
        choice = (r.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        usage = r.get("usage") or {}
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Response(text or "", int(usage.get("prompt_tokens") or 0),
                        int(usage.get("completion_tokens") or 0), seconds, None, reason)  # fmt: skip

    def _events(self, endpoint: str, body: dict[str, Any]) -> Iterator[str]:
        """The text of a streamed answer, chunk by chunk; ``last_response`` set at its end."""
        chat = endpoint.startswith("chat")
        body = {**body, "model": self.model_id, "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        self._stop.clear()
        start = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage: dict[str, Any] = {}
        reason = "stop"
        with self._send("POST", endpoint, body, stream=True) as response:
            for line in response.iter_lines():
                if self._stop.is_set():
                    reason = "stopped"
                    break
                if not line.startswith("data:"):
                    continue  # blank lines, comments (":"), "event:" lines
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = _json(data)
                if isinstance(event.get("error"), dict | str):  # vLLM reports errors mid-stream
                    raise EngineError(f"{self.base_url} stopped the stream: {self._scrub(_message(event))}")  # fmt: skip
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content") if chat else choice.get("text")
                    if choice.get("finish_reason"):
                        reason = "length" if choice["finish_reason"] == "length" else "stop"
                    if text:
                        first = first if first is not None else time.perf_counter()
                        parts.append(text)
                        yield text
        seconds = time.perf_counter() - start
        # without usage (a server that ignores stream_options) each chunk counts as a token,
        # as servers send them one token each
        self.last_response = Response(
            "".join(parts), int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or len(parts)), seconds,
            None if first is None else first - start, reason,
        )  # fmt: skip
        self._record([self.last_response])

    # -- HTTP ----------------------------------------------------------------------------------
    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", endpoint, {**body, "model": self.model_id})

    def _request(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        with self._send(method, endpoint, body) as response:
            return _json(response.text)

    @contextlib.contextmanager
    def _send(self, method: str, endpoint: str, body: dict[str, Any] | None, *, stream: bool = False) -> Iterator[Any]:  # fmt: skip
        """The server's answer to one request, its errors mapped onto nbmodels' (a 404 on
        /completions for a model the server has: :class:`_NoEndpoint`)."""
        import httpx

        if self._closed:
            raise EngineError(f"{self.model_id} was unloaded: load() it again.")
        try:
            request = self._client.build_request(method, endpoint, json=body)
            response = self._client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise SourceTimeoutError(f"{self.base_url} did not answer within {self.settings.timeout:g} s (connect) / {max(self.settings.timeout, 120):g} s (read): the server may be busy; try again, or raise NBMODELS_TIMEOUT.") from None  # fmt: skip
        except httpx.ConnectError:
            raise SourceUnavailableError(f"Nothing answers at {self.base_url}: start the server (vllm serve, llama-server, ollama serve, LM Studio's server) or check base_url.") from None  # fmt: skip
        except httpx.TransportError as exc:
            raise SourceUnavailableError(f"{self.base_url} could not be talked to: {type(exc).__name__}: {self._scrub(str(exc))}") from None  # fmt: skip
        try:
            if response.status_code >= 400:
                if stream:
                    response.read()
                self._raise_for(response, endpoint)
            yield response
        except httpx.TransportError as exc:  # the connection dropped mid-stream
            raise SourceUnavailableError(f"{self.base_url} closed the stream: {type(exc).__name__}: {self._scrub(str(exc))}") from None  # fmt: skip
        finally:
            response.close()

    def _raise_for(self, response: Any, endpoint: str) -> None:
        status = response.status_code
        message = self._scrub(_message(_json(response.text)) or response.text[:300])
        if status in (401, 403):
            raise AccessDeniedError(
                f"{self.base_url} refused the API key ({status}: {message}): pass api_key=... "
                "or set OPENAI_API_KEY / NBMODELS_OPENAI_API_KEY."
                if self._api_key
                else f"{self.base_url} wants an API key ({status}: {message}): pass api_key=... "
                "or set OPENAI_API_KEY / NBMODELS_OPENAI_API_KEY.",
                reason="bad-token" if self._api_key else "no-token",
                model_id=self.model_id,
            )
        if status in (404, 405) and endpoint != "models":
            self._check_model()
            if endpoint == "completions":
                raise _NoEndpoint()
        raise EngineError(f"{self.base_url}/{endpoint} answered {status}: {message}")

    def _check_model(self) -> None:
        """Raise :class:`ModelNotFoundError` (with the models there) when the server lacks it."""
        try:
            known = self.models()
        except NBModelsError:
            return  # no list to compare with: the caller says what it has
        name = self.model_id
        if name in known or (":" not in name and f"{name}:latest" in known):
            return
        close = difflib.get_close_matches(name, known, n=1)
        raise ModelNotFoundError(
            f"{self.base_url} has no model {name!r}."
            + (f" Did you mean {close[0]!r}?" if close else "")
            + (f" It has: {', '.join(known)}." if known else " It lists no models.")
        )

    def _scrub(self, text: str) -> str:
        """``text`` without the API key (a server may echo it back in an error)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    # -- the registry ---------------------------------------------------------------------------
    def _record(self, responses: Sequence[Response] = (), *, tokens_in: int = 0, seconds: float = 0.0, task: str = "generation") -> None:  # fmt: skip
        """Usage into the registry when the model is registered there under this name (best
        effort, as ModelHandle's: a registry that cannot be written never fails a call)."""
        from ..storage.registry import Registry

        try:
            reg = self.__dict__.get("_registry")
            if reg is None:
                reg = self.__dict__["_registry"] = Registry(settings=self.settings)
            if not reg.path.exists() or self.model_id not in reg:
                return
            if responses:
                reg.record_usage(
                    self.model_id,
                    tokens_in=sum(r.prompt_tokens for r in responses),
                    tokens_out=sum(r.completion_tokens for r in responses),
                    seconds=max(r.seconds for r in responses),
                    task=task,
                )
            else:
                reg.record_usage(self.model_id, tokens_in=tokens_in, seconds=seconds, task=task)
        except NBModelsError as exc:
            if "registry" not in self._said:
                from ..errors import RegistryWarning

                self._said.add("registry")
                warnings.warn(f"{self.model_id}: usage is not recorded in the registry: {exc}", RegistryWarning, stacklevel=3)  # fmt: skip


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(payload: dict[str, Any]) -> str:
    """The message of an error answer: OpenAI's ``{"error": {"message"}}``, vLLM's and
    others' ``{"error": "..."}``, FastAPI's ``{"detail": ...}``, ``{"message": ...}``."""
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error:
        return str(error)
    return str(payload.get("detail") or payload.get("message") or "")
