"""Catalog benchmark: nbmodels (DuckDB) against the pandas a user would write.

The catalog is grown synthetically from the real Hub records in
``../shared/data/hub-models.parquet``: rows are drawn with replacement, ids get a suffix,
downloads and likes get lognormal noise, dates shift by up to a year, parameter counts by
up to ±20 %. The distributions (tasks, licences, authors, sizes, text) are the real ones;
the rows are not.

Also home of :func:`hub_records`, which turns hub-stats rows into ModelMetadata (the tests
use it to build a source backed by the real records).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbmodels.discover.catalog import Catalog
from nbmodels.discover.frame import to_frame
from nbmodels.discover.tasks import annotate
from nbmodels.errors import NBModelsWarning
from nbmodels.settings import Settings
from nbmodels.types import ModelMetadata, ModelSource

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HUB_PARQUET = SHARED_DATA / "hub-models.parquet"

# bytes per weight, for a size estimate from safetensors' per-dtype parameter counts
_DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "BF16": 2, "F16": 2}
_DTYPE_BYTES |= {"I16": 2, "U16": 2, "C64": 8}


def _when(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime()


def _langs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value.lower(),)
    if isinstance(value, list):
        return tuple(str(v).lower() for v in value if isinstance(v, str))
    return ()


def hub_record(row: dict[str, Any]) -> ModelMetadata:
    """One hub-stats row (``cfahlgren1/hub-stats`` schema) as ModelMetadata."""
    try:
        card = json.loads(row.get("cardData") or "{}")
    except ValueError:
        card = {}
    card = card if isinstance(card, dict) else {}
    try:
        gguf = json.loads(row.get("gguf") or "{}")
    except ValueError:
        gguf = {}
    st = row.get("safetensors") or {}
    params = st.get("total") or gguf.get("total")
    size = gguf.get("totalFileSize")
    if size is None and st.get("parameters"):
        size = sum(
            int(n) * _DTYPE_BYTES.get(dtype, 1) for dtype, n in st["parameters"].items() if n
        )
    license_ = card.get("license")
    if isinstance(license_, list):
        license_ = license_[0] if license_ else None
    model_id = str(row["id"])
    base_model = card.get("base_model")
    if isinstance(base_model, list):
        base_model = ", ".join(str(b) for b in base_model)
    meta = ModelMetadata(
        id=model_id,
        source=ModelSource.HUGGING_FACE,
        name=model_id.split("/")[-1],
        author=row.get("author") or model_id.split("/")[0],
        description=f"base model: {base_model}" if base_model else "",
        license=str(license_) if license_ else None,
        language=_langs(card.get("language")),
        tags=tuple(row.get("tags") if row.get("tags") is not None else ()),
        parameters=int(params) if params else None,
        size_bytes=int(size) if size else None,
        downloads=int(row["downloads"]) if row.get("downloads") is not None else None,
        likes=int(row["likes"]) if row.get("likes") is not None else None,
        trending_score=row.get("trendingScore"),
        created_at=_when(row.get("createdAt")),
        updated_at=_when(row.get("lastModified")),
        pipeline_tag=row.get("pipeline_tag") or None,
        library=row.get("library_name") or None,
    )
    return annotate(meta)


def hub_records(path: Path = HUB_PARQUET) -> list[ModelMetadata]:
    """Every real record of the hub-stats parquet as ModelMetadata."""
    df = pd.read_parquet(path)
    df = df.astype(object).where(df.notna(), None)
    return [hub_record(r) for r in df.to_dict("records")]


def grow(base: pd.DataFrame, rows: int, *, seed: int = 0) -> pd.DataFrame:
    """A synthetic catalog of ``rows`` rows drawn from ``base`` (a catalog frame)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), size=rows)
    df = base.iloc[pick].reset_index(drop=True)
    suffix = pd.Series(np.arange(rows)).astype(str)
    df["id"] = df["id"] + "-s" + suffix
    df["name"] = df["name"] + "-s" + suffix
    df["key"] = df["source"] + ":" + df["id"]

    def noisy(col: str, sigma: float) -> pd.Series:
        values = df[col].astype("Float64") * np.exp(rng.normal(0.0, sigma, rows))
        return values.round().astype("Int64")

    df["downloads"] = noisy("downloads", 1.0)
    df["likes"] = noisy("likes", 0.7)
    df["parameters"] = (
        (df["parameters"].astype("Float64") * rng.uniform(0.8, 1.2, rows)).round().astype("Int64")
    )
    shift = pd.to_timedelta(rng.integers(-365, 365, rows), unit="D")
    df["created_at"] = df["created_at"] + shift
    df["updated_at"] = df["updated_at"] + shift
    return df


@dataclass
class Case:
    name: str
    nbmodels: Callable[[], pd.DataFrame]
    pandas: Callable[[], pd.DataFrame]
    note: str = ""


@dataclass
class Result:
    case: str
    nbmodels_ms: float
    pandas_ms: float
    rows: int
    same: bool

    @property
    def ratio(self) -> float:
        return self.pandas_ms / self.nbmodels_ms if self.nbmodels_ms else float("inf")


def _p50(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    out = fn()  # warm-up (first query compiles, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def build(rows: int, folder: Path, *, seed: int = 0) -> tuple[Catalog, pd.DataFrame, float]:
    """A catalog of ``rows`` synthetic rows in ``folder``, the same rows as a DataFrame,
    and the seconds ``Catalog.add_frame`` took to load them (and write the Parquet file)."""
    base = to_frame(hub_records())
    df = grow(base, rows, seed=seed)
    cat = Catalog(Settings(home=folder, offline=True), sources=[], path=folder / "catalog")
    t0 = time.perf_counter()
    cat.add_frame(df)
    return cat, df, time.perf_counter() - t0


def cases(cat: Catalog, df: pd.DataFrame) -> list[Case]:
    filter_sql = (
        "SELECT * FROM models WHERE list_contains(tasks, 'text-generation') "
        "AND lower(license) = 'apache-2.0' AND parameters BETWEEN 1000000000 AND 8000000000 "
        "ORDER BY downloads DESC NULLS LAST, key LIMIT 50"
    )
    # search()'s meaning of a word, written by hand: inside id or name, at the start of a
    # word of the description, or a whole tag (so "llama" is not found inside "ollama")
    text_sql = (
        "SELECT * FROM models WHERE id ILIKE '%llama%' OR name ILIKE '%llama%' "
        "OR regexp_matches(lower(description), '(^|[^0-9a-z])llama') "
        "OR list_contains(tags, 'llama') "
        "ORDER BY downloads DESC NULLS LAST, key LIMIT 50"
    )

    def pandas_filter() -> pd.DataFrame:
        hit = (
            df.tasks.apply(lambda t: "text-generation" in t)
            & (df.license.str.lower() == "apache-2.0")
            & df.parameters.between(1_000_000_000, 8_000_000_000)
        )
        return df[hit].nlargest(50, "downloads")

    def pandas_text() -> pd.DataFrame:
        hit = (
            df.id.str.contains("llama", case=False, regex=False)
            | df.name.str.contains("llama", case=False, regex=False)
            | df.description.str.lower().str.contains("(?:^|[^0-9a-z])llama", na=False)
            | df.tags.apply(lambda t: "llama" in list(t))
        )
        return df[hit].nlargest(50, "downloads")

    return [
        Case("filter+sort+limit: sql()", lambda: cat.sql(filter_sql), pandas_filter),
        Case(
            "filter+sort+limit: search()",
            lambda: cat.search(
                task="text-generation",
                license="apache-2.0",
                min_params="1B",
                max_params="8B",
                limit=50,
                online=False,
            ),
            pandas_filter,
        ),
        Case("text 'llama' top 50: sql()", lambda: cat.sql(text_sql), pandas_text),
        Case(
            "text 'llama' top 50: search()",
            lambda: cat.search("llama", limit=50, online=False),
            pandas_text,
        ),
    ]


def run(rows: int = 1_000_000, repeat: int = 7, *, seed: int = 0) -> tuple[list[Result], float]:
    """Time every case; returns the results and the seconds it took to load the catalog."""
    with tempfile.TemporaryDirectory(prefix="nbmodels-bench-") as tmp:
        cat, df, load_s = build(rows, Path(tmp), seed=seed)
        results = []
        for case in cases(cat, df):
            with warnings.catch_warnings():  # notes (rows with no parameter count) stay in
                warnings.simplefilter("ignore", NBModelsWarning)  # cat.warnings
                nb_ms, nb_out = _p50(case.nbmodels, repeat)
            pd_ms, pd_out = _p50(case.pandas, repeat)
            # downloads ties may order differently: compare the download counts, in order
            same = nb_out["downloads"].tolist() == pd_out["downloads"].tolist()
            results.append(Result(case.name, nb_ms, pd_ms, len(nb_out), same))
        cat.clear()
    return results, load_s
