"""A configuration as stored data: ``ModelConfiguration`` <-> plain dict / YAML, where each
model's file lives, and the lock its writers share.

The lowest layer of ``nbmodels.config``: it imports neither the rest of the package's
configuration modules nor the registry, so both can build on it.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelType, SupportedTask

__all__ = [
    "QUANTIZATIONS",
    "configuration_dict",
    "configuration_path",
    "configurations_folder",
    "effective_quantization",
    "load_configuration",
    "templates_folder",
]

QUANTIZATIONS = ("none", "8bit", "nf4", "fp4")
_SEED_QUANT = {
    "8bit": "8bit",
    "int8": "8bit",
    "4bit": "nf4",
    "nf4": "nf4",
    "fp4": "fp4",
    "int4": "nf4",
}


def effective_quantization(cfg: ModelConfiguration) -> str:
    """``cfg.quantization``, or the seed's ``use_quantization``/``quantization_type``."""
    if cfg.quantization != "none" or not cfg.use_quantization:
        return cfg.quantization
    return _SEED_QUANT.get(str(cfg.quantization_type or "nf4").lower(), str(cfg.quantization_type))


# -- records <-> plain data ----------------------------------------------------------------------
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


def _hint(unknown: list[str], names: set[str]) -> list[str]:
    return [
        f"{k!r}" + (f" (did you mean {c[0]!r}?)" if (c := difflib.get_close_matches(k, names, n=1)) else "")
        for k in unknown
    ]  # fmt: skip


def _configuration_from(data: dict[str, Any], source: Path) -> ModelConfiguration:
    """The configuration ``data`` holds (:func:`configuration_dict`'s form); unknown keys are
    a ConfigurationError naming ``source`` and the closest field."""
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


# -- where the files live, shared by every kernel on this home -----------------------------------
def configurations_folder(settings: Settings | None = None) -> Path:
    """Where each model's configuration is kept: ``$NBMODELS_HOME/configs/*.yaml``."""
    return (settings or default_settings()).home / "configs"


def templates_folder(settings: Settings | None = None) -> Path:
    """Where users keep their own templates: ``$NBMODELS_HOME/templates/*.yaml``."""
    return (settings or default_settings()).home / "templates"


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

    from ..files import ensure_dir

    ensure_dir(target.parent)
    return filelock.FileLock(str(target) + ".lock", timeout=30)
