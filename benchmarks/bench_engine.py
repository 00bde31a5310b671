"""The engine, measured: tokens/s and time to first token of nbmodels' generate and stream
against plain ``model.generate`` on the same loaded model and settings; and, in a fresh
process per mode, the memory of each load mode against plain ``from_pretrained``, beside the
estimate.

python benchmarks/bench_engine.py [--new-tokens 64] [--repeat 3]

The model is a random-weight Llama with ~100M parameters in its layers and the demo chat
model's tokenizer: big enough that the model's own cost dominates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"


def with_tokenizer(folder: Path, dest: Path) -> Path:
    """``folder`` (weights) plus the demo chat model's tokenizer, as links in ``dest`` (for
    the GPU check's big Llama, whose ids merely need to be valid)."""
    chat = _chat_model(dest)
    out = dest / f"{folder.name}-chat"
    if not out.exists():
        out.mkdir(parents=True)
        for f in folder.iterdir():
            (out / f.name).symlink_to(f)
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            if (chat / name).exists():
                (out / name).symlink_to(chat / name)
    return out


def _chat_model(dest: Path) -> Path:
    from nbmodels.demo.hub.tinymodels import build_tiny_models

    return build_tiny_models(dest / "tiny")["nbmodels-demo/tiny-llama-chat"]


def _build_llama(dest: Path, name: str, **sizes: int) -> Path:
    """A random-weight Llama at ``dest/name`` whose vocabulary is the demo tokenizer's, so
    every generated id decodes to text (a mismatched vocabulary makes the streamer decode
    unknown ids); built once."""
    folder = dest / name
    if (folder / "model.safetensors").exists():
        return folder
    import shutil

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    chat = _chat_model(dest)
    tok = AutoTokenizer.from_pretrained(chat)
    config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **sizes)  # fmt: skip
    torch.manual_seed(0)
    tmp = dest / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    LlamaForCausalLM(config).save_pretrained(tmp)
    for file in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (chat / file).exists():
            shutil.copy(chat / file, tmp / file)
    tmp.rename(folder)
    return folder


def build_llama_100m(dest: Path) -> Path:
    """~100M parameters in its layers (hidden 768, 12 layers, grouped-query attention)."""
    return _build_llama(dest, "llama-100m-chat", hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                        num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=2048)  # fmt: skip


_PLAIN_RUN = """
import json, statistics, sys, time
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(2)
folder, n, repeat, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
enc = tok(prompt, return_tensors="pt")
def run(k):
    t = time.perf_counter()
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=k, min_new_tokens=k, do_sample=False, pad_token_id=tok.eos_token_id)
    return time.perf_counter() - t
run(4)
rows = [(n / run(n), run(1)) for _ in range(repeat)]
print(json.dumps({"plain model.generate": rows, "prompt_tokens": len(enc["input_ids"][0])}))
"""

_NBM_RUN = """
import json, sys, time
import torch
import nbmodels
torch.set_num_threads(2)
folder, n, repeat, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
h = nbmodels.load(folder, dtype="float32")
h.generate(prompt, temperature=0, max_tokens=4)
gen, stream = [], []
for _ in range(repeat):
    r = h.generate(prompt, temperature=0, max_tokens=n)
    gen.append((r.completion_tokens / r.seconds, r.time_to_first_token or 0))
    t = time.perf_counter(); first = None
    for _c in h.stream(prompt, temperature=0, max_tokens=n):
        if first is None:
            first = time.perf_counter() - t
    stream.append((h.last_response.completion_tokens / (time.perf_counter() - t), first or 0))
print(json.dumps({"nbmodels generate": gen, "nbmodels stream": stream}))
"""


def throughput(folder: Path, new_tokens: int, repeat: int) -> None:
    """Each side in its own fresh process, as a user would run it (the plain one loads and
    generates in its main thread; nbmodels runs every model call on its model thread)."""
    rows: dict[str, list[list[float]]] = {}
    prompt_tokens = 0
    for code in (_PLAIN_RUN, _NBM_RUN):
        out = subprocess.run([sys.executable, "-c", code, str(folder), str(new_tokens), str(repeat), PROMPT],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
        data = json.loads(out)
        prompt_tokens = data.pop("prompt_tokens", prompt_tokens)
        rows |= data
    base = statistics.median(x[0] for x in rows["plain model.generate"])
    print(f"{folder.name}, fp32, {prompt_tokens}-token prompt, {new_tokens} new tokens, greedy; medians of {repeat}, a fresh process each side:\n")  # fmt: skip
    print("| path | tokens/s | x plain | time to first token (ms) |\n|---|---:|---:|---:|")
    for name, xs in rows.items():
        tps = statistics.median(x[0] for x in xs)
        ttft = statistics.median(x[1] for x in xs)
        print(f"| {name} | {tps:.1f} | {tps / base:.2f}x | {1000 * ttft:.0f} |")


_NBM_PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
import torch
torch.set_num_threads(2)
from memory_probe import _peak, _reset_peak, _rss, MiB
import nbmodels
from nbmodels.engine.handle import load
folder, mode = sys.argv[1], sys.argv[2]
opts = {"fp32": {"dtype": "float32"}, "bf16": {"dtype": "bfloat16"},
        "8bit": {"dtype": "float32", "quantization": "8bit"},
        "nf4": {"dtype": "float32", "quantization": "nf4", "compute_dtype": "float32"}}[mode]
import transformers  # imported before the baseline, as in the plain probe
if sys.argv[4]:  # the runtime warmed by loading a 1-layer model the same way: its machinery, not the model
    import ctypes, gc
    w = load(sys.argv[4], check_memory=False, **opts); w.unload(); del w; gc.collect(); ctypes.CDLL("libc.so.6").malloc_trim(0)
base = _rss(); _reset_peak()
h = load(folder, check_memory=False, **opts)
peak = _peak(); after = _rss()
est = nbmodels.estimate_memory(folder, h.config)
print(json.dumps({"load_peak_mib": (peak - base) / MiB, "after_load_mib": (after - base) / MiB,
                  "est_load_peak_mib": est.load_peak_bytes / MiB, "est_steady_mib": est.steady_bytes / MiB,
                  "footprint_mib": h.model.get_memory_footprint() / MiB}))
"""


def build_warmup(dest: Path) -> Path:
    """A 1-layer, 64-wide Llama: loading it first warms the runtime (transformers' lazily
    imported modelling code, bitsandbytes' kernels), so what a load of the real model adds
    above that is the model's own cost."""
    return _build_llama(dest, "llama-warmup", hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                        num_attention_heads=2, num_key_value_heads=2)  # fmt: skip


def _probe(folder: Path, weights: Path, mode: str, warm: Path | None) -> tuple[dict, dict]:
    out = subprocess.run([sys.executable, "-c", _NBM_PROBE, str(folder), mode, str(HERE), str(warm or "")],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
    plain_code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); from memory_probe import measure; "
                  f"from pathlib import Path; print(json.dumps(measure(Path({str(weights)!r}), {mode!r}, prompt=8, new_tokens=1, "
                  f"loader='from_pretrained', warmup={str(warm) if warm else None!r})))")  # fmt: skip
    p = json.loads(subprocess.run([sys.executable, "-c", plain_code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])  # fmt: skip
    return json.loads(out), p


def memory(folder: Path, weights: Path, warm: Path) -> None:
    print("\nOne fresh process per mode and side; MiB above the process's baseline. Cold: torch and "
          "transformers imported. Warm: a 1-layer model loaded and freed the same way first, so the "
          "runtime's own machinery is in the baseline.\n")  # fmt: skip
    print("| mode | load peak, cold: nbmodels / plain | load peak, warm: nbmodels / plain | resident after load (nbmodels / plain) | "
          "estimate: load peak / steady | loaded footprint | warm peak / footprint: nbmodels / plain |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("fp32", "bf16", "8bit", "nf4"):  # the plain probe loads the same folder
        n, p = _probe(folder, weights, mode, None)
        nw, pw = _probe(folder, weights, mode, warm)
        fp = n["footprint_mib"]
        print(f"| {mode} | {n['load_peak_mib']:.0f} / {p['load_peak_mib']:.0f} | {nw['load_peak_mib']:.0f} / {pw['load_peak_mib']:.0f} | "
              f"{n['after_load_mib']:.0f} / {p['after_load_mib']:.0f} | {n['est_load_peak_mib']:.0f} / {n['est_steady_mib']:.0f} | "
              f"{fp:.0f} | {nw['load_peak_mib'] / fp:.2f}x / {pw['load_peak_mib'] / fp:.2f}x |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--dest", type=Path, default=Path("/tmp/nbmodels-memory-models"))
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--big", action="store_true", help="also the 336M Llama of baselines.md (~3 min more)"
    )
    args = parser.parse_args(argv)
    folder = build_llama_100m(args.dest)
    if not args.skip_throughput:
        throughput(folder, args.new_tokens, args.repeat)
    if not args.skip_memory:
        print(f"\n{folder.name}:")
        memory(folder, folder, build_warmup(args.dest))
    if args.big and not args.skip_memory:
        from memory_probe import build

        weights = build("llama-gqa-336m", args.dest)
        print(f"\n{weights.name} (the baselines' model):")
        memory(with_tokenizer(weights, args.dest), weights, build_warmup(args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
