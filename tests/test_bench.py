"""Benchmark cards on real tiny models: every figure measured, perplexity equal to a loop
written here, KL divergence against the unquantized model (and zero against itself), the card
stored whole against the model's version, an Ollama card from the demo server's timings, and
runs that cannot finish (a stop, Ctrl-C, a model that will not load, a reference that fails
mid-way) giving a card that says what was and was not measured."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import shutil
import threading
from pathlib import Path

import pytest

from nbmodels.bench.card import FIGURES, BenchEvent, BenchmarkCard
from nbmodels.bench.run import benchmark
from nbmodels.bench.text import SLICE_BYTES, SLICE_SHA256, wikitext_slice
from nbmodels.errors import ConfigurationError, RegistryWarning
from nbmodels.settings import Settings
from nbmodels.storage.cards import cards, cards_frame
from nbmodels.storage.registry import Registry
from nbmodels.storage.versions import current_version, record_version
from nbmodels.types import ModelConfiguration, ModelMetadata, ModelSource

CHAT = "nbmodels-demo/tiny-llama-chat"
# small enough for the suite: the tiny model's 256-token context, a few windows of 128
QUICK = {"repeats": 2, "prompt_tokens": 64, "generate_tokens": 8, "perplexity_tokens": 600, "window": 128}  # fmt: skip


@pytest.fixture(scope="module")
def chat_card(tiny_models) -> tuple[BenchmarkCard, list[BenchEvent]]:
    events: list[BenchEvent] = []
    card = benchmark(tiny_models[CHAT], save=False, progress=events.append, **QUICK)
    return card, events


def _register(settings: Settings, folder: Path) -> Registry:
    from nbmodels.discover.sources.local import LocalSource

    reg = Registry(settings=settings)
    meta = LocalSource(settings, paths=[])._folder_model(folder, folder.name)
    assert meta is not None
    reg.register(meta)
    record_version(reg, folder.name, note="as built")
    return reg


def test_the_bundled_text_is_the_first_articles_of_wikitext2_test() -> None:
    text = wikitext_slice()
    data = text.encode("utf-8")
    assert len(data) == SLICE_BYTES and hashlib.sha256(data).hexdigest() == SLICE_SHA256
    assert text.startswith(" = Robert Boulter = \r\n")  # the CRLF line ends kept, as shipped
    titles = [line.strip() for line in text.split("\r\n") if line.startswith(" = ") and not line.startswith(" = = ")]  # fmt: skip
    assert len(titles) == 7 and titles[-1] == "= Second Battle of Naktong Bulge ="
    readme = (Path(__file__).resolve().parents[1] / "nbmodels/bench/data/README.md").read_text()
    assert SLICE_SHA256 in readme and "CC BY-SA 3.0" in readme and f"{SLICE_BYTES:,}" in readme


def test_a_tiny_models_card_has_every_figure_with_its_spread(chat_card) -> None:
    card, events = chat_card
    assert card.complete and card.error is None and card.backend == "transformers"
    for figure in ("prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s", "load_s",
                   "peak_load_bytes", "peak_generate_bytes", "peak_bytes", "estimate_bytes", "perplexity"):  # fmt: skip
        value = getattr(card, figure)
        assert value is not None and value > 0, figure
    assert card.peak_bytes == max(card.peak_load_bytes, card.peak_generate_bytes)
    for figure, spread in (("prefill_tokens_per_s", "prefill_spread"), ("decode_tokens_per_s", "decode_spread"), ("ttft_s", "ttft_spread")):  # fmt: skip
        samples = card.samples[figure]
        assert len(samples) == card.repeats == 2
        assert getattr(card, figure) == pytest.approx(sum(samples) / 2)
        assert getattr(card, spread) == pytest.approx(abs(samples[0] - samples[1]) / math.sqrt(2))
    assert card.samples["decode_tokens"] == [8.0, 8.0]  # min_new_tokens: no early end
    assert (card.prompt_tokens, card.generate_tokens) == (64, 8)
    # not quantized: no KL, and the card says why (still complete: it does not apply)
    assert card.kl_divergence is None and "not quantized" in card.not_measured["kl_divergence"]
    assert set(card.not_measured) == {"kl_divergence", "top_token_agreement"}
    assert card.configuration["model_id"] == "tiny-llama-chat" and card.configuration["quantization"] == "none"  # fmt: skip
    assert card.machine["cores"] >= 1 and card.machine["torch"]
    stages = [e.stage for e in events]
    assert stages[0] == "load" and stages[-1] == "done"
    assert [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]] == ["load", "prefill", "decode", "perplexity", "done"]  # fmt: skip
    # the card round-trips through JSON, and shows itself
    again = BenchmarkCard.from_dict(json.loads(card.to_json()))
    assert again == card
    html = card._repr_html_()
    assert "perplexity" in html and "± " in html and "(n=2)" in html and "not quantized" in html
    assert "decode" in repr(card) and "complete" in repr(card)


def test_perplexity_equals_a_loop_written_here(chat_card, tiny_models) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    card, _ = chat_card
    folder = tiny_models[CHAT]
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tok(wikitext_slice(), add_special_tokens=False)["input_ids"][:600]
    nll, n = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids), 127):  # 128-token windows: <s> and 127 tokens
            x = torch.tensor([[tok.bos_token_id, *ids[start : start + 127]]])
            logp = model(x).logits[0, :-1].double().log_softmax(-1)
            nll -= float(logp[torch.arange(x.shape[1] - 1), x[0, 1:]].sum())
            n += x.shape[1] - 1
    assert card.perplexity_tokens == n == 600
    assert card.perplexity == pytest.approx(math.exp(nll / n), rel=1e-4)
    assert "128 tokens" in (card.perplexity_text or "") and "'<s>'" in (card.perplexity_text or "")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
def test_8bit_kl_divergence_against_unquantized_and_zero_against_itself(llama_384: Path) -> None:
    small = {"repeats": 1, "prompt_tokens": 16, "generate_tokens": 2, "window": 128, "kl_tokens": 200}  # fmt: skip
    events: list[BenchEvent] = []
    card = benchmark(llama_384, save=False, quantization="8bit", dtype="float32", perplexity_tokens=254,
                     progress=events.append, **small)  # fmt: skip
    assert card.complete, card.error
    assert card.configuration["quantization"] == "8bit" and "unquantized" in (card.reference or "")
    assert card.kl_tokens == 200 and card.kl_divergence is not None and card.kl_divergence > 0
    assert card.top_token_agreement is not None and 0.0 <= card.top_token_agreement <= 1.0
    kl = card.details["kl"]
    assert kl["kl_max"] >= kl["kl_median"] >= 0 and kl["reference_perplexity"] > 1
    assert {"perplexity", "reference", "kl"} <= {e.stage for e in events}
    # the "quantized" model against itself: the same distributions, token for token
    itself = ModelConfiguration("llama-384-chat", quantization="8bit", dtype="float32")
    same = benchmark(llama_384, save=False, quantization="8bit", dtype="float32", perplexity_tokens=0,
                     reference=itself, **small)  # fmt: skip
    assert same.complete, same.error
    assert same.kl_divergence == 0.0 and same.top_token_agreement == 1.0 and same.kl_tokens == 200
    assert same.not_measured["perplexity"] == "skipped: perplexity_tokens=0"


def test_the_card_is_stored_whole_against_the_current_version(tiny_models, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = tiny_models[CHAT]
    reg = _register(settings, folder)
    record_version(reg, folder.name, note="a second one")
    card = benchmark(folder, settings=settings, **{**QUICK, "perplexity_tokens": 127})
    assert card.number == 1 and card.version == current_version(reg, folder.name) == 2
    stored = cards(reg, folder.name)
    assert len(stored) == 1
    row = stored[0]
    assert (row.number, row.version, row.complete) == (1, 2, True)
    assert BenchmarkCard.from_dict(row.card) == dataclasses.replace(card, number=None)
    frame = cards_frame(reg, folder.name)
    assert frame.loc[0, "decode_tokens_per_s"] == card.decode_tokens_per_s
    assert frame.loc[0, "quantization"] == "none" and frame.loc[0, "backend"] == "transformers"


def test_an_unregistered_models_card_is_returned_not_stored(tiny_models, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    Registry(settings=settings).register(_meta("org/other"))  # a registry, without this model
    with pytest.warns(RegistryWarning, match="not in the registry"):
        card = benchmark(tiny_models[CHAT], settings=settings, **{**QUICK, "perplexity_tokens": 0})
    assert card.number is None and card.complete
    assert cards(Registry(settings=settings)) == []


def _meta(model_id: str) -> ModelMetadata:
    return ModelMetadata(id=model_id, source=ModelSource.HUGGING_FACE)


def test_a_stop_after_the_first_stage_gives_an_incomplete_card_stored_once(tiny_models, tmp_path: Path) -> None:  # fmt: skip
    settings = Settings(home=tmp_path / "home")
    folder = tiny_models[CHAT]
    reg = _register(settings, folder)
    stop = threading.Event()

    def progress(event: BenchEvent) -> None:
        if event.stage == "load" and event.done == event.total:
            stop.set()  # as a Stop button would, once the model is loaded

    card = benchmark(folder, settings=settings, stop=stop, progress=progress, **QUICK)
    assert not card.complete and "stopped during prefill" in (card.error or "")
    assert card.load_s is not None and card.peak_load_bytes is not None  # measured before
    for figure in ("prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s", "perplexity", "peak_generate_bytes"):  # fmt: skip
        assert getattr(card, figure) is None
        assert card.not_measured[figure].startswith("not reached: stopped"), figure
    assert set(card.not_measured) | {"load_s", "peak_load_bytes", "estimate_bytes"} == set(FIGURES)  # fmt: skip
    stored = cards(reg, folder.name)  # one whole row, marked incomplete
    assert [(s.number, s.complete) for s in stored] == [(1, False)]
    assert stored[0].card["not_measured"] == card.not_measured and stored[0].card["error"] == card.error  # fmt: skip


def test_ctrl_c_returns_the_card_so_far_marked_interrupted(tiny_models) -> None:
    def progress(event: BenchEvent) -> None:
        if event.stage == "decode":
            raise KeyboardInterrupt  # what Ctrl-C raises in the waiting cell

    card = benchmark(tiny_models[CHAT], save=False, progress=progress, **QUICK)
    assert not card.complete and card.error == "interrupted during decode (KeyboardInterrupt)"
    assert card.prefill_tokens_per_s is not None and len(card.samples["prefill_tokens_per_s"]) == 2
    assert card.decode_tokens_per_s is None and card.perplexity is None
    assert "interrupted" in card.not_measured["perplexity"]


def test_a_model_that_fails_to_load_gives_a_card_with_the_error(
    tiny_models, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-llama"
    shutil.copytree(tiny_models[CHAT], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # cut short: not loadable
    card = benchmark(broken, save=False, **QUICK)
    assert not card.complete and (card.error or "").startswith("load failed:")
    assert card.model == "broken-llama" and card.configuration["model_id"] == "broken-llama"
    assert all(getattr(card, f) is None for f in FIGURES if f != "estimate_bytes")
    assert set(card.not_measured) >= set(FIGURES) - {"estimate_bytes"}
    missing = benchmark(tmp_path / "no-such-model", save=False, **QUICK)
    assert not missing.complete and "neither a model folder" in (missing.error or "")


def test_a_reference_that_cannot_load_keeps_what_was_measured(tiny_models) -> None:
    # 4-bit on the 32-wide tiny model is refused at load: the run fails mid-way, at the KL
    reference = ModelConfiguration("tiny-llama-chat", quantization="nf4")
    card = benchmark(tiny_models[CHAT], save=False, reference=reference, kl_tokens=100, **QUICK)
    assert not card.complete and (card.error or "").startswith("reference failed:")
    assert "narrower than bitsandbytes" in (card.error or "")
    assert card.perplexity is not None and card.decode_tokens_per_s is not None
    assert card.kl_divergence is None and "reference failed" in card.not_measured["kl_divergence"]


def test_an_ollama_card_from_the_demo_servers_timings(ollama_host: str) -> None:
    events: list[BenchEvent] = []
    card = benchmark("ollama:tinyllama-chat", repeats=2, prompt_tokens=32, generate_tokens=8,
                     save=False, progress=events.append)  # fmt: skip
    assert card.complete and card.backend == "ollama" and card.model == "ollama:tinyllama-chat"
    for figure in ("prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s", "load_s"):
        value = getattr(card, figure)
        assert isinstance(value, float) and math.isfinite(value) and value > 0, figure
    assert len(card.samples["decode_tokens_per_s"]) == 2 and card.decode_spread is not None
    assert all(0 < n <= 8 for n in card.samples["eval_count"])
    assert card.prompt_tokens == round(sum(card.samples["prompt_eval_count"]) / 2) > 0
    assert "log-probabilities" in card.not_measured["perplexity"]
    assert "own process" in card.not_measured["peak_bytes"]
    assert card.configuration["options"] == {"num_predict": 8, "temperature": 0}
    assert {"load", "decode", "done"} <= {e.stage for e in events}


def test_bad_options_are_refused_before_anything_runs(tiny_models) -> None:
    with pytest.raises(ConfigurationError, match="repeats"):
        benchmark(tiny_models[CHAT], repeats=0)
    with pytest.raises(ConfigurationError, match="reference"):
        benchmark(tiny_models[CHAT], reference="float32")


def test_running_out_of_memory_mid_way_keeps_what_was_measured(tiny_models, monkeypatch) -> None:
    # torch's OutOfMemoryError, raised where the perplexity pass would allocate its logits
    import torch

    import nbmodels.bench.run as run

    def out_of_memory(*args: object, **kwargs: object) -> object:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(run, "perplexity", out_of_memory)
    card = benchmark(tiny_models[CHAT], save=False, **QUICK)
    assert not card.complete and "OutOfMemoryError" in (card.error or "")
    assert card.prefill_tokens_per_s is not None and card.decode_tokens_per_s is not None
    assert card.perplexity is None and "OutOfMemoryError" in card.not_measured["perplexity"]
