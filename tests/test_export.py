"""Exports of a registered model to vLLM, llama.cpp and Ollama: real files read back (the
YAML, the GGUF through gguf's reader and transformers, the Modelfile through the port of
Ollama's parser), ``ollama create`` on the local Ollama server and ``/api/show`` after it,
and refusals that leave nothing written."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

import pytest
import yaml

from nbmodels.errors import ConfigurationError
from nbmodels.exporter import Export, export, parse_target
from nbmodels.exporter.common import resolve
from nbmodels.exporter.modelfile import create_request, modelfile_text, parse_modelfile, quote
from nbmodels.settings import Settings
from nbmodels.storage.registry import Registry
from nbmodels.types import ModelConfiguration, ModelMetadata, ModelSource

CHAT = "nbmodels-demo/tiny-llama-chat"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def reg(tmp_path: Path, tiny_models) -> Registry:
    """A registry with the demo chat model (its folder, a Hub commit) under @tiny-chat."""
    settings = Settings.from_env()  # isolated_env: the test's own home and Ollama store
    registry = Registry(settings=settings)
    meta = ModelMetadata(id=CHAT, source=ModelSource.HUGGING_FACE, version=COMMIT, license="apache-2.0",
                         local_path=str(tiny_models[CHAT]))  # fmt: skip
    registry.register(meta, available=True)
    registry.set_alias("tiny-chat", CHAT)
    return registry


def config(**changes: object) -> ModelConfiguration:
    base = {"temperature": 0.3, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.1, "max_tokens": 64,
            "max_context_length": 256, "seed": 7, "stop_sequences": ("END", 'say "bye"'),
            "system_prompt": "You are terse.\nVery terse."}  # fmt: skip
    return ModelConfiguration(CHAT, **{**base, **changes})  # type: ignore[arg-type]


def _flags(argv: tuple[str, ...]) -> dict[str, list[str]]:
    """--flag value(s) of a command line, each flag's values in order."""
    out: dict[str, list[str]] = {}
    key = None
    for word in argv[1:]:  # the words before the first flag are the program's arguments
        if word.startswith("-") and not word[1:2].isdigit():
            key = word
            out.setdefault(key, [])
        elif key is not None:
            out[key].append(word)
    return out


# -- vLLM ------------------------------------------------------------------------------------
def test_vllm_command_and_yaml_say_the_same(reg: Registry, tmp_path: Path, tiny_models) -> None:
    e = export(
        "@tiny-chat", "vllm", tmp_path / "v", registry=reg, config=config(), gpu_memory="16GB"
    )
    assert isinstance(e, Export) and e.target == "vllm" and e.model == f"huggingface:{CHAT}"
    options = yaml.safe_load((tmp_path / "v" / "vllm.yaml").read_text())
    assert e.command[:3] == ("vllm", "serve", CHAT) and options["model"] == CHAT
    flags = _flags(e.command)
    for key, value in options.items():  # the YAML's keys are the long options, same values
        if key == "model":
            continue
        expected = (
            [str(v) for v in value]
            if isinstance(value, list)
            else ([] if value is True else [str(value)])
        )
        assert flags[f"--{key}"] == expected, key
    assert options["revision"] == COMMIT and options["max-model-len"] == 256
    assert options["served-model-name"] == ["tiny-chat", CHAT]
    assert json.loads(options["override-generation-config"]) == {
        "temperature": 0.3, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.1, "max_new_tokens": 64}  # fmt: skip
    assert options["seed"] == 7 and options["load-format"] == "safetensors"
    assert 0.05 <= options["gpu-memory-utilization"] < 0.2  # a tiny model: ~1 GiB of CUDA overhead
    template = Path(options["chat-template"])
    assert template.read_text() == (tiny_models[CHAT] / "chat_template.jinja").read_text()
    assert set(e.unsupported) == {"system_prompt", "stop_sequences"}
    assert "per request" not in e.unsupported["system_prompt"] and "`stop`" in e.unsupported["stop_sequences"]  # fmt: skip
    assert shlex.split(e.command_line) == list(e.command)
    assert "stop_sequences" in e._repr_html_() and "vllm serve" in e._repr_html_()


def test_vllm_without_a_gpu_size_leaves_the_default_and_says_so(
    reg: Registry, tmp_path: Path
) -> None:
    e = export(
        CHAT,
        "vllm",
        tmp_path / "v",
        registry=reg,
        config=config(quantization="nf4", dtype="bfloat16"),
    )
    assert "--gpu-memory-utilization" not in e.command
    assert any("vLLM's default (0.9)" in n for n in e.notes)
    flags = _flags(e.command)
    assert flags["--quantization"] == ["bitsandbytes"] and flags["--dtype"] == ["bfloat16"]


def test_vllm_refuses_what_it_cannot_serve_before_writing(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "v"
    for quant in ("8bit", "fp4"):
        with pytest.raises(ConfigurationError, match="Nothing was written") as info:
            export(CHAT, "vllm", out, registry=reg, config=config(quantization=quant))
        assert "nf4" in str(info.value)
    assert not out.exists()
    with pytest.raises(ConfigurationError, match=r"gguf_type is for llama\.cpp"):
        export(CHAT, "vllm", out, registry=reg, gguf_type="F16")
    assert not out.exists()


# -- llama.cpp -------------------------------------------------------------------------------
def test_llamacpp_gguf_reads_back_and_the_command_carries_the_settings(reg: Registry, tmp_path: Path, tiny_models) -> None:  # fmt: skip
    import gguf

    e = export(CHAT, "llama.cpp", tmp_path / "l", registry=reg, config=config(), gguf_type="Q8_0")
    model = next(p for p in e.files if p.suffix == ".gguf")
    assert model.name == "tiny-chat.Q8_0.gguf"
    reader = gguf.GGUFReader(model)

    def field(key: str) -> object:
        f = reader.fields[key]
        return f.contents() if hasattr(f, "contents") else f.parts[f.data[0]]

    assert field("general.architecture") == "llama"
    assert field("general.file_type") == gguf.LlamaFileType.MOSTLY_Q8_0
    template = (tiny_models[CHAT] / "chat_template.jinja").read_text()
    assert field("tokenizer.chat_template") == template
    kinds = {t.tensor_type.name for t in reader.tensors}
    assert "Q8_0" in kinds and kinds <= {"Q8_0", "F32"}
    flags = _flags(e.command)
    assert flags["-m"] == [str(model)] and flags["-c"] == ["256"] and flags["--jinja"] == []
    assert Path(flags["--chat-template-file"][0]).read_text() == template
    assert (flags["--temp"], flags["--top-p"], flags["--top-k"]) == (["0.3"], ["0.8"], ["20"])
    assert (flags["--repeat-penalty"], flags["-n"], flags["--seed"]) == (["1.1"], ["64"], ["7"])
    assert flags["-r"] == ["END", 'say "bye"'] and flags["--alias"] == ["tiny-chat"]
    assert set(e.unsupported) == {"system_prompt"}  # no server-wide system prompt
    greedy = export(CHAT, "llama.cpp", tmp_path / "g", registry=reg, config=config(do_sample=False, device_map="cpu"))  # fmt: skip
    assert _flags(greedy.command)["--temp"] == ["0.0"] and _flags(greedy.command)["-ngl"] == ["0"]
    assert (
        next(p for p in greedy.files if p.suffix == ".gguf").name == "tiny-chat.F32.gguf"
    )  # float32 weights


def test_llamacpp_refuses_bitsandbytes_before_writing_anything(
    reg: Registry, tmp_path: Path
) -> None:
    out = tmp_path / "l"
    for quant in ("8bit", "nf4"):
        with pytest.raises(ConfigurationError, match="Q8_0") as info:
            export(CHAT, "llama.cpp", out, registry=reg, config=config(quantization=quant))
        assert quant in str(info.value) and "nothing was written" in str(info.value)
        with pytest.raises(ConfigurationError, match="F16"):
            export(CHAT, "ollama", out, registry=reg, config=config(quantization=quant))
    assert not out.exists()


def test_a_model_the_gguf_writer_cannot_convert_is_refused_with_the_converter_command(reg: Registry, tmp_path: Path, tiny_models) -> None:  # fmt: skip
    reg.register(ModelMetadata(id="nbmodels-demo/tiny-classifier", source=ModelSource.HUGGING_FACE,
                               local_path=str(tiny_models["nbmodels-demo/tiny-classifier"])), available=True)  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"convert_hf_to_gguf\.py"):
        export("nbmodels-demo/tiny-classifier", "llama.cpp", tmp_path / "c", registry=reg)
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_the_exported_gguf_loads_in_transformers_and_generates_what_the_checkpoint_does(reg: Registry, tmp_path: Path, tiny_models) -> None:  # fmt: skip
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_models[CHAT]
    tok = AutoTokenizer.from_pretrained(folder)
    ids = tok("Hello! How are you today?", return_tensors="pt")["input_ids"]
    plain = AutoModelForCausalLM.from_pretrained(folder).generate(
        ids, max_new_tokens=12, do_sample=False
    )
    for qtype in ("F32", "Q8_0"):
        e = export(CHAT, "llama.cpp", tmp_path / qtype, registry=reg, gguf_type=qtype)
        model = next(p for p in e.files if p.suffix == ".gguf")
        loaded = AutoModelForCausalLM.from_pretrained(model.parent, gguf_file=model.name)
        out = loaded.generate(ids, max_new_tokens=12, do_sample=False)
        assert out.shape == plain.shape
        if qtype == "F32":  # the same weights: the same tokens
            assert torch.equal(out, plain)
        gtok = AutoTokenizer.from_pretrained(model.parent, gguf_file=model.name)
        assert gtok("Hello! How are you today?")["input_ids"] == ids[0].tolist()


# -- Ollama ----------------------------------------------------------------------------------
def test_ollama_modelfile_reads_back_as_written(reg: Registry, tmp_path: Path) -> None:
    e = export("@tiny-chat", "ollama", tmp_path / "o", registry=reg, config=config(num_beams=2))
    modelfile = tmp_path / "o" / "Modelfile"
    commands = parse_modelfile(modelfile.read_text())
    gguf = next(p for p in e.files if p.suffix == ".gguf")
    assert commands[0] == ("model", str(gguf))
    found = dict(c for c in commands if c[0] not in ("stop",))
    assert found["template"] == e.template.text and e.template.family == "zephyr"  # type: ignore[union-attr]
    assert found["system"] == "You are terse.\nVery terse."
    request = create_request(commands, modelfile.parent)
    assert request["files"] == {gguf.name: str(gguf)} and "from_" not in request
    assert request["parameters"] == {"temperature": 0.3, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.1,
                                     "num_predict": 64, "num_ctx": 256, "seed": 7,
                                     "stop": ["END", 'say "bye"', "</s>", "<|user|>"]}  # fmt: skip
    assert set(e.unsupported) == {"num_beams"}
    assert "# not expressed: num_beams" in modelfile.read_text()
    assert e.created is None and e.create_error is None  # not asked
    assert e.command == ("ollama", "create", "tiny-chat", "-f", str(modelfile))


def test_ollama_create_on_the_local_server_then_show_returns_template_and_parameters(ollama_host: str, tmp_path: Path) -> None:  # fmt: skip
    import httpx
    import ollama

    settings = Settings.from_env()
    registry = Registry(settings=settings)
    registry.register(ModelMetadata(id="tinyllama-chat", source=ModelSource.OLLAMA), available=True)
    src = resolve("tinyllama-chat", registry=registry)
    assert (
        src.ollama_name == "tinyllama-chat:latest" and src.gguf is not None and src.chat is not None
    )
    e = export(
        "tinyllama-chat", "ollama", tmp_path / "o", registry=registry, config=config(), create=True
    )
    assert e.create_error is None and e.created == "tinyllama-chat-nbmodels"
    assert parse_modelfile((tmp_path / "o" / "Modelfile").read_text())[0] == (
        "model",
        "tinyllama-chat:latest",
    )
    shown = ollama.Client(host=ollama_host).show("tinyllama-chat-nbmodels")
    assert shown.template == e.template.text  # type: ignore[union-attr]
    raw = httpx.post(f"{ollama_host}/api/show", json={"model": "tinyllama-chat-nbmodels"}).json()
    assert raw["system"] == "You are terse.\nVery terse."  # the client's ShowResponse has no system
    lines = [line.split(None, 1) for line in (shown.parameters or "").splitlines()]
    params: dict[str, list[str]] = {}
    for key, value in lines:
        params.setdefault(key, []).append(value.strip())
    assert (
        params["temperature"] == ["0.3"]
        and params["num_ctx"] == ["256"]
        and params["seed"] == ["7"]
    )
    assert params["stop"] == ['"END"', '"say \\"bye\\""', '"</s>"', '"<|user|>"']
    # the model it came from is untouched, and the new one answers a chat
    before = httpx.post(f"{ollama_host}/api/show", json={"model": "tinyllama-chat"}).json()
    # (the demo store's own TEMPLATE is the same translation of the same Jinja template)
    assert before["system"] == "You are a helpful assistant." and before["template"] == e.template.text  # type: ignore[union-attr]  # fmt: skip
    # llama.cpp serves the store's GGUF as it is; vLLM cannot serve an Ollama model
    lc = export("tinyllama-chat", "llama.cpp", tmp_path / "l", registry=registry, config=config())
    assert _flags(lc.command)["-m"] == [str(src.gguf)] and [p.name for p in lc.files] == [
        "chat_template.jinja"
    ]
    with pytest.raises(ConfigurationError, match="vLLM serves Hugging Face checkpoints"):
        export("tinyllama-chat", "vllm", tmp_path / "v", registry=registry)
    reply = ollama.Client(host=ollama_host).chat("tinyllama-chat-nbmodels", messages=[{"role": "user", "content": "Hi"}],
                                                 options={"num_predict": 4})  # fmt: skip
    assert reply.done


def test_ollama_not_reachable_or_refusing_leaves_the_modelfile_and_says_what_to_run(reg: Registry, tmp_path: Path, ollama_server) -> None:  # fmt: skip
    e = export(
        CHAT, "ollama", tmp_path / "o", registry=reg, config=config(), create=True
    )  # OLLAMA_HOST: nothing
    assert e.created is None and "no Ollama answers" in (e.create_error or "")
    assert f"ollama create tiny-chat -f {tmp_path / 'o' / 'Modelfile'}" in (e.create_error or "")
    assert (tmp_path / "o" / "Modelfile").is_file()
    # a reachable Ollama: the GGUF is pushed as a blob (create_blob), the model created from it
    there = dataclasses.replace(Settings.from_env(), ollama_host=ollama_server.url)
    e2 = export(
        CHAT, "ollama", tmp_path / "o2", registry=reg, config=config(), create=True, settings=there
    )
    assert e2.create_error is None and e2.created == "tiny-chat"
    import ollama

    shown = ollama.Client(host=ollama_server.url).show("tiny-chat")
    assert (
        e2.template is not None
        and shown.template == e2.template.text
        and "stop" in (shown.parameters or "")
    )


def test_a_template_that_cannot_be_translated_is_said_and_not_written(reg: Registry, tmp_path: Path, tiny_models) -> None:  # fmt: skip
    import shutil

    folder = tmp_path / "mistral-like"
    shutil.copytree(tiny_models[CHAT], folder)
    (folder / "chat_template.jinja").write_text(
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
        "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    )
    reg.register(ModelMetadata(id="org/mistral-like", source=ModelSource.LOCAL, local_path=str(folder)), available=True)  # fmt: skip
    e = export("org/mistral-like", "ollama", tmp_path / "o", registry=reg)
    assert (
        "TEMPLATE" in e.unsupported and "not one of the chat formats" in e.unsupported["TEMPLATE"]
    )
    assert all(
        name != "template"
        for name, _ in parse_modelfile((tmp_path / "o" / "Modelfile").read_text())
    )
    # llama-server renders the Jinja template itself: nothing to translate there
    assert (
        "chat_template"
        not in export("org/mistral-like", "llama.cpp", tmp_path / "l", registry=reg).unsupported
    )


# -- the Modelfile format ---------------------------------------------------------------------
def test_the_parser_reads_modelfiles_as_ollama_does() -> None:
    """Cases of Ollama's own parser/parser_test.go (TestParseFileFrom, TrimSpace, Quoted,
    Messages, BadCommand, ParametersMissingValue), with the commands it expects."""
    cases: list[tuple[str, list[tuple[str, str]] | None]] = [
        ('FROM "FOO  BAR  "', [("model", "FOO  BAR  ")]),
        ("FROM     FOOO BAR    ", [("model", "FOOO BAR")]),
        ("FROM /what/is/the path ", [("model", "/what/is/the path")]),
        (
            "PARAMETER what the \nFROM lemons make lemonade ",
            [("what", "the"), ("model", "lemons make lemonade")],
        ),
        ("PARAMETER param1 value1", None),
        ("", None),
        (
            '\nFROM foo\nSYSTEM """\nThis is a\nmultiline system.\n"""\n\t\t\t',
            [("model", "foo"), ("system", "\nThis is a\nmultiline system.\n")],
        ),
        ('\nFROM foo\nSYSTEM """This is a multiline system.""\n', None),
        ('\nFROM foo\nSYSTEM "\n', None),
        ('\nFROM foo\nSYSTEM """"""\n', [("model", "foo"), ("system", "")]),
        ('\nFROM foo\nSYSTEM "\'"\n', [("model", "foo"), ("system", "'")]),
        (
            '\nFROM foo\nSYSTEM """\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""\n',
            [("model", "foo"), ("system", "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'")],
        ),
        ('LICENSE "MIT       "\nFROM x', [("license", "MIT       "), ("model", "x")]),
        (
            'FROM foo\nMESSAGE system """\nYou are a multiline file parser.\n"""\n',
            [("model", "foo"), ("message", "system: \nYou are a multiline file parser.\n")],
        ),
        ("FROM foo\nMESSAGE badguy I'm a bad guy!\n", None),
        ("FROM foo\nMESSAGE system\n", None),
        ("\nFROM foo\nBADCOMMAND param1 value1\n", None),
        ("\nFROM foo\nPARAMETER param1\n", None),
        ("# a comment\nFROM foo # not a comment\n", [("model", "foo # not a comment")]),
    ]
    for text, expected in cases:
        if expected is None:
            with pytest.raises(ConfigurationError):
                parse_modelfile(text)
        else:
            assert parse_modelfile(text) == expected, text


def test_values_are_quoted_to_read_back_or_refused() -> None:
    for value in ["plain", "<|im_end|>", " padded ", "", "line\nbreak", 'a "quote"', '"starts', "tab\there", "ünï 🎉"]:  # fmt: skip
        assert parse_modelfile(f"FROM x\nSYSTEM {quote(value)}\n")[1] == ("system", value)
        assert parse_modelfile(f"FROM x\nSYSTEM {quote(value, block=True)}\n")[1] == (
            "system",
            value,
        )
    for value in ['a"""\nb"', "zero\u200bwidth", "nul\x00"]:  # a Modelfile cannot carry these
        with pytest.raises(ConfigurationError, match="cannot be written in a Modelfile"):
            quote(value)
    with pytest.raises(ConfigurationError, match="not an Ollama parameter"):
        modelfile_text("x", parameters=[("temprature", 0.5)])
    cfg = config(stop_sequences=("ok", "zero\u200bwidth"), system_prompt='end """\nx')
    text = modelfile_text("x", parameters=[("stop", "ok")])
    assert create_request(parse_modelfile(text)) == {"from_": "x", "parameters": {"stop": ["ok"]}}
    assert cfg.stop_sequences[1] not in text


def test_unquotable_settings_are_said_not_written(reg: Registry, tmp_path: Path) -> None:
    cfg = config(stop_sequences=("ok", "zero\u200bwidth"), system_prompt='end """\nx')
    e = export(CHAT, "ollama", tmp_path / "o", registry=reg, config=cfg)
    assert "system_prompt" in e.unsupported and any(
        k.startswith("stop_sequences[") for k in e.unsupported
    )
    commands = parse_modelfile((tmp_path / "o" / "Modelfile").read_text())
    assert ("stop", "ok") in commands and all(c[0] != "system" for c in commands)


# -- the API ---------------------------------------------------------------------------------
def test_targets_names_and_bad_calls(reg: Registry, tmp_path: Path) -> None:
    assert [parse_target(t) for t in ("VLLM", "llamacpp", "llama-server", "Ollama")] == ["vllm", "llama.cpp", "llama.cpp", "ollama"]  # fmt: skip
    with pytest.raises(ConfigurationError, match="Did you mean 'vllm'"):
        parse_target("vlm")
    with pytest.raises(ConfigurationError, match="create=True"):
        export(CHAT, "vllm", tmp_path / "x", registry=reg, create=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="is a file"):
        export(CHAT, "vllm", tmp_path / "file", registry=reg)
    with pytest.raises(KeyError, match="not in the registry"):
        export("org/unknown", "vllm", tmp_path / "x", registry=reg)


def test_the_stored_configuration_is_what_is_exported_by_default(
    reg: Registry, tmp_path: Path
) -> None:
    from nbmodels.config.configuration import save_configuration

    e = export(CHAT, "llama.cpp", tmp_path / "d", registry=reg)
    assert "configuration: defaults" in e.notes and _flags(e.command)["--temp"] == ["0.7"]
    save_configuration(config(temperature=0.05), settings=reg.settings)
    e = export(CHAT, "llama.cpp", tmp_path / "s", registry=reg)
    assert "configuration: stored" in e.notes and _flags(e.command)["--temp"] == ["0.05"]
    default = export(CHAT, "vllm", registry=reg)
    assert default.folder == reg.settings.home / "exports" / "vllm" / "tiny-chat"


def test_a_model_not_downloaded_serves_from_the_hub_in_vllm_and_is_refused_for_gguf(reg: Registry, tmp_path: Path) -> None:  # fmt: skip
    reg.register(ModelMetadata(id="org/elsewhere", source=ModelSource.HUGGING_FACE, version=COMMIT))
    e = export("org/elsewhere", "vllm", tmp_path / "v", registry=reg)
    assert e.command[2:5] == ("org/elsewhere", "--revision", COMMIT)
    assert "--chat-template" not in e.command and any(
        "the checkpoint it downloads" in n for n in e.notes
    )
    for target in ("llama.cpp", "ollama"):
        with pytest.raises(ConfigurationError, match=r"download it first.*Nothing was written"):
            export("org/elsewhere", target, tmp_path / target, registry=reg)
        assert not (tmp_path / target).exists()


# -- the local Ollama server's /api/create -----------------------------------------------------
def test_the_local_server_creates_from_blobs_in_its_store_and_refuses_what_it_cannot(ollama_server, tmp_path: Path) -> None:  # fmt: skip
    import ollama

    client = ollama.Client(host=ollama_server.url)
    blob = ollama_server.store.get("tinyllama-chat").model_blob
    digest = "sha256:" + str(blob).rsplit("sha256-", 1)[1]  # a GGUF already in its store
    done = client.create(model="from-files", files={"model.gguf": digest}, template="{{ .Prompt }}",
                         system="Hi.", parameters={"num_ctx": 128, "stop": ["x"]}, license="MIT")  # fmt: skip
    assert done.status == "success"
    shown = client.show("from-files")
    assert (shown.template, shown.license) == ("{{ .Prompt }}", "MIT")
    assert shown.details.family == "llama" and "num_ctx" in (shown.parameters or "")
    # `from`: the base's parameters are kept unless the request sets them
    client.create(model="child", from_="from-files", parameters={"num_ctx": 64})
    params = {line.split()[0]: line.split(None, 1)[1] for line in (client.show("child").parameters or "").splitlines()}  # fmt: skip
    assert params == {"num_ctx": "64", "stop": '"x"'}
    for kwargs, status in (({"from_": "no-such-model"}, 404), ({"from_": "from-files", "quantize": "q4_K_M"}, 400),
                           ({"files": {"model.gguf": "sha256:" + "0" * 64}}, 400), ({}, 400)):  # fmt: skip
        with pytest.raises(ollama.ResponseError) as info:
            client.create(model="nope", **kwargs)  # type: ignore[arg-type]
        assert info.value.status_code == status, kwargs
    assert "nope" not in [m.model for m in client.list().models]
