"""A registered model for vLLM: the ``vllm serve`` command line, the same options as a
YAML file for ``vllm serve --config`` (its keys are the long option names without ``--``),
and the model's chat template pinned in a file.

    vllm serve org/name --revision <commit> --dtype bfloat16 --max-model-len 4096 \\
        --chat-template chat_template.jinja --served-model-name chat org/name \\
        --override-generation-config '{"temperature": 0.7, ...}' --gpu-memory-utilization 0.42

Sampling settings are per request in vLLM's API; ``--override-generation-config`` makes
the configured ones the defaults of every request (merged over the model's own
generation_config.json). ``--gpu-memory-utilization`` comes from nbmodels' memory estimate
against the GPU size given (``gpu_memory``), else vLLM's default (0.9) is left and said.
bitsandbytes: vLLM quantizes in flight to 4-bit only (``--quantization bitsandbytes``), so
an 8-bit or fp4 configuration is refused before anything is written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, NBModelsError
from ..files import atomic_write
from ..types import ModelSource
from ..units import format_size, parse_size
from .common import Export, Exportable, sampling, unsupported

__all__ = ["export_vllm", "gpu_memory_utilization", "vllm_options"]

#: configuration fields the command line carries
HANDLED = ("max_context_length", "max_tokens", "temperature", "top_p", "top_k", "do_sample",
           "repetition_penalty", "seed", "dtype", "quantization", "trust_remote_code",
           "safetensors_only")  # fmt: skip
_CUDA_OVERHEAD = 2**30  # CUDA context, cuBLAS workspaces, CUDA graphs: ~1 GiB, not measured here


def gpu_memory_utilization(src: Exportable, gpu_bytes: int, context: int | None) -> tuple[float | None, str]:  # fmt: skip
    """The fraction of a GPU of ``gpu_bytes`` vLLM needs for this model (weights, the KV
    cache of one sequence of ``context`` tokens, the prefill's activations, ~1 GiB of CUDA
    overhead, plus 10 %), from nbmodels' memory estimate; None (and why) when it won't fit
    or cannot be estimated."""
    from ..config.memory import estimate_memory
    from ..machine import Hardware

    model: Any = src.folder or src.repository
    # a machine without GPUs, so that the estimate's parts are the formula's, not this host's
    host = Hardware(cpu_count=1, cpu_physical=None, ram_total_bytes=2**50, ram_available_bytes=2**50, ram_limit_bytes=None)  # fmt: skip
    try:
        est = estimate_memory(
            model, src.config, context=context, hardware=host, revision=src.commit
        )
    except (NBModelsError, OSError, ValueError) as exc:
        return None, f"the memory estimate could not be made ({exc}); vLLM's default 0.9 is left"
    need = est.weights_bytes + est.kv_cache_bytes + est.activations_bytes + _CUDA_OVERHEAD
    fraction = math.ceil(need * 1.1 / gpu_bytes * 100) / 100
    said = (f"{format_size(need)} (weights {format_size(est.weights_bytes)}, KV cache of {est.context} tokens "
            f"{format_size(est.kv_cache_bytes)}, activations, ~1 GiB CUDA) + 10 % of a {format_size(gpu_bytes)} GPU")  # fmt: skip
    if fraction > 0.95:
        return None, f"it won't fit: {said} is {fraction:.0%} of it"
    return max(fraction, 0.05), said


def vllm_options(src: Exportable, template_file: Path | None, *, name: str | None, gpu_bytes: int | None) -> tuple[dict[str, Any], dict[str, str], list[str]]:  # fmt: skip
    """The options of ``vllm serve`` (long names, ``model`` first), what is not expressed,
    notes. Raises ConfigurationError for what vLLM cannot serve at all."""
    from ..config.stored import effective_quantization

    cfg = src.config
    if src.source is ModelSource.OLLAMA or (src.folder is None and src.repository is None):
        kind = "an Ollama model" if src.ollama_name else "a model without Hugging Face files"
        raise ConfigurationError(f"vLLM serves Hugging Face checkpoints; {src.key} is {kind}. "
                                 "Export it for llama.cpp or Ollama instead. Nothing was written.")  # fmt: skip
    quant = effective_quantization(cfg)
    if quant in ("8bit", "fp4"):
        raise ConfigurationError(
            f"{src.key} is configured for bitsandbytes {quant}; vLLM quantizes a checkpoint in flight "
            "to 4-bit NF4 only (--quantization bitsandbytes), and reads 8-bit only from a checkpoint "
            "saved quantized. Set quantization='nf4' or 'none'. Nothing was written."
        )
    options: dict[str, Any] = {"model": src.repository or str(src.folder)}
    reasons: dict[str, str] = {}
    notes: list[str] = [f"configuration: {src.config_origin}"]
    if src.repository and src.commit:
        options["revision"] = src.commit
    elif src.repository:
        notes.append("no commit recorded for this model: vLLM serves the repository's main branch")
    dtype = cfg.dtype if cfg.dtype != "auto" else ("float16" if cfg.use_half_precision else "auto")
    options["dtype"] = dtype
    context = cfg.max_context_length
    if context is not None:
        options["max-model-len"] = int(context)
    if quant == "nf4":
        options["quantization"] = "bitsandbytes"
        if cfg.double_quant or cfg.compute_dtype:
            reasons["double_quant" if cfg.double_quant else "compute_dtype"] = (
                "vllm: its in-flight 4-bit quantization chooses its own settings")  # fmt: skip
    if template_file is not None:
        options["chat-template"] = str(template_file)
    names = [name] if name else [*src.aliases, src.model_id]
    options["served-model-name"] = list(dict.fromkeys(names))
    s = sampling(cfg)
    generation = {"temperature": s["temperature"], "top_p": s["top_p"], "top_k": s["top_k"],
                  "repetition_penalty": s["repetition_penalty"], "max_new_tokens": s["max_tokens"]}  # fmt: skip
    options["override-generation-config"] = json.dumps(generation)
    if s["seed"] is not None:
        options["seed"] = int(s["seed"])
        notes.append(
            "--seed seeds the engine once; each request's sampling is seeded by its own `seed`"
        )
    if cfg.trust_remote_code:
        options["trust-remote-code"] = True
    if cfg.safetensors_only:
        options["load-format"] = "safetensors"
    if gpu_bytes is not None:
        fraction, said = gpu_memory_utilization(src, gpu_bytes, context)
        if fraction is None:
            reasons["gpu_memory_utilization"] = f"vllm: {said}"
        else:
            options["gpu-memory-utilization"] = fraction
            notes.append(f"--gpu-memory-utilization {fraction}: {said}")
    else:
        notes.append("--gpu-memory-utilization is left at vLLM's default (0.9): give gpu_memory= to size it")  # fmt: skip
    return options, reasons, notes


def _argv(options: dict[str, Any]) -> list[str]:
    argv = ["vllm", "serve", str(options["model"])]
    for key, value in options.items():
        if key == "model":
            continue
        if value is True:
            argv.append(f"--{key}")
        elif isinstance(value, list):
            argv += [f"--{key}", *map(str, value)]
        else:
            argv += [f"--{key}", str(value)]
    return argv


def export_vllm(src: Exportable, out: Path, *, name: str | None = None, gpu_memory: int | str | None = None) -> Export:  # fmt: skip
    """``vllm.yaml``, ``chat_template.jinja`` and the ``vllm serve`` command line."""
    import yaml

    gpu_bytes = parse_size(gpu_memory) if gpu_memory is not None else None
    template_file = out / "chat_template.jinja" if src.chat is not None else None
    options, reasons, notes = vllm_options(
        src, template_file, name=name, gpu_bytes=gpu_bytes
    )  # refusals first
    files = []
    if template_file is not None and src.chat is not None:
        atomic_write(template_file, src.chat.template.encode())
        files.append(template_file)
    elif src.folder is not None:
        reasons["chat_template"] = "vllm: the model has no chat template; its chat requests fail"
    else:
        notes.append("no files here: vLLM uses the chat template of the checkpoint it downloads")
    config_file = out / "vllm.yaml"
    header = f"# vllm serve --config {config_file}\n# {src.key}, written by nbmodels\n"
    atomic_write(config_file, (header + yaml.safe_dump(options, sort_keys=False, allow_unicode=True)).encode())  # fmt: skip
    files.append(config_file)
    notes.append(f"the same options as a file: vllm serve --config {config_file}")
    handled = list(HANDLED)
    return Export(target="vllm", model=src.key, folder=out, files=tuple(files), command=tuple(_argv(options)),
                  unsupported=unsupported(src.config, "vllm", handled=handled, reasons=reasons), notes=tuple(notes))  # fmt: skip
