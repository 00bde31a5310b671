"""A registered model for llama.cpp: a GGUF file (written from a Hugging Face Llama folder,
or the model's own GGUF) and the ``llama-server`` command line that serves it configured.

    llama-server -m model.F16.gguf -c 4096 --jinja --chat-template-file chat_template.jinja \\
        --temp 0.7 --top-p 0.9 --top-k 50 --repeat-penalty 1.0 -n 256 --alias tiny-chat

``--jinja --chat-template-file`` makes llama-server render the model's own Jinja chat
template (its ``common/chat.cpp`` strips a leading BOS text, as its tokenizer adds BOS:
see :mod:`.gotemplate`). Sampling flags are llama-server's defaults for every request;
``-r`` (``--reverse-prompt``) is a default stop sequence for the server in recent llama.cpp.
bitsandbytes weights cannot be expressed in GGUF: such a configuration is refused before
anything is written (export F16 or Q8_0 instead).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigurationError
from ..files import atomic_write
from .common import Export, Exportable, sampling, unsupported
from .ggufwrite import GGUF_TYPES, check_convertible, write_llama_gguf

__all__ = [
    "export_llamacpp",
    "gguf_type_for",
    "llama_server_command",
    "plan_gguf",
    "refuse_bitsandbytes",
]

#: configuration fields llama-server's command line carries
HANDLED = ("max_context_length", "max_tokens", "temperature", "top_p", "top_k", "do_sample",
           "repetition_penalty", "seed", "stop_sequences", "dtype", "quantization")  # fmt: skip


def refuse_bitsandbytes(src: Exportable, target: str) -> None:
    """bitsandbytes (8-bit, nf4, fp4) weights have no GGUF form: refused, with what to do."""
    from ..config.stored import effective_quantization

    quant = effective_quantization(src.config)
    if quant != "none":
        raise ConfigurationError(
            f"{src.key} is configured for bitsandbytes {quant}, which {target} cannot run (GGUF has "
            "no bitsandbytes weights); nothing was written. Export its full weights as a GGUF "
            "instead: gguf_type='F16', or gguf_type='Q8_0' for 8-bit weights "
            "(with a configuration whose quantization is 'none')."
        )


def gguf_type_for(src: Exportable, folder: Path) -> str:
    """The GGUF type a configuration's dtype asks for: float32 -> F32, bfloat16 -> BF16,
    float16 -> F16, auto -> the checkpoint's own dtype (F16 when it does not say)."""
    dtype = src.config.dtype
    if dtype == "auto" and src.config.use_half_precision:
        dtype = "float16"
    if dtype == "auto":
        try:
            cfg = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            cfg = {}
        dtype = str(cfg.get("dtype") or cfg.get("torch_dtype") or "float16")
    return {"float32": "F32", "bfloat16": "BF16"}.get(dtype, "F16")


def plan_gguf(src: Exportable, out: Path, target: str, gguf_type: str | None, name: str | None = None) -> tuple[Path, str | None, dict[str, str]]:  # fmt: skip
    """Where the GGUF comes from, checked before anything is written: (its path, the type
    to write it as, or None when the model's own GGUF is used as it is, what is not
    expressed)."""
    refuse_bitsandbytes(src, target)
    if gguf_type is not None and gguf_type not in GGUF_TYPES:
        raise ConfigurationError(f"gguf_type must be one of {', '.join(GGUF_TYPES)}, not {gguf_type!r}.")  # fmt: skip
    reasons: dict[str, str] = {}
    if src.gguf is not None:
        from ..gguf_info import read_gguf_info

        have = read_gguf_info(src.gguf).quantization
        if gguf_type is not None and gguf_type != have:
            reasons["gguf_type"] = (f"{target}: the model is a {have} GGUF already; to change its type run "
                                    f"`llama-quantize {src.gguf} out.{gguf_type}.gguf {gguf_type}`")  # fmt: skip
        if src.config.dtype != "auto":
            reasons["dtype"] = (
                f"{target}: the weights are a {have} GGUF; their type is not a runtime setting"
            )
        return src.gguf, None, reasons
    if src.folder is None:
        raise ConfigurationError(f"{src.key} has no files here to convert; download it first "
                                 f"(nbmodels.download({src.model_id!r})). Nothing was written.")  # fmt: skip
    check_convertible(src.folder)
    qtype = gguf_type or gguf_type_for(src, src.folder)
    return out / f"{name or src.short_name}.{qtype}.gguf", qtype, reasons


def llama_server_command(src: Exportable, gguf: Path, template_file: Path | None, alias: str) -> list[str]:  # fmt: skip
    cfg, s = src.config, sampling(src.config)
    cmd = ["llama-server", "-m", str(gguf), "-c", str(cfg.max_context_length or 0)]
    if template_file is not None:
        cmd += ["--jinja", "--chat-template-file", str(template_file)]
    cmd += ["--temp", _num(s["temperature"]), "--top-p", _num(s["top_p"]), "--top-k", str(s["top_k"]),
            "--repeat-penalty", _num(s["repetition_penalty"]), "-n", str(s["max_tokens"])]  # fmt: skip
    if s["seed"] is not None:
        cmd += ["--seed", str(s["seed"])]
    for stop in s["stop"]:
        cmd += ["-r", stop]
    if cfg.device_map == "cpu":
        cmd += ["-ngl", "0"]
    return [*cmd, "--alias", alias]


def _num(value: float) -> str:
    return repr(float(value))


def export_llamacpp(src: Exportable, out: Path, *, name: str | None = None, gguf_type: str | None = None) -> Export:  # fmt: skip
    """The GGUF, the model's Jinja chat template and the llama-server command line."""
    gguf, qtype, reasons = plan_gguf(src, out, "llama.cpp", gguf_type, name)  # refusals come first
    alias = name or src.short_name
    files: list[Path] = []
    notes = [f"configuration: {src.config_origin}"]
    if qtype is not None and src.folder is not None:
        write_llama_gguf(src.folder, gguf, qtype=qtype, name=alias,
                         chat_template=src.chat.template if src.chat else None)  # fmt: skip
        files.append(gguf)
    else:
        notes.append(f"-m: the model's own GGUF, as it is ({gguf})")
    template_file = None
    if src.chat is not None:
        template_file = out / "chat_template.jinja"
        atomic_write(template_file, src.chat.template.encode())
        files.append(template_file)
    else:
        reasons["chat_template"] = "llama.cpp: the model has no chat template; llama-server falls back to its own (chatml)"  # fmt: skip
    handled: list[str] = list(HANDLED)
    if src.config.device_map == "cpu":
        handled.append("device_map")
    if src.config.max_context_length is None:
        notes.append("-c 0: the context the model was trained for (max_context_length is not set)")
    if src.config.stop_sequences:
        notes.append("-r: a server-wide stop sequence in recent llama-server builds; older ones take `stop` per request only")  # fmt: skip
    return Export(target="llama.cpp", model=src.key, folder=out, files=tuple(files),
                  command=tuple(llama_server_command(src, gguf, template_file, alias)),
                  unsupported=unsupported(src.config, "llama.cpp", handled=handled, reasons=reasons),
                  notes=tuple(notes))  # fmt: skip
