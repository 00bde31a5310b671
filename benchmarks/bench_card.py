"""The benchmark card, checked against measurements done by hand: prefill and decode tokens/s
and time to first token of ``nbmodels.benchmark`` beside a plain forward pass and plain
``model.generate`` on the same model, tokens and settings, and its perplexity beside a
hand-written loop over the same windows; then the wall time of a full card (every default:
pp512, tg128, 3 repeats, 32,768 tokens of perplexity) of a ~0.5B model.

python benchmarks/bench_card.py [--rounds 2] [--repeats 3] [--skip-full]

Models (random weights, the demo chat model's tokenizer; built once under --dest):

- the demo chat model itself (30k parameters, a 256-token context);
- a ~300M Llama: hidden 1024, 24 layers, intermediate 2816, 16 heads over 8 KV heads,
  vocabulary 32,000 (the tokenizer uses its first 519 ids; the head is full size);
- a ~0.5B Llama: hidden 1280, 24 layers, intermediate 3584, 20 heads over 4 KV heads,
  vocabulary 32,000: the full card's wall time.

In each of ``--processes`` fresh processes the model is loaded once (``nbmodels.load``), then
the card (``benchmark(handle=...)``) and the measurements by hand alternate ``--rounds``
times on the same model, on the engine's model thread both: the two sides share the process,
its heap and the thread, so the ratio measures the card's own harness (between fresh
processes the same code differs by up to ~10 % on this shared 2-core machine). The decode
rate by hand is measured differently from the card's: (N - 1) / (t(generate N) - t(generate
1)), no streamer, no stopping criterion. The full card runs alone in a fresh process.
Results are printed as tables and written to benchmarks/results/card-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

_CARD_RUN = """
import json, sys
from nbmodels.bench.run import benchmark
folder, opts = sys.argv[1], json.loads(sys.argv[2])
card = benchmark(folder, save=False, **opts)
print(json.dumps(card.to_dict()))
"""

# One process: the model loaded once by nbmodels, then the card (on that handle) and the
# measurements by hand alternating; the hand-written ones run on the same model thread, so
# both sides share the process, the thread and the model. The same tokens as the card: the
# bundled text without special tokens, after <s>.
_PAIR_RUN = """
import json, math, sys, time
import torch
import nbmodels
from nbmodels.bench.run import benchmark
from nbmodels.bench.text import wikitext_slice
from nbmodels.engine.model_thread import _on_torch_thread
folder, o, rounds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
h = nbmodels.load(folder, dtype="float32")
model, tok = h.model, h.tokenizer
ids = tok(wikitext_slice(), add_special_tokens=False, verbose=False)["input_ids"]
bos = tok.bos_token_id
x = torch.tensor([[bos, *ids[: o["prompt_tokens"] - 1]]])
short = torch.tensor([[bos, *ids[: o["decode_prompt_tokens"] - 1]]])
def generate(n):
    t = time.perf_counter()
    model.generate(short, attention_mask=torch.ones_like(short), max_new_tokens=n, min_new_tokens=n,
                   do_sample=False, pad_token_id=tok.pad_token_id)
    return time.perf_counter() - t
def by_hand():
    out = {"prefill_tokens_per_s": [], "decode_tokens_per_s": [], "ttft_s": []}
    with torch.inference_mode():
        model(x, logits_to_keep=1)
        for _ in range(o["repeats"]):
            t = time.perf_counter(); model(x, logits_to_keep=1); out["prefill_tokens_per_s"].append(x.shape[1] / (time.perf_counter() - t))
        generate(4)
        n = o["generate_tokens"]
        for _ in range(o["repeats"]):
            one, many = generate(1), generate(n)
            out["ttft_s"].append(one)
            out["decode_tokens_per_s"].append((n - 1) / (many - one))
    return out
def perplexity():
    chunk, nll, count = o["window"] - 1, 0.0, 0
    seq = ids[: o["perplexity_tokens"]]
    with torch.inference_mode():
        for s in range(0, len(seq), chunk):
            w = torch.tensor([[bos, *seq[s : s + chunk]]])
            logp = model(w).logits[0, :-1].double().log_softmax(-1)
            nll -= float(logp[torch.arange(w.shape[1] - 1), w[0, 1:]].sum()); count += w.shape[1] - 1
    return math.exp(nll / count), count
cards, hands = [], []
for i in range(rounds):
    cards.append(benchmark(folder, handle=h, save=False, **{**o, "perplexity_tokens": o["perplexity_tokens"] if i == 0 else 0}).to_dict())
    hands.append(_on_torch_thread(by_hand))
ppl, count = _on_torch_thread(perplexity)
print(json.dumps({"cards": cards, "hands": hands, "perplexity": ppl, "perplexity_tokens": count}))
"""


def _chat_model(dest: Path) -> Path:
    from nbmodels.demo.hub.tinymodels import build_tiny_models

    return build_tiny_models(dest / "tiny")["nbmodels-demo/tiny-llama-chat"]


def build_llama(dest: Path, name: str, **sizes: int) -> Path:
    """A random-weight Llama (float32 safetensors) with the demo chat model's tokenizer;
    built once."""
    folder = dest / name
    if (folder / "model.safetensors").exists() or (folder / "model.safetensors.index.json").exists():  # fmt: skip
        return folder
    import shutil

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    chat = _chat_model(dest)
    tok = AutoTokenizer.from_pretrained(chat)
    config = LlamaConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, max_position_embeddings=2048,
                         tie_word_embeddings=False, **sizes)  # fmt: skip
    torch.manual_seed(0)
    tmp = dest / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model = LlamaForCausalLM(config)
    model.save_pretrained(tmp)
    for file in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (chat / file).exists():
            shutil.copy(chat / file, tmp / file)
    tmp.rename(folder)
    return folder


LLAMA_300M = {"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 24,
              "num_attention_heads": 16, "num_key_value_heads": 8, "vocab_size": 32000}  # fmt: skip
LLAMA_500M = {"hidden_size": 1280, "intermediate_size": 3584, "num_hidden_layers": 24,
              "num_attention_heads": 20, "num_key_value_heads": 4, "vocab_size": 32000}  # fmt: skip


def _last_json(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def side_by_side(folder: Path, opts: dict[str, Any], rounds: int, processes: int) -> dict[str, Any]:
    """The card and the measurements by hand, alternating ``rounds`` times in each of
    ``processes`` fresh processes."""
    cards, hands, ppl = [], [], {}
    for _ in range(processes):
        out = _last_json(_PAIR_RUN, str(folder), json.dumps(opts), str(rounds))
        cards += out["cards"]
        hands += out["hands"]
        ppl = {"card": out["cards"][0]["perplexity"], "plain": out["perplexity"],
               "tokens": out["cards"][0]["perplexity_tokens"], "plain_tokens": out["perplexity_tokens"]}  # fmt: skip
    rows: dict[str, Any] = {}
    for figure in ("prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s"):
        card_all = [x for c in cards for x in c["samples"][figure]]
        plain_all = [x for p in hands for x in p[figure]]
        rows[figure] = {"card": statistics.fmean(card_all), "card_spread": statistics.stdev(card_all),
                        "plain": statistics.fmean(plain_all), "plain_spread": statistics.stdev(plain_all),
                        "card_median": statistics.median(card_all), "plain_median": statistics.median(plain_all),
                        "n": len(card_all), "card_samples": card_all, "plain_samples": plain_all}  # fmt: skip
    rows["perplexity"] = ppl
    rows["card_peak_generate_bytes"] = cards[0]["peak_generate_bytes"]
    rows["card_estimate_bytes"] = cards[0]["estimate_bytes"]
    return rows


def print_rows(name: str, rows: dict[str, Any]) -> None:
    print(
        f"\n{name}: mean ± sample stdev over {rows['prefill_tokens_per_s']['n']} repeats per side"
    )
    print(
        "| figure | card | plain, by hand | card / plain (means) | card / plain (medians) |\n|---|---:|---:|---:|---:|"
    )
    for figure, unit, scale in (("prefill_tokens_per_s", "tok/s", 1), ("decode_tokens_per_s", "tok/s", 1), ("ttft_s", "ms", 1000)):  # fmt: skip
        r = rows[figure]
        print(f"| {figure} | {scale * r['card']:,.1f} ± {scale * r['card_spread']:,.1f} {unit} | "
              f"{scale * r['plain']:,.1f} ± {scale * r['plain_spread']:,.1f} {unit} | {r['card'] / r['plain']:.3f} | "
              f"{r['card_median'] / r['plain_median']:.3f} |")  # fmt: skip
    p = rows["perplexity"]
    print(f"| perplexity ({p['tokens']:,} tokens) | {p['card']:.6f} | {p['plain']:.6f} | {p['card'] / p['plain']:.7f} | |")  # fmt: skip
    print(f"| peak memory generating / estimated peak | {rows['card_peak_generate_bytes'] / 2**20:,.0f} MiB | {rows['card_estimate_bytes'] / 2**20:,.0f} MiB (estimate) | | |")  # fmt: skip


def full_card(folder: Path) -> dict[str, Any]:
    start = time.perf_counter()
    card = _last_json(_CARD_RUN, str(folder), json.dumps({}))
    wall = time.perf_counter() - start
    return {"wall_s": wall, "card": card}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--dest", type=Path, default=Path("/tmp/nbmodels-bench-card-models"))
    parser.add_argument("--rounds", type=int, default=3, help="card / by hand pairs per process")
    parser.add_argument("--processes", type=int, default=2, help="fresh processes per model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--models", default="chat,300m", help="which side-by-side runs: chat, 300m")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "card-cpu.json")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()}}  # fmt: skip
    chat = _chat_model(args.dest)
    which = set(args.models.split(","))
    small = {"repeats": args.repeats, "prompt_tokens": 128, "generate_tokens": 64, "perplexity_tokens": 4096,
             "window": 256, "decode_prompt_tokens": 16}  # fmt: skip
    if "chat" in which:
        results["demo chat model"] = side_by_side(chat, small, args.rounds, args.processes)
        print_rows("demo chat model (tiny-llama-chat, 30k parameters; pp128, tg64, windows of 256)", results["demo chat model"])  # fmt: skip
    if "300m" in which:
        big = build_llama(args.dest, "llama-300m-chat", **LLAMA_300M)
        opts = {"repeats": args.repeats, "prompt_tokens": 512, "generate_tokens": 64, "perplexity_tokens": 4096,
                "window": 1024, "decode_prompt_tokens": 16}  # fmt: skip
        results["llama 300m"] = side_by_side(big, opts, args.rounds, args.processes)
        print_rows("random-weight Llama, ~300M (pp512, tg64, 4,096 tokens in windows of 1024)", results["llama 300m"])  # fmt: skip
    if not args.skip_full:
        half = build_llama(args.dest, "llama-500m-chat", **LLAMA_500M)
        full = full_card(half)
        results["full card 0.5b"] = full
        c = full["card"]
        print(f"\nfull card of {half.name} (every default: pp512, tg128, 3 repeats, 32,768 tokens): "
              f"{full['wall_s']:.0f} s wall, a fresh process (load {c['load_s']:.1f} s, prefill "
              f"{c['prefill_tokens_per_s']:.1f} ± {c['prefill_spread']:.1f} tok/s, decode {c['decode_tokens_per_s']:.2f} ± "
              f"{c['decode_spread']:.2f} tok/s, perplexity {c['perplexity']:.2f} over {c['perplexity_tokens']:,} tokens, "
              f"peak {c['peak_bytes'] / 2**20:,.0f} MiB, estimate {c['estimate_bytes'] / 2**20:,.0f} MiB)")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
