"""Records and enumerations of the seed design, as plain dataclasses and ``str`` enums.

The enum values are the strings users see in DataFrames and type in filters
(``task="text-generation"``), so every enum accepts its value or its member name,
case-insensitively: ``SupportedTask.parse("TEXT_GENERATION") is SupportedTask.TEXT_GENERATION``.

Records are lenient (unknown server keys go to ``extra``); strict validation happens only
where a person types values in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

__all__ = [
    "DownloadProgress",
    "DownloadStatus",
    "FileInfo",
    "ModelConfigTemplate",
    "ModelConfiguration",
    "ModelMetadata",
    "ModelRegistryEntry",
    "ModelSource",
    "ModelType",
    "PinnedFile",
    "SupportedTask",
]

_E = TypeVar("_E", bound="_ParseEnum")


class _ParseEnum(enum.StrEnum):
    """A ``str`` enum that parses its value or member name, case- and separator-insensitively."""

    @classmethod
    def parse(cls: type[_E], value: str | _E) -> _E:
        if isinstance(value, cls):
            return value
        from .errors import ConfigurationError

        if not isinstance(value, str):
            raise ConfigurationError(
                f"{cls.__name__} expects a string, got {type(value).__name__}: {value!r}"
            )
        key = value.strip().lower().replace("_", "-").replace(" ", "-")
        for member in cls:
            if key in (member.value, member.name.lower().replace("_", "-")):
                return member
        choices = ", ".join(m.value for m in cls)
        raise ConfigurationError(f"Unknown {cls.__name__} {value!r}. Choose one of: {choices}.")


class ModelSource(_ParseEnum):
    """Where a model was found."""

    HUGGING_FACE = "huggingface"
    OLLAMA = "ollama"
    LOCAL = "local"
    CUSTOM = "custom"


class ModelType(_ParseEnum):
    """The seed's coarse model classes."""

    INTERFACE_MODEL = "interface"  # chat / text generation, talks to users
    KNOWLEDGE_MODEL = "knowledge"  # question answering, RAG, summarisation
    EMBEDDING_MODEL = "embedding"  # vectors for search
    MULTIMODAL_MODEL = "multimodal"  # images/audio together with text
    SPECIALIZED_MODEL = "specialized"  # classifiers, translation, code, speech...


class SupportedTask(_ParseEnum):
    """Tasks a model can do (the seed's list)."""

    TEXT_GENERATION = "text-generation"
    TEXT_CLASSIFICATION = "text-classification"
    QUESTION_ANSWERING = "question-answering"
    SUMMARIZATION = "summarization"
    TRANSLATION = "translation"
    EMBEDDING = "embedding"
    IMAGE_CAPTIONING = "image-captioning"
    IMAGE_GENERATION = "image-generation"
    AUDIO_TRANSCRIPTION = "audio-transcription"
    AUDIO_GENERATION = "audio-generation"
    CODE_GENERATION = "code-generation"
    CODE_COMPLETION = "code-completion"
    CHAT = "chat"
    RAG = "rag"
    MULTIMODAL_REASONING = "multimodal-reasoning"


class DownloadStatus(_ParseEnum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    EXTRACTING = "extracting"
    CONFIGURING = "configuring"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PinnedFile:
    """One file pinned by its hash: what a lockfile and a registered version keep of each
    file (``nbmodels.downloader.lockfile.LockedFile``, ``nbmodels.storage.versions.VersionFile``)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file of a model repository (or of a local model folder)."""

    path: str
    size: int | None = None
    sha256: str | None = None  # LFS / content hash when known


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What a source knows about one model (the seed's ``ModelMetadata``).

    ``(source, id)`` identifies a model. Seed names map as: ``supportedTasks`` ->
    ``tasks``, ``parameterCount`` -> ``parameters``, ``modelSize`` -> ``size_bytes``,
    ``lastUpdated`` -> ``updated_at``, ``additionalInfo`` -> ``extra``.
    """

    id: str
    source: ModelSource
    name: str = ""
    author: str | None = None
    description: str = ""
    license: str | None = None
    version: str | None = None  # git revision (HF), tag (Ollama), or a catalog's version
    language: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tasks: tuple[SupportedTask, ...] = ()
    model_type: ModelType | None = None
    parameters: int | None = None
    size_bytes: int | None = None
    downloads: int | None = None
    likes: int | None = None
    trending_score: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pipeline_tag: str | None = None
    library: str | None = None
    architectures: tuple[str, ...] = ()
    files: tuple[FileInfo, ...] = ()
    download_url: str | None = None
    local_path: str | None = None
    config_path: str | None = None
    tokenizer_path: str | None = None
    is_downloaded: bool = False
    is_configured: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``"<source>:<id>"``, unique across sources."""
        return f"{self.source.value}:{self.id}"


@dataclass(slots=True)
class ModelConfiguration:
    """How a model is to be run (the seed's ``ModelConfiguration``)."""

    model_id: str
    model_type: ModelType | None = None
    enabled_tasks: tuple[SupportedTask, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    system_prompt: str = ""
    user_prompt: str = ""
    assistant_prompt: str = ""
    enable_streaming: bool = True
    enable_caching: bool = True
    max_context_length: int | None = None
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    use_half_precision: bool = False
    use_quantization: bool = False
    quantization_type: str | None = None
    custom_settings: dict[str, Any] = field(default_factory=dict)
    # generation, beyond the seed (one to one with transformers' GenerationConfig)
    repetition_penalty: float = 1.0
    num_beams: int = 1
    do_sample: bool | None = None  # None: sample when temperature > 0
    seed: int | None = None
    stop_sequences: tuple[str, ...] = ()
    # loading (one to one with from_pretrained's arguments and BitsAndBytesConfig)
    dtype: str = "auto"  # auto, float32, float16, bfloat16
    device_map: str | None = "auto"
    quantization: str = "none"  # none, 8bit, nf4, fp4 (bitsandbytes)
    double_quant: bool = False  # 4-bit: quantize the quantization constants too
    compute_dtype: str | None = None  # 4-bit compute dtype; None: bfloat16
    attn_implementation: str | None = None  # eager, sdpa, flash_attention_2; None: default
    trust_remote_code: bool = False
    safetensors_only: bool = True  # refuse pickle (.bin) weights unless set to False


@dataclass(frozen=True, slots=True)
class ModelConfigTemplate:
    template_id: str
    name: str
    description: str
    model_type: ModelType
    supported_tasks: tuple[SupportedTask, ...]
    default_config: ModelConfiguration


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """One moment of a download (each read of ``DownloadTask.progress`` is a new snapshot).

    The seed's fields, plus ``bytes_per_second`` (over the last seconds), ``eta_seconds``
    and the file counts."""

    model_id: str
    status: DownloadStatus = DownloadStatus.PENDING
    downloaded_bytes: int = 0
    total_bytes: int | None = None
    current_file: str | None = None
    status_message: str = ""
    start_time: datetime | None = None
    last_update: datetime | None = None
    error_message: str | None = None
    bytes_per_second: float | None = None
    eta_seconds: float | None = None
    files_done: int = 0
    files_total: int = 0

    @property
    def progress_percentage(self) -> float:
        if not self.total_bytes:
            return 100.0 if self.status is DownloadStatus.COMPLETED else 0.0
        return min(100.0, 100.0 * self.downloaded_bytes / self.total_bytes)


@dataclass(slots=True)
class ModelRegistryEntry:
    metadata: ModelMetadata
    configuration: ModelConfiguration | None = None
    download_status: DownloadStatus = DownloadStatus.PENDING
    is_available: bool = False
    is_active: bool = False
    last_used: datetime | None = None
    last_updated: datetime | None = None
    usage_stats: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
