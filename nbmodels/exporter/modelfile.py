"""Ollama Modelfiles: written from a configuration, and read back as Ollama reads them.

    >>> text = modelfile_text("./model.F16.gguf", template=go.text, system="Be brief.",
    ...                       parameters=[("temperature", 0.7), ("stop", "<|im_end|>")])
    >>> parse_modelfile(text)            # [("model", "./model.F16.gguf"), ("template", ...), ...]
    >>> create_request(parse_modelfile(text), folder)   # what `ollama create -f` would send

:func:`parse_modelfile` is Ollama's own parser (``parser/parser.go`` at commit
fb30760996871fa9460115c753afd2c60d4ab0f7: ``ParseFile``, ``parseRuneForState``, ``unquote``)
ported line for line: Ollama's Go package cannot run here and the Modelfile's quoting rules
are its alone (a value ends at a newline unless it is in quotes; ``\"\"\"`` quotes across
lines; runes that are not printable are dropped). Everything :func:`modelfile_text` writes
is read back with it before it is written, so a value the format cannot carry (a system
prompt holding ``\"\"\"``) is reported, never written wrong. :func:`create_request` turns the
commands into the ``/api/create`` request ``ollama create -f`` sends (``CreateRequest``).

:func:`export_ollama` is the Ollama export: FROM the model's GGUF (written beside the
Modelfile from a Hugging Face Llama folder when it has none) or its Ollama name, TEMPLATE
translated from its Jinja chat template (:mod:`.gotemplate`), SYSTEM, a PARAMETER for each
sampling setting and each stop sequence (the template family's end-of-turn markers added, as
Ollama's own templates do); :func:`create_in_ollama` runs ``ollama create`` through the
``ollama`` client (the GGUF pushed as a blob, then ``/api/create``) and says, when it cannot,
what to run instead.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import Settings, default_settings
from .common import Export, Exportable, sampling, unsupported

__all__ = [
    "PARAMETER_TYPES",
    "create_in_ollama",
    "create_request",
    "export_ollama",
    "modelfile_text",
    "parse_modelfile",
    "quote",
]

#: the Modelfile's commands (parser.go isValidCommand)
COMMANDS = frozenset({"from", "license", "template", "system", "adapter", "draft", "renderer", "parser",
                      "parameter", "message", "requires"})  # fmt: skip
#: parameter -> type, as api.Options declares them (api/types.go); "stop" repeats
PARAMETER_TYPES: dict[str, type] = {
    **dict.fromkeys(
        (
            "num_keep",
            "seed",
            "num_predict",
            "top_k",
            "repeat_last_n",
            "num_ctx",
            "num_batch",
            "num_gpu",
            "main_gpu",
            "num_thread",
        ),
        int,
    ),
    **dict.fromkeys(
        (
            "temperature",
            "top_p",
            "min_p",
            "typical_p",
            "repeat_penalty",
            "presence_penalty",
            "frequency_penalty",
        ),
        float,
    ),
    **dict.fromkeys(("use_mmap", "numa"), bool),
    "stop": list,
}

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)
# Go's unicode.IsSpace (strings.TrimSpace): Python's isspace also counts \x1c-\x1f
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}  # fmt: skip


def _is_print(ch: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols, ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _trim_space(s: str) -> str:
    start, end = 0, len(s)
    while start < end and s[start] in _GO_SPACE:
        start += 1
    while end > start and s[end - 1] in _GO_SPACE:
        end -= 1
    return s[start:end]


def _unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        return (s[3:-3], True) if len(s) >= 6 and s[-3:] == '"""' else ("", False)
    if s[:1] == '"':
        return (s[1:-1], True) if len(s) >= 2 and s[-1] == '"' else ("", False)
    return s, True


def _next_state(ch: str, state: int) -> tuple[int, str, str | None]:
    """parseRuneForState: (next state, the rune to keep or "", an error)."""
    space, newline = ch in " \t", ch in "\r\n"
    alpha = ("a" <= ch <= "z") or ("A" <= ch <= "Z")
    if state == _NIL:
        if ch == "#":
            return _COMMENT, "", None
        return (_NIL, "", None) if space or newline else (_NAME, ch, None)
    if state == _NAME:
        if alpha:
            return _NAME, ch, None
        return (_VALUE, "", None) if space else (_NIL, "", "invalid command")
    if state == _VALUE:
        return (_NIL, ch, None) if space or newline else (_VALUE, ch, None)
    if state == _PARAMETER:
        if alpha or (ch.isascii() and ch.isdigit()) or ch == "_":
            return _PARAMETER, ch, None
        return (_VALUE, "", None) if space else (_NIL, "", "unexpected end of a parameter name")
    if state == _MESSAGE:
        if alpha:
            return _MESSAGE, ch, None
        return (_VALUE, "", None) if space else (_NIL, "", "unexpected end of a message role")
    return (_NIL, "", None) if newline else (_COMMENT, "", None)  # a comment


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """The commands of a Modelfile as Ollama's ``ParseFile`` reads them: ``("model", ...)``
    for FROM, ``("template", ...)``, a parameter's name for each PARAMETER, ``("message",
    "role: text")``... Raises :class:`~nbmodels.errors.ConfigurationError` where Ollama
    would refuse the file (with its line)."""
    commands: list[tuple[str, str]] = []
    name, role, state, line = "", "", _NIL, 1
    buf: list[str] = []
    for ch in text.removeprefix("\ufeff"):
        if ch in "\r\n":
            line += 1
        nxt, kept, error = _next_state(ch, state)
        if error:
            raise ConfigurationError(f"Modelfile line {line}: {error}.")
        if nxt != state:
            if state == _NAME:
                word = "".join(buf)
                if word.lower() not in COMMANDS:
                    raise ConfigurationError(f"Modelfile line {line}: {word!r} is not a command; use one of {', '.join(sorted(COMMANDS))}.")  # fmt: skip
                lower = word.lower()
                if lower == "from":
                    name = "model"
                elif lower == "parameter":
                    nxt = _PARAMETER
                else:
                    nxt = _MESSAGE if lower == "message" else nxt
                    name = lower
            elif state == _PARAMETER:
                name = "".join(buf)
            elif state == _MESSAGE:
                role = "".join(buf)
                if role not in ("system", "user", "assistant"):
                    raise ConfigurationError(f'Modelfile line {line}: message role must be one of "system", "user", or "assistant".')  # fmt: skip
            elif state == _VALUE:
                value, ok = _unquote(_trim_space("".join(buf)))
                if not ok or kept in (" ", "\t"):
                    buf.append(kept)
                    continue
                commands.append((name, f"{role}: {value}" if role else value))
                role = ""
            buf, state = [], nxt
        if kept and _is_print(kept):
            buf.append(kept)
    if state == _VALUE:
        value, ok = _unquote(_trim_space("".join(buf)))
        if not ok:
            raise ConfigurationError("Modelfile: a quoted value is never closed (unexpected end of file).")  # fmt: skip
        commands.append((name, f"{role}: {value}" if role else value))
    elif state not in (_NIL, _COMMENT):
        raise ConfigurationError("Modelfile: unexpected end of file.")
    if not any(c == "model" for c, _ in commands):
        raise ConfigurationError("Modelfile: no FROM line.")
    return commands


def quote(value: str, *, block: bool = False) -> str:
    """``value`` as a Modelfile value that reads back as itself: bare, ``"..."`` or
    ``\"\"\"...\"\"\"`` (``block``: the triple quotes first, for templates and prompts;
    else ``"..."`` first, as Ollama writes a stop sequence).
    Raises ConfigurationError for a value no quoting carries."""
    forms = (
        [f'"""{value}"""', f'"{value}"', value]
        if block
        else [f'"{value}"', value, f'"""{value}"""']
    )
    for form in forms:
        try:
            if parse_modelfile(f"FROM x\nSYSTEM {form}\n")[1:] == [("system", value)]:
                return form
        except ConfigurationError:
            continue
    why = 'it holds """ followed by a space or a line end' if '"""' in value else "it holds characters a Modelfile drops (not printable)"  # fmt: skip
    raise ConfigurationError(f"{value[:40]!r} cannot be written in a Modelfile: {why}.")


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return quote(str(value))


def modelfile_text(
    from_: str,
    *,
    template: str | None = None,
    system: str | None = None,
    parameters: Sequence[tuple[str, Any]] = (),
    license: str | None = None,
    comments: Iterable[str] = (),
) -> str:
    """A Modelfile: FROM, TEMPLATE, SYSTEM, a PARAMETER line each (``stop`` once per
    sequence), LICENSE; ``comments`` first, as ``#`` lines. Every value is checked to read
    back as itself (ConfigurationError otherwise: leave such a value out and say so)."""
    lines = [f"# {line}" for comment in comments for line in str(comment).splitlines() or [""]]
    lines.append(f"FROM {from_}")
    if template is not None:
        lines.append(f"TEMPLATE {quote(template, block=True)}")
    if system is not None:
        lines.append(f"SYSTEM {quote(system, block=True)}")
    for key, value in parameters:
        if key not in PARAMETER_TYPES:
            raise ConfigurationError(f"{key!r} is not an Ollama parameter; use one of {', '.join(sorted(PARAMETER_TYPES))}.")  # fmt: skip
        lines.append(f"PARAMETER {key} {_format(value)}")
    if license is not None:
        lines.append(f"LICENSE {quote(license, block=True)}")
    text = "\n".join(lines) + "\n"
    expected = [("model", from_)] + ([("template", template)] if template is not None else [])
    expected += [("system", system)] if system is not None else []
    expected += [(k, _format(v).strip('"') if isinstance(v, bool | int | float) else str(v)) for k, v in parameters]  # fmt: skip
    expected += [("license", license)] if license is not None else []
    if (
        parse_modelfile(text) != expected
    ):  # a value the format would change (checked one by one above)
        raise ConfigurationError(f"The Modelfile would not read back as written: {parse_modelfile(text)!r}")  # fmt: skip
    return text


def _typed(name: str, raw: str) -> Any:
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise ConfigurationError(f"Modelfile: unknown parameter {name!r}.")
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is bool:
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError):
        raise ConfigurationError(f"Modelfile: invalid {kind.__name__} value {raw!r} for {name}.") from None  # fmt: skip
    return raw


def create_request(commands: Sequence[tuple[str, str]], folder: Path | str = ".") -> dict[str, Any]:
    """The keyword arguments of ``ollama.Client.create`` that ``ollama create -f`` builds from
    these commands (parser.go ``CreateRequest``): ``from_`` a model name, or ``files`` (file
    name -> local path, to push as blobs first) for a FROM path that exists (relative to
    ``folder``); ``template``, ``system``, ``license``, ``parameters`` (typed, ``stop`` a
    list), ``messages``."""
    request: dict[str, Any] = {}
    params: dict[str, Any] = {}
    licenses, messages = [], []
    for name, args in commands:
        if name == "model":
            path = Path(os.path.expanduser(args))
            path = path if path.is_absolute() else Path(folder) / path
            if path.is_file():
                request.setdefault("files", {})[path.name] = str(path)
            else:
                request["from_"] = args
        elif name in ("template", "system"):
            request[name] = args
        elif name == "license":
            licenses.append(args)
        elif name == "message":
            role, _, content = args.partition(": ")
            messages.append({"role": role, "content": content})
        elif name in ("adapter", "draft", "renderer", "parser", "requires"):
            raise ConfigurationError(f"Modelfile: {name.upper()} is not sent by nbmodels; run `ollama create -f` for it.")  # fmt: skip
        elif name == "stop":
            params.setdefault("stop", []).append(args)
        else:
            params[name] = _typed(name, args)
    if params:
        request["parameters"] = params
    if licenses:
        request["license"] = licenses if len(licenses) > 1 else licenses[0]
    if messages:
        request["messages"] = messages
    return request


# -- the export ------------------------------------------------------------------------------
def _parameters(
    src: Exportable, stops: Sequence[str]
) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    """PARAMETER lines for the configuration's sampling, context, seed and stops; a value the
    Modelfile cannot carry is left out and said."""
    cfg, s = src.config, sampling(src.config)
    params: list[tuple[str, Any]] = [("temperature", s["temperature"]), ("top_p", s["top_p"]),
                                     ("top_k", s["top_k"]), ("repeat_penalty", s["repetition_penalty"]),
                                     ("num_predict", s["max_tokens"])]  # fmt: skip
    if cfg.max_context_length is not None:
        params.append(("num_ctx", int(cfg.max_context_length)))
    if s["seed"] is not None:
        params.append(("seed", int(s["seed"])))
    if cfg.device_map == "cpu":
        params.append(("num_gpu", 0))
    reasons: dict[str, str] = {}
    for stop in dict.fromkeys(stops):
        try:
            quote(stop)
        except ConfigurationError as exc:
            reasons[f"stop_sequences[{stop!r}]"] = f"ollama: {exc}"
            continue
        params.append(("stop", stop))
    return params, reasons


def export_ollama(
    src: Exportable,
    out: Path,
    *,
    name: str | None = None,
    gguf_type: str | None = None,
    date_string: str | None = None,
    create: bool = False,
    settings: Settings | None = None,
) -> Export:
    """A Modelfile (FROM the model's GGUF, written here when it has none, or its Ollama
    name; TEMPLATE translated from its Jinja chat template; SYSTEM; PARAMETERs) and, with
    ``create``, ``ollama create`` run against the settings' Ollama."""
    from ..files import atomic_write
    from .gotemplate import translate
    from .llamacpp import plan_gguf, refuse_bitsandbytes

    cfg = src.config
    reasons: dict[str, str] = {}
    notes = [f"configuration: {src.config_origin}"]
    model_name = name or src.short_name
    gguf, qtype = None, None
    if src.ollama_name is not None:
        refuse_bitsandbytes(src, "Ollama")
        from_ = src.ollama_name
        if name is None and model_name.split(":")[0] == src.ollama_name.split(":")[0]:
            model_name += "-nbmodels"  # not over the model it is made from
        if gguf_type is not None:
            reasons["gguf_type"] = (
                f"ollama: made from {src.ollama_name}, whose weights are kept as they are"
            )
    else:
        gguf, qtype, found = plan_gguf(src, out, "Ollama", gguf_type, model_name)
        reasons.update(found)
        from_ = str(gguf)
    template = None
    go = translate(src.chat, date_string=date_string) if src.chat is not None else None
    if go is not None and go.text is not None:
        template = go.text
        notes += [f"TEMPLATE ({go.family}): {limit}" for limit in go.limits.values()]
    else:
        why = go.why if go is not None else "the model has no Jinja chat template"
        keep = (f"{src.ollama_name}'s own TEMPLATE is kept" if src.ollama_name else
                "Ollama picks the closest of its own templates to the GGUF's chat template, or none")  # fmt: skip
        reasons["TEMPLATE"] = f"ollama: not translated ({why}); {keep}"
    system = cfg.system_prompt or None
    if system is not None:
        try:
            quote(system, block=True)
        except ConfigurationError as exc:
            reasons["system_prompt"] = f"ollama: {exc} Send it as the first message instead."
            system = None
    params, more = _parameters(
        src, [*cfg.stop_sequences, *(go.stop if template is not None and go else ())]
    )
    reasons.update(more)
    handled = ["max_context_length", "max_tokens", "temperature", "top_p", "top_k", "do_sample", "seed",
               "repetition_penalty", "stop_sequences", "system_prompt", "dtype", "quantization"]  # fmt: skip
    if cfg.device_map == "cpu":
        handled.append("device_map")
    missing = unsupported(cfg, "ollama", handled=handled, reasons=reasons)
    comments = [
        f"Modelfile for {src.key}, written by nbmodels",
        f"ollama create {model_name} -f Modelfile",
    ]
    comments += [f"not expressed: {key}: {why}" for key, why in missing.items()]
    text = modelfile_text(
        from_, template=template, system=system, parameters=params, comments=comments
    )
    files: list[Path] = []
    # everything was checked above (the refusals, every value of the Modelfile): now write
    if qtype is not None and gguf is not None and src.folder is not None:
        from .ggufwrite import write_llama_gguf

        write_llama_gguf(src.folder, gguf, qtype=qtype, name=model_name,
                         chat_template=src.chat.template if src.chat else None)  # fmt: skip
        files.append(gguf)
    modelfile = out / "Modelfile"
    atomic_write(modelfile, text.encode())
    files.append(modelfile)
    created, error = None, None
    if create:
        created, error = create_in_ollama(modelfile, model_name, settings or default_settings())
    return Export(target="ollama", model=src.key, folder=out, files=tuple(files),
                  command=("ollama", "create", model_name, "-f", str(modelfile)), unsupported=missing,
                  notes=tuple(notes), template=go, created=created, create_error=error)  # fmt: skip


def create_in_ollama(
    modelfile: Path, name: str, settings: Settings
) -> tuple[str | None, str | None]:
    """``ollama create name -f modelfile`` through the ``ollama`` client at
    ``settings.ollama_host``: the Modelfile read as Ollama reads it, its GGUF pushed as a blob,
    then ``/api/create``. Returns (the model's name, None), or (None, why and what to run)."""
    import httpx
    import ollama

    host = settings.ollama_host
    by_hand = f"run `ollama create {name} -f {modelfile}` where Ollama runs"
    request = create_request(parse_modelfile(modelfile.read_text()), modelfile.parent)
    client = ollama.Client(host=host, timeout=max(settings.timeout, 600))
    try:
        files = request.pop("files", None)
        if files:
            request["files"] = {file: client.create_blob(path) for file, path in files.items()}
        client.create(model=name, stream=False, **request)
        shown = client.show(name)
    except ConnectionError:
        return None, f"no Ollama answers at {host}: the Modelfile is written; {by_hand}"
    except ollama.ResponseError as exc:
        return None, f"the Ollama at {host} refused it ({exc.status_code}: {exc.error}); {by_hand}"
    except httpx.HTTPError as exc:
        return None, f"the Ollama at {host} did not answer ({type(exc).__name__}: {exc}); {by_hand}"
    return (name if shown is not None else None), None
