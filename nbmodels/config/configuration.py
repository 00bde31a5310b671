"""How a model is to be run: the one entry point (:func:`configure`), the transformers
objects a configuration stands for, and each model's configuration kept as YAML a person can
read and diff, shared by every kernel on the home (and noted in the registry).

    >>> cfg = ModelConfiguration("org/name", temperature=0.2, quantization="nf4")
    >>> validate(cfg).ok, validate(cfg).errors
    >>> generation_config(cfg)          # a transformers.GenerationConfig
    >>> quantization_config(cfg)        # a transformers.BitsAndBytesConfig (or None)
    >>> save_configuration(cfg, "chat.yaml"); load_configuration("chat.yaml") == cfg

The pieces live beside it, their names importable from here as before: ``stored`` (records
<-> YAML, where the files are), ``validation``, ``templates`` and ``auto``
(``auto_configure``, ``optimize``); the memory estimate is ``memory``. The seed's
``use_quantization``/``quantization_type`` are read when ``quantization`` is left at
``"none"``. This module is ``configuration``, not ``configure``: a submodule named like the
function ``nbmodels.configure`` would replace it on the package.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, TemplateWarning
from ..files import atomic_write
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelMetadata
from .auto import GOALS, auto_configure, choose_template, optimize
from .stored import (
    QUANTIZATIONS,
    _hint,
    _yaml_text,
    configuration_path,
    configurations_folder,
    effective_quantization,
    load_configuration,
    templates_folder,
)
from .stored import _configuration_from as _configuration_from
from .stored import _plain as _plain
from .stored import _store_lock as _store_lock
from .stored import configuration_dict as configuration_dict
from .templates import BUILTIN_TEMPLATES, from_template, save_template, templates
from .validation import DTYPES, Issue, Validation, _refuse_wrong_types, validate

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
    registered is not added: an id alone says too little of it), and a configuration
    revision of the model when it is not its current version's configuration."""
    import warnings

    from ..errors import ModelNotFoundError, NBModelsError, RegistryWarning
    from ..storage.registry import Registry
    from ..storage.versions import record_if_changed

    try:
        registry = Registry(settings=settings or default_settings())
        registry.set_configuration(cfg.model_id, cfg)
    except ModelNotFoundError:
        return
    except NBModelsError as exc:
        warnings.warn(f"The configuration is saved; the registry could not record it: {exc}", RegistryWarning, stacklevel=3)  # fmt: skip
        return
    try:
        record_if_changed(registry, cfg.model_id, configuration=cfg, note="configuration saved")
    except (NBModelsError, OSError) as exc:
        warnings.warn(f"The configuration is saved; its version could not be recorded: {exc}", RegistryWarning, stacklevel=3)  # fmt: skip


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


def _model_info(model_id: str, settings: Settings | None) -> ModelMetadata:
    """``model_info`` through the catalog of ``settings`` (the default one without)."""
    from ..discover.catalog import Catalog, model_info

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
