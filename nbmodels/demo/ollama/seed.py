"""Tiny local models for the local Ollama server, with model blobs that are valid GGUF.

:func:`tiny_gguf` writes a GGUF header (architecture, name, parameter count, context and
embedding length...) and one small tensor with the ``gguf`` package, so any GGUF reader can
parse it. The numbers in the header describe the model the file stands in for; the file
itself is a few hundred bytes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ...ollama_store import OllamaStore, StoredModel

__all__ = ["DEMO_MODELS", "seed_demo_models", "tiny_gguf"]

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


_CHAT_TEMPLATE = (
    "{{- if .System }}<|system|>\n{{ .System }}</s>\n{{ end }}"
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
            "params": json.dumps({"stop": ["</s>", "<|user|>"], "num_ctx": 2048}),
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


def seed_demo_models(models_dir: Path | str) -> list[StoredModel]:
    """Lay out the :data:`DEMO_MODELS` in an Ollama store at ``models_dir``."""
    store = OllamaStore(Path(models_dir))
    made = []
    for name, spec in DEMO_MODELS.items():
        header = spec["gguf"]
        layers: list[tuple[str, bytes]] = [("model", tiny_gguf(**header))]
        for kind, data in spec["layers"].items():
            layers.append((kind, data.encode() if isinstance(data, str) else data))
        config = {"model_family": header["arch"], "file_type": header.get("file_type", "Q4_0")}
        made.append(store.add(name, layers, config=config))
    return made
