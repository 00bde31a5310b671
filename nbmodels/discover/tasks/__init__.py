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

Given an unordered set, tasks are ranked by a fixed priority first (see ``rules._PRIORITY``).

Modules
-------
``words`` (the vocabularies and the name rules), ``signals`` (a record's metadata as the
rules read it), ``rules`` (the purpose detectors and the type), ``inherit`` (derived
models, and base models resolved within a collection), ``detect`` (one model at a time:
:func:`detect_tasks`, :func:`annotate`...), ``columns`` (a whole table at once:
:func:`detect_columns`) and ``filter`` (:func:`resolve_task`). Everything other modules
use is importable from here.
"""

from __future__ import annotations

from .columns import Coded, detect_columns, detect_rows, name_rule_bits
from .columns import _after_last_slash as _after_last_slash
from .detect import _chat_template as _chat_template
from .detect import (
    annotate,
    annotate_all,
    capabilities_from_media_types,
    classify_model_type,
    detect_model,
    detect_tasks,
)
from .filter import HUB_PIPELINE_TAGS, OLLAMA_CAPABILITIES, TaskFilter, resolve_task
from .inherit import Answer
from .inherit import BaseResolver as BaseResolver
from .signals import TAG_WORDS as TAG_WORDS
from .words import COMMON_NAME_RULES as COMMON_NAME_RULES
from .words import NAME_PATTERNS
from .words import _name_re as _name_re

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
