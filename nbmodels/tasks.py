"""Detect what a model can do, and what kind of model it is, from its metadata.

FIRST VERSION — to be refined against hand-labelled real records (tests/fixtures).

Signals, strongest first: the Hub's ``pipeline_tag``, Ollama ``capabilities``, tags,
``library_name``, ``architectures`` from config.json, and words in the model's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .types import ModelMetadata, ModelType, SupportedTask

__all__ = ["annotate", "classify_model_type", "detect_tasks"]

T = SupportedTask

_PIPELINE: dict[str, tuple[SupportedTask, ...]] = {
    "text-generation": (T.TEXT_GENERATION,),
    "text2text-generation": (T.TEXT_GENERATION,),
    "text-classification": (T.TEXT_CLASSIFICATION,),
    "token-classification": (T.TEXT_CLASSIFICATION,),
    "zero-shot-classification": (T.TEXT_CLASSIFICATION,),
    "question-answering": (T.QUESTION_ANSWERING,),
    "table-question-answering": (T.QUESTION_ANSWERING,),
    "summarization": (T.SUMMARIZATION,),
    "translation": (T.TRANSLATION,),
    "feature-extraction": (T.EMBEDDING,),
    "sentence-similarity": (T.EMBEDDING,),
    "image-to-text": (T.IMAGE_CAPTIONING,),
    "image-text-to-text": (T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING),
    "visual-question-answering": (T.MULTIMODAL_REASONING,),
    "text-to-image": (T.IMAGE_GENERATION,),
    "automatic-speech-recognition": (T.AUDIO_TRANSCRIPTION,),
    "text-to-speech": (T.AUDIO_GENERATION,),
    "text-to-audio": (T.AUDIO_GENERATION,),
}


def _norm(values: Iterable[str] | None) -> list[str]:
    return [str(v).lower() for v in (values or ()) if v]


def detect_tasks(
    *,
    pipeline_tag: str | None = None,
    tags: Iterable[str] = (),
    library: str | None = None,
    architectures: Iterable[str] = (),
    capabilities: Iterable[str] = (),
    name: str = "",
) -> tuple[SupportedTask, ...]:
    """Tasks a model supports, most important first, without duplicates."""
    found: list[SupportedTask] = []
    tag_list = _norm(tags)
    caps = _norm(capabilities)
    lname = (name or "").lower()
    if pipeline_tag:
        found += _PIPELINE.get(pipeline_tag.lower(), ())
    for tag in tag_list:
        found += _PIPELINE.get(tag, ())
    if "embedding" in caps:
        found.append(T.EMBEDDING)
    if "completion" in caps:
        found.append(T.TEXT_GENERATION)
    if "vision" in caps:
        found.append(T.MULTIMODAL_REASONING)
    if (library or "").lower() == "sentence-transformers" or "sentence-transformers" in tag_list:
        found.append(T.EMBEDDING)
    if T.TEXT_GENERATION in found and (
        "conversational" in tag_list or "chat" in lname or "instruct" in lname or "tools" in caps
    ):
        found.append(T.CHAT)
    if T.TEXT_GENERATION in found and ("code" in lname or "coder" in lname):
        found += [T.CODE_GENERATION, T.CODE_COMPLETION]
    return tuple(dict.fromkeys(found))


def classify_model_type(
    tasks: Iterable[SupportedTask], *, tags: Iterable[str] = (), name: str = ""
) -> ModelType | None:
    task_set = set(tasks)
    if not task_set:
        return None
    if task_set & {T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING}:
        return ModelType.MULTIMODAL_MODEL
    if T.EMBEDDING in task_set:
        return ModelType.EMBEDDING_MODEL
    if task_set & {T.CHAT, T.TEXT_GENERATION}:
        return ModelType.INTERFACE_MODEL
    if task_set & {T.QUESTION_ANSWERING, T.RAG, T.SUMMARIZATION}:
        return ModelType.KNOWLEDGE_MODEL
    return ModelType.SPECIALIZED_MODEL


def annotate(meta: ModelMetadata, *, capabilities: Iterable[str] = ()) -> ModelMetadata:
    """``meta`` with ``tasks`` and ``model_type`` filled in from its other fields."""
    tasks = detect_tasks(
        pipeline_tag=meta.pipeline_tag,
        tags=meta.tags,
        library=meta.library,
        architectures=meta.architectures,
        capabilities=capabilities,
        name=meta.id,
    )
    tasks = tuple(dict.fromkeys((*meta.tasks, *tasks)))
    model_type = meta.model_type or classify_model_type(tasks, tags=meta.tags, name=meta.id)
    return dataclasses.replace(meta, tasks=tasks, model_type=model_type)
