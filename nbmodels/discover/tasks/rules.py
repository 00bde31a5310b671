"""The purpose detectors: what one model's own metadata says it is for (its tasks, most
important first) and what type of model that makes it. The order they are tried in, and
why, is in :mod:`nbmodels.discover.tasks`' docstring."""

from __future__ import annotations

from collections.abc import Sequence

from ...types import ModelType, SupportedTask
from .signals import _Signals
from .words import (
    _ASR_PIPELINES,
    _AUDIO_LLM_ARCH,
    _BASE_CHAT,
    _CHAT_DATA,
    _CHAT_TAGS,
    _CLASSIFICATION_PIPELINES,
    _CODE_TAGS,
    _DIFFUSERS_AUDIO_TAG,
    _DIFFUSERS_TAG,
    _EMBEDDING_PIPELINES,
    _ENCODER_FAMILIES,
    _GENERATION_PIPELINES,
    _GUARD_OWN_TAG,
    _IMAGE_GEN_PIPELINES,
    _IMAGE_INPUT,
    _LLM_FAMILY_TAGS,
    _LLM_LIBRARIES,
    _MEDIA_GEN_PIPELINES,
    _QA_PIPELINES,
    _RERANK,
    _REWARD_TAGS,
    _SEQ2SEQ_FAMILIES,
    _TTS_PIPELINES,
    _VISION_ARCH,
    _VLM_FAMILY_TAGS,
    _VLM_PIPELINES,
    _WHISPER_ARCH,
    _name_re,
)

T = SupportedTask

_PRIORITY: tuple[SupportedTask, ...] = (
    T.TEXT_CLASSIFICATION,
    T.EMBEDDING,
    T.MULTIMODAL_REASONING,
    T.IMAGE_CAPTIONING,
    T.IMAGE_GENERATION,
    T.AUDIO_TRANSCRIPTION,
    T.AUDIO_GENERATION,
    T.TRANSLATION,
    T.RAG,
    T.QUESTION_ANSWERING,
    T.SUMMARIZATION,
    T.CODE_COMPLETION,
    T.TEXT_GENERATION,
    T.CHAT,
    T.CODE_GENERATION,
)

_TYPE_OF_PRIMARY: dict[SupportedTask, ModelType] = {
    T.TEXT_GENERATION: ModelType.INTERFACE_MODEL,
    T.CHAT: ModelType.INTERFACE_MODEL,
    T.QUESTION_ANSWERING: ModelType.KNOWLEDGE_MODEL,
    T.RAG: ModelType.KNOWLEDGE_MODEL,
    T.SUMMARIZATION: ModelType.KNOWLEDGE_MODEL,
    T.EMBEDDING: ModelType.EMBEDDING_MODEL,
    T.MULTIMODAL_REASONING: ModelType.MULTIMODAL_MODEL,
    T.IMAGE_CAPTIONING: ModelType.MULTIMODAL_MODEL,
}


# --- purpose detectors --------------------------------------------------------------------


def _is_reranker(s: _Signals) -> bool:
    return bool(s.pipeline == "text-ranking" or s.named("rerank") or s.any_tag(_RERANK))


def _is_reward(s: _Signals) -> bool:
    if s.named("reward"):
        return True
    # A "reward model" tag on a chat model with a text-generation pipeline names how it was
    # trained (Starling-LM, Storm: RLAIF against a reward model), not what it is.
    if s.tags & _REWARD_TAGS and not (
        s.pipeline == "text-generation" and "conversational" in s.tags
    ):
        return True
    if s.library == "safe-rlhf" and s.named("cost"):
        return True
    # "UltraRM", "ArmoRM": a CamelCase reward-model name, unless the name is a policy
    # trained against such a model ("Mistral7B-PairRM-SPPO").
    return s.named("camel_rm") and not _chat_in_name(s)


def _is_generative_evaluator(s: _Signals) -> bool:
    if s.named("guard") or s.any_tag(_GUARD_OWN_TAG):
        return True
    return "content moderation" in s.tags or "llm safety" in s.tags


def _embedding_evidence(s: _Signals) -> bool:
    return bool(
        s.library in {"sentence-transformers", "open_clip"}
        or s.has("sentence-similarity", "sentence-transformers", "mteb", "clip", "siglip")
        or s.pipeline == "zero-shot-image-classification"
        or "embedding" in s.caps
        or s.named("embed")
        or s.arch(r"^(clip|siglip)")
    )


def _llm_family(s: _Signals) -> bool:
    # (the "llm" name rule is read here only, and only without a family tag: detect_columns
    # runs it over those rows alone)
    if s.tags & _LLM_FAMILY_TAGS or s.named("llm"):
        return True
    return any(_name_re("llm").search(b.rsplit("/", 1)[-1]) for b in s.base_models)


def _is_headless_llm(s: _Signals) -> bool:
    """A decoder LLM saved without its head: the Hub calls it feature-extraction."""
    return _llm_family(s) and not _embedding_evidence(s)


def _is_embedding(s: _Signals) -> bool:
    if "embedding" in s.caps or s.library in {"sentence-transformers", "open_clip"}:
        return True
    if s.pipeline == "zero-shot-image-classification" or s.arch(r"^(clip|siglip)"):
        return True
    if s.pipeline in _EMBEDDING_PIPELINES:
        return not _is_headless_llm(s)
    encoder_arch = any(
        a.endswith("model") and a.removesuffix("model") in _ENCODER_FAMILIES for a in s.archs
    )
    if encoder_arch:
        return True
    decoder_headless = any(
        a.endswith("model") and not a.endswith(("lmheadmodel", "ttsmodel")) for a in s.archs
    )
    if decoder_headless and _llm_family(s):
        return _embedding_evidence(s)
    if not s.pipeline or s.pipeline in _EMBEDDING_PIPELINES:
        return s.named("embed") or "sentence-transformers" in s.tags
    return False


def _image_input(s: _Signals) -> bool:
    if s.has(*_IMAGE_INPUT) or "vision" in s.caps or s.arch(_VISION_ARCH):
        return True
    if s.tags & _VLM_FAMILY_TAGS:
        return True
    if s.tags & {"multimodal", "vision", "vlm", "image-captioning"} and s.pipeline not in (
        _GENERATION_PIPELINES | _MEDIA_GEN_PIPELINES
    ):
        return True
    if s.pipeline in ("", "text-generation") and not s.tags & {"text-generation"}:
        return s.named("vision") or _ollama_vision_family(s)
    return False


def _ollama_vision_family(s: _Signals) -> bool:
    """Ollama families whose single model layer also reads images (no projector layer)."""
    if s.named("ollama_vision"):
        return True
    return s.named("gemma3") and not s.named("gemma3_small")


def _audio_input(s: _Signals) -> bool:
    return (
        s.has("automatic-speech-recognition", "audio-text-to-text", "audio")
        or s.named("audio")
        or s.arch(_AUDIO_LLM_ARCH)
    )


def _is_multimodal(s: _Signals) -> bool:
    if s.has(*_VLM_PIPELINES) or "vision" in s.caps or s.arch(_AUDIO_LLM_ARCH):
        return True
    if s.pipeline in _MEDIA_GEN_PIPELINES:  # makes images/sound from a prompt: not read
        return False
    if s.tags & _VLM_FAMILY_TAGS:
        return True
    if s.pipeline == "image-to-text":
        return s.has("image-text-to-text") or _llm_family(s)
    if s.pipeline in _ASR_PIPELINES:  # a speech LLM, not a plain recogniser
        return s.has("visual-question-answering", "image-text-to-text", "text-generation")
    return _image_input(s)


def _is_image_generation(s: _Signals) -> bool:
    return bool(
        s.has(*_IMAGE_GEN_PIPELINES, "image-generation", "stable-diffusion")
        or s.library == "diffusers"
        or s.any_tag(_DIFFUSERS_TAG)
    )


def _is_asr(s: _Signals) -> bool:
    return (
        s.pipeline in _ASR_PIPELINES
        or (not s.pipeline and s.named("whisper"))
        or s.arch(r"whisper|forctc|speechseq2seq|speechtotext")
    )


def _whisper_translates(s: _Signals) -> bool:
    """Whisper's multilingual checkpoints also translate speech into English."""
    whisper = s.named("whisper") or "whisper" in s.tags or s.arch(_WHISPER_ARCH)
    return whisper and not s.named("english")


def _is_audio_generation(s: _Signals) -> bool:
    return (
        s.pipeline in _TTS_PIPELINES
        or s.arch(r"texttospeech|bark|vits|musicgen")
        or (s.library == "diffusers" and s.any_tag(_DIFFUSERS_AUDIO_TAG))
    )


def _is_translation(s: _Signals) -> bool:
    return bool(s.has("translation") or s.arch(r"marianmt|m2m100|nllb") or s.named("translation"))


def _is_rag(s: _Signals) -> bool:
    return bool(
        s.has("rag", "retrieval-augmented-generation") or s.named("rag") or s.named("rag_upper")
    )


def _is_qa(s: _Signals) -> bool:
    return bool(s.has(*_QA_PIPELINES) or s.arch(r"forquestionanswering") or s.named("qa"))


def _is_summarization(s: _Signals) -> bool:
    return bool(s.has("summarization") or s.named("summary"))


def _is_code_model(s: _Signals) -> bool:
    return bool(s.tags & _CODE_TAGS) or s.named("code_start") or s.named("code_end")


def _is_extractive(s: _Signals) -> bool:
    """An encoder that picks answers out of a text; it does not generate."""
    if s.arch(r"forquestionanswering"):
        return True
    return bool(s.tags & _ENCODER_FAMILIES) and not _generative(s)


def _seq2seq(s: _Signals) -> bool:
    return bool(s.tags & _SEQ2SEQ_FAMILIES) or s.arch(
        r"^(t5|mt5|umt5|bart|mbart|pegasus|led|longt5)forconditionalgeneration"
    )


def _generative(s: _Signals) -> bool:
    """Any evidence that the model generates text."""
    return bool(
        s.has(*_GENERATION_PIPELINES, "text-generation-inference", "causal-lm", "gguf")
        or s.library in _LLM_LIBRARIES
        or s.library == "peft"
        or "completion" in s.caps
        or s.arch(r"forcausallm|lmheadmodel|forconditionalgeneration")
        or _llm_family(s)
        or s.named("quant")
    )


# --- chat ---------------------------------------------------------------------------------


def _chat_in_name(s: _Signals) -> bool:
    return s.named("chat")


def _chat_evidence(s: _Signals, chat_template: bool | None) -> bool | None:
    """What the model's own metadata says about chat: True, False (a base model), or None
    (nothing: a derived model then takes its base's word)."""
    if _chat_in_name(s):
        return True
    if s.named("base") or "pretrained" in s.tags or chat_template is False:
        return False
    if chat_template or s.has(*_CHAT_TAGS) or s.caps & {"tools", "thinking"}:
        return True
    if "completion" in s.caps:  # Ollama's library tags point at instruct builds
        return True
    if any(_CHAT_DATA.search(d) for d in s.datasets):
        return True
    return None


# --- one model ----------------------------------------------------------------------------


def _own_tasks(s: _Signals, chat_template: bool | None) -> tuple[SupportedTask, ...]:
    """Tasks from the model's own metadata (its base models only by their ids)."""
    found: list[SupportedTask] = []
    generative = _generative(s)

    if _is_reranker(s) or _is_reward(s) or s.pipeline in _CLASSIFICATION_PIPELINES:
        found.append(T.TEXT_CLASSIFICATION)
        if _is_generative_evaluator(s) and not _is_reranker(s):
            found.append(T.TEXT_GENERATION)
        return tuple(found)
    if _is_generative_evaluator(s) and generative:
        return (T.TEXT_CLASSIFICATION, T.TEXT_GENERATION)
    if s.arch(r"for(sequence|token)classification"):
        return (T.TEXT_CLASSIFICATION,)
    if _is_embedding(s):
        return (T.EMBEDDING,)

    if _is_multimodal(s):
        found.append(T.MULTIMODAL_REASONING)
        if _image_input(s) or not _audio_input(s):
            found.append(T.IMAGE_CAPTIONING)
        if _audio_input(s) or s.has("automatic-speech-translation"):
            found.append(T.AUDIO_TRANSCRIPTION)
        if s.named("omni") or s.has(*_TTS_PIPELINES):
            found.append(T.AUDIO_GENERATION)
        if s.library == "diffusers" or s.has("image-generation", "text-to-image"):
            found.append(T.IMAGE_GENERATION)
        generative = True
    elif s.pipeline == "image-to-text":
        return (T.IMAGE_CAPTIONING,)
    elif _is_audio_generation(s):
        return (T.AUDIO_GENERATION,)
    elif _is_image_generation(s):
        return (T.IMAGE_GENERATION,)
    elif _is_asr(s):
        if _whisper_translates(s):
            return (T.AUDIO_TRANSCRIPTION, T.TRANSLATION)
        return (T.AUDIO_TRANSCRIPTION,)
    elif _is_translation(s):
        found.append(T.TRANSLATION)
    elif _is_rag(s) or _is_qa(s):
        if _is_rag(s):
            found.append(T.RAG)
        if _is_qa(s) or s.has("question-answering"):
            found.append(T.QUESTION_ANSWERING)
        if _is_extractive(s):
            return tuple(found)
        generative = True
    elif _is_summarization(s) and (s.has("summarization") or _seq2seq(s)):
        found.append(T.SUMMARIZATION)
    elif _is_code_model(s) and (generative or not s.pipeline):
        found += [T.CODE_GENERATION, T.CODE_COMPLETION]
        generative = True

    if generative or found:
        found.append(T.TEXT_GENERATION)
        if _seq2seq(s) and s.named("seq2seq"):
            found += [T.SUMMARIZATION, T.TRANSLATION]
        if s.has("summarization"):
            found.append(T.SUMMARIZATION)
        if s.has("translation"):
            found.append(T.TRANSLATION)
        chat = _chat_evidence(s, chat_template)
        if chat is None:
            chat = any(_BASE_CHAT.search(b) for b in s.base_models)
        if chat:
            found.append(T.CHAT)
        if "code" in s.tags or "insert" in s.caps:
            found.append(T.CODE_GENERATION)
    return tuple(dict.fromkeys(found))


def _type_of(tasks: Sequence[SupportedTask], s: _Signals) -> ModelType | None:
    kind = _classify(tasks)
    if kind in (ModelType.INTERFACE_MODEL, ModelType.MULTIMODAL_MODEL) and s.named("one_job"):
        return ModelType.SPECIALIZED_MODEL  # made for one job (tool calling, extraction...)
    return kind


def _classify(ordered: Sequence[SupportedTask]) -> ModelType | None:
    if not ordered:
        return None
    primary = ordered[0]
    if T.MULTIMODAL_REASONING in ordered and primary not in (T.TEXT_CLASSIFICATION, T.EMBEDDING):
        return ModelType.MULTIMODAL_MODEL
    return _TYPE_OF_PRIMARY.get(primary, ModelType.SPECIALIZED_MODEL)
