"""Detection for one model at a time: :func:`detect_model`, :func:`detect_tasks`,
:func:`classify_model_type`, :func:`annotate` and, for a collection, :func:`annotate_all`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from ...types import ModelMetadata, ModelType, SupportedTask
from .inherit import Answer, BaseResolver, _answer, _resolve_all, _resolved
from .rules import _PRIORITY, _type_of
from .signals import _Signals, _strings


def detect_model(
    *,
    pipeline_tag: str | None = None,
    tags: Iterable[str] | str | None = (),
    library: str | None = None,
    architectures: Iterable[str] | str | None = (),
    capabilities: Iterable[str] | str | None = (),
    name: str | None = "",
    chat_template: bool | None = None,
    base_models: Iterable[str] | str | None = (),
    bases: BaseResolver | None = None,
) -> Answer:
    """``(tasks, model type)`` of one model: :func:`detect_tasks` and the type together.

    The type is :func:`classify_model_type` of the tasks, except that a model made for one
    job is specialised and a derived model whose own metadata is silent takes its base's.
    """
    s = _Signals.build(pipeline_tag, tags, library, architectures, capabilities, name, base_models)
    return _answer(s, chat_template, _resolved(s, bases))


def detect_tasks(
    *,
    pipeline_tag: str | None = None,
    tags: Iterable[str] | str | None = (),
    library: str | None = None,
    architectures: Iterable[str] | str | None = (),
    capabilities: Iterable[str] | str | None = (),
    name: str | None = "",
    chat_template: bool | None = None,
    base_models: Iterable[str] | str | None = (),
    bases: BaseResolver | None = None,
) -> tuple[SupportedTask, ...]:
    """Tasks a model supports, most important first, without duplicates.

    Every argument may be missing, ``None`` or oddly typed (a comma-separated string of
    tags, an unknown pipeline tag): what cannot be read is ignored. No evidence at all
    gives ``()``. The rules are in :mod:`nbmodels.discover.tasks`' docstring.

    ``chat_template`` is whether the model ships a chat template (a GGUF's
    ``tokenizer.chat_template``; ``False`` for an Ollama manifest without a template
    layer): ``True`` counts as chat evidence, ``False`` rules chat out unless the name
    says instruct/chat, ``None`` means unknown.

    Base models come from ``base_model:`` tags and ``base_models`` (card data). ``bases``
    answers for the ones the caller knows (a mapping or function of the lower-cased id,
    giving ``(tasks, type)``, e.g. the other records of a catalog); the rest are judged
    by their ids alone.
    """
    return detect_model(
        pipeline_tag=pipeline_tag,
        tags=tags,
        library=library,
        architectures=architectures,
        capabilities=capabilities,
        name=name,
        chat_template=chat_template,
        base_models=base_models,
        bases=bases,
    )[0]


def classify_model_type(
    tasks: Iterable[SupportedTask | str] | None,
    *,
    tags: Iterable[str] | None = (),
    name: str | None = "",
) -> ModelType | None:
    """The seed's coarse class of a model with these tasks (rules in the package docstring).

    ``tasks`` in a list or tuple are taken as ordered, most important first (as
    :func:`detect_tasks` returns them); any other iterable is ranked by ``_PRIORITY``.
    Unknown task strings are ignored; no tasks gives ``None``. A ``name`` made for one job
    (tool calling, extraction...) makes a chat or multimodal model specialised. ``tags``
    are accepted for callers that have them (the tasks carry their evidence).
    """
    ordered: list[SupportedTask] = []
    for task in _as_list(tasks):
        try:
            ordered.append(SupportedTask.parse(task))
        except Exception:  # unknown task name or odd type: not a task we can class
            continue
    ordered = list(dict.fromkeys(ordered))
    if not ordered:
        return None
    if not isinstance(tasks, Sequence) or isinstance(tasks, str):
        ordered.sort(key=_PRIORITY.index)
    return _type_of(ordered, _Signals.build(None, (), None, (), (), name))


def _as_list(tasks: Any) -> list[Any]:
    if tasks is None:
        return []
    if isinstance(tasks, str | SupportedTask):
        return [tasks]
    try:
        return list(tasks)
    except TypeError:
        return []


def _chat_template(extra: Any) -> bool | None:
    """Whether ``extra`` shows a chat template: a GGUF's flag, or an Ollama template layer.

    An Ollama manifest without a template layer passes prompts through raw (a base or
    completion model); one with a template may still be a base model, so that is unknown.
    """
    try:
        flag = extra.get("has_chat_template")
        media = extra.get("media_types")
    except AttributeError:
        return None
    if isinstance(flag, bool):
        return flag
    if isinstance(media, list | tuple) and media:
        return None if any(str(m).endswith(".template") for m in media) else False
    return None


def capabilities_from_media_types(media_types: Iterable[str] | None) -> tuple[str, ...]:
    """Ollama capabilities that a manifest's layer media types show on their own.

    A ``projector`` layer means the model reads images (``vision``); a ``template`` layer
    means it completes prompts (``completion``). Ollama itself also reads the GGUF
    metadata (pooling type, tool tokens) to report ``embedding``, ``tools``, ``insert``
    and ``thinking``; a manifest alone cannot show those, so names decide them here.
    """
    kinds = {str(m).rsplit(".", 1)[-1].lower() for m in (media_types or ()) if m}
    caps: list[str] = []
    if "template" in kinds or "projector" in kinds:
        caps.append("completion")
    if "projector" in kinds:
        caps.append("vision")
    return tuple(caps)


def _meta_signals(meta: ModelMetadata, capabilities: Iterable[str]) -> _Signals:
    caps = tuple(capabilities or ()) or tuple(_strings(meta.extra.get("capabilities")))
    return _Signals.build(
        meta.pipeline_tag,
        meta.tags,
        meta.library,
        meta.architectures,
        caps,
        meta.id,
        meta.extra.get("base_models"),
    )


def _annotated(meta: ModelMetadata, answer: Answer) -> ModelMetadata:
    tasks = tuple(dict.fromkeys((*meta.tasks, *answer[0])))
    return dataclasses.replace(meta, tasks=tasks, model_type=meta.model_type or answer[1])


def annotate(
    meta: ModelMetadata, *, capabilities: Iterable[str] = (), bases: BaseResolver | None = None
) -> ModelMetadata:
    """``meta`` with ``tasks`` and ``model_type`` filled in from its other fields.

    Tasks already on ``meta`` are kept first; a ``model_type`` already set is kept.
    Without ``capabilities``, ``meta.extra["capabilities"]`` (Ollama's) is used if present.
    Base models are read from ``base_model:`` tags and ``meta.extra["base_models"]``;
    ``bases`` as in :func:`detect_tasks` (see :func:`annotate_all` for a whole collection).
    """
    s = _meta_signals(meta, capabilities)
    return _annotated(meta, _answer(s, _chat_template(meta.extra), _resolved(s, bases)))


def annotate_all(metas: Iterable[ModelMetadata]) -> list[ModelMetadata]:
    """Every model of a collection annotated, base models resolved within it.

    A derived model whose base is in the collection inherits from that record as
    annotated (its given tasks and type included, and through its own bases in turn);
    bases outside the collection are judged by their ids. Ids are compared lower-cased;
    the first record of an id answers for it. A cycle of bases stops at the record met
    again, which then answers from its own metadata (so, within a cycle only, the answer
    depends on the records' order).
    """
    items = list(metas)
    signals = [_meta_signals(m, ()) for m in items]
    answers = _resolve_all(
        [m.id for m in items],
        signals.__getitem__,
        lambda i: _chat_template(items[i].extra),
        lambda i, answer: _given(items[i], answer),
    )
    return [_annotated(m, a) for m, a in zip(items, answers, strict=True)]


def _given(meta: ModelMetadata, answer: Answer) -> Answer:
    """``answer`` with what the record itself states (its tasks first, its type)."""
    if not meta.tasks and meta.model_type is None:
        return answer
    tasks = tuple(dict.fromkeys((*meta.tasks, *answer[0])))
    return tasks, meta.model_type or answer[1]
