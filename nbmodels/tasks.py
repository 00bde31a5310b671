"""Detect what a model can do, and what kind of model it is, from its metadata.

Nothing here downloads or loads a model: the input is the metadata a source already has
(the Hub's ``pipeline_tag``, ``tags``, ``library_name``, ``architectures`` from
config.json; Ollama's ``capabilities`` and model names). Rules are hand written because
no library maps these signals to the seed's task list; they were measured against
hand-labelled real records (``tests/data/task_labels.csv``, scored in ``tests/test_tasks.py``).

How tasks are decided
---------------------
First the model's *purpose* is settled, strongest evidence first; the purpose's tasks come
first in the result, then any further tasks the metadata declares:

1. **evaluator**: reward / preference / cost models, rerankers, judges, guard (moderation)
   and fact-check models -> ``text-classification``. Generative evaluators (guards, judges)
   also get ``text-generation``; evaluators never get ``chat`` (they grade, not talk).
   Purpose wins over modality: a vision-language reward model or reranker is an evaluator.
2. **embedding**: sentence-transformers, feature-extraction / sentence-similarity with some
   embedding evidence, embedding names (``embed``, ``e5``, ``bge``, ``gte``, ``minilm``...),
   CLIP-style image/text embedders, Ollama ``embedding`` capability -> ``embedding`` only.
   A decoder LLM family (``qwen2``, ``llama``...) whose only embedding evidence is the
   Hub's auto-derived ``feature-extraction`` is a headless LLM checkpoint, not an embedder.
3. **multimodal**: image/video/audio together with text (``image-text-to-text``,
   ``any-to-any``, VQA, Ollama ``vision``, projector layers, ``-VL``/``vision`` names) ->
   ``multimodal-reasoning``, ``image-captioning`` (image input), ``text-generation``, plus
   ``audio-transcription`` / ``audio-generation`` / ``image-generation`` when declared.
   A plain ``image-to-text`` captioner only gets ``image-captioning``. (Image
   classifiers, detectors and fill-mask encoders match no task of the seed's list: ``()``.)
4. **image generation** (``text-to-image``, ``image-to-image``, diffusers), **speech**
   (``automatic-speech-recognition``, Whisper; ``text-to-speech``) and **translation**
   (``translation`` tag, Marian/NLLB/M2M, translation LLMs such as Tower).
5. **rag**, **question answering**, **summarization** when the model is built for them
   (pipeline tag, tags, ``RAG``/``ChatQA``/``squad`` names). Extractive QA models (encoders,
   ``*ForQuestionAnswering``) get only ``question-answering``; generative ones also
   ``text-generation``.
6. **code models** (``coder``, ``codellama``, ``codegemma``, ``starcoder``, ``codestral``,
   ``sqlcoder``... or a ``code``-family tag) -> ``code-generation``, ``code-completion``,
   ``text-generation``. A general LLM whose card merely declares the ``code`` tag gets
   ``code-generation`` as an extra task but stays a general model.
7. **general LLM**: any text-generation evidence (pipeline, tags, LLM runtimes such as
   vLLM/MLX/GGUF, ``*ForCausalLM``, LLM family tags like ``llama``/``qwen2``, PEFT adapters,
   Ollama ``completion``) -> ``text-generation``. T5-style encoder-decoders trained on
   translation and summarisation (Flan-T5, T5, T0) also get those two tasks.

``chat`` is added to generative models that are instruction/chat tuned: ``conversational``,
``chat`` or ``instruct`` tags; ``instruct``/``chat``/``it``/``sft``/``dpo``/``orpo``...
name tokens; chat families (Hermes, Dolphin, Zephyr, Vicuna, Tulu, Wizard...); a
``base_model`` or dataset that is instruction/chat data; Ollama ``tools``/``thinking``
capabilities, or ``completion`` (Ollama's library tags point at instruct builds); a chat
template (``chat_template=True``). Base hints (``base``, ``pt``, ``pretrained``, StarCoder,
Ollama ``-text`` tags) and a known missing template (``chat_template=False``: a GGUF
without ``tokenizer.chat_template``, an Ollama manifest without a template layer) remove
it unless the name itself says instruct/chat. Mistral AI's ``-stral`` models (Codestral,
Mathstral...) count as instruct.

How the model type is decided (``classify_model_type``)
-------------------------------------------------------
From the *primary* (first) task, so the purpose above decides:

- ``multimodal``: primary task ``multimodal-reasoning``/``image-captioning`` (vision or
  audio together with text, including speech-capable LLMs).
- ``embedding``: primary task ``embedding`` (vector models, CLIP included).
- ``knowledge``: primary task ``question-answering``, ``rag`` or ``summarization``
  (extractive QA, RAG-tuned and QA-focused models, summarisers).
- ``interface``: primary task ``text-generation`` or ``chat`` (chat and general LLMs,
  base LLMs, math and roleplay models, general text2text models such as Flan-T5).
- ``specialized``: everything else: classifiers and evaluators (reward models, rerankers,
  guards, judges), translation, speech, image generation, code-only models.

Given an unordered set, tasks are ranked by a fixed priority first (see ``_PRIORITY``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .types import ModelMetadata, ModelType, SupportedTask

__all__ = [
    "HUB_PIPELINE_TAGS",
    "OLLAMA_CAPABILITIES",
    "TaskFilter",
    "annotate",
    "capabilities_from_media_types",
    "classify_model_type",
    "detect_tasks",
    "resolve_task",
]

T = SupportedTask

# --- vocabularies -------------------------------------------------------------------------

_GENERATION_PIPELINES = {"text-generation", "text2text-generation", "conversational"}
_CLASSIFICATION_PIPELINES = {
    "text-classification",
    "token-classification",
    "zero-shot-classification",
    "text-ranking",
}
_EMBEDDING_PIPELINES = {"feature-extraction", "sentence-similarity"}
_QA_PIPELINES = {"question-answering", "table-question-answering"}
_VLM_PIPELINES = {
    "image-text-to-text",
    "visual-question-answering",
    "document-question-answering",
    "video-text-to-text",
    "any-to-any",
    "audio-text-to-text",
}
_IMAGE_INPUT = {
    "image-text-to-text",
    "visual-question-answering",
    "document-question-answering",
    "video-text-to-text",
    "any-to-any",
    "image-to-text",
}
_IMAGE_GEN_PIPELINES = {"text-to-image", "image-to-image", "unconditional-image-generation"}
_ASR_PIPELINES = {"automatic-speech-recognition"}
_TTS_PIPELINES = {"text-to-speech", "text-to-audio"}

# Runtimes and formats that only host generative LLMs (unless other evidence says otherwise).
_LLM_LIBRARIES = {
    "vllm",
    "mlx",
    "mlx-lm",
    "gguf",
    "llama.cpp",
    "mistral-common",
    "grok",
    "exllamav2",
    "ctransformers",
    "llamafile",
    "mlc-llm",
    "adapter-transformers",
}
# config.json ``model_type`` values the Hub copies into tags: decoder-only LLM families.
_LLM_FAMILY_TAGS = {
    "llama", "llama4_text", "mistral", "mixtral", "qwen", "qwen2", "qwen2_moe", "qwen3",
    "qwen3_moe", "gemma", "gemma2", "gemma3_text", "phi", "phi3", "phi3small", "phimoe",
    "phi-msft", "falcon", "falcon3", "falcon_mamba", "gpt2", "gpt_neox", "gptj", "gpt_neo",
    "opt", "bloom", "mpt", "stablelm", "starcoder2", "gpt_bigcode", "olmo", "olmo2",
    "olmoe", "internlm", "internlm2", "deepseek", "deepseek_v2", "deepseek_v3", "cohere",
    "cohere2", "granite", "granitemoe", "granitemoehybrid", "exaone", "chatglm", "glm",
    "glm4", "glm4_moe", "baichuan", "jamba", "mamba", "mamba2", "rwkv", "nemotron",
    "nemotron_h", "minicpm", "smollm3", "gpt_oss", "kimi_k2", "recurrent_gemma", "xglm",
    "persimmon", "dbrx", "arcee", "hunyuan", "ernie4_5", "seed_oss", "apertus", "openlm",
    "gpt",
}  # fmt: skip
# Name prefixes of LLM families, for records with no tags at all (Ollama names).
_LLM_NAME_PREFIXES = (
    "llama", "mistral", "mixtral", "qwen", "qwq", "gemma", "phi", "falcon", "yi", "deepseek",
    "olmo", "granite", "smollm", "tinyllama", "vicuna", "zephyr", "hermes", "nous-hermes",
    "dolphin", "orca", "wizard", "solar", "starling", "openchat", "command", "aya", "exaone",
    "internlm", "glm", "chatglm", "baichuan", "gpt", "opt", "bloom", "pythia", "nemotron",
    "mathstral", "magistral", "cogito", "tulu", "stablelm", "openhermes", "neural-chat",
    "grok", "guanaco",
)  # fmt: skip
# Short prefixes ("opt", "phi", "yi") only count as a whole token or before a digit.
_LLM_NAME = re.compile(
    "^(?:" + "|".join(p if len(p) >= 4 else rf"{p}(?:\d|$)" for p in _LLM_NAME_PREFIXES) + ")"
)
_ENCODER_FAMILIES = {
    "bert", "roberta", "xlm-roberta", "xlmroberta", "mpnet", "distilbert", "deberta",
    "deberta-v2", "debertav2", "electra", "albert", "camembert", "nomic_bert", "nomicbert",
    "modernbert", "new", "jina_bert", "jinabert", "xlm_roberta",
}  # fmt: skip
_SEQ2SEQ_FAMILIES = {"t5", "mt5", "umt5", "byt5", "bart", "mbart", "pegasus", "led", "longt5"}

_EMBED_NAME = re.compile(
    r"embed|minilm|mpnet|paraphrase|(?<![a-z0-9])(?:e5|gte|bge|sbert|simcse|colbert)(?![a-z])"
    r"|voyage|llm2vec|sentence-t5|sentence-transformers"
)
_RERANK = re.compile(r"rerank|cross-encoder")
_GUARD = re.compile(r"guard|shieldgemma|moderation|minicheck|judge|prometheus|evaluator")
_REWARD_TOKENS = {"rm", "orm", "prm", "reward", "rewardmodel", "reward-model"}
_REWARD_TAGS = {
    "reward model", "reward-model", "reward_model", "reward", "rm", "preference model",
    "reward modeling", "multimodal reward model",
}  # fmt: skip
_VISION_NAME = re.compile(
    r"(?<![a-z])vlm?(?![a-z])|\dvl|vl\d|vision|llava|moondream|minicpm-v|idefics|paligemma"
    r"|pixtral|fuyu|kosmos|internvl|cogvlm|molmo|smolvlm|florence"
)
_VISION_ARCH = re.compile(
    r"llava|vl(?:for|model|chat)|vision|mllama|idefics|paligemma|blip|kosmos|fuyu|internvl"
    r"|imagetexttotext|vision2seq|pixtral|minicpmv|gemma3forconditionalgeneration|gemma3n"
    r"|omni|^aria|smolvlm"
)
_AUDIO_LLM_ARCH = r"audio.*forconditionalgeneration|omni"
_CODE_TOKEN = re.compile(
    r"^(?:code|starcoder|santacoder|codestral|devstral|sql|nsql)|code[rs]?\d*$"
)
_CODE_TAGS = {"qwen-coder", "codeqwen", "coder", "starcoder2", "gpt_bigcode", "code-instruct"}
_CHAT_TOKENS = {
    "it", "sft", "rlhf", "rl", "ipo", "kto", "simpo", "sppo", "grpo", "thinking", "hermes",
    "dolphin", "zephyr", "vicuna", "guanaco", "tulu", "openchat", "rp",
}  # fmt: skip
_CHAT_SUBSTRINGS = ("instruct", "chat", "dpo", "orpo", "assistant", "wizard", "dolphin")
_CHAT_TAGS = {"conversational", "chat", "instruct", "chatml", "instruction-tuned"}
_CHAT_DATA = re.compile(r"instruct|chat|dpo|sharegpt|ultrafeedback|sft|orca|alpaca|capybara")
_BASE_TOKENS = {"base", "pt", "pretrain", "pretrained", "text"}
_BASE_FAMILIES = ("starcoder", "santacoder", "yarn-")

_TOKEN_SPLIT = re.compile(r"[-_./:\s]+")
_CHAT_SUBSTRING = re.compile("|".join(map(re.escape, _CHAT_SUBSTRINGS)))
_CAMEL_RM = re.compile(r"[a-z]RM$")
_CODER_WORD = re.compile(r"(en|de)cod(e|er|ers|ing)")
# a guard word in a tag of the model's own (not a base_model: or dataset: tag)
_GUARD_OWN_TAG = re.compile(r"^(?!base_model:|dataset:).*?(?:" + _GUARD.pattern + ")", re.S)
_DIFFUSERS_TAG = re.compile(r"^diffusers:(?!.*audio)", re.S)

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


def _tag_signals(tags: Any) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """The tag set, base models and datasets of ``tags`` (tag lists repeat across a
    catalog, so hashable ones are read once)."""
    if isinstance(tags, tuple | str | frozenset):
        try:
            return _tag_signals_cached(tags)
        except TypeError:  # a tuple holding something unhashable
            pass
    return _read_tags(tags)


def _read_tags(tags: Any) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    tag_list = _strings(tags)
    return (
        frozenset(tag_list),
        tuple(t.rsplit(":", 1)[-1] for t in tag_list if t.startswith("base_model:")),
        tuple(t.removeprefix("dataset:") for t in tag_list if t.startswith("dataset:")),
    )


_tag_signals_cached = functools.lru_cache(maxsize=16384)(_read_tags)


@dataclasses.dataclass(frozen=True, slots=True)
class _Signals:
    pipeline: str
    tags: frozenset[str]
    library: str
    archs: tuple[str, ...]
    caps: frozenset[str]
    name: str  # lower-cased full name
    model: str  # lower-cased part after the last "/" (Ollama: "llama3.1:8b")
    raw_model: str  # same, original case
    tokens: frozenset[str]
    base_models: tuple[str, ...]
    datasets: tuple[str, ...]

    @classmethod
    def build(
        cls,
        pipeline_tag: Any,
        tags: Any,
        library: Any,
        architectures: Any,
        capabilities: Any,
        name: Any,
    ) -> _Signals:
        tag_set, base_models, datasets = _tag_signals(tags)
        raw_name = name if isinstance(name, str) else ""
        raw_model = raw_name.rsplit("/", 1)[-1]
        model = raw_model.lower()
        return cls(
            pipeline=pipeline_tag.strip().lower() if isinstance(pipeline_tag, str) else "",
            tags=tag_set,
            library=library.strip().lower() if isinstance(library, str) else "",
            archs=tuple(_strings(architectures)),
            caps=frozenset(_strings(capabilities)),
            name=raw_name.lower(),
            model=model,
            raw_model=raw_model,
            tokens=frozenset(t for t in _TOKEN_SPLIT.split(model) if t),
            base_models=base_models,
            datasets=datasets,
        )

    def has(self, *labels: str) -> bool:
        """Whether the pipeline tag or any tag is one of ``labels``."""
        return self.pipeline in labels or not self.tags.isdisjoint(labels)

    def arch(self, pattern: str) -> bool:
        return bool(self.archs) and any(re.search(pattern, a) for a in self.archs)

    def any_tag(self, pattern: re.Pattern[str]) -> bool:
        """Whether ``pattern`` occurs in any tag (tag sets repeat: answered once per set)."""
        return bool(self.tags) and _any_tag(pattern, self.tags)


@functools.lru_cache(maxsize=8192)
def _any_tag(pattern: re.Pattern[str], tags: frozenset[str]) -> bool:
    return any(pattern.search(t) for t in tags)


# --- purpose detectors --------------------------------------------------------------------


def _is_reranker(s: _Signals) -> bool:
    return bool(s.pipeline == "text-ranking" or _RERANK.search(s.model) or s.any_tag(_RERANK))


def _is_reward(s: _Signals) -> bool:
    if s.tokens & _REWARD_TOKENS or s.tags & _REWARD_TAGS:
        return True
    if s.library == "safe-rlhf" and s.tokens & {"cost", "reward"}:
        return True
    # "UltraRM", "ArmoRM": a CamelCase reward-model name, unless the name is a policy
    # trained against such a model ("Mistral7B-PairRM-SPPO").
    camel = "RM" in s.raw_model and any(
        _CAMEL_RM.search(t) for t in _TOKEN_SPLIT.split(s.raw_model)
    )
    return camel and not _chat_in_name(s)


def _is_generative_evaluator(s: _Signals) -> bool:
    if _GUARD.search(s.model) or s.any_tag(_GUARD_OWN_TAG):
        return True
    return "content moderation" in s.tags or "llm safety" in s.tags


def _embedding_evidence(s: _Signals) -> bool:
    return bool(
        s.library in {"sentence-transformers", "open_clip"}
        or s.has("sentence-similarity", "sentence-transformers", "mteb", "clip", "siglip")
        or s.pipeline == "zero-shot-image-classification"
        or "embedding" in s.caps
        or _EMBED_NAME.search(s.model)
        or s.arch(r"^(clip|siglip)")
    )


def _llm_family(s: _Signals) -> bool:
    if s.tags & _LLM_FAMILY_TAGS:
        return True
    head = s.model.split(":", 1)[0]
    if _LLM_NAME.match(head) or "llm" in s.tokens:
        return True
    names = [*s.tokens, *(b.rsplit("/", 1)[-1] for b in s.base_models)]
    return any(_LLM_NAME.match(n) for n in names)


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
        return bool(_EMBED_NAME.search(s.model) or "sentence-transformers" in s.tags)
    return False


def _image_input(s: _Signals) -> bool:
    if s.has(*_IMAGE_INPUT) or "vision" in s.caps or s.arch(_VISION_ARCH.pattern):
        return True
    if s.tags & {"multimodal", "vision", "vlm", "image-captioning"} and s.pipeline not in (
        _GENERATION_PIPELINES | _IMAGE_GEN_PIPELINES
    ):
        return True
    if s.pipeline in ("", "text-generation") and not s.tags & {"text-generation"}:
        return bool(_VISION_NAME.search(s.model)) or _ollama_vision_family(s)
    return False


def _ollama_vision_family(s: _Signals) -> bool:
    """Ollama families whose single model layer also reads images (no projector layer)."""
    family, _, tag = s.model.partition(":")
    if family == "gemma3":  # 4b and up take images; 1b and 270m are text-only
        return not re.match(r"(1b|270m)", tag)
    return family in {"mistral-small3.1", "mistral-small3.2", "llama4"}


def _audio_input(s: _Signals) -> bool:
    return (
        s.has("automatic-speech-recognition", "audio-text-to-text", "audio")
        or bool(re.search(r"omni|whisper|audio", s.model))
        or s.arch(_AUDIO_LLM_ARCH)
    )


def _is_multimodal(s: _Signals) -> bool:
    if s.has(*_VLM_PIPELINES) or "vision" in s.caps or s.arch(_AUDIO_LLM_ARCH):
        return True
    if s.pipeline == "image-to-text":
        return s.has("image-text-to-text") or _llm_family(s)
    if s.pipeline in _ASR_PIPELINES:  # a speech LLM, not a plain recogniser
        return s.has("visual-question-answering", "image-text-to-text", "text-generation")
    return _image_input(s) and not s.pipeline.startswith(("text-to-", "image-to-image"))


def _is_image_generation(s: _Signals) -> bool:
    return bool(
        s.has(*_IMAGE_GEN_PIPELINES, "image-generation", "stable-diffusion")
        or s.library == "diffusers"
        or s.any_tag(_DIFFUSERS_TAG)
    )


def _is_asr(s: _Signals) -> bool:
    return (
        s.pipeline in _ASR_PIPELINES
        or (not s.pipeline and "whisper" in s.model)
        or s.arch(r"whisper|forctc|speechseq2seq|speechtotext")
    )


def _is_tts(s: _Signals) -> bool:
    return s.pipeline in _TTS_PIPELINES or s.arch(r"texttospeech|bark|vits|musicgen")


def _is_translation(s: _Signals) -> bool:
    return bool(
        s.has("translation")
        or s.arch(r"marianmt|m2m100|nllb")
        or re.search(r"opus-mt|marian|nllb|m2m100|madlad|translat", s.model)
        or any(t.startswith("tower") for t in s.tokens)
    )


def _is_rag(s: _Signals) -> bool:
    return bool(
        s.has("rag", "retrieval-augmented-generation")
        or "rag" in s.tokens
        or re.search(r"(?<![A-Z])RAG(?![A-Z])", s.raw_model)
        or "chatqa" in s.model
    )


def _is_qa(s: _Signals) -> bool:
    return bool(
        s.has(*_QA_PIPELINES)
        or s.arch(r"forquestionanswering")
        or "qa" in s.tokens
        or re.search(r"squad|chatqa", s.model)
    )


def _is_summarization(s: _Signals) -> bool:
    return bool(
        s.has("summarization")
        or re.search(r"summar|pegasus|(?<![a-z])(cnn|xsum|samsum)(?![a-z])", s.model)
    )


def _is_code_model(s: _Signals) -> bool:
    # "cross-encoder", "encoder-decoder" are architectures, not code models.
    if s.tags & _CODE_TAGS:
        return True
    return any(_CODE_TOKEN.search(t) and not _CODER_WORD.fullmatch(t) for t in s.tokens)


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
        or re.search(r"gguf|ggml|gptq|awq|exl2", s.model)
    )


# --- chat ---------------------------------------------------------------------------------


def _chat_in_name(s: _Signals) -> bool:
    # Mistral AI's "-stral" models (Codestral, Mathstral, Magistral...) ship as instruct.
    mistral_ai = "stral" in s.model and any(
        t.endswith("stral") and t != "mistral" for t in s.tokens
    )
    # a substring of a token is a substring of the name (tokens hold no separators)
    return mistral_ai or bool(s.tokens & _CHAT_TOKENS) or bool(_CHAT_SUBSTRING.search(s.model))


def _base_in_name(s: _Signals) -> bool:
    return bool(s.tokens & _BASE_TOKENS) or s.model.startswith(_BASE_FAMILIES)


def _is_chat(s: _Signals, chat_template: bool | None) -> bool:
    if _chat_in_name(s):
        return True
    if _base_in_name(s) or "pretrained" in s.tags or chat_template is False:
        return False
    if chat_template or s.has(*_CHAT_TAGS) or s.caps & {"tools", "thinking"}:
        return True
    if "completion" in s.caps:  # Ollama's library tags point at instruct builds
        return True
    if any(re.search(r"instruct|chat|(?<![a-z])it$|sft|dpo", b) for b in s.base_models):
        return True
    return any(_CHAT_DATA.search(d) for d in s.datasets)


# --- public API ---------------------------------------------------------------------------


def detect_tasks(
    *,
    pipeline_tag: str | None = None,
    tags: Iterable[str] | str | None = (),
    library: str | None = None,
    architectures: Iterable[str] | str | None = (),
    capabilities: Iterable[str] | str | None = (),
    name: str | None = "",
    chat_template: bool | None = None,
) -> tuple[SupportedTask, ...]:
    """Tasks a model supports, most important first, without duplicates.

    Every argument may be missing, ``None`` or oddly typed (a comma-separated string of
    tags, an unknown pipeline tag): what cannot be read is ignored. No evidence at all
    gives ``()``. The rules are in this module's docstring.

    ``chat_template`` is whether the model ships a chat template (a GGUF's
    ``tokenizer.chat_template``; ``False`` for an Ollama manifest without a template
    layer): ``True`` counts as chat evidence, ``False`` rules chat out unless the name
    says instruct/chat, ``None`` means unknown.
    """
    s = _Signals.build(pipeline_tag, tags, library, architectures, capabilities, name)
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
        if "omni" in s.model or s.has(*_TTS_PIPELINES):
            found.append(T.AUDIO_GENERATION)
        if s.library == "diffusers" or s.has("image-generation", "text-to-image"):
            found.append(T.IMAGE_GENERATION)
        generative = True
    elif s.pipeline == "image-to-text":
        return (T.IMAGE_CAPTIONING,)
    elif _is_image_generation(s):
        return (T.IMAGE_GENERATION,)
    elif _is_asr(s):
        return (T.AUDIO_TRANSCRIPTION,)
    elif _is_tts(s):
        return (T.AUDIO_GENERATION,)
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
        if _seq2seq(s) and re.search(r"flan|(?<![a-z])t0|^t5-", s.model):
            found += [T.SUMMARIZATION, T.TRANSLATION]
        if s.has("summarization"):
            found.append(T.SUMMARIZATION)
        if s.has("translation"):
            found.append(T.TRANSLATION)
        if _is_chat(s, chat_template):
            found.append(T.CHAT)
        if "code" in s.tags or "insert" in s.caps:
            found.append(T.CODE_GENERATION)
    return tuple(dict.fromkeys(found))


def classify_model_type(
    tasks: Iterable[SupportedTask | str] | None,
    *,
    tags: Iterable[str] | None = (),
    name: str | None = "",
) -> ModelType | None:
    """The seed's coarse class of a model with these tasks (rules in the module docstring).

    ``tasks`` in a list or tuple are taken as ordered, most important first (as
    :func:`detect_tasks` returns them); any other iterable is ranked by ``_PRIORITY``.
    Unknown task strings are ignored; no tasks gives ``None``. ``tags`` and ``name`` are
    accepted for callers that have them; the tasks already carry their evidence.
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
    primary = ordered[0]
    if T.MULTIMODAL_REASONING in ordered and primary not in (T.TEXT_CLASSIFICATION, T.EMBEDDING):
        return ModelType.MULTIMODAL_MODEL
    return _TYPE_OF_PRIMARY.get(primary, ModelType.SPECIALIZED_MODEL)


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


def annotate(meta: ModelMetadata, *, capabilities: Iterable[str] = ()) -> ModelMetadata:
    """``meta`` with ``tasks`` and ``model_type`` filled in from its other fields.

    Tasks already on ``meta`` are kept first; a ``model_type`` already set is kept.
    Without ``capabilities``, ``meta.extra["capabilities"]`` (Ollama's) is used if present.
    """
    caps = tuple(capabilities or ()) or tuple(_strings(meta.extra.get("capabilities")))
    tasks = detect_tasks(
        chat_template=_chat_template(meta.extra),
        pipeline_tag=meta.pipeline_tag,
        tags=meta.tags,
        library=meta.library,
        architectures=meta.architectures,
        capabilities=caps,
        name=meta.id,
    )
    tasks = tuple(dict.fromkeys((*meta.tasks, *tasks)))
    model_type = meta.model_type or classify_model_type(tasks, tags=meta.tags, name=meta.id)
    return dataclasses.replace(meta, tasks=tasks, model_type=model_type)


# -- a task as people type it ----------------------------------------------------------------

#: every pipeline tag of the Hugging Face Hub (its task list), as the ``pipeline_tag`` column
#: shows them; no library exports this list, so it is written out here
HUB_PIPELINE_TAGS = frozenset(
    """text-generation text2text-generation text-classification token-classification
    table-question-answering question-answering zero-shot-classification translation
    summarization feature-extraction sentence-similarity fill-mask text-ranking
    conversational image-text-to-text visual-question-answering document-question-answering
    video-text-to-text any-to-any audio-text-to-text image-to-text image-classification
    object-detection image-segmentation depth-estimation text-to-image image-to-image
    unconditional-image-generation image-to-video text-to-video video-classification
    zero-shot-image-classification mask-generation zero-shot-object-detection
    image-feature-extraction keypoint-detection image-to-3d text-to-3d
    automatic-speech-recognition audio-classification text-to-speech text-to-audio
    audio-to-audio voice-activity-detection tabular-classification tabular-regression
    time-series-forecasting reinforcement-learning robotics graph-ml
    visual-document-retrieval video-to-video""".split()  # noqa: SIM905 - a table
)
#: the capabilities Ollama's /api/show reports
OLLAMA_CAPABILITIES = frozenset(
    {"completion", "embedding", "vision", "tools", "insert", "thinking"}
)


@dataclasses.dataclass(frozen=True)
class TaskFilter:
    """What ``task=...`` asks for: a seed task, or a Hub pipeline tag / Ollama capability.

    A pipeline tag or capability that detection maps to seed tasks filters by its first
    (primary) task, so ``"feature-extraction"`` finds embedding models from every source;
    one that maps to none (``"image-classification"``, ``"tools"``) filters by the
    ``pipeline_tag`` column or by the tag, as the source spells it.
    """

    word: str  # what was asked, normalised
    task: SupportedTask | None = None  # the seed task rows must have, if any
    pipeline_tag: str | None = None  # else: rows with this pipeline tag
    tag: str | None = None  # else: rows with this tag (an Ollama capability)


def resolve_task(value: SupportedTask | str) -> TaskFilter:
    """The filter for ``value``: a :class:`SupportedTask` (value or name), any Hub pipeline
    tag, or an Ollama capability. Raises ConfigurationError naming the choices."""
    if isinstance(value, SupportedTask):
        return TaskFilter(value.value, task=value)
    from .errors import ConfigurationError

    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"A task is a word like 'text-generation', got {value!r}.")
    word = value.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        task = SupportedTask.parse(word)
    except ConfigurationError:
        task = None
    if task is not None:
        return TaskFilter(task.value, task=task)
    if word in HUB_PIPELINE_TAGS:
        mapped = detect_tasks(pipeline_tag=word)
        if mapped:
            return TaskFilter(word, task=mapped[0])
        return TaskFilter(word, pipeline_tag=word)
    if word in OLLAMA_CAPABILITIES:
        mapped = detect_tasks(capabilities=[word])
        if mapped:
            return TaskFilter(word, task=mapped[0])
        return TaskFilter(word, tag=word)
    import difflib

    choices = [t.value for t in SupportedTask]
    words = list(
        dict.fromkeys([*choices, *sorted(HUB_PIPELINE_TAGS), *sorted(OLLAMA_CAPABILITIES)])
    )
    close = difflib.get_close_matches(word, words, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ConfigurationError(
        f"Unknown task {value!r}.{hint} Use one of {', '.join(choices)}, a Hub pipeline tag "
        "(feature-extraction, image-classification...) or an Ollama capability (tools...)."
    )
