"""The engine on real tiny models: nbmodels' output equals plain transformers' for the same
model and settings, streaming equals generating, a stop ends generation early, an error in
the generating thread reaches the caller, usage lands in the registry."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest

import nbmodels
from nbmodels.engine.handle import ModelHandle, load
from nbmodels.errors import ConfigurationError, EngineError
from nbmodels.settings import Settings

CHAT = "nbmodels-demo/tiny-llama-chat"
PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def chat(tiny_models) -> ModelHandle:
    return load(tiny_models[CHAT], settings=Settings(home=Path("/nonexistent-home")))


def plain_greedy(folder: Path, prompts: list[str], n: int, **load_kwargs: object) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, **load_kwargs)
    enc = tok(prompts, return_tensors="pt", padding=len(prompts) > 1)
    out = model.generate(**enc, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return [tok.decode(o[enc["input_ids"].shape[1] :], skip_special_tokens=True) for o in out]


def test_greedy_output_equals_plain_transformers(chat: ModelHandle, tiny_models) -> None:
    r = chat.generate(PROMPT, temperature=0, max_tokens=24)
    assert r.text == plain_greedy(tiny_models[CHAT], [PROMPT], 24)[0]
    assert r.completion_tokens == 24 and r.finish_reason == "length"
    assert r.prompt_tokens > 0 and r.time_to_first_token is not None and r.tokens_per_second > 0
    batch = chat.generate([PROMPT, "The weather"], temperature=0, max_tokens=12)
    assert [b.text for b in batch] == plain_greedy(tiny_models[CHAT], [PROMPT, "The weather"], 12)


def test_streamed_text_equals_generated_text(chat: ModelHandle) -> None:
    whole = chat.generate(PROMPT, temperature=0, max_tokens=30).text
    chunks = list(chat.stream(PROMPT, temperature=0, max_tokens=30))
    assert len(chunks) > 1 and "".join(chunks) == whole
    assert chat.last_response.text == whole and chat.last_response.completion_tokens == 30


def test_a_seed_makes_sampling_reproducible(chat: ModelHandle) -> None:
    a = chat.generate(PROMPT, temperature=1.0, do_sample=True, seed=7, max_tokens=16).text
    b = chat.generate(PROMPT, temperature=1.0, do_sample=True, seed=7, max_tokens=16).text
    assert a == b


def test_stop_sequences_end_the_text(chat: ModelHandle) -> None:
    whole = chat.generate(PROMPT, temperature=0, max_tokens=30).text
    stop = whole[5:7]
    assert stop and stop in whole
    cut = chat.generate(PROMPT, temperature=0, max_tokens=30, stop=[stop])
    # generation ends at the stop string (transformers matches it across the prompt's end
    # too), and the text ends before it
    assert whole.startswith(cut.text) and stop not in cut.text and len(cut.text) < len(whole)
    assert cut.finish_reason == "stop" and cut.completion_tokens < 30
    assert "".join(chat.stream(PROMPT, temperature=0, max_tokens=30, stop=[stop])) == cut.text


def test_a_stop_ends_a_long_generation_early(llama_384: Path) -> None:
    big = load(llama_384)  # a few hundred tokens/s here: a stop lands mid-generation
    chunks = []
    for chunk in big.stream(PROMPT, temperature=0, max_tokens=1500):
        chunks.append(chunk)
        if len(chunks) == 3:
            big.stop()
    assert big.last_response.finish_reason == "stopped"
    assert big.last_response.completion_tokens < 100  # within a few tokens of the stop
    threading.Timer(0.3, big.stop).start()  # and from another thread while generate() runs
    r = big.generate(PROMPT, temperature=0, max_tokens=1500)
    assert r.finish_reason == "stopped" and r.completion_tokens < 1500


def test_an_error_in_the_generating_thread_reaches_the_caller(chat: ModelHandle, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("out of memory in a kernel")

    monkeypatch.setattr(chat.model, "generate", broken)
    t = time.perf_counter()
    with pytest.raises(EngineError, match="out of memory in a kernel"):
        list(chat.stream(PROMPT, max_tokens=50))
    assert time.perf_counter() - t < 10  # the iterator did not hang
    monkeypatch.undo()
    assert chat.generate(PROMPT, max_tokens=4).completion_tokens == 4  # and the handle still works


def test_chat_uses_the_template_and_keeps_history(chat: ModelHandle) -> None:
    chat.reset()
    first = chat.chat("Hello there", temperature=0, max_tokens=8)
    assert [m["role"] for m in chat.history] == ["system", "user", "assistant"]
    assert chat.history[-1]["content"] == first.text
    assert chat.history[0]["content"] == chat.config.system_prompt
    streamed = "".join(chat.chat("And then?", stream=True, temperature=0, max_tokens=8))
    assert [m["role"] for m in chat.history][-2:] == ["user", "assistant"] and len(
        chat.history
    ) == 5
    assert chat.history[-1]["content"] == streamed
    with pytest.raises(ConfigurationError, match="Unknown generation setting"):
        chat.generate(PROMPT, temprature=0.2)
    with pytest.raises(ConfigurationError, match="beam"):
        list(chat.stream(PROMPT, num_beams=2))


def test_embeddings_and_classification(tiny_models) -> None:
    import numpy as np

    emb = load(tiny_models["nbmodels-demo/tiny-embedder"])
    v = emb.embed(["a sentence", "another one", "a sentence"])
    assert v.shape[0] == 3 and np.allclose((v**2).sum(1), 1.0, atol=1e-5)
    assert np.allclose(v[0], v[2], atol=1e-5) and not np.allclose(v[0], v[1])
    with pytest.raises(EngineError, match="cannot do that"):
        emb.generate("hi")
    clf = load(tiny_models["nbmodels-demo/tiny-classifier"])
    (probs,) = clf.classify("great film")
    assert abs(sum(probs.values()) - 1) < 1e-5 and len(probs) >= 2
    # the other tasks through transformers' pipelines, on the model already loaded
    (top,) = clf.pipeline("text-classification")("great film")
    assert (
        top["label"] == max(probs, key=probs.get) and abs(top["score"] - max(probs.values())) < 1e-4
    )
    with pytest.raises(EngineError, match="pipeline"):
        clf.pipeline("no-such-task")


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
@pytest.mark.parametrize("quant", ["8bit", "nf4"])
def test_bitsandbytes_greedy_equals_plain_transformers(quant: str, llama_384: Path) -> None:
    from transformers import BitsAndBytesConfig

    folder = llama_384
    m = load(folder, quantization=quant, dtype="float32")
    got = m.generate(PROMPT, temperature=0, max_tokens=12).text
    import torch

    bnb = (BitsAndBytesConfig(load_in_8bit=True) if quant == "8bit"
           else BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16))  # fmt: skip
    assert (
        got == plain_greedy(folder, [PROMPT], 12, quantization_config=bnb, dtype=torch.float32)[0]
    )
    assert type(m.model.model.layers[0].self_attn.q_proj).__module__.startswith("bitsandbytes")
    assert m.loader == "streaming"  # read tensor by tensor (tests/test_loader.py: same bytes)


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
def test_bitsandbytes_cast_note_is_said_once_not_per_layer(
    llama_384: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # bitsandbytes logs "inputs will be cast" for every 8-bit layer on every forward pass:
    # hundreds of identical lines in a notebook cell per reply
    m = load(llama_384, quantization="8bit", dtype="float32")
    with caplog.at_level("WARNING", logger="bitsandbytes"):
        m.generate(PROMPT, temperature=0, max_tokens=6)
        list(m.stream(PROMPT, temperature=0, max_tokens=6))
    notes = [r for r in caplog.records if "will be cast" in r.getMessage()]
    assert len(notes) <= 1, f"{len(notes)} copies of bitsandbytes' cast note"


def test_a_model_that_wont_fit_is_refused_before_loading(tiny_models, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from nbmodels import machine

    real = machine.hardware()
    import dataclasses

    tiny = dataclasses.replace(real, ram_available_bytes=10 * 2**20, ram_limit_bytes=None, gpus=())
    monkeypatch.setattr(machine, "hardware", lambda *a, **k: tiny)
    with pytest.raises(EngineError, match=r"won't fit.*check_memory=False"):
        load(tiny_models[CHAT])
    assert load(tiny_models[CHAT], check_memory=False).model is not None


def test_usage_and_the_measured_peak_go_to_the_registry(tiny_models, tmp_path: Path) -> None:
    from nbmodels.discover.sources.local import LocalSource
    from nbmodels.storage.registry import Registry

    settings = Settings(home=tmp_path / "home")
    folder = tiny_models[CHAT]
    reg = Registry(settings=settings)
    reg.register(LocalSource(settings, paths=[])._folder_model(folder, folder.name))
    m = load(folder, settings=settings)
    m.generate(PROMPT, max_tokens=5, temperature=0)
    m.chat("hi", max_tokens=3, temperature=0)
    stats = reg.stats(folder.name)
    assert stats["use_count"] == 2 and stats["tokens_out"] == 8 and stats["busy_seconds"] > 0
    assert stats["measured_peak_bytes"] == m.load_peak_bytes > 0


_UNLOAD = """
import sys
from nbmodels.engine.handle import load
m = load(sys.argv[1], dtype="bfloat16")  # a converted copy: anonymous memory the unload frees
weights = sum(p.numel() * p.element_size() for p in m.model.parameters())
print(m.unload(), weights)
"""


def test_unload_gives_the_memory_back(llama_384: Path) -> None:
    # measured in a process of its own: in the suite's process, threads left by other tests
    # (servers, model threads) allocate while the resident size is read, and CI once saw
    # half of the drop hidden that way
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _UNLOAD, str(llama_384)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    freed, weights = map(int, out.stdout.split()[-2:])
    assert freed >= 0.8 * weights, (freed, weights)


def test_an_unloaded_model_says_so(tiny_models) -> None:
    m = load(tiny_models[CHAT])
    m.unload()
    with pytest.raises(EngineError, match="unloaded"):
        m.generate("hi")


def test_load_by_hub_id_downloads_first(hub_server, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf"
    )
    m = nbmodels.load(CHAT, settings=settings)
    assert (tmp_path / "hf" / "models--nbmodels-demo--tiny-llama-chat").is_dir()
    assert m.chat("hi", max_tokens=4).completion_tokens <= 4
    assert nbmodels.Registry(settings=settings).get(CHAT).usage_stats["use_count"] == 1


def test_the_estimate_shows_the_peak_measured_at_load(tiny_models) -> None:
    from nbmodels.discover.sources.local import LocalSource
    from nbmodels.storage.registry import default_registry

    folder = tiny_models[CHAT]
    default_registry().register(LocalSource(paths=[])._folder_model(folder, folder.name))
    assert nbmodels.estimate_memory(folder).measured_peak_bytes is None  # never loaded yet
    m = load(folder)
    est = nbmodels.estimate_memory(folder)
    assert est.measured_peak_bytes == m.load_peak_bytes > 0
    assert any("measured when last loaded" in n for n in est.notes)


def test_4bit_on_layers_narrower_than_a_block_is_refused_with_what_to_do(tiny_models) -> None:
    with pytest.raises(EngineError, match=r"narrower than bitsandbytes' 4-bit block.*'8bit'"):
        load(tiny_models[CHAT], quantization="nf4")


@pytest.mark.parametrize("qtype", ["F32", "Q8_0"])
def test_gguf_models_load_and_match_plain_transformers(llama_384: Path, tmp_path: Path, qtype: str) -> None:  # fmt: skip
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nbmodels.demo.gguf_export import write_llama_gguf

    gguf = write_llama_gguf(llama_384, tmp_path / f"llama-{qtype}.gguf", qtype=qtype)
    m = load(gguf)
    assert (
        m.kind == "causal" and m.tokenizer.chat_template
    )  # tokenizer and template from the header
    got = m.generate(PROMPT, temperature=0, max_tokens=12)
    tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file=gguf.name)
    plain = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=gguf.name)
    enc = tok(PROMPT, return_tensors="pt")
    out = plain.generate(**enc, max_new_tokens=12, do_sample=False)
    assert got.text == tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    if qtype == "F32":  # the same weights as the safetensors checkpoint: the same text
        assert got.text == load(llama_384).generate(PROMPT, temperature=0, max_tokens=12).text


def test_the_local_ollama_server_runs_a_real_gguf_model_for_the_real_client(tiny_models, tmp_path: Path) -> None:  # fmt: skip
    import ollama

    from nbmodels.demo.gguf_export import write_llama_gguf
    from nbmodels.demo.ollama import OllamaServer
    from nbmodels.storage.ollama_store import OllamaStore

    gguf = write_llama_gguf(tiny_models[CHAT], tmp_path / "chat.gguf", qtype="F32")
    store_dir = tmp_path / "ollama"
    OllamaStore(store_dir).add("real-chat", [("model", gguf.read_bytes())],
                               config={"model_format": "gguf", "model_family": "llama"})  # fmt: skip
    local = load(gguf)
    want = local.generate(PROMPT, temperature=0, max_tokens=10)
    with OllamaServer(store_dir) as server:
        client = ollama.Client(host=server.url)
        got = client.generate("real-chat", PROMPT, options={"temperature": 0, "num_predict": 10})
        assert got.response == want.text and got.eval_count == 10 and got.done_reason == "length"
        parts = list(client.generate("real-chat", PROMPT, options={"temperature": 0, "num_predict": 10}, stream=True))  # fmt: skip
        assert "".join(p.response for p in parts) == want.text and parts[-1].eval_count == 10
        messages = [{"role": "user", "content": "Hello"}]
        chat = client.chat(
            "real-chat", messages=messages, options={"temperature": 0, "num_predict": 6}
        )
        prompt = local.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        assert chat.message.content == local.generate(prompt, temperature=0, max_tokens=6).text
        # and nbmodels' own Ollama path, through the same real client
        handle = load("ollama:real-chat", settings=Settings(ollama_host=server.url))
        assert handle.generate(PROMPT, temperature=0, max_tokens=10).text == want.text
        assert "".join(handle.stream(PROMPT, temperature=0, max_tokens=10)) == want.text
        streamed = "".join(handle.chat("Hello", stream=True, temperature=0, max_tokens=6))
        assert streamed == chat.message.content and handle.history[-1]["content"] == streamed


def test_the_split_engine_modules_hand_out_the_same_objects() -> None:
    """handle.py is split (resolve, model_thread, resident, response, ollama_handle): what
    others import from it is still there, and load("ollama:...") still gives an OllamaHandle."""
    from nbmodels.engine import handle, ollama_handle, response

    assert handle.Response is response.Response
    assert all(hasattr(handle, name) for name in handle.__all__)
    ollama = load("ollama:some-model", settings=Settings(ollama_host="http://127.0.0.1:9"))
    assert isinstance(ollama, ollama_handle.OllamaHandle) and ollama.model_id == "some-model"
