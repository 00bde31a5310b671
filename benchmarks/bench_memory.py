"""Memory calibration: nbmodels' estimate vs measured peak RSS, beside accelerate's figure.

python benchmarks/bench_memory.py                       # build the models, measure, compare
python benchmarks/bench_memory.py --measured runs.jsonl  # compare against saved measurements
python benchmarks/bench_memory.py --models llama-gqa-30m --repeat 3

Each measurement is a fresh process (``memory_probe.py``). The context given to the estimate
is prompt + new tokens (the encoder: its sequence length, batch 8). accelerate's figure is
``accelerate estimate-memory``'s method (parameters x bytes; int8 = fp32 / 4, int4 = fp32 / 8).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory_probe import ARCHITECTURES, MiB, build, measure_in_subprocess

MODES = {"fp32": {"dtype": "float32"}, "bf16": {"dtype": "bfloat16"},
         "8bit": {"quantization": "8bit", "dtype": "float32"},
         "nf4": {"quantization": "nf4", "dtype": "float32"},
         "nf4-dq": {"quantization": "nf4", "double_quant": True, "dtype": "float32"}}  # fmt: skip


def cases(name: str) -> list[tuple[int, int, int]]:
    return [(8, 512, 0)] if name.startswith("bert") else [(1, 32, 128), (1, 1024, 128)]


def estimate(folder: Path, mode: str, prompt: int, new: int, batch: int) -> dict[str, float]:
    from nbmodels.memory import estimate_memory

    est = estimate_memory(folder, context=prompt + new, batch=batch, **MODES[mode])
    return {
        "load_peak_mib": est.load_peak_bytes / MiB,
        "steady_mib": est.steady_bytes / MiB,
        "generate_peak_mib": est.generate_peak_bytes / MiB,
        "spread_mib": est.spread_bytes / MiB,
        "accelerate_mib": est.accelerate_bytes / MiB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--models", default="llama-gqa-30m,qwen2-sliding-122m,bert-base-110m,llama-gqa-336m"
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--dest", type=Path, default=Path("/tmp/nbmodels-memory-models"))
    parser.add_argument("--measured", type=Path, help="JSON lines from an earlier run")
    parser.add_argument("--save", type=Path, help="write the measurements here (JSON lines)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    runs: list[dict] = []
    if args.measured:
        runs = [json.loads(line) for line in args.measured.read_text().splitlines() if line.strip()]
        runs = [r for r in runs if "error" not in r]
    else:
        for name in args.models.split(","):
            folder = build(name, args.dest)
            for mode in args.modes.split(","):
                for batch, prompt, new in cases(name):
                    for _ in range(args.repeat):
                        runs.append(
                            measure_in_subprocess(
                                folder, mode, prompt=prompt, new_tokens=new, batch=batch
                            )
                        )
                        if args.save:
                            with args.save.open("a") as fh:
                                fh.write(json.dumps(runs[-1]) + "\n")
    print(f"{'model':<20}{'mode':<7}{'ctx':>6} | {'load peak meas/est':>19} | {'steady meas/est':>16} | "
          f"{'gen peak meas/est':>18} | {'accel':>6} {'accel err':>9} | {'est err':>7}")  # fmt: skip
    errors, accel_errors = [], []
    for r in runs:
        folder = Path(args.dest) / r["model"]
        if not folder.is_dir():
            folder = build(r["model"], args.dest) if r["model"] in ARCHITECTURES else folder
        e = estimate(folder, r["mode"], r["prompt"], r["new_tokens"], r["batch"])
        meas_peak = max(r["load_peak_mib"], r["generate_peak_mib"])
        est_peak = max(e["load_peak_mib"], e["generate_peak_mib"])
        err = (est_peak - meas_peak) / meas_peak
        inside = e["spread_mib"] and est_peak <= meas_peak <= est_peak + e["spread_mib"]
        errors.append(abs(err) if not inside else 0.0)
        acc_err = (e["accelerate_mib"] - meas_peak) / meas_peak
        accel_errors.append(abs(acc_err))
        print(f"{r['model']:<20}{r['mode']:<7}{r['prompt'] + r['new_tokens']:>6} | "
              f"{r['load_peak_mib']:>8.0f} / {e['load_peak_mib']:>8.0f} | {r['steady_mib']:>7.0f} / {e['steady_mib']:>6.0f} | "
              f"{r['generate_peak_mib']:>8.0f} / {e['generate_peak_mib']:>7.0f} | {e['accelerate_mib']:>6.0f} {acc_err:>+8.0%} | "
              f"{err:>+6.0%}{' (in spread)' if inside else ''}")  # fmt: skip
    within = sum(1 for x in errors if x <= 0.10)
    print(f"\npeak (max of load and generate): nbmodels within 10% in {within}/{len(errors)} cases, "
          f"median |error| {sorted(errors)[len(errors) // 2]:.0%}, worst {max(errors):.0%}; "
          f"accelerate median |error| {sorted(accel_errors)[len(accel_errors) // 2]:.0%}, worst {max(accel_errors):.0%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
