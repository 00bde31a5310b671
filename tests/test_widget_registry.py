"""The registry view as widgets: badges from the registry's state, every button one registry
call, the table read again after it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

import nbmodels
from nbmodels.storage.registry import Registry
from nbmodels.types import ModelConfiguration, ModelMetadata, ModelSource, SupportedTask
from nbmodels.widgets.registry import RegistryView


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "registry.db")
    r.register(ModelMetadata(id="org/chat", source=ModelSource.HUGGING_FACE, tasks=(SupportedTask.CHAT,),
                             size_bytes=10**6, local_path=str(tmp_path), is_downloaded=True),
               configuration=ModelConfiguration("org/chat"))  # fmt: skip
    r.register(ModelMetadata(id="org/embed", source=ModelSource.HUGGING_FACE, tasks=(SupportedTask.EMBEDDING,)))  # fmt: skip
    r.record_usage("org/chat", tokens_out=30, seconds=1.5)
    return r


def test_the_table_shows_each_entry_with_its_badges(reg: Registry) -> None:
    view = RegistryView(reg)
    assert "2 models · 1 downloaded · 1 configured · 0 active · 1 uses" in view.summary.value
    table = view.table.value
    assert table.count("<tr>") == 3  # a header and two rows
    chat_row = table.split(">org/chat</td>")[1].split("</tr>")[0]
    assert "on-downloaded" in chat_row and "on-configured" in chat_row and "on-fits" in chat_row
    assert "not active" in chat_row and ">20.0<" in chat_row  # 30 tokens in 1.5 s
    embed_row = table.split(">org/embed</td>")[1].split("</tr>")[0]
    assert "not downloaded" in embed_row and "fits?" in embed_row  # no size: not judged


def test_buttons_change_the_registry_and_the_view_follows(reg: Registry, tmp_path: Path) -> None:
    view = RegistryView(reg)
    view.picker.value = "huggingface:org/chat"
    view.activate_button.click()
    assert reg.is_active("org/chat") and "on-active" in view.table.value
    assert view.activate_button.disabled and not view.deactivate_button.disabled
    view.dependency.value = "huggingface:org/embed"
    view.add_dependency_button.click()
    assert reg.dependencies("org/chat") == ["huggingface:org/embed"]
    assert "huggingface:org/embed" in view.detail.value
    view.picker.value = "huggingface:org/embed"
    view.dependency.value = "huggingface:org/chat"
    view.add_dependency_button.click()  # a cycle: refused, said, nothing changed
    assert "cycle" in view.status.value and reg.dependencies("org/embed") == []
    view.alias.value = "main"
    view.alias_button.click()
    assert reg.get("@main").metadata.id == "org/embed"
    view.backup_path.value = str(tmp_path / "b.db")
    view.backup_button.click()
    assert "backed up to" in view.status.value and (tmp_path / "b.db").exists()
    reg.remove("org/chat")
    view.restore_button.click()
    assert "restored 2 entries" in view.status.value and "org/chat" in reg
    view.filter.value = "embed"
    assert "org/chat" not in view.table.value and "1 match" in view.summary.value
    view.validate_button.click()
    assert "sound" in view.status.value


def test_the_default_view_is_the_default_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("NBMODELS_HOME", str(tmp_path / "h"))
    view = nbmodels.registry_view()
    assert view.registry.path == tmp_path / "h" / "registry.db"
    assert "No models registered yet" in view.table.value


def test_the_detail_pane_shows_the_models_benchmark_cards(reg: Registry) -> None:
    from nbmodels.storage.cards import save_card
    from nbmodels.storage.versions import record_version

    view = RegistryView(reg)
    view.picker.value = reg.get("org/chat").metadata.key
    assert "No benchmark cards yet" in view.cards.value
    record_version(reg, "org/chat", files=())
    card = {"backend": "transformers", "configuration": {"quantization": "nf4"}, "repeats": 3,
            "decode_tokens_per_s": 41.25, "decode_spread": 1.5, "perplexity": 17.125,
            "peak_bytes": 3 * 2**30, "complete": False,
            "not_measured": {"kl_divergence": "stopped before the reference ran"}}  # fmt: skip
    save_card(reg, "org/chat", card)
    view.refresh()
    cards = view.cards.value
    row = cards.split("<tbody>")[1]
    assert ">1<" in row and "nf4" in row and "41.2 ± 1.5 (n=3)" in row and "17.12" in row
    assert "3.2 GB" in row and "incomplete: kl_divergence" in row and "stopped before the reference ran" in row  # fmt: skip
