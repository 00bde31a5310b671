"""What ``load()`` loads: a folder, a .gguf file or a Hub id resolved to files on disk
(downloaded first when needed), and the transformers class for the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import Settings
from ..types import ModelConfiguration, ModelMetadata, ModelType, SupportedTask


def _resolve(model: str | Path | ModelMetadata, settings: Settings) -> tuple[str, Path, str | None]:
    """(model id, folder, gguf file name) for ``model``: a folder, a .gguf file, or a Hub
    id (from the HF cache, else downloaded first through :func:`nbmodels.download`)."""
    if isinstance(model, ModelMetadata):
        if model.local_path and Path(model.local_path).exists():
            return model.id, Path(model.local_path), None
        model = model.id
    path = Path(str(model)).expanduser()
    if path.is_file() and (path.suffix == ".gguf" or _is_gguf(path)):  # an Ollama blob too
        return path.stem, path.parent, path.name
    if path.is_dir():
        if not (path / "config.json").exists():
            ggufs = sorted(path.glob("*.gguf"))
            if ggufs:
                return path.name, path, ggufs[0].name
            raise ConfigurationError(f"{path} has no config.json and no .gguf file: it is not a model folder.")  # fmt: skip
        return path.name, path, None
    model_id = str(model)
    if "/" not in model_id or model_id.startswith(("/", ".", "~")):
        raise ConfigurationError(
            f"{model_id!r} is neither a model folder, a .gguf file nor a Hub id (org/name)."
        )
    from huggingface_hub import snapshot_download

    try:  # on disk already: no network at all
        folder = snapshot_download(model_id, cache_dir=settings.hf_cache, local_files_only=True)
        if any(Path(folder).glob("*.safetensors")) or any(Path(folder).glob("*.bin")) or any(Path(folder).glob("*.gguf")):  # fmt: skip
            return model_id, Path(folder), None
    except Exception:
        pass
    from ..downloader.core import Downloader, DownloadTask

    task = Downloader(settings).download(model_id)
    assert isinstance(task, DownloadTask)
    return model_id, task.result(), None


def _on_cpu_only(device_map: Any) -> bool:
    """Whether a load with ``device_map`` puts everything on the CPU (the streaming loader's
    case): none, "cpu", or "auto" on a machine without an accelerator."""
    if device_map in (None, "cpu"):
        return True
    if device_map != "auto":
        return False
    import torch

    return not torch.cuda.is_available() and not (
        hasattr(torch, "xpu") and torch.xpu.is_available()
    )


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def _model_class(cfg: ModelConfiguration, config: dict[str, Any]) -> tuple[Any, str]:
    import transformers

    archs = " ".join(config.get("architectures") or [])
    tasks = set(cfg.enabled_tasks)
    if cfg.model_type is ModelType.EMBEDDING_MODEL or (SupportedTask.EMBEDDING in tasks and "CausalLM" not in archs):  # fmt: skip
        return transformers.AutoModel, "embedding"
    if "SequenceClassification" in archs or SupportedTask.TEXT_CLASSIFICATION in tasks:
        return transformers.AutoModelForSequenceClassification, "classification"
    if "ForConditionalGeneration" in archs and ("T5" in archs or "Bart" in archs or "Marian" in archs):  # fmt: skip
        return transformers.AutoModelForSeq2SeqLM, "seq2seq"
    return transformers.AutoModelForCausalLM, "causal"
