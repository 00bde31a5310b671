"""A local server of Ollama's REST API, over an Ollama store on disk (stdlib only).

No Ollama server can be installed here, so tests (and demos) run the real ``ollama`` client
against this one. It follows Ollama's documented API closely enough that
``ollama.Client(host=server.url)`` works unchanged: list, show, pull (streamed, resumable),
delete, copy, create (:mod:`.create`, with blob pushes), ps, generate, chat and embed; and
Ollama's OpenAI-compatible ``/v1`` (models, chat/completions, completions, embeddings:
:mod:`.openai_api`).

What is stand-in, and says so:

* the demo's own models are real (tiny GGUF Llamas run through nbmodels' engine), but the
  models pulled from the library have stand-in blobs without weights: their generation and
  embeddings come from :mod:`nbmodels.demo.ollama.toy`, a seeded toy generator
  (deterministic text that respects ``num_predict`` and ``stop``), not a model. Every
  answer about them says so, where the real ``ollama`` client shows it: ``thinking``
  (generate, chat: the whole answer, and the first and last chunk of a stream),
  ``done_reason`` (embed), ``details.parent_model`` (tags, ps, show) and
  ``model_info["nbmodels.toy"]`` (show) hold :data:`~.toy.TOY_NOTE`; the
  ``X-Nbmodels-Toy`` header names them; the log says it when one is loaded;
* pulls lay out the real library manifests with small stand-in blobs (see :mod:`.pull`);
* ``GET /api/library`` is our extension, not Ollama's: it serves the library snapshot so
  that the ``ollama`` source can read the catalog from a local server.

    >>> with OllamaServer(tmp / "models", library=snapshot) as server:
    ...     ollama.Client(host=server.url).list()
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ... import __version__
from ...errors import InvalidModelIdError, ModelNotFoundError
from ...storage.ollama_store import OllamaStore, StoredModel
from .create import blob_upload, create_model
from .describe import describe, has_weights, show_payload, tags_entry
from .openai_api import chat_completions, completions, embeddings, list_models, retrieve_model
from .pull import PullError, pull_events
from .toy import TOY_HEADER, TOY_NOTE, count_tokens, toy_completion, toy_embedding

__all__ = ["OllamaServer"]

log = logging.getLogger(__name__)

OLLAMA_API_VERSION = "0.11.4"  # the Ollama release whose API this server follows
_NEVER = datetime(2318, 1, 1, tzinfo=UTC)  # what Ollama reports for keep_alive < 0
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


class _APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _keep_alive(value: Any) -> timedelta | None:
    """Ollama's keep_alive (seconds, or "5m", "1h", "-1"): a duration, None for forever."""
    if value is None or value == "":
        return timedelta(minutes=5)
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise _APIError(400, f"time: invalid duration {value!r}")
        unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
        seconds = float(match.group(1)) * unit
    return None if seconds < 0 else timedelta(seconds=seconds)


@dataclass
class _Loaded:
    model: StoredModel
    expires_at: datetime
    context_length: int


class OllamaServer:
    """Ollama's REST API over the store at ``models_dir`` (a stand-in for ``ollama serve``).

    ``library`` is a library snapshot (``{"manifests": {"model:tag": manifest}}``) that
    pulls come from; without it every pull fails as for an unknown model. ``clock`` gives
    the current time (for ``/api/ps`` expiry). ``on_pull_event`` is called with each pull
    event after it was sent, which lets a test act at an exact point of a pull.
    """

    def __init__(
        self,
        models_dir: Path | str,
        *,
        library: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = OllamaStore(Path(models_dir))
        self.library_path = Path(library) if library else None
        self.host = host
        self.port = port
        self.clock = clock or (lambda: datetime.now(UTC))
        self.on_pull_event: Callable[[dict[str, Any]], None] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._library_bytes: bytes | None = None
        self._library: dict[str, Any] | None = None
        self._loaded: dict[str, _Loaded] = {}
        self._engines: dict[str, Any] = {}  # model digest -> a loaded nbmodels handle
        self._lock = threading.Lock()
        self._pull_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        state = self.url if self._httpd else "stopped"
        return f"<OllamaServer {state} models={str(self.store.root)!r}>"

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> ThreadingHTTPServer:
        if self._httpd is None:
            httpd = _HTTPServer((self.host, self.port), _Handler)
            httpd.app = self
            self._httpd = httpd
            self.port = httpd.server_address[1]
        return self._httpd

    def start(self) -> OllamaServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            httpd = self._bind()
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
                name=f"ollama-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the ``python -m`` entry point)."""
        httpd = self._bind()
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()
            self._httpd = None

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------
    def library_bytes(self) -> bytes | None:
        if self._library_bytes is None and self.library_path is not None:
            self._library_bytes = self.library_path.read_bytes()
        return self._library_bytes

    def library_manifests(self) -> dict[str, Any]:
        if self._library is None:
            raw = self.library_bytes()
            self._library = json.loads(raw).get("manifests", {}) if raw else {}
        return self._library

    def pull_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._pull_locks.setdefault(name.strip().lower(), threading.Lock())

    def load(
        self, stored: StoredModel, keep_alive: Any, context_length: int, *, toy: bool = False
    ) -> int:
        """Mark ``stored`` as loaded (for /api/ps); returns the load time in ns. Loading a
        ``toy`` (a model the toy generator answers for) says so in the log."""
        started = time.perf_counter_ns()
        duration = _keep_alive(keep_alive)
        with self._lock:
            if duration is not None and duration.total_seconds() == 0:
                self._loaded.pop(stored.name, None)
                return time.perf_counter_ns() - started
            now = self.clock()
            was = self._loaded.get(stored.name)
            expires = _NEVER if duration is None else now + duration
            self._loaded[stored.name] = _Loaded(stored, expires, context_length)
        if toy and (was is None or was.expires_at <= now):
            log.warning("loaded %s: %s (its blob has no weights)", stored.name, TOY_NOTE)
        return time.perf_counter_ns() - started

    def loaded(self) -> list[_Loaded]:
        now = self.clock()
        with self._lock:
            for name in [n for n, m in self._loaded.items() if m.expires_at <= now]:
                del self._loaded[name]
            return sorted(self._loaded.values(), key=lambda m: m.model.name)

    def unload(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)

    def engine_for(self, stored: StoredModel) -> Any:
        """A real model for ``stored`` when its blob is a GGUF with weights (run by
        nbmodels' engine); None for the stand-in blobs, which the toy generator answers."""
        blob = stored.model_blob
        if blob is None or not has_weights(blob):
            return None
        with self._lock:
            handle = self._engines.get(stored.digest)
            if handle is None:
                from ...engine.handle import load

                handle = load(blob, check_memory=False)
                self._engines[stored.digest] = handle
            return handle

    def get_model(self, name: Any) -> StoredModel:
        if not isinstance(name, str) or not name.strip():
            raise _APIError(400, "model is required")
        try:
            return self.store.get(name)
        except (ModelNotFoundError, InvalidModelIdError):
            raise _APIError(404, f"model '{name}' not found") from None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: OllamaServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error while serving %s", client_address, exc_info=True)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer
    server_version = "nbmodels-ollama"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def app(self) -> OllamaServer:
        return self.server.app

    # -- plumbing -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        self.toys: list[str] = []  # models of this answer that the toy answers for (a header)
        routes = _ROUTES.get(path) or _ROUTES.get(path.rpartition("/")[0] + "/*")  # fmt: skip
        if path.startswith("/api/blobs/"):  # a raw body (GGUF bytes), not JSON
            blob_upload(self, method, path.removeprefix("/api/blobs/"))
            return
        try:
            body = self._read_body()
            if routes is None:
                raise _APIError(404, "404 page not found")
            handler = routes.get(method) or (routes.get("GET") if method == "HEAD" else None)
            if handler is None:
                raise _APIError(405, "405 method not allowed")
            handler(self, body)
        except _APIError as exc:
            self._send_json(exc.status, {"error": exc.message})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _APIError(400, f"invalid JSON in request body: {exc}") from None
        if not isinstance(body, dict):
            raise _APIError(400, "the request body must be a JSON object")
        return body

    def _toy_header(self) -> None:
        if self.toys:
            self.send_header(TOY_HEADER, ", ".join(self.toys))

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self._toy_header()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _client_gone(self) -> bool:
        """Whether the client closed its end (EOF waiting on the socket)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _stream(
        self,
        events: Iterable[dict[str, Any]],
        after: Callable[[dict[str, Any]], None] | None = None,
    ) -> bool:
        """Send ``events`` as chunked NDJSON; False if the client went away mid-stream."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self._toy_header()
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        iterator = iter(events)
        try:
            for event in iterator:
                if self._client_gone():
                    raise ConnectionResetError("client disconnected")
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if after is not None:
                    after(event)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator left early keeps its partial state on disk

    # -- endpoints ------------------------------------------------------------------------
    def root(self, body: dict[str, Any]) -> None:
        self._send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8")

    def version(self, body: dict[str, Any]) -> None:
        self._send_json(200, {"version": OLLAMA_API_VERSION, "nbmodels": __version__})

    def _listed(self, entry: dict[str, Any]) -> dict[str, Any]:
        if entry["details"].get("parent_model") == TOY_NOTE:
            self.toys.append(entry["name"])
        return entry

    def tags(self, body: dict[str, Any]) -> None:
        models = [self._listed(tags_entry(m)) for m in self.app.store.models()]
        self._send_json(200, {"models": models})

    def show(self, body: dict[str, Any]) -> None:
        stored = self.app.get_model(body.get("model") or body.get("name"))
        payload = show_payload(stored)
        if payload["details"].get("parent_model") == TOY_NOTE:
            self.toys.append(stored.name)
        self._send_json(200, payload)

    def delete(self, body: dict[str, Any]) -> None:
        stored = self.app.get_model(body.get("model") or body.get("name"))
        self.app.unload(stored.name)
        self.app.store.delete(stored.name)
        self._send_bytes(200, b"", "application/json")

    def copy(self, body: dict[str, Any]) -> None:
        source, destination = body.get("source"), body.get("destination")
        stored = self.app.get_model(source)
        if not isinstance(destination, str) or not destination.strip():
            raise _APIError(400, "destination is required")
        try:
            self.app.store.copy(stored.name, destination)
        except InvalidModelIdError:
            raise _APIError(400, f"invalid destination name {destination!r}") from None
        self._send_bytes(200, b"", "application/json")

    def ps(self, body: dict[str, Any]) -> None:
        models = []
        for loaded in self.app.loaded():
            entry = self._listed(tags_entry(loaded.model))
            entry.pop("modified_at")
            entry.update(
                expires_at=loaded.expires_at.isoformat(),
                size_vram=0,  # the stand-in runs nothing on a GPU
                context_length=loaded.context_length,
            )
            models.append(entry)
        self._send_json(200, {"models": models})

    def library(self, body: dict[str, Any]) -> None:
        raw = self.app.library_bytes()
        if raw is None:
            raise _APIError(
                404,
                "no library snapshot: start the server with --library PATH "
                "or set NBMODELS_OLLAMA_LIBRARY",
            )
        self._send_bytes(200, raw, "application/json; charset=utf-8")

    def pull(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _APIError(400, "model is required")
        with self.app.pull_lock(name):
            try:
                events = pull_events(self.app.store, self.app.library_manifests(), name)
            except PullError as exc:
                raise _APIError(404, str(exc)) from None
            self.toys.append(name)  # what a pull lays out is a stand-in without weights
            if body.get("stream", True):
                self._stream(events, after=self.app.on_pull_event)
            else:
                last: dict[str, Any] = {}
                for event in events:
                    last = event
                self._send_json(200, last)

    def generate(self, body: dict[str, Any]) -> None:
        self._complete(body, chat=False)

    def chat(self, body: dict[str, Any]) -> None:
        self._complete(body, chat=True)

    def _complete(self, body: dict[str, Any], *, chat: bool) -> None:
        started = time.perf_counter_ns()
        name = body.get("model")
        stored = self.app.get_model(name)
        desc = describe(stored)
        facts = desc.facts
        what = "chat" if chat else "generate"
        if "completion" not in facts.capabilities:
            raise _APIError(400, f'"{name}" does not support {what}')
        if chat and body.get("tools") and "tools" not in facts.capabilities:
            raise _APIError(400, f'"{name}" does not support tools')
        options = {**stored.params, **(body.get("options") or {})}
        if not isinstance(options, dict):
            raise _APIError(400, "options must be an object")
        ctx = int(options.get("num_ctx") or facts.context_length)
        if desc.toy:
            self.toys.append(stored.name)
        load_ns = self.app.load(stored, body.get("keep_alive"), ctx, toy=desc.toy)
        system = body.get("system") or stored.system or ""
        if chat:
            messages = body.get("messages") or []
            if not isinstance(messages, list):
                raise _APIError(400, "messages must be a list")
            prompt = "\n".join(
                f"{m.get('role', 'user')}: {m.get('content') or ''}"
                for m in messages
                if isinstance(m, dict)
            )
        else:
            prompt = str(body.get("prompt") or "")
        base = {"model": stored.name, "created_at": _now_iso()}

        def piece(text: str, note: bool = False) -> dict[str, Any]:
            """A piece of the answer; ``note``: with the toy's note as its ``thinking``."""
            out: dict[str, Any] = {"role": "assistant", "content": text} if chat else {"response": text}  # fmt: skip
            if note:
                out["thinking"] = TOY_NOTE
            return {"message": out} if chat else out

        if not prompt.strip() and not body.get("images"):  # Ollama: load (or unload) only
            keep = _keep_alive(body.get("keep_alive"))
            reason = "unload" if keep is not None and keep.total_seconds() == 0 else "load"
            self._send_json(200, {**base, **piece("", desc.toy), "done": True, "done_reason": reason})  # fmt: skip
            return
        stop = options.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        engine = self.app.engine_for(stored)
        if engine is not None:  # a real model: generated for real, through nbmodels' engine
            self._complete_with(engine, body, chat=chat, system=system, options=options, stop=stop,
                                base=base, piece=piece, started=started, load_ns=load_ns, ctx=ctx)  # fmt: skip
            return
        completion = toy_completion(
            stored.name,
            f"{system}\n{prompt}",
            seed=options.get("seed"),
            temperature=options.get("temperature"),
            top_k=options.get("top_k"),
            num_predict=options.get("num_predict"),
            stop=stop,
        )
        tokens = completion.tokens
        if body.get("format"):  # json mode: the text, wrapped as a JSON document
            tokens = [json.dumps({"response": completion.text})]
        eval_ns = 1000 * max(1, len(tokens))
        prompt_tokens = count_tokens(f"{system}\n{prompt}")
        final = {
            **base,
            **piece("", note=True),
            "done": True,
            "done_reason": completion.done_reason,
            "total_duration": time.perf_counter_ns() - started,
            "load_duration": load_ns,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 1000 * prompt_tokens,
            "eval_count": len(tokens),
            "eval_duration": eval_ns,
        }
        if not body.get("stream", True):
            final.update(piece("".join(tokens), note=True))
            final["total_duration"] = time.perf_counter_ns() - started
            self._send_json(200, final)
            return

        def events() -> Iterator[dict[str, Any]]:  # the note opens and closes the stream
            for i, token in enumerate(tokens):
                yield {**base, "created_at": _now_iso(), **piece(token, i == 0), "done": False}
            final["total_duration"] = time.perf_counter_ns() - started
            yield final

        self._stream(events())

    def _complete_with(self, engine: Any, body: dict[str, Any], *, chat: bool, system: str,
                       options: dict[str, Any], stop: list[str], base: dict[str, Any],
                       piece: Any, started: int, load_ns: int, ctx: int) -> None:  # fmt: skip
        """generate / chat answered by a real model, streamed token by token as Ollama does."""
        if chat:
            messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
            if system and not any(m.get("role") == "system" for m in messages):
                messages = [{"role": "system", "content": system}, *messages]
            prompt = engine.tokenizer.apply_chat_template(
                [{"role": m.get("role", "user"), "content": m.get("content") or ""} for m in messages],
                tokenize=False, add_generation_prompt=True,
            )  # fmt: skip
        else:
            prompt = str(body.get("prompt") or "")
            if system and not body.get("raw"):
                prompt = f"{system}\n{prompt}"
        n_prompt = len(engine.tokenizer(prompt)["input_ids"])
        # Ollama's window: num_ctx, never past what the model was trained for
        context = min(ctx, engine.config.max_context_length or ctx)
        room = max(1, context - n_prompt)
        num_predict = options.get("num_predict")
        want = room if num_predict in (None, -1, -2) else min(int(num_predict), room)
        overrides: dict[str, Any] = {"max_tokens": want, "stop": stop}
        temperature = options.get("temperature", 0.8)
        overrides["temperature"] = float(temperature)
        overrides["do_sample"] = float(temperature) > 0
        for key in ("top_p", "top_k", "seed"):
            if options.get(key) is not None:
                overrides[key] = options[key]
        if options.get("repeat_penalty") is not None:
            overrides["repetition_penalty"] = float(options["repeat_penalty"])

        def final(r: Any) -> dict[str, Any]:
            return {
                **base, **piece(""), "done": True,
                "done_reason": "length" if r.finish_reason == "length" else "stop",
                "total_duration": time.perf_counter_ns() - started, "load_duration": load_ns,
                "prompt_eval_count": r.prompt_tokens,
                "prompt_eval_duration": int(1e9 * (r.time_to_first_token or 0)),
                "eval_count": r.completion_tokens, "eval_duration": int(1e9 * r.seconds),
            }  # fmt: skip

        if not body.get("stream", True):
            r = engine.generate(prompt, **overrides)
            self._send_json(200, {**final(r), **piece(r.text)})
            return

        def events() -> Iterator[dict[str, Any]]:
            for chunk in engine.stream(prompt, **overrides):
                if chunk:
                    yield {**base, "created_at": _now_iso(), **piece(chunk), "done": False}
            yield final(engine.last_response)

        self._stream(events())

    def embed(self, body: dict[str, Any]) -> None:
        self._embed(body, legacy=False)

    def embeddings(self, body: dict[str, Any]) -> None:
        self._embed(body, legacy=True)

    def _embed(self, body: dict[str, Any], *, legacy: bool) -> None:
        started = time.perf_counter_ns()
        name = body.get("model")
        stored = self.app.get_model(name)
        desc = describe(stored)
        facts = desc.facts
        if "embedding" not in facts.capabilities:
            raise _APIError(400, f'"{name}" does not support embeddings')
        raw = body.get("prompt", "") if legacy else body.get("input", "")
        inputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            raise _APIError(400, "invalid input type: give a string or a list of strings")
        dims = body.get("dimensions") or facts.embedding_length
        if not isinstance(dims, int) or not 0 < dims <= facts.embedding_length:
            raise _APIError(
                400, f"dimensions must be between 1 and {facts.embedding_length}, got {dims!r}"
            )
        if desc.toy:
            self.toys.append(stored.name)  # the legacy answer has no field to say it in
        load_ns = self.app.load(stored, body.get("keep_alive"), facts.context_length, toy=desc.toy)  # fmt: skip
        engine = self.app.engine_for(stored)
        if engine is not None:  # a real model: its mean-pooled last hidden state, as Ollama's
            import numpy as np

            full = engine.embed(inputs, normalize=False) if inputs else np.zeros((0, dims))
            cut = full[:, :dims]  # Ollama truncates to `dimensions`, then normalises
            norms = np.linalg.norm(cut, axis=1, keepdims=True)
            vectors = (cut / np.where(norms == 0, 1, norms)).astype(float).tolist()
            counted = sum(len(engine.tokenizer(t)["input_ids"]) for t in inputs)
        else:
            vectors = [toy_embedding(text, dims) for text in inputs]
            counted = sum(count_tokens(t) for t in inputs)
        if legacy:
            self._send_json(200, {"embedding": vectors[0] if vectors else []})
            return
        answer = {
            "model": stored.name,
            "embeddings": vectors,
            "total_duration": time.perf_counter_ns() - started,
            "load_duration": load_ns,
            "prompt_eval_count": counted,
        }
        if desc.toy:  # Ollama sends no done_reason here: the one field the client keeps free
            answer["done_reason"] = TOY_NOTE
        self._send_json(200, answer)


_Endpoint = Callable[[_Handler, dict[str, Any]], None]
_ROUTES: Mapping[str, Mapping[str, _Endpoint]] = {
    "/": {"GET": _Handler.root},
    "/api/version": {"GET": _Handler.version},
    "/api/tags": {"GET": _Handler.tags},
    "/api/show": {"POST": _Handler.show},
    "/api/pull": {"POST": _Handler.pull},
    "/api/delete": {"DELETE": _Handler.delete},
    "/api/copy": {"POST": _Handler.copy},
    "/api/create": {"POST": create_model},
    "/api/ps": {"GET": _Handler.ps},
    "/api/generate": {"POST": _Handler.generate},
    "/api/chat": {"POST": _Handler.chat},
    "/api/embed": {"POST": _Handler.embed},
    "/api/embeddings": {"POST": _Handler.embeddings},
    "/api/library": {"GET": _Handler.library},
    # Ollama's OpenAI-compatible API (see .openai_api); "/*": one path segment, the model
    "/v1/models": {"GET": list_models},
    "/v1/models/*": {"GET": retrieve_model},
    "/v1/chat/completions": {"POST": chat_completions},
    "/v1/completions": {"POST": completions},
    "/v1/embeddings": {"POST": embeddings},
}
