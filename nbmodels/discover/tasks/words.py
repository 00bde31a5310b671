"""The words task detection reads: the vocabularies of pipeline tags, tags, libraries and
architectures, and the name rules (:data:`NAME_PATTERNS`), the regular expressions every
rule that reads a model's name goes through (see :mod:`nbmodels.discover.tasks`)."""

from __future__ import annotations

import functools
import re

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
