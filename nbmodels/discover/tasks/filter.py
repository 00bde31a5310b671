"""A task as people type it: ``task=...`` as a seed task, a Hub pipeline tag or an
Ollama capability (:func:`resolve_task`)."""

from __future__ import annotations

import dataclasses

from ...types import SupportedTask
from .detect import detect_tasks

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
    from ...errors import ConfigurationError

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
