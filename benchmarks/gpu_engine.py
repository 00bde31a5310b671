"""The GPU check, prepared to run where a CUDA GPU is at hand (none on the development
machine): a random-weight Llama of a few hundred million parameters loaded in fp16, 8-bit
and 4-bit through nbmodels, GPU memory and tokens/s for each, with the estimate beside.

python benchmarks/gpu_engine.py [--model llama-gqa-336m] [--new-tokens 128]

Each mode runs in a fresh process so peaks do not mix. Prints one markdown table; exits 2
when no CUDA GPU is present.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

_PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[3]); sys.path.insert(0, sys.argv[4])
import torch
import nbmodels
from nbmodels.engine.handle import load
folder, mode = sys.argv[1], sys.argv[2]
opts = {"fp16": {"dtype": "float16"}, "8bit": {"dtype": "float16", "quantization": "8bit"},
        "nf4": {"dtype": "float16", "quantization": "nf4", "compute_dtype": "float16"}}[mode]
torch.cuda.reset_peak_memory_stats()
h = load(folder, device_map="cuda:0", check_memory=False, **opts)
loaded = torch.cuda.memory_allocated()
load_peak = torch.cuda.max_memory_allocated()
torch.cuda.reset_peak_memory_stats()
h.generate("Once upon a time", temperature=0, max_tokens=8)  # warm up
r = h.generate("Once upon a time", temperature=0, max_tokens=int(sys.argv[5]))
gen_peak = torch.cuda.max_memory_allocated()
est = nbmodels.estimate_memory(folder, h.config, context=r.prompt_tokens + r.completion_tokens)
print(json.dumps({"mode": mode, "loaded_mib": loaded / 2**20, "load_peak_mib": load_peak / 2**20,
                  "generate_peak_mib": gen_peak / 2**20, "reserved_mib": torch.cuda.memory_reserved() / 2**20,
                  "tokens_per_s": r.tokens_per_second, "ttft_ms": 1000 * (r.time_to_first_token or 0),
                  "est_weights_mib": est.weights_bytes / 2**20,
                  "est_vram_mib": (est.weights_bytes + est.kv_cache_bytes + est.activations_bytes) / 2**20,
                  "verdict": est.verdict, "gpu": torch.cuda.get_device_name(0)}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--model", default="llama-gqa-336m")
    parser.add_argument("--dest", type=Path, default=Path("/tmp/nbmodels-memory-models"))
    parser.add_argument("--new-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this check runs where one is at hand")
        return 2
    from bench_engine import with_tokenizer
    from memory_probe import build

    folder = with_tokenizer(build(args.model, args.dest), args.dest)
    print(
        f"{args.model} on {torch.cuda.get_device_name(0)}, {args.new_tokens} new tokens, greedy:\n"
    )
    print("| mode | weights loaded (MiB) | load peak | generate peak | estimate: weights / weights+KV+activations | tokens/s | first token ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("fp16", "8bit", "nf4"):
        run = subprocess.run([sys.executable, "-c", _PROBE, str(folder), mode, str(HERE), str(HERE.parent), str(args.new_tokens)],
                             capture_output=True, text=True)  # fmt: skip
        if run.returncode:
            print(f"| {mode} | failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode} | | | | | |")  # fmt: skip
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"| {mode} | {r['loaded_mib']:.0f} | {r['load_peak_mib']:.0f} | {r['generate_peak_mib']:.0f} | "
              f"{r['est_weights_mib']:.0f} / {r['est_vram_mib']:.0f} | {r['tokens_per_s']:.1f} | {r['ttft_ms']:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
