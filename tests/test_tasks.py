"""Task detection and model-type classification, scored against hand-labelled real records.

``tests/data/task_labels.csv`` holds labels written by a person from each record's id,
tags, card and general knowledge of the model (never by running the detector); the
definitions they follow are the ones in ``nbmodels/tasks.py``'s docstring. Hub records'
signals are read from the real ``hub-models.parquet`` by id; Ollama records' from the
real manifests (name + layer media types). Run with ``-s`` to see the report.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbmodels.tasks import (
    annotate,
    capabilities_from_media_types,
    classify_model_type,
    detect_tasks,
)
from nbmodels.types import ModelMetadata, ModelSource, ModelType, SupportedTask

T = SupportedTask
LABELS = Path(__file__).parent / "data" / "task_labels.csv"

# Floors the current rules meet with a small margin; raise them when the rules improve.
MIN_TYPE_ACCURACY = 0.95
MIN_EXACT_SET = 0.90
MIN_F1 = 0.97


@dataclass(frozen=True)
class Label:
    source: str
    id: str
    tasks: frozenset[SupportedTask]
    model_type: ModelType
    note: str


@dataclass(frozen=True)
class Scored:
    label: Label
    tasks: tuple[SupportedTask, ...]
    model_type: ModelType | None


def _labels() -> list[Label]:
    with LABELS.open(newline="", encoding="utf-8") as f:
        return [
            Label(
                source=row["source"],
                id=row["id"],
                tasks=frozenset(T.parse(t) for t in row["expected_tasks"].split(";") if t),
                model_type=ModelType.parse(row["expected_model_type"]),
                note=row["note"],
            )
            for row in csv.DictReader(f)
        ]


@pytest.fixture(scope="module")
def scored(shared_data: Path) -> list[Scored]:
    import duckdb

    labels = _labels()
    hub_ids = [lb.id for lb in labels if lb.source == "huggingface"]
    rows = duckdb.execute(
        "SELECT id, pipeline_tag, library_name, tags FROM read_parquet(?) WHERE list_contains(?, id)",
        [str(shared_data / "hub-models.parquet"), hub_ids],
    ).fetchall()
    hub = {r[0]: r for r in rows}
    manifests = json.loads((shared_data / "ollama-library.json").read_text())["manifests"]

    out: list[Scored] = []
    for lb in labels:
        if lb.source == "huggingface":
            _, pipeline_tag, library, tags = hub[lb.id]
            tasks = detect_tasks(pipeline_tag=pipeline_tag, tags=tags, library=library, name=lb.id)
            model_type = classify_model_type(tasks, tags=tags, name=lb.id)
        else:
            # As a source without a server sees it: name, layer media types and the
            # capabilities those show; annotate() reads the template layer's absence.
            media = [layer["mediaType"] for layer in manifests[lb.id]["layers"]]
            meta = ModelMetadata(id=lb.id, source=ModelSource.OLLAMA, extra={"media_types": media})
            meta = annotate(meta, capabilities=capabilities_from_media_types(media))
            tasks, model_type = meta.tasks, meta.model_type
        out.append(Scored(lb, tasks, model_type))
    return out


def _metrics(results: list[Scored]) -> dict[str, float]:
    tp = sum(len(set(r.tasks) & r.label.tasks) for r in results)
    fp = sum(len(set(r.tasks) - r.label.tasks) for r in results)
    fn = sum(len(r.label.tasks - set(r.tasks)) for r in results)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "n": len(results),
        "type_accuracy": sum(r.model_type == r.label.model_type for r in results) / len(results),
        "exact_set": sum(set(r.tasks) == r.label.tasks for r in results) / len(results),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def _report(results: list[Scored]) -> str:
    lines = [f"{'subset':<12} {'n':>4} {'type':>6} {'exact':>6} {'P':>6} {'R':>6} {'F1':>6}"]
    for subset in ("all", "huggingface", "ollama"):
        part = [r for r in results if subset == "all" or r.label.source == subset]
        m = _metrics(part)
        lines.append(
            f"{subset:<12} {m['n']:>4} {m['type_accuracy']:>6.3f} {m['exact_set']:>6.3f} "
            f"{m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f}"
        )
    lines.append("misses (id: expected type / got; missing tasks; extra tasks):")
    for r in results:
        got = set(r.tasks)
        if got == r.label.tasks and r.model_type == r.label.model_type:
            continue
        missing = ",".join(sorted(t.value for t in r.label.tasks - got)) or "-"
        extra = ",".join(sorted(t.value for t in got - r.label.tasks)) or "-"
        got_type = r.model_type.value if r.model_type else None
        lines.append(f"  {r.label.id}: {r.label.model_type.value}/{got_type}; -{missing}; +{extra}")
    return "\n".join(lines)


# --- accuracy against the hand labels -------------------------------------------------


def test_labels_file_is_well_formed() -> None:
    labels = _labels()
    assert len(labels) >= 130
    assert len({(lb.source, lb.id) for lb in labels}) == len(labels), "duplicate ids"
    by_source = {s: sum(lb.source == s for lb in labels) for s in ("huggingface", "ollama")}
    assert by_source["huggingface"] >= 100 and by_source["ollama"] >= 30
    assert all(lb.tasks and lb.note for lb in labels)
    assert {lb.model_type for lb in labels} == set(ModelType)


def test_accuracy_against_hand_labels(scored: list[Scored]) -> None:
    print("\n" + _report(scored))
    m = _metrics(scored)
    assert m["type_accuracy"] >= MIN_TYPE_ACCURACY
    assert m["exact_set"] >= MIN_EXACT_SET
    assert m["f1"] >= MIN_F1


def test_every_labelled_type_is_mostly_found(scored: list[Scored]) -> None:
    """No model type is sacrificed for the overall score."""
    for model_type in ModelType:
        part = [r for r in scored if r.label.model_type is model_type]
        hits = sum(r.model_type is model_type for r in part)
        assert hits / len(part) >= 0.75, (model_type, hits, len(part))


# --- single rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # pipeline tags
        (
            {"pipeline_tag": "text-generation", "tags": ["conversational"]},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        ({"pipeline_tag": "text-generation", "name": "acme/base-lm"}, [T.TEXT_GENERATION]),
        (
            {"pipeline_tag": "automatic-speech-recognition", "name": "openai/whisper-small"},
            [T.AUDIO_TRANSCRIPTION],
        ),
        ({"pipeline_tag": "text-to-image", "library": "diffusers"}, [T.IMAGE_GENERATION]),
        ({"pipeline_tag": "text-to-speech"}, [T.AUDIO_GENERATION]),
        (
            {"pipeline_tag": "image-to-text", "name": "Salesforce/blip-image-captioning-base"},
            [T.IMAGE_CAPTIONING],
        ),
        (
            {"pipeline_tag": "summarization", "name": "facebook/bart-large-cnn", "tags": ["bart"]},
            [T.SUMMARIZATION, T.TEXT_GENERATION],
        ),
        (
            {
                "pipeline_tag": "translation",
                "name": "Helsinki-NLP/opus-mt-en-de",
                "tags": ["marian"],
            },
            [T.TRANSLATION, T.TEXT_GENERATION],
        ),
        (
            {
                "pipeline_tag": "question-answering",
                "name": "deepset/roberta-base-squad2",
                "tags": ["roberta"],
            },
            [T.QUESTION_ANSWERING],
        ),
        (
            {"pipeline_tag": "zero-shot-classification", "name": "facebook/bart-large-mnli"},
            [T.TEXT_CLASSIFICATION],
        ),
        # architectures from config.json
        ({"architectures": ["LlamaForCausalLM"]}, [T.TEXT_GENERATION]),
        ({"architectures": ["BertForSequenceClassification"]}, [T.TEXT_CLASSIFICATION]),
        ({"architectures": ["BertForQuestionAnswering"]}, [T.QUESTION_ANSWERING]),
        ({"architectures": ["XLMRobertaModel"]}, [T.EMBEDDING]),
        (
            {"architectures": ["BertModel"], "name": "sentence-transformers/all-MiniLM-L6-v2"},
            [T.EMBEDDING],
        ),
        ({"architectures": ["WhisperForConditionalGeneration"]}, [T.AUDIO_TRANSCRIPTION]),
        ({"architectures": ["MarianMTModel"]}, [T.TRANSLATION, T.TEXT_GENERATION]),
        (
            {"architectures": ["T5ForConditionalGeneration"], "name": "google/flan-t5-base"},
            [T.TEXT_GENERATION, T.SUMMARIZATION, T.TRANSLATION],
        ),
        (
            {
                "architectures": ["LlavaForConditionalGeneration"],
                "name": "llava-hf/llava-1.5-7b-hf",
            },
            [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION],
        ),
        ({"architectures": ["Qwen2Model"], "name": "acme/qwen-sft"}, [T.TEXT_GENERATION, T.CHAT]),
        (
            {
                "pipeline_tag": "translation",
                "name": "facebook/nllb-200-distilled-600M",
                "tags": ["m2m_100"],
            },
            [T.TRANSLATION, T.TEXT_GENERATION],
        ),
        (
            {
                "pipeline_tag": "summarization",
                "name": "sshleifer/distilbart-cnn-12-6",
                "tags": ["bart"],
            },
            [T.SUMMARIZATION, T.TEXT_GENERATION],
        ),
        (
            {"pipeline_tag": "text-classification", "name": "cross-encoder/ms-marco-MiniLM-L-6-v2"},
            [T.TEXT_CLASSIFICATION],
        ),
        (
            {"pipeline_tag": "audio-text-to-text", "name": "Qwen/Qwen2-Audio-7B-Instruct"},
            [T.MULTIMODAL_REASONING, T.AUDIO_TRANSCRIPTION, T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"architectures": ["Qwen2AudioForConditionalGeneration"]},
            [T.MULTIMODAL_REASONING, T.AUDIO_TRANSCRIPTION, T.TEXT_GENERATION],
        ),
        ({"pipeline_tag": "image-classification", "library": "timm"}, []),
        ({"pipeline_tag": "fill-mask", "tags": ["bert"]}, []),
        # libraries
        ({"library": "sentence-transformers"}, [T.EMBEDDING]),
        ({"library": "open_clip"}, [T.EMBEDDING]),
        ({"library": "diffusers"}, [T.IMAGE_GENERATION]),
        (
            {"library": "gguf", "name": "TheBloke/Mistral-7B-Instruct-v0.2-GGUF"},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"library": "mlx", "name": "mlx-community/Llama-3.2-1B-Instruct-4bit"},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"library": "peft", "tags": ["base_model:adapter:meta-llama/Llama-3.1-8B-Instruct"]},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        # names (Hub hints)
        (
            {"pipeline_tag": "text-generation", "name": "Qwen/Qwen2.5-Coder-7B-Instruct"},
            [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {
                "pipeline_tag": "text-classification",
                "name": "BAAI/bge-reranker-base",
                "library": "sentence-transformers",
            },
            [T.TEXT_CLASSIFICATION],
        ),
        (
            {"pipeline_tag": "text-generation", "name": "nvidia/AceMath-7B-RM"},
            [T.TEXT_CLASSIFICATION],
        ),
        (
            {"pipeline_tag": "text-generation", "name": "meta-llama/Llama-Guard-3-8B"},
            [T.TEXT_CLASSIFICATION, T.TEXT_GENERATION],
        ),
        (
            {"pipeline_tag": "text-generation", "name": "acme/Mistral7B-PairRM-SPPO"},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"name": "acme/German-RAG-7B-Instruct", "tags": ["mistral"]},
            [T.RAG, T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"pipeline_tag": "text-generation", "tags": ["code"], "name": "microsoft/phi-2"},
            [T.TEXT_GENERATION, T.CODE_GENERATION],
        ),
        (
            {"pipeline_tag": "text-generation", "tags": ["pretrained", "conversational"]},
            [T.TEXT_GENERATION],
        ),
        (
            {"pipeline_tag": "text-generation", "tags": ["cross-encoder"], "name": "acme/x"},
            [T.TEXT_CLASSIFICATION],
        ),
        # Ollama: names and capabilities
        ({"name": "nomic-embed-text:latest"}, [T.EMBEDDING]),
        ({"name": "mxbai-embed-large", "capabilities": ["completion"]}, [T.EMBEDDING]),
        ({"name": "all-minilm:22m"}, [T.EMBEDDING]),
        ({"name": "bge-m3"}, [T.EMBEDDING]),
        ({"name": "anything", "capabilities": ["embedding"]}, [T.EMBEDDING]),
        (
            {"name": "llava:7b", "capabilities": ["completion", "vision"]},
            [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION, T.CHAT],
        ),
        ({"name": "bakllava"}, [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION]),
        ({"name": "moondream"}, [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION]),
        (
            {"name": "llama3.2-vision", "capabilities": ["completion"]},
            [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION, T.CHAT],
        ),
        (
            {"name": "qwen2.5vl:7b", "capabilities": ["completion"]},
            [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION, T.CHAT],
        ),
        ({"name": "minicpm-v"}, [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION]),
        ({"name": "gemma3:1b", "capabilities": ["completion"]}, [T.TEXT_GENERATION, T.CHAT]),
        (
            {"name": "codellama:13b", "capabilities": ["completion"]},
            [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION, T.CHAT],
        ),
        ({"name": "deepseek-coder"}, [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION]),
        (
            {"name": "starcoder2:3b", "capabilities": ["completion"]},
            [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION],
        ),
        (
            {"name": "qwen2.5-coder", "capabilities": ["completion", "insert", "tools"]},
            [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION, T.CHAT],
        ),
        ({"name": "codegemma"}, [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION]),
        ({"name": "llama3", "capabilities": ["completion"]}, [T.TEXT_GENERATION, T.CHAT]),
        ({"name": "mistral"}, [T.TEXT_GENERATION]),
        ({"name": "phi3", "capabilities": ["completion"]}, [T.TEXT_GENERATION, T.CHAT]),
        (
            {"name": "qwen3", "capabilities": ["completion", "tools", "thinking"]},
            [T.TEXT_GENERATION, T.CHAT],
        ),
        ({"name": "llama2:7b-text", "capabilities": ["completion"]}, [T.TEXT_GENERATION]),
        (
            {"name": "llama-guard3:8b", "capabilities": ["completion"]},
            [T.TEXT_CLASSIFICATION, T.TEXT_GENERATION],
        ),
        (
            {"name": "llama3-chatqa:8b", "capabilities": ["completion"]},
            [T.RAG, T.QUESTION_ANSWERING, T.TEXT_GENERATION, T.CHAT],
        ),
    ],
)
def test_rule(kwargs: dict, expected: list[SupportedTask]) -> None:
    assert list(detect_tasks(**kwargs)) == expected


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([T.TEXT_GENERATION, T.CHAT], ModelType.INTERFACE_MODEL),
        ([T.EMBEDDING], ModelType.EMBEDDING_MODEL),
        (
            [T.MULTIMODAL_REASONING, T.IMAGE_CAPTIONING, T.TEXT_GENERATION],
            ModelType.MULTIMODAL_MODEL,
        ),
        ([T.IMAGE_CAPTIONING], ModelType.MULTIMODAL_MODEL),
        ([T.QUESTION_ANSWERING], ModelType.KNOWLEDGE_MODEL),
        ([T.RAG, T.TEXT_GENERATION, T.CHAT], ModelType.KNOWLEDGE_MODEL),
        ([T.SUMMARIZATION, T.TEXT_GENERATION], ModelType.KNOWLEDGE_MODEL),
        ([T.TEXT_CLASSIFICATION], ModelType.SPECIALIZED_MODEL),
        ([T.TRANSLATION, T.TEXT_GENERATION, T.CHAT], ModelType.SPECIALIZED_MODEL),
        ([T.AUDIO_TRANSCRIPTION], ModelType.SPECIALIZED_MODEL),
        ([T.IMAGE_GENERATION], ModelType.SPECIALIZED_MODEL),
        (
            [T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION, T.CHAT],
            ModelType.SPECIALIZED_MODEL,
        ),
        ([T.TEXT_GENERATION, T.CHAT, T.CODE_GENERATION], ModelType.INTERFACE_MODEL),
        ([T.TEXT_GENERATION, T.SUMMARIZATION, T.TRANSLATION], ModelType.INTERFACE_MODEL),
        # unordered input is ranked by priority
        (
            {T.CHAT, T.CODE_GENERATION, T.TEXT_GENERATION, T.CODE_COMPLETION},
            ModelType.SPECIALIZED_MODEL,
        ),
        ({T.CHAT, T.TEXT_GENERATION, T.CODE_GENERATION}, ModelType.INTERFACE_MODEL),
        ({T.TEXT_GENERATION, T.MULTIMODAL_REASONING}, ModelType.MULTIMODAL_MODEL),
        # strings are parsed; unknown ones ignored
        (["chat", "TEXT_GENERATION"], ModelType.INTERFACE_MODEL),
        (["no-such-task", "embedding"], ModelType.EMBEDDING_MODEL),
    ],
)
def test_classify_model_type(tasks: object, expected: ModelType) -> None:
    assert classify_model_type(tasks) is expected  # type: ignore[arg-type]


def test_results_are_ordered_and_unique() -> None:
    tasks = detect_tasks(
        pipeline_tag="text-generation",
        tags=["text-generation", "conversational", "code", "code", "summarization"],
        name="acme/Coder-7B-Instruct",
    )
    assert len(tasks) == len(set(tasks))
    assert tasks == (T.SUMMARIZATION, T.TEXT_GENERATION, T.CHAT, T.CODE_GENERATION)
    coder = detect_tasks(pipeline_tag="text-generation", tags=["code", "code"], name="x/Coder-7B")
    assert coder == (T.CODE_GENERATION, T.CODE_COMPLETION, T.TEXT_GENERATION)


# --- empty and odd input --------------------------------------------------------------


def test_empty_metadata_gives_no_tasks_and_no_type() -> None:
    assert detect_tasks() == ()
    assert detect_tasks(pipeline_tag=None, tags=None, library=None, architectures=None,
                        capabilities=None, name=None) == ()  # fmt: skip
    assert classify_model_type(()) is None
    assert classify_model_type(None) is None
    assert classify_model_type(["not-a-task"]) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tags": None},
        {"tags": "conversational"},
        {"tags": 42},
        {"tags": [None, 3, "", "license:mit"]},
        {"pipeline_tag": "no-such-pipeline"},
        {"pipeline_tag": 7},
        {"library": 1.5},
        {"architectures": "LlamaForCausalLM"},
        {"capabilities": "completion,vision"},
        {"name": 123},
        {"name": ""},
    ],
)
def test_odd_types_do_not_raise(kwargs: dict) -> None:
    tasks = detect_tasks(**kwargs)
    assert isinstance(tasks, tuple) and all(isinstance(t, SupportedTask) for t in tasks)


def test_odd_types_are_read_where_they_can_be() -> None:
    assert detect_tasks(tags="text-generation, conversational") == (T.TEXT_GENERATION, T.CHAT)
    assert detect_tasks(architectures="LlamaForCausalLM") == (T.TEXT_GENERATION,)
    assert detect_tasks(capabilities="completion,vision", name="x")[0] is T.MULTIMODAL_REASONING
    assert detect_tasks(pipeline_tag="no-such-pipeline", tags=["license:mit"]) == ()
    assert detect_tasks(pipeline_tag="  Text-Generation ") == (T.TEXT_GENERATION,)


# --- Ollama manifests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        ([], ()),
        (None, ()),
        (["application/vnd.ollama.image.model", "application/vnd.ollama.image.license"], ()),
        (
            ["application/vnd.ollama.image.model", "application/vnd.ollama.image.template"],
            ("completion",),
        ),
        (
            [
                "application/vnd.ollama.image.model",
                "application/vnd.ollama.image.projector",
                "application/vnd.ollama.image.template",
            ],
            ("completion", "vision"),
        ),
    ],
)
def test_capabilities_from_media_types(media_types: list[str] | None, expected: tuple) -> None:
    assert capabilities_from_media_types(media_types) == expected


# --- chat templates -------------------------------------------------------------------


def test_chat_template_flag() -> None:
    completion = {"capabilities": ["completion"], "library": "gguf"}
    assert detect_tasks(name="x", **completion) == (T.TEXT_GENERATION, T.CHAT)
    assert detect_tasks(name="x", chat_template=False, **completion) == (T.TEXT_GENERATION,)
    named = detect_tasks(name="x/M-Instruct", chat_template=False, **completion)
    assert named == (T.TEXT_GENERATION, T.CHAT)
    causal = {"architectures": ["LlamaForCausalLM"]}
    assert detect_tasks(chat_template=True, **causal) == (T.TEXT_GENERATION, T.CHAT)
    assert detect_tasks(name="x-base", chat_template=True, **causal) == (T.TEXT_GENERATION,)
    assert detect_tasks(pipeline_tag="conversational") == (T.TEXT_GENERATION, T.CHAT)


@pytest.mark.parametrize(
    ("extra", "chat"),
    [
        ({"has_chat_template": False}, False),
        ({"has_chat_template": True}, True),
        ({"media_types": ["application/vnd.ollama.image.model"]}, False),
        (
            {
                "media_types": [
                    "application/vnd.ollama.image.model",
                    "application/vnd.ollama.image.template",
                ]
            },
            True,
        ),
        ({}, True),
    ],
)
def test_annotate_reads_chat_template_evidence(extra: dict, chat: bool) -> None:
    meta = ModelMetadata(
        id="local/model.gguf", source=ModelSource.LOCAL, library="gguf", extra=extra
    )
    out = annotate(meta, capabilities=["completion"])
    assert out.tasks[0] is T.TEXT_GENERATION
    assert (T.CHAT in out.tasks) is chat


# --- annotate -------------------------------------------------------------------------


def test_annotate_fills_tasks_and_type() -> None:
    meta = ModelMetadata(id="Qwen/Qwen2-VL-7B-Instruct", source=ModelSource.HUGGING_FACE,
                         pipeline_tag="image-text-to-text", tags=("conversational",))  # fmt: skip
    out = annotate(meta)
    assert out.tasks[0] is T.MULTIMODAL_REASONING and T.CHAT in out.tasks
    assert out.model_type is ModelType.MULTIMODAL_MODEL
    assert out is not meta and meta.tasks == ()


def test_annotate_keeps_given_values_and_uses_ollama_capabilities() -> None:
    meta = ModelMetadata(id="llava:7b", source=ModelSource.OLLAMA, tasks=(T.RAG,),
                         model_type=ModelType.KNOWLEDGE_MODEL,
                         extra={"capabilities": ["completion", "vision"]})  # fmt: skip
    out = annotate(meta)
    assert out.tasks[0] is T.RAG and T.MULTIMODAL_REASONING in out.tasks
    assert out.model_type is ModelType.KNOWLEDGE_MODEL
    plain = annotate(ModelMetadata(id="mystery", source=ModelSource.LOCAL))
    assert plain.tasks == () and plain.model_type is None
    emb = annotate(ModelMetadata(id="x", source=ModelSource.OLLAMA), capabilities=["embedding"])
    assert emb.tasks == (T.EMBEDDING,) and emb.model_type is ModelType.EMBEDDING_MODEL
