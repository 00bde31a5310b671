"""Run the download benchmark and print a table (see bench_download.py).

python benchmarks/run_download.py            # 1 GiB per case
python benchmarks/run_download.py --gib 0.25
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_download import interleaved, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gib", type=float, default=1.0, help="bytes per case, in GiB")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (median)")
    parser.add_argument(
        "--interleaved",
        action="store_true",
        help="only nbmodels against snapshot_download, 8 x 64 MiB, in turns, 7 rounds",
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds of --interleaved")
    args = parser.parse_args(argv)
    if args.interleaved:
        res = interleaved(rounds=args.rounds)
        print(res["case"], "(wall and CPU of the client process; medians, then every run)")
        for side in ("nbmodels", "snapshot_download"):
            runs = " ".join(f"{t:.2f}" for t in res["wall_s"][side])
            print(
                f"{side:<18} wall {res['median_wall_s'][side]:.2f} s  "
                f"cpu {res['median_cpu_s'][side]:.2f} s  runs: {runs}"
            )
        print(f"nbmodels speed-up: {res['speedup']:.2f}x; CPU nbmodels/hub: {res['cpu_ratio']:.2f}")
        return 0
    rows, extra = run(args.gib, args.repeat)
    print(
        f"{args.gib:g} GiB from the loopback hub, sha256 checked by nbmodels only, median of {args.repeat}\n"
    )
    head = f"{'case':<10} {'nbmodels s':>11} {'snapshot_download s':>20} {'curl s':>7} {'nbm MB/s':>9} {'x curl':>7} {'x hub':>6} {'RSS +MiB':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.case:<10} {r.nbmodels_s:>11.2f} {r.hub_s:>20.2f} {r.curl_s:>7.2f} "
            f"{r.mbps(r.nbmodels_s):>9.0f} {r.curl_s / r.nbmodels_s:>6.2f}x {r.hub_s / r.nbmodels_s:>5.2f}x {r.rss_growth_mib:>9.1f}"
        )
    print()
    for key, value in extra.items():
        print(f"{key}: {value:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
