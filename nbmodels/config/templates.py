"""Configuration templates: the built-in ones (chat, knowledge, embedding, code, ...) and
the user's own YAML files in ``$NBMODELS_HOME/templates``.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, TemplateWarning
from ..files import atomic_write
from ..settings import Settings
from ..types import ModelConfigTemplate, ModelConfiguration, ModelType, SupportedTask
from .stored import _configuration_from, _plain, templates_folder

__all__ = ["BUILTIN_TEMPLATES", "from_template", "save_template", "templates"]


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
