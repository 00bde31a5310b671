"""What every export shares: the :class:`Export` record, a registered model read with its
stored configuration and chat template (:func:`resolve`), the sampling settings as engines
see them, and which settings a target cannot express (:func:`unsupported`).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GGUFError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelRegistryEntry, ModelSource
from .gotemplate import ChatTemplate, GoTemplate

if TYPE_CHECKING:  # pragma: no cover
    from ..storage.registry import Registry

__all__ = [
    "TARGETS",
    "Export",
    "Exportable",
    "chat_from_folder",
    "chat_from_gguf",
    "resolve",
    "sampling",
    "unsupported",
]

TARGETS = ("vllm", "llama.cpp", "ollama")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Export:
    """One model exported to a serving engine.

    ``command``: the command line that serves (vLLM, llama.cpp) or creates (Ollama) it;
    ``unsupported``: each setting of the configuration the target cannot express, and why;
    ``created``: the Ollama model made by ``create=True`` (None when not made, and
    ``create_error`` says why and what to run instead)."""

    target: str
    model: str  # the registry key
    folder: Path
    files: tuple[Path, ...]
    command: tuple[str, ...]
    unsupported: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    template: GoTemplate | None = None  # Ollama: the TEMPLATE's translation
    created: str | None = None
    create_error: str | None = None

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def __repr__(self) -> str:
        said = [f"{len(self.files)} files", f"{len(self.unsupported)} not expressed"]
        if self.created:
            said.append(f"created {self.created}")
        elif self.create_error:
            said.append("not created")
        return f"<Export {self.model} -> {self.target}: {', '.join(said)}>"

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(f"<li><code>{e(str(p))}</code></li>" for p in self.files)
        missing = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in self.unsupported.items())
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        state = ""
        if self.created:
            state = f"<p>Created in Ollama as <code>{e(self.created)}</code>.</p>"
        elif self.create_error:
            state = f"<p><b>Not created:</b> {e(self.create_error)}</p>"
        return (f"<div><b>{e(self.model)}</b> exported for <b>{e(self.target)}</b> to "
                f"<code>{e(str(self.folder))}</code>{state}<pre>{e(self.command_line)}</pre>"
                f"<p>Files:</p><ul>{rows}</ul>"
                + (f"<p>Not expressed by {e(self.target)}:</p><ul>{missing}</ul>" if missing else
                   f"<p>Every setting is expressed by {e(self.target)}.</p>")
                + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + "</div>")  # fmt: skip


@dataclass(frozen=True)
class Exportable:
    """A registered model as the exports need it: where its files are, how it is
    configured, its chat template."""

    key: str
    model_id: str
    source: ModelSource
    config: ModelConfiguration
    config_origin: str  # "given", "stored" (the home's YAML), "registry", "defaults"
    folder: Path | None = None  # a Hugging Face layout (config.json, safetensors, tokenizer)
    gguf: Path | None = None
    ollama_name: str | None = None
    repository: str | None = None  # the Hub repository
    commit: str | None = None  # the Hub commit of the files
    aliases: tuple[str, ...] = ()
    license: str | None = None
    chat: ChatTemplate | None = None
    context_length: int | None = None  # what the model was trained for

    @property
    def short_name(self) -> str:
        """A name for files and servers: the first alias, else the id's last part."""
        base = self.aliases[0] if self.aliases else self.model_id.rsplit("/", 1)[-1].split(":")[0]
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "model"


def _token(value: Any) -> str:
    """A tokenizer_config.json token: a string or an AddedToken dict."""
    if isinstance(value, Mapping):
        return str(value.get("content") or "")
    return str(value or "")


def chat_from_folder(folder: Path) -> ChatTemplate | None:
    """The chat template of a Hugging Face folder (``chat_template.jinja``, else
    tokenizer_config.json's ``chat_template``: the default one of a list), its special
    tokens, and whether the tokenizer adds BOS (``add_bos_token``, else tokenizer.json's
    post-processor)."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        config = {}
    template: Any = None
    if (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text()
    else:
        template = config.get("chat_template")
        if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, Mapping)}
            template = named.get("default") or next(iter(named.values()), None)
    if not isinstance(template, str) or not template.strip():
        return None
    add_bos = config.get("add_bos_token")
    if add_bos is None:
        try:
            post = json.loads((folder / "tokenizer.json").read_text()).get("post_processor") or {}
        except (OSError, ValueError):
            post = {}
        steps = post.get("processors", [post]) if post.get("type") == "Sequence" else [post]
        single = next(
            (s.get("single") for s in steps if s.get("type") == "TemplateProcessing"), None
        )
        add_bos = bool(single) and "SpecialToken" in single[0] if single is not None else None
    tokens = {k: _token(config[k]) for k in ("unk_token", "pad_token") if config.get(k)}
    return ChatTemplate(template, bos_token=_token(config.get("bos_token")),
                        eos_token=_token(config.get("eos_token")), add_bos_token=add_bos, tokens=tokens)  # fmt: skip


def chat_from_gguf(path: Path) -> ChatTemplate | None:
    """The chat template in a GGUF header, with the BOS/EOS token texts it uses (read from
    the vocabulary only then) and ``tokenizer.ggml.add_bos_token``."""
    from ..gguf_info import read_gguf_info

    info = read_gguf_info(path)
    if not info.chat_template:
        return None
    meta = info.metadata
    bos = eos = ""
    if "bos_token" in info.chat_template or "eos_token" in info.chat_template:
        import gguf

        reader = gguf.GGUFReader(path)  # the vocabulary: slow for large ones, hence only here
        tokens = reader.fields.get("tokenizer.ggml.tokens")

        def text(key: str) -> str:
            index = meta.get(key)
            if tokens is None or not isinstance(index, int) or index >= len(tokens.data):
                return ""
            return bytes(tokens.parts[tokens.data[index]]).decode("utf-8", "replace")

        bos, eos = text("tokenizer.ggml.bos_token_id"), text("tokenizer.ggml.eos_token_id")
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    return ChatTemplate(info.chat_template, bos_token=bos, eos_token=eos,
                        add_bos_token=bool(add_bos) if add_bos is not None else None)  # fmt: skip


def _registry(registry: Registry | None, settings: Settings | None) -> Registry:
    from ..storage.registry import Registry, default_registry

    if registry is not None:
        return registry
    return Registry(settings=settings) if settings is not None else default_registry()


def resolve(
    model: str | ModelRegistryEntry,
    *,
    registry: Registry | None = None,
    settings: Settings | None = None,
    config: ModelConfiguration | None = None,
) -> Exportable:
    """``model`` (a registry reference: id, key or ``@alias``; or an entry) with its
    configuration (``config``, else the stored one, else the registry's, else the defaults)
    and its files: a Hugging Face folder (its ``local_path``, or the HF cache's snapshot of
    its commit), a GGUF file, or a model in the Ollama store."""
    from ..config.configuration import get_configuration
    from ..storage.ollama_store import OllamaStore

    reg = _registry(registry, settings)
    settings = settings or reg.settings or default_settings()
    entry = reg.get(model) if isinstance(model, str) else model
    meta = entry.metadata
    aliases = tuple(sorted(a for a, key in reg.aliases().items() if key == meta.key))
    origin = "given"
    if config is None:
        stored = get_configuration(meta.id, settings)
        config, origin = (
            (stored, "stored") if stored is not None else (entry.configuration, "registry")
        )
    if config is None:
        config, origin = ModelConfiguration(model_id=meta.id), "defaults"
    path = Path(meta.local_path) if meta.local_path else None
    folder = path if path is not None and (path / "config.json").is_file() else None
    gguf = path if path is not None and path.is_file() and _is_gguf(path) else None
    commit = meta.version if meta.version and _HEX40.match(meta.version) else None
    if commit is None and path is not None and path.parent.name == "snapshots" and _HEX40.match(path.name):  # fmt: skip
        commit = path.name
    repository = meta.id if meta.source is ModelSource.HUGGING_FACE else None
    if folder is None and gguf is None and repository and commit:  # the HF cache's snapshot
        snap = Path(settings.hf_cache) / ("models--" + repository.replace("/", "--")) / "snapshots" / commit  # fmt: skip
        folder = snap if (snap / "config.json").is_file() else None
    ollama_name = None
    if (
        meta.source is ModelSource.OLLAMA
        or meta.extra.get("origin") == "ollama"
        or "ollama" in meta.tags
    ):
        try:
            stored_model = OllamaStore(settings.ollama_models).get(meta.id)
        except Exception:  # ModelNotFoundError, InvalidModelIdError: not in this store
            stored_model = None
        if stored_model is not None:
            ollama_name = stored_model.name
            gguf = stored_model.model_blob if stored_model.model_blob and stored_model.model_blob.is_file() else gguf  # fmt: skip
    chat = chat_from_folder(folder) if folder is not None else None
    context = None
    if chat is None and gguf is not None:
        try:
            chat = chat_from_gguf(gguf)
        except (GGUFError, OSError, ValueError):
            chat = None
    if folder is not None:
        try:
            cfg_json = json.loads((folder / "config.json").read_text())
            context = cfg_json.get("max_position_embeddings")
        except (OSError, ValueError):
            pass
    elif gguf is not None:
        try:
            from ..gguf_info import read_gguf_info

            context = read_gguf_info(gguf).context_length
        except (GGUFError, OSError):
            pass
    return Exportable(key=meta.key, model_id=meta.id, source=meta.source, config=config, config_origin=origin,
                      folder=folder, gguf=gguf, ollama_name=ollama_name, repository=repository, commit=commit,
                      aliases=aliases, license=meta.license, chat=chat,
                      context_length=int(context) if isinstance(context, int) else None)  # fmt: skip


def _is_gguf(path: Path) -> bool:
    from ..gguf_info import is_gguf

    return is_gguf(path)


def sampling(cfg: ModelConfiguration) -> dict[str, Any]:
    """The generation settings engines share: temperature (0 for greedy decoding), top_p,
    top_k, repetition_penalty, max_tokens, seed, stop."""
    sample = cfg.do_sample if cfg.do_sample is not None else cfg.temperature > 0
    return {
        "temperature": float(cfg.temperature) if sample else 0.0,
        "top_p": float(cfg.top_p),
        "top_k": int(cfg.top_k),
        "repetition_penalty": float(cfg.repetition_penalty),
        "max_tokens": int(cfg.max_tokens),
        "seed": cfg.seed,
        "stop": tuple(cfg.stop_sequences),
    }


_DEFAULTS = ModelConfiguration(model_id="")
#: fields that are not serving settings (what the model is, how nbmodels chose)
_NOT_SETTINGS = frozenset({"model_id", "model_type", "enabled_tasks", "custom_settings",
                           "use_quantization", "quantization_type", "use_half_precision"})  # fmt: skip
_WHY = {
    "system_prompt": "no server-wide system prompt: send it as the first message of each chat",
    "user_prompt": "no prompt prefix setting: put it in the messages",
    "assistant_prompt": "no prompt prefix setting: put it in the messages",
    "num_beams": "no beam search setting (sampling or greedy decoding only)",
    "stop_sequences": "stop sequences are sent with each request (the API's `stop`)",
    "enable_caching": "the engine always keeps a KV cache",
    "enable_streaming": "streaming is chosen by each request (`stream`)",
    "attn_implementation": "the engine chooses its own attention kernels",
    "device_map": "no device map: the engine places the model itself",
    "double_quant": "bitsandbytes' double quantization is not a setting here",
    "compute_dtype": "bitsandbytes' compute dtype is not a setting here",
    "trust_remote_code": "no model code runs in this engine",
    "parameters": "free-form parameters are not exported",
    "safetensors_only": "weights are read in this engine's own format",
    "seed": "no seed setting",
    "repetition_penalty": "no repetition penalty setting",
}


def unsupported(cfg: ModelConfiguration, target: str, *, handled: Iterable[str], reasons: Mapping[str, str] = {}) -> dict[str, str]:  # fmt: skip
    """Each setting of ``cfg`` away from its default that ``target`` does not express
    (``handled`` are those it does), with why; ``reasons`` first (the target's own)."""
    done = set(handled)
    out = dict(reasons)
    for f in dataclasses.fields(cfg):
        name = f.name
        if name in done or name in out or name in _NOT_SETTINGS:
            continue
        if getattr(cfg, name) != getattr(_DEFAULTS, name):
            out[name] = f"{target}: {_WHY.get(name, 'not a setting of this engine')}"
    return out
