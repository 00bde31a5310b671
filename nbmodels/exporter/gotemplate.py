"""A model's Jinja chat template as an Ollama ``TEMPLATE`` (Go's ``text/template``) that
renders the same prompt for plain chats.

    >>> chat = ChatTemplate(jinja_text, bos_token="<|begin_of_text|>")
    >>> go = translate(chat)
    >>> go.text                      # the TEMPLATE, or None with go.why
    >>> go.exact_for(messages)       # None: Ollama renders these bytes too; else why not

No general Jinja-to-Go compiler: a chat template is recognised by what it renders (a few
probe chats through Jinja), as one of the families Ollama's own templates cover, and the
family's hand-checked Go template is filled in with the model's own text (its default system
prompt, its date line, its end-of-turn marker). The Go template is then checked against the
Jinja template on probe chats through a Python model of what Ollama renders (``render``); a
template that renders anything else is not translated, and ``why`` says where it differed.
``tests/test_chat_template_go.py`` checks each family's Go text with Go's real
``text/template`` (a copy of Ollama's ``Execute``) against transformers on real templates.

Families: ``chatml`` (``<|im_start|>``: Qwen2/2.5 with their default system prompt, SmolLM,
plain ChatML), ``llama3`` (``<|start_header_id|>``: 3.0, and 3.1/3.2 with the "Cutting
Knowledge Date" system header), ``gemma`` (``<start_of_turn>``, the assistant called
``model``), ``zephyr`` (``<|user|>``: Zephyr, Phi-3, the demo's tiny model).

Conventions and limits (each said per template in ``limits``, per chat by ``exact_for``):

* **BOS.** transformers writes ``bos_token`` into the text; Ollama's runner (llama.cpp) adds
  BOS as a token when it tokenizes (the GGUF's ``tokenizer.ggml.add_bos_token``), and
  llama-server strips a leading BOS text for the same reason (``common/chat.cpp``). The
  TEMPLATE therefore leaves out the BOS the Jinja template starts with (``bos``): the text
  is ``bos + TEMPLATE's``; with ``runner_adds_bos=False`` the TEMPLATE writes it itself.
* **Consecutive messages of one role** are merged by Ollama with a blank line (``collate``),
  not by transformers: chats must alternate.
* **trim.** Go templates have no ``trim``: a template that trims contents (Llama 3, Gemma)
  renders the same only for contents without leading or trailing whitespace.
* **Dates.** Llama 3.1's system header says "Today Date: <date_string>" (``strftime_now``
  in 3.2). Ollama's ``currentDate`` writes only ``2006-01-02``, so the date is fixed in the
  TEMPLATE (``date_string``: by default the date transformers renders on the day of the
  export: today's for ``strftime_now``, else the template's own); transformers renders the
  same bytes when given the same ``date_string``.
* **Gemma and system messages.** A Gemma 1/2 template refuses a system message; the
  TEMPLATE folds it into the first user turn (Gemma 3's and Ollama's own way).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "FAMILIES",
    "ChatTemplate",
    "GoTemplate",
    "collate",
    "render_jinja",
    "translate",
]

Messages = Sequence[Mapping[str, Any]]
ROLES = ("system", "user", "assistant")


# -- the Jinja side --------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> Any:
    """``template`` compiled in the environment transformers renders chat templates in
    (``transformers.utils.chat_template_utils``: a sandbox, ``trim_blocks``,
    ``lstrip_blocks``, loop controls, ``raise_exception``, a ``tojson`` that does not escape
    HTML, ``strftime_now``). Written here because transformers' function is internal API and
    importing transformers for a string render costs seconds; the tests compare both."""
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:  # fmt: skip
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)  # fmt: skip

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])  # fmt: skip
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_jinja(template: str, messages: Messages, *, add_generation_prompt: bool = True, **tokens: Any) -> str:  # fmt: skip
    """``messages`` through a Jinja chat template as transformers' ``apply_chat_template``
    renders them (``tokens``: ``bos_token``, ``eos_token``, ``date_string``...). Raises
    ``jinja2.TemplateError`` where the template refuses the chat."""
    return str(_compiled(template).render(messages=[dict(m) for m in messages], tools=None, documents=None,
                                          add_generation_prompt=add_generation_prompt, **tokens))  # fmt: skip


@dataclass(frozen=True)
class ChatTemplate:
    """A model's Jinja chat template and the special tokens it renders.

    ``add_bos_token``: whether the tokenizer (or the GGUF) adds BOS at tokenization; None
    when unknown."""

    template: str
    bos_token: str = ""
    eos_token: str = ""
    add_bos_token: bool | None = None
    tokens: Mapping[str, Any] = field(default_factory=dict)  # other special tokens by name

    def render(self, messages: Messages, *, date_string: str | None = None, add_generation_prompt: bool = True) -> str:  # fmt: skip
        extra = {"date_string": date_string} if date_string is not None else {}
        return render_jinja(self.template, messages, add_generation_prompt=add_generation_prompt,
                            **{**self.tokens, "bos_token": self.bos_token, "eos_token": self.eos_token, **extra})  # fmt: skip

    @property
    def date_fallback(self) -> str | None:
        """The date transformers renders when no ``date_string`` is given: today's, in the
        template's ``strftime_now`` format (Llama 3.2), else the date the template names
        (Llama 3.1: "26 Jul 2024"); None when it names none."""
        now = re.search(r"strftime_now\(\s*(['\"])(.*?)\1\s*\)", self.template)
        if now:
            return datetime.now().strftime(now.group(2))
        found = re.search(r"set\s+date_string\s*=\s*(['\"])(.*?)\1", self.template)
        return found.group(2) if found else None

    @property
    def uses_date(self) -> bool:
        return "date_string" in self.template or "strftime_now" in self.template


# -- the Ollama side -------------------------------------------------------------------------
def collate(messages: Messages) -> tuple[str, list[dict[str, str]]]:
    """Ollama's ``collate`` (template/template.go): consecutive messages of one role (tool
    messages excepted) merged with a blank line, and every system message joined as
    ``.System``."""
    system: list[str] = []
    out: list[dict[str, str]] = []
    for m in messages:
        role, content = str(m.get("role", "")), str(m.get("content") or "")
        if role == "system":
            system.append(content)
        if out and out[-1]["role"] == role and role != "tool":
            out[-1]["content"] += "\n\n" + content
        else:
            out.append({"role": role, "content": content})
    return "\n\n".join(system), out


def _text(s: str) -> str:
    """Literal text inside a Go template: as is, or as a Go string literal when it would
    open an action (JSON's escapes are Go's)."""
    return "{{ " + json.dumps(s, ensure_ascii=False) + " }}" if "{{" in s else s


@dataclass(frozen=True)
class _Family:
    name: str
    marker: Callable[
        [str], bool
    ]  # does this rendering of (user U1, assistant A1, user U2) look like us?
    params: Callable[[Callable[[Messages], str]], dict[str, Any]]
    go: Callable[[dict[str, Any]], str]
    py: Callable[[dict[str, Any], list[dict[str, str]]], str]
    stop: Callable[[dict[str, Any]], tuple[str, ...]]


U1, A1, U2, S1 = "nbmodels-probe-u1", "nbmodels-probe-a1", "nbmodels-probe-u2", "nbmodels-probe-s1"
_ONE: list[dict[str, str]] = [{"role": "user", "content": U1}]
_TURNS: list[dict[str, str]] = [*_ONE, {"role": "assistant", "content": A1}, {"role": "user", "content": U2}]  # fmt: skip
_SYSTEM: list[dict[str, str]] = [{"role": "system", "content": S1}, *_ONE]


def _between(text: str, start: str, end: str) -> str | None:
    i = text.find(start)
    j = text.find(end, i + len(start)) if i >= 0 else -1
    return text[i + len(start) : j] if j >= 0 else None


def _trims(render: Callable[[Messages], str]) -> bool:
    return f" {U1} " not in render([{"role": "user", "content": f" {U1} "}])


# ChatML: <|im_start|>role\ncontent<|im_end|>\n, a default system turn when the chat has none
def _chatml_params(render: Callable[[Messages], str]) -> dict[str, Any]:
    one = render(_ONE)
    head = "<|im_start|>system\n"
    default = _between(one, head, "<|im_end|>") if one.startswith(head) else None
    return {"default_system": default}


def _chatml_go(p: dict[str, Any]) -> str:
    go = ""
    if p["default_system"] is not None:
        go += ('{{- if or (not .Messages) (ne (index .Messages 0).Role "system") }}<|im_start|>system\n'
               + _text(p["default_system"]) + "<|im_end|>\n{{ end }}")  # fmt: skip
    return go + "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"  # fmt: skip


def _chatml_py(p: dict[str, Any], msgs: list[dict[str, str]]) -> str:
    out = ""
    if p["default_system"] is not None and (not msgs or msgs[0]["role"] != "system"):
        out += f"<|im_start|>system\n{p['default_system']}<|im_end|>\n"
    out += "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)
    return out + "<|im_start|>assistant\n"


# Llama 3: <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>; 3.1 opens with a
# system header (its knowledge and today's date) that takes the first system message
_L3_SYS = "<|start_header_id|>system<|end_header_id|>\n\n"


def _llama3_params(render: Callable[[Messages], str]) -> dict[str, Any]:
    one = render(_ONE)
    header = _between(one, _L3_SYS, "<|eot_id|>") if one.startswith(_L3_SYS) else None
    return {"header": header, "trim": _trims(render)}


def _llama3_go(p: dict[str, Any]) -> str:
    turn = "<|start_header_id|>{{ $m.Role }}<|end_header_id|>\n\n{{ $m.Content }}<|eot_id|>"
    gen = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    if p["header"] is None:
        return "{{- range $m := .Messages }}" + turn + "{{ end }}" + gen
    first = '(and .Messages (eq (index .Messages 0).Role "system"))'
    return (_L3_SYS + _text(p["header"]) + "{{ if " + first + " }}{{ (index .Messages 0).Content }}{{ end }}<|eot_id|>"
            '{{- range $i, $m := .Messages }}{{ if not (and (eq $i 0) (eq $m.Role "system")) }}' + turn
            + "{{ end }}{{ end }}" + gen)  # fmt: skip


def _llama3_py(p: dict[str, Any], msgs: list[dict[str, str]]) -> str:
    out = ""
    if p["header"] is not None:
        first = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        out += f"{_L3_SYS}{p['header']}{first}<|eot_id|>"
        msgs = msgs[1:] if msgs and msgs[0]["role"] == "system" else msgs
    out += "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>" for m in msgs)  # fmt: skip
    return out + "<|start_header_id|>assistant<|end_header_id|>\n\n"


# Gemma: <start_of_turn>user|model\ncontent<end_of_turn>\n; system folded into the first user turn
def _gemma_params(render: Callable[[Messages], str]) -> dict[str, Any]:
    import jinja2

    try:
        folded = f"<start_of_turn>user\n{S1}\n\n{U1}" in render(_SYSTEM)
        system = "fold" if folded else "other"
    except jinja2.TemplateError:  # "System role not supported"
        system = "refuse"
    return {"system": system, "trim": _trims(render)}


_GEMMA_GO = (
    '{{- $system := "" }}{{ range .Messages }}'
    '{{- if eq .Role "system" }}{{ if $system }}{{ $system = printf "%s\\n\\n%s" $system .Content }}{{ else }}{{ $system = .Content }}{{ end }}'
    '{{- else if eq .Role "user" }}<start_of_turn>user\n{{ if $system }}{{ $system }}\n\n{{ $system = "" }}{{ end }}{{ .Content }}<end_of_turn>\n'
    "{{ else }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n{{ end }}"
    "{{- end }}<start_of_turn>model\n"
)


def _gemma_py(p: dict[str, Any], msgs: list[dict[str, str]]) -> str:
    out, system = "", ""
    for m in msgs:
        if m["role"] == "system":
            system = f"{system}\n\n{m['content']}" if system else m["content"]
        elif m["role"] == "user":
            prefix, system = (f"{system}\n\n" if system else ""), ""
            out += f"<start_of_turn>user\n{prefix}{m['content']}<end_of_turn>\n"
        else:
            out += f"<start_of_turn>model\n{m['content']}<end_of_turn>\n"
    return out + "<start_of_turn>model\n"


# Zephyr, Phi-3, the demo's tiny model: <|role|>\ncontent<close>, close being EOS + "\n" or <|end|>\n
def _zephyr_params(render: Callable[[Messages], str]) -> dict[str, Any]:
    one = render(_ONE)
    close = _between(one, f"<|user|>\n{U1}", "<|assistant|>")
    gen = one[one.rfind("<|assistant|>") :] if "<|assistant|>" in one else None
    return {"close": close or "", "gen": gen or "<|assistant|>\n"}


def _zephyr_go(p: dict[str, Any]) -> str:
    return "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}" + _text(p["close"]) + "{{ end }}" + _text(p["gen"])  # fmt: skip


def _zephyr_py(p: dict[str, Any], msgs: list[dict[str, str]]) -> str:
    return "".join(f"<|{m['role']}|>\n{m['content']}{p['close']}" for m in msgs) + p["gen"]


FAMILIES: tuple[_Family, ...] = (
    _Family(
        "chatml",
        lambda t: f"<|im_start|>user\n{U1}<|im_end|>" in t,
        _chatml_params,
        _chatml_go,
        _chatml_py,
        lambda p: ("<|im_end|>", "<|im_start|>"),
    ),
    _Family(
        "llama3",
        lambda t: f"<|start_header_id|>user<|end_header_id|>\n\n{U1}<|eot_id|>" in t,
        _llama3_params,
        _llama3_go,
        _llama3_py,
        lambda p: ("<|eot_id|>", "<|start_header_id|>"),
    ),
    _Family(
        "gemma",
        lambda t: f"<start_of_turn>user\n{U1}<end_of_turn>" in t and "<start_of_turn>model" in t,
        _gemma_params,
        lambda p: _GEMMA_GO,
        _gemma_py,
        lambda p: ("<end_of_turn>",),
    ),
    _Family(
        "zephyr",
        lambda t: f"<|user|>\n{U1}" in t and "<|assistant|>" in t,
        _zephyr_params,
        _zephyr_go,
        _zephyr_py,
        lambda p: tuple(s for s in (p["close"].strip(), "<|user|>") if s),
    ),
)


@dataclass(frozen=True)
class GoTemplate:
    """A chat template as an Ollama TEMPLATE (``text``), or why it is not one (``why``).

    ``bos``: the BOS text the Jinja template starts with, left to the runner; ``stop``: the
    family's end-of-turn markers (Ollama's own templates stop at them too); ``limits``: what
    renders differently, and when (``exact_for`` answers for one chat)."""

    family: str | None
    text: str | None
    why: str | None = None
    bos: str = ""
    stop: tuple[str, ...] = ()
    date_string: str | None = None
    limits: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, messages: Messages) -> str:
        """What Ollama's Execute renders from ``text`` for ``messages`` (without the BOS the
        runner adds): the Python model the translation is checked with."""
        family = next((f for f in FAMILIES if f.name == self.family), None)
        if family is None or self.text is None:
            raise ValueError(f"no TEMPLATE to render: {self.why}")
        prefix = "" if self.params.get("runner_bos", True) else self.bos
        return prefix + family.py(dict(self.params), collate(messages)[1])

    def exact_for(self, messages: Messages) -> str | None:
        """None when Ollama renders exactly transformers' prompt for ``messages`` (the BOS
        aside); else why not."""
        if self.text is None:
            return f"not translated: {self.why}"
        roles = [str(m.get("role")) for m in messages]
        if any(r not in ROLES for r in roles):
            return "a role other than system, user and assistant"
        if any(a == b for a, b in itertools.pairwise(roles)):
            return "two consecutive messages of one role: Ollama merges them with a blank line"
        if self.params.get("trim") and any(str(m.get("content") or "") != str(m.get("content") or "").strip() for m in messages):  # fmt: skip
            return "a content with leading or trailing whitespace: the Jinja template trims it, Go templates cannot"  # fmt: skip
        if self.family == "gemma":
            rest = (
                roles[1:]
                if self.params.get("system") == "fold" and roles[:1] == ["system"]
                else roles
            )
            if "system" in rest:
                return "a system message: the Jinja template refuses it (or takes only a first one); the TEMPLATE folds it into the first user turn"  # fmt: skip
            if any(r != ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(rest)):
                return "roles that do not alternate user/assistant: the Jinja template refuses them"
            if roles[:1] == ["system"] and not str(messages[0].get("content") or ""):
                return "an empty system message"
        return None


# probe chats the translation is checked on (beyond the three that find the family)
_CHECKS: tuple[list[dict[str, str]], ...] = (
    _ONE,
    _TURNS,
    _SYSTEM,
    [
        {"role": "system", "content": "Be brief.\nVery brief."},
        *_TURNS,
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "again"},
    ],
    [{"role": "user", "content": 'quote " and {{ .Content }} {% raw %} \\ done'}],
    [
        {"role": "user", "content": "Grüße, 世界 👋\n\nline three"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "<|im_end|> </s>"},
    ],
    [{"role": "user", "content": ""}],
    [{"role": "assistant", "content": A1}, {"role": "user", "content": U2}],
    [*_TURNS, {"role": "system", "content": S1}, {"role": "user", "content": U1}],
)


def translate(chat: ChatTemplate, *, date_string: str | None = None, runner_adds_bos: bool | None = None) -> GoTemplate:  # fmt: skip
    """The Ollama TEMPLATE of ``chat``, checked on probe chats; ``text`` is None, with
    ``why``, when the template is none of the families or renders differently from it.

    ``date_string``: the date a dated template (Llama 3.1) gets, fixed in the TEMPLATE
    (default: :attr:`ChatTemplate.date_fallback`, else today as "%d %b %Y"). ``runner_adds_bos``:
    whether Ollama's runner adds BOS at tokenization (default: ``chat.add_bos_token``, else
    yes); when not, the TEMPLATE writes the BOS text itself."""
    import jinja2

    date = None
    if chat.uses_date:
        date = date_string or chat.date_fallback or datetime.now().strftime("%d %b %Y")

    def render(messages: Messages) -> str:
        return chat.render(messages, date_string=date)

    def body(messages: Messages) -> str:  # what the runner gets as text: the BOS aside
        text = render(messages)
        return text[len(bos) :] if bos and text.startswith(bos) else text

    bos = ""
    try:
        probe = render(_TURNS)
    except jinja2.TemplateError as exc:
        return GoTemplate(None, None, f"the Jinja template cannot render a plain chat: {exc}")
    except Exception as exc:  # a template jinja2 cannot even compile (a {% generation %} tag...)
        return GoTemplate(None, None, f"the Jinja template does not render here: {type(exc).__name__}: {exc}")  # fmt: skip
    bos = chat.bos_token if chat.bos_token and probe.startswith(chat.bos_token) else ""
    runner_bos = chat.add_bos_token if runner_adds_bos is None and chat.add_bos_token is not None else runner_adds_bos  # fmt: skip
    runner_bos = True if runner_bos is None else runner_bos
    family = next((f for f in FAMILIES if f.marker(probe)), None)
    if family is None:
        return GoTemplate(None, None, "not one of the chat formats translated to Go templates "
                          f"({', '.join(f.name for f in FAMILIES)}); its first turns render as {probe[:160]!r}")  # fmt: skip
    try:
        params = {**family.params(body), "runner_bos": runner_bos}
    except jinja2.TemplateError as exc:
        return GoTemplate(family.name, None, f"the Jinja template refuses a probe chat of {family.name}: {exc}")  # fmt: skip
    text = family.go(params)
    if bos and not runner_bos:
        text = _text(bos) + text
    limits: dict[str, str] = {
        "messages": "consecutive messages of one role are merged with a blank line by Ollama (chats must alternate)",
    }
    if not bos and chat.add_bos_token:
        limits["bos"] = ("the tokenizer adds BOS (add_bos_token) though the Jinja template writes none: "
                         "Ollama's runner adds it too, transformers' apply_chat_template(tokenize=True) does not")  # fmt: skip
    if bos:
        limits["bos"] = (f"the Jinja template starts with {bos!r}; " + ("the runner adds it as a token (add_bos_token), so the TEMPLATE leaves it out" if runner_bos else "the TEMPLATE writes it"))  # fmt: skip
    if params.get("trim"):
        limits["trim"] = "contents are trimmed by the Jinja template; Go templates cannot trim: a content with leading or trailing whitespace keeps it"  # fmt: skip
    if date is not None:
        limits["date_string"] = (f"the date is fixed at {date!r}: the Jinja template writes date_string"
                                 + (" or today's date (strftime_now)" if "strftime_now" in chat.template else "")
                                 + "; Ollama's currentDate has only the 2006-01-02 form")  # fmt: skip
    if family.name == "gemma":
        limits["system"] = ("the Jinja template refuses a system message; the TEMPLATE folds it into the first user turn"
                            if params["system"] != "fold" else "only a first system message is folded into the first user turn")  # fmt: skip
    go = GoTemplate(family.name, text, bos=bos, stop=family.stop(params), date_string=date,
                    limits=limits, params=params)  # fmt: skip
    for messages in _CHECKS:
        if go.exact_for(messages) is not None:
            continue
        try:
            want = render(messages)
        except jinja2.TemplateError as exc:
            return GoTemplate(family.name, None, f"the Jinja template refuses the plain chat {messages!r}: {exc}")  # fmt: skip
        got = (bos if runner_bos else "") + go.render(messages)
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got)))  # fmt: skip
            return GoTemplate(family.name, None, f"looks like {family.name} but renders differently from it: "
                              f"at character {at} the Jinja template writes {want[at:at + 60]!r}, "
                              f"the {family.name} TEMPLATE would write {got[at:at + 60]!r}")  # fmt: skip
    return go
