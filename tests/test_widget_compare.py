"""The comparison view as widgets: the bar advances while the comparison runs, the tables
and the chart fill as candidates finish, Stop stops it, and a Comparison shows itself as this
view in a notebook."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from nbmodels import display
from nbmodels.bench.compare import CompareEvent, compare
from nbmodels.errors import BenchmarkWarning
from nbmodels.widgets.compare import ComparisonView, comparison_view

CHAT = "nbmodels-demo/tiny-llama-chat"
PROMPTS = ["Once upon a time", "The weather <today>"]
SMALL: dict[str, Any] = {"max_new_tokens": 6, "repeats": 2, "prompt_tokens": 16, "perplexity_tokens": 64,
         "kl_tokens": 32, "save": False}  # fmt: skip


def test_the_view_follows_the_comparison_to_its_end(tiny_models) -> None:  # type: ignore[no-untyped-def]
    folder = tiny_models[CHAT]
    ready, drawn = threading.Event(), threading.Event()

    def progress(event: CompareEvent) -> None:
        ready.wait(30)  # the first steps wait for the view
        if event.index == 1 and event.stage == "benchmark":
            drawn.wait(30)  # the second is measured once the view shows the first's figures

    c = compare([folder, (folder, {"dtype": "bfloat16"})], PROMPTS, background=True, progress=progress, **SMALL)  # fmt: skip
    view = ComparisonView(c, interval=0.05)
    seen: list[float] = []
    view.bar.observe(lambda change: seen.append(change["new"]), names="value")

    def summary_drawn(change: dict) -> None:
        if ">done<" in change["new"] and "tokens/s" in change["new"]:
            drawn.set()

    view.summary.observe(summary_drawn, names="value")
    assert not view.stop_button.disabled and view.bar.value < 100
    ready.set()
    c.wait(120)
    view.wait(30)
    # the bar went up step by step, never back, and ended full and green
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 100.0
    assert view.bar.bar_style == "success" and view.stop_button.disabled
    assert "2 candidates: 2 done" in view.status.value
    assert drawn.is_set()  # the first candidate's row filled in while the second ran
    for label in c.labels:
        assert label in view.outputs.value and label in view.summary.value
        assert f'data-label="{label}"' in view.chart.value
    for text in [t for column in c.outputs for t in c.outputs[column]]:  # every reply, escaped
        assert display_escape(text) in view.outputs.value
    assert "The weather &lt;today&gt;" in view.outputs.value  # a prompt is text, not markup
    assert "decode tokens/s" in view.summary.value and " ± " in view.summary.value
    assert "<svg" in view.chart.value


def display_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_the_stop_button_stops_the_comparison(tiny_models) -> None:  # type: ignore[no-untyped-def]
    folder = tiny_models[CHAT]
    ready = threading.Event()
    views: list[ComparisonView] = []

    def progress(event: CompareEvent) -> None:  # press Stop once the first answer is in
        if event.index == 0 and event.stage == "generate" and event.done == 1:
            ready.wait(30)
            views[0].stop_button.click()

    c = compare([folder, (folder, {"dtype": "bfloat16"}), (folder, {"dtype": "float16"})], PROMPTS,
                background=True, progress=progress, **SMALL)  # fmt: skip
    views.append(ComparisonView(c, interval=0.05))
    ready.set()
    view = views[0]
    view.wait(120)  # the view has drawn the end; then the warnings, in this thread
    with pytest.warns(BenchmarkWarning, match="not run"):
        c.wait(10)
    first, second, third = c.labels
    assert c.status == {first: "stopped", second: "not run", third: "not run"}
    assert view.stop_button.disabled and view.bar.bar_style == "warning"
    assert view.bar.value == 100.0  # the comparison has ended, though not everything ran
    assert "not run: stopped" in view.status.value
    assert "— not run" in view.outputs.value and "— stopped" in view.outputs.value
    assert view.chart.value == ""  # nothing measured: no chart


def test_a_comparison_shows_itself_as_the_view(
    tiny_models, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    assert display.VIEWS["Comparison"] == "nbmodels.widgets.compare:comparison_view"
    c = compare([tiny_models[CHAT]], PROMPTS[:1], **SMALL)
    bundle = c._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    view = comparison_view(c)
    assert view.bar.value == 100.0 and view._thread is None  # ended: nothing to follow
    monkeypatch.setattr(display, "VIEWS", {})
    text = c._repr_mimebundle_()
    assert set(text) == {"text/plain"} and "decode_tokens_per_s" in text["text/plain"]
    assert text["text/plain"].startswith("<Comparison of 1 candidate on 1 prompt: 1 done>")
