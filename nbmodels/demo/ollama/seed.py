"""Tiny local models for the local Ollama server, with model blobs that are valid GGUF.

The text models (``tinyllama-chat``, ``tiny-tools``, ``tiny-vision``) and the embedder
(``tiny-embed``) are real: their blob is the demo hub's random-weight tiny Llama written as
a GGUF (:func:`nbmodels.demo.gguf_export.write_llama_gguf`, the embedder marked with a mean
pooling type), which the server runs through nbmodels' engine, as Ollama runs its blobs
through llama.cpp. The header says what the file is (its real parameter count, context and
width). ``tiny-vision``'s projector is a stand-in: the server reads no images.

Where the engine's stack (torch, transformers) is not installed, :func:`tiny_gguf` writes a
header-only GGUF instead and the server answers with its toy generator (and says so).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from ...storage.ollama_store import OllamaStore, StoredModel

__all__ = ["DEMO_MODELS", "seed_demo_models", "tiny_gguf"]

log = logging.getLogger(__name__)
_CHAT_REPO = "nbmodels-demo/tiny-llama-chat"

# gguf.LlamaFileType values (Ollama reports them as quantization_level)
_FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18}


def tiny_gguf(
    *,
    arch: str,
    name: str,
    parameter_count: int,
    context_length: int = 2048,
    embedding_length: int = 64,
    block_count: int = 2,
    file_type: str = "Q4_0",
    pooling: bool = False,
) -> bytes:
    """Bytes of a small, valid GGUF file describing a model (deterministic)."""
    import numpy as np
    from gguf import GGUFWriter, PoolingType

    with tempfile.TemporaryDirectory(prefix="nbmodels-gguf-") as tmp:
        path = Path(tmp) / "model.gguf"
        writer = GGUFWriter(path, arch)
        writer.add_name(name)
        writer.add_uint64("general.parameter_count", int(parameter_count))
        writer.add_file_type(_FILE_TYPES.get(file_type, 2))
        writer.add_context_length(context_length)
        writer.add_embedding_length(embedding_length)
        writer.add_block_count(block_count)
        if pooling:
            writer.add_pooling_type(PoolingType.MEAN)
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


# the tiny chat model's Jinja template in Ollama's Go syntax (nbmodels.exporter.gotemplate's
# translation): Ollama puts the system prompt in .Messages, so it is not written twice
_CHAT_TEMPLATE = (
    "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}</s>\n{{ end }}<|assistant|>\n"
)
_TOOLS_TEMPLATE = (
    "{{- if .Tools }}Tools: {{ .Tools }}\n{{ end }}"
    "{{- range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant:"
)
_APACHE = "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n"
_MIT = "MIT License\n\nCopyright (c) nbmodels demo\n"

#: name -> (gguf header, extra layers, config) of the demo models
DEMO_MODELS: dict[str, dict] = {
    "tinyllama-chat:latest": {
        "gguf": {"arch": "llama", "name": "TinyLlama Chat", "parameter_count": 1_100_048_384},
        "layers": {
            "template": _CHAT_TEMPLATE,
            "system": "You are a helpful assistant.",
            "params": json.dumps({"stop": ["</s>", "<|user|>"], "num_ctx": 256}),
            "license": _APACHE,
        },
    },
    "tiny-embed:latest": {
        "gguf": {
            "arch": "bert",
            "name": "Tiny Embed",
            "parameter_count": 22_565_376,
            "context_length": 512,
            "embedding_length": 384,
            "file_type": "F16",
            "pooling": True,
        },
        "layers": {"license": _APACHE},
    },
    "tiny-vision:latest": {
        "gguf": {"arch": "llama", "name": "Tiny Vision", "parameter_count": 7_241_732_096},
        "layers": {
            "projector": b"stand-in clip projector",
            "template": "{{ .Prompt }}",
            "params": json.dumps({"stop": ["USER:"]}),
            "license": _MIT,
        },
    },
    "tiny-tools:latest": {
        "gguf": {"arch": "qwen2", "name": "Tiny Tools", "parameter_count": 494_032_768},
        "layers": {"template": _TOOLS_TEMPLATE, "license": _APACHE},
    },
}


def seed_demo_models(
    models_dir: Path | str, *, chat_model: Path | str | None = None
) -> list[StoredModel]:
    """Lay out the :data:`DEMO_MODELS` in an Ollama store at ``models_dir``.

    ``chat_model``: the demo hub's tiny Llama folder to write as the real blobs (built, and
    cached under ``$NBMODELS_HOME/demo-models/repos``, when not given)."""
    store = OllamaStore(Path(models_dir))
    real = _real_blobs(chat_model)
    made = []
    for name, spec in DEMO_MODELS.items():
        header = spec["gguf"]
        blob = real.get("embed" if header.get("pooling") else "text") if real else None
        layers: list[tuple[str, bytes]] = [("model", blob or tiny_gguf(**header))]
        for kind, data in spec["layers"].items():
            layers.append((kind, data.encode() if isinstance(data, str) else data))
        arch = "llama" if blob else header["arch"]
        config = {
            "model_family": arch,
            "file_type": "F32" if blob else header.get("file_type", "Q4_0"),
        }
        made.append(store.add(name, layers, config=config))
    return made


def _real_blobs(chat_model: Path | str | None) -> dict[str, bytes] | None:
    """GGUF bytes of the tiny Llama as a text model and as an embedder, or None (and a log
    line) where torch or transformers is missing."""
    try:
        import safetensors  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        log.warning(
            "demo Ollama models are header-only stand-ins answered by a toy generator: %s", exc
        )
        return None
    from ..gguf_export import write_llama_gguf

    if chat_model is None:
        from ...settings import Settings
        from ..hub.tinymodels import _BUILDERS, _build_cached

        base = Settings.from_env().home / "demo-models" / "repos"  # where start_demo_servers builds
        chat_model = _build_cached(base, _CHAT_REPO, _BUILDERS[_CHAT_REPO])
    out = {}
    with tempfile.TemporaryDirectory(prefix="nbmodels-gguf-") as tmp:
        for key, pooling in (("text", False), ("embed", True)):
            path = write_llama_gguf(
                chat_model,
                Path(tmp) / f"{key}.gguf",
                name=f"nbmodels tiny llama ({key})",
                pooling=pooling,
            )
            out[key] = path.read_bytes()
    return out
