"""load(name, backend="openai", base_url=...) against the local Ollama server's OpenAI API
(/v1), which runs the demo's tiny real models: the same handle as the other backends, the
same text as through Ollama's own API, errors that say what to do, a key never shown."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import httpx
import numpy as np
import pytest

from nbmodels.demo.ollama import OllamaServer
from nbmodels.demo.ollama.openai_api import require_api_key
from nbmodels.engine.handle import load
from nbmodels.engine.ollama_handle import OllamaHandle
from nbmodels.engine.openai_handle import OpenAIHandle
from nbmodels.errors import (
    AccessDeniedError,
    ConfigurationError,
    EngineError,
    EngineWarning,
    ModelNotFoundError,
    SourceUnavailableError,
)
from nbmodels.settings import Settings
from nbmodels.types import ModelConfiguration

PROMPT = "Once upon a time"
KEY = "sk-test-0123456789-secret"
TOY = "seeded toy generator"


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "NBMODELS_OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def _openai(server: OllamaServer, model: str = "tinyllama-chat", **kwargs: Any) -> OpenAIHandle:
    return load(model, backend="openai", base_url=f"{server.url}/v1", **kwargs)  # type: ignore[return-value]


def test_generate_stream_chat_and_embed_as_through_ollamas_own_api(ollama_server: OllamaServer) -> None:  # fmt: skip
    served = _openai(ollama_server)
    native = load("tinyllama-chat", backend="ollama", base_url=ollama_server.url)
    assert isinstance(served, OpenAIHandle) and isinstance(native, OllamaHandle)
    r = served.generate(PROMPT, temperature=0, max_tokens=8)
    assert r.text and r.completion_tokens == 8 and r.finish_reason == "length"
    assert r.prompt_tokens > 0 and r.seconds > 0
    # greedy: the same text as Ollama's /api/generate gives for the same model and prompt
    assert r.text == native.generate(PROMPT, temperature=0, max_tokens=8).text
    chunks = list(served.stream(PROMPT, temperature=0, max_tokens=8))
    assert len(chunks) > 1 and "".join(chunks) == r.text
    last = served.last_response
    assert last is not None and last.text == r.text and last.completion_tokens == 8
    assert last.time_to_first_token is not None and last.finish_reason == "length"
    # a list of prompts: one response each
    both = served.generate([PROMPT, "The weather"], temperature=0, max_tokens=4)
    assert [b.completion_tokens for b in both] == [4, 4] and both[0].text == r.text[: len(both[0].text)]  # fmt: skip

    first = served.chat("Hello", temperature=0, max_tokens=6)
    assert first.text == native.chat("Hello", temperature=0, max_tokens=6).text
    assert served.history == [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": first.text}]  # fmt: skip
    second = "".join(served.chat("And then?", stream=True, temperature=0, max_tokens=6))
    assert second == native.chat("And then?", temperature=0, max_tokens=6).text
    assert len(served.history) == 4 and served.history[-1]["content"] == second
    served.reset()
    assert served.history == []

    embedder = _openai(ollama_server, "tiny-embed")
    vectors = embedder.embed(["local models", "local models", "quantum soup"])
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    ollama_vectors = load("tiny-embed", backend="ollama", base_url=ollama_server.url).embed(["local models", "quantum soup"])  # fmt: skip
    assert np.allclose(vectors[[0, 2]], ollama_vectors, atol=1e-5)
    assert embedder.embed("local models", dimensions=16).shape == (1, 16)
    assert embedder.embed([]).shape == (0, 0)
    assert served.unload() == 0
    with pytest.raises(EngineError, match="unloaded"):
        served.generate(PROMPT)


def test_stop_ends_a_stream(ollama_server: OllamaServer) -> None:
    served = _openai(ollama_server)
    chunks = []
    for chunk in served.stream(PROMPT, temperature=0, max_tokens=40):
        chunks.append(chunk)
        served.stop()
    assert len(chunks) == 1
    assert served.last_response is not None and served.last_response.finish_reason == "stopped"
    # the handle still works after a stop
    assert served.generate(PROMPT, temperature=0, max_tokens=2).completion_tokens == 2


def test_the_demo_v1_speaks_ollamas_openai_shapes(ollama_server: OllamaServer) -> None:
    url = f"{ollama_server.url}/v1"
    listed = httpx.get(f"{url}/models").json()
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["tiny-embed:latest", "tiny-tools:latest", "tiny-vision:latest", "tinyllama-chat:latest"]  # fmt: skip
    assert {m["owned_by"] for m in listed["data"]} == {"library"} and listed["data"][0]["object"] == "model"  # fmt: skip
    one = httpx.get(f"{url}/models/tinyllama-chat").json()
    assert one["id"] == "tinyllama-chat" and one["object"] == "model" and one["created"] > 0
    missing = httpx.get(f"{url}/models/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "model 'nope' not found", "type": "not_found_error", "param": None, "code": None}}  # fmt: skip

    body = {"model": "tinyllama-chat", "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0, "max_tokens": 5}  # fmt: skip
    whole = httpx.post(f"{url}/chat/completions", json=body, timeout=60).json()
    assert whole["object"] == "chat.completion" and whole["id"].startswith("chatcmpl-")
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 5
    assert whole["usage"]["total_tokens"] == whole["usage"]["prompt_tokens"] + 5
    with httpx.stream("POST", f"{url}/chat/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}}, timeout=60) as r:  # fmt: skip
        assert r.headers["content-type"] == "text/event-stream"
        raw = r.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == whole["choices"][0]["message"]["content"]  # fmt: skip
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "length"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]

    completion = httpx.post(f"{url}/completions", json={"model": "tinyllama-chat", "prompt": PROMPT, "max_tokens": 3, "temperature": 0}, timeout=60).json()  # fmt: skip
    assert completion["object"] == "text_completion" and completion["id"].startswith("cmpl-")
    assert completion["usage"]["completion_tokens"] == 3 and completion["choices"][0]["text"]

    embedded = httpx.post(f"{url}/embeddings", json={"model": "tiny-embed", "input": "hi", "encoding_format": "base64"}).json()  # fmt: skip
    assert embedded["object"] == "list" and embedded["model"] == "tiny-embed"
    packed = np.frombuffer(__import__("base64").b64decode(embedded["data"][0]["embedding"]), dtype="<f4")  # fmt: skip
    assert packed.shape == (32,) and math.isclose(float(np.linalg.norm(packed)), 1.0, rel_tol=1e-5)
    bad = httpx.post(f"{url}/embeddings", json={"model": "tinyllama-chat", "input": "hi"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert "does not support embeddings" in bad.json()["error"]["message"]
    empty = httpx.post(f"{url}/chat/completions", json={"model": "tinyllama-chat", "messages": []})
    assert empty.status_code == 400 and empty.json()["error"]["message"] == "[] is too short - 'messages'"  # fmt: skip
    # the native API is untouched on the same kept-alive connection (the swap is undone)
    with httpx.Client(base_url=ollama_server.url) as client:
        assert client.get("/v1/models").json()["object"] == "list"
        assert "models" in client.get("/api/tags").json()


def test_a_toy_stand_in_says_so_over_v1(ollama_server: OllamaServer) -> None:
    """A pulled library model (a stand-in blob) is answered by the toy generator; over /v1 its
    note comes back where Ollama puts thinking (``reasoning``), and in the header."""
    httpx.post(f"{ollama_server.url}/api/pull", json={"model": "llama3.2:1b", "stream": False}, timeout=60)  # fmt: skip
    r = httpx.post(f"{ollama_server.url}/v1/chat/completions", json={"model": "llama3.2:1b", "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
    assert TOY in r.json()["choices"][0]["message"]["reasoning"]
    assert r.headers["X-Nbmodels-Toy"] == "llama3.2:1b"


def test_errors_say_what_to_do(ollama_server: OllamaServer) -> None:
    dead = "http://127.0.0.1:9/v1"
    with pytest.raises(SourceUnavailableError, match=r"Nothing answers at http://127\.0\.0\.1:9/v1: start the server") as info:  # fmt: skip
        load("m", backend="openai", base_url=dead).generate("hi")
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(ModelNotFoundError) as unknown:
        _openai(ollama_server, "tinyllama-chatt").generate("hi")
    message = str(unknown.value)
    assert "has no model 'tinyllama-chatt'" in message and "Did you mean 'tinyllama-chat:latest'?" in message  # fmt: skip
    assert "tiny-embed:latest" in message  # the models it has
    with pytest.raises(ModelNotFoundError, match="It has: tiny-embed"):
        list(_openai(ollama_server, "nope").chat("hi", stream=True))
    with pytest.raises(EngineError, match="does not support embeddings"):
        _openai(ollama_server).embed("hi")


def test_a_refused_key_is_said_and_the_key_never_shown(ollama_server: OllamaServer, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    require_api_key(ollama_server, KEY)
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's too
    with pytest.raises(AccessDeniedError, match="wants an API key") as none:
        _openai(ollama_server).generate("hi", max_tokens=2)
    assert none.value.reason == "no-token"
    wrong = _openai(ollama_server, api_key="sk-wrong-key")
    with pytest.raises(AccessDeniedError, match=r"refused the API key \(401: Invalid API key") as bad:  # fmt: skip
        wrong.generate("hi", max_tokens=2)
    assert bad.value.reason == "bad-token" and "sk-wrong-key" not in str(bad.value)
    assert isinstance(bad.value, PermissionError)
    good = _openai(ollama_server, api_key=KEY)
    assert good.generate("hi", temperature=0, max_tokens=2).completion_tokens == 2
    assert "".join(good.stream("hi", temperature=0, max_tokens=2))
    assert KEY not in repr(good) and "an API key" in repr(good)
    assert "sk-wrong-key" not in repr(wrong)
    assert caplog.records and not any(KEY in r.getMessage() or "sk-wrong-key" in r.getMessage() for r in caplog.records)  # fmt: skip
    require_api_key(ollama_server, None)
    assert _openai(ollama_server).generate("hi", max_tokens=1).completion_tokens == 1


@pytest.mark.skipif(
    "openai_api_key" not in Settings.__dataclass_fields__,
    reason="Settings has no openai_api_key yet (settings.py reads OPENAI_API_KEY there)",
)
def test_the_key_comes_from_the_environment_through_settings(ollama_server: OllamaServer) -> None:  # fmt: skip
    require_api_key(ollama_server, KEY)
    settings = Settings.from_env({"OPENAI_API_KEY": KEY})
    handle = load("tinyllama-chat", backend="openai", base_url=f"{ollama_server.url}/v1", settings=settings)  # fmt: skip
    assert handle.generate("hi", max_tokens=1).completion_tokens == 1
    assert KEY not in repr(settings) and KEY not in repr(handle)


def test_load_backends() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown backend 'vllm': use 'transformers' .*'ollama' .*'openai'"):  # fmt: skip
        load("m", backend="vllm")
    with pytest.raises(ConfigurationError, match="needs base_url="):
        load("m", backend="openai")
    with pytest.raises(ConfigurationError, match="api_key= goes with backend='openai'"):
        load("m", api_key=KEY)
    with pytest.raises(ConfigurationError, match="base_url= with 'openai' or 'ollama'"):
        load("m", base_url="http://127.0.0.1:9/v1")
    via_prefix = load("ollama:some-model")
    via_backend = load("some-model", backend="ollama", base_url="http://127.0.0.1:9")
    assert isinstance(via_backend, OllamaHandle) and via_backend.model_id == via_prefix.model_id == "some-model"  # fmt: skip
    assert via_backend.settings.ollama_host == "http://127.0.0.1:9"
    with pytest.raises(ConfigurationError, match="Unknown generation setting"):
        load("m", backend="openai", base_url="http://127.0.0.1:9/v1", temprature=0)


# -- what goes over the wire: a recording transport stands in for servers we cannot run here ---
class _Recorder:
    """An httpx transport answering like a server of the OpenAI API, keeping each request;
    ``completions=False``: a server without /v1/completions (404 there, as vLLM's FastAPI)."""

    def __init__(self, *, completions: bool = True, models: tuple[str, ...] = ("m",)) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.completions, self.models = completions, models

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.requests.append((path, body))
        if path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": m} for m in self.models]})  # fmt: skip
        if path.endswith("/v1/completions") and not self.completions:
            return httpx.Response(404, json={"detail": "Not Found"})
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        if body.get("stream"):
            delta = {"delta": {"content": "ab"}} if "chat" in path else {"text": "ab"}
            events = [{"choices": [{"index": 0, **delta, "finish_reason": None}]},
                      {"choices": [{"index": 0, **delta, "finish_reason": "stop"}]},
                      {"choices": [], "usage": usage}]  # fmt: skip
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return httpx.Response(200, text=sse, headers={"Content-Type": "text/event-stream"})
        choice = {"message": {"role": "assistant", "content": "ok"}} if "chat" in path else {"text": "ok"}  # fmt: skip
        return httpx.Response(200, json={"choices": [{"index": 0, **choice, "finish_reason": "stop"}], "usage": usage})  # fmt: skip


def _recorded(recorder: _Recorder, **kwargs: Any) -> OpenAIHandle:
    return OpenAIHandle("m", base_url="http://server/v1", settings=Settings(), transport=httpx.MockTransport(recorder), **kwargs)  # fmt: skip


def test_sampling_settings_map_onto_openai_fields() -> None:
    rec = _Recorder()
    plain = _recorded(rec)
    plain.generate("hi")
    assert rec.requests[-1] == ("/v1/completions", {"prompt": "hi", "max_tokens": 256, "model": "m"})  # fmt: skip
    plain.generate("hi", temperature=0, stop="\n", seed=3, max_new_tokens=9, frequency_penalty=0.5)  # fmt: skip
    assert rec.requests[-1][1] == {"prompt": "hi", "max_tokens": 9, "temperature": 0.0, "seed": 3, "stop": ["\n"], "frequency_penalty": 0.5, "model": "m"}  # fmt: skip

    stored = ModelConfiguration("m", temperature=0.3, top_p=0.8, top_k=40, repetition_penalty=1.1,
                                max_tokens=32, stop_sequences=("</s>",), num_beams=2, enable_streaming=False,
                                parameters={"presence_penalty": 0.2})  # fmt: skip
    configured = _recorded(rec, config=stored)
    with pytest.warns(EngineWarning) as said:
        configured.generate("hi")
        configured.chat("hi")
    texts = [str(w.message) for w in said]
    assert len(texts) == 2  # each said once, though two calls carried them
    assert any("top_k=40, repetition_penalty=1.1 are not fields of the OpenAI API" in t for t in texts)  # fmt: skip
    assert any("num_beams=2 cannot go over the OpenAI API" in t for t in texts)
    completion, chat = rec.requests[-2][1], rec.requests[-1][1]
    assert completion == {"prompt": "hi", "max_tokens": 32, "temperature": 0.3, "top_p": 0.8, "stop": ["</s>"], "presence_penalty": 0.2,
                          "top_k": 40, "repetition_penalty": 1.1, "repeat_penalty": 1.1, "model": "m"}  # fmt: skip
    assert chat["messages"] == [{"role": "user", "content": "hi"}] and chat["top_k"] == 40
    with pytest.warns(EngineWarning, match="quantization change nothing here: the server at http://server/v1 loaded"):  # fmt: skip
        loaded = _recorded(rec, quantization="nf4", presence_penalty=0.1, temperature=0.5)
    loaded.generate("hi")
    assert rec.requests[-1][1] == {"prompt": "hi", "max_tokens": 256, "temperature": 0.5, "presence_penalty": 0.1, "model": "m"}  # fmt: skip
    greedy = _recorded(_Recorder(), config=ModelConfiguration("m", do_sample=False, top_k=0))
    greedy.generate("hi")  # nothing beyond the API: nothing to say
    assert greedy.config.do_sample is False


def test_a_server_without_completions_gets_a_chat_message_said_once() -> None:
    rec = _Recorder(completions=False)
    handle = _recorded(rec)
    with pytest.warns(EngineWarning, match="has no /completions endpoint"):
        assert handle.generate("hi").text == "ok"
    assert rec.requests[-1] == ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 256, "model": "m"})  # fmt: skip
    assert "".join(handle.stream("hi")) == "abab"  # straight to chat now: nothing said again
    assert handle.last_response is not None and handle.last_response.completion_tokens == 2
    assert [p for p, _ in rec.requests].count("/v1/completions") == 1


def test_usage_is_recorded_for_a_registered_model(ollama_server: OllamaServer) -> None:
    from nbmodels.storage.registry import Registry
    from nbmodels.types import ModelMetadata, ModelSource

    settings = Settings.from_env()
    reg = Registry(settings=settings)
    reg.register(ModelMetadata(id="tinyllama-chat", source=ModelSource.OLLAMA))
    served = load("tinyllama-chat", backend="openai", base_url=f"{ollama_server.url}/v1", settings=settings)  # fmt: skip
    served.generate(PROMPT, temperature=0, max_tokens=3)
    "".join(served.chat("hi", stream=True, temperature=0, max_tokens=2))
    stats = reg.stats("tinyllama-chat")
    assert stats["use_count"] == 2 and stats["tokens_out"] == 5 and stats["tokens_in"] > 0
