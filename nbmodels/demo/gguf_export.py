"""Write a transformers Llama folder as a real GGUF file, so the tests and the demo have GGUF
models that load and generate (``from_pretrained(..., gguf_file=)``, or an Ollama store's
blob). The writer is the product's (:mod:`nbmodels.exporter.ggufwrite`, what ``nbmodels.export``
uses for llama.cpp); the demo keeps this name for its callers.
"""

from __future__ import annotations

from ..exporter.ggufwrite import write_llama_gguf

__all__ = ["write_llama_gguf"]
