"""The configuration editor as widgets: each control is one configuration field, errors sit
beside the field they name, the memory bar follows context, batch and quantization, Save
writes the model's YAML (and refuses while there are errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

import nbmodels
from nbmodels.config.configuration import get_configuration, load_configuration
from nbmodels.machine import GPU, Hardware
from nbmodels.settings import Settings
from nbmodels.widgets.configure import ConfigEditor

CHAT = "nbmodels-demo/tiny-llama-chat"


def machine(ram_gib: float = 20, gpu_gib: float | None = None) -> Hardware:
    gpus = (
        (GPU(0, "Test GPU", "cuda", 24 * 2**30, int(gpu_gib * 2**30), (8, 6)),) if gpu_gib else ()
    )
    ram = int(ram_gib * 2**30)
    return Hardware(2, 2, 24 * 2**30, ram, None, gpus, "2.13.0", True, True)


@pytest.fixture
def editor(tiny_models, tmp_path: Path) -> ConfigEditor:
    return ConfigEditor(
        tiny_models[CHAT], settings=Settings(home=tmp_path / "home"), hardware=machine()
    )


def test_the_controls_show_the_models_own_configuration(editor: ConfigEditor) -> None:
    cfg = nbmodels.configure(editor._model)  # what the editor starts from
    assert editor.config.max_context_length == cfg.max_context_length
    assert editor.fields["temperature"].value == pytest.approx(cfg.temperature)
    assert editor.fields["max_context_length"].value == cfg.max_context_length
    assert editor.validation.ok and not editor.save_button.disabled
    assert editor.estimate is not None and editor.estimate.verdict == "fits in RAM"
    assert "fits in RAM" in editor.memory.value and "RAM free" in editor.memory.value


def test_a_bad_value_is_said_beside_its_field_and_blocks_save(editor: ConfigEditor) -> None:
    context = editor.config.max_context_length
    editor.fields["max_tokens"].value = context + 1
    assert "do not fit a context" in editor.messages["max_tokens"].value
    assert editor.messages["temperature"].value == ""  # only the field at fault
    assert editor.save_button.disabled and "1 error" in editor.title.value
    editor.fields["seed"].value = "abc"
    assert "not a whole number" in editor.messages["seed"].value
    with pytest.raises(nbmodels.NBModelsError):
        editor.save()
    editor.fields["seed"].value = "42"
    editor.fields["max_tokens"].value = 16
    assert editor.messages["max_tokens"].value == "" and not editor.save_button.disabled
    assert editor.config.seed == 42
    editor.fields["trust_remote_code"].value = True  # a risk: a warning, not an error
    assert "runs Python code" in editor.messages["trust_remote_code"].value
    assert not editor.save_button.disabled


def test_the_memory_bar_follows_context_batch_and_quantization(editor: ConfigEditor) -> None:
    before = editor.estimate
    editor.fields["max_context_length"].value = before.context * 4
    longer = editor.estimate
    assert longer.kv_cache_bytes == pytest.approx(4 * before.kv_cache_bytes, rel=0.01)
    editor.batch.value = 4
    assert editor.estimate.batch == 4 and editor.estimate.kv_cache_bytes > longer.kv_cache_bytes
    editor.fields["quantization"].value = "nf4"
    assert editor.estimate.quantization == "nf4"
    assert editor.estimate.weights_bytes < longer.weights_bytes
    # the estimate is the library's own, for the configuration on screen
    same = nbmodels.estimate_memory(editor._model, editor.config, batch=4, hardware=editor.hardware)
    assert same.generate_peak_bytes == editor.estimate.generate_peak_bytes


def test_a_model_that_wont_fit_shows_what_to_change(tiny_models, tmp_path: Path) -> None:
    tiny = ConfigEditor(
        tiny_models[CHAT], settings=Settings(home=tmp_path), hardware=machine(ram_gib=0.05)
    )
    assert tiny.estimate.verdict == "won't fit"
    assert "won&#x27;t fit" in tiny.memory.value or "won't fit" in tiny.memory.value
    gpu = ConfigEditor(
        tiny_models[CHAT], settings=Settings(home=tmp_path), hardware=machine(gpu_gib=8)
    )
    assert "cuda:0 free" in gpu.memory.value and gpu.estimate.verdict == "fits on GPU"
    assert "cuda:0" in gpu.fields["device_map"].options


def test_templates_and_goals_fill_the_fields_and_say_why(editor: ConfigEditor) -> None:
    context = editor.config.max_context_length
    editor.template.value = "code"
    assert editor.fields["max_tokens"].value == 1024 and editor.config.max_context_length == context
    assert "template" in editor.reasons.value
    editor.goal.value = "memory"
    assert editor.config.quantization == "nf4" and editor.fields["double_quant"].value is True
    assert "nf4 with double quantization" in editor.reasons.value
    editor.goal.value = "quality"
    assert editor.fields["dtype"].value == "float32" and editor.config.quantization == "none"
    editor.goal.value = ""
    assert editor.config.quantization == "none"


def test_save_writes_the_models_yaml_and_the_editor_reopens_it(editor: ConfigEditor) -> None:
    editor.fields["temperature"].value = 0.25
    editor.fields["stop_sequences"].value = "</s>, User:"
    editor.save_button.click()
    assert "saved to" in editor.status.value
    stored = get_configuration(editor.config.model_id, editor.settings)
    assert stored == editor.config and stored.stop_sequences == ("</s>", "User:")
    path = editor.status.value.split("saved to ")[1].split("<")[0]
    assert load_configuration(path) == stored
    again = nbmodels.config_editor(editor.config.model_id, settings=editor.settings)
    assert again.config == stored  # the stored configuration, found by id
    assert (
        again.estimate is None and "No memory estimate" in again.memory.value
    )  # not on disk by id


def test_a_value_no_control_can_show_is_kept_and_said(editor: ConfigEditor) -> None:
    import dataclasses

    odd = dataclasses.replace(editor.config, dtype="float64")  # not in the dtype dropdown
    editor.set_config(odd)
    assert "cannot be shown here" in editor.messages["dtype"].value
    editor.fields["temperature"].value = 0.3  # another change keeps it as it is
    assert editor.config.dtype == "float64" and editor.config.temperature == 0.3
