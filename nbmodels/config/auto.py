"""A configuration from what a model says of itself (:func:`auto_configure`: its tasks,
config.json, generation_config.json), and tuned for a goal on this machine (:func:`optimize`).
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelMetadata, ModelSource, ModelType, SupportedTask
from .templates import from_template

__all__ = ["GOALS", "auto_configure", "choose_template", "optimize"]

_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "seq_length", "max_seq_len", "n_ctx")
_DTYPE_NAMES = {
    "float32": "float32",
    "float16": "float16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "bf16": "bfloat16",
}


def choose_template(tasks: tuple[SupportedTask, ...], model_type: ModelType | None) -> str:
    """The built-in template that suits a model with these tasks (most important first)."""
    primary = tasks[0] if tasks else None
    if model_type is ModelType.EMBEDDING_MODEL or primary is SupportedTask.EMBEDDING:
        return "embedding"
    if primary is SupportedTask.TEXT_CLASSIFICATION:
        return "classification"
    if model_type is ModelType.MULTIMODAL_MODEL or primary is SupportedTask.MULTIMODAL_REASONING:
        return "multimodal"
    if primary in (SupportedTask.CODE_GENERATION, SupportedTask.CODE_COMPLETION):
        return "code"
    if primary is SupportedTask.TRANSLATION:
        return "translation"
    if primary is SupportedTask.SUMMARIZATION:
        return "summarization"
    if primary in (SupportedTask.QUESTION_ANSWERING, SupportedTask.RAG):
        return "knowledge"
    return "interface"


def auto_configure(
    model: ModelMetadata | str | Path, *, settings: Settings | None = None
) -> ModelConfiguration:
    """A configuration from what the model says of itself: its tasks and type (detected from
    its metadata), and, where its files are on disk, ``config.json`` (context length, dtype)
    and ``generation_config.json`` (the sampling its authors chose); GGUF and Ollama records
    give their context length. Each choice is explained in ``custom_settings["reasons"]``.

    ``model`` is a :class:`ModelMetadata` (``model_info``'s answer) or a model folder."""
    import json

    reasons: list[str] = []
    if isinstance(model, ModelMetadata):
        meta: ModelMetadata | None = model
        folder = Path(model.local_path) if model.local_path else None
        model_id = model.id
        if folder is None and model.source is ModelSource.HUGGING_FACE:
            folder = _hub_config_files(model, settings or default_settings(), reasons)
    else:
        meta, folder, model_id = None, Path(model), Path(model).name
    config: dict[str, Any] = {}
    generation: dict[str, Any] = {}
    if folder is not None and folder.is_dir():
        for name, target in (("config.json", config), ("generation_config.json", generation)):
            try:
                data = json.loads((folder / name).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                target.update(data)
    tasks = meta.tasks if meta is not None else ()
    model_type = meta.model_type if meta is not None else None
    if not tasks and config:
        from ..discover.tasks import classify_model_type, detect_tasks

        archs = config.get("architectures") or ()
        has_template = (folder / "chat_template.jinja").is_file() if folder else None
        tasks = detect_tasks(architectures=archs, name=model_id, chat_template=has_template or None)
        model_type = classify_model_type(tasks, name=model_id)
        reasons.append(
            f"tasks {', '.join(t.value for t in tasks) or 'unknown'} from config.json's architectures"
        )
    template_id = choose_template(tuple(tasks), model_type)
    reasons.append(
        f"template {template_id!r} for {', '.join(t.value for t in tasks[:2]) or 'a model of unknown task'}"
    )
    changes: dict[str, Any] = {}
    context = next((config[k] for k in _CONTEXT_KEYS if isinstance(config.get(k), int)), None)
    if context is not None:
        changes["max_context_length"] = context
        key = next(k for k in _CONTEXT_KEYS if config.get(k) == context)
        reasons.append(f"context {context} from config.json {key}")
    elif meta is not None and isinstance(meta.extra.get("context_length"), int):
        changes["max_context_length"] = meta.extra["context_length"]
        reasons.append(
            f"context {meta.extra['context_length']} from the model's GGUF/Ollama record"
        )
    dtype = _DTYPE_NAMES.get(str(config.get("dtype") or config.get("torch_dtype") or ""))
    if dtype:
        changes["dtype"] = dtype
        reasons.append(f"dtype {dtype}, as the checkpoint is stored")
    for key, field_name in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("repetition_penalty", "repetition_penalty"),
        ("do_sample", "do_sample"),
    ):
        value = generation.get(key)
        if value is not None and not isinstance(value, dict | list):
            changes[field_name] = value
            reasons.append(f"{field_name}={value!r} from generation_config.json")
    limit = changes.get("max_context_length")
    base = from_template(template_id, model_id, settings=settings)
    if isinstance(limit, int) and base.max_tokens > limit:
        changes["max_tokens"] = max(1, limit // 2)
        reasons.append(f"max_tokens {changes['max_tokens']}: half the {limit}-token context")
    if changes.get("do_sample") is False and "temperature" not in changes:
        changes["temperature"] = 0.0  # greedy, as the model's authors set it
    custom = dict(base.custom_settings, reasons=reasons)
    widths = [
        v for k in ("hidden_size", "intermediate_size") if isinstance(v := config.get(k), int)
    ]
    if widths:  # optimize() needs it: bitsandbytes' 4-bit kernels want rows of 64 or more
        custom["layer_width"] = min(widths)
    return dataclasses.replace(base, custom_settings=custom, **changes)


def _hub_config_files(meta: ModelMetadata, settings: Settings, reasons: list[str]) -> Path | None:
    """The model's config.json and generation_config.json from the Hub (a few kB, into the
    HF cache as transformers would fetch them); None, with the reason said, when unreachable."""
    from ..discover.sources.huggingface import fetch_small_files
    from ..errors import NBModelsError

    try:
        folder = fetch_small_files(
            meta.id, ["config.json", "generation_config.json"], settings=settings,
            revision=meta.version, required=None,
        )  # fmt: skip
    except NBModelsError as exc:
        reasons.append(f"config.json not read ({exc}): from the Hub's record alone")
        return None
    if folder is not None:
        reasons.append("config.json and generation_config.json read from the Hub (no weights)")
    return folder


# -- optimisation ----------------------------------------------------------------------------------
GOALS = ("speed", "memory", "quality")


def _cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX / AVX512-BF16): without it bf16 matmuls
    are emulated and slower than fp32 (measured here: bf16 prefill 2.7x slower)."""
    try:
        import torch

        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:
        return False


def optimize(cfg: ModelConfiguration, goal: str, *, hardware: Any = None) -> ModelConfiguration:
    """``cfg`` tuned for ``"speed"``, ``"memory"`` or ``"quality"`` on the hardware actually
    present; each choice explained in one sentence in ``custom_settings["reasons"]``."""
    if goal not in GOALS:
        close = difflib.get_close_matches(str(goal), GOALS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"No optimisation goal {goal!r}.{hint} Use one of {', '.join(GOALS)}."
        )
    from ..machine import hardware as read_hardware

    hw = hardware or read_hardware()
    gpu = next((g for g in hw.gpus if g.kind == "cuda"), None)
    bnb = hw.bitsandbytes if hw.bitsandbytes is not None else hw.bitsandbytes_installed
    reasons = list(cfg.custom_settings.get("reasons", []))
    changes: dict[str, Any] = {}
    width = cfg.custom_settings.get("layer_width")
    if goal == "memory":
        if bnb and isinstance(width, int) and width < 64:
            changes |= {"quantization": "8bit", "double_quant": False}
            reasons.append(f"8-bit: its layers are {width} wide, narrower than bitsandbytes' 4-bit block of 64")  # fmt: skip
        elif bnb:
            changes |= {"quantization": "nf4", "double_quant": True}
            reasons.append("nf4 with double quantization: the smallest weights bitsandbytes offers")
        else:
            changes |= {"quantization": "none", "dtype": "bfloat16"}
            reasons.append(
                "bfloat16: half of float32's memory (bitsandbytes is not available here)"
            )
        changes["device_map"] = "auto"
        reasons.append("device_map='auto': layers that do not fit the GPU go to RAM")
    elif goal == "speed":
        changes |= {"quantization": "none", "double_quant": False}
        if gpu is not None:
            fast_bf16 = (gpu.compute_capability or (0, 0)) >= (8, 0)
            changes |= {"dtype": "bfloat16" if fast_bf16 else "float16", "device_map": gpu.device}
            reasons.append(f"{changes['dtype']} on {gpu.device}: half precision is the GPU's fast path; no quantization (dequantizing costs time)")  # fmt: skip
        else:
            fast = _cpu_has_fast_bf16()
            changes |= {"dtype": "bfloat16" if fast else "float32", "device_map": "cpu"}
            reasons.append(
                "bfloat16 on CPU: this CPU has AMX" if fast
                else "float32 on CPU: this CPU has no native bf16 (AMX), where bf16 is slower than float32"
            )  # fmt: skip
    else:  # quality
        changes |= {"quantization": "none", "double_quant": False}
        if gpu is not None and (gpu.compute_capability or (0, 0)) >= (8, 0):
            changes |= {"dtype": "bfloat16", "device_map": gpu.device}
            reasons.append(
                "bfloat16 on the GPU: the dtype models are trained in, no quantization loss"
            )
        else:
            changes |= {"dtype": "float32", "device_map": gpu.device if gpu else "cpu"}
            reasons.append("float32: full precision, no quantization loss")
    custom = dict(cfg.custom_settings, reasons=reasons, optimized_for=goal)
    return dataclasses.replace(cfg, custom_settings=custom, **changes)
