"""Measure what loading and running one model really costs, in a fresh process.

Used by the memory calibration (``bench_memory.py``) and by the estimate-versus-measured
tests. Each measurement runs in its own Python process (``python memory_probe.py measure
...``) because the allocator never gives everything back: a second model in the same process
would be measured on top of the first one's leftovers.

What is measured (MiB above the process's RSS once torch and transformers are imported, the
baseline every notebook that runs a model pays anyway):

- ``load_peak``: the highest RSS while ``from_pretrained`` runs;
- ``steady``: RSS after loading and one generate (the model in use, the checkpoint's pages
  that the forward pass touched included: safetensors files are memory-mapped);
- ``generate_peak``: the highest RSS during the generate (or the encoder's forward), the
  peak counter reset just before it.

Peak RSS is the kernel's own high-water mark (``VmHWM``), reset by writing ``5`` to
``/proc/self/clear_refs`` (Linux 4.0+): not a sampler that misses short peaks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

MiB = 2**20

#: Random-weight models built from real architectures' configs (sizes as in baselines.md).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    # Llama with grouped-query attention (16 query heads over 4 KV heads), 336M parameters
    "llama-gqa-336m": {
        "kind": "llama",
        "hidden_size": 1024,
        "intermediate_size": 2816,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
        "vocab_size": 32000,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
    },
    # Qwen2 with sliding-window layers (every other layer sees the last 256 tokens), 122M
    "qwen2-sliding-122m": {
        "kind": "qwen2",
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 32000,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
        "use_sliding_window": True,
        "sliding_window": 256,
        "max_window_layers": 6,
    },
    # BERT-base, 110M (an encoder: one forward over a batch, no generate)
    "bert-base-110m": {"kind": "bert"},
    # small ones for the test suite
    "llama-gqa-30m": {
        "kind": "llama",
        "hidden_size": 384,
        "intermediate_size": 1024,
        "num_hidden_layers": 8,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "vocab_size": 16000,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
    },
}


def build(name: str, dest: Path) -> Path:
    """Build (once) a random-weight model of architecture ``name`` as an fp32 checkpoint."""
    folder = dest / name
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    spec = dict(ARCHITECTURES[name])
    kind = spec.pop("kind")
    torch.manual_seed(0)
    if kind == "llama":
        model: Any = LlamaForCausalLM(LlamaConfig(**spec))
    elif kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**spec))
    else:
        model = BertModel(BertConfig())
    tmp = dest / f".{name}.tmp"
    model.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak() -> int:
    """The process's peak RSS since the last reset: ``VmHWM`` (read by hand: psutil does not
    report it). Not ``getrusage``: Linux carries ``ru_maxrss`` across ``exec``, so a child
    started by a big parent (pytest with torch imported) would report the parent's size."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(
    folder: Path,
    mode: str,
    *,
    prompt: int,
    new_tokens: int,
    batch: int = 1,
    loader: str = "nbmodels",
    warmup: str | None = None,
) -> dict[str, Any]:
    """Load ``folder`` in ``mode`` (fp32, bf16, 8bit, nf4, nf4-dq) and run it once.

    ``loader="nbmodels"`` loads as ``nbmodels.load`` does (tensor by tensor where it converts
    or quantizes, ``from_pretrained`` otherwise); ``"from_pretrained"`` is the plain path.
    ``warmup``: a small model's folder, loaded the same way and freed before the baseline."""
    import torch
    import transformers

    torch.set_num_threads(2)
    transformers.logging.set_verbosity_error()
    config = json.loads((folder / "config.json").read_text())
    encoder = config.get("model_type") == "bert"
    cls = transformers.AutoModel if encoder else transformers.AutoModelForCausalLM
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if mode == "bf16" else torch.float32}
    if mode == "8bit":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
    elif mode.startswith("nf4"):
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=mode == "nf4-dq",
            bnb_4bit_compute_dtype=torch.float32,
        )

    def _load(path: Path) -> Any:
        model = None
        if loader == "nbmodels":
            from nbmodels.engine.loader import load_streaming

            model = load_streaming(
                cls, path, dtype=kwargs["dtype"], quantization=kwargs.get("quantization_config")
            )
        return model if model is not None else cls.from_pretrained(path, **kwargs)

    if warmup:
        import ctypes
        import gc

        _load(Path(warmup))
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    base = _rss()
    _reset_peak()
    started = time.perf_counter()
    model = _load(folder)
    model.eval()
    load_s = time.perf_counter() - started
    load_peak = _peak()
    after_load = _rss()
    _reset_peak()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(
        5, config.get("vocab_size", 30000) - 1, (batch, prompt), generator=generator
    )
    started = time.perf_counter()
    with torch.no_grad():
        if encoder:
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
        else:
            model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=0,
            )
    run_s = time.perf_counter() - started
    generate_peak = _peak()
    steady = _rss()
    return {
        "model": folder.name,
        "mode": mode,
        "loader": loader,
        "prompt": prompt,
        "new_tokens": 0 if encoder else new_tokens,
        "batch": batch,
        "base_mib": base / MiB,
        "load_peak_mib": (load_peak - base) / MiB,
        "after_load_mib": (after_load - base) / MiB,
        "generate_peak_mib": (generate_peak - base) / MiB,
        "steady_mib": (steady - base) / MiB,
        "load_s": load_s,
        "run_s": run_s,
        "footprint_mib": model.get_memory_footprint() / MiB,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


def measure_in_subprocess(
    folder: Path,
    mode: str,
    *,
    prompt: int,
    new_tokens: int,
    batch: int = 1,
    timeout: float = 900,
    loader: str = "nbmodels",
) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process (returns its JSON answer)."""
    import subprocess

    # a plain environment: what a notebook kernel has, not the caller's test settings
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "HF_HOME", "HF_HUB_CACHE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env |= {"OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "measure",
            str(folder),
            mode,
            "--prompt",
            str(prompt),
            "--new-tokens",
            str(new_tokens),
            "--batch",
            str(batch),
            "--loader",
            loader,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("folder", type=Path)
    m.add_argument("mode", choices=["fp32", "bf16", "8bit", "nf4", "nf4-dq"])
    m.add_argument("--prompt", type=int, default=32)
    m.add_argument("--new-tokens", type=int, default=128)
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--loader", choices=["nbmodels", "from_pretrained"], default="nbmodels")
    b = sub.add_parser("build")
    b.add_argument("name", choices=sorted(ARCHITECTURES))
    b.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.name, args.dest))
        return 0
    import warnings

    warnings.filterwarnings("ignore")
    result = measure(
        args.folder,
        args.mode,
        prompt=args.prompt,
        new_tokens=args.new_tokens,
        batch=args.batch,
        loader=args.loader,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
