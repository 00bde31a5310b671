"""The Model Manager: a facade over the concept modules, against the local Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbmodels
from nbmodels.modelmanager import ModelManager
from nbmodels.settings import Settings

CHAT = "nbmodels-demo/tiny-llama-chat"


@pytest.fixture
def mgr(hub_server, tmp_path: Path) -> ModelManager:
    settings = Settings(home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf",
                        ollama_host="http://127.0.0.1:9")  # fmt: skip
    return ModelManager(settings)


def test_recommended_ranks_by_fit_licence_and_popularity_with_reasons(mgr: ModelManager) -> None:
    recs = mgr.recommended("text-generation", limit=8, source="huggingface")
    assert 0 < len(recs) <= 8 and recs["reason"].str.len().min() > 10
    # fitting models first, then unknown sizes, then too big; popularity within a class
    order = recs["fits"].map({True: 0, None: 1, False: 2}).fillna(1).tolist()
    assert order == sorted(order)
    assert any("fits this machine" in r for r in recs["reason"])


def test_download_and_configure_registers_both(mgr: ModelManager) -> None:
    task, cfg = mgr.download_and_configure(CHAT, optimize="memory")
    assert task.progress.status.value == "completed"
    assert cfg.model_id == CHAT and cfg.custom_settings["optimized_for"] == "memory"
    entry = mgr.registry.get(CHAT)
    assert entry.is_available and entry.configuration == cfg
    assert nbmodels.get_configuration(CHAT, mgr.settings) == cfg
    tuned = mgr.optimize_configuration(CHAT, "quality")
    assert tuned.quantization == "none" and mgr.registry.get(CHAT).configuration == tuned
    assert mgr.validate() == {"registry": [], "configurations": []}
    stats = mgr.system_stats()
    assert stats["registry_entries"] == 1 and stats["registry_configured"] == 1
    assert mgr.configuration_stats()["stored"] == 1 and mgr.download_stats()["tasks"] == 1
    assert set(mgr.paths) >= {"home", "hf_cache", "registry", "configurations", "templates"}


def test_a_backup_of_the_whole_system_restores_into_another_home(mgr: ModelManager, tmp_path: Path) -> None:  # fmt: skip
    mgr.download_and_configure(CHAT)
    mgr.registry.set_alias("chat-default", CHAT)
    zipped = mgr.backup(tmp_path / "system.zip")
    other = ModelManager(Settings(home=tmp_path / "other-home"))
    assert other.restore(zipped) == {"entries": 1, "configs": 1, "templates": 0, "set_aside": 0}
    assert other.registry.get("@chat-default").configuration == mgr.registry.get(CHAT).configuration
    assert nbmodels.get_configuration(CHAT, other.settings) is not None
    bad = tmp_path / "not-a-backup.zip"
    bad.write_bytes(b"nope")
    with pytest.raises(nbmodels.NBModelsError, match="not an nbmodels backup"):
        other.restore(bad)


def test_the_default_manager_follows_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("NBMODELS_HOME", str(tmp_path / "h"))
    assert nbmodels.manager.paths["registry"] == tmp_path / "h" / "registry.db"
    nbmodels.manager.max_concurrent_downloads = 2
    assert nbmodels.manager.max_concurrent_downloads == 2
    with pytest.raises(nbmodels.NBModelsError):
        nbmodels.manager.max_concurrent_downloads = 0
