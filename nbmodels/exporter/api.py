"""``nbmodels.export``: one registered model, with its stored configuration, for a serving
engine (see the package's docstring)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelRegistryEntry
from .common import TARGETS, Export, resolve

if TYPE_CHECKING:  # pragma: no cover
    from ..storage.registry import Registry

__all__ = ["export", "parse_target"]

_SPELLINGS = {"vllm": "vllm", "llama.cpp": "llama.cpp", "llamacpp": "llama.cpp", "llama-cpp": "llama.cpp",
              "llama_cpp": "llama.cpp", "llama-server": "llama.cpp", "gguf": "llama.cpp", "ollama": "ollama"}  # fmt: skip


def parse_target(target: str) -> str:
    """ "vllm", "llama.cpp" (also "llamacpp", "llama-server", "gguf") or "ollama", any case."""
    key = str(target).strip().lower()
    if key in _SPELLINGS:
        return _SPELLINGS[key]
    close = difflib.get_close_matches(key, list(_SPELLINGS), n=1)
    hint = f" Did you mean {_SPELLINGS[close[0]]!r}?" if close else ""
    raise ConfigurationError(f"Unknown export target {target!r}.{hint} Choose one of: {', '.join(TARGETS)}.")  # fmt: skip


def export(
    model: str | ModelRegistryEntry,
    target: str,
    path: str | Path | None = None,
    *,
    settings: Settings | None = None,
    registry: Registry | None = None,
    config: ModelConfiguration | None = None,
    create: bool = False,
    name: str | None = None,
    gguf_type: str | None = None,
    gpu_memory: int | str | None = None,
    date_string: str | None = None,
) -> Export:
    """Export a registered ``model`` (an id, registry key or ``@alias``; or an entry) and its
    stored configuration (``config`` overrides it) to ``target``: "vllm", "llama.cpp" or
    "ollama", writing into the folder ``path`` (default
    ``$NBMODELS_HOME/exports/<target>/<name>``).

    - vllm: ``vllm.yaml`` (``vllm serve --config``), ``chat_template.jinja``, and the
      ``vllm serve`` command line; ``gpu_memory`` ("80GB", bytes): the GPU to size
      ``--gpu-memory-utilization`` for.
    - llama.cpp: a GGUF (``gguf_type`` F32, F16, BF16 or Q8_0; default from the dtype), the
      chat template and the ``llama-server`` command line.
    - ollama: a Modelfile (its GGUF beside it) with the TEMPLATE translated from the Jinja chat
      template (``date_string`` fixes a dated one) and, with ``create=True``, ``ollama create``
      run against ``settings.ollama_host``.

    ``name``: the served model name / alias / Ollama model (default: the model's first
    alias, else its id's last part). The returned :class:`Export` says what each setting the
    target cannot express is, and why. A configuration the target cannot run at all (an
    8-bit bitsandbytes model for llama.cpp) raises ConfigurationError before anything is
    written."""
    kind = parse_target(target)
    if create and kind != "ollama":
        raise ConfigurationError(
            f"create=True runs `ollama create`; it means nothing for {kind!r}."
        )
    settings = settings or (registry.settings if registry is not None else default_settings())
    src = resolve(model, registry=registry, settings=settings, config=config)
    out = Path(path).expanduser() if path is not None else settings.home / "exports" / kind / (name or src.short_name)  # fmt: skip
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{out} is a file; give export() a folder to write into.")
    if kind == "vllm":
        from .vllm import export_vllm

        if gguf_type is not None:
            raise ConfigurationError(
                "gguf_type is for llama.cpp and Ollama; vLLM serves the checkpoint."
            )
        return export_vllm(src, out, name=name, gpu_memory=gpu_memory)
    if gpu_memory is not None:
        raise ConfigurationError(f"gpu_memory sizes vLLM's --gpu-memory-utilization; {kind} does not take it.")  # fmt: skip
    if kind == "llama.cpp":
        from .llamacpp import export_llamacpp

        return export_llamacpp(src, out, name=name, gguf_type=gguf_type)
    from .modelfile import export_ollama

    return export_ollama(src, out, name=name, gguf_type=gguf_type, date_string=date_string,
                         create=create, settings=settings)  # fmt: skip
