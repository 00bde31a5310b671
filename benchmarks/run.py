"""Run the catalog benchmark and print a table.

python benchmarks/run.py                 # 1,000,000 rows, 7 runs per case
python benchmarks/run.py --rows 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_catalog import run
from bench_custom import GOAL_RATIO
from bench_custom import run as run_custom
from bench_import import run as run_imports

GOAL_MS = 50.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="catalog rows (synthetic)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-import", action="store_true", help="skip the import-time table")
    parser.add_argument(
        "--custom-rows", type=int, default=100_000, help="rows of the team CSV (0: skip)"
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")

    results, load_s = run(args.rows, args.repeat, seed=args.seed)
    print(
        f"catalog: {args.rows:,} synthetic rows grown from real Hub records, loaded in {load_s:.2f} s"
    )
    print(f"medians of {args.repeat} runs\n")
    header = f"{'case':<32} {'nbmodels p50 ms':>16} {'pandas p50 ms':>14} {'ratio':>7} {'rows':>5} {'same':>5}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.case:<32} {r.nbmodels_ms:>16.1f} {r.pandas_ms:>14.1f} {r.ratio:>6.1f}x "
            f"{r.rows:>5} {'yes' if r.same else 'no':>5}"
        )
    goal = next(r for r in results if r.case.startswith("filter+sort+limit: sql"))
    ok = goal.nbmodels_ms < GOAL_MS
    print(
        f"\ngoal: filter query p50 < {GOAL_MS:.0f} ms at {args.rows:,} rows: "
        f"{goal.nbmodels_ms:.1f} ms -> {'met' if ok else 'NOT met'}"
    )
    if args.custom_rows:
        custom = run_custom(args.custom_rows, min(args.repeat, 3))
        print(f"\nteam CSV catalog, {args.custom_rows:,} rows, medians of {min(args.repeat, 3)}\n")
        print(
            f"{'case':<30} {'nbmodels s':>11} {'pandas.read_csv s':>18} {'x pandas':>9} {'rows':>7}"
        )
        for c in custom:
            print(
                f"{c.case:<30} {c.nbmodels_s:>11.2f} {c.pandas_s:>18.3f} {c.ratio:>8.0f}x "
                f"{c.rows:>7} {'(all rows)' if c.same else '(ROWS LOST)'}"
            )
        read = custom[0]
        print(
            f"\ngoal: reading within {GOAL_RATIO:.0f}x of pandas.read_csv: {read.ratio:.0f}x -> "
            f"{'met' if read.ratio <= GOAL_RATIO else 'NOT met'}"
        )
    if not args.skip_import:
        imports = run_imports(args.repeat)
        base = imports[0][1]
        print(f"\nimport time, fresh interpreter, medians of {args.repeat} runs\n")
        print(f"{'case':<26} {'p50 ms':>8} {'x nbmodels':>11}  heavy modules loaded")
        for case, ms, heavy in imports:
            print(f"{case:<26} {ms:>8.1f} {ms / base:>10.1f}x  {', '.join(heavy) or '-'}")
        print(
            f"\ngoal: import nbmodels well under 500 ms: {base:.0f} ms -> "
            f"{'met' if base < 250 else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
