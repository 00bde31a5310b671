"""A model's metadata as the rules read it (:class:`_Signals`): tags, base models and
datasets normalised once, name rules answered on first use and kept."""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from .words import (
    _CHAT_DATA,
    _CHAT_TAGS,
    _CODE_TAGS,
    _DIFFUSERS_AUDIO_TAG,
    _DIFFUSERS_TAG,
    _ENCODER_FAMILIES,
    _GENERATION_PIPELINES,
    _GUARD_OWN_TAG,
    _IMAGE_GEN_PIPELINES,
    _IMAGE_INPUT,
    _LLM_FAMILY_TAGS,
    _QA_PIPELINES,
    _RERANK,
    _REWARD_TAGS,
    _SEQ2SEQ_FAMILIES,
    _TTS_PIPELINES,
    _VLM_FAMILY_TAGS,
    _VLM_PIPELINES,
    NAME_PATTERNS,
    _name_re,
)

# --- normalised input ---------------------------------------------------------------------


def _strings(values: Any) -> list[str]:
    """Lower-cased strings from whatever a record holds: None, one string, or an iterable."""
    if values is None:
        return []
    if isinstance(values, str):
        return [v.strip().lower() for v in re.split(r"[,;]", values) if v.strip()]
    if isinstance(values, bytes):
        return _strings(values.decode("utf-8", "replace"))
    try:
        items = list(values)
    except TypeError:
        return []
    return [str(v).strip().lower() for v in items if v is not None and str(v).strip()]


_TagSignals = tuple[frozenset[str], tuple[tuple[str, str], ...], tuple[str, ...]]


def _tag_signals(tags: Any) -> _TagSignals:
    """The tag set, ``(base model, relation)`` pairs and datasets of ``tags`` (tag lists
    repeat across a catalog, so hashable ones are read once)."""
    if isinstance(tags, tuple | str | frozenset):
        try:
            return _tag_signals_cached(tags)
        except TypeError:  # a tuple holding something unhashable
            pass
    return _read_tags(tags)


def _read_tags(tags: Any) -> _TagSignals:
    tag_list = _strings(tags)
    relation: dict[str, str] = {}
    for tag in tag_list:
        if tag.startswith("base_model:"):
            parts = tag.split(":", 2)
            base, kind = (parts[2], parts[1]) if len(parts) == 3 else (parts[1], "")
            if base and (base not in relation or kind):
                relation[base] = kind or relation.get(base, "")
    datasets = (t.removeprefix("dataset:") for t in tag_list if t.startswith("dataset:"))
    return (
        frozenset(t for t in tag_list if t in TAG_WORDS or _patterned_tag(t)),
        tuple(relation.items()),
        tuple(d for d in datasets if _CHAT_DATA.search(d)),  # the only datasets rules read
    )


_tag_signals_cached = functools.lru_cache(maxsize=16384)(_read_tags)


def _tag_words() -> frozenset[str]:
    return frozenset().union(
        _GENERATION_PIPELINES, _VLM_PIPELINES, _IMAGE_INPUT, _IMAGE_GEN_PIPELINES,
        _TTS_PIPELINES, _QA_PIPELINES, _LLM_FAMILY_TAGS, _VLM_FAMILY_TAGS, _ENCODER_FAMILIES,
        _SEQ2SEQ_FAMILIES, _REWARD_TAGS, _CODE_TAGS, _CHAT_TAGS,
        {
            "conversational", "content moderation", "llm safety", "sentence-similarity",
            "sentence-transformers", "mteb", "clip", "siglip", "multimodal", "vision", "vlm",
            "image-captioning", "text-generation", "automatic-speech-recognition",
            "audio-text-to-text", "audio", "image-generation", "stable-diffusion", "whisper",
            "translation", "rag", "retrieval-augmented-generation", "summarization",
            "text-generation-inference", "causal-lm", "gguf", "pretrained", "text-to-image",
            "question-answering", "code", "automatic-speech-translation",
        },
    )  # fmt: skip


#: every tag word a rule reads; the rules see a record's tags as these, plus the tags the
#: tag patterns (_TAG_PATTERNS) match, so records that differ only in other tags (licences,
#: languages, "safetensors"...) are the same to them (tests check that every word a rule
#: names is here)
TAG_WORDS = _tag_words()
_TAG_PATTERNS = (_RERANK, _GUARD_OWN_TAG, _DIFFUSERS_TAG, _DIFFUSERS_AUDIO_TAG)


@functools.lru_cache(maxsize=65536)
def _patterned_tag(tag: str) -> bool:
    return any(p.search(tag) for p in _TAG_PATTERNS)


def _base_pairs(
    from_tags: tuple[tuple[str, str], ...], base_models: Any
) -> tuple[tuple[str, str], ...]:
    """Base models from the tags, then from ``base_models`` (card data: relation unknown)."""
    extra = [b.rsplit(":", 1)[-1] for b in _strings(base_models)]
    if not extra:
        return from_tags
    known = dict(from_tags)
    return from_tags + tuple((b, "") for b in dict.fromkeys(extra) if b and b not in known)


@dataclasses.dataclass(frozen=True, slots=True)
class _Signals:
    pipeline: str
    tags: frozenset[str]
    library: str
    archs: tuple[str, ...]
    caps: frozenset[str]
    model: str  # lower-cased part of the name after the last "/" (Ollama: "llama3.1:8b")
    raw_model: str  # same, original case
    bases: tuple[tuple[str, str], ...]  # (base model id, relation), lower-cased
    datasets: tuple[str, ...]
    _seen: dict[str, bool] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def build(
        cls,
        pipeline_tag: Any,
        tags: Any,
        library: Any,
        architectures: Any,
        capabilities: Any,
        name: Any,
        base_models: Any = (),
    ) -> _Signals:
        tag_set, bases, datasets = _tag_signals(tags)
        raw_name = name if isinstance(name, str) else ""
        raw_model = raw_name.rsplit("/", 1)[-1]
        return cls(
            pipeline=pipeline_tag.strip().lower() if isinstance(pipeline_tag, str) else "",
            tags=tag_set,
            library=library.strip().lower() if isinstance(library, str) else "",
            archs=tuple(_strings(architectures)),
            caps=frozenset(_strings(capabilities)),
            model=raw_model.lower(),
            raw_model=raw_model,
            bases=_base_pairs(bases, base_models),
            datasets=datasets,
        )

    @property
    def base_models(self) -> tuple[str, ...]:
        return tuple(b for b, _ in self.bases)

    def named(self, rule: str) -> bool:
        """Whether the name rule ``rule`` (see :data:`NAME_PATTERNS`) matches the name."""
        seen = self._seen.get(rule)
        if seen is None:
            text = self.raw_model if NAME_PATTERNS[rule][1] else self.model
            seen = self._seen[rule] = bool(text) and _name_re(rule).search(text) is not None
        return seen

    def has(self, *labels: str) -> bool:
        """Whether the pipeline tag or any tag is one of ``labels``."""
        return self.pipeline in labels or not self.tags.isdisjoint(labels)

    def arch(self, pattern: str | re.Pattern[str]) -> bool:
        return bool(self.archs) and any(re.search(pattern, a) for a in self.archs)

    def any_tag(self, pattern: re.Pattern[str]) -> bool:
        """Whether ``pattern`` occurs in any tag (tag sets repeat: answered once per set)."""
        return bool(self.tags) and _any_tag(pattern, self.tags)


@functools.lru_cache(maxsize=8192)
def _any_tag(pattern: re.Pattern[str], tags: frozenset[str]) -> bool:
    return any(pattern.search(t) for t in tags)
