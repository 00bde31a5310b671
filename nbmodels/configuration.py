"""How a model is to be run: validation with suggestions, the transformers objects a
configuration stands for, and configurations kept as YAML a person can read and diff.

    >>> cfg = ModelConfiguration("org/name", temperature=0.2, quantization="nf4")
    >>> validate(cfg).ok, validate(cfg).errors
    >>> generation_config(cfg)          # a transformers.GenerationConfig
    >>> quantization_config(cfg)        # a transformers.BitsAndBytesConfig (or None)
    >>> save_configuration(cfg, "chat.yaml"); load_configuration("chat.yaml") == cfg

The seed's ``use_quantization``/``quantization_type`` are read when ``quantization`` is left
at ``"none"``. Templates, auto-configuration, optimisation and the memory estimate come next
(issue "Configuration"); this module is ``configuration``, not ``configure``: a submodule
named like the coming function ``nbmodels.configure`` would replace it on the package.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, TemplateWarning
from .files import atomic_write
from .settings import Settings, default_settings
from .types import (
    ModelConfigTemplate,
    ModelConfiguration,
    ModelMetadata,
    ModelSource,
    ModelType,
    SupportedTask,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "DTYPES",
    "GOALS",
    "QUANTIZATIONS",
    "Issue",
    "Validation",
    "auto_configure",
    "choose_template",
    "configuration_path",
    "configurations_folder",
    "configure",
    "effective_quantization",
    "from_template",
    "generation_config",
    "get_configuration",
    "load_configuration",
    "optimize",
    "quantization_config",
    "recommendations",
    "save_configuration",
    "save_template",
    "stored_configurations",
    "templates",
    "templates_folder",
    "update_configuration",
    "validate",
]

DTYPES = ("auto", "float32", "float16", "bfloat16")
QUANTIZATIONS = ("none", "8bit", "nf4", "fp4")
_SEED_QUANT = {
    "8bit": "8bit",
    "int8": "8bit",
    "4bit": "nf4",
    "nf4": "nf4",
    "fp4": "fp4",
    "int4": "nf4",
}
_ATTENTION = ("eager", "sdpa", "flash_attention_2", "flex_attention")
#: the True/False fields (``do_sample`` may be None too)
_SWITCHES = (
    "enable_streaming",
    "enable_caching",
    "use_half_precision",
    "use_quantization",
    "do_sample",
    "double_quant",
    "trust_remote_code",
    "safetensors_only",
)


@dataclass(frozen=True)
class Issue:
    """One problem with a configuration: which field, what is wrong, what to do."""

    field: str
    message: str
    suggestion: str
    #: a value of the wrong type or not one of the choices (``configure`` refuses these at
    #: once; a number out of range waits for ``validate``)
    wrong_type: bool = dataclasses.field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.suggestion})"


@dataclass(frozen=True)
class Validation:
    """What :func:`validate` found: ``errors`` stop a load, ``warnings`` are risks to know."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """ConfigurationError listing every error with its suggestion (nothing when ok)."""
        if self.errors:
            raise ConfigurationError(
                "The configuration is not valid: " + "; ".join(str(e) for e in self.errors) + "."
            )

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.errors)} errors"
        return f"<Validation {state}, {len(self.warnings)} warnings>"


def effective_quantization(cfg: ModelConfiguration) -> str:
    """``cfg.quantization``, or the seed's ``use_quantization``/``quantization_type``."""
    if cfg.quantization != "none" or not cfg.use_quantization:
        return cfg.quantization
    return _SEED_QUANT.get(str(cfg.quantization_type or "nf4").lower(), str(cfg.quantization_type))


def validate(cfg: ModelConfiguration) -> Validation:
    """Every error (with a suggestion) and risky setting in ``cfg``; never raises for bad
    values, only reports them."""
    errors: list[Issue] = []
    warnings: list[Issue] = []

    def number(
        name: str, low: float | None, high: float | None, hint: str, *, integer: bool = False
    ) -> None:
        value = getattr(cfg, name)
        kinds = (int,) if integer else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            errors.append(Issue(name, f"{value!r} is not a number", hint, wrong_type=True))
        elif (low is not None and value < low) or (high is not None and value > high):
            errors.append(Issue(name, f"{value!r} is out of range", hint))

    number("temperature", 0.0, 5.0, "use 0 for greedy decoding, 0.7 for chat, at most about 2")
    number("top_p", 0.0, 1.0, "use a value in (0, 1], e.g. 0.9; 1.0 turns it off")
    if isinstance(cfg.top_p, int | float) and not isinstance(cfg.top_p, bool) and cfg.top_p == 0:
        errors.append(Issue("top_p", "0 keeps no token at all", "use a value in (0, 1], e.g. 0.9"))
    number("top_k", 0, None, "use 0 to turn it off, or e.g. 50", integer=True)
    number("repetition_penalty", 0.0, None, "use 1.0 for none, 1.1 to discourage repeats")
    if isinstance(cfg.repetition_penalty, int | float) and cfg.repetition_penalty == 0:
        errors.append(Issue("repetition_penalty", "0 divides by zero", "use 1.0 for none"))
    number("num_beams", 1, None, "use 1 (no beam search) or a small number such as 4", integer=True)
    number(
        "max_tokens", 1, None, "use the number of new tokens to generate, e.g. 256", integer=True
    )
    if cfg.max_context_length is not None:
        number(
            "max_context_length", 1, None, "use the model's context length, or None", integer=True
        )
        if (
            isinstance(cfg.max_tokens, int)
            and isinstance(cfg.max_context_length, int)
            and cfg.max_tokens > cfg.max_context_length
        ):
            errors.append(
                Issue(
                    "max_tokens",
                    f"{cfg.max_tokens} new tokens do not fit a context of {cfg.max_context_length}",
                    f"use at most {cfg.max_context_length} minus the prompt's length",
                )
            )
    if cfg.seed is not None and (
        isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0
    ):
        wrong = isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int)
        errors.append(
            Issue("seed", f"{cfg.seed!r} is not a non-negative integer", "use e.g. 0, or None",
                  wrong_type=wrong)
        )  # fmt: skip
    for name in _SWITCHES:
        value = getattr(cfg, name)
        if not isinstance(value, bool) and not (name == "do_sample" and value is None):
            hint = "use True, False or None" if name == "do_sample" else "use True or False"
            errors.append(Issue(name, f"{value!r} is not True or False", hint, wrong_type=True))
    if cfg.enable_streaming and isinstance(cfg.num_beams, int) and cfg.num_beams > 1:
        errors.append(
            Issue(
                "num_beams",
                "streaming cannot follow beam search (the best beam is known only at the end)",
                "set num_beams=1, or enable_streaming=False",
            )
        )
    if (
        cfg.do_sample is False
        and isinstance(cfg.temperature, int | float)
        and cfg.temperature not in (0, 1.0)
    ):
        warnings.append(
            Issue(
                "temperature",
                "is ignored without sampling",
                "set do_sample=True or leave temperature",
            )
        )
    for name, allowed in (("dtype", DTYPES), ("compute_dtype", (None, *DTYPES[1:]))):
        value = getattr(cfg, name)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), [str(a) for a in allowed if a], n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"use one of {', '.join(map(str, allowed))}"
            )
            errors.append(Issue(name, f"{value!r} is not a dtype", hint, wrong_type=True))
    quant = effective_quantization(cfg)
    if quant not in QUANTIZATIONS:
        errors.append(
            Issue(
                "quantization",
                f"{quant!r} is not known",
                f"use one of {', '.join(QUANTIZATIONS)}",
                wrong_type=True,
            )
        )
    elif quant != "none" and importlib.util.find_spec("bitsandbytes") is None:
        errors.append(
            Issue(
                "quantization",
                f"{quant} needs bitsandbytes, which is not installed",
                "pip install bitsandbytes, or quantization='none'",
            )
        )
    if cfg.double_quant and quant not in ("nf4", "fp4"):
        errors.append(
            Issue(
                "double_quant",
                "applies to 4-bit only",
                "set quantization='nf4', or double_quant=False",
            )
        )
    if cfg.attn_implementation is not None and cfg.attn_implementation not in _ATTENTION:
        errors.append(
            Issue(
                "attn_implementation",
                f"{cfg.attn_implementation!r} is not known",
                f"use one of {', '.join(_ATTENTION)}, or None",
                wrong_type=True,
            )
        )
    if cfg.trust_remote_code:
        warnings.append(
            Issue(
                "trust_remote_code",
                "runs Python code from the model's repository on this machine",
                "keep it False unless you have read that code",
            )
        )
    if not cfg.safetensors_only:
        warnings.append(
            Issue(
                "safetensors_only",
                "allows pickle (.bin) weights, which can run code when loaded",
                "keep it True; most models ship safetensors",
            )
        )
    if not isinstance(cfg.stop_sequences, tuple | list) or not all(
        isinstance(s, str) and s for s in cfg.stop_sequences
    ):
        errors.append(
            Issue(
                "stop_sequences",
                "must be a list of non-empty strings",
                'use e.g. ["</s>"]',
                wrong_type=True,
            )
        )
    return Validation(tuple(errors), tuple(warnings))


def _refuse_wrong_types(cfg: ModelConfiguration, fields: Iterable[str] | None = None) -> None:
    """ConfigurationError for each value of ``cfg`` (of ``fields``, when given) that has the
    wrong type or is not one of the choices, with :func:`validate`'s suggestion. Numbers out
    of range are left to ``validate``."""
    names = None if fields is None else set(fields)
    if names is not None and names & {"use_quantization", "quantization_type"}:
        names.add("quantization")  # the seed's fields make the effective quantization too
    wrong = [
        issue
        for issue in validate(cfg).errors
        if issue.wrong_type and (names is None or issue.field in names)
    ]
    if wrong:
        raise ConfigurationError("Not a usable value: " + "; ".join(str(i) for i in wrong) + ".")


def generation_config(cfg: ModelConfiguration) -> Any:
    """The ``transformers.GenerationConfig`` for ``cfg`` (validated first)."""
    validate(cfg).raise_for_errors()
    from transformers import GenerationConfig

    sample = cfg.do_sample if cfg.do_sample is not None else cfg.temperature > 0
    options: dict[str, Any] = {
        "max_new_tokens": cfg.max_tokens,
        "do_sample": sample,
        "num_beams": cfg.num_beams,
        "repetition_penalty": cfg.repetition_penalty,
    }
    if sample:  # transformers warns about sampling options on greedy decoding
        options |= {"temperature": cfg.temperature, "top_p": cfg.top_p, "top_k": cfg.top_k}
    if cfg.stop_sequences:
        options["stop_strings"] = list(cfg.stop_sequences)
    return GenerationConfig(**options)


def quantization_config(cfg: ModelConfiguration) -> Any:
    """The ``transformers.BitsAndBytesConfig`` for ``cfg``, or None without quantization."""
    validate(cfg).raise_for_errors()
    quant = effective_quantization(cfg)
    if quant == "none":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant,
        bnb_4bit_use_double_quant=cfg.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, cfg.compute_dtype or "bfloat16"),
    )


# -- YAML ----------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, ModelType | SupportedTask):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def configuration_dict(cfg: ModelConfiguration) -> dict[str, Any]:
    """``cfg`` as plain data (every field, in the record's order), for YAML or JSON;
    :func:`_configuration_from` reads it back."""
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def _yaml_text(cfg: ModelConfiguration) -> str:
    import yaml

    return str(yaml.safe_dump(configuration_dict(cfg), sort_keys=False, allow_unicode=True))


def save_configuration(
    cfg: ModelConfiguration, path: str | Path | None = None, *, settings: Settings | None = None
) -> Path:
    """Write ``cfg`` as YAML (every field, in the record's order), atomically: to ``path``,
    or with no path to the model's file in the configurations folder
    (:func:`configuration_path`), where :func:`get_configuration` finds it again."""
    text = _yaml_text(cfg)
    if path is None:
        if not cfg.model_id:
            raise ConfigurationError("A configuration without model_id cannot be stored per model: set model_id.")  # fmt: skip
        target = configuration_path(cfg.model_id, settings)
        with _store_lock(target):
            atomic_write(target, text.encode())
        _note_in_registry(cfg, settings)
        return target
    target = Path(path)
    atomic_write(target, text.encode())
    return target


# -- one YAML file per model, shared by every kernel on this home ---------------------------------
def configurations_folder(settings: Settings | None = None) -> Path:
    """Where each model's configuration is kept: ``$NBMODELS_HOME/configs/*.yaml``."""
    return (settings or default_settings()).home / "configs"


def configuration_path(model_id: str, settings: Settings | None = None) -> Path:
    """The YAML file of ``model_id``'s configuration (``org/name`` -> ``org--name.yaml``;
    other characters a file name cannot hold are %-escaped, so two ids never share a file)."""
    import urllib.parse

    name = urllib.parse.quote(model_id.replace("--", "%2D%2D"), safe="").replace("%2F", "--")
    return configurations_folder(settings) / f"{name}.yaml"


def _store_lock(target: Path) -> Any:
    """A lock file beside ``target``: several kernels update one model's file in turn (a read,
    a change and a write), so neither loses the other's change. filelock is what
    huggingface_hub locks its cache with; a holder that stays too long gets a clear error."""
    import filelock

    from .files import ensure_dir

    ensure_dir(target.parent)
    return filelock.FileLock(str(target) + ".lock", timeout=30)


def get_configuration(model_id: str, settings: Settings | None = None) -> ModelConfiguration | None:
    """The stored configuration of ``model_id`` (see :func:`save_configuration`), or None."""
    path = configuration_path(model_id, settings)
    return load_configuration(path) if path.exists() else None


def update_configuration(
    model_id: str, *, settings: Settings | None = None, **changes: Any
) -> ModelConfiguration:
    """Change some fields of ``model_id``'s stored configuration (made with
    :func:`configure` first when there is none), validate, store and return it.

    Invalid changes raise :class:`~nbmodels.errors.ConfigurationError` and store nothing.
    The read and write happen under a lock: two kernels updating at once both land."""
    names = {f.name for f in dataclasses.fields(ModelConfiguration)}
    unknown = [k for k in changes if k not in names]
    if unknown:
        raise ConfigurationError(f"Unknown configuration field(s): {', '.join(_hint(unknown, names))}.")  # fmt: skip
    target = configuration_path(model_id, settings)
    import filelock

    try:
        with _store_lock(target):
            current = get_configuration(model_id, settings)
            if current is None:
                current = configure(model_id, settings=settings)
            updated = dataclasses.replace(current, **changes)
            validate(updated).raise_for_errors()
            atomic_write(target, _yaml_text(updated).encode())
        _note_in_registry(updated, settings)
    except filelock.Timeout:
        raise ConfigurationError(
            f"{target} is locked by another process for more than 30 s; "
            f"if no kernel is updating {model_id!r}, delete {target}.lock."
        ) from None
    return updated


def _note_in_registry(cfg: ModelConfiguration, settings: Settings | None) -> None:
    """A stored configuration is the registry's too, for a model registered there (one not
    registered is not added: an id alone says too little of it)."""
    from .errors import ModelNotFoundError, NBModelsError, RegistryWarning
    from .modelregistry import Registry

    try:
        Registry(settings=settings or default_settings()).set_configuration(cfg.model_id, cfg)
    except ModelNotFoundError:
        pass
    except NBModelsError as exc:
        import warnings

        warnings.warn(f"The configuration is saved; the registry could not record it: {exc}", RegistryWarning, stacklevel=3)  # fmt: skip


def stored_configurations(settings: Settings | None = None) -> list[str]:
    """The model ids with a stored configuration."""
    folder = configurations_folder(settings)
    ids = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
        try:
            ids.append(load_configuration(path).model_id)
        except ConfigurationError as exc:
            import warnings

            warnings.warn(f"{path} is skipped: {exc}", TemplateWarning, stacklevel=2)
    return ids


def _hint(unknown: list[str], names: set[str]) -> list[str]:
    return [
        f"{k!r}" + (f" (did you mean {c[0]!r}?)" if (c := difflib.get_close_matches(k, names, n=1)) else "")
        for k in unknown
    ]  # fmt: skip


def load_configuration(path: str | Path) -> ModelConfiguration:
    """A configuration from YAML; unknown keys are an error naming the closest field."""
    import yaml

    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"Cannot read the configuration {source}: {exc}") from None
    if not isinstance(data, dict) or "model_id" not in data:
        raise ConfigurationError(f"{source} is not a configuration: it needs at least model_id.")
    return _configuration_from(data, source)


def _configuration_from(data: dict[str, Any], source: Path) -> ModelConfiguration:
    names = [f.name for f in dataclasses.fields(ModelConfiguration)]
    unknown = [k for k in data if k not in names]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), names, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigurationError(f"{source}: unknown field(s) {', '.join(hints)}.")
    values = dict(data)
    if values.get("model_type") is not None:
        values["model_type"] = ModelType.parse(values["model_type"])
    values["enabled_tasks"] = tuple(
        SupportedTask.parse(t) for t in values.get("enabled_tasks") or ()
    )
    values["stop_sequences"] = tuple(values.get("stop_sequences") or ())
    return ModelConfiguration(**values)


# -- templates ------------------------------------------------------------------------------------
def _template(
    template_id: str,
    name: str,
    description: str,
    model_type: ModelType,
    tasks: tuple[SupportedTask, ...],
    **settings: Any,
) -> ModelConfigTemplate:
    config = ModelConfiguration("", model_type=model_type, enabled_tasks=tasks, **settings)
    return ModelConfigTemplate(template_id, name, description, model_type, tasks, config)


_T = SupportedTask
#: the seed's interface, knowledge and embedding templates, and the others users ask for
BUILTIN_TEMPLATES: dict[str, ModelConfigTemplate] = {
    t.template_id: t
    for t in (
        _template(
            "interface",
            "Chat assistant",
            "Conversations with a person: streaming, moderate sampling, a system prompt.",
            ModelType.INTERFACE_MODEL,
            (_T.CHAT, _T.TEXT_GENERATION),
            system_prompt="You are a helpful assistant.",
            temperature=0.7,
            top_p=0.9,
            max_tokens=512,
        ),
        _template(
            "knowledge",
            "Answers from documents (RAG, question answering)",
            "Factual answers from given context: low temperature, the context in the prompt.",
            ModelType.KNOWLEDGE_MODEL,
            (_T.QUESTION_ANSWERING, _T.RAG, _T.TEXT_GENERATION),
            system_prompt="Answer from the context given. Say when the context does not tell.",
            temperature=0.2,
            top_p=0.9,
            max_tokens=512,
            repetition_penalty=1.05,
        ),
        _template(
            "embedding",
            "Embeddings for search",
            "Vectors for semantic search and clustering: no generation, no streaming.",
            ModelType.EMBEDDING_MODEL,
            (_T.EMBEDDING,),
            enable_streaming=False,
            temperature=0.0,
            max_tokens=1,
        ),
        _template(
            "multimodal",
            "Images and text",
            "Describe or reason about images with text: moderate sampling, streaming.",
            ModelType.MULTIMODAL_MODEL,
            (_T.MULTIMODAL_REASONING, _T.IMAGE_CAPTIONING),
            temperature=0.5,
            max_tokens=512,
        ),
        _template(
            "code",
            "Code generation and completion",
            "Code: near-greedy decoding, long outputs.",
            ModelType.SPECIALIZED_MODEL,
            (_T.CODE_GENERATION, _T.CODE_COMPLETION),
            temperature=0.2,
            top_p=0.95,
            max_tokens=1024,
        ),
        _template(
            "summarization",
            "Summaries",
            "Shorter versions of a text: low temperature, a repeat penalty.",
            ModelType.KNOWLEDGE_MODEL,
            (_T.SUMMARIZATION,),
            temperature=0.3,
            max_tokens=256,
            repetition_penalty=1.1,
        ),
        _template(
            "translation",
            "Translation",
            "Text from one language to another: greedy decoding.",
            ModelType.SPECIALIZED_MODEL,
            (_T.TRANSLATION,),
            temperature=0.0,
            max_tokens=512,
        ),
        _template(
            "classification",
            "Classification",
            "Labels for texts: no generation, no streaming.",
            ModelType.SPECIALIZED_MODEL,
            (_T.TEXT_CLASSIFICATION,),
            enable_streaming=False,
            temperature=0.0,
            max_tokens=1,
        ),
    )
}


def templates_folder(settings: Settings | None = None) -> Path:
    """Where users keep their own templates: ``$NBMODELS_HOME/templates/*.yaml``."""
    return (settings or default_settings()).home / "templates"


def templates(settings: Settings | None = None) -> list[ModelConfigTemplate]:
    """Every template: the built-in ones, then the user's YAML files (a file that cannot be
    read is skipped with a :class:`~nbmodels.errors.TemplateWarning` naming it)."""
    import warnings

    import yaml

    found = dict(BUILTIN_TEMPLATES)
    folder = templates_folder(settings)
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
        try:
            data = yaml.safe_load(path.read_text())
            if not isinstance(data, dict):
                raise ConfigurationError("not a mapping")
            defaults = dict(data.get("defaults") or {})
            config = _configuration_from(dict(defaults, model_id=""), path)
            template = ModelConfigTemplate(
                template_id=str(data.get("id") or path.stem),
                name=str(data.get("name") or path.stem),
                description=str(data.get("description") or ""),
                model_type=config.model_type or ModelType.INTERFACE_MODEL,
                supported_tasks=config.enabled_tasks,
                default_config=config,
            )
        except (OSError, yaml.YAMLError, ConfigurationError, TypeError, ValueError) as exc:
            warnings.warn(
                f"Template {path} is skipped: {exc}. Fix it (id, name, description, defaults: "
                "{field: value}) or remove it.",
                TemplateWarning,
                stacklevel=2,
            )
            continue
        found[template.template_id] = template  # a user's template may replace a built-in one
    return list(found.values())


def from_template(
    template_id: str, model_id: str, *, settings: Settings | None = None, **overrides: Any
) -> ModelConfiguration:
    """A configuration for ``model_id`` from a template (built-in or the user's), with
    ``overrides`` on top; a copy, so changing it leaves the template as it was."""
    import copy

    by_id = {t.template_id: t for t in templates(settings)}
    if template_id not in by_id:
        close = difflib.get_close_matches(template_id, list(by_id), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"No template {template_id!r}.{hint} Templates: {', '.join(by_id)}."
        )
    names = {f.name for f in dataclasses.fields(ModelConfiguration)}
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise ConfigurationError(f"Unknown configuration field(s): {', '.join(unknown)}.")
    base = copy.deepcopy(by_id[template_id].default_config)
    return dataclasses.replace(base, model_id=model_id, **overrides)


def save_template(template: ModelConfigTemplate, settings: Settings | None = None) -> Path:
    """Write a template into the user's templates folder as YAML."""
    import yaml

    config = template.default_config
    defaults = {
        f.name: _plain(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if f.name != "model_id"
    }
    text = yaml.safe_dump(
        {
            "id": template.template_id,
            "name": template.name,
            "description": template.description,
            "defaults": defaults,
        },
        sort_keys=False,
        allow_unicode=True,
    )
    path = templates_folder(settings) / f"{template.template_id}.yaml"
    atomic_write(path, text.encode())
    return path


# -- auto-configuration -------------------------------------------------------------------------
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "seq_length", "max_seq_len", "n_ctx")
_DTYPE_NAMES = {
    "float32": "float32",
    "float16": "float16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "bf16": "bfloat16",
}


def choose_template(tasks: tuple[SupportedTask, ...], model_type: ModelType | None) -> str:
    """The built-in template that suits a model with these tasks (most important first)."""
    primary = tasks[0] if tasks else None
    if model_type is ModelType.EMBEDDING_MODEL or primary is SupportedTask.EMBEDDING:
        return "embedding"
    if primary is SupportedTask.TEXT_CLASSIFICATION:
        return "classification"
    if model_type is ModelType.MULTIMODAL_MODEL or primary is SupportedTask.MULTIMODAL_REASONING:
        return "multimodal"
    if primary in (SupportedTask.CODE_GENERATION, SupportedTask.CODE_COMPLETION):
        return "code"
    if primary is SupportedTask.TRANSLATION:
        return "translation"
    if primary is SupportedTask.SUMMARIZATION:
        return "summarization"
    if primary in (SupportedTask.QUESTION_ANSWERING, SupportedTask.RAG):
        return "knowledge"
    return "interface"


def auto_configure(
    model: ModelMetadata | str | Path, *, settings: Settings | None = None
) -> ModelConfiguration:
    """A configuration from what the model says of itself: its tasks and type (detected from
    its metadata), and, where its files are on disk, ``config.json`` (context length, dtype)
    and ``generation_config.json`` (the sampling its authors chose); GGUF and Ollama records
    give their context length. Each choice is explained in ``custom_settings["reasons"]``.

    ``model`` is a :class:`ModelMetadata` (``model_info``'s answer) or a model folder."""
    import json

    reasons: list[str] = []
    if isinstance(model, ModelMetadata):
        meta: ModelMetadata | None = model
        folder = Path(model.local_path) if model.local_path else None
        model_id = model.id
        if folder is None and model.source is ModelSource.HUGGING_FACE:
            folder = _hub_config_files(model, settings or default_settings(), reasons)
    else:
        meta, folder, model_id = None, Path(model), Path(model).name
    config: dict[str, Any] = {}
    generation: dict[str, Any] = {}
    if folder is not None and folder.is_dir():
        for name, target in (("config.json", config), ("generation_config.json", generation)):
            try:
                data = json.loads((folder / name).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                target.update(data)
    tasks = meta.tasks if meta is not None else ()
    model_type = meta.model_type if meta is not None else None
    if not tasks and config:
        from .tasks import classify_model_type, detect_tasks

        archs = config.get("architectures") or ()
        has_template = (folder / "chat_template.jinja").is_file() if folder else None
        tasks = detect_tasks(architectures=archs, name=model_id, chat_template=has_template or None)
        model_type = classify_model_type(tasks, name=model_id)
        reasons.append(
            f"tasks {', '.join(t.value for t in tasks) or 'unknown'} from config.json's architectures"
        )
    template_id = choose_template(tuple(tasks), model_type)
    reasons.append(
        f"template {template_id!r} for {', '.join(t.value for t in tasks[:2]) or 'a model of unknown task'}"
    )
    changes: dict[str, Any] = {}
    context = next((config[k] for k in _CONTEXT_KEYS if isinstance(config.get(k), int)), None)
    if context is not None:
        changes["max_context_length"] = context
        key = next(k for k in _CONTEXT_KEYS if config.get(k) == context)
        reasons.append(f"context {context} from config.json {key}")
    elif meta is not None and isinstance(meta.extra.get("context_length"), int):
        changes["max_context_length"] = meta.extra["context_length"]
        reasons.append(
            f"context {meta.extra['context_length']} from the model's GGUF/Ollama record"
        )
    dtype = _DTYPE_NAMES.get(str(config.get("dtype") or config.get("torch_dtype") or ""))
    if dtype:
        changes["dtype"] = dtype
        reasons.append(f"dtype {dtype}, as the checkpoint is stored")
    for key, field_name in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("repetition_penalty", "repetition_penalty"),
        ("do_sample", "do_sample"),
    ):
        value = generation.get(key)
        if value is not None and not isinstance(value, dict | list):
            changes[field_name] = value
            reasons.append(f"{field_name}={value!r} from generation_config.json")
    limit = changes.get("max_context_length")
    base = from_template(template_id, model_id, settings=settings)
    if isinstance(limit, int) and base.max_tokens > limit:
        changes["max_tokens"] = max(1, limit // 2)
        reasons.append(f"max_tokens {changes['max_tokens']}: half the {limit}-token context")
    if changes.get("do_sample") is False and "temperature" not in changes:
        changes["temperature"] = 0.0  # greedy, as the model's authors set it
    custom = dict(base.custom_settings, reasons=reasons)
    widths = [
        v for k in ("hidden_size", "intermediate_size") if isinstance(v := config.get(k), int)
    ]
    if widths:  # optimize() needs it: bitsandbytes' 4-bit kernels want rows of 64 or more
        custom["layer_width"] = min(widths)
    return dataclasses.replace(base, custom_settings=custom, **changes)


def _hub_config_files(meta: ModelMetadata, settings: Settings, reasons: list[str]) -> Path | None:
    """The model's config.json and generation_config.json from the Hub (a few kB, into the
    HF cache as transformers would fetch them); None, with the reason said, when unreachable."""
    from .errors import NBModelsError
    from .sources.huggingface import fetch_small_files

    try:
        folder = fetch_small_files(
            meta.id, ["config.json", "generation_config.json"], settings=settings,
            revision=meta.version, required=None,
        )  # fmt: skip
    except NBModelsError as exc:
        reasons.append(f"config.json not read ({exc}): from the Hub's record alone")
        return None
    if folder is not None:
        reasons.append("config.json and generation_config.json read from the Hub (no weights)")
    return folder


# -- optimisation and the one entry point ---------------------------------------------------------
GOALS = ("speed", "memory", "quality")


def _cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX / AVX512-BF16): without it bf16 matmuls
    are emulated and slower than fp32 (measured here: bf16 prefill 2.7x slower)."""
    try:
        import torch

        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:
        return False


def optimize(cfg: ModelConfiguration, goal: str, *, hardware: Any = None) -> ModelConfiguration:
    """``cfg`` tuned for ``"speed"``, ``"memory"`` or ``"quality"`` on the hardware actually
    present; each choice explained in one sentence in ``custom_settings["reasons"]``."""
    if goal not in GOALS:
        close = difflib.get_close_matches(str(goal), GOALS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"No optimisation goal {goal!r}.{hint} Use one of {', '.join(GOALS)}."
        )
    from .machine import hardware as read_hardware

    hw = hardware or read_hardware()
    gpu = next((g for g in hw.gpus if g.kind == "cuda"), None)
    bnb = hw.bitsandbytes if hw.bitsandbytes is not None else hw.bitsandbytes_installed
    reasons = list(cfg.custom_settings.get("reasons", []))
    changes: dict[str, Any] = {}
    width = cfg.custom_settings.get("layer_width")
    if goal == "memory":
        if bnb and isinstance(width, int) and width < 64:
            changes |= {"quantization": "8bit", "double_quant": False}
            reasons.append(f"8-bit: its layers are {width} wide, narrower than bitsandbytes' 4-bit block of 64")  # fmt: skip
        elif bnb:
            changes |= {"quantization": "nf4", "double_quant": True}
            reasons.append("nf4 with double quantization: the smallest weights bitsandbytes offers")
        else:
            changes |= {"quantization": "none", "dtype": "bfloat16"}
            reasons.append(
                "bfloat16: half of float32's memory (bitsandbytes is not available here)"
            )
        changes["device_map"] = "auto"
        reasons.append("device_map='auto': layers that do not fit the GPU go to RAM")
    elif goal == "speed":
        changes |= {"quantization": "none", "double_quant": False}
        if gpu is not None:
            fast_bf16 = (gpu.compute_capability or (0, 0)) >= (8, 0)
            changes |= {"dtype": "bfloat16" if fast_bf16 else "float16", "device_map": gpu.device}
            reasons.append(f"{changes['dtype']} on {gpu.device}: half precision is the GPU's fast path; no quantization (dequantizing costs time)")  # fmt: skip
        else:
            fast = _cpu_has_fast_bf16()
            changes |= {"dtype": "bfloat16" if fast else "float32", "device_map": "cpu"}
            reasons.append(
                "bfloat16 on CPU: this CPU has AMX" if fast
                else "float32 on CPU: this CPU has no native bf16 (AMX), where bf16 is slower than float32"
            )  # fmt: skip
    else:  # quality
        changes |= {"quantization": "none", "double_quant": False}
        if gpu is not None and (gpu.compute_capability or (0, 0)) >= (8, 0):
            changes |= {"dtype": "bfloat16", "device_map": gpu.device}
            reasons.append(
                "bfloat16 on the GPU: the dtype models are trained in, no quantization loss"
            )
        else:
            changes |= {"dtype": "float32", "device_map": gpu.device if gpu else "cpu"}
            reasons.append("float32: full precision, no quantization loss")
    custom = dict(cfg.custom_settings, reasons=reasons, optimized_for=goal)
    return dataclasses.replace(cfg, custom_settings=custom, **changes)


def _model_info(model_id: str, settings: Settings | None) -> ModelMetadata:
    """``model_info`` through the catalog of ``settings`` (the default one without)."""
    from .catalog import Catalog, model_info

    if settings is None:
        return model_info(model_id)
    catalog = Catalog(settings)
    try:
        return catalog.model_info(model_id)
    finally:
        catalog.close()


def configure(
    model: ModelMetadata | str | Path,
    *,
    template: str | None = None,
    optimize: str | None = None,
    settings: Settings | None = None,
    hardware: Any = None,
    **overrides: Any,
) -> ModelConfiguration:
    """A configuration for ``model``: from its own metadata (``auto_configure``), or from
    ``template``; tuned for ``optimize`` ("speed", "memory", "quality") on this machine;
    ``overrides`` on top. An override of the wrong type or not one of the choices raises
    :class:`~nbmodels.errors.ConfigurationError` at once; :func:`validate` reports the rest
    (numbers out of range, risky settings)."""
    names = {f.name for f in dataclasses.fields(ModelConfiguration)}
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise ConfigurationError(f"Unknown configuration field(s): {', '.join(_hint(unknown, names))}.")  # fmt: skip
    if isinstance(model, ModelMetadata) or Path(str(model)).expanduser().exists():
        target: ModelMetadata | Path = (
            model if isinstance(model, ModelMetadata) else Path(str(model)).expanduser()
        )
        cfg = auto_configure(target, settings=settings)
    else:
        cfg = auto_configure(_model_info(str(model), settings), settings=settings)
    if template is not None:
        reasons = [*cfg.custom_settings.get("reasons", []), f"template {template!r}, as asked"]
        keep = {"max_context_length": cfg.max_context_length}
        cfg = from_template(template, cfg.model_id, settings=settings, **keep)
        cfg = dataclasses.replace(cfg, custom_settings=dict(cfg.custom_settings, reasons=reasons))
    if optimize is not None:
        cfg = globals()["optimize"](cfg, optimize, hardware=hardware)
    cfg = dataclasses.replace(cfg, **overrides)
    _refuse_wrong_types(cfg, overrides)
    return cfg


def recommendations(
    model: ModelMetadata | str | Path,
    config: ModelConfiguration | None = None,
    *,
    context: int | None = None,
    batch: int = 1,
    hardware: Any = None,
    settings: Settings | None = None,
) -> list[str]:
    """What to change in ``config`` (default: :func:`configure`'s) for ``model`` on this
    machine, one sentence each: the validation's errors and warnings with their fixes, then
    what the memory estimate advises (the seed's ``getConfigurationRecommendations``)."""
    from .memory import estimate_memory

    cfg = config or configure(model, settings=settings, hardware=hardware)
    found = validate(cfg)
    advice = [f"{i.field}: {i.message}; {i.suggestion}." for i in (*found.errors, *found.warnings)]
    est = estimate_memory(model, cfg, context=context, batch=batch, hardware=hardware)
    if est.verdict == "won't fit":
        advice.append(
            f"It won't fit ({est.peak_bytes / 2**30:.1f} GiB at peak, "
            f"{(est.available_bytes or 0) / 2**30:.1f} GiB free): " + "; or ".join(est.advice) + "."
        )
    else:
        advice.append(f"It {est.verdict} ({est.peak_bytes / 2**30:.2f} GiB at peak, {est.context} tokens of context).")  # fmt: skip
    if cfg.max_context_length is None and est.context:
        advice.append(f"max_context_length: unset; the model allows {est.context} or more, set it to bound the KV cache.")  # fmt: skip
    return advice
