"""``nbmodels.browse()`` in a real JupyterLab, in headless Chromium, typed into like a person.

The kernel finds the local Hub (``hub_server``, in this test process) through the
environment it inherits from the JupyterLab server: ``NBMODELS_HF_ENDPOINT``/``HF_ENDPOINT``.
A screenshot of the result lands in ``artifacts/browse.png``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

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

from nbmodels.discover.catalog import Catalog
from nbmodels.settings import Settings

pytestmark = BROWSER_MARKS
CHAT = "nbmodels-demo/tiny-llama-chat"
EMBEDDER = "nbmodels-demo/tiny-embedder"
SEARCH_BOX = "input[placeholder='Search models, e.g. llama']"


def _kernel_env(hub_server, tmp_path):
    """The kernel's homes in the test's temp dir, the local hub as its Hub, no Ollama."""
    return {
        "NBMODELS_HF_ENDPOINT": hub_server.url,
        "HF_ENDPOINT": hub_server.url,
        "NBMODELS_HOME": str(tmp_path / "kernel-home"),
        "HF_HOME": str(tmp_path / "kernel-hf"),
        "HF_HUB_CACHE": str(tmp_path / "kernel-hf" / "hub"),
        "OLLAMA_HOST": os.environ["OLLAMA_HOST"],  # nothing listens there
    }


def test_browse_widget_searches_and_shows_details_in_jupyterlab(hub_server, tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(
        root / "browse.ipynb",
        [
            "import nbmodels\nb = nbmodels.browse(sources=['huggingface'], page_size=8)\nb",
        ],
    )
    env = _kernel_env(hub_server, tmp_path)
    query = "nbmodels-demo"
    expected = Catalog(
        Settings.from_env(hf_endpoint=hub_server.url, home=tmp_path / "check"),
        sources=["huggingface"],
    ).search(query, limit=300)
    assert CHAT in expected["id"].tolist()

    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1300) as page:
        open_notebook(page, lab, "browse.ipynb")  # waits for the kernel to be idle
        hide_left_area(page)
        run_cell(page, 0)
        box = page.locator(SEARCH_BOX)
        box.wait_for(state="visible")
        # the first search (no query) has filled the table
        page.locator(".nbm-table tbody tr").first.wait_for()
        assert "models" in page.locator(".nbm-browser").inner_text()

        box.fill(query)
        box.press("Enter")
        page.locator(".nbm-table td", has_text=CHAT).first.wait_for()
        rows = page.locator(".nbm-table tbody tr")
        shown = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
        assert shown == expected["id"].tolist()[:8]
        status = page.locator(".nbm-browser").inner_text()
        assert f"{len(expected)} model" in status

        # pick the model: the detail pane shows its card
        # (an ipywidgets Dropdown's <option> values are its labels)
        page.locator(".nbm-model-picker select").select_option(f"{CHAT} (huggingface)")
        detail = page.locator(".nbm-detail")
        detail.locator("h3", has_text=CHAT).wait_for()
        assert "text-generation" in detail.inner_text()

        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".jp-Cell").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "browse.png"))

        # the SQL tab: the default query (models per licence) runs and shows its rows
        page.locator(".nbm-browser .lm-TabBar-tab", has_text="SQL").click()
        page.locator(".nbm-browser button", has_text="Run SQL").click()
        page.locator(".nbm-browser", has_text="rows").locator(
            ".nbm-table th", has_text="license"
        ).wait_for()
        assert "apache-2.0" in page.locator(".nbm-browser").inner_text()
        page.screenshot(path=str(ARTIFACTS / "browse-sql.png"))


def test_a_download_panel_streams_progress_and_cancels_in_jupyterlab(hub_server, tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(
        root / "download.ipynb",
        [
            "import nbmodels\n"
            "d = nbmodels.Downloader(max_bytes_per_second=15_000)  # slow: there is time to watch\n"
            f"task = d.download({CHAT!r})\n"
            "task",
        ],
    )
    env = _kernel_env(hub_server, tmp_path)
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=700) as page:
        open_notebook(page, lab, "download.ipynb")
        hide_left_area(page)
        run_cell(page, 0)
        panel = page.locator(".nbm-downloads")
        panel.wait_for()
        stats = panel.locator(".nbm-dl-stats").first
        page.wait_for_function(
            "el => /[1-9][0-9.]* KB \\//.test(el.innerText)", arg=stats.element_handle()
        )
        first = stats.inner_text()
        page.wait_for_function(
            "([el, before]) => el.innerText !== before", arg=[stats.element_handle(), first]
        )
        assert "KB/s" in stats.inner_text() and "files" in stats.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "download.png"))
        panel.locator("button", has_text="Cancel").click()
        panel.locator(".nbm-warn", has_text="cancelled").wait_for()
        assert panel.locator("button", has_text="Retry").is_enabled()
        page.screenshot(path=str(ARTIFACTS / "download-cancelled.png"))


def test_the_configuration_editor_validates_live_and_saves_in_jupyterlab(
    hub_server, tiny_models, tmp_path
):
    root = tmp_path / "lab"
    root.mkdir()
    folder = tiny_models[CHAT]
    write_notebook(
        root / "configure.ipynb",
        [f"import nbmodels\ned = nbmodels.config_editor({str(folder)!r})\ned"],
    )
    env = _kernel_env(hub_server, tmp_path)
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1200) as page:
        open_notebook(page, lab, "configure.ipynb")
        hide_left_area(page)
        run_cell(page, 0)
        editor = page.locator(".nbm-config")
        editor.wait_for()
        memory = editor.locator(".nbm-memory")
        memory.locator("text=fits in RAM").first.wait_for()
        before = memory.inner_text()
        # quantization in the dropdown: the bar and its figures move
        editor.locator(".nbm-f-quantization select").select_option("nf4")
        page.wait_for_function(
            "([el, before]) => el.innerText !== before && el.innerText.includes('nf4')",
            arg=[memory.element_handle(), before],
        )
        # too many new tokens for the context: the message sits beside that field, Save greys
        tokens = editor.locator(".nbm-f-max_tokens input")
        tokens.fill("999999")
        tokens.press("Enter")
        editor.locator(".nbm-error", has_text="do not fit a context").wait_for()
        assert editor.locator("button", has_text="Save").is_disabled()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "configure-error.png"))
        tokens.fill("64")
        tokens.press("Enter")
        page.wait_for_function(
            "el => !el.disabled", arg=editor.locator("button", has_text="Save").element_handle()
        )
        editor.locator("button", has_text="Save").click()
        editor.locator(".nbm-ok", has_text="saved to").wait_for()
        page.locator(".jp-Cell").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "configure.png"))
    saved = tmp_path / "kernel-home" / "configs" / f"{folder.name}.yaml"
    text = saved.read_text()
    assert "quantization: nf4" in text and "max_tokens: 64" in text


def test_the_registry_view_activates_and_backs_up_in_jupyterlab(hub_server, tiny_models, tmp_path):
    from nbmodels.storage.registry import Registry
    from nbmodels.types import ModelConfiguration, ModelMetadata, ModelSource, SupportedTask

    env = _kernel_env(hub_server, tmp_path)
    reg = Registry(settings=Settings(home=Path(env["NBMODELS_HOME"])))
    folder = tiny_models[CHAT]
    reg.register(
        ModelMetadata(id=CHAT, source=ModelSource.HUGGING_FACE, tasks=(SupportedTask.CHAT,),
                      size_bytes=139_904, local_path=str(folder), is_downloaded=True),
        configuration=ModelConfiguration(CHAT), aliases=["chat-default"],
    )  # fmt: skip
    reg.register(ModelMetadata(id="nbmodels-demo/tiny-embedder", source=ModelSource.HUGGING_FACE,
                               tasks=(SupportedTask.EMBEDDING,), size_bytes=117_760))  # fmt: skip
    reg.record_usage(CHAT, tokens_out=120, seconds=3.0, task="chat")
    from nbmodels.storage.versions import record_version, set_alias

    record_version(reg, CHAT, commit="a" * 40, files=(), note="greedy", who="alice")
    record_version(reg, CHAT, commit="b" * 40, files=(), note="sampled", who="bob")
    set_alias(reg, CHAT, "production", 1, who="alice")
    set_alias(reg, CHAT, "production", 2, who="bob")
    from nbmodels.storage.cards import save_card

    card = {"backend": "transformers", "configuration": {"quantization": "nf4"}, "repeats": 3,
            "prefill_tokens_per_s": 512.5, "prefill_spread": 20.25, "decode_tokens_per_s": 41.5,
            "decode_spread": 1.25, "ttft_s": 0.042, "peak_bytes": 3 * 2**30, "perplexity": 17.125,
            "complete": True, "not_measured": {}}  # fmt: skip
    save_card(reg, CHAT, card)
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(root / "registry.ipynb", ["import nbmodels\nnbmodels.registry_view()"])
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1000) as page:
        open_notebook(page, lab, "registry.ipynb")
        hide_left_area(page)
        run_cell(page, 0)
        view = page.locator(".nbm-registry")
        view.locator(".nbm-table td", has_text=CHAT).first.wait_for()
        assert "2 models · 1 downloaded · 1 configured · 0 active" in view.inner_text()
        page.locator(".nbm-registry-picker select").select_option(f"{CHAT} (huggingface)")
        # the selected model's versions, its current one and the history of its aliases
        versions = view.locator(".nbm-versions").first
        versions.wait_for()
        text = view.inner_text()
        assert "sampled" in text and "greedy" in text and "production" in text
        assert "alice" in text and "bob" in text
        cards = view.locator(".nbm-cards").first.inner_text()  # its benchmark card
        assert "41.5 ± 1.2 (n=3)" in cards and "nf4" in cards and "17.12" in cards
        view.locator("button", has_text=re.compile(r"^\s*Activate\s*$")).click()
        view.locator(".nbm-ok", has_text="activated").wait_for()
        view.locator(".nbm-badge.on-active").first.wait_for()
        view.locator("button", has_text="Backup").click()
        view.locator(".nbm-ok", has_text="backed up to").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".jp-Cell").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "registry.png"))
    assert reg.is_active(CHAT)
    assert (Path(env["NBMODELS_HOME"]) / "registry-backup.db").exists()


def test_the_chat_playground_streams_and_stops_in_jupyterlab(hub_server, llama_384, tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    folder = llama_384  # 30M parameters: slow enough here to watch the tokens arrive
    write_notebook(
        root / "chat.ipynb",
        [
            "import nbmodels\n"
            f"model = nbmodels.load({str(folder)!r})\n"
            "pg = nbmodels.playground(model)\npg.max_tokens.value = pg.max_tokens.max\npg",
            "import ipykernel; ipykernel.__version__",
        ],
    )
    env = _kernel_env(hub_server, tmp_path)
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1000) as page:
        open_notebook(page, lab, "chat.ipynb")
        hide_left_area(page)
        run_cell(page, 0)
        pg = page.locator(".nbm-playground")
        pg.wait_for()
        pg.locator(".nbm-pg-message textarea").fill("Tell me a long story")
        pg.locator("button", has_text=re.compile(r"^\s*Send\s*$")).click()
        reply = pg.locator(".nbm-msg.assistant").last
        reply.wait_for()
        # the conversation is re-rendered as tokens arrive: read the last reply afresh
        last = (
            "() => { const m = document.querySelectorAll('.nbm-playground .nbm-msg.assistant');"
            " return m.length ? m[m.length - 1].innerText : ''; }"
        )
        page.wait_for_function(f"({last})().length > 30")
        first = page.evaluate(last)
        page.wait_for_function(f"({last})().length > {len(first)}")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "playground-streaming.png"))
        pg.locator("button", has_text=re.compile(r"^\s*Stop\s*$")).click()
        pg.locator(".nbm-pg-status", has_text="stopped").wait_for()
        assert "tokens/s" in pg.locator(".nbm-pg-status").inner_text()
        page.locator(".jp-Cell").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "playground.png"))
        run_cell(page, 1)
        version = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output").inner_text()
        print("ipykernel", version)  # the version this streaming was tested on


_ERRORS_JS = """() => {
    const nb = window.jupyterapp.shell.currentWidget.content.model;
    const errors = [], counts = [], texts = [];
    for (let i = 0; i < nb.cells.length; i++) {
        const c = nb.cells.get(i);
        if (c.type !== 'code') continue;
        counts.push(c.executionCount);
        for (let j = 0; j < c.outputs.length; j++) {
            const o = c.outputs.get(j).toJSON();
            if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
            if (o.output_type === 'stream') texts.push([].concat(o.text).join(''));
        }
    }
    return {errors, counts, text: texts.join('')};
}"""


def test_the_complete_workflow_notebook_runs_through_its_widgets_in_jupyterlab(tmp_path):
    """notebooks/06-complete-workflow.ipynb as a user runs it: Run All on the embedded demo
    hub (the notebook starts it: offline), then search and download in the browser widget,
    change and save the configuration in the editor, and chat in the playground."""
    import shutil

    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(
        Path(__file__).resolve().parents[1] / "notebooks" / "06-complete-workflow.ipynb",
        root / "notebooks",
    )
    env = {
        "NBMODELS_HOME": str(tmp_path / "kernel-home"),
        "HF_HOME": str(tmp_path / "kernel-hf"),
        "HF_HUB_CACHE": str(tmp_path / "kernel-hf" / "hub"),
        "OLLAMA_MODELS": str(tmp_path / "kernel-ollama"),
        "NBMODELS_DEMO": "1",
    }
    with JupyterLab(root, env=env) as lab, chromium_page(width=1400, height=1100) as page:
        open_notebook(page, lab, "notebooks/06-complete-workflow.ipynb")
        hide_left_area(page)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(
            f"() => ({_ERRORS_JS})().counts.every(n => n !== null)", timeout=300_000
        )
        done = page.evaluate(_ERRORS_JS)
        assert done["errors"] == [], done["errors"]
        # every step printed what the seed's workflow prints (read from the notebook's
        # model: JupyterLab renders only the cells in view)
        text = done["text"]
        assert (
            "completed True" in text
            and "active: True" in text
            and "Total available models:" in text
        )

        # search and download through the browser widget: type a search for a model the
        # notebook has not downloaded, pick it, download it, watch the panel finish
        browser = page.locator(".nbm-browser")
        browser.scroll_into_view_if_needed()
        page.locator(".nbm-table td", has_text=CHAT).first.wait_for()
        box = browser.locator(SEARCH_BOX)
        box.fill("tiny-embedder")
        box.press("Enter")
        browser.locator(".nbm-table td", has_text=EMBEDDER).first.wait_for()
        page.locator(".nbm-model-picker select").select_option(f"{EMBEDDER} (huggingface)")
        browser.locator(".nbm-detail h3", has_text=EMBEDDER).wait_for()
        browser.locator("button", has_text="Download").first.click()
        panel = browser.locator(".nbm-downloads")
        panel.wait_for()
        panel.locator(".nbm-dl-stats").first.wait_for()
        panel.filter(has_text="1 done").wait_for(timeout=120_000)
        stats = panel.locator(".nbm-dl-stats").first.inner_text()
        files = re.search(r"(\d+)/(\d+) files", stats)
        assert files and files[1] == files[2] and int(files[1]) > 0, stats
        panel.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workflow-browse.png"))
        # in the demo's own HF cache (the demo keeps its files under its home)
        cached = (
            tmp_path / "kernel-home" / "demo" / "hf-cache" / "models--nbmodels-demo--tiny-embedder"
        )
        assert any((cached / "snapshots").rglob("*.safetensors")), "not in the HF cache"

        # the configuration editor: fewer new tokens, save
        editor = page.locator(".nbm-config")
        editor.scroll_into_view_if_needed()
        editor.locator(".nbm-memory").locator("text=fits").first.wait_for()
        tokens = editor.locator(".nbm-f-max_tokens input")
        tokens.fill("20")
        tokens.press("Enter")
        save = editor.locator("button", has_text="Save")
        page.wait_for_function("el => !el.disabled", arg=save.element_handle())
        save.click()
        editor.locator(".nbm-ok", has_text="saved to").wait_for()
        page.screenshot(path=str(ARTIFACTS / "workflow-configure.png"))

        # chat in the playground: the reply streams in, with its speed
        pg = page.locator(".nbm-playground")
        pg.scroll_into_view_if_needed()
        # sample (the stored configuration is greedy, and this random-weight model's greedy
        # answer is blank lines): type 0.8 into the temperature slider's readout
        readout = pg.locator(".widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("0.8")
        page.keyboard.press("Enter")
        pg.locator(".widget-readout", has_text="0.80").first.wait_for()
        pg.locator(".nbm-pg-message textarea").fill("Hello there")
        pg.locator("button", has_text=re.compile(r"^\s*Send\s*$")).click()
        pg.locator(".nbm-msg.assistant").last.wait_for()
        pg.locator(".nbm-pg-status", has_text="tokens/s").wait_for(timeout=60_000)
        reply = pg.locator(".nbm-msg.assistant").last.inner_text()
        assert reply.replace("assistant", "", 1).strip(), reply
        pg.locator(".nbm-pg-status").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "workflow-chat.png"))
    # the demo keeps its own home inside the kernel's (its catalog, cache and configurations)
    saved = tmp_path / "kernel-home" / "demo" / "configs" / "nbmodels-demo--tiny-llama-chat.yaml"
    assert "max_tokens: 20" in saved.read_text()
