"""The local Ollama server, driven by the real ``ollama`` client."""

from __future__ import annotations

import json
import math
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from nbmodels.demo.ollama import OllamaServer, seed_demo_models
from nbmodels.demo.ollama.__main__ import main
from nbmodels.demo.ollama.describe import read_gguf_fields
from nbmodels.storage.ollama_store import OllamaStore

DEMO = ["tiny-embed:latest", "tiny-tools:latest", "tiny-vision:latest", "tinyllama-chat:latest"]


@pytest.fixture
def client(ollama_server: OllamaServer) -> ollama.Client:
    return ollama.Client(host=ollama_server.url, timeout=30)


def test_version_root_and_unknown_path(ollama_server: OllamaServer) -> None:
    assert httpx.get(ollama_server.url).text == "Ollama is running"
    assert httpx.get(f"{ollama_server.url}/api/version").json()["version"]
    missing = httpx.get(f"{ollama_server.url}/api/nope")
    assert missing.status_code == 404
    wrong = httpx.get(f"{ollama_server.url}/api/show")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_list_reports_the_store(client: ollama.Client, ollama_server: OllamaServer) -> None:
    models = client.list().models
    assert [m.model for m in models] == DEMO
    chat = next(m for m in models if m.model == "tinyllama-chat:latest")
    stored = OllamaStore(ollama_server.store.root).get("tinyllama-chat")
    assert chat.digest == stored.digest and chat.size == stored.size
    assert chat.details.family == "llama"
    assert chat.details.parameter_size.endswith("K")  # the real tiny Llama, not a 1.1B claim
    assert chat.details.quantization_level == "F32"
    assert chat.details.format == "gguf"
    vision = next(m for m in models if m.model == "tiny-vision:latest")
    assert vision.details.families == ["llama", "clip"]


def test_show(client: ollama.Client, tiny_models) -> None:
    from nbmodels.weights import read_safetensors

    folder = tiny_models["nbmodels-demo/tiny-llama-chat"]
    config = json.loads((folder / "config.json").read_text())
    shown = client.show("tinyllama-chat")
    assert shown.capabilities == ["completion"]
    assert shown.modelinfo["general.architecture"] == "llama"
    # the blob is the demo hub's tiny Llama as a GGUF: its header says what it really is
    assert (
        shown.modelinfo["general.parameter_count"]
        == read_safetensors(folder / "model.safetensors").total
    )
    assert shown.modelinfo["llama.context_length"] == config["max_position_embeddings"]
    assert shown.modelinfo["llama.embedding_length"] == config["hidden_size"]
    assert "<|assistant|>" in shown.template
    assert shown.license.startswith("Apache License")
    assert 'stop                           "</s>"' in shown.parameters
    assert "FROM " in shown.modelfile and 'PARAMETER stop "</s>"' in shown.modelfile
    assert client.show("tiny-embed").capabilities == ["embedding"]
    assert client.show("tiny-vision").capabilities == ["completion", "vision"]
    assert client.show("tiny-tools").capabilities == ["completion", "tools"]


def test_unknown_model_errors(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.show("nope")
    assert info.value.status_code == 404 and info.value.error == "model 'nope' not found"
    for call in (
        lambda: client.delete("nope"),
        lambda: client.generate("nope", "hi"),
        lambda: client.embed("nope", "hi"),
        lambda: client.copy("nope", "other"),
    ):
        with pytest.raises(ollama.ResponseError, match="not found"):
            call()


def test_bad_requests_are_400(ollama_server: OllamaServer, client: ollama.Client) -> None:
    bad = httpx.post(f"{ollama_server.url}/api/show", content=b"{nope")
    assert bad.status_code == 400 and "invalid JSON" in bad.json()["error"]
    with pytest.raises(ollama.ResponseError, match="does not support generate") as info:
        client.generate("tiny-embed", "hello")
    assert info.value.status_code == 400
    with pytest.raises(ollama.ResponseError, match="does not support embeddings"):
        client.embed("tinyllama-chat", "hello")
    with pytest.raises(ollama.ResponseError, match="does not support tools"):
        client.chat("tinyllama-chat", messages=[{"role": "user", "content": "hi"}], tools=[
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}
        ])  # fmt: skip


def test_pull_streams_progress_in_order(client: ollama.Client, shared_data: Path) -> None:
    manifest = json.loads((shared_data / "ollama-library.json").read_text())["manifests"][
        "all-minilm:22m"
    ]
    events = list(client.pull("all-minilm:22m", stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [*manifest["layers"], manifest["config"]]
    progress = [e for e in events if e.digest]
    assert [e.digest for e in progress] == sorted(
        (e.digest for e in progress), key=[x["digest"] for x in layers].index
    )
    for layer in layers:
        mine = [e for e in progress if e.digest == layer["digest"]]
        assert mine[0].status == f"pulling {layer['digest'][7:19]}"
        assert all(e.total == layer["size"] for e in mine)  # real sizes, not the stand-in's
        completed = [e.completed for e in mine]
        assert completed == sorted(completed) and completed[0] == 0
        assert completed[-1] == layer["size"]
    listed = {m.model: m for m in client.list().models}
    assert listed["all-minilm:22m"].size == sum(x["size"] for x in manifest["layers"])
    shown = client.show("all-minilm:22m")
    assert shown.capabilities == ["embedding"]
    assert shown.details.parameter_size == "22.0M"
    assert len(client.embed("all-minilm:22m", "hi").embeddings[0]) == 768
    # a second pull finds every blob present
    again = [e for e in client.pull("all-minilm:22m", stream=True) if e.digest]
    assert all(e.completed == e.total for e in again)


def test_pull_latest_uses_size_of_sibling_tag_and_non_streaming(client: ollama.Client) -> None:
    assert client.pull("llava:latest").status == "success"
    shown = client.show("llava")
    assert shown.capabilities == ["completion", "vision"]
    assert shown.details.parameter_size == "7.0B"  # llava:latest has llava:7b's weights


def test_pull_unknown_model(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError, match="pull model manifest: file does not exist"):
        client.pull("no-such-model:1b")
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull("someone/llama3:8b", stream=True))  # only the library namespace


def test_cancelled_pull_resumes(client: ollama.Client, ollama_server: OllamaServer) -> None:
    reached, resume = threading.Event(), threading.Event()

    def hold_mid_layer(event: dict) -> None:  # runs in the server after sending `event`
        if event.get("completed") and event["completed"] < event["total"] and not reached.is_set():
            reached.set()
            resume.wait(timeout=10)

    ollama_server.on_pull_event = hold_mid_layer
    stream = client.pull("all-minilm:22m", stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if event.completed and event.completed < event.total:
            break
    stream.close()  # the client goes away mid-layer
    resume.set()
    cut = seen[-1]
    assert reached.wait(timeout=10)  # the server held right after sending `cut`
    assert 0 < cut.completed < cut.total
    assert "all-minilm:22m" not in [m.model for m in client.list().models]

    events = list(client.pull("all-minilm:22m", stream=True))  # waits for the first to stop
    first = next(e for e in events if e.digest == cut.digest)
    assert first.completed >= cut.completed > 0  # resumed, not restarted
    assert events[-1].status == "success"
    assert "all-minilm:22m" in [m.model for m in client.list().models]
    assert not list(ollama_server.store.blobs_dir.glob("*-partial"))


def test_delete_and_copy(client: ollama.Client) -> None:
    assert client.copy("tinyllama-chat", "me/chat:fav").status == "success"
    listed = {m.model: m for m in client.list().models}
    assert listed["me/chat:fav"].digest == listed["tinyllama-chat:latest"].digest
    assert client.delete("tinyllama-chat").status == "success"
    listed = {m.model: m for m in client.list().models}
    assert "tinyllama-chat:latest" not in listed
    assert client.show("me/chat:fav").capabilities == ["completion"]  # blobs still there


def test_generate_non_streaming_and_streaming_agree(client: ollama.Client) -> None:
    options = {"seed": 7, "temperature": 0.8}
    whole = client.generate("tinyllama-chat", "Tell me about notebooks", options=options)
    assert whole.done and whole.done_reason in ("stop", "length") and whole.response
    assert whole.eval_count and whole.prompt_eval_count and whole.total_duration
    assert whole.load_duration is not None
    parts = list(
        client.generate("tinyllama-chat", "Tell me about notebooks", options=options, stream=True)
    )
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    assert "".join(p.response for p in parts) == whole.response
    # a real model streams text as it decodes: a piece may hold more than one token
    assert parts[-1].eval_count == whole.eval_count >= len(parts) - 1
    other = client.generate("tinyllama-chat", "Tell me about notebooks", options={"seed": 8})
    assert other.response != whole.response


def test_generate_num_predict_and_stop(client: ollama.Client) -> None:
    short = list(
        client.generate(
            "tinyllama-chat", "Count", options={"seed": 1, "num_predict": 5}, stream=True
        )
    )
    # 5 tokens; a piece waits for the bytes that complete a character, as Ollama's do
    assert 1 <= len([p for p in short if p.response]) <= 5
    assert short[-1].eval_count == 5 and short[-1].done_reason == "length"
    full = client.generate("tinyllama-chat", "Count", options={"seed": 1}).response
    word = " " + full.split()[6]
    cut = client.generate("tinyllama-chat", "Count", options={"seed": 1, "stop": [word]})
    assert cut.response == full[: full.index(word)]
    assert cut.done_reason == "stop" and word not in cut.response


def test_chat(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "Hi there"}]
    whole = client.chat("tinyllama-chat", messages=messages, options={"seed": 3})
    assert whole.message.role == "assistant" and whole.message.content
    parts = list(client.chat("tinyllama-chat", messages=messages, options={"seed": 3}, stream=True))
    assert "".join(p.message.content for p in parts) == whole.message.content
    assert parts[-1].done and parts[-1].eval_count == whole.eval_count
    capped = client.chat("tinyllama-chat", messages=messages, options={"num_predict": 3})
    assert capped.eval_count == 3 and capped.done_reason == "length"


def test_embed(client: ollama.Client) -> None:
    result = client.embed("tiny-embed", ["local models", "local models", "quantum soup"])
    a, b, c = result.embeddings
    assert len(a) == 32  # the tiny Llama's hidden size
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-6)
    assert a == b and a != c
    single = client.embed("tiny-embed", "local models").embeddings
    # alone or in a padded batch: the same vector, to float32 rounding
    assert len(single) == 1 and all(
        math.isclose(x, y, abs_tol=1e-5) for x, y in zip(single[0], a, strict=True)
    )
    near = client.embed("tiny-embed", "local models here").embeddings[0]
    assert sum(x * y for x, y in zip(a, near, strict=True)) > sum(
        x * y for x, y in zip(a, c, strict=True)
    )
    short = client.embed("tiny-embed", "local models", dimensions=16).embeddings[0]
    assert len(short) == 16 and math.isclose(sum(x * x for x in short), 1.0, rel_tol=1e-6)


TOY = "seeded toy generator"  # what the toy's note says, wherever the client can see it


def _toy_note(value: Any) -> bool:
    return isinstance(value, str) and TOY in value


def test_pulled_models_say_in_every_answer_that_a_toy_answers(client: ollama.Client, ollama_server: OllamaServer, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    url = ollama_server.url
    client.pull("llama3.2:1b")
    client.pull("all-minilm:22m")
    hi = [{"role": "user", "content": "Hi there"}]
    with caplog.at_level("WARNING", logger="nbmodels.demo.ollama.server"):
        assert _toy_note(client.generate("llama3.2:1b", "Tell me a story").thinking)
        parts = list(client.generate("llama3.2:1b", "Tell me a story", stream=True))
        assert _toy_note(parts[0].thinking) and _toy_note(parts[-1].thinking) and parts[-1].done
        assert all(p.thinking is None for p in parts[1:-1]) and "".join(p.response for p in parts)
        chat = client.chat("llama3.2:1b", messages=hi)
        assert _toy_note(chat.message.thinking) and chat.message.content
        parts = list(client.chat("llama3.2:1b", messages=hi, stream=True))
        assert _toy_note(parts[0].message.thinking) and _toy_note(parts[-1].message.thinking)
        assert _toy_note(client.generate("llama3.2:1b", "").thinking)  # a load-only answer
        embedded = client.embed("all-minilm:22m", "hi")
        assert _toy_note(embedded.done_reason) and len(embedded.embeddings[0]) == 768
    # the log says it once per load, not once per answer
    said = [r.getMessage() for r in caplog.records if TOY in r.getMessage()]
    assert len(said) == 2, said
    assert "llama3.2:1b" in said[0] and "all-minilm:22m" in said[1]
    for name in ("llama3.2:1b", "all-minilm:22m"):
        shown = client.show(name)
        assert _toy_note(shown.details.parent_model) and _toy_note(shown.modelinfo["nbmodels.toy"])
    for listing in (client.list(), client.ps()):
        marked = {m.model for m in listing.models if _toy_note(m.details.parent_model)}
        assert marked == {"llama3.2:1b", "all-minilm:22m"}
    # and a header naming them, for whoever reads the HTTP answers themselves
    pulled = "all-minilm:22m, llama3.2:1b"
    for path, body, named in [
        ("/api/tags", None, pulled),
        ("/api/ps", None, pulled),
        ("/api/show", {"model": "llama3.2:1b"}, "llama3.2:1b"),
        ("/api/generate", {"model": "llama3.2:1b", "prompt": "hi", "stream": False}, "llama3.2:1b"),
        ("/api/chat", {"model": "llama3.2:1b", "messages": hi}, "llama3.2:1b"),
        ("/api/embed", {"model": "all-minilm:22m", "input": "hi"}, "all-minilm:22m"),
        ("/api/embeddings", {"model": "all-minilm:22m", "prompt": "hi"}, "all-minilm:22m"),
    ]:
        answer = httpx.post(url + path, json=body) if body else httpx.get(url + path)
        assert answer.status_code == 200 and answer.headers.get("X-Nbmodels-Toy") == named, path


def test_the_demo_models_are_real_and_carry_no_toy_mark(client: ollama.Client, ollama_server: OllamaServer, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    hi = [{"role": "user", "content": "Hi there"}]
    with caplog.at_level("WARNING", logger="nbmodels.demo.ollama.server"):
        answers = [
            client.generate("tinyllama-chat", "Hi", options={"num_predict": 3}),
            *client.generate("tinyllama-chat", "Hi", options={"num_predict": 3}, stream=True),
        ]
        assert all(a.thinking is None for a in answers)
        chats = [
            client.chat("tinyllama-chat", messages=hi, options={"num_predict": 3}),
            *client.chat("tinyllama-chat", messages=hi, options={"num_predict": 3}, stream=True),
        ]
        assert all(c.message.thinking is None for c in chats)
        assert client.embed("tiny-embed", "hi").done_reason is None
    assert not [r for r in caplog.records if TOY in r.getMessage()]
    for listing in (client.list(), client.ps()):
        assert all(m.details.parent_model == "" for m in listing.models)
    shown = client.show("tinyllama-chat")
    assert shown.details.parent_model == "" and "nbmodels.toy" not in shown.modelinfo
    for path in ("/api/tags", "/api/ps"):
        assert "X-Nbmodels-Toy" not in httpx.get(ollama_server.url + path).headers


def test_ps_and_keep_alive(client: ollama.Client) -> None:
    assert client.ps().models == []
    client.generate("tinyllama-chat", "hi")
    client.embed("tiny-embed", "hi")
    loaded = {m.model: m for m in client.ps().models}
    assert set(loaded) == {"tinyllama-chat:latest", "tiny-embed:latest"}
    assert loaded["tinyllama-chat:latest"].context_length == 256  # its num_ctx parameter
    assert loaded["tinyllama-chat:latest"].size_vram == 0
    unload = client.generate("tinyllama-chat", "", keep_alive=0)
    assert unload.done_reason == "unload"
    assert [m.model for m in client.ps().models] == ["tiny-embed:latest"]


def test_ps_expiry_follows_the_injected_clock(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    seed_demo_models(tmp_path)
    with OllamaServer(tmp_path, clock=lambda: now[0]) as server:
        client = ollama.Client(host=server.url)
        client.generate("tinyllama-chat", "", keep_alive="10m")
        client.generate("tiny-vision", "", keep_alive=-1)
        expires = {m.model: m.expires_at for m in client.ps().models}
        assert expires["tinyllama-chat:latest"] == now[0] + timedelta(minutes=10)
        now[0] += timedelta(minutes=11)
        assert [m.model for m in client.ps().models] == ["tiny-vision:latest"]


def test_library_extension(ollama_server: OllamaServer, shared_data: Path, tmp_path: Path) -> None:
    served = httpx.get(f"{ollama_server.url}/api/library")
    assert served.status_code == 200
    assert served.json() == json.loads((shared_data / "ollama-library.json").read_text())
    with OllamaServer(tmp_path) as bare:
        missing = httpx.get(f"{bare.url}/api/library")
        assert missing.status_code == 404 and "--library" in missing.json()["error"]
        with pytest.raises(ollama.ResponseError, match="file does not exist"):
            ollama.Client(host=bare.url).pull("llama3:8b")


def _gguf_reader(path: Path) -> Any:
    from gguf import GGUFReader

    return GGUFReader(path)


def test_demo_model_blobs_are_valid_gguf(ollama_server: OllamaServer) -> None:
    from gguf import GGUFReader

    blob = ollama_server.store.get("tiny-embed").model_blob
    reader = GGUFReader(blob)
    # a real model (the tiny Llama's weights), marked as an embedder the way Ollama reads it
    assert reader.fields["general.architecture"].contents() == "llama"
    names = [t.name for t in reader.tensors]
    assert "token_embd.weight" in names and "blk.0.attn_q.weight" in names
    assert read_gguf_fields(blob)["llama.pooling_type"] == 1


def test_without_the_engine_stack_the_demo_says_its_models_are_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import builtins

    from nbmodels.demo.ollama.seed import seed_demo_models

    real_import = builtins.__import__

    def no_torch(name: str, *args: object, **kwargs: object) -> object:
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with caplog.at_level("WARNING"):
        made = seed_demo_models(tmp_path / "store")
    assert len(made) == 4
    assert "toy generator" in caplog.text
    monkeypatch.undo()
    blob = OllamaStore(tmp_path / "store").get("tiny-embed").model_blob
    assert [t.name for t in _gguf_reader(blob).tensors] == ["token_embd.weight"]  # header only
    with OllamaServer(tmp_path / "store") as server:  # and every answer says a toy answers
        client = ollama.Client(host=server.url)
        assert _toy_note(client.generate("tinyllama-chat", "hi").thinking)
        assert _toy_note(client.embed("tiny-embed", "hi").done_reason)
        assert all(_toy_note(m.details.parent_model) for m in client.list().models)


def test_cli_reports_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port), "--models", str(tmp_path)]) == 1
    assert "cannot listen" in capsys.readouterr().err
