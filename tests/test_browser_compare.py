"""``nbmodels.compare`` in a real JupyterLab, in headless Chromium: two tiny candidates run in
the background of a notebook cell while the view follows them; when they are done the
outputs, the summary and the chart are on the page. A screenshot lands in
``artifacts/compare.png``."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from browser import (
    ARTIFACTS,
    BROWSER_MARKS,
    JupyterLab,
    chromium_page,
    hide_left_area,
    open_notebook,
    run_cell,
    write_notebook,
)

pytestmark = BROWSER_MARKS
CHAT = "nbmodels-demo/tiny-llama-chat"


def test_a_comparison_runs_and_shows_its_tables_and_chart_in_jupyterlab(tiny_models, tmp_path):
    folder = str(tiny_models[CHAT])
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(
        root / "compare.ipynb",
        [
            "import nbmodels\n"
            f"folder = {folder!r}\n"
            "c = nbmodels.compare([folder, (folder, {'dtype': 'bfloat16'})], ['Once upon a time', 'The weather'],\n"
            "            max_new_tokens=8, repeats=2, prompt_tokens=16, perplexity_tokens=64,\n"
            "            kl_tokens=32, save=False, background=True)\n"
            "c",
        ],
    )
    env = {
        "NBMODELS_HOME": str(tmp_path / "kernel-home"),
        "HF_HOME": str(tmp_path / "kernel-hf"),
        "HF_HUB_CACHE": str(tmp_path / "kernel-hf" / "hub"),
        "HF_ENDPOINT": os.environ["HF_ENDPOINT"],  # nothing listens there: no Hub
        "OLLAMA_HOST": os.environ["OLLAMA_HOST"],  # nor an Ollama
    }
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1300) as page:
        open_notebook(page, lab, "compare.ipynb")
        hide_left_area(page)
        run_cell(page, 0)  # returns at once: the comparison runs in the background
        view = page.locator(".nbm-compare")
        view.wait_for()
        assert view.locator("button", has_text="Stop").is_visible()
        view.locator(".nbm-cmp-status", has_text="2 candidates: 2 done").wait_for(timeout=180_000)
        assert view.locator("button", has_text="Stop").is_disabled()

        outputs = view.locator("table.nbm-cmp-outputs")
        assert outputs.is_visible()
        heads = [h.strip() for h in outputs.locator("th").all_inner_texts()]
        assert heads == ["prompt", "tiny-llama-chat", "tiny-llama-chat · bf16"]
        assert outputs.locator("tbody tr").count() == 2

        summary = view.locator("table.nbm-cmp-summary")
        assert summary.is_visible()
        assert "decode tokens/s" in summary.inner_text()
        rows = summary.locator("tbody tr")
        assert rows.count() == 2 and all("done" in t for t in rows.all_inner_texts())

        chart = view.locator(".nbm-cmp-chart svg")
        chart.scroll_into_view_if_needed()
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        # what each label shows (its first text node; the <title> inside is its tooltip)
        labels = chart.locator("text.nbm-chart-label").evaluate_all(
            "els => els.map(e => e.firstChild.textContent.trim())"
        )
        assert len(labels) == 6 and all(labels)  # two candidates in three panels
        assert set(labels) == {"tiny-llama-chat", "tiny-llama-chat · bf16"}
        assert chart.locator("rect.nbm-chart-bar").count() == 6
        # no label runs off the left edge of the chart
        for i in range(len(labels)):
            label_box = chart.locator("text.nbm-chart-label").nth(i).bounding_box()
            assert label_box is not None and label_box["x"] >= box["x"] - 1

        ARTIFACTS.mkdir(exist_ok=True)
        view.scroll_into_view_if_needed()
        page.locator(".jp-Cell").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
