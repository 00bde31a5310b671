"""Run models in the kernel: transformers + accelerate + bitsandbytes, configured by a
:class:`~nbmodels.types.ModelConfiguration`.

    >>> model = nbmodels.load("org/name")           # downloads first when it is not on disk
    >>> model.generate("Once upon a time").text
    >>> for chunk in model.stream("Tell me a story"): print(chunk, end="")
    >>> model.chat("hi").text; model.chat("and then?").text   # history kept
    >>> model.embed(["a sentence", "another"])      # an embedding model: normalised vectors
    >>> model.unload()

torch and transformers are imported when a model is loaded. Before loading, the memory
estimate is checked: a model that will not fit is refused with the estimate and what to
change. Every response carries its text, token counts, time to first token and tokens/s, and
each use is counted in the registry (when the model is registered there).

Beside :func:`load` and :class:`ModelHandle` here: :mod:`.resolve` (what to load),
:mod:`.model_thread` (where model work runs), :mod:`.resident` (memory measured),
:mod:`.response` (answers and streaming), :mod:`.ollama_handle` (models run by Ollama),
:mod:`.openai_handle` (models served over the OpenAI API: ``load(..., backend="openai")``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, EngineError, NBModelsError
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, ModelMetadata
from .model_thread import _hush_bnb_cast_note, _on_torch_thread, _quietly, _torch_thread
from .ollama_handle import OllamaHandle
from .openai_handle import OpenAIHandle
from .resident import _free_memory, _PeakSampler, _rss
from .resolve import _model_class, _on_cpu_only, _resolve
from .response import Response, _Streamer

__all__ = ["ModelHandle", "Response", "load"]

#: load()'s backends and what each runs on
_BACKENDS = {
    "transformers": "in this kernel",
    "ollama": "an Ollama server",
    "openai": "a server of the OpenAI API, with base_url=: vLLM, llama-server, LM Studio, Ollama's /v1",
}


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' own bars ("Loading weights", "Converting and de-quantizing GGUF tensors")
    off while a model loads: in a notebook each is a widget left behind in the cell, and
    the streaming loader, which most loads take, has none."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    # the GGUF converter calls tqdm.auto itself, past transformers' switch: its name there
    # is pointed at a disabled tqdm for the load (loads run one at a time, on one thread)
    bar = gguf_utils.tqdm
    gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = bar
        if enabled:
            logging.enable_progress_bar()


def load(
    model: str | Path | ModelMetadata,
    config: ModelConfiguration | None = None,
    *,
    settings: Settings | None = None,
    check_memory: bool = True,
    backend: str = "transformers",
    base_url: str | None = None,
    api_key: str | None = None,
    **overrides: Any,
) -> ModelHandle:
    """Load ``model`` (a folder, a .gguf file, a Hub id) with ``config`` (default: its stored
    configuration, else :func:`nbmodels.configure`'s) and ``overrides`` on top. A model
    that the estimate says will not fit is refused before anything is loaded
    (``check_memory=False`` tries anyway). An ``ollama:<name>`` id runs through Ollama.

    ``backend``: ``"transformers"`` (in this kernel), ``"ollama"`` (an Ollama server: the
    same as the ``ollama:`` prefix; ``base_url`` its host), ``"openai"`` (a server of the
    OpenAI API at ``base_url``, e.g. ``http://localhost:8000/v1``, with ``api_key``:
    :class:`~.openai_handle.OpenAIHandle`). Every backend's handle has the same methods."""
    settings = settings or default_settings()
    if backend not in _BACKENDS:
        raise ConfigurationError(f"Unknown backend {backend!r}: use " + ", ".join(f"{k!r} ({v})" for k, v in _BACKENDS.items()) + ".")  # fmt: skip
    if backend == "openai":
        name = model.id if isinstance(model, ModelMetadata) else str(model)
        return OpenAIHandle(name, base_url=base_url, api_key=api_key, config=config, settings=settings, **overrides)  # type: ignore[return-value]  # fmt: skip
    if api_key is not None or (base_url is not None and backend != "ollama"):
        raise ConfigurationError("api_key= goes with backend='openai', base_url= with 'openai' or 'ollama': add backend=..., or leave them out.")  # fmt: skip
    if backend == "ollama" or (isinstance(model, str) and model.startswith("ollama:")):
        name = model.id if isinstance(model, ModelMetadata) else str(model)
        name = name.split(":", 1)[1] if name.startswith("ollama:") else name
        host = settings.with_(ollama_host=base_url) if base_url else settings
        return OllamaHandle(name, settings=host)  # type: ignore[return-value]
    model_id, folder, gguf = _resolve(model, settings)
    from ..config.configuration import configure, get_configuration, validate

    cfg = config or get_configuration(model_id, settings)
    if cfg is None:
        cfg = configure(folder if gguf is None else folder / gguf, settings=settings)
        cfg = dataclasses.replace(cfg, model_id=model_id)
    cfg = dataclasses.replace(cfg, **overrides)
    validate(cfg).raise_for_errors()
    estimate = None
    if check_memory:
        from ..config.memory import estimate_memory

        try:
            estimate = estimate_memory(folder if gguf is None else folder / gguf, cfg, context=cfg.max_context_length)  # fmt: skip
        except NBModelsError:
            estimate = None  # no estimate for this kind of model: load and measure
        if estimate is not None and estimate.verdict == "won't fit":
            raise EngineError(
                f"{model_id} won't fit: it needs about {estimate.peak_bytes / 2**30:.1f} GiB at peak and "
                f"{(estimate.available_bytes or 0) / 2**30:.1f} GiB are free. "
                + ("Try " + "; or ".join(estimate.advice) + ". " if estimate.advice else "")
                + "load(..., check_memory=False) tries anyway."
            )
    return _on_torch_thread(ModelHandle._load, model_id, folder, gguf, cfg, settings, estimate)


class ModelHandle:
    """A model loaded in this kernel. See :func:`load`."""

    def __init__(self) -> None:  # built by load()
        self.model_id = ""
        self.config: ModelConfiguration = ModelConfiguration("")
        self.kind = "causal"
        self.model: Any = None
        self.tokenizer: Any = None
        self.history: list[dict[str, str]] = []
        self.load_seconds = 0.0
        self.loader = (
            ""  # "streaming" (tensor by tensor, nbmodels.engine.loader) or "from_pretrained"
        )
        self.load_peak_bytes = 0  # resident memory above what the process had before loading
        self.footprint_bytes = 0  # resident memory the loaded model holds
        self.estimate: Any = None
        self.settings: Settings = default_settings()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def _load(
        cls, model_id: str, folder: Path, gguf: str | None, cfg: ModelConfiguration,
        settings: Settings, estimate: Any,
    ) -> ModelHandle:  # fmt: skip
        import json

        import transformers

        from ..config.configuration import quantization_config

        self = cls()
        self.model_id, self.config, self.settings, self.estimate = model_id, cfg, settings, estimate
        config = {}
        with contextlib.suppress(OSError, ValueError):
            config = json.loads((folder / "config.json").read_text())
        model_class, self.kind = _model_class(cfg, config)
        kwargs: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code}
        if gguf is not None:
            kwargs["gguf_file"] = gguf
        else:
            has_safetensors = any(folder.glob("*.safetensors"))
            if cfg.safetensors_only and not has_safetensors:
                raise EngineError(
                    f"{model_id} has no .safetensors weights, only pickle (.bin) files, which can run "
                    "code when loaded. Set safetensors_only=False if you trust its source."
                )
            kwargs["use_safetensors"] = True if cfg.safetensors_only else None
        if cfg.dtype != "auto" or gguf is not None:
            import torch

            kwargs["dtype"] = getattr(torch, cfg.dtype) if cfg.dtype != "auto" else torch.float32
        else:
            kwargs["dtype"] = "auto"
        quant = quantization_config(cfg)
        widths = [
            v for k in ("hidden_size", "intermediate_size") if isinstance(v := config.get(k), int)
        ]
        if getattr(quant, "load_in_4bit", False) and widths and min(widths) < 64:
            # bitsandbytes' 4-bit kernels quantize rows in blocks of 64 and fail deep inside
            # a forward pass on narrower layers: say so before loading
            raise EngineError(
                f"{model_id} has layers {min(widths)} wide, narrower than bitsandbytes' 4-bit "
                "block of 64: load it with quantization='8bit' or 'none'."
            )
        if quant is not None:
            kwargs["quantization_config"] = quant
            _hush_bnb_cast_note()
        if cfg.device_map and cfg.device_map != "cpu":
            kwargs["device_map"] = cfg.device_map
        if cfg.attn_implementation:
            kwargs["attn_implementation"] = cfg.attn_implementation
        start = time.perf_counter()
        try:
            with _PeakSampler() as peak, _no_progress_bars():  # the load is said by the repr
                source = str(folder)
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(source, **({"gguf_file": gguf} if gguf else {}))  # fmt: skip
                self.model = None
                if (
                    gguf is None
                    and not cfg.trust_remote_code
                    and _on_cpu_only(kwargs.get("device_map"))
                ):
                    from .loader import load_streaming

                    self.model = load_streaming(
                        model_class, folder, dtype=kwargs["dtype"], quantization=quant,
                        attn_implementation=cfg.attn_implementation,
                    )  # fmt: skip
                self.loader = "streaming" if self.model is not None else "from_pretrained"
                if self.model is None:
                    self.model = model_class.from_pretrained(source, **kwargs)
                self.model.eval()
        except NBModelsError:
            raise
        except Exception as exc:  # transformers' and bitsandbytes' errors, said with the model
            raise EngineError(f"Loading {model_id} failed: {type(exc).__name__}: {exc}") from exc
        self.load_seconds = time.perf_counter() - start
        self.load_peak_bytes = peak.peak - peak.base
        self.footprint_bytes = max(0, _rss() - peak.base)
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token_id is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._record(load=True)
        return self

    def __repr__(self) -> str:
        state = (
            "unloaded"
            if self.model is None
            else f"{self.kind}, {self.footprint_bytes / 2**20:.0f} MiB"
        )
        return f"<ModelHandle {self.model_id!r} {state}>"

    # -- generation ------------------------------------------------------------------------------
    def _check(self, *kinds: str) -> None:
        if self.model is None:
            raise EngineError(f"{self.model_id} was unloaded: load() it again.")
        if kinds and self.kind not in kinds:
            raise EngineError(f"{self.model_id} is a {self.kind} model: it cannot do that (it can: {self._can()}).")  # fmt: skip

    def _can(self) -> str:
        return {"causal": "generate, stream, chat", "embedding": "embed",
                "classification": "classify", "seq2seq": "generate"}[self.kind]  # fmt: skip

    def _generation(self, overrides: dict[str, Any]) -> tuple[Any, ModelConfiguration]:
        from ..config.configuration import generation_config, validate

        names = {f.name for f in dataclasses.fields(ModelConfiguration)}
        aliases = {"max_new_tokens": "max_tokens", "stop": "stop_sequences"}
        changes = {aliases.get(k, k): v for k, v in overrides.items()}
        unknown = [k for k in changes if k not in names]
        if unknown:
            raise ConfigurationError(f"Unknown generation setting(s): {', '.join(unknown)}.")
        temperature = changes.get("temperature")
        if "do_sample" not in changes and isinstance(temperature, int | float) and temperature > 0:
            # a temperature asked for in this call means sampling, even where the stored
            # configuration is greedy (a model whose authors set do_sample=False)
            changes["do_sample"] = None
        if "stop_sequences" in changes and isinstance(changes["stop_sequences"], str):
            changes["stop_sequences"] = (changes["stop_sequences"],)
        cfg = dataclasses.replace(self.config, **changes)
        validate(cfg).raise_for_errors()
        ours = generation_config(cfg)
        gen = copy.deepcopy(self.model.generation_config)  # the model's eos / pad tokens
        for key in (
            "do_sample",
            "temperature",
            "top_p",
            "top_k",
        ):  # greedy must not inherit sampling
            setattr(gen, key, getattr(ours, key))
        gen.update(**{k: v for k, v in ours.to_diff_dict().items() if k != "transformers_version"})
        if gen.pad_token_id is None:
            gen.pad_token_id = self.tokenizer.pad_token_id
        return gen, cfg

    def _encode(self, prompts: Sequence[str]) -> Any:
        self.tokenizer.padding_side = "left"
        enc = self.tokenizer(list(prompts), return_tensors="pt", padding=len(prompts) > 1)
        return enc.to(self.model.device)

    def _run(self, prompts: Sequence[str], overrides: dict[str, Any], streamer: Any = None) -> tuple[Any, Any, float, float | None, ModelConfiguration]:  # fmt: skip
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        self._check("causal", "seq2seq")
        gen, cfg = self._generation(overrides)
        enc = self._encode(prompts)
        stop_event = self._stop

        class _Stop(StoppingCriteria):  # handle.stop(): ends generation within one token
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop_event.is_set(), dtype=torch.bool, device=input_ids.device)  # fmt: skip

        first: list[float] = []

        class _First:  # the time of the first new token (a streamer that keeps nothing)
            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value: Any) -> None:
                if self.prompt_seen and not first:
                    first.append(time.perf_counter())
                self.prompt_seen = True
                if streamer is not None:
                    streamer.put(value)

            def end(self) -> None:
                if streamer is not None:
                    streamer.end()

        if cfg.seed is not None:
            torch.manual_seed(cfg.seed)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                **enc, generation_config=gen, stopping_criteria=StoppingCriteriaList([_Stop()]),
                streamer=_First() if len(prompts) == 1 and gen.num_beams == 1 else streamer,
                tokenizer=self.tokenizer,
            )  # fmt: skip
        seconds = time.perf_counter() - start
        ttft = (first[0] - start) if first else None
        return enc, out, seconds, ttft, cfg

    def _responses(self, enc: Any, out: Any, seconds: float, ttft: float | None, cfg: ModelConfiguration) -> list[Response]:  # fmt: skip
        n_prompt = enc["input_ids"].shape[1]
        responses = []
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        for i in range(out.shape[0]):
            new = out[i, n_prompt:]
            ids = [
                int(t) for t in new if int(t) != self.tokenizer.pad_token_id or int(t) in eos_ids
            ]
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            reason = "length"
            if self._stop.is_set():
                reason = "stopped"
            elif (ids and ids[-1] in eos_ids) or len(ids) < cfg.max_tokens:
                reason = "stop"
            for s in cfg.stop_sequences:  # generation ends at the stop string; the text too
                if s in text:
                    text, reason = text[: text.index(s)], "stop"
            responses.append(Response(text, int(enc["attention_mask"][i].sum()), len(ids), seconds, ttft, reason))  # fmt: skip
        return responses

    def generate(self, prompt: str | Sequence[str], **overrides: Any) -> Any:
        """Complete ``prompt`` (or each of a list of prompts, batched) with the configured
        sampling; ``overrides`` change any configuration field for this call
        (``temperature=0``, ``max_tokens=64``, ``stop=["\\n"]``, ``seed=0``, ``num_beams=4``)."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        with self._lock:
            self._stop.clear()
            enc, out, seconds, ttft, cfg = _on_torch_thread(
                self._run, prompts, overrides, stop=self._stop
            )
            responses = self._responses(enc, out, seconds, ttft, cfg)
        self._record(responses=responses)
        return responses[0] if isinstance(prompt, str) else responses

    def stream(self, prompt: str, **overrides: Any) -> Iterator[str]:
        """Text chunks as they are generated. generate runs in a thread; an error there is
        raised here; a stop (``handle.stop()``, a widget button, Ctrl-C while iterating)
        ends generation within one token. ``handle.last_response`` holds the counts after."""
        self._check("causal")
        gen, cfg = self._generation(overrides)
        if gen.num_beams > 1:
            raise ConfigurationError("Streaming cannot follow beam search: set num_beams=1, or use generate().")  # fmt: skip
        streamer = _Streamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=0.1)  # fmt: skip
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["run"] = self._run([prompt], overrides, streamer=streamer)
            except BaseException as exc:  # handed to the iterating thread
                result["error"] = exc
                with contextlib.suppress(Exception):
                    streamer.end()

        self._lock.acquire()
        self._stop.clear()
        thread = _torch_thread().submit(_quietly, work)
        text = []
        stop_strings = list(cfg.stop_sequences)
        try:
            while True:
                try:
                    chunk = next(streamer)
                except StopIteration:
                    break
                except queue.Empty:
                    if "error" in result:
                        break
                    continue
                if stop_strings:  # hold back what could be the start of a stop string
                    text.append(chunk)
                    joined = "".join(text)
                    hit = min((joined.index(s) for s in stop_strings if s in joined), default=None)
                    if hit is not None:
                        emitted = sum(len(t) for t in text[:-1])
                        if hit > emitted:
                            yield joined[emitted:hit]
                        self._stop.set()
                        break
                    yield chunk
                    continue
                text.append(chunk)
                yield chunk
        except BaseException:
            self._stop.set()  # Ctrl-C or a closed generator: stop the generating thread
            raise
        finally:
            with contextlib.suppress(BaseException):
                thread.result()  # the generation has ended (a stop ends it within a token)
            self._lock.release()
        if "error" in result:
            error = result["error"]
            raise EngineError(f"Generation failed: {type(error).__name__}: {error}") from error
        enc, out, seconds, ttft, cfg2 = result["run"]
        self.last_response = self._responses(enc, out, seconds, ttft, cfg2)[0]
        self._record(responses=[self.last_response])

    def stop(self) -> None:
        """End the generation running now (stream or generate) within one token."""
        self._stop.set()

    def chat(self, message: str, *, stream: bool = False, **overrides: Any) -> Any:
        """One turn of a conversation, with the model's chat template and the configured
        system prompt; the history is kept (``handle.history``, ``handle.reset()``)."""
        self._check("causal")
        if not getattr(self.tokenizer, "chat_template", None):
            raise EngineError(f"{self.model_id} has no chat template: use generate() with a prompt.")  # fmt: skip
        messages = list(self.history)
        if not messages and self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        messages.append({"role": "user", "content": message})
        prompt = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        if stream:
            return self._chat_stream(messages, prompt, overrides)
        response = self.generate(prompt, **overrides)
        self.history = [*messages, {"role": "assistant", "content": response.text}]
        return response

    def _chat_stream(self, messages: list[dict[str, str]], prompt: str, overrides: dict[str, Any]) -> Iterator[str]:  # fmt: skip
        parts = []
        for chunk in self.stream(prompt, **overrides):
            parts.append(chunk)
            yield chunk
        self.history = [*messages, {"role": "assistant", "content": "".join(parts)}]

    def reset(self) -> None:
        """Forget the conversation."""
        self.history = []

    # -- other tasks -----------------------------------------------------------------------------
    def embed(
        self, texts: str | Sequence[str], *, normalize: bool = True, batch_size: int = 32
    ) -> Any:
        """Embeddings of ``texts`` (a numpy array, one row each): the pooling the model's
        sentence-transformers config asks for (mean by default; CLS where it says so),
        L2-normalised unless ``normalize=False``."""
        import numpy as np
        import torch

        self._check("embedding", "causal")
        items = [texts] if isinstance(texts, str) else list(texts)
        mode = self._pooling()
        rows = []
        start = time.perf_counter()
        n_tokens = 0
        for i in range(0, len(items), batch_size):
            enc = self.tokenizer(items[i : i + batch_size], return_tensors="pt", padding=True, truncation=True).to(self.model.device)  # fmt: skip
            n_tokens += int(enc["attention_mask"].sum())
            out = _on_torch_thread(self._forward, enc, output_hidden_states=self.kind == "causal")
            hidden = out.hidden_states[-1] if self.kind == "causal" else out.last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if mode == "cls":
                pooled = hidden[:, 0]
            elif mode == "max":
                pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
            rows.append(pooled.float().cpu().numpy())
        self._record(tokens_in=n_tokens, seconds=time.perf_counter() - start, task="embedding")
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _forward(self, enc: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(**enc, **kwargs)

    def _pooling(self) -> str:
        import json

        folder = Path(getattr(self.model, "name_or_path", "") or ".")
        with contextlib.suppress(OSError, ValueError):
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
            if pooling.get("pooling_mode_cls_token"):
                return "cls"
            if pooling.get("pooling_mode_max_tokens"):
                return "max"
        return "mean"

    def classify(self, texts: str | Sequence[str]) -> list[dict[str, float]]:
        """Label probabilities for each text (a classification model)."""

        self._check("classification")
        items = [texts] if isinstance(texts, str) else list(texts)
        enc = self.tokenizer(items, return_tensors="pt", padding=True, truncation=True).to(self.model.device)  # fmt: skip
        probs = _on_torch_thread(self._forward, enc).logits.softmax(-1).float().cpu()
        labels = self.model.config.id2label
        self._record(tokens_in=int(enc["attention_mask"].sum()), task="classification")
        return [{labels[j]: float(p[j]) for j in range(p.shape[0])} for p in probs]

    def pipeline(self, task: str | None = None, **kwargs: Any) -> Any:
        """A transformers pipeline over this loaded model and tokenizer, for the seed's other
        tasks (``"question-answering"``, ``"summarization"``, ``"translation"``,
        ``"fill-mask"``, ``"text-classification"``...): the model is not loaded again."""
        from transformers import pipeline as make_pipeline

        self._check()
        pipeline: Any = make_pipeline  # its overloads want a literal task name
        default = {"causal": "text-generation", "classification": "text-classification",
                   "embedding": "feature-extraction", "seq2seq": "text2text-generation"}[self.kind]  # fmt: skip
        try:
            return pipeline(task or default, model=self.model, tokenizer=self.tokenizer, **kwargs)
        except Exception as exc:  # an unknown task, or one this model's head cannot do
            raise EngineError(
                f"No {task or default!r} pipeline for {self.model_id}: {exc}"
            ) from None

    # -- memory ----------------------------------------------------------------------------------
    def unload(self) -> int:
        """Free the model's memory; returns the resident bytes given back (measured)."""
        before = _rss()
        self.model = None
        self.tokenizer = None
        _free_memory()
        with contextlib.suppress(Exception):
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        return max(0, before - _rss())

    # -- the registry ----------------------------------------------------------------------------
    def _record(self, *, load: bool = False, responses: Sequence[Response] = (), tokens_in: int = 0, seconds: float = 0.0, task: str | None = None) -> None:  # fmt: skip
        """Usage into the registry when the model is registered there (best effort: a
        registry that cannot be written never fails a generation)."""
        from ..storage.registry import Registry

        try:
            reg = self.__dict__.get("_registry")
            if reg is None:  # one per handle: its connection is reused call after call
                reg = self.__dict__["_registry"] = Registry(settings=self.settings)
            if not reg.path.exists() or self.model_id not in reg:  # no registry made for this
                return
            if load:
                reg.record_load(self.model_id, self.load_peak_bytes)
                return
            if responses:
                reg.record_usage(
                    self.model_id,
                    tokens_in=sum(r.prompt_tokens for r in responses),
                    tokens_out=sum(r.completion_tokens for r in responses),
                    seconds=max(r.seconds for r in responses),
                    task=task or "generation",
                )
            else:
                reg.record_usage(self.model_id, tokens_in=tokens_in, seconds=seconds, task=task)
        except NBModelsError as exc:  # said once per handle, never a failed generation
            if not self.__dict__.get("_record_warned"):
                import warnings

                from ..errors import RegistryWarning

                self.__dict__["_record_warned"] = True
                warnings.warn(f"{self.model_id}: usage is not recorded in the registry: {exc}", RegistryWarning, stacklevel=3)  # fmt: skip
