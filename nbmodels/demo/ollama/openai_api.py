"""Ollama's OpenAI-compatible endpoints (``/v1``) for the local Ollama server.

Built the way Ollama builds them (``middleware/openai.go`` and ``openai/openai.go`` of
ollama/ollama): each endpoint turns the OpenAI request into the native one, runs the
server's own native handler (``/api/generate``, ``/api/chat``, ``/api/embed``, ``/api/tags``,
``/api/show``), and turns what that handler sends (a JSON answer, an NDJSON stream, an
error) into OpenAI's shapes (a JSON answer, server-sent events ``data: {...}`` ending with
``data: [DONE]``, ``{"error": {"message", "type", "param", "code"}}``). So a model answers
the same text through either API, and the demo's real tiny models run for real here too.

    POST /v1/chat/completions   POST /v1/completions   POST /v1/embeddings
    GET  /v1/models             GET  /v1/models/{model}

As in Ollama: an absent ``temperature`` or ``top_p`` is 1.0; ``top_k`` and other fields
OpenAI's API does not name are ignored; a chat model's ``thinking`` comes back as
``reasoning`` (which is where the toy stand-in's note shows); ``/v1/completions`` takes one
string prompt.

Beyond Ollama (which checks no key): :func:`require_api_key` makes ``/v1`` answer 401 unless
the request carries ``Authorization: Bearer <key>``, as vLLM's and llama-server's
``--api-key`` do, so that a client's handling of a refused key can be tested.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
import struct
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

__all__ = [
    "chat_completions",
    "completions",
    "embeddings",
    "list_models",
    "require_api_key",
    "retrieve_model",
]

# The server's handler and its error are not imported: server.py imports this module (its
# routes), and the house allows no import circle. A handler is the server's _Handler; an
# error it raises carries an int ``status`` and a ``message``.
_Handler = Any

_KEYS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def require_api_key(server: Any, key: str | None) -> None:
    """From now on ``server``'s ``/v1`` endpoints refuse (401) a request without
    ``Authorization: Bearer <key>``; ``None`` lets every request in again."""
    if key is None:
        _KEYS.pop(server, None)
    else:
        _KEYS[server] = key


# -- shapes (openai/openai.go) ---------------------------------------------------------------
def _error(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    kind = kind or {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _unix(created_at: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(created_at)).timestamp())
    except ValueError:
        return int(time.time())


def _usage(r: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(r.get("prompt_eval_count") or 0), int(r.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}  # fmt: skip


def _owned_by(name: str) -> str:
    """The namespace of an Ollama name (``[host/][namespace/]model[:tag]``): ``library``
    for the library's own models, as Ollama's ``model.ParseName`` reads it."""
    parts = name.split("/")
    return parts[-2] if len(parts) > 1 else "library"


def _chat_chunk(id_: str, model: str, created: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": id_, "object": "chat.completion.chunk", "created": created, "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def _text_chunk(id_: str, r: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {
        "id": id_, "object": "text_completion",
        "created": created if created is not None else int(time.time()),
        "model": r.get("model", ""), "system_fingerprint": "fp_ollama",
        "choices": [{"text": r.get("response") or "", "index": 0,
                     "finish_reason": r.get("done_reason") or None}],
    }  # fmt: skip


# -- the request's plumbing -------------------------------------------------------------------
class _Writer:
    """What the native handler sends, turned into OpenAI's answer: ``answer`` converts a JSON
    answer, ``events`` a stream of native events into OpenAI's chunks (dicts, then ``"[DONE]"``)."""

    stream = False

    def answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def events(self, native: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any] | str]:
        raise NotImplementedError


def _send_sse(handler: _Handler, chunks: Iterable[dict[str, Any] | str]) -> bool:
    """``chunks`` as server-sent events over a chunked answer; False if the client left."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler._toy_header()
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            if handler._client_gone():
                raise ConnectionResetError("client disconnected")
            data = chunk if isinstance(chunk, str) else json.dumps(chunk, separators=(",", ":"))
            event = b"data: " + data.encode() + b"\n\n"
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
        return True
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
        return False
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # closes the native stream too: the model stops generating


@contextmanager
def _translated(handler: _Handler, writer: _Writer) -> Iterator[None]:
    """While the native handler runs, its ``_send_json`` and ``_stream`` answer in OpenAI's
    shapes (Ollama's middleware swaps the response writer the same way). A handler serves
    every request of a kept-alive connection, so the swap is undone after this one."""
    plain = type(handler)._send_json  # the class's own sender, which the swap shadows

    def send_json(status: int, payload: Any) -> None:
        if status != 200:
            message = payload.get("error") if isinstance(payload, dict) else None
            plain(handler, status, _error(status, str(message or payload)))
        elif writer.stream:
            _send_sse(handler, writer.events([payload]))
        else:
            plain(handler, 200, writer.answer(payload))

    def stream(events: Iterable[dict[str, Any]], after: Any = None) -> bool:
        return _send_sse(handler, writer.events(events))

    handler.__dict__.update(_send_json=send_json, _stream=stream)
    try:
        yield
    finally:
        handler.__dict__.pop("_send_json", None)
        handler.__dict__.pop("_stream", None)


def _endpoint(fn: Callable[[_Handler, dict[str, Any]], None]) -> Callable[[_Handler, dict[str, Any]], None]:  # fmt: skip
    """An OpenAI endpoint: the key checked (when :func:`require_api_key` asked for one) and
    every error the server raises sent in OpenAI's shape."""

    def endpoint(handler: _Handler, body: dict[str, Any]) -> None:
        key = _KEYS.get(handler.app)
        if key is not None:
            given = handler.headers.get("Authorization") or ""
            token = given[7:].strip() if given[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(token.encode(), key.encode()):
                handler._send_json(401, _error(401, "Invalid API key: send it as 'Authorization: Bearer <key>'", "authentication_error"))  # fmt: skip
                return
        try:
            fn(handler, body)
        except Exception as exc:  # the server's _APIError (see _Handler above)
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            handler._send_json(status, _error(status, str(getattr(exc, "message", exc))))

    endpoint.__name__ = endpoint.__qualname__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


class _BadRequest(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _stop_option(stop: Any, *, strict: bool) -> list[str] | None:
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        if strict and not all(isinstance(s, str) for s in stop):
            bad = next(s for s in stop if not isinstance(s, str))
            raise _BadRequest(f"invalid type for 'stop' field: {type(bad).__name__}")
        return [s for s in stop if isinstance(s, str)]
    return None


def _number(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _BadRequest(f"json: cannot unmarshal {type(value).__name__} into field {key!r} of type number")  # fmt: skip
    return value


def _options(body: dict[str, Any], *, chat: bool) -> dict[str, Any]:
    """The native ``options`` of an OpenAI request (FromChatRequest / FromCompleteRequest)."""
    options: dict[str, Any] = {}
    stop = _stop_option(body.get("stop"), strict=not chat)
    if stop is not None:
        options["stop"] = stop
    if _number(body, "max_tokens") is not None:
        options["num_predict"] = int(body["max_tokens"])
    temperature = _number(body, "temperature")
    options["temperature"] = 1.0 if temperature is None else temperature
    if _number(body, "seed") is not None:
        options["seed"] = int(body["seed"])
    for key in ("frequency_penalty", "presence_penalty"):
        value = _number(body, key)
        if value is not None or not chat:  # completions always send them (0 by default)
            options[key] = value or 0.0
    top_p = _number(body, "top_p")
    options["top_p"] = 1.0 if top_p is None or (not chat and top_p == 0) else top_p
    return options


def _new_id(prefix: str) -> str:
    return f"{prefix}-{random.randrange(999)}"  # Ollama's ids: "chatcmpl-" and a number < 999


# -- chat ---------------------------------------------------------------------------------------
class _ChatWriter(_Writer):
    def __init__(self, body: dict[str, Any]) -> None:
        self.stream = bool(body.get("stream"))
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.id = _new_id("chatcmpl")

    def answer(self, r: dict[str, Any]) -> dict[str, Any]:
        message = r.get("message") or {}
        out: dict[str, Any] = {"role": message.get("role") or "assistant", "content": message.get("content") or ""}  # fmt: skip
        if message.get("thinking"):
            out["reasoning"] = message["thinking"]
        if message.get("tool_calls"):
            out["tool_calls"] = _tool_calls(message["tool_calls"])
        reason = r.get("done_reason") or None
        if reason == "stop" and message.get("tool_calls"):
            reason = "tool_calls"
        return {
            "id": self.id, "object": "chat.completion", "created": _unix(r.get("created_at")),
            "model": r.get("model", ""), "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": out, "finish_reason": reason}],
            "usage": _usage(r),
        }  # fmt: skip

    def events(self, native: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any] | str]:
        created: int | None = None
        first_sent = tool_call_sent = False
        for r in native:
            created = created if created is not None else _unix(r.get("created_at"))
            model = r.get("model", "")
            message = r.get("message") or {}
            content, thinking = message.get("content") or "", message.get("thinking") or ""
            calls = _tool_calls(message.get("tool_calls") or [])
            # a done answer with nothing in it is the metrics trailer: OpenAI goes straight
            # from the last content chunk to the finish chunk
            if not (r.get("done") and first_sent and not content and not thinking and not calls):
                role = {} if first_sent else {"role": "assistant"}
                if thinking and (content or calls):  # split: the reasoning, then the rest
                    yield _chat_chunk(self.id, model, created, {**role, "reasoning": thinking})
                    rest: dict[str, Any] = {"content": content}
                    if calls:
                        rest["tool_calls"] = calls
                    yield _chat_chunk(self.id, model, created, rest)
                else:
                    delta: dict[str, Any] = {**role, "content": content}
                    if thinking:
                        delta["reasoning"] = thinking
                    if calls:
                        delta["tool_calls"] = calls
                    yield _chat_chunk(self.id, model, created, delta)
                first_sent = True
                tool_call_sent = tool_call_sent or bool(calls)
            if r.get("done"):
                reason = r.get("done_reason") or "stop"
                if reason == "stop" and tool_call_sent:
                    reason = "tool_calls"
                finish = _chat_chunk(self.id, model, created, {}, reason)
                yield finish
                if self.include_usage:
                    yield {**finish, "choices": [], "usage": _usage(r)}
                yield "[DONE]"


def _tool_calls(calls: list[Any]) -> list[dict[str, Any]]:
    out = []
    for call in calls:
        function = (call or {}).get("function") or {}
        out.append({
            "id": call.get("id", ""), "index": function.get("index", 0), "type": "function",
            "function": {"name": function.get("name", ""),
                         "arguments": json.dumps(function.get("arguments") or {})},
        })  # fmt: skip
    return out


def _native_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("[] is too short - 'messages'")
    out: list[dict[str, Any]] = []
    for m in messages:
        if not isinstance(m, dict):
            raise _BadRequest("invalid message format")
        role, content = m.get("role") or "user", m.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
        elif isinstance(content, list):  # parts: one native message each, as Ollama makes them
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text" and isinstance(part.get("text"), str):
                    out.append({"role": role, "content": part["text"]})
                elif kind == "image_url":
                    url = part.get("image_url")
                    url = url.get("url") if isinstance(url, dict) else url
                    if not isinstance(url, str) or ";base64," not in url:
                        raise _BadRequest("invalid image input")
                    out.append({"role": role, "content": "", "images": [url.split(";base64,", 1)[1]]})  # fmt: skip
                else:
                    raise _BadRequest("invalid message format")
        elif content is None and m.get("tool_calls"):
            out.append({"role": role, "content": ""})
        else:
            raise _BadRequest(f"invalid message content type: {type(content).__name__}")
    return out


@_endpoint
def chat_completions(handler: _Handler, body: dict[str, Any]) -> None:
    """``POST /v1/chat/completions``: the native chat, in OpenAI's shapes."""
    native: dict[str, Any] = {
        "model": body.get("model"),
        "messages": _native_messages(body.get("messages")),
        "options": _options(body, chat=True),
        "stream": bool(body.get("stream")),
    }
    if body.get("tools"):
        native["tools"] = body["tools"]
    fmt = body.get("response_format") or {}
    if isinstance(fmt, dict) and str(fmt.get("type", "")).strip().lower() == "json_object":
        native["format"] = "json"
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema" and fmt.get("json_schema"):
        native["format"] = (fmt["json_schema"] or {}).get("schema")
    with _translated(handler, _ChatWriter(body)):
        handler.chat(native)


# -- completions --------------------------------------------------------------------------------
class _CompleteWriter(_Writer):
    def __init__(self, body: dict[str, Any]) -> None:
        self.stream = bool(body.get("stream"))
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.id = _new_id("cmpl")

    def answer(self, r: dict[str, Any]) -> dict[str, Any]:
        return {**_text_chunk(self.id, r, _unix(r.get("created_at"))), "usage": _usage(r)}

    def events(self, native: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any] | str]:
        for r in native:
            chunk = _text_chunk(self.id, r)
            if self.include_usage:  # Ollama puts an empty usage in every chunk
                chunk["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            yield chunk
            if r.get("done"):
                if self.include_usage:
                    yield {**chunk, "choices": [], "usage": _usage(r)}
                yield "[DONE]"


@_endpoint
def completions(handler: _Handler, body: dict[str, Any]) -> None:
    """``POST /v1/completions``: the native generate, in OpenAI's shapes (one string prompt,
    as Ollama takes)."""
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise _BadRequest("json: cannot unmarshal array into Go struct field CompletionRequest.prompt of type string")  # fmt: skip
    native = {
        "model": body.get("model"),
        "prompt": prompt,
        "options": _options(body, chat=False),
        "stream": bool(body.get("stream")),
        "suffix": body.get("suffix") or "",
    }
    with _translated(handler, _CompleteWriter(body)):
        handler.generate(native)


# -- embeddings ---------------------------------------------------------------------------------
class _EmbedWriter(_Writer):
    def __init__(self, model: Any, encoding: str) -> None:
        self.model, self.encoding = model, encoding

    def answer(self, r: dict[str, Any]) -> dict[str, Any]:
        data = []
        for i, vector in enumerate(r.get("embeddings") or []):
            value: Any = vector
            if self.encoding == "base64":  # little-endian float32, as Ollama packs it
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "embedding": value, "index": i})
        counted = int(r.get("prompt_eval_count") or 0)
        return {"object": "list", "data": data, "model": self.model,
                "usage": {"prompt_tokens": counted, "total_tokens": counted}}  # fmt: skip


@_endpoint
def embeddings(handler: _Handler, body: dict[str, Any]) -> None:
    """``POST /v1/embeddings``: the native embed, in OpenAI's shape."""
    encoding = str(body.get("encoding_format") or "").lower()
    if encoding not in ("", "float", "base64"):
        raise _BadRequest(f"Invalid value for 'encoding_format' = {body['encoding_format']}. Supported values: ['float', 'base64'].")  # fmt: skip
    raw = body.get("input")
    if raw == "":
        raw = [""]
    if raw is None or raw == []:
        raise _BadRequest("invalid input")
    native = {"model": body.get("model"), "input": raw}
    if body.get("dimensions"):
        native["dimensions"] = body["dimensions"]
    with _translated(handler, _EmbedWriter(body.get("model"), encoding)):
        handler.embed(native)


# -- models -------------------------------------------------------------------------------------
class _ListWriter(_Writer):
    def answer(self, r: dict[str, Any]) -> dict[str, Any]:
        data = [
            {"id": m.get("model") or m.get("name"), "object": "model",
             "created": _unix(m.get("modified_at")), "owned_by": _owned_by(m.get("model") or m.get("name") or "")}
            for m in r.get("models") or []
        ]  # fmt: skip
        # Go encodes an empty list of models as null, and Ollama sends that
        return {"object": "list", "data": data or None}


@_endpoint
def list_models(handler: _Handler, body: dict[str, Any]) -> None:
    """``GET /v1/models``: the models of the store (``/api/tags``)."""
    with _translated(handler, _ListWriter()):
        handler.tags({})


class _RetrieveWriter(_Writer):
    def __init__(self, name: str) -> None:
        self.name = name

    def answer(self, r: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.name, "object": "model", "created": _unix(r.get("modified_at")),
                "owned_by": _owned_by(self.name)}  # fmt: skip


@_endpoint
def retrieve_model(handler: _Handler, body: dict[str, Any]) -> None:
    """``GET /v1/models/{model}``: one model (``/api/show``); 404 in OpenAI's shape."""
    name = urllib.parse.unquote(handler.path.split("?", 1)[0].rstrip("/").rpartition("/")[2])
    with _translated(handler, _RetrieveWriter(name)):
        handler.show({"model": name})
