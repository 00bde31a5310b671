"""A team's CSV catalog read by nbmodels, side by side with ``pandas.read_csv``.

The file is synthetic, grown from the real Hub records (``bench_catalog.grow``) and written
the way teams write catalogs by hand: sizes as text ("4.2 GB"), parameter counts as "7.6B"
or plain integers, tags as "a, b, c", dates as ISO text, plus a column nobody maps.

Each case runs interleaved with its pandas counterpart (pandas, nbmodels, pandas,
nbmodels...) so that both sides see the same machine; the medians are compared as a ratio.
"Load" is against ``pandas.read_csv`` of the same file; "load + first search" is against
``pandas.read_csv`` followed by the same search written in pandas (a case-insensitive
substring of the id, the most downloaded first, 50 rows).

    python benchmarks/run.py --custom-rows 100000
    python benchmarks/bench_custom.py --rows 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_catalog import grow, hub_records

from nbmodels.discover.frame import to_frame
from nbmodels.errors import NBModelsWarning

GOAL_RATIO = 5.0  # nbmodels within 5x of pandas.read_csv
QUERY = "llama"


def _human(n: float, units: tuple[str, ...], step: float) -> str:
    for unit in units[:-1]:
        if abs(n) < step:
            return f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= step
    return f"{n:.1f} {units[-1]}"


def write_team_csv(path: Path, rows: int, *, seed: int = 0) -> Path:
    """A ``rows``-row team catalog CSV at ``path``."""
    base = to_frame(hub_records())
    df = grow(base, rows, seed=seed)
    rng = np.random.default_rng(seed + 1)
    params = df["parameters"]
    as_text = rng.random(rows) < 0.5
    out = pd.DataFrame(
        {
            "model_id": df["id"],
            "display_name": df["name"],
            "owner": df["author"],
            "description": df["description"].fillna(""),
            "licence": df["license"].fillna(""),
            "tags": df["tags"].map(lambda t: ", ".join(list(t)[:8]) if t is not None else ""),
            "pipeline_tag": df["pipeline_tag"].fillna(""),
            "params": [
                ""
                if pd.isna(p)
                else (
                    _human(float(p), ("", "K", "M", "B", "T"), 1000.0).replace(" ", "")
                    if t
                    else str(int(p))
                )
                for p, t in zip(params, as_text, strict=True)
            ],
            "size": [
                "" if pd.isna(s) else _human(float(s), ("B", "KB", "MB", "GB", "TB"), 1000.0)
                for s in df["size_bytes"]
            ],
            "downloads": df["downloads"].astype("Int64"),
            "likes": df["likes"].astype("Int64"),
            "created": df["created_at"].map(lambda d: "" if pd.isna(d) else d.date().isoformat()),
            "library": df["library"].fillna(""),
            "team_owner": rng.choice(["search", "ml-platform", "nlp", "vision"], rows),
        }
    )
    out.to_csv(path, index=False)
    return path


@dataclass
class Result:
    case: str
    nbmodels_s: float
    pandas_s: float
    rows: int
    same: bool
    pandas_case: str = "pandas.read_csv"

    @property
    def ratio(self) -> float:
        return self.nbmodels_s / self.pandas_s if self.pandas_s else float("inf")


def _side_by_side(
    ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int
) -> tuple[float, Any, float, Any]:
    """Median seconds of ``ours`` and ``theirs``, run alternately (after one warm-up
    each), and their last results."""
    mine: list[float] = []
    pandas_times: list[float] = []
    out = other = None
    theirs()
    ours()
    for _ in range(repeat):
        t0 = time.perf_counter()
        other = theirs()
        pandas_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = ours()
        mine.append(time.perf_counter() - t0)
    return statistics.median(mine), out, statistics.median(pandas_times), other


def _pandas_search(path: Path) -> pd.DataFrame:
    """nbmodels' meaning of a query word, in pandas: inside the id or name, a whole tag, or
    at the start of a word of the description; the most downloaded first."""
    df = pd.read_csv(path)

    def low(column: str) -> pd.Series:
        return df[column].fillna("").astype(str).str.lower()

    hits = (
        low("model_id").str.contains(QUERY, regex=False)
        | low("display_name").str.contains(QUERY, regex=False)
        | df["tags"].fillna("").str.split(", ").map(lambda tags: QUERY in tags)
        | low("description").str.contains(f"(?:^|[^0-9a-z]){QUERY}")
    )
    return df[hits].sort_values("downloads", ascending=False).head(50)


def _same_ranking(ours: list[int | None], theirs: pd.Series) -> bool:
    """Both searches ranked the same downloads (rows tied on downloads may differ)."""
    return [d or 0 for d in ours] == [int(d) if pd.notna(d) else 0 for d in theirs]


def run(rows: int = 100_000, repeat: int = 3, *, folder: Path | None = None) -> list[Result]:
    import tempfile

    from nbmodels import Catalog, Settings
    from nbmodels.discover.sources.custom import CustomSource

    tmp = Path(folder or tempfile.mkdtemp(prefix="nbmodels-bench-custom-"))
    path = write_team_csv(tmp / "team.csv", rows)
    n = len(pd.read_csv(path))
    results: list[Result] = []

    def catalog() -> Any:
        return Catalog(Settings(home=Path(tempfile.mkdtemp(dir=tmp))), sources=[CustomSource(path)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NBModelsWarning)  # the unmapped column is said once
        ours, table, theirs, _ = _side_by_side(
            lambda: CustomSource(path).table(), lambda: pd.read_csv(path), repeat
        )
        results.append(
            Result("load: CustomSource.table()", ours, theirs, table.num_rows, table.num_rows == n)
        )
        ours, models, theirs, _ = _side_by_side(
            lambda: CustomSource(path).models(), lambda: pd.read_csv(path), repeat
        )
        results.append(
            Result("load: .models() (objects)", ours, theirs, len(models), len(models) == n)
        )
        ours, found, theirs, hits = _side_by_side(
            lambda: CustomSource(path).search(QUERY, sort="downloads", limit=50),
            lambda: _pandas_search(path),
            repeat,
        )
        same = _same_ranking([m.downloads for m in found], hits["downloads"])
        results.append(
            Result(
                f"load + search: CustomSource.search({QUERY!r})",
                ours,
                theirs,
                len(found),
                same,
                "read_csv + pandas search",
            )
        )
        ours, found, theirs, hits = _side_by_side(
            lambda: catalog().search(QUERY, source="custom", sort="downloads", limit=50),
            lambda: _pandas_search(path),
            repeat,
        )
        results.append(
            Result(
                f"load + search: Catalog.search({QUERY!r})",
                ours,
                theirs,
                len(found),
                _same_ranking(list(found["downloads"]), hits["downloads"]),
                "read_csv + pandas search",
            )
        )
        ours, found, theirs, _ = _side_by_side(
            lambda: catalog().search(source="custom", limit=None), lambda: pd.read_csv(path), repeat
        )
        results.append(
            Result("Catalog.search(source=custom) all", ours, theirs, len(found), len(found) == n)
        )
    return results


def stages(rows: int = 100_000, *, folder: Path | None = None) -> dict[str, float]:
    """Where CustomSource.table()'s time goes (seconds of one run, after a warm-up)."""
    import tempfile

    import nbmodels.discover.sources.custom as custom

    tmp = Path(folder or tempfile.mkdtemp(prefix="nbmodels-bench-custom-"))
    path = tmp / "team.csv"
    if not path.exists():
        write_team_csv(path, rows)
    spent: dict[str, float] = {}
    originals: dict[str, tuple[str, Callable[..., Any]]] = {
        "read CSV (pyarrow)": ("_arrow_csv", custom._arrow_csv),
        "normalise columns": ("_normalise_arrow", custom._normalise_arrow),
        "detect tasks and types": ("_detect", custom._detect),
    }

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        return wrapper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NBModelsWarning)
        custom.CustomSource(path).table()
        try:
            for label, (name, fn) in originals.items():
                setattr(custom, name, timed(label, fn))
            t0 = time.perf_counter()
            custom.CustomSource(path).table()
            spent["total CustomSource.table()"] = time.perf_counter() - t0
        finally:
            for name, fn in originals.values():
                setattr(custom, name, fn)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = run(args.rows, args.repeat)
    print(f"team CSV catalog, {args.rows:,} rows, medians of {args.repeat} interleaved runs\n")
    print(f"{'case':<42} {'nbmodels s':>10} {'pandas s':>9} {'ratio':>7}  pandas side")
    for r in results:
        print(
            f"{r.case:<42} {r.nbmodels_s:>10.3f} {r.pandas_s:>9.3f} {r.ratio:>6.1f}x  "
            f"{r.pandas_case}{'' if r.same else '  (ROWS DIFFER)'}"
        )
    print("\nstages of one CustomSource.table():")
    for label, seconds in stages(args.rows).items():
        print(f"  {label:<28} {seconds:.3f} s")
    load = results[0]
    print(
        f"\ngoal: loading within {GOAL_RATIO:.0f}x of pandas.read_csv: {load.ratio:.1f}x -> "
        f"{'met' if load.ratio <= GOAL_RATIO else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
