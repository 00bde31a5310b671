"""Chat templates as Ollama TEMPLATEs: every real chat template of the shared Hub records
(and the demo model's) is either translated, and then renders with Go's real text/template
(``tests/go/render/main.go``, a copy of Ollama's Execute) exactly the prompt transformers
renders, or refused with a reason; never a wrong one.

The llama-server side: the model's own Jinja template is what llama-server renders
(``--jinja --chat-template-file``); it renders the same in plain jinja2 as in transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest

from nbmodels.exporter.gotemplate import ChatTemplate, GoTemplate, render_jinja, translate

GO_PROGRAM = Path(__file__).parent / "go" / "render" / "main.go"

Chat = list[dict[str, str]]


def _c(*pairs: tuple[str, str]) -> Chat:
    return [{"role": r, "content": c} for r, c in pairs]


S, U, A = "system", "user", "assistant"
#: 20 plain chats: roles alternate, the last is the user's (the generation prompt follows)
CHATS: list[Chat] = [
    _c((U, "Hello!")),
    _c((S, "You are terse."), (U, "Hi")),
    _c((U, "What is 2+2?"), (A, "4"), (U, "And 3+3?")),
    _c((S, "You answer in French."), (U, "Bonjour"), (A, "Bonjour !"), (U, "Ça va ?")),
    _c((U, "Grüße aus Köln, 世界 👋 — ça va? ñ")),
    _c((U, "line one\nline two\n\nline four")),
    _c((U, "")),
    _c((U, "first"), (A, ""), (U, "second")),
    _c((U, "Go {{ .Content }} and Jinja {% raw %}{{ x }}{% endraw %} {# c #} text")),
    _c((U, "He said \"hi\" and 'bye' \\n is not a newline \\ done")),
    _c((U, "a"), (A, "b"), (U, "c"), (A, "d"), (U, "e"), (A, "f"), (U, "g")),
    _c((S, "Rules:\n1. Be kind.\n2. Be brief."), (U, "Tell me a joke.")),
    _c((U, "special text <|im_end|> <|eot_id|> <end_of_turn> </s> <s> inside")),
    _c((U, "tabs\tand\tmore\ttabs")),
    _c(
        (S, "Système: réponds en français."), (U, "Qui es-tu ?"), (A, "Un assistant."), (U, "Merci")
    ),
    _c((U, "x" * 2000)),
    _c((U, "Emoji only: 🎉🎈🎂")),
    _c((U, "Code:\n```python\ndef f():\n    return 1\n```")),
    _c((S, "s"), (U, "u"), (A, "a"), (U, "u2"), (A, "a2"), (U, "u3")),
    _c((U, "Right-to-left: مرحبا بالعالم and שלום")),
]
#: chats outside the plain domain: each is either flagged by exact_for or renders the same
BOUNDARY: list[Chat] = [
    _c((U, "  padded  ")),
    _c((U, "ends with a newline\n")),
    _c((S, "\nsystem with edges "), (U, "hi")),
    _c((U, "one"), (U, "two")),
    _c((S, "a"), (S, "b"), (U, "hi")),
    _c((U, "hi"), (A, "there"), (A, "again"), (U, "ok")),
    _c((A, "I start"), (U, "then you")),
    _c((U, "hi"), (S, "a late system message"), (U, "ok")),
]


@pytest.fixture(scope="session")
def go_render(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, list[Chat]], list[str | None]]:  # fmt: skip
    """Renders chats through a TEMPLATE with Go's text/template, as Ollama does (built once)."""
    if shutil.which("go") is None:
        pytest.skip("`go` is not installed (Debian: golang-go): the Go renderer cannot be built")
    work = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"),
           "GOFLAGS": "", "GOPROXY": "off", "GOTOOLCHAIN": "local"}  # fmt: skip
    binary = work / "render"
    built = subprocess.run(["go", "build", "-o", str(binary), str(GO_PROGRAM)], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr

    def render(template: str, chats: list[Chat]) -> list[str | None]:
        done = subprocess.run([str(binary)], input=json.dumps({"template": template, "chats": chats}),
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["errors"] == [None] * len(chats), answer["errors"]
        return list(answer["prompts"])

    return render


class Templates(dict[str, ChatTemplate]):
    """{model id: its chat template}, every model of the records; ``distinct()`` gives each
    template once, with the ids that share it."""

    def distinct(self) -> list[tuple[tuple[str, ...], ChatTemplate]]:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for model_id, chat in self.items():
            groups.setdefault((chat.template, chat.bos_token, chat.eos_token), []).append(model_id)
        return [(tuple(ids), self[ids[0]]) for ids in groups.values()]


@pytest.fixture(scope="module")
def templates(shared_data: Path, tiny_models) -> Templates:
    """The chat templates of the shared Hub records (37 models, 25 distinct templates) and
    the demo model's."""
    import duckdb
    from transformers import AutoTokenizer

    chat = AutoTokenizer.from_pretrained(tiny_models["nbmodels-demo/tiny-llama-chat"])
    out = Templates({"nbmodels-demo/tiny-llama-chat": ChatTemplate(chat.chat_template, bos_token=chat.bos_token,
                                                                   eos_token=chat.eos_token, add_bos_token=True)})  # fmt: skip
    rows = duckdb.sql(
        f"SELECT id, gguf FROM '{shared_data / 'hub-models.parquet'}' "
        "WHERE gguf LIKE '%chat_template%' ORDER BY id"
    ).fetchall()
    for model_id, raw in rows:
        record = json.loads(raw)
        out[model_id] = ChatTemplate(record["chat_template"], bos_token=record.get("bos_token") or "",
                                     eos_token=record.get("eos_token") or "")  # fmt: skip
    assert len(out) == 38
    return out


@pytest.fixture(scope="module")
def tokenizer(tiny_models) -> Any:
    """A transformers tokenizer to render with: the demo's, carrying each template in turn."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_models["nbmodels-demo/tiny-llama-chat"])


def _transformers(tokenizer: Any, chat: ChatTemplate, go: GoTemplate, messages: Chat) -> str:
    tokenizer.chat_template = chat.template
    extra = {"date_string": go.date_string} if go.date_string else {}
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             bos_token=chat.bos_token, eos_token=chat.eos_token, **extra))  # fmt: skip


def test_every_real_template_is_translated_exactly_or_refused(
    templates, tokenizer, go_render
) -> None:
    translated: dict[str, GoTemplate] = {}
    for ids, chat in templates.distinct():
        model_id = ids[0]
        go = translate(chat)
        if go.text is None:
            assert go.why, model_id  # refused, and says why
            continue
        translated.update(dict.fromkeys(ids, go))
        prompts = go_render(go.text, CHATS)
        identical = 0
        for messages, got in zip(CHATS, prompts, strict=True):
            assert got == go.render(messages), (model_id, messages)  # the Python model is Go's
            why = go.exact_for(messages)
            if why is None:
                want = _transformers(tokenizer, chat, go, messages)
                assert want == go.bos + got, (model_id, messages)
                identical += 1
            else:  # only Gemma's refusal of system messages is outside a plain chat
                assert go.family == "gemma" and "system" in why, (model_id, why)
                with pytest.raises(jinja2.TemplateError, match="System role not supported"):
                    _transformers(tokenizer, chat, go, messages)
        assert identical == (20 if go.family != "gemma" else 15), model_id
    families = {go.family for go in translated.values()}
    assert {"llama3", "chatml", "gemma", "zephyr"} <= families, families
    assert {"meditsolutions/Llama-3.2-SUN-1B-chat", "theprint/CleverBoi-Llama-3.1-8B-Instruct",
            "vonjack/Qwen2.5-Coder-0.5B-Merged", "Gunulhona/Gemma-Ko-Merge",
            "nbmodels-demo/tiny-llama-chat"} <= set(translated)  # fmt: skip
    refused = set(templates) - set(translated)
    # Mistral's [INST], DeepSeek's, phi-4's <|im_sep|>, alpaca-style: none is a family here
    assert {"theprint/ReWiz-7B", "HelpingAI/Dhanishtha", "mkurman/phi4-MedIT-10B-o1",
            "Nekochu/Luminia-13B-v3"} <= refused  # fmt: skip


def test_what_each_translation_keeps_from_its_template(templates) -> None:
    qwen = translate(templates["vonjack/Qwen2.5-Coder-0.5B-Merged"])
    assert qwen.params["default_system"] == "You are a helpful assistant."
    assert "You are a helpful assistant." in (qwen.text or "") and qwen.bos == ""
    grpo = translate(templates["yasserrmd/Coder-GRPO-3B"])
    assert grpo.params["default_system"] == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."  # fmt: skip
    l31 = translate(templates["theprint/CleverBoi-Llama-3.1-8B-Instruct"])
    assert (l31.bos, l31.date_string, l31.params["trim"]) == ("<|begin_of_text|>", "26 Jul 2024", True)  # fmt: skip
    assert "Today Date: 26 Jul 2024" in (l31.text or "") and "<|begin_of_text|>" not in (l31.text or "")  # fmt: skip
    assert "date_string" in l31.limits and "trim" in l31.limits and "bos" in l31.limits
    before = datetime.now().strftime("%d %b %Y")
    today = translate(templates["meditsolutions/Llama-3.2-SUN-1B-chat"]).date_string  # strftime_now
    assert today in (before, datetime.now().strftime("%d %b %Y"))
    l32 = translate(templates["meditsolutions/Llama-3.2-SUN-1B-chat"], date_string="01 Jan 2030")
    assert "Today Date: 01 Jan 2030" in (l32.text or "") and "strftime_now" in l32.limits["date_string"]  # fmt: skip
    gemma = translate(templates["Gunulhona/Gemma-Ko-Merge"])
    assert (gemma.bos, gemma.params["system"], gemma.stop) == ("<bos>", "refuse", ("<end_of_turn>",))  # fmt: skip
    demo = translate(templates["nbmodels-demo/tiny-llama-chat"])
    assert (demo.family, demo.bos, demo.params["close"]) == ("zephyr", "<s>", "</s>\n")
    # a runner that does not add BOS: the TEMPLATE writes it itself
    assert (translate(templates["Gunulhona/Gemma-Ko-Merge"], runner_adds_bos=False).text or "").startswith("<bos>")  # fmt: skip


def test_the_stated_limits_are_exactly_where_the_renderings_differ(templates, tokenizer, go_render) -> None:  # fmt: skip
    """exact_for is neither too strict nor too lax: where it says the same, the bytes are the
    same; where it names a reason, transformers refuses the chat or renders other bytes."""
    checked = 0
    for (model_id, *_), chat in templates.distinct():
        go = translate(chat)
        if go.text is None:
            continue
        for messages, got in zip(BOUNDARY, go_render(go.text, BOUNDARY), strict=True):
            assert got == go.render(messages)
            why = go.exact_for(messages)
            try:
                want = _transformers(tokenizer, chat, go, messages)
            except jinja2.TemplateError:
                assert why is not None, (model_id, messages)  # the Jinja template refuses it
                continue
            if why is None:
                assert want == go.bos + got, (model_id, messages)
            else:
                assert want != go.bos + got, (model_id, messages, why)
            checked += 1
    assert checked > 100


def test_llama_server_renders_the_model_template_itself_and_plain_jinja2_agrees(templates, tokenizer) -> None:  # fmt: skip
    """llama-server --jinja --chat-template-file renders the model's own Jinja template; the
    file is the template as it is, and it renders the same without transformers' extensions
    (nbmodels' render_jinja: a sandboxed jinja2 with trim_blocks and lstrip_blocks)."""
    for (model_id, *_), chat in templates.distinct():
        go = translate(chat)
        date = {"date_string": go.date_string} if go.date_string else {}
        for messages in CHATS:
            try:
                want = _transformers(tokenizer, chat, go, messages)
            except jinja2.TemplateError:
                with pytest.raises(jinja2.TemplateError):
                    render_jinja(chat.template, messages, bos_token=chat.bos_token, eos_token=chat.eos_token, **date)  # fmt: skip
                continue
            except Exception:  # the records' non-chat templates (a "from"/"value" format)
                continue
            got = render_jinja(chat.template, messages, bos_token=chat.bos_token, eos_token=chat.eos_token, **date)  # fmt: skip
            assert got == want, (model_id, messages)
