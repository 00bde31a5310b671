"""A model run by an Ollama server rather than in the kernel: :class:`OllamaHandle`, with the
methods of :class:`~nbmodels.engine.handle.ModelHandle` (``load("ollama:<name>")``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import EngineError
from ..settings import Settings
from .response import Response

__all__ = ["OllamaHandle"]


class OllamaHandle:
    """An Ollama model, run by the Ollama server (``settings.ollama_host``) through the real
    ``ollama`` client: the same methods as :class:`ModelHandle`."""

    def __init__(self, name: str, *, settings: Settings) -> None:
        import ollama

        self.model_id = name
        self.settings = settings
        self.client = ollama.Client(host=settings.ollama_host, timeout=max(settings.timeout, 120))
        self.history: list[dict[str, str]] = []
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"<OllamaHandle {self.model_id!r} at {self.settings.ollama_host}>"

    def _options(self, overrides: dict[str, Any]) -> dict[str, Any]:
        names = {
            "max_tokens": "num_predict",
            "max_new_tokens": "num_predict",
            "stop_sequences": "stop",
        }
        return {names.get(k, k): v for k, v in overrides.items()}

    def _response(self, r: Any, seconds: float, text: str, ttft: float | None = None) -> Response:
        return Response(text, int(getattr(r, "prompt_eval_count", 0) or 0), int(getattr(r, "eval_count", 0) or 0),
                        seconds, ttft, "stop" if getattr(r, "done_reason", "") == "stop" else "length")  # fmt: skip

    def generate(self, prompt: str, **overrides: Any) -> Response:
        start = time.perf_counter()
        r = self._call(self.client.generate, model=self.model_id, prompt=prompt, options=self._options(overrides))  # fmt: skip
        return self._response(r, time.perf_counter() - start, r.response)

    def stream(self, prompt: str, **overrides: Any) -> Iterator[str]:
        self._stop.clear()
        for part in self._call(self.client.generate, model=self.model_id, prompt=prompt, stream=True, options=self._options(overrides)):  # fmt: skip
            if self._stop.is_set():
                break
            yield part.response

    def chat(self, message: str, *, stream: bool = False, **overrides: Any) -> Any:
        messages = [*self.history, {"role": "user", "content": message}]
        if stream:
            return self._chat_stream(messages, overrides)
        start = time.perf_counter()
        r = self._call(self.client.chat, model=self.model_id, messages=messages, options=self._options(overrides))  # fmt: skip
        self.history = [*messages, {"role": "assistant", "content": r.message.content or ""}]
        return self._response(r, time.perf_counter() - start, r.message.content or "")

    def _chat_stream(
        self, messages: list[dict[str, str]], overrides: dict[str, Any]
    ) -> Iterator[str]:
        self._stop.clear()
        parts = []
        for part in self._call(self.client.chat, model=self.model_id, messages=messages, stream=True, options=self._options(overrides)):  # fmt: skip
            if self._stop.is_set():
                break
            text = part.message.content or ""
            parts.append(text)
            yield text
        self.history = [*messages, {"role": "assistant", "content": "".join(parts)}]

    def embed(self, texts: str | Sequence[str]) -> Any:
        import numpy as np

        r = self._call(self.client.embed, model=self.model_id, input=[texts] if isinstance(texts, str) else list(texts))  # fmt: skip
        return np.asarray(r.embeddings, dtype=np.float32)

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        self.history = []

    def unload(self) -> int:
        with contextlib.suppress(Exception):
            self.client.generate(model=self.model_id, prompt="", keep_alive=0)
        return 0

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        from ..errors import OllamaNotRunningError

        try:
            return fn(**kwargs)
        except ConnectionError:
            raise OllamaNotRunningError(f"No Ollama server at {self.settings.ollama_host}: start it (ollama serve) or set OLLAMA_HOST.") from None  # fmt: skip
        except Exception as exc:
            if type(exc).__name__ == "ResponseError":
                raise EngineError(f"Ollama answered: {exc}") from None
            raise
