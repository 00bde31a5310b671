"""What :func:`nbmodels.bench.compare.compare` compares: each candidate as a
:class:`Candidate` (a model reference, a configuration or overrides, or a model already
loaded) with a readable, unique label ("org/name · nf4").

    >>> [c.label for c in parse_candidates(["org/a", ("org/a", {"quantization": "nf4"})])]
    ['org/a', 'org/a · nf4']
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..types import ModelConfiguration, ModelMetadata

__all__ = ["Candidate", "parse_candidates"]

_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelConfiguration))
_SHORT_DTYPE = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


@dataclass(frozen=True)
class Candidate:
    """One thing to compare: a model reference with a configuration or overrides (or a model
    already loaded: ``handle``), and the label it is shown under."""

    label: str
    model: str | Path | ModelMetadata
    config: ModelConfiguration | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    handle: Any = None  # a loaded ModelHandle / OllamaHandle: used as is, never unloaded

    @property
    def is_ollama(self) -> bool:
        return isinstance(self.model, str) and self.model.startswith("ollama:")

    def describe(self) -> dict[str, Any]:
        """The candidate as plain data (for JSON)."""
        from ..config.stored import configuration_dict

        return {
            "label": self.label,
            "model": self.model.id if isinstance(self.model, ModelMetadata) else str(self.model),
            "configuration": configuration_dict(self.config) if self.config else None,
            "overrides": {k: _plain(v) for k, v in self.overrides.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _model_name(model: Any) -> str:
    """How a model reference reads in a label: a Hub id or ``ollama:<name>`` as written, a
    folder or file by its name."""
    if isinstance(model, ModelMetadata):
        return model.id
    text = str(model)
    if text.startswith("ollama:"):
        return text
    path = Path(text).expanduser()
    if isinstance(model, Path) or text.startswith(("/", ".", "~")) or path.exists():
        return path.stem if path.suffix == ".gguf" else path.name
    return text


def _describe_settings(config: ModelConfiguration | None, overrides: Mapping[str, Any]) -> list[str]:  # fmt: skip
    """The few words that tell one configuration of a model from another ("nf4", "bf16",
    "max_context_length=512")."""
    values: dict[str, Any] = {}
    if config is not None:
        from ..config.stored import effective_quantization

        values["quantization"] = effective_quantization(config)
        values["dtype"] = config.dtype
    values.update(overrides)
    words = []
    for key, value in values.items():
        if key == "quantization":
            if value not in (None, "none"):
                words.append(str(value))
        elif key == "dtype":
            if value not in (None, "auto"):
                words.append(_SHORT_DTYPE.get(str(value), str(value)))
        elif key == "double_quant":
            if value:
                words.append("double-quant")
        else:
            words.append(f"{key}={value}")
    return words


def _check_overrides(overrides: Mapping[str, Any], where: str) -> None:
    unknown = [k for k in overrides if k not in _FIELDS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(_FIELDS), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigurationError(
            f"{where}: unknown configuration field(s) {', '.join(hints)}; a candidate's "
            "settings are ModelConfiguration fields (quantization, dtype, max_context_length...)."
        )


def _candidate(item: Any, number: int) -> tuple[Candidate, str | None]:
    """``item`` as a :class:`Candidate` (its label still to be made unique), and the label the
    caller gave, if any."""
    where = f"candidate {number}"
    if isinstance(item, Candidate):
        return item, item.label
    if hasattr(item, "generate") and hasattr(item, "model_id"):  # a loaded model
        config = getattr(item, "config", None)
        if type(item).__name__ == "OllamaHandle":
            return Candidate("", f"ollama:{item.model_id}", None, {}, handle=item), None
        if not isinstance(config, ModelConfiguration):
            return Candidate("", str(item.model_id), None, {}, handle=item), None
        folder = str(getattr(getattr(item, "model", None), "name_or_path", "") or "")
        ref: str | Path = Path(folder) if folder and Path(folder).is_dir() else item.model_id
        return Candidate("", ref, config, {}, handle=item), None
    if isinstance(item, ModelConfiguration):
        if not item.model_id:
            raise ConfigurationError(f"{where}: the ModelConfiguration has no model_id to load.")
        return Candidate("", item.model_id, item), None
    if isinstance(item, Mapping):
        rest = dict(item)
        if "model" not in rest:
            raise ConfigurationError(
                f"{where}: a mapping needs a 'model' key, e.g. {{'model': 'org/name', 'quantization': 'nf4'}}."
            )
        model, label = _model_ref(rest.pop("model"), where), rest.pop("label", None)
        config = rest.pop("config", None)
        if config is not None and not isinstance(config, ModelConfiguration):
            raise ConfigurationError(f"{where}: 'config' must be a ModelConfiguration; give other settings as keys of their own.")  # fmt: skip
        _check_overrides(rest, where)
        return Candidate("", model, config, rest), label
    if isinstance(item, tuple) and len(item) == 2:
        model, extra = _model_ref(item[0], where), item[1]
        if isinstance(extra, ModelConfiguration):
            return Candidate("", model, extra), None
        if isinstance(extra, Mapping):
            rest = dict(extra)
            label = rest.pop("label", None)
            _check_overrides(rest, where)
            return Candidate("", model, None, rest), label
        raise ConfigurationError(
            f"{where}: the second item of (model, settings) must be a ModelConfiguration or a "
            f"dict of overrides, not {type(extra).__name__}."
        )
    if isinstance(item, str | Path | ModelMetadata):
        return Candidate("", item), None
    raise ConfigurationError(
        f"{where}: {item!r} is not a model. Give a Hub id, a folder, 'ollama:<name>', a "
        "(model, overrides) pair, a ModelConfiguration or {'model': ..., 'label': ...}."
    )


def _model_ref(model: Any, where: str) -> str | Path | ModelMetadata:
    if isinstance(model, str | Path | ModelMetadata) and str(model).strip():
        return model
    raise ConfigurationError(f"{where}: the model must be a Hub id, a folder or 'ollama:<name>', not {model!r}.")  # fmt: skip


def parse_candidates(candidates: Sequence[Any]) -> list[Candidate]:
    """The candidates as :class:`Candidate` records with readable, unique labels
    (``"org/name · nf4"``; a repeated label gets `` (2)``, `` (3)``...)."""
    if isinstance(candidates, str | Path) or not isinstance(candidates, Sequence):
        raise ConfigurationError("compare() takes a list of candidates: compare(['org/a', 'org/b']).")  # fmt: skip
    if not candidates:
        raise ConfigurationError("compare() needs at least one candidate.")
    out: list[Candidate] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(candidates, 1):
        cand, given = _candidate(item, number)
        label = given or " · ".join(
            [_model_name(cand.model), *_describe_settings(cand.config, cand.overrides)]
        )
        label = str(label).strip() or _model_name(cand.model)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} ({seen[label]})"
        out.append(dataclasses.replace(cand, label=label))
    return out


def _model_id(model: Any) -> str:
    """The id ``load()`` files a model under (a folder's name, a .gguf file's stem, a Hub
    id as written), found without downloading anything."""
    if isinstance(model, ModelMetadata):
        return model.id
    path = Path(str(model)).expanduser()
    if path.is_file():
        return path.stem
    if path.is_dir():
        return path.name
    return str(model)
