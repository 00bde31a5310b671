"""Exports: a registered model and its stored configuration for the engines people serve
with. One room, above the registry, the configuration and the memory estimate; nothing below
imports it. Named ``exporter``, not ``export``, so importing it cannot shadow the function
``nbmodels.export`` (as ``downloader`` leaves ``nbmodels.download`` alone).

    >>> e = nbmodels.export("org/name", "vllm", gpu_memory="80GB")
    >>> e.command_line            # vllm serve org/name --revision ... (and vllm.yaml beside)
    >>> e.unsupported             # {"stop_sequences": "vllm: stop sequences are sent with each request ..."}
    >>> nbmodels.export("@chat", "llama.cpp", gguf_type="Q8_0").files    # the GGUF, the template
    >>> nbmodels.export("@chat", "ollama", create=True).created          # "chat"

- ``api``: :func:`export` (targets "vllm", "llama.cpp", "ollama");
- ``common``: the :class:`Export` record, a registered model read with its configuration and
  chat template (``resolve``), which settings a target cannot express (``unsupported``);
- ``vllm``: the ``vllm serve`` command line and its YAML config, ``--gpu-memory-utilization``
  from the memory estimate;
- ``llamacpp`` and ``ggufwrite``: a GGUF (F32/F16/BF16/Q8_0) and the ``llama-server`` command
  line;
- ``modelfile``: Ollama's Modelfile, written and read back with a port of Ollama's parser, and
  ``ollama create``;
- ``gotemplate``: the Jinja chat template as an Ollama TEMPLATE (Go's text/template) that
  renders the same prompt, or why not.

Every export says which settings its target cannot express (``Export.unsupported``); a
configuration a target cannot run at all (bitsandbytes weights for llama.cpp) is refused
before anything is written.
"""

from __future__ import annotations

from .api import export, parse_target
from .common import TARGETS, Export
from .gotemplate import ChatTemplate, GoTemplate, translate

__all__ = ["TARGETS", "ChatTemplate", "Export", "GoTemplate", "export", "parse_target", "translate"]
