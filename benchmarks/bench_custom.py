"""A team's CSV catalog read by nbmodels, side by side with ``pandas.read_csv``.

The file is synthetic, grown from the real Hub records (``bench_catalog.grow``) and written
the way teams write catalogs by hand: sizes as text ("4.2 GB"), parameter counts as "7.6B"
or plain integers, tags as "a, b, c", dates as ISO text, plus a column nobody maps.

    python benchmarks/run.py --custom-rows 100000
"""

from __future__ import annotations

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

from nbmodels.errors import NBModelsWarning
from nbmodels.frame import to_frame

GOAL_RATIO = 5.0  # nbmodels within 5x of pandas.read_csv


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

    @property
    def ratio(self) -> float:
        return self.nbmodels_s / self.pandas_s if self.pandas_s else float("inf")


def _p50(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(rows: int = 100_000, repeat: int = 3, *, folder: Path | None = None) -> list[Result]:
    import tempfile

    from nbmodels import Catalog, Settings
    from nbmodels.sources.custom import CustomSource

    tmp = Path(folder or tempfile.mkdtemp(prefix="nbmodels-bench-custom-"))
    path = write_team_csv(tmp / "team.csv", rows)
    pandas_s, frame = _p50(lambda: pd.read_csv(path), repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NBModelsWarning)  # the unmapped column is said once
        read_s, table = _p50(lambda: CustomSource(path).table(), repeat)
        models_s, models = _p50(lambda: CustomSource(path).models(), repeat)

        def search() -> pd.DataFrame:
            cat = Catalog(
                Settings(home=Path(tempfile.mkdtemp(dir=tmp))), sources=[CustomSource(path)]
            )
            return cat.search(source="custom", limit=None)

        search_s, found = _p50(search, repeat)
    n = len(frame)
    return [
        Result("read: CustomSource.table()", read_s, pandas_s, table.num_rows, table.num_rows == n),
        Result("read: .models() (objects)", models_s, pandas_s, len(models), len(models) == n),
        Result("Catalog.search(source=custom)", search_s, pandas_s, len(found), len(found) == n),
    ]
