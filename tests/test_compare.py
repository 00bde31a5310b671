"""nbmodels.bench.compare on real tiny models: the same prompts through each candidate, the
outputs side by side, a benchmark card each, a candidate that won't fit skipped with the
estimate's reason, a failing one recorded while the others run, stop() leaving the rest not
run, the summary and the chart."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from nbmodels.bench.candidates import parse_candidates
from nbmodels.bench.chart import chart_svg
from nbmodels.bench.compare import CompareEvent, Comparison, compare
from nbmodels.errors import BenchmarkWarning, ConfigurationError
from nbmodels.types import ModelConfiguration

CHAT = "nbmodels-demo/tiny-llama-chat"
PROMPTS = ["Once upon a time", "The weather"]
#: small sizes: the whole file runs in well under a minute on two cores
SMALL: dict[str, Any] = {"max_new_tokens": 8, "repeats": 2, "prompt_tokens": 16, "perplexity_tokens": 64,
         "kl_tokens": 32, "save": False}  # fmt: skip
SVG = "{http://www.w3.org/2000/svg}"


# -- candidates and labels (nothing loaded) ---------------------------------------------------------
def test_candidates_get_readable_unique_labels(tiny_models) -> None:
    folder = tiny_models[CHAT]
    cands = parse_candidates([
        folder,
        ("org/model", {"quantization": "nf4"}),
        ("org/model", {"dtype": "bfloat16", "max_context_length": 512}),
        ModelConfiguration("org/model", quantization="8bit"),
        {"model": "ollama:qwen3:0.6b", "label": "Qwen3 via Ollama"},
        str(folder),
        ("org/model", {"quantization": "nf4"}),
    ])  # fmt: skip
    assert [c.label for c in cands] == [
        "tiny-llama-chat",
        "org/model · nf4",
        "org/model · bf16 · max_context_length=512",
        "org/model · 8bit",
        "Qwen3 via Ollama",
        "tiny-llama-chat (2)",
        "org/model · nf4 (2)",
    ]
    assert cands[3].config is not None and cands[3].model == "org/model"
    assert cands[1].overrides == {"quantization": "nf4"} and cands[4].is_ollama


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ([], "at least one candidate"),
        ("org/model", "list of candidates"),
        ([("org/model", {"quantisation": "nf4"})], "did you mean 'quantization'"),
        ([{"label": "x"}], "needs a 'model' key"),
        ([("org/model", 3)], "ModelConfiguration or a dict"),
        ([42], "is not a model"),
        ([(42, {})], "the model must be"),
        (
            [{"model": "org/model", "config": {"dtype": "float16"}}],
            "'config' must be a ModelConfiguration",
        ),
        ([ModelConfiguration("")], "no model_id"),
    ],
)
def test_bad_candidates_are_refused_before_anything_runs(candidates, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        compare(candidates, PROMPTS)


def test_bad_prompts_and_sizes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="non-empty strings"):
        compare(["org/model"], [""])
    with pytest.raises(ConfigurationError, match="max_new_tokens"):
        compare(["org/model"], PROMPTS, max_new_tokens=0)


# -- the chart (filled by hand) ---------------------------------------------------------------------
def _chart_rows() -> list[dict[str, object]]:
    long = "some-organisation/a-rather-long-model-name-for-a-label · nf4 · bf16"
    return [
        {"label": "demo/chat · fp32", "status": "done", "decode_tokens_per_s": 120.0,
         "decode_spread": 4.0, "peak_gib": 0.25, "perplexity": 512.5},
        {"label": long, "status": "done", "decode_tokens_per_s": 60.0, "decode_spread": None,
         "peak_gib": 0.05, "perplexity": None},
        {"label": "big/model", "status": "skipped", "decode_tokens_per_s": None,
         "decode_spread": None, "peak_gib": None, "perplexity": None},
    ]  # fmt: skip


def test_the_chart_has_a_bar_per_measured_candidate_and_every_label() -> None:
    rows = _chart_rows()
    svg = chart_svg(rows)
    root = ET.fromstring(svg)  # well-formed XML
    width = float(root.get("width", "0"))
    bars = root.findall(f".//{SVG}rect")
    by_label: dict[str, int] = {}
    for bar in bars:
        by_label[bar.get("data-label", "")] = by_label.get(bar.get("data-label", ""), 0) + 1
    # three panels: the first two candidates have decode speed and memory, the first perplexity
    assert by_label == {rows[0]["label"]: 3, rows[1]["label"]: 2}
    # the longest bar is the largest value, and no bar runs past the picture
    decode = bars[:2]  # the first panel's
    assert float(decode[0].get("width", 0)) > float(decode[1].get("width", 0))
    assert all(float(b.get("x", 0)) + float(b.get("width", 0)) <= width for b in bars)
    labels = root.findall(f".//{SVG}text[@class='nbm-chart-label']")
    assert len(labels) == 3 * len(rows)
    shown = {t.text for t in labels}
    assert "demo/chat · fp32" in shown and "big/model" in shown
    cut = next(t for t in labels if (t.text or "").endswith("…"))  # the long label, with it whole
    assert cut.findtext(f"{SVG}title") == rows[1]["label"]
    # a label's right edge is where its bars begin: it must fit left of them
    assert all(float(t.get("x", 0)) - 7.2 * len(t.text or "") >= 0 for t in labels)
    text = "".join(root.itertext())
    assert "120.0 ± 4.0" in text and "0.25 GiB" in text and "51 MiB" in text and "— skipped" in text
    assert "— not measured" in text  # the second candidate's perplexity


# -- real runs --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_candidates(tiny_models) -> Comparison:  # type: ignore[no-untyped-def]
    """One model in two candidates (the same settings twice) and a third in bfloat16."""
    folder = tiny_models[CHAT]
    events: list[CompareEvent] = []
    c = compare([folder, folder, (folder, {"dtype": "bfloat16"})], PROMPTS, progress=events.append, **SMALL)  # fmt: skip
    c.test_events = events  # type: ignore[attr-defined]
    return c


def test_outputs_are_prompts_by_candidates_and_greedy(two_candidates: Comparison) -> None:
    c = two_candidates
    assert c.done and c.labels == ["tiny-llama-chat", "tiny-llama-chat (2)", "tiny-llama-chat · bf16"]  # fmt: skip
    assert c.status == dict.fromkeys(c.labels, "done") and not c.skipped and not c.failed
    out = c.outputs
    assert out.shape == (len(PROMPTS), 3) and list(out.index) == PROMPTS
    assert list(out.columns) == c.labels and out.notna().all().all()
    # the same model with the same settings answers the same, word for word (greedy)
    assert out["tiny-llama-chat"].tolist() == out["tiny-llama-chat (2)"].tolist()
    assert all(r.completion_tokens == SMALL["max_new_tokens"] for r in c.responses["tiny-llama-chat"])  # fmt: skip


def test_each_candidate_has_a_card_and_a_summary_row(two_candidates: Comparison) -> None:
    c = two_candidates
    assert set(c.cards) == set(c.labels)
    assert all(card.repeats == 2 and card.generate_tokens == 8 for card in c.cards.values())
    assert c.cards["tiny-llama-chat · bf16"].configuration["dtype"] == "bfloat16"
    s = c.summary()
    assert list(s.index) == c.labels
    for column in ("status", "decode_tokens_per_s", "decode_spread", "prefill_tokens_per_s",
                   "ttft_s", "load_s", "peak_bytes", "peak_gib", "perplexity",
                   "kl_divergence", "note"):  # fmt: skip
        assert column in s.columns
    assert (s["decode_tokens_per_s"] > 0).all() and (s["peak_bytes"] > 0).all()
    assert (s["perplexity"] > 1).all()
    # the load was timed once, by the comparison's own load (the benchmark reused the model)
    assert (s["load_s"] > 0).all()
    assert all("load_s" not in card.not_measured for card in c.cards.values())
    assert all(card.peak_bytes == max(card.peak_load_bytes, card.peak_generate_bytes) for card in c.cards.values())  # fmt: skip
    # the summary's figures are the cards'
    first = c.cards[c.labels[0]]
    assert s.loc[c.labels[0], "decode_tokens_per_s"] == first.decode_tokens_per_s


def test_progress_goes_candidate_by_candidate_to_the_end(two_candidates: Comparison) -> None:
    events = two_candidates.test_events  # type: ignore[attr-defined]
    assert events == two_candidates.events
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1].stage == "finished" and "3 done" in events[-1].message
    stages = [(e.index, e.stage.split(":")[0]) for e in events]
    for i in range(3):
        mine = [s for idx, s in stages if idx == i]
        assert mine.index("load") < mine.index("generate") < mine.index("benchmark") < mine.index("done")  # fmt: skip
    assert any(e.stage.startswith("benchmark: ") for e in events)  # the benchmark's own steps
    assert "candidate 2 of 3" in str(next(e for e in events if e.index == 1))


def test_the_chart_and_json_of_a_real_run(two_candidates: Comparison) -> None:
    c = two_candidates
    chart = c.chart()
    assert chart._repr_svg_() == str(chart)
    root = ET.fromstring(chart.svg)
    bars = [b.get("data-label") for b in root.findall(f".//{SVG}rect")]
    for label in c.labels:
        assert bars.count(label) == 3  # decode, memory, perplexity
        assert label in "".join(root.itertext())
    data = json.loads(c.to_json())
    assert data["prompts"] == PROMPTS and data["done"] is True
    assert [d["label"] for d in data["candidates"]] == c.labels
    first = data["candidates"][0]
    assert first["status"] == "done" and len(first["outputs"]) == 2
    assert first["card"]["decode_tokens_per_s"] == c.cards[c.labels[0]].decode_tokens_per_s
    assert "done" in repr(c) and "3 candidates" in repr(c)


def test_a_candidate_that_wont_fit_is_skipped_and_a_failing_one_recorded(tiny_models, llama_384: Path) -> None:  # fmt: skip
    from nbmodels import machine
    from nbmodels.config.configuration import configure
    from nbmodels.config.memory import estimate_memory

    small, big = tiny_models[CHAT], llama_384
    need = {}
    for folder in (small, big):
        cfg = configure(folder)
        est = estimate_memory(folder, cfg, context=cfg.max_context_length)
        need[folder] = est.peak_bytes + est.spread_bytes
    assert need[small] < need[big]
    # this machine, as the estimate sees it: room for the small model, not for the big one
    real = machine.hardware()
    tight = dataclasses.replace(real, ram_available_bytes=(need[small] + need[big]) // 2, ram_limit_bytes=None, gpus=())  # fmt: skip
    candidates = [big, (small, {"quantization": "nf4"}), small]
    with pytest.warns(BenchmarkWarning) as said:
        c = compare(candidates, PROMPTS, hardware=tight, **SMALL)
    big_label, nf4_label, small_label = c.labels
    assert c.status == {big_label: "skipped", nf4_label: "failed", small_label: "done"}
    assert re.match(r"won't fit: it needs about [0-9.]+ GiB at peak \(up to [0-9.]+ GiB: identical runs vary\) and [0-9.]+ GiB are free", c.skipped[big_label])  # fmt: skip
    assert c.estimates[big_label].verdict == "won't fit" and not c.responses[big_label]
    # the 32-wide model cannot take bitsandbytes' 4-bit blocks of 64: said, the others ran
    assert "narrower than bitsandbytes' 4-bit block" in c.failed[nf4_label]
    assert c.outputs[small_label].notna().all() and c.outputs[big_label].isna().all()
    assert set(c.cards) == {small_label}
    s = c.summary()
    assert s.loc[big_label, "note"] == c.skipped[big_label]
    assert s.loc[nf4_label, "note"] == c.failed[nf4_label]
    messages = [str(w.message) for w in said]
    assert any(m.startswith(f"{big_label} was skipped: won't fit") for m in messages)
    assert any(m.startswith(f"{nf4_label} failed: EngineError") for m in messages)
    assert "— skipped" in c.chart().svg and "— failed" in c.chart().svg


def test_stop_ends_the_running_candidate_and_leaves_the_rest_not_run(tiny_models) -> None:
    folder = tiny_models[CHAT]
    stop = threading.Event()

    def progress(event: CompareEvent) -> None:  # stop once the first answer is in
        if event.index == 0 and event.stage == "generate" and event.done == 1:
            stop.set()

    with pytest.warns(BenchmarkWarning, match=r"stopped: .* not run"):
        c = compare([folder, (folder, {"dtype": "bfloat16"}), (folder, {"dtype": "float16"})],
                    PROMPTS, progress=progress, stop=stop, **SMALL)  # fmt: skip
    first, second, third = c.labels
    assert c.stopped and c.status == {first: "stopped", second: "not run", third: "not run"}
    assert c.skipped == {second: "not run: stopped", third: "not run: stopped"}
    assert c.outputs[first].tolist() == [c.responses[first][0].text, None]
    assert not c.cards  # stopped before its benchmark
    assert c.events[-1].stage == "finished" and c.fraction == 1.0
    assert c.summary()["status"].tolist() == ["stopped", "not run", "not run"]


def test_an_ollama_model_beside_a_transformers_model(ollama_host, tiny_models) -> None:  # type: ignore[no-untyped-def]
    folder = tiny_models[CHAT]
    c = compare(["ollama:tinyllama-chat", folder], PROMPTS, **SMALL)
    ollama, local = c.labels
    assert ollama == "ollama:tinyllama-chat" and c.status == {ollama: "done", local: "done"}
    assert c.outputs[ollama].notna().all()
    assert c.cards[ollama].backend == "ollama" and c.cards[local].backend == "transformers"
    assert c.estimates.get(ollama) is None  # Ollama places the model itself: no estimate
    assert c.summary().loc[ollama, "decode_tokens_per_s"] > 0


def test_a_model_already_loaded_is_used_and_left_loaded(tiny_models) -> None:  # type: ignore[no-untyped-def]
    from nbmodels.engine.handle import load

    handle = load(tiny_models[CHAT])
    c = compare([handle], PROMPTS[:1], **SMALL)
    label = c.labels[0]  # its name and the settings it was loaded with
    assert label == "tiny-llama-chat · fp32" and c.status == {label: "done"}
    assert c.to_dict()["candidates"][0]["model"] == str(tiny_models[CHAT])
    assert handle.model is not None  # the caller's model: not unloaded
    greedy = handle.generate(PROMPTS[0], temperature=0, max_tokens=SMALL["max_new_tokens"]).text
    assert c.outputs.iloc[0, 0] == greedy
