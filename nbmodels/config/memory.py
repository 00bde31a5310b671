"""Will it fit? A memory estimate before anything is loaded (or even downloaded).

    >>> est = nbmodels.estimate_memory("/path/to/model", quantization="nf4", context=2048)
    >>> est.verdict, est.generate_peak_bytes, est.advice

What it predicts (bytes above a Python process that has imported torch and transformers):

- ``load_peak_bytes``: the highest resident memory while ``from_pretrained`` runs;
- ``steady_bytes``: resident memory once the model has generated at this context (the
  checkpoint's memory-mapped pages the forward pass touched included);
- ``generate_peak_bytes``: the highest resident memory while generating (prefill of
  ``batch`` x ``context`` tokens, then the KV cache full).

How (each term from the model's own files, never its weights):

- weights by what each tensor becomes: bitsandbytes quantizes only the ``nn.Linear`` layers of
  the blocks; embeddings, ``lm_head`` and norms stay in the load dtype. 8-bit: one byte per
  weight plus a float32 scale per output row. 4-bit: half a byte per weight plus a float32
  absmax per block of 64 (double quantization: one byte per block plus a float32 per 256
  blocks);
- the memory-mapped checkpoint: loaded in its own dtype, the weights *are* the file's pages
  (an input embedding is touched only row by row); converting dtype or quantizing touches the
  whole file, and bitsandbytes keeps the mapping alive for the model's life;
- the KV cache from the architecture: 2 x layers x KV heads x head size x tokens x batch x
  bytes, sliding-window layers capped at their window, encoders none;
- activations of the prefill (MLP intermediates, attention scores where a mask is
  materialised: sliding windows, encoders), and the runtime's own overhead.

The overhead constants (``_RUNTIME``) were fitted on this project's calibration
(``benchmarks/bench_memory.py``: random-weight Llama-GQA, Qwen2 sliding-window and BERT
models, fp32/bf16/8-bit/4-bit, two contexts, CPU); GPU figures use the same formula for
VRAM and are not calibrated (no GPU here), which the estimate says in ``notes``.
Identical runs differ, measured: bitsandbytes 8-bit and 4-bit loads by hundreds of MiB (its
temporaries and the allocator's timing), and a checkpoint loaded in its own dtype by up to its
untied input embedding (how much of it the kernel maps in around the rows read depends on what
the page cache holds), and any load by ~25 MiB (the allocator's arenas). ``spread_bytes`` says how much higher a run may go; the figures are the
low end, and the fit verdict counts the spread.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..types import ModelConfiguration, ModelMetadata
from ..units import format_size

__all__ = ["Architecture", "MemoryEstimate", "estimate_memory"]

MiB = 2**20
_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
_FILE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}
_ENCODERS = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "deberta-v2",
             "mpnet", "albert", "camembert", "modernbert", "nomic_bert"}  # fmt: skip

# Fitted on benchmarks/bench_memory.py (MiB, and multipliers of the terms named).
_RUNTIME = {
    "load": 118.0,  # transformers' loading machinery
    "run": 125.0,  # generation machinery, oneDNN scratch, allocator arenas after a generate
    "run_half": 25.0,
    "encoder_keep": 0.4,  # an encoder's forward: this x its transients stays with the allocator  # float16/bfloat16 kernels keep float32 scratch on CPU
    "kv_extra": 1.0,  # the DynamicCache grows by concatenation: a second copy at the peak
    "act": 2.0,  # MLP intermediates (x tokens x intermediate x bytes)
    "scores": 1.0,  # attention scores where a mask is materialised
    "bnb8_load": 0.33,  # 8-bit: temporaries kept, x float32 bytes of the Linear weights
    "bnb8_run": 70.0,
    "bnb8_act": 0.7e-7,  # int8 matmul temporaries: MiB x tokens x intermediate x hidden
    "bnb4_load": 0.05,
    "stream_convert": -11.0,  # nbmodels.engine.loader converting: less of the machinery's heap
    "stream_bnb": 30.0,  # nbmodels.engine.loader with bitsandbytes: its kernels and scratch
    "stream_bnb_linear": 0.012,  # ... and what grows with the model, x float32 Linear bytes
    "stream_run": -35.0,  # a conversion by nbmodels.engine.loader leaves no allocator debris behind
    "bnb4_run": 60.0,
    "bnb4_act": 3.0,
    "run_spread": 25.0,  # the runtime's own overhead, between identical runs (allocator arenas)
    "bnb8_spread": 0.6,  # 8-bit loads: identical runs differ by up to this x float32 Linear bytes
    "bnb4_spread": 0.9,  # 4-bit loads: the same (bitsandbytes' temporaries, allocator timing)
}


@dataclass(frozen=True)
class Architecture:
    """What the memory of a model depends on, from its ``config.json`` (or GGUF header)."""

    model_type: str
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tied_embeddings: bool
    max_positions: int | None = None
    sliding_window: int | None = None
    sliding_layers: int = 0
    encoder: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Architecture:
        cfg = dict(config.get("text_config") or config)
        model_type = str(config.get("model_type") or cfg.get("model_type") or "")

        def first(*keys: str, default: Any = None) -> Any:
            return next((cfg[k] for k in keys if isinstance(cfg.get(k), int)), default)

        hidden = first("hidden_size", "n_embd", "d_model", "dim")
        layers = first("num_hidden_layers", "n_layer", "num_layers", "n_layers")
        heads = first("num_attention_heads", "n_head", "num_heads", "n_heads")
        if not (hidden and layers and heads):
            raise ConfigurationError(
                "config.json does not say the hidden size, layers and heads "
                f"(model_type {model_type!r}): pass the model's folder or a Hub id whose "
                "config.json is a transformers config."
            )
        kv = first(
            "num_key_value_heads", "n_head_kv", default=1 if cfg.get("multi_query") else heads
        )
        head_dim = first("head_dim", default=hidden // heads)
        layer_types = cfg.get("layer_types") or []
        window = cfg.get("sliding_window") if isinstance(cfg.get("sliding_window"), int) else None
        if layer_types:
            sliding = sum(1 for t in layer_types if "sliding" in str(t))
        elif window and cfg.get("use_sliding_window", True):
            sliding = layers
        else:
            sliding = 0
        return cls(
            model_type=model_type,
            hidden_size=hidden,
            layers=layers,
            heads=heads,
            kv_heads=kv,
            head_dim=head_dim,
            intermediate_size=first("intermediate_size", "n_inner", "ffn_dim", default=4 * hidden),
            vocab_size=first("vocab_size", default=32000),
            tied_embeddings=bool(
                cfg.get("tie_word_embeddings", config.get("tie_word_embeddings", True))
            ),
            max_positions=first("max_position_embeddings", "n_positions", "n_ctx"),
            sliding_window=window if sliding else None,
            sliding_layers=sliding,
            encoder=model_type in _ENCODERS,
        )

    @classmethod
    def from_gguf(cls, metadata: Mapping[str, Any], architecture: str) -> Architecture:
        def key(name: str, default: Any = None) -> Any:
            value = metadata.get(f"{architecture}.{name}", default)
            return value if isinstance(value, int) else default

        hidden, layers, heads = (
            key("embedding_length"),
            key("block_count"),
            key("attention.head_count"),
        )
        if not (hidden and layers and heads):
            raise ConfigurationError(
                f"The GGUF header does not describe a {architecture} model's shape."
            )
        return cls(
            model_type=architecture,
            hidden_size=hidden,
            layers=layers,
            heads=heads,
            kv_heads=key("attention.head_count_kv", heads),
            head_dim=key("attention.key_length", hidden // heads),
            intermediate_size=key("feed_forward_length", 4 * hidden),
            vocab_size=key("vocab_size", 32000),
            tied_embeddings=True,
            max_positions=key("context_length"),
        )

    def kv_cache_bytes(self, tokens: int, batch: int, dtype_bytes: int) -> int:
        if self.encoder:
            return 0
        per_token_layer = 2 * self.kv_heads * self.head_dim * batch * dtype_bytes
        full = self.layers - self.sliding_layers
        window = min(tokens, self.sliding_window or tokens)
        return per_token_layer * (full * tokens + self.sliding_layers * window)


@dataclass(frozen=True)
class MemoryEstimate:
    """What running a model will cost, and whether it fits (see the module's docstring)."""

    model_id: str
    quantization: str
    dtype: str
    device: str
    context: int
    batch: int
    parameters: int
    weights_bytes: int  # the model's resident weights (quantized where bitsandbytes does)
    file_bytes: int  # the checkpoint (memory-mapped)
    kv_cache_bytes: int
    activations_bytes: int
    overhead_bytes: int
    load_peak_bytes: int
    steady_bytes: int
    generate_peak_bytes: int
    spread_bytes: int  # how much higher an identical run may go (see the module's docstring)
    available_bytes: int | None  # usable RAM (or free VRAM of the device)
    verdict: str  # "fits on GPU", "fits in RAM", "won't fit", "unknown"
    advice: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    accelerate_bytes: int = 0  # accelerate estimate-memory's figure, for comparison
    parts: Mapping[str, int] = field(default_factory=dict)
    measured_peak_bytes: int | None = None  # the load peak measured when nbmodels.load() ran it

    @property
    def peak_bytes(self) -> int:
        return max(self.load_peak_bytes, self.generate_peak_bytes)

    @property
    def fits(self) -> bool | None:
        return None if self.verdict == "unknown" else self.verdict != "won't fit"

    def __repr__(self) -> str:
        return (
            f"<MemoryEstimate {self.model_id} {self.quantization}/{self.dtype} context "
            f"{self.context}: load peak {format_size(self.load_peak_bytes)}, generate peak "
            f"{format_size(self.generate_peak_bytes)}, {self.verdict}>"
        )

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{format_size(v)}</td></tr>"
            for k, v in self.parts.items()
        )
        extra = "".join(f"<li>{html.escape(a)}</li>" for a in (*self.advice, *self.notes))
        return (
            f"<b>{html.escape(self.model_id)}</b>: <b>{html.escape(self.verdict)}</b> "
            f"(peak {format_size(self.peak_bytes)} of {format_size(self.available_bytes)} usable)"
            f"<table>{rows}</table><ul>{extra}</ul>"
        )


# -- what the model is ----------------------------------------------------------------------------
@dataclass
class _Model:
    model_id: str
    arch: Architecture
    parameters: int
    file_bytes: int
    file_dtype: str  # "float32", "bfloat16", "float16", or "gguf"
    notes: list[str]


def _file_dtype(per_dtype: Mapping[str, int]) -> str:
    main = max(per_dtype.items(), key=lambda kv: kv[1])[0] if per_dtype else "F32"
    return {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}.get(main.upper(), "float32")


def _from_folder(folder: Path, model_id: str) -> _Model:
    from ..weights import read_safetensors_files

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{folder} has no readable config.json ({exc}).") from None
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigurationError(f"{folder} has no safetensors weights to size.")
    info = read_safetensors_files(files)
    return _Model(model_id, Architecture.from_config(config), info.total, info.nbytes,
                  _file_dtype(info.parameters), [f"from {folder}'s config.json and safetensors headers"])  # fmt: skip


def _from_gguf(path: Path, model_id: str) -> _Model:
    from ..gguf_info import read_gguf_info

    info = read_gguf_info(path)
    arch = Architecture.from_gguf(info.metadata, info.architecture or "llama")
    params = info.parameter_count or sum(info.tensor_types.values())
    return _Model(model_id, arch, params, info.tensor_bytes, "gguf",
                  [f"from the GGUF header of {path.name} (dequantized to the load dtype by transformers)"])  # fmt: skip


def _from_hub(repo_id: str, revision: str | None) -> _Model:
    from huggingface_hub import HfApi

    from ..discover.sources.huggingface import fetch_small_files, hub_error
    from ..settings import default_settings

    settings = default_settings()
    folder = fetch_small_files(repo_id, ["config.json"], settings=settings, revision=revision)
    assert folder is not None  # config.json is required: its absence raised
    config = json.loads((folder / "config.json").read_text())
    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token)
    try:
        meta = api.get_safetensors_metadata(repo_id, revision=revision)
    except Exception as exc:  # the Hub's answer becomes one of ours, saying what to do
        raise hub_error(exc, endpoint=settings.hf_endpoint, repo_id=repo_id, revision=revision,
                        token=settings.hf_token) from None  # fmt: skip
    per_dtype: dict[str, int] = {}
    for file_meta in meta.files_metadata.values():
        for dtype, n in file_meta.parameter_count.items():
            per_dtype[dtype] = per_dtype.get(dtype, 0) + n
    nbytes = sum(int(_FILE_BYTES.get(d.upper(), 2) * n) for d, n in per_dtype.items())
    return _Model(repo_id, Architecture.from_config(config), sum(per_dtype.values()), nbytes,
                  _file_dtype(per_dtype), ["from the Hub's config.json and safetensors headers (no weights fetched)"])  # fmt: skip


def _resolve(model: ModelMetadata | str | Path, revision: str | None) -> _Model:
    if isinstance(model, ModelMetadata):
        if model.local_path:
            return _resolve(Path(model.local_path), revision)
        return _from_hub(model.id, revision)
    path = Path(model).expanduser()
    if path.is_dir():
        return _from_folder(path, path.name)
    if path.is_file() and path.suffix == ".gguf":
        return _from_gguf(path, path.name)
    if isinstance(model, Path) or "/" not in str(model) or str(model).startswith((".", "/", "~")):
        raise ConfigurationError(
            f"{model!s} is neither a model folder, a .gguf file nor a Hub id (owner/name)."
        )
    return _from_hub(str(model), revision)


# -- the estimate ---------------------------------------------------------------------------------
def _parts(
    m: _Model, quant: str, dtype: str, context: int, batch: int, streaming: bool = True
) -> dict[str, float]:
    a = m.arch
    load_bytes = _BYTES[dtype]
    embed = a.vocab_size * a.hidden_size + (
        (a.max_positions or 0) * a.hidden_size if a.encoder else 0
    )
    head = 0 if a.tied_embeddings or a.encoder else a.vocab_size * a.hidden_size
    norms = a.layers * 2 * a.hidden_size
    linear = max(0, m.parameters - embed - head - norms)
    kept = m.parameters - linear  # embeddings, lm_head, norms: the load dtype
    if quant == "8bit":
        quantized = linear + 4 * (linear // a.hidden_size)
    elif quant in ("nf4", "fp4"):
        quantized = linear // 2 + linear // 64 * 4
    elif quant == "nf4-dq":
        quantized = linear // 2 + linear // 64 + linear // 64 // 256 * 4
    else:
        quantized = linear * load_bytes
    weights = quantized + kept * load_bytes
    compute = 4 if quant != "none" or dtype == "float32" else load_bytes
    tokens = batch * context
    kv = a.kv_cache_bytes(context, batch, compute)
    act = tokens * a.intermediate_size * compute
    # softmax runs in float32 whatever the dtype
    scores = batch * a.heads * context * context * 4 if (a.sliding_layers or a.encoder) else 0
    same = m.file_dtype == dtype and quant == "none"
    file_bytes = m.file_bytes
    r = _RUNTIME
    linear32 = linear * 4
    untouched = 0.0
    if same:  # the weights are the mapped file's pages
        # an untied input embedding is read row by row; how much of it becomes resident
        # depends on the page cache (the kernel maps cached pages around each row read):
        # measured, from none of it to all of it for the same run. The spread says so.
        untouched = (
            0 if a.tied_embeddings or a.encoder else a.vocab_size * a.hidden_size * load_bytes
        )
        load_peak = r["load"] * MiB
        resident: float = file_bytes - untouched
    elif streaming and m.file_dtype != "gguf":
        # nbmodels.engine.loader: one tensor at a time with plain reads, nothing mapped; the peak is
        # the loaded weights, the loading machinery and bitsandbytes' own (its kernels, its
        # chunked temporaries), fitted on bench_memory's four models
        load_peak = r["load"] * MiB + weights
        if quant != "none":
            load_peak += r["stream_bnb"] * MiB + r["stream_bnb_linear"] * linear32
        else:
            load_peak += r["stream_convert"] * MiB
        resident = weights
    elif quant == "none":  # a converted copy; the mapping is dropped after loading
        load_peak = r["load"] * MiB + file_bytes + weights
        resident = weights
    else:  # quantizing reads the whole file, and bitsandbytes keeps the mapping alive
        extra = r["bnb8_load"] if quant == "8bit" else r["bnb4_load"]
        load_peak = r["load"] * MiB + file_bytes + quantized + extra * linear32
        resident = file_bytes + quantized + extra * linear32
    run = r["run"] * MiB
    if quant == "none" and load_bytes == 2:
        run += r["run_half"] * MiB
    if streaming and not same and quant == "none" and m.file_dtype != "gguf":
        run += r["stream_run"] * MiB
    transient = r["kv_extra"] * kv + r["act"] * act + r["scores"] * scores
    if quant == "8bit":
        run += r["bnb8_run"] * MiB
        transient += r["bnb8_act"] * tokens * a.intermediate_size * a.hidden_size * MiB
    elif quant != "none":
        run += r["bnb4_run"] * MiB
        transient += r["bnb4_act"] * act
    steady = resident + run + kv
    kept_after = r["encoder_keep"] * transient if a.encoder else 0.0
    return {
        "weights": weights,
        "file": file_bytes,
        "kv": kv,
        "activations": transient,
        "overhead": run,
        "load_peak": load_peak,
        "steady": steady + kept_after,
        "generate_peak": steady + transient,
        "spread": (r["bnb8_spread"] if quant == "8bit" else r["bnb4_spread"]) * linear32
        if quant != "none"
        else untouched + r["run_spread"] * MiB,
        "accelerate": m.parameters
        * 4
        / {"none": 4 / load_bytes, "8bit": 4, "nf4": 8}.get(
            quant if quant in ("none", "8bit") else "nf4", 1
        ),
    }


def _quant_key(cfg: ModelConfiguration) -> str:
    from .stored import effective_quantization

    quant = effective_quantization(cfg)
    return "nf4-dq" if quant in ("nf4", "fp4") and cfg.double_quant else quant


def _dtype(cfg: ModelConfiguration, m: _Model) -> str:
    if cfg.dtype in _BYTES:
        return cfg.dtype
    if cfg.use_half_precision:
        return "float16"
    return m.file_dtype if m.file_dtype in _BYTES else "float32"


def estimate_memory(
    model: ModelMetadata | str | Path,
    config: ModelConfiguration | None = None,
    *,
    context: int | None = None,
    batch: int = 1,
    revision: str | None = None,
    hardware: Any = None,
    loader: str = "nbmodels",
    **overrides: Any,
) -> MemoryEstimate:
    """How much memory ``model`` needs with ``config`` (quantization, dtype, context), and
    whether it fits this machine: see :class:`MemoryEstimate`.

    ``model`` is a model folder, a ``.gguf`` file, a Hub id (read from the Hub's
    ``config.json`` and safetensors headers, no weights fetched) or ``model_info``'s answer.
    ``overrides`` set configuration fields (``quantization="nf4"``, ``dtype="bfloat16"``).
    ``loader="from_pretrained"`` estimates a plain ``from_pretrained`` load instead of
    ``nbmodels.load`` (which reads weights tensor by tensor where it converts or quantizes)."""
    if loader not in ("nbmodels", "from_pretrained"):
        raise ConfigurationError(f"loader must be 'nbmodels' or 'from_pretrained', not {loader!r}.")
    if batch < 1 or (context is not None and context < 1):
        raise ConfigurationError("context and batch must be positive: e.g. context=2048, batch=1.")
    cfg = dataclasses.replace(config or ModelConfiguration(str(model)), **overrides)
    m = _resolve(model, revision)
    measured = _measured_peak(m.model_id)
    return _estimate(m, cfg, context=context, batch=batch, hardware=hardware, measured=measured,
                     streaming=loader == "nbmodels")  # fmt: skip


def _measured_peak(model_id: str) -> int | None:
    """The load peak the registry recorded for ``model_id`` (None when never loaded, or no
    registry): shown beside the estimate."""
    from ..errors import NBModelsError
    from ..storage.registry import default_registry

    try:
        reg = default_registry()
        if not reg.path.exists() or model_id not in reg:
            return None
        value = reg.stats(model_id).get("measured_peak_bytes")
        return int(value) if value else None
    except NBModelsError:
        return None


def _estimate(
    m: _Model,
    cfg: ModelConfiguration,
    *,
    context: int | None,
    batch: int,
    hardware: Any,
    measured: int | None = None,
    streaming: bool = True,
) -> MemoryEstimate:
    """The estimate for a model already read (the configuration editor reads it once and
    re-estimates on every change without touching the disk or the Hub again)."""
    if batch < 1 or (context is not None and context < 1):
        raise ConfigurationError("context and batch must be positive: e.g. context=2048, batch=1.")
    quant = _quant_key(cfg)
    dtype = _dtype(cfg, m)
    ctx = context or cfg.max_context_length or min(m.arch.max_positions or 2048, 4096)
    parts = _parts(m, quant, dtype, ctx, batch, streaming)
    from ..machine import hardware as read_hardware

    hw = hardware or read_hardware()
    notes = list(m.notes)
    if m.arch.max_positions and ctx > m.arch.max_positions:
        notes.append(f"context {ctx} is beyond the model's {m.arch.max_positions} positions: it cannot generate that far")  # fmt: skip
    gpu = next((g for g in hw.gpus if g.kind == "cuda"), None)
    want_gpu = gpu is not None and cfg.device_map not in ("cpu",)
    peak = max(parts["load_peak"], parts["generate_peak"]) + parts["spread"]
    if want_gpu and gpu is not None:
        vram = parts["weights"] + parts["kv"] + parts["activations"] + 500 * MiB  # CUDA context
        available = gpu.free_bytes
        notes.append("GPU figures use the formula (weights, KV, activations, ~500 MiB CUDA context); calibrated on CPU only")  # fmt: skip
        if available is not None and vram <= available:
            verdict = "fits on GPU"
        elif peak <= hw.usable_ram_bytes:
            verdict = "fits in RAM"
        else:
            verdict = "won't fit"
    else:
        available = hw.usable_ram_bytes
        verdict = "fits in RAM" if peak <= available else "won't fit"
    if parts["spread"]:
        why = "bitsandbytes' temporaries" if quant != "none" else "the allocator's arenas, and how much of a memory-mapped input embedding the page cache maps in"  # fmt: skip
        notes.append(f"identical runs vary by up to {format_size(parts['spread'])} ({why})")  # fmt: skip
    if m.file_dtype == "gguf":
        notes.append("GGUF loaded through transformers: not calibrated (the header gives the shape and size)")  # fmt: skip
    advice: list[str] = []
    if verdict == "won't fit":
        for option in ("8bit", "nf4", "nf4-dq"):
            if option == quant:
                continue
            alt = _parts(m, option, dtype, ctx, batch, streaming)
            alt_peak = max(alt["load_peak"], alt["generate_peak"]) + alt["spread"]
            if alt_peak <= hw.usable_ram_bytes:
                name = (
                    "quantization='nf4', double_quant=True"
                    if option == "nf4-dq"
                    else f"quantization={option!r}"
                )
                advice.append(f"{name}: peak {format_size(alt_peak)}")
                break
        if batch > 1:
            fits_batch = next(
                (b for b in range(batch // 2, 0, -1)
                 if max((alt := _parts(m, quant, dtype, ctx, b, streaming))["load_peak"], alt["generate_peak"]) + alt["spread"] <= hw.usable_ram_bytes),
                None,
            )  # fmt: skip
            if fits_batch:
                advice.append(f"batch={fits_batch}: the largest batch that fits at this context")
        if ctx > 2048:
            alt = _parts(m, quant, dtype, ctx // 4, batch, streaming)
            advice.append(
                f"context={ctx // 4}: peak {format_size(max(alt['load_peak'], alt['generate_peak']))}"
            )
        if not advice:
            advice.append(
                "choose a smaller model: even 4-bit needs more than this machine has free"
            )
    if measured is not None:
        notes.append(f"measured when last loaded here: load peak {format_size(measured)} (the registry)")  # fmt: skip
    return MemoryEstimate(
        measured_peak_bytes=measured,
        model_id=m.model_id,
        quantization=quant,
        dtype=dtype,
        device=gpu.device if want_gpu and gpu is not None else "cpu",
        context=ctx,
        batch=batch,
        parameters=m.parameters,
        weights_bytes=int(parts["weights"]),
        file_bytes=int(parts["file"]),
        kv_cache_bytes=int(parts["kv"]),
        activations_bytes=int(parts["activations"]),
        overhead_bytes=int(parts["overhead"]),
        load_peak_bytes=int(parts["load_peak"]),
        steady_bytes=int(parts["steady"]),
        generate_peak_bytes=int(parts["generate_peak"]),
        spread_bytes=int(parts["spread"]),
        available_bytes=available,
        verdict=verdict,
        advice=tuple(advice),
        notes=tuple(notes),
        accelerate_bytes=int(parts["accelerate"]),
        parts={
            "weights": int(parts["weights"]),
            "KV cache": int(parts["kv"]),
            "activations (peak)": int(parts["activations"]),
            "runtime": int(parts["overhead"]),
            "load peak": int(parts["load_peak"]),
            "steady": int(parts["steady"]),
            "generate peak": int(parts["generate_peak"]),
        },
    )
