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
   ``any-to-any``, VQA, Ollama ``vision``, projector layers, vision-language architecture
   tags such as ``mistral3``/``qwen2_vl``/``llava``, ``-VL``/``vision`` names) ->
   ``multimodal-reasoning``, ``image-captioning`` (image input), ``text-generation``, plus
   ``audio-transcription`` / ``audio-generation`` / ``image-generation`` when declared.
   A plain ``image-to-text`` captioner only gets ``image-captioning``. (Image
   classifiers, detectors and fill-mask encoders match no task of the seed's list: ``()``.)
4. **generation from a prompt** of another medium -> ``image-generation`` for what is
   seen (``text-to-image``, ``image-to-image``, ``text-to-video``, ``image-to-video``,
   ``text-to-3d``..., diffusers) and ``audio-generation`` for what is heard
   (``text-to-speech``, ``text-to-audio``, music; diffusers audio pipelines), only that
   task; **speech recognition** (``automatic-speech-recognition``, Whisper) ->
   ``audio-transcription``, plus ``translation`` for Whisper's multilingual checkpoints
   (Whisper translates speech into English; ``.en`` and Distil-Whisper checkpoints are
   English-only); and **translation** (``translation`` tag, Marian/NLLB/M2M, translation
   LLMs such as Tower).
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

Every rule that reads a name reads the part after the last ``/`` through one of the
patterns of :data:`NAME_PATTERNS` (no look-arounds, so RE2 reads them as Python does: see
:func:`detect_columns`, the same rules over a whole table).

Derived models (``base_model:`` tags, card data ``base_model``)
----------------------------------------------------------------
A fine-tune, quantization, adapter or merge of another model (``base_model:finetune:org/x``,
``base_model:quantized:...``, ``base_model:adapter:...``, ``base_model:merge:...``, or
``base_models`` from the card) takes from its base what its own metadata does not say:

- **type and purpose**: when its own evidence finds nothing, or only a general LLM
  (``interface``), it takes its base's purpose tasks and type (a quantized copy of an
  embedder is an embedder; a fine-tune of a coder is a code model; anything of a reward
  model is an evaluator). A general LLM base adds nothing to a model that already
  generates text. A fine-tune or merge that generates text does not take a base's vision
  (text-only fine-tunes of vision models are common); a quantized copy or an adapter
  does, as may a record with no evidence of its own at all.
- **chat**: when its own metadata says neither chat nor base, it chats if a base does.
- a **merge** (or several bases) takes a purpose only where every base is known and all
  agree on the type and primary task; chat where any base chats.

What a base answers: in a collection (:func:`annotate_all`, a team catalog) the record of
that id, as annotated (through its own bases in turn); otherwise the name rules applied
to the base's id (``Qwen/Qwen2.5-Coder-7B-Instruct`` is a chat code model,
``openai/whisper-small`` a speech recogniser, ``BAAI/bge-m3`` an embedder).

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
  guards, judges), translation, speech recognition, generation of images, video, 3D,
  speech, music and audio from a prompt (never ``multimodal``: they make one medium, they
  do not read it together with text), code-only models, and models made for one job
  (tool/function calling: Firefunction, NexusRaven, Groq Tool-Use, xLAM, Functionary;
  extraction: NuExtract; HTML to Markdown: reader-lm), whose tasks read as a chat or
  multimodal model's.

Given an unordered set, tasks are ranked by a fixed priority first (see ``_PRIORITY``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..types import ModelMetadata, ModelType, SupportedTask

__all__ = [
    "HUB_PIPELINE_TAGS",
    "NAME_PATTERNS",
    "OLLAMA_CAPABILITIES",
    "Answer",
    "Coded",
    "TaskFilter",
    "annotate",
    "annotate_all",
    "capabilities_from_media_types",
    "classify_model_type",
    "detect_columns",
    "detect_model",
    "detect_rows",
    "detect_tasks",
    "name_rule_bits",
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
# Generation from a prompt (or from an image) of another medium: "visual" media (images,
# video, 3D) -> image-generation; sound (speech, music, audio) -> audio-generation.
_IMAGE_GEN_PIPELINES = {
    "text-to-image",
    "image-to-image",
    "unconditional-image-generation",
    "text-to-video",
    "image-to-video",
    "video-to-video",
    "text-to-3d",
    "image-to-3d",
}
_ASR_PIPELINES = {"automatic-speech-recognition"}
_TTS_PIPELINES = {"text-to-speech", "text-to-audio", "text-to-music"}
_MEDIA_GEN_PIPELINES = _IMAGE_GEN_PIPELINES | _TTS_PIPELINES

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
# config.json ``model_type`` values of vision(/audio)-language architectures: the checkpoint
# carries the vision tower, so the model reads images whatever its pipeline tag says.
# ("gemma3" is not here: the Hub also puts it on the text-only 270m/1b checkpoints.)
_VLM_FAMILY_TAGS = {
    "mistral3", "llava", "llava_next", "llava_onevision", "llava_next_video", "mllama",
    "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "qwen2_5_omni", "qwen3_omni_moe",
    "idefics2", "idefics3", "paligemma", "smolvlm", "internvl", "internvl_chat", "gemma3n",
    "llama4", "kimi_vl", "glm4v", "glm4v_moe", "minicpmv", "phi4mm", "pixtral", "aria",
    "molmo", "florence2", "cogvlm",
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
_ENCODER_FAMILIES = {
    "bert", "roberta", "xlm-roberta", "xlmroberta", "mpnet", "distilbert", "deberta",
    "deberta-v2", "debertav2", "electra", "albert", "camembert", "nomic_bert", "nomicbert",
    "modernbert", "new", "jina_bert", "jinabert", "xlm_roberta",
}  # fmt: skip
_SEQ2SEQ_FAMILIES = {"t5", "mt5", "umt5", "byt5", "bart", "mbart", "pegasus", "led", "longt5"}
_GUARD_WORDS = r"guard|shieldgemma|moderation|minicheck|judge|prometheus|evaluator"
_RERANK = re.compile(r"rerank|cross-encoder")
_REWARD_TAGS = {
    "reward model", "reward-model", "reward_model", "reward", "rm", "preference model",
    "reward modeling", "multimodal reward model",
}  # fmt: skip
_VISION_ARCH = re.compile(
    r"llava|vl(?:for|model|chat)|vision|mllama|idefics|paligemma|blip|kosmos|fuyu|internvl"
    r"|imagetexttotext|vision2seq|pixtral|minicpmv|gemma3forconditionalgeneration|gemma3n"
    r"|omni|^aria|smolvlm"
)
_AUDIO_LLM_ARCH = r"audio.*forconditionalgeneration|omni"
_CODE_TAGS = {"qwen-coder", "codeqwen", "coder", "starcoder2", "gpt_bigcode", "code-instruct"}
_CHAT_TAGS = {"conversational", "chat", "instruct", "chatml", "instruction-tuned"}
_CHAT_DATA = re.compile(r"instruct|chat|dpo|sharegpt|ultrafeedback|sft|orca|alpaca|capybara")
_BASE_CHAT = re.compile(r"instruct|chat|(?<![a-z])it$|sft|dpo")  # a base model's id says chat
# a guard word in a tag of the model's own (not a base_model: or dataset: tag)
_GUARD_OWN_TAG = re.compile(r"^(?!base_model:|dataset:).*?(?:" + _GUARD_WORDS + ")", re.S)
_DIFFUSERS_TAG = re.compile(r"^diffusers:(?!.*audio)", re.S)
_DIFFUSERS_AUDIO_TAG = re.compile(r"^diffusers:.*audio", re.S)
_WHISPER_ARCH = re.compile("whisper")

# --- name rules ---------------------------------------------------------------------------
# Every rule that reads the model's name (the part after the last "/", lower-cased unless
# said) is one of these patterns. They are written without look-arounds or back-references
# so that the same text means the same thing to Python's ``re`` and to RE2 (pyarrow),
# which runs them over a whole catalog column at once (:func:`detect_columns`). A token is
# a run of characters between separators (``-_./:`` and whitespace).

_S = r"[-_./: \t\n\r\f\v]"  # a separator
_N = r"[^-_./: \t\n\r\f\v]"  # a character of a token
_B = rf"(?:^|{_S})"  # a token starts here
_E = rf"(?:{_S}|$)"  # a token ends here


def _tokens(*words: str) -> str:
    """A whole token that is one of ``words``."""
    return rf"{_B}(?:{'|'.join(words)}){_E}"


def _llm_prefixes() -> str:
    # short prefixes ("opt", "phi", "yi") count only as a whole token or before a digit
    parts = [p if len(p) >= 4 else rf"{p}(?:[0-9]|{_S}|$)" for p in _LLM_NAME_PREFIXES]
    return rf"{_B}(?:{'|'.join(parts)})"


_CHAT_TOKENS = (
    "it", "sft", "rlhf", "rl", "ipo", "kto", "simpo", "sppo", "grpo", "thinking", "hermes",
    "dolphin", "zephyr", "vicuna", "guanaco", "tulu", "openchat", "rp",
)  # fmt: skip

#: name -> (pattern, whether it reads the original case); see the comment above
NAME_PATTERNS: dict[str, tuple[str, bool]] = {
    # read by most rows' rules (general LLMs): every row of a catalog gets these
    "llm": (rf"{_llm_prefixes()}|{_tokens('llm')}", False),
    "chat": (
        # instruct/chat words; chat-family tokens; Mistral AI's "-stral" models (Codestral,
        # Mathstral...) other than "mistral" itself, which ship as instruct
        r"instruct|chat|dpo|orpo|assistant|wizard|dolphin|"
        + _tokens(*_CHAT_TOKENS)
        + rf"|{_B}(?:{_N}?|[^-_./: \t\n\r\f\vm]{_N}|m[^-_./: \t\n\r\f\vi]|{_N}{{3,}})stral{_E}",
        False,
    ),
    "base": (
        _tokens("base", "pt", "pretrain", "pretrained", "text")
        + "|^(?:starcoder|santacoder|yarn-)",
        False,
    ),
    "quant": (r"gguf|ggml|gptq|awq|exl2", False),
    # purposes: few rows match any of these
    "rerank": (_RERANK.pattern, False),
    "reward": (_tokens("rm", "orm", "prm", "reward", "rewardmodel"), False),
    "cost": (_tokens("cost", "reward"), False),  # safe-rlhf's cost and reward models
    "camel_rm": (rf"[a-z]RM{_E}", True),  # "UltraRM", "ArmoRM"
    "guard": (_GUARD_WORDS, False),
    "embed": (
        r"embed|minilm|mpnet|paraphrase|(?:^|[^a-z0-9])(?:e5|gte|bge|sbert|simcse|colbert)"
        r"(?:[^a-z]|$)|voyage|llm2vec|sentence-t5|sentence-transformers",
        False,
    ),
    "vision": (
        r"(?:^|[^a-z])vlm?(?:[^a-z]|$)|[0-9]vl|vl[0-9]|vision|llava|moondream|minicpm-v|idefics"
        r"|paligemma|pixtral|fuyu|kosmos|internvl|cogvlm|molmo|smolvlm|florence"
        # the Mistral 3 generation reads images (Mistral Small 3.0 did not)
        r"|mistral-small-3\.[12]|mistral-large-3|ministral-3-",
        False,
    ),
    # Ollama families whose single model layer also reads images (no projector layer):
    # gemma3 from 4b up (1b and 270m are text-only), Mistral Small 3.1/3.2, Llama 4
    "ollama_vision": (r"^(?:mistral-small3\.[12]|llama4)(?::|$)", False),
    "gemma3": (r"^gemma3(?::|$)", False),
    "gemma3_small": (r"^gemma3:(?:1b|270m)", False),
    "audio": (r"omni|whisper|audio", False),
    "omni": (r"omni", False),
    "whisper": (r"whisper", False),
    # English-only Whisper checkpoints (".en"; Distil-Whisper is English-only too)
    "english": (_tokens("en") + "|distil", False),
    "translation": (rf"opus-mt|marian|nllb|m2m100|madlad|translat|{_B}tower", False),
    "rag": (_tokens("rag") + "|chatqa", False),
    "rag_upper": (r"(?:^|[^A-Z])RAG(?:[^A-Z]|$)", True),
    "qa": (_tokens("qa") + "|squad|chatqa", False),
    "summary": (r"summar|pegasus|(?:^|[^a-z])(?:cnn|xsum|samsum)(?:[^a-z]|$)", False),
    "code_start": (rf"{_B}(?:code|starcoder|santacoder|codestral|devstral|sql|nsql)", False),
    # a token ending in code/coder/codes(+digits), but not the words encode(r)/decode(r)
    # ("cross-encoder", "encoder-decoder" are architectures, not code models)
    "code_end": (
        rf"code(?:s[0-9]*|r?[0-9]+){_E}|{_B}(?:{_N}?|[^-_./: \t\n\r\f\ved]{_N}"
        rf"|e[^-_./: \t\n\r\f\vn]|d[^-_./: \t\n\r\f\ve]|{_N}{{3,}})coder?{_E}",
        False,
    ),
    "seq2seq": (r"flan|(?:^|[^a-z])t0|^t5-", False),
    # made for one job (tool/function calling, extraction, HTML to Markdown): specialised
    "one_job": (
        r"tool[-_]?(?:use|call)|function[-_]?call|firefunction|functionary|nexusraven|xlam"
        r"|openfunctions|nuextract|reader-lm|" + _tokens("fc"),
        False,
    ),
}
#: the name rules every row needs; the others are read only where one of them can match
COMMON_NAME_RULES = ("llm", "chat")


@functools.cache
def _name_re(rule: str) -> re.Pattern[str]:
    """The compiled name rule (compiled on first use: importing stays quick)."""
    return re.compile(NAME_PATTERNS[rule][0])


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

#: what detection answers for one model: its tasks (most important first) and its type
Answer = tuple[tuple[SupportedTask, ...], ModelType | None]
#: how a derived model relates to its base ("" when the record does not say)
_CARRIED = frozenset({"quantized", "adapter"})  # the base's own weights, run as they are


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


def _answer(
    s: _Signals, chat_template: bool | None, base_answers: Sequence[Answer | None] = ()
) -> Answer:
    """The model's tasks and type: its own evidence first; where that is silent, what its
    base model(s) answer (``base_answers``, one per ``s.bases``, None where unknown)."""
    tasks = _own_tasks(s, chat_template)
    kind = _type_of(tasks, s)
    if not s.bases:
        return tasks, kind
    known = [a for a in base_answers if a is not None and a[0]]
    parent = _parent(s, base_answers)
    if parent is not None and kind in (None, ModelType.INTERFACE_MODEL):
        p_tasks, p_kind = parent
        carried = all(relation in _CARRIED for _, relation in s.bases)
        # A fine-tune or merge that says it generates text has left its base's vision
        # behind unless its own metadata shows it (a quantized copy or an adapter runs the
        # base's own weights).
        left_vision = p_kind is ModelType.MULTIMODAL_MODEL and bool(tasks) and not carried
        if (
            p_kind is not None
            and (p_kind is not ModelType.INTERFACE_MODEL or not tasks)
            and not left_vision
        ):
            tasks, kind = _combine(p_tasks, tasks), p_kind
    evaluator = bool(tasks) and tasks[0] is T.TEXT_CLASSIFICATION
    if (
        known
        and T.TEXT_GENERATION in tasks
        and T.CHAT not in tasks
        and not evaluator
        and _chat_evidence(s, chat_template) is None
        and any(T.CHAT in a[0] for a in known)
    ):
        tasks = (*tasks, T.CHAT)
    return tasks, kind


def _parent(s: _Signals, base_answers: Sequence[Answer | None]) -> Answer | None:
    """The one answer a derived model inherits from: its base's; for a merge (or several
    bases), the bases' answer where they all agree on the type and primary task."""
    answers = list(base_answers)
    if not answers:
        return None
    merged = len(answers) > 1 or any(relation == "merge" for _, relation in s.bases)
    first = answers[0]
    if not merged:
        return first if first is not None and first[0] else None
    if any(a is None or not a[0] for a in answers):
        return None
    assert first is not None
    same = all(a is not None and a[1] == first[1] and a[0][0] is first[0][0] for a in answers)
    return first if same else None


def _combine(
    parent: tuple[SupportedTask, ...], own: tuple[SupportedTask, ...]
) -> tuple[SupportedTask, ...]:
    """The base's purpose with the model's own generation tasks."""
    if T.TEXT_GENERATION not in parent or parent[0] is T.TEXT_CLASSIFICATION:
        return parent  # evaluators, embedders, speech and image models: the base's tasks
    cut = parent.index(T.TEXT_GENERATION)
    rest = own or tuple(t for t in parent[cut:] if t is not T.CHAT)
    return tuple(dict.fromkeys((*parent[:cut], *rest)))


@functools.lru_cache(maxsize=4096)
def _by_name(base_id: str) -> Answer:
    """What name rules alone say about a base model that is not in the collection."""
    return _answer(_Signals.build(None, (), None, (), (), base_id), None)


#: how a caller resolves base model ids (lower-cased): a mapping, or a function; None
#: where the id is unknown (name rules then decide)
BaseResolver = Mapping[str, Answer] | Callable[[str], Answer | None]


def _resolved(s: _Signals, bases: BaseResolver | None) -> list[Answer | None]:
    out: list[Answer | None] = []
    for base_id, _ in s.bases:
        found = None
        if bases is not None:
            found = bases(base_id) if callable(bases) else bases.get(base_id)
        out.append(found if found is not None else _by_name(base_id))
    return out


# --- public API ---------------------------------------------------------------------------


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
    gives ``()``. The rules are in this module's docstring.

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
    """The seed's coarse class of a model with these tasks (rules in the module docstring).

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


def _id_index(ids: Iterable[str | None]) -> dict[str, int]:
    """Lower-cased id -> its first row."""
    index: dict[str, int] = {}
    for i, model_id in enumerate(ids):
        if model_id:
            index.setdefault(model_id.lower(), i)
    return index


def _resolve_all(
    ids: Sequence[str | None],
    signals: Callable[[int], _Signals],
    chat_template: Callable[[int], bool | None],
    settle: Callable[[int, Answer], Answer],
    *,
    index: Mapping[str, int] | None = None,
    known: Callable[[int], Answer | None] | None = None,
    rows: Iterable[int] | None = None,
) -> list[Answer]:
    """The answer of every row of a collection (or of ``rows``), bases resolved within it.

    ``settle(i, detected)`` is row ``i``'s final answer (what the record states wins);
    ``index`` maps lower-cased ids to rows (built from ``ids`` if not given); ``known(i)``
    answers rows already answered elsewhere (None: not known). Depth first, without
    recursion (chains of merges can be long).
    """
    if index is None:
        index = _id_index(ids)
    done: dict[int, Answer] = {}
    on_stack: set[int] = set()

    def finished(i: int) -> bool:
        if i in done:
            return True
        answer = known(i) if known is not None else None
        if answer is not None:
            done[i] = answer
        return answer is not None

    def base_rows(i: int) -> list[int | None]:
        return [
            j if (j := index.get(base_id)) is not None and j != i else None
            for base_id, _ in signals(i).bases
        ]

    wanted = list(range(len(ids)) if rows is None else rows)
    for root in wanted:
        stack = [root]
        while stack:
            i = stack[-1]
            if finished(i):
                stack.pop()
                on_stack.discard(i)
                continue
            links = base_rows(i)
            if i not in on_stack:
                on_stack.add(i)
                todo = [j for j in links if j is not None and not finished(j) and j not in on_stack]
                if todo:
                    stack.extend(reversed(todo))
                    continue
            s = signals(i)
            answers: list[Answer | None] = []
            for (base_id, _), j in zip(s.bases, links, strict=True):
                if j is None:
                    answers.append(_by_name(base_id))
                elif finished(j):
                    answers.append(done[j])
                else:  # a cycle: that record answers from its own metadata
                    answers.append(settle(j, _answer(signals(j), chat_template(j))))
            done[i] = settle(i, _answer(s, chat_template(i), answers))
            stack.pop()
            on_stack.discard(i)
    return [done[i] for i in wanted]


# --- a whole table at once ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Coded:
    """One column of a table as ``codes`` (one int per row, -1 where empty) into
    ``values`` (each distinct value once): how catalogs hold columns whose values repeat."""

    codes: Any  # numpy int array
    values: Sequence[Any]

    @classmethod
    def of(cls, column: Sequence[Any]) -> Coded:
        """A Python column (None where empty; lists are read as tuples) coded."""
        import numpy as np

        index: dict[Any, int] = {}
        values: list[Any] = []
        codes = np.empty(len(column), dtype=np.int64)
        for i, value in enumerate(column):
            if value is None:
                codes[i] = -1
                continue
            if isinstance(value, list):
                value = tuple(value)
            try:
                code = index.get(value)
            except TypeError:  # unhashable: a value of its own
                code = None
                index_key = None
            else:
                index_key = value
            if code is None:
                code = len(values)
                values.append(value)
                if index_key is not None:
                    index[index_key] = code
            codes[i] = code
        return cls(codes, values)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> Any:
        code = int(self.codes[i])
        return None if code < 0 else self.values[code]


_COLUMNS = (
    "pipeline_tags",
    "tags",
    "libraries",
    "architectures",
    "capabilities",
    "chat_templates",
    "base_models",
    "tasks",
    "model_types",
)


class _Table:
    """The inputs of :func:`detect_columns` / :func:`detect_rows`, row by row."""

    def __init__(self, names: Any, columns: Mapping[str, Any]) -> None:
        self.names: Sequence[str] = _Names(names)
        n = len(self.names)
        self.columns: dict[str, Coded] = {}
        for key in _COLUMNS:
            column = columns.get(key)
            if column is None:
                continue
            coded = column if isinstance(column, Coded) else Coded.of(list(column))
            if len(coded) != n:
                raise ValueError(f"{key} has {len(coded)} rows, names has {n}")
            self.columns[key] = coded

    def value(self, key: str, i: int) -> Any:
        column = self.columns.get(key)
        return None if column is None else column[i]

    def signals(self, i: int) -> _Signals:
        v = self.value
        return _Signals.build(
            v("pipeline_tags", i),
            v("tags", i) or (),
            v("libraries", i),
            v("architectures", i) or (),
            v("capabilities", i) or (),
            self.names[i],
            v("base_models", i) or (),
        )

    def signals_of(self, rows: Any) -> list[_Signals]:
        """:meth:`signals` of many rows (each column's values looked up at once)."""
        keys = ("pipeline_tags", "tags", "libraries", "architectures", "capabilities")
        picked = []
        for key in (*keys, "base_models"):
            column = self.columns.get(key)
            if column is None:
                picked.append([None] * len(rows))
            else:
                values = column.values
                picked.append([None if c < 0 else values[c] for c in column.codes[rows].tolist()])
        return [
            _Signals.build(p, t or (), lib, a or (), c or (), self.names[i], b or ())
            for i, p, t, lib, a, c, b in zip(rows.tolist(), *picked, strict=True)
        ]

    def chat_template(self, i: int) -> bool | None:
        flag = self.value("chat_templates", i)
        return flag if isinstance(flag, bool) else None

    def settle(self, i: int, answer: Answer) -> Answer:
        """What the row states wins: its tasks replace detection (its type, or the type of
        those tasks); its type replaces the detected one."""
        given = self.value("tasks", i)
        kind = self.value("model_types", i)
        if given:
            tasks = tuple(SupportedTask.parse(t) for t in given)
            return tasks, kind or _type_of(
                tasks, _Signals.build(None, (), None, (), (), self.names[i])
            )
        return (answer[0], kind or answer[1]) if kind else answer


class _Names(Sequence[str]):
    """Names as a sequence of str ("" where missing), read from Arrow only where asked."""

    def __init__(self, names: Any) -> None:
        self._arrow = names if hasattr(names, "to_pylist") else None
        self._list = None if self._arrow is not None else list(names)
        self._n = len(names)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        value = self._arrow[i].as_py() if self._arrow is not None else self._list[i]  # type: ignore[index]
        return value if isinstance(value, str) else ""


def detect_rows(names: Any, **columns: Any) -> list[Answer]:
    """The reference for :func:`detect_columns`: the same answers, one row at a time.

    Each row is :func:`detect_model` of its values; with ``collection=True`` (the default)
    base models that are rows of the table (by id, lower-cased) are resolved within it as
    :func:`annotate_all` does. ``tasks`` and ``model_types`` are what the rows state
    (a team catalog's own columns): given tasks replace detection, a given type wins.
    """
    collection = columns.pop("collection", True)
    table = _Table(names, columns)
    if collection:
        return _resolve_all(table.names, table.signals, table.chat_template, table.settle)
    out = []
    for i in range(len(table.names)):
        s = table.signals(i)
        out.append(table.settle(i, _answer(s, table.chat_template(i), _resolved(s, None))))
    return out


def detect_columns(names: Any, **columns: Any) -> tuple[Any, list[Answer]]:
    """Tasks and model types of a whole table, answered column-wise: ``(codes, answers)``,
    row ``i``'s answer being ``answers[codes[i]]``. Identical to :func:`detect_rows`.

    ``names`` (the ids: a list or a pyarrow string array) and, each optional and aligned
    with it, ``pipeline_tags``, ``tags``, ``libraries``, ``architectures``, ``capabilities``,
    ``chat_templates``, ``base_models``, ``tasks`` and ``model_types`` (what the rows state),
    each a :class:`Coded` column or a Python sequence; ``collection`` as in detect_rows;
    ``name_bits``: :func:`name_rule_bits` of ``names`` if the caller has it already.

    How: the name rules (:data:`NAME_PATTERNS`) run over the name column with RE2 (pyarrow):
    the ones most rows need over every row, the others only where their union matches.
    Rows that are alike to the rules (the same other columns as the rules read them, the
    same answer from every name rule) get the same answer, so each such group is answered
    once, by its first row, with the per-row rules. Rows whose base models are rows of the
    table are answered one by one, as detect_rows does; so are names that are not ASCII
    (where RE2 and Python could lower-case differently).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    collection = columns.pop("collection", True)
    given_bits = columns.pop("name_bits", None)
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    arrow = names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
    arrow = pc.fill_null(arrow.cast(pa.string()), "")
    table = _Table(arrow, columns)
    n = len(table.names)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []

    # the "llm" name rule matters only to rows without an LLM family tag (_llm_family)
    tags = table.columns.get("tags")
    family = np.zeros(n, dtype=bool)
    if tags is not None and len(tags.values):
        has = np.array([bool(_tag_signals(v)[0] & _LLM_FAMILY_TAGS) for v in tags.values])
        family = np.where(tags.codes < 0, False, has[np.maximum(tags.codes, 0)])
    if given_bits is not None:  # computed by the caller, while it read other columns
        word, ascii_names = given_bits
        word = np.where(family, word & ~np.int64(1 << COMMON_NAME_RULES.index("llm")), word)
    else:
        word, ascii_names = name_rule_bits(arrow, skip_llm=family)
    key = np.zeros(n, dtype=np.int64)
    span = 1  # key < span

    def combine(key: Any, codes: Any) -> Any:
        """``key`` and ``codes`` as one int64 (mixed radix; renumbered where it would not fit)."""
        nonlocal span
        codes = np.asarray(codes, dtype=np.int64) + 1
        radix = int(codes.max(initial=0)) + 1
        if span * radix >= 2**62:
            key, uniques = pd.factorize(key)
            key = key.astype(np.int64)
            span = max(len(uniques), 1)
        span *= radix
        return key * radix + codes

    # tags and base models as the rules read them: the tag words, the chat datasets, and
    # each base's relation and what its id says (for rows whose bases are not in the table)
    pairs, first_of_pair = _factorized(_pair_key(table, n))
    read = []
    pair_bases: list[tuple[tuple[str, str], ...]] = []
    for row in first_of_pair.tolist():
        tag_set, tag_bases, datasets = _tag_signals(table.value("tags", row) or ())
        bases = _base_pairs(tag_bases, table.value("base_models", row) or ())
        pair_bases.append(bases)
        read.append((tag_set, datasets, _bases_read(bases)))
    key = combine(key, pd.factorize(pd.Series(read, dtype=object))[0][pairs])
    for name, coded in table.columns.items():
        if name not in ("tags", "base_models"):
            key = combine(key, coded.codes)
    key = combine(key, word)
    odd = np.flatnonzero(~ascii_names)
    if odd.size:  # a group of its own each
        key[odd] = key.max() + 1 + np.arange(odd.size)
    codes, first = _factorized(key)

    answers: list[Answer] = []
    rules = [*COMMON_NAME_RULES, *_RARE_NAME_RULES]
    # the name rules' answers for each group's first row, from the passes above
    seen = ((word[first][:, None] >> np.arange(len(rules))) & 1).astype(bool).tolist()
    for row, s, bits in zip(first.tolist(), table.signals_of(first), seen, strict=True):
        if ascii_names[row]:
            s._seen.update(zip(rules, bits, strict=True))
        answers.append(table.settle(row, _answer(s, table.chat_template(row), _resolved(s, None))))
    if collection:
        codes, answers = _within_table(table, arrow, codes, answers, pairs, pair_bases)
    return codes, answers


def _codes(table: _Table, name: str, n: int) -> Any:
    import numpy as np

    coded = table.columns.get(name)
    return coded.codes if coded is not None else np.full(n, -1, dtype=np.int64)


def _pair_key(table: _Table, n: int) -> Any:
    """One int per row for its (tags, base_models) pair of codes."""
    tags = _codes(table, "tags", n) + 1
    bases = _codes(table, "base_models", n) + 1
    return tags * (int(bases.max(initial=0)) + 1) + bases


def _factorized(key: Any) -> tuple[Any, Any]:
    """``(codes, first row of each code)``, codes numbered in order of first appearance."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(key)
    codes = codes.astype(np.int64)
    first = np.full(len(uniques), len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return codes, first


def _bases_read(bases: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
    """What the per-row rules read of a row's base models when none is in the table: each
    base's relation and answer by name, whether one names an LLM family or chat."""
    return (
        tuple((relation, _by_name(base)) for base, relation in bases),
        any(_name_re("llm").search(base.rsplit("/", 1)[-1]) for base, _ in bases),
        any(_BASE_CHAT.search(base) for base, _ in bases),
    )


#: the name rules most rows do not need (read only where their union matches), in groups
#: whose unions narrow the rows each rule runs over
_RARE_NAME_RULES: tuple[str, ...] = tuple(r for r in NAME_PATTERNS if r not in COMMON_NAME_RULES)
_RARE_CLUSTERS: tuple[tuple[str, ...], ...] = (
    ("base", "quant", "seq2seq", "english", "one_job"),
    ("rerank", "reward", "cost", "camel_rm", "guard", "embed"),
    ("vision", "ollama_vision", "gemma3", "gemma3_small", "audio", "omni", "whisper"),
    ("translation", "rag", "rag_upper", "qa", "summary"),
    ("code_start", "code_end"),
)


def name_rule_bits(names: Any, skip_llm: Any = None) -> tuple[Any, Any]:
    """``(word, ascii)``: per row, one bit per name rule (COMMON_NAME_RULES, then the
    others in NAME_PATTERNS order) as RE2 reads them, and whether the name is ASCII.
    The "llm" rule is left 0 where ``skip_llm`` (rows that never read it)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(names)
    raw = _after_last_slash(names)
    low = pc.utf8_lower(raw)
    present = pc.greater(pc.binary_length(raw), 0).to_numpy(zero_copy_only=False)
    ascii_names = pc.string_is_ascii(names).to_numpy(zero_copy_only=False)
    bit_of = {rule: bit for bit, rule in enumerate((*COMMON_NAME_RULES, *_RARE_NAME_RULES))}
    word = np.zeros(n, dtype=np.int64)

    def search(pattern: str, text: Any, rows: Any) -> Any:
        """Where ``pattern`` matches ``text`` among ``rows`` (None: every row)."""
        if rows is not None:
            text = text.take(pa.array(rows, pa.int64()))
        return pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False)

    def rule_bits(rule: str, rows: Any) -> Any:
        pattern, original_case = NAME_PATTERNS[rule]
        return search(pattern, raw if original_case else low, rows).astype(np.int64) << bit_of[rule]

    def union(rules: tuple[str, ...]) -> str:
        return "|".join(f"(?:{_lower_superset(rule)})" for rule in rules)

    everyone = None if present.all() else np.flatnonzero(present)
    at = slice(None) if everyone is None else everyone
    for rule in COMMON_NAME_RULES:
        if rule == "llm" and skip_llm is not None and skip_llm.any():
            rows = np.flatnonzero(present & ~skip_llm)
            if rows.size:
                word[rows] |= rule_bits(rule, rows)
            continue
        word[at] |= rule_bits(rule, everyone)
    hit = search(union(_RARE_NAME_RULES), low, everyone)
    some = np.flatnonzero(hit) if everyone is None else everyone[hit]
    for cluster in _RARE_CLUSTERS:
        if not some.size:
            break
        rows = some[search(union(cluster), low, some)]
        for rule in cluster:
            if rows.size:
                word[rows] |= rule_bits(rule, rows)
    return word, ascii_names


def _after_last_slash(names: Any) -> Any:
    """``name.rsplit("/", 1)[-1]`` of every name (a pyarrow string array)."""
    import pyarrow.compute as pc

    parts = pc.split_pattern(names, "/", reverse=True, max_splits=1)
    offsets = parts.offsets.to_numpy()
    return parts.flatten().take(offsets[1:] - 1 - offsets[0])


def _lower_superset(rule: str) -> str:
    """A pattern over the lower-cased name that matches wherever ``rule`` can."""
    pattern, original_case = NAME_PATTERNS[rule]
    if not original_case:
        return pattern
    return {"camel_rm": rf"[a-z]rm{_E}", "rag_upper": "rag"}[rule]


def _within_table(
    table: _Table,
    ids: Any,
    codes: Any,
    answers: list[Answer],
    pairs: Any,
    pair_bases: list[tuple[tuple[str, str], ...]],
) -> tuple[Any, list[Answer]]:
    """Rows whose base models are rows of the table, answered one by one (as detect_rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = sorted({base for bases in pair_bases for base, _ in bases})
    if not wanted:
        return codes, answers
    lower = pc.utf8_lower(ids)
    hits = np.flatnonzero(
        pc.is_in(lower, value_set=pa.array(wanted, pa.string())).to_numpy(zero_copy_only=False)
    )
    if not hits.size:
        return codes, answers
    index: dict[str, int] = {}
    for row, model_id in zip(hits.tolist(), lower.take(pa.array(hits)).to_pylist(), strict=True):
        index.setdefault(model_id, row)
    linked_pairs = np.array([any(b in index for b, _ in bases) for bases in pair_bases])
    linked = linked_pairs[pairs]
    rows = np.flatnonzero(linked)
    if not rows.size:
        return codes, answers

    def known(i: int) -> Answer | None:
        return None if linked[i] else answers[int(codes[i])]

    resolved = _resolve_all(
        table.names,
        table.signals,
        table.chat_template,
        table.settle,
        index=index,
        known=known,
        rows=rows.tolist(),
    )
    codes = codes.copy()
    codes[rows] = len(answers) + np.arange(rows.size)
    return codes, [*answers, *resolved]


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
#: pipeline tags narrower than the seed task they map to (video and 3D models are among the
#: image generators): ``task="text-to-video"`` filters by the pipeline tag itself
_NARROWER_THAN_TASK = frozenset(
    {"text-to-video", "image-to-video", "video-to-video", "text-to-3d", "image-to-3d"}
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
    from ..errors import ConfigurationError

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
        if mapped and word not in _NARROWER_THAN_TASK:
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
