"""Benchmark cards in the registry (``nbmodels.storage.cards``), on the embedded SQLite file
and on a real PostgreSQL server: numbered 1..N per model by the database, stored against the
current version and the configuration's hash, whole or not at all, carried by backup and by
a move between backends, and queryable with SQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from nbmodels.errors import ConfigurationError
from nbmodels.settings import Settings
from nbmodels.storage.cards import cards, cards_frame, config_hash, save_card
from nbmodels.storage.registry import Registry
from nbmodels.storage.transfer import migrate_registry
from nbmodels.storage.versions import record_version
from nbmodels.types import ModelMetadata, ModelSource


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", hf_cache=tmp_path / "hf")


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    if request.param == "sqlite":
        return Registry(settings=_settings(tmp_path))
    pg_url = request.getfixturevalue("pg_url")
    return Registry(pg_url, settings=_settings(tmp_path))


def _card(decode: float, *, quantization: str = "none", complete: bool = True) -> dict[str, object]:
    return {
        "model": "org/m",
        "backend": "transformers",
        "configuration": {"model_id": "org/m", "quantization": quantization, "temperature": 0.7},
        "decode_tokens_per_s": decode,
        "prefill_tokens_per_s": decode * 10,
        "perplexity": 12.5,
        "complete": complete,
        "not_measured": {} if complete else {"perplexity": "stopped"},
    }


def _register(reg: Registry, model_id: str = "org/m") -> str:
    reg.register(ModelMetadata(id=model_id, source=ModelSource.HUGGING_FACE))
    return model_id


def test_cards_are_numbered_per_model_and_stored_against_the_current_version(reg: Registry) -> None:  # fmt: skip
    _register(reg)
    _register(reg, "org/other")
    assert save_card(reg, "org/m", _card(10.0)) == 1  # no version yet: stored against none
    record_version(reg, "org/m", files=(), note="first")
    record_version(reg, "org/m", files=(), note="second")
    assert save_card(reg, "org/m", _card(11.0, quantization="8bit", complete=False)) == 2
    assert save_card(reg, "org/other", _card(5.0)) == 1
    stored = cards(reg, "org/m")
    assert [(c.number, c.version, c.complete) for c in stored] == [(1, None, True), (2, 2, False)]
    assert stored[1].card["decode_tokens_per_s"] == 11.0
    assert stored[0].config_hash != stored[1].config_hash  # another quantization, another hash
    assert stored[0].config_hash == config_hash(_card(99.0)["configuration"])  # type: ignore[arg-type]
    frame = cards_frame(reg)
    assert list(frame["model"]) == [
        "huggingface:org/m",
        "huggingface:org/m",
        "huggingface:org/other",
    ]
    assert frame.loc[1, "quantization"] == "8bit" and frame.loc[1, "not_measured"] == {"perplexity": "stopped"}  # fmt: skip
    assert frame.loc[0, "decode_tokens_per_s"] == 10.0 and frame.loc[0, "kl_divergence"] is None


def test_a_card_that_is_not_plain_json_writes_nothing(reg: Registry) -> None:
    _register(reg)
    with pytest.raises(ConfigurationError, match="plain JSON"):
        save_card(reg, "org/m", {"decode_tokens_per_s": float("nan")})
    with pytest.raises(ConfigurationError, match="plain JSON"):
        save_card(reg, "org/m", {"when": object()})
    assert cards(reg, "org/m") == []


def test_removing_a_model_removes_its_cards(reg: Registry) -> None:
    _register(reg)
    save_card(reg, "org/m", _card(1.0))
    reg.remove("org/m")
    assert cards(reg) == []


def _save_many(home: str, count: int) -> None:
    reg = Registry(settings=Settings(home=Path(home), hf_cache=Path(home) / "hf"))
    for i in range(count):
        save_card(reg, "org/m", _card(float(i)))


def test_two_processes_saving_cards_get_one_to_n_without_gaps(tmp_path: Path) -> None:
    reg = Registry(settings=_settings(tmp_path))
    _register(reg)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_save_many, args=(str(tmp_path / "home"), 25)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    assert [c.number for c in cards(reg, "org/m")] == list(range(1, 51))


def test_cards_survive_backup_restore_and_a_move_to_another_backend(reg: Registry, tmp_path: Path) -> None:  # fmt: skip
    _register(reg)
    save_card(reg, "org/m", _card(3.0))
    backup = reg.backup(tmp_path / "backup.db")
    save_card(reg, "org/m", _card(4.0))
    reg.restore(backup)
    assert [c.card["decode_tokens_per_s"] for c in cards(reg, "org/m")] == [3.0]
    other = tmp_path / "moved.db"
    counts = migrate_registry(reg, other)
    assert counts["cards"] == 1
    moved = Registry(other, settings=_settings(tmp_path / "b"))
    assert [c.card for c in cards(moved, "org/m")] == [c.card for c in cards(reg, "org/m")]


def test_cards_are_queryable_with_sql(reg: Registry) -> None:
    _register(reg)
    save_card(reg, "org/m", _card(7.0))
    frame = reg.sql("SELECT key, number, complete FROM cards")
    assert frame.to_dict("records") == [{"key": "huggingface:org/m", "number": 1, "complete": 1}]
