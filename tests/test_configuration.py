"""Configurations: validation with suggestions, the real transformers objects they map to,
and YAML that keeps every field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbmodels.config.configuration import (
    generation_config,
    load_configuration,
    quantization_config,
    save_configuration,
    validate,
)
from nbmodels.errors import ConfigurationError
from nbmodels.types import ModelConfiguration, ModelType, SupportedTask


def cfg(**kw: object) -> ModelConfiguration:
    return ModelConfiguration("org/name", **kw)  # type: ignore[arg-type]


def test_the_defaults_are_valid_and_safe() -> None:
    v = validate(cfg())
    assert v.ok and v.warnings == ()
    c = cfg()
    assert c.trust_remote_code is False and c.safetensors_only is True


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"temperature": -1}, "temperature", "greedy"),
        ({"temperature": "hot"}, "temperature", "not a number"),
        ({"temperature": float("nan")}, "temperature", "not a number"),
        ({"top_p": float("inf")}, "top_p", "not a number"),
        ({"top_p": 0}, "top_p", "(0, 1]"),
        ({"top_p": 1.5}, "top_p", "(0, 1]"),
        ({"top_k": -3}, "top_k", "turn it off"),
        ({"repetition_penalty": 0}, "repetition_penalty", "1.0"),
        ({"num_beams": 0}, "num_beams", "beam"),
        ({"max_tokens": 0}, "max_tokens", "new tokens"),
        ({"max_tokens": 5000, "max_context_length": 4096}, "max_tokens", "4096"),
        ({"num_beams": 4, "enable_streaming": True}, "num_beams", "enable_streaming=False"),
        ({"dtype": "bfloat61"}, "dtype", "did you mean 'bfloat16'"),
        ({"quantization": "int3"}, "quantization", "nf4"),
        ({"double_quant": True}, "double_quant", "4-bit"),
        ({"attn_implementation": "fast"}, "attn_implementation", "sdpa"),
        ({"seed": -1}, "seed", "non-negative"),
        ({"stop_sequences": ("",)}, "stop_sequences", "non-empty"),
    ],
)
def test_each_error_names_its_field_and_what_to_do(
    changes: dict[str, object], field: str, says: str
) -> None:
    v = validate(cfg(**changes))
    assert not v.ok
    assert any(e.field == field and says in str(e) for e in v.errors), v.errors
    with pytest.raises(ConfigurationError, match=field):
        v.raise_for_errors()


def test_risky_settings_are_warnings() -> None:
    v = validate(cfg(trust_remote_code=True, safetensors_only=False))
    assert v.ok and {w.field for w in v.warnings} == {"trust_remote_code", "safetensors_only"}


def test_the_seed_quantization_fields_still_count() -> None:
    pytest.importorskip("bitsandbytes")
    q = quantization_config(cfg(use_quantization=True, quantization_type="4bit"))
    assert q is not None and q.load_in_4bit and q.bnb_4bit_quant_type == "nf4"


def test_generation_config_is_transformers_own() -> None:
    from transformers import GenerationConfig

    g = generation_config(
        cfg(
            temperature=0.3,
            top_p=0.8,
            top_k=20,
            max_tokens=64,
            repetition_penalty=1.1,
            stop_sequences=("</s>",),
        )
    )
    assert isinstance(g, GenerationConfig)
    assert (g.max_new_tokens, g.do_sample, g.temperature, g.top_p, g.top_k) == (
        64,
        True,
        0.3,
        0.8,
        20,
    )
    assert g.repetition_penalty == 1.1 and g.stop_strings == ["</s>"]
    greedy = generation_config(cfg(temperature=0))
    assert greedy.do_sample is False
    with pytest.raises(ConfigurationError, match="top_p"):
        generation_config(cfg(top_p=2))


def test_quantization_config_is_bitsandbytes_config() -> None:
    pytest.importorskip("bitsandbytes")
    import torch
    from transformers import BitsAndBytesConfig

    assert quantization_config(cfg()) is None
    eight = quantization_config(cfg(quantization="8bit"))
    assert isinstance(eight, BitsAndBytesConfig) and eight.load_in_8bit
    four = quantization_config(cfg(quantization="fp4", double_quant=True, compute_dtype="float16"))
    assert four.load_in_4bit and four.bnb_4bit_quant_type == "fp4"
    assert four.bnb_4bit_use_double_quant and four.bnb_4bit_compute_dtype == torch.float16


def test_yaml_keeps_every_field(tmp_path: Path) -> None:
    original = cfg(
        model_type=ModelType.INTERFACE_MODEL,
        enabled_tasks=(SupportedTask.CHAT, SupportedTask.TEXT_GENERATION),
        parameters={"note": "x"},
        system_prompt="You are kind.\nBe brief.",
        max_context_length=4096,
        temperature=0.2,
        stop_sequences=("</s>", "User:"),
        quantization="nf4",
        double_quant=True,
        seed=7,
        custom_settings={"nested": {"a": [1, 2]}},
    )
    path = save_configuration(original, tmp_path / "chat.yaml")
    text = path.read_text()
    assert "system_prompt:" in text and "nf4" in text  # readable, diffable
    back = load_configuration(path)
    assert back == original
    assert [f.name for f in dataclasses.fields(back)] == [
        f.name for f in dataclasses.fields(original)
    ]


def test_a_yaml_with_an_unknown_field_says_which(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model_id: org/name\ntemprature: 0.5\n")
    with pytest.raises(ConfigurationError, match="did you mean 'temperature'"):
        load_configuration(path)
    (tmp_path / "empty.yaml").write_text("just text\n")
    with pytest.raises(ConfigurationError, match="model_id"):
        load_configuration(tmp_path / "empty.yaml")


# -- templates -------------------------------------------------------------------------------------
def test_the_builtin_templates_cover_the_seed_and_more_and_all_validate() -> None:
    from nbmodels.config.configuration import templates

    found = {t.template_id: t for t in templates()}
    assert {"interface", "knowledge", "embedding"} <= set(found)  # the seed's three
    assert {"multimodal", "code", "summarization", "translation", "classification"} <= set(found)
    for t in found.values():
        assert validate(t.default_config).ok, (t.template_id, validate(t.default_config).errors)
        assert t.default_config.enabled_tasks == t.supported_tasks


def test_a_configuration_from_a_template_with_overrides() -> None:
    from nbmodels.config.configuration import BUILTIN_TEMPLATES, from_template

    c = from_template("interface", "org/chat", temperature=0.1)
    assert (
        c.model_id == "org/chat" and c.temperature == 0.1 and SupportedTask.CHAT in c.enabled_tasks
    )
    c.parameters["x"] = 1  # a copy: the template is untouched
    assert "x" not in BUILTIN_TEMPLATES["interface"].default_config.parameters
    with pytest.raises(ConfigurationError, match="Did you mean 'interface'"):
        from_template("interfase", "org/chat")
    with pytest.raises(ConfigurationError, match="temprature"):
        from_template("interface", "org/chat", temprature=0.1)


def test_users_add_templates_as_yaml_and_a_broken_one_is_said(tmp_path: Path) -> None:
    from nbmodels.config.configuration import (
        BUILTIN_TEMPLATES,
        from_template,
        save_template,
        templates,
        templates_folder,
    )
    from nbmodels.errors import TemplateWarning
    from nbmodels.settings import Settings
    from nbmodels.types import ModelConfigTemplate

    settings = Settings(home=tmp_path / "home")
    mine = ModelConfigTemplate(
        "support-bot",
        "Support bot",
        "Our helpdesk tone.",
        ModelType.INTERFACE_MODEL,
        (SupportedTask.CHAT,),
        dataclasses.replace(
            BUILTIN_TEMPLATES["interface"].default_config,
            system_prompt="You answer for the helpdesk.",
            temperature=0.4,
        ),
    )
    path = save_template(mine, settings)
    assert path.parent == templates_folder(settings) and "helpdesk" in path.read_text()
    (path.parent / "broken.yaml").write_text("id: x\ndefaults: {temprature: 1}\n")
    with pytest.warns(TemplateWarning, match="broken.yaml"):
        listed = {t.template_id: t for t in templates(settings)}
    assert "support-bot" in listed and "interface" in listed and "x" not in listed
    with pytest.warns(TemplateWarning):
        c = from_template("support-bot", "org/bot", settings=settings)
    assert c.system_prompt == "You answer for the helpdesk." and c.temperature == 0.4


# -- auto-configuration ------------------------------------------------------------------------------
def test_auto_configuration_reads_the_models_own_files(tiny_models: dict[str, Path]) -> None:
    from nbmodels.config.configuration import auto_configure
    from nbmodels.demo.hub.tinymodels import CHAT, EMBEDDER

    chat = auto_configure(tiny_models[CHAT])
    reasons = " | ".join(chat.custom_settings["reasons"])
    assert chat.max_context_length == 256 and "max_position_embeddings" in reasons  # config.json
    assert chat.dtype == "float32"  # as the checkpoint is stored
    assert chat.do_sample is False and chat.temperature == 0.0  # generation_config.json
    assert chat.max_tokens == 128  # the template's 512 do not fit a 256 context
    assert SupportedTask.CHAT in chat.enabled_tasks and "template 'interface'" in reasons
    assert validate(chat).ok
    embedder = auto_configure(tiny_models[EMBEDDER])
    assert embedder.enabled_tasks[0] is SupportedTask.EMBEDDING and not embedder.enable_streaming


def test_auto_configuration_from_metadata_alone() -> None:
    from nbmodels.config.configuration import auto_configure, choose_template
    from nbmodels.types import ModelMetadata, ModelSource

    meta = ModelMetadata(
        id="llama3.2:1b",
        source=ModelSource.OLLAMA,
        tasks=(SupportedTask.TEXT_GENERATION, SupportedTask.CHAT),
        model_type=ModelType.INTERFACE_MODEL,
        extra={"context_length": 131072},
    )
    c = auto_configure(meta)
    assert c.model_id == "llama3.2:1b" and c.max_context_length == 131072
    assert "GGUF/Ollama record" in " ".join(c.custom_settings["reasons"])
    assert choose_template((SupportedTask.CODE_GENERATION,), None) == "code"
    assert choose_template((SupportedTask.TEXT_CLASSIFICATION,), None) == "classification"
    assert (
        choose_template((SupportedTask.QUESTION_ANSWERING,), ModelType.KNOWLEDGE_MODEL)
        == "knowledge"
    )


# -- property: any configuration validates, or says what is wrong ------------------------------------
_ANY = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.lists(st.text(max_size=5), max_size=3).map(tuple)
)


def test_any_configuration_validates_or_returns_errors_with_suggestions() -> None:
    names = [
        f.name
        for f in dataclasses.fields(ModelConfiguration)
        if f.name not in ("model_id", "parameters", "custom_settings")
    ]

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.sampled_from(names), _ANY, max_size=6))
    def check(changes: dict[str, object]) -> None:
        config = cfg(**changes)
        try:
            result = validate(config)
        except Exception as exc:  # the property: nothing escapes but the project's errors
            raise AssertionError(f"validate raised {type(exc).__name__}: {exc}") from exc
        for issue in (*result.errors, *result.warnings):
            assert issue.field and issue.message and issue.suggestion
        if result.ok:  # a valid configuration builds transformers' objects without error
            generation_config(config)

    check()


# -- optimise and configure ------------------------------------------------------------------------
def _machine(*, gpu: bool = False, bnb: bool = True):  # type: ignore[no-untyped-def]
    from nbmodels.machine import GPU, Hardware

    gpus = (GPU(0, "Test GPU", "cuda", 24 * 2**30, 20 * 2**30, (8, 6)),) if gpu else ()
    return Hardware(2, 2, 24 * 2**30, 20 * 2**30, None, gpus, "2.13.0", bnb, bnb)


def test_optimize_for_each_goal_explains_each_choice() -> None:
    from nbmodels.config.configuration import optimize

    base = ModelConfiguration("org/m")
    memory = optimize(base, "memory", hardware=_machine())
    assert (memory.quantization, memory.double_quant) == ("nf4", True)
    assert validate(memory).ok
    no_bnb = optimize(base, "memory", hardware=_machine(bnb=False))
    assert (no_bnb.quantization, no_bnb.dtype) == ("none", "bfloat16")
    assert any("bitsandbytes" in r for r in no_bnb.custom_settings["reasons"])
    speed_gpu = optimize(base, "speed", hardware=_machine(gpu=True))
    assert (speed_gpu.dtype, speed_gpu.device_map, speed_gpu.quantization) == (
        "bfloat16",
        "cuda:0",
        "none",
    )
    speed_cpu = optimize(base, "speed", hardware=_machine())
    assert speed_cpu.device_map == "cpu" and speed_cpu.dtype in ("float32", "bfloat16")
    quality = optimize(base, "quality", hardware=_machine())
    assert (quality.dtype, quality.quantization) == ("float32", "none")
    for cfg in (memory, speed_gpu, speed_cpu, quality):
        reasons = cfg.custom_settings["reasons"]
        assert reasons and all(isinstance(r, str) and len(r) > 10 for r in reasons)
    with pytest.raises(ConfigurationError, match="speed"):
        optimize(base, "sped")


def test_configure_is_one_call(tiny_models: dict[str, Path]) -> None:
    import nbmodels

    folder = tiny_models["nbmodels-demo/tiny-llama-chat"]
    cfg = nbmodels.configure(folder, optimize="memory", temperature=0.3)
    assert cfg.model_id == folder.name and cfg.temperature == 0.3
    assert cfg.max_context_length is not None  # from config.json
    assert cfg.custom_settings["optimized_for"] == "memory"
    assert nbmodels.validate(cfg).ok
    coded = nbmodels.configure(folder, template="code")
    assert coded.max_tokens == 1024 and coded.max_context_length == cfg.max_context_length
    assert "template 'code', as asked" in coded.custom_settings["reasons"]
    assert {t.template_id for t in nbmodels.templates()} >= {"interface", "knowledge", "embedding"}
    with pytest.raises(ConfigurationError, match="did you mean 'temperature'"):
        nbmodels.configure(folder, temprature=0.3)


@pytest.mark.parametrize(
    "changes",
    [
        {"temperature": "abc"},
        {"max_tokens": "7B"},
        {"top_k": 1.5},
        {"dtype": ""},
        {"quantization": None},  # "none" says no quantization; None is not one of the choices
        {"quantization": "int3"},
        {"use_quantization": True, "quantization_type": "int3"},  # the seed's fields
        {"attn_implementation": "fast"},
        {"seed": "7"},
        {"stop_sequences": "</s>"},
        {"trust_remote_code": "False"},  # truthy: it would have trusted the code
    ],
)
def test_configure_refuses_a_value_of_the_wrong_type_with_validates_suggestion(
    tiny_models: dict[str, Path], tmp_path: Path, changes: dict[str, Any]
) -> None:
    from nbmodels import configure
    from nbmodels.config.configuration import configuration_path, update_configuration
    from nbmodels.settings import Settings

    folder = tiny_models["nbmodels-demo/tiny-llama-chat"]
    # what validate() says of that value: the refusal says the same, suggestion included
    said = [str(i) for i in validate(dataclasses.replace(configure(folder), **changes)).errors]
    assert said
    with pytest.raises(ConfigurationError) as info:
        configure(folder, **changes)
    assert all(text in str(info.value) for text in said), (said, str(info.value))
    s = Settings(home=tmp_path / "home")
    stored = save_configuration(cfg(), settings=s)
    before = stored.read_text()
    with pytest.raises(ConfigurationError):
        update_configuration("org/name", settings=s, **changes)
    assert configuration_path("org/name", s).read_text() == before  # nothing stored


def test_configure_still_takes_out_of_range_numbers_and_every_choice(
    tiny_models: dict[str, Path],
) -> None:
    from nbmodels import configure

    folder = tiny_models["nbmodels-demo/tiny-llama-chat"]
    # notebooks/03-configure.ipynb: out-of-range values wait for validate()
    bad = configure(folder, temperature=9.0, num_beams=4, max_tokens=10**6,
                    quantization="nf4", double_quant=False, trust_remote_code=True)  # fmt: skip
    assert {"temperature", "num_beams", "max_tokens"} <= {e.field for e in validate(bad).errors}
    for changes in (
        {"quantization": "none", "dtype": "bfloat16", "compute_dtype": None},
        {"quantization": "8bit", "attn_implementation": "sdpa", "device_map": "cpu"},
        {"temperature": 1, "top_p": 1, "seed": None, "max_context_length": None},
        {"do_sample": None, "stop_sequences": ["</s>"], "enable_streaming": False},
        {"top_k": 0, "seed": 0, "max_tokens": 1},
    ):
        got = configure(folder, **changes)
        assert all(getattr(got, k) == v for k, v in changes.items())


# -- one stored configuration per model ------------------------------------------------------------
def test_each_model_keeps_its_configuration_as_yaml_in_the_home(tmp_path: Path) -> None:
    import nbmodels
    from nbmodels.config.configuration import (
        configuration_path,
        get_configuration,
        stored_configurations,
        update_configuration,
    )
    from nbmodels.settings import Settings

    s = Settings(home=tmp_path / "home")
    ids = ["org/name", "org--name", "ollama:llama3.2:1b", "a b/c?d"]
    paths = {configuration_path(i, s) for i in ids}
    assert len(paths) == len(ids)  # no two ids share a file
    assert configuration_path("org/name", s).name == "org--name.yaml"
    assert get_configuration("org/name", s) is None
    for i in ids:
        save_configuration(ModelConfiguration(i), settings=s)
    assert sorted(stored_configurations(s)) == sorted(ids)
    stored = save_configuration(cfg(temperature=0.2, stop_sequences=("</s>",)), settings=s)
    assert stored == configuration_path("org/name", s)
    assert "temperature: 0.2" in stored.read_text()  # a person can read and diff it
    assert get_configuration("org/name", s) == cfg(temperature=0.2, stop_sequences=("</s>",))
    changed = update_configuration("org/name", settings=s, top_k=7)
    assert changed.top_k == 7 and changed.temperature == 0.2
    assert get_configuration("org/name", s) == changed
    before = stored.read_text()
    with pytest.raises(ConfigurationError, match="top_p"):
        update_configuration("org/name", settings=s, top_p=3.0)
    with pytest.raises(ConfigurationError, match="did you mean 'top_k'"):
        update_configuration("org/name", settings=s, topk=3)
    assert stored.read_text() == before  # an invalid change stores nothing
    assert nbmodels.get_configuration is get_configuration
    with pytest.raises(ConfigurationError, match="model_id"):
        save_configuration(ModelConfiguration(""), settings=s)


def test_two_kernels_updating_one_model_lose_neither_change(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from nbmodels.config.configuration import get_configuration
    from nbmodels.settings import Settings

    s = Settings(home=tmp_path / "home")
    save_configuration(cfg(), settings=s)
    script = """
import sys
from nbmodels.config.configuration import update_configuration
field, last = sys.argv[1], sys.argv[2]
for i in range(40):
    update_configuration("org/name", **{field: (i if field == "top_k" else i / 100)})
update_configuration("org/name", **{field: (int(last) if field == "top_k" else float(last))})
"""
    env = dict(os.environ, NBMODELS_HOME=str(s.home))
    procs = [
        subprocess.Popen([sys.executable, "-c", script, f, last], env=env)
        for f, last in (("top_k", "7"), ("temperature", "0.25"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    final = get_configuration("org/name", s)
    assert final is not None and (final.top_k, final.temperature) == (7, 0.25)


def test_memory_optimisation_picks_8bit_for_layers_narrower_than_a_4bit_block(tiny_models) -> None:
    import dataclasses

    from nbmodels import machine
    from nbmodels.config.configuration import configure, optimize

    cfg = configure(tiny_models["nbmodels-demo/tiny-llama-chat"])  # 32 wide
    assert cfg.custom_settings["layer_width"] == 32
    hw = dataclasses.replace(machine.hardware(), bitsandbytes=True)
    tuned = optimize(cfg, "memory", hardware=hw)
    assert tuned.quantization == "8bit" and "narrower" in " ".join(tuned.custom_settings["reasons"])
    wide = dataclasses.replace(cfg, custom_settings=dict(cfg.custom_settings, layer_width=384))
    assert optimize(wide, "memory", hardware=hw).quantization == "nf4"
