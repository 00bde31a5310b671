"""The chat playground as widgets: Send streams the reply into the conversation from a
thread, Stop ends it, the status says tokens/s and memory."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

import nbmodels
from nbmodels.engine.handle import load
from nbmodels.storage.registry import Registry
from nbmodels.widgets.chatbox import Playground

CHAT = "nbmodels-demo/tiny-llama-chat"


@pytest.fixture(scope="module")
def handle(tiny_models):  # type: ignore[no-untyped-def]
    return load(tiny_models[CHAT])


def test_send_streams_the_reply_and_keeps_the_conversation(handle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handle.reset()
    pg = Playground(handle, registry=Registry(tmp_path / "r.db"))
    assert pg.picker.value == "__loaded__" and pg.max_tokens.max < 256  # the model's context
    pg.temperature.value = 0.0
    pg.max_tokens.value = 40
    seen = []
    pg.conversation.observe(lambda c: seen.append(c["new"]), names="value")
    pg.message.value = "Hello"
    thread = pg.send()
    assert thread is not None and pg.send_button.disabled and not pg.stop_button.disabled
    pg.wait(60)
    assert not pg.send_button.disabled and pg.stop_button.disabled
    assert any("▌" in v for v in seen)  # the reply was shown while it streamed
    assert handle.history[-2] == {"role": "user", "content": "Hello"}
    reply = handle.history[-1]["content"]
    assert reply == handle.generate(
        handle.tokenizer.apply_chat_template(handle.history[:-1], tokenize=False, add_generation_prompt=True),
        temperature=0, max_tokens=40,
    ).text  # fmt: skip
    assert "tokens/s" in pg.status.value and re.search(r"[0-9.]+ [KMG]B resident", pg.status.value)
    assert pg.message.value == "" and ">Hello<" in pg.conversation.value


def test_stop_ends_the_reply_early(handle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handle.reset()
    pg = Playground(handle, registry=Registry(tmp_path / "r.db"))
    pg.max_tokens.value = pg.max_tokens.max
    pg.send("Tell me everything")
    deadline = time.time() + 30
    while not pg._partial and time.time() < deadline:
        time.sleep(0.01)
    pg.stop_button.click()
    pg.wait(60)
    assert "stopped" in pg.status.value
    assert handle.last_response.finish_reason == "stopped"
    assert handle.last_response.completion_tokens < pg.max_tokens.max
    pg.clear_button.click()
    assert handle.history == [] and "No messages yet" in pg.conversation.value


def test_the_picker_offers_the_registrys_available_models(tiny_models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nbmodels.discover.sources.local import LocalSource
    from nbmodels.settings import Settings

    reg = Registry(tmp_path / "r.db")
    folder = tiny_models[CHAT]
    reg.register(LocalSource(Settings(home=tmp_path), paths=[])._folder_model(folder, "demo/chat"))
    pg = Playground(registry=reg)
    assert pg.picker.options[0][0] == "demo/chat" and pg.handle is None
    pg.load_button.click()
    assert pg.handle is not None and pg.handle.model_id == "tiny-llama-chat"
    empty = nbmodels.widgets.chatbox.Playground(registry=Registry(tmp_path / "empty.db"))
    assert "no model" in empty.picker.options[0][0] and empty.load_button.disabled
